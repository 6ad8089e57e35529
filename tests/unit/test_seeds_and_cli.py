"""The seed manifests are valid against the CRDs and the models, and the CLI's
non-operator commands behave (CRD check, config check, clear errors)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from causeway.api import ALL_KINDS
from causeway.cli import main
from causeway.sandbox.seeds import admin_and_tenant_manifests, seeds_dir
from crd_validation import validate

ROOT = Path(__file__).resolve().parents[2]
KINDS = {kind.kind: kind for kind in ALL_KINDS}


@pytest.mark.parametrize(
    "manifest",
    admin_and_tenant_manifests(),
    ids=lambda m: f"{m['kind']}/{m['metadata']['name']}",
)
def test_seed_manifest_is_valid(manifest: dict[str, object]) -> None:
    kind = KINDS.get(str(manifest["kind"]))
    if kind is None:
        assert manifest["kind"] in {"Namespace", "Secret"}
        return
    crd = yaml.safe_load((ROOT / "crds" / kind.crd_file).read_text())
    assert validate(crd, manifest) == []
    kind.spec.model_validate(manifest["spec"])


def test_crds_check_passes_on_the_committed_files() -> None:
    assert main(["crds", "--check", "--output", str(ROOT / "crds")]) == 0


def test_crds_check_fails_on_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crds", "--output", str(tmp_path)]) == 0
    (tmp_path / "outboundconnection.yaml").write_text("stale\n")
    assert main(["crds", "--check", "--output", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "outboundconnection.yaml is out of date" in err
    assert "-stale" in err  # the diff is shown


def test_crds_check_names_missing_and_stray_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["crds", "--output", str(tmp_path)]) == 0
    (tmp_path / "inboundconnection.yaml").unlink()
    (tmp_path / "extra.yaml").write_text("kind: ConfigMap\n")
    assert main(["crds", "--check", "--output", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "inboundconnection.yaml is missing" in err
    assert "extra.yaml is not a Causeway CRD" in err
    assert "out of date" not in err


def test_crds_outside_the_repository_neither_checks_nor_creates_crds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["crds", "--check"]) == 2
    assert "no crds/ directory here" in capsys.readouterr().err
    assert main(["crds"]) == 2
    assert not (tmp_path / "crds").exists()


def test_check_config_reports_ok_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", str(seeds_dir() / "config.example.yaml")]) == 0
    out = capsys.readouterr().out
    assert "config OK: " in out and "us-east-1: outbound on" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("regions: {us-east-1: {transitVpcId: nope}}\npollInterval: 30s\n")
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert (
        "regions.us-east-1.transitVpcId" in err
        and "regions.us-east-1.subnetIds: required, not set" in err
    )
    assert "Traceback" not in err


def test_run_without_config_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CAUSEWAY_CONFIG", raising=False)
    assert main(["run"]) == 2
    assert "set CAUSEWAY_CONFIG" in capsys.readouterr().err
