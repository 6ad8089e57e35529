"""The generated documentation pages (docs/reference/*.md, docs/generated/*.md) are what
the code and the results files say now: a model, reason, config key, CLI flag, metric
or measured figure that changes without them fails here, as the CRDs do in
tests/api/test_crds.py. Fix with `uv run --frozen python tools/render_docs.py`."""

from __future__ import annotations

from pathlib import Path

from causeway import docgen
from causeway.config import OperatorConfig
from causeway.docgen import config as config_page

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_pages_match_the_code() -> None:
    assert docgen.stale(ROOT) == []


def test_every_config_key_is_explained_and_nothing_else() -> None:
    keys = {path for path, _field in config_page.keys(OperatorConfig, "")}
    missing_or_stale = sorted(keys ^ set(config_page.MEANINGS))
    assert missing_or_stale == [], "explain each new key in MEANINGS of causeway/docgen/config.py"


def test_a_changed_page_is_reported(tmp_path: Path) -> None:
    (tmp_path / "bench").mkdir()
    for source in (ROOT / "bench").glob("results-*.json"):
        (tmp_path / "bench" / source.name).write_text(source.read_text())
    assert docgen.write_all(tmp_path)
    assert docgen.stale(tmp_path) == []
    page = tmp_path / "docs" / "reference" / "cli.md"
    page.write_text(page.read_text().replace("--metrics-address", "--metrics-port"))
    assert docgen.stale(tmp_path) == ["docs/reference/cli.md is out of date"]


def test_the_reference_names_every_flag_and_metric() -> None:
    cli = (ROOT / "docs" / "reference" / "cli.md").read_text()
    for flag in ("--metrics-address", "--leader-elect", "--config", "--transit", "--check"):
        assert f"`{flag}`" in cli
    metrics = (ROOT / "docs" / "reference" / "metrics.md").read_text()
    for series in ("causeway_reconcile_total", "causeway_quota_blocked", "causeway_leader"):
        assert f"`{series}`" in metrics
