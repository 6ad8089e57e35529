"""`causeway regions` lists the operator config's catalog as tenants need it (the
principal to allow-list, the inbound service to connect to), as a table or JSON; a
missing or bad config is the usual one line and exit 2. Every command answers
--help, under both names (`causeway` and the `kubectl causeway` plugin)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from causeway.cli import kubectl_plugin, main
from fakes import REGION_CONFIG

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "seeds" / "config.example.yaml"
COMMANDS = ("run", "demo", "crds", "check-config", "regions", "status")
OUTBOUND_ONLY = {
    key: value
    for key, value in REGION_CONFIG.items()
    if key not in {"inboundServiceId", "sourceIpPool"}
} | {"platformPrincipal": "arn:aws:iam::111111111111:role/causeway-eu"}


@pytest.fixture(autouse=True)
def _no_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAUSEWAY_CONFIG", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse: --help and usage errors
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_example_config_as_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "regions", "--config", str(EXAMPLE))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:2] == [
        "REGION     PLATFORM PRINCIPAL                                INBOUND  INBOUND SERVICE NAME",
        "us-east-1  arn:aws:iam::111111111111:role/causeway-outbound  yes      "
        "com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d4e5f60718",
    ]
    assert lines[2] == ""
    footer = " ".join(line.strip() for line in lines[3:])
    assert "add the PLATFORM PRINCIPAL to the allowed principals of your endpoint service" in footer
    assert "create an interface endpoint to the INBOUND SERVICE NAME" in footer
    assert "from an AWS account listed in your ConnectionQuota" in footer
    assert all(len(line) <= 100 for line in lines[2:])


def test_the_service_name_is_the_one_check_config_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two regions, sorted; one without inbound shows no service name. The inbound
    service name is the one the operator itself reports for the region."""
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({"regions": {"us-east-1": REGION_CONFIG, "eu-west-1": OUTBOUND_ONLY}})
    )
    code, out, _ = run(capsys, "regions", "--config", str(config), "-o", "json")
    assert code == 0
    assert json.loads(out) == [
        {
            "region": "eu-west-1",
            "platformPrincipal": "arn:aws:iam::111111111111:role/causeway-eu",
            "inbound": False,
            "inboundServiceName": None,
        },
        {
            "region": "us-east-1",
            "platformPrincipal": "arn:aws:iam::111111111111:role/causeway-outbound",
            "inbound": True,
            "inboundServiceName": "com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d4e5f60718",
        },
    ]
    code, checked, _ = run(capsys, "check-config", str(config))
    assert "service com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d4e5f60718," in checked
    code, table, _ = run(capsys, "regions", "--config", str(config))
    assert [line.split() for line in table.splitlines()[1:3]] == [
        ["eu-west-1", "arn:aws:iam::111111111111:role/causeway-eu", "no", "-"],
        [
            "us-east-1",
            "arn:aws:iam::111111111111:role/causeway-outbound",
            "yes",
            "com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d4e5f60718",
        ],
    ]


def test_the_config_can_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAUSEWAY_CONFIG", str(EXAMPLE))
    code, out, _ = run(capsys, "regions")
    assert code == 0 and out.splitlines()[1].startswith("us-east-1  arn:aws:iam::111111111111:")


@dataclass(frozen=True)
class Bad:
    """argv and env ({tmp} filled in), what stderr names, and how many lines it has."""

    argv: list[str]
    names: list[str]
    env: dict[str, str] = field(default_factory=dict)
    lines: int = 1


BAD = {
    "no config": Bad(["regions"], ["--config", "CAUSEWAY_CONFIG"]),
    "missing file": Bad(["regions", "--config", "{tmp}/none.yaml"], ["{tmp}/none.yaml"]),
    "missing file from env": Bad(
        ["regions"], ["{tmp}/gone.yaml", "named by"], {"CAUSEWAY_CONFIG": "{tmp}/gone.yaml"}
    ),
    # an invalid file: a heading, then one line per problem (as check-config prints)
    "invalid": Bad(
        ["regions", "--config", "{tmp}/bad.yaml"], ["regions.us-fake-9: 'us-fake-9'"], lines=2
    ),
    "unknown format": Bad(["regions", "--config", str(EXAMPLE), "-o", "yaml"], ["'yaml'", "json"]),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_a_bad_config_or_option_is_said_in_a_line(
    case: Bad, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"regions": {"us-fake-9": REGION_CONFIG}}))
    for key, value in case.env.items():
        monkeypatch.setenv(key, value.format(tmp=tmp_path))
    code, out, err = run(capsys, *(arg.format(tmp=tmp_path) for arg in case.argv))
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == case.lines and err.startswith("causeway: "), err
    for name in case.names:
        assert name.format(tmp=tmp_path) in err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_answers_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, command, "--help")
    assert (code, err) == (0, "")
    assert out.startswith(f"usage: causeway {command} ")


@pytest.mark.parametrize("command", COMMANDS)
def test_the_kubectl_plugin_names_itself(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["kubectl-causeway", command, "--help"])
    with pytest.raises(SystemExit) as exit_:
        kubectl_plugin()
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: kubectl causeway {command} ")


def test_kubectl_plugin_errors_start_with_its_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["kubectl-causeway", "regions"])
    assert kubectl_plugin() == 2
    err = capsys.readouterr().err
    assert err.startswith("kubectl causeway: no operator config: pass --config FILE")
    monkeypatch.setattr(sys, "argv", ["kubectl-causeway", "status", "-n", "a", "-A"])
    with pytest.raises(SystemExit) as exit_:
        kubectl_plugin()
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "kubectl causeway: argument -A/--all-namespaces: not allowed with argument -n/--namespace "
        "(see `kubectl causeway status --help`)"
    ]
