"""The seed manifests are valid against the CRDs and the models, and the CLI's
non-operator commands behave (CRD check, config check, clear errors)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from causeway.api import ALL_KINDS
from causeway.cli import main
from causeway.sandbox.stack import SEEDS, load_manifests
from crd_validation import validate

ROOT = Path(__file__).resolve().parents[2]
KINDS = {kind.kind: kind for kind in ALL_KINDS}


@pytest.mark.parametrize(
    "manifest",
    load_manifests(SEEDS / "tenant-acme"),
    ids=lambda m: f"{m['kind']}/{m['metadata']['name']}",
)
def test_seed_manifest_is_valid(manifest: dict[str, object]) -> None:
    kind = KINDS.get(str(manifest["kind"]))
    if kind is None:
        assert manifest["kind"] == "Namespace"
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
    assert "outboundconnection.yaml is out of date" in capsys.readouterr().err


def test_check_config_reports_ok_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", str(SEEDS / "config.example.yaml")]) == 0
    assert "config OK: regions us-east-1" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("regions: {us-east-1: {transitVpcId: nope}}\npollInterval: 30s\n")
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert (
        "regions.us-east-1.transitVpcId" in err
        and "regions.us-east-1.subnetIds: Field required" in err
    )
    assert "Traceback" not in err


def test_run_without_config_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CAUSEWAY_CONFIG", raising=False)
    assert main(["run"]) == 2
    assert "set CAUSEWAY_CONFIG" in capsys.readouterr().err
