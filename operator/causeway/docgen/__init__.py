"""Generates the documentation pages that restate what the code already knows: the API
reference (from the pydantic models, through the CRDs), the condition reasons (from
the reasons registry), the config keys (from the config model), the command line (from
its argparse parser), the metrics (from the metrics module) and the measured figures
(from bench/results-*.json).

`python tools/render_docs.py` writes them under docs/; `--check` (and a test) fails
when a committed page differs from what the code generates now, as `causeway crds`
does for the CRDs. Nothing here runs in the operator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from causeway.docgen import bench, cli, config, crds, metrics, reasons

# Page (relative to docs/) → how to render it from the repository root.
PAGES: dict[str, Callable[[Path], str]] = {
    "reference/api.md": lambda _root: crds.page(),
    "reference/reasons.md": lambda _root: reasons.page(),
    "reference/config.md": lambda _root: config.page(),
    "reference/cli.md": lambda _root: cli.page(),
    "reference/metrics.md": lambda _root: metrics.page(),
    **{f"generated/{name}": bench.renderer(name) for name in bench.SNIPPETS},
}


def render_all(root: Path) -> dict[str, str]:
    """Every generated page, by its path under docs/."""
    return {name: render(root) for name, render in PAGES.items()}


def write_all(root: Path) -> list[str]:
    """Write every page that differs; the paths written."""
    written = []
    for name, text in render_all(root).items():
        path = root / "docs" / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(str(path.relative_to(root)))
    return written


def stale(root: Path) -> list[str]:
    """The generated pages that are missing or differ from what the code says now."""
    problems = []
    for name, text in render_all(root).items():
        path = root / "docs" / name
        if not path.exists():
            problems.append(f"docs/{name} is missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"docs/{name} is out of date")
    return problems
