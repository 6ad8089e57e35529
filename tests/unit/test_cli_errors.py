"""Every bad input a new user can give the CLI ends in one line on stderr (a short list
for config files), naming the offending value or path, with the right exit code and
never a traceback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from causeway.cli import _parser, main
from fakes import REGION_CONFIG

GOOD_CONFIG = {"regions": {"us-east-1": REGION_CONFIG}}


@dataclass(frozen=True)
class Case:
    """argv (with {tmp} and {port} filled in), files to write, env, and what to expect."""

    argv: list[str]
    code: int
    names: list[str]  # fragments stderr must contain (the value or path at fault)
    files: dict[str, str | bytes] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    max_lines: int = 1


def kubeconfig(server: str, *, context: bool = True) -> str:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "contexts": [{"name": "dev", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }
    if context:
        document["current-context"] = "dev"
    return yaml.safe_dump(document)


RUN = ["run", "--config", "{tmp}/config.yaml"]
CONFIG = {"config.yaml": yaml.safe_dump(GOOD_CONFIG)}

CASES: dict[str, Case] = {
    "kubeconfig missing": Case(
        RUN, 2, ["{tmp}/nonexistent", "KUBECONFIG"], CONFIG, {"KUBECONFIG": "{tmp}/nonexistent"}
    ),
    "kubeconfig without current-context": Case(
        RUN,
        2,
        ["{tmp}/kc", "current-context", "dev"],
        {**CONFIG, "kc": kubeconfig("http://127.0.0.1:1", context=False)},
        {"KUBECONFIG": "{tmp}/kc"},
    ),
    "kubeconfig broken YAML": Case(
        RUN,
        2,
        ["{tmp}/kc", "line 3"],
        {**CONFIG, "kc": "apiVersion: v1\nkind: [Config\n"},
        {"KUBECONFIG": "{tmp}/kc"},
    ),
    "kubeconfig is a directory": Case(
        RUN, 2, ["{tmp}", "directory"], CONFIG, {"KUBECONFIG": "{tmp}"}
    ),
    "API server unreachable": Case(
        [*RUN, "--startup-timeout", "0.5"],
        1,
        ["http://127.0.0.1:{port}", "connection refused", "did not answer"],
        {**CONFIG, "kc": kubeconfig("http://127.0.0.1:{port}")},
        {"KUBECONFIG": "{tmp}/kc"},
    ),
    "liveness not a URL": Case([*RUN, "--liveness", "healthz"], 2, ["'healthz'"], CONFIG),
    "liveness port out of range": Case(
        [*RUN, "--liveness", "http://0.0.0.0:99999/healthz"], 2, ["99999", "65535"], CONFIG
    ),
    "liveness port in use": Case(
        [*RUN, "--liveness", "http://127.0.0.1:{busy}/healthz"], 2, ["{busy}", "in use"], CONFIG
    ),
    "metrics address without port": Case(
        [*RUN, "--metrics-address", "0.0.0.0"], 2, ["'0.0.0.0'", "HOST:PORT"], CONFIG
    ),
    "metrics port out of range": Case(
        [*RUN, "--metrics-address", "0.0.0.0:70000"], 2, ["70000", "65535"], CONFIG
    ),
    "metrics port in use": Case(
        [*RUN, "--metrics-address", "127.0.0.1:{busy}"], 2, ["{busy}", "in use"], CONFIG
    ),
    "no config at all": Case(["run"], 2, ["--config", "CAUSEWAY_CONFIG"]),
    "config file missing": Case(["check-config", "{tmp}/none.yaml"], 2, ["{tmp}/none.yaml"]),
    "startup timeout zero": Case([*RUN, "--startup-timeout", "0"], 2, ["'0'"], CONFIG),
    "unknown region": Case(
        ["check-config", "{tmp}/c.yaml"],
        2,
        ["'us-fake-9'"],
        {"c.yaml": yaml.safe_dump({"regions": {"us-fake-9": REGION_CONFIG}})},
        max_lines=2,
    ),
    "misspelt key": Case(
        ["check-config", "{tmp}/c.yaml"],
        2,
        ["pollIntervall", "did you mean 'pollInterval'"],
        {"c.yaml": yaml.safe_dump({**GOOD_CONFIG, "pollIntervall": "10s"})},
        max_lines=2,
    ),
    "config not UTF-8": Case(
        ["check-config", "{tmp}/c.yaml"],
        2,
        ["{tmp}/c.yaml", "UTF-8"],
        {"c.yaml": b"r\xe9gions: 1\n"},
    ),
    "config empty": Case(
        ["check-config", "{tmp}/c.yaml"], 2, ["{tmp}/c.yaml", "empty"], {"c.yaml": ""}
    ),
    "config invalid YAML": Case(
        ["check-config", "{tmp}/c.yaml"],
        2,
        ["{tmp}/c.yaml", "line 3"],
        {"c.yaml": "regions:\n  - [\n"},
    ),
    "config duplicate key": Case(
        ["check-config", "{tmp}/c.yaml"],
        2,
        ["duplicate key 'pollInterval'"],
        {"c.yaml": yaml.safe_dump(GOOD_CONFIG) + "pollInterval: 10s\npollInterval: 20s\n"},
    ),
    "absurd poll interval": Case(
        ["check-config", "{tmp}/c.yaml"],
        2,
        ["'100000h'", "1h"],
        {"c.yaml": yaml.safe_dump({**GOOD_CONFIG, "pollInterval": "100000h"})},
        max_lines=2,
    ),
    "zero metering interval": Case(
        ["check-config", "{tmp}/c.yaml"],
        2,
        ["metering.interval", "'0s'"],
        {"c.yaml": yaml.safe_dump({**GOOD_CONFIG, "metering": {"interval": "0s"}})},
        max_lines=2,
    ),
    "demo timeout zero": Case(["demo", "--timeout", "0"], 2, ["--timeout '0'"]),
    "demo timeout negative": Case(["demo", "--timeout", "-5"], 2, ["'-5'"]),
    "demo timeout nan": Case(["demo", "--timeout", "nan"], 2, ["'nan'"]),
    "demo seeds missing": Case(["demo", "--seeds", "{tmp}/none"], 2, ["{tmp}/none"]),
    "crds check outside the repository": Case(["crds", "--check"], 2, ["no crds/ directory"]),
    "unknown command": Case(["bogus"], 2, ["'bogus'"]),
    "leader-elect not a boolean": Case(
        ["run", "--leader-elect=maybe"], 2, ["--leader-elect 'maybe'", "true or false"]
    ),
}


@pytest.fixture
def ports() -> Iterator[dict[str, int]]:
    """A port nothing listens on, and one something does."""
    with socket.socket() as closed, socket.socket() as listener:
        closed.bind(("127.0.0.1", 0))
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = int(closed.getsockname()[1])
        closed.close()
        yield {"port": port, "busy": int(listener.getsockname()[1])}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_gets_one_clear_line(
    case: Case,
    tmp_path: Path,
    ports: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    def fill(text: str) -> str:
        return text.format(tmp=tmp_path, **ports)

    for name, content in case.files.items():
        target = tmp_path / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(fill(content))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CAUSEWAY_CONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig-given"))
    for key, value in case.env.items():
        monkeypatch.setenv(key, fill(value))

    try:
        code = main([fill(arg) for arg in case.argv])
    except SystemExit as exit_:  # argparse exits on usage errors
        code = int(exit_.code or 0)
    out, err = capfd.readouterr()

    assert code == case.code, err
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= case.max_lines, err
    assert lines[0].startswith("causeway: "), err
    for fragment in case.names:
        assert fill(fragment) in err, err


@pytest.mark.parametrize(
    ("argv", "elect"),
    [
        ([], True),
        (["--leader-elect"], True),
        (["--leader-elect=false"], False),
        (["--leader-elect", "True"], True),
        (["--leader-elect=0"], False),
    ],
)
def test_leader_election_is_on_unless_turned_off(argv: list[str], elect: bool) -> None:
    args = _parser().parse_args(["run", *argv])
    assert args.leader_elect is elect
    assert (args.leader_election_lease, args.leader_election_namespace) == (
        "causeway-leader",
        None,
    )
