"""The documentation site builds with `mkdocs build --strict` (no broken link, anchor or
page left out of the navigation), every alert's runbook_url resolves to a heading of
the built site, and the README stays a short front door: at most 200 lines, the two
commands a newcomer pastes (demo, tests) plus the one that serves the docs, and links
that all lead to existing pages."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from promql_queries import alert_rules

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SITE_URL = re.compile(r"^site_url:\s*(\S+)\s*$", re.MULTILINE)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built from this checkout, strictly, into a temporary directory."""
    output = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(output)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return output


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids |= {value for name, value in attrs if name == "id" and value}


def ids_in(page: Path) -> set[str]:
    parser = _Ids()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.ids


def site_url() -> str:
    found = SITE_URL.search((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert found, "mkdocs.yml names no site_url"
    return found.group(1)


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_runbook_url_resolves_to_a_section(site: Path, rule: dict[str, object]) -> None:
    annotations = rule["annotations"]
    assert isinstance(annotations, dict)
    url = str(annotations["runbook_url"])
    assert url.startswith(site_url()), f"{url} is not under the site's site_url"
    parts = urlsplit(url.removeprefix(site_url()))
    page = site / parts.path / "index.html"
    assert page.is_file(), f"{url}: no page {parts.path}"
    assert parts.fragment in ids_in(page), f"{url}: no section #{parts.fragment}"


def test_the_site_renders_the_diagrams_and_the_generated_tables(site: Path) -> None:
    lifecycle = (site / "concepts" / "connections" / "index.html").read_text()
    assert lifecycle.count('class="mermaid"') >= 2
    performance = (site / "performance" / "index.html").read_text()
    assert "<table>" in performance and "--8&lt;--" not in performance


def test_the_readme_is_short() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 200


def test_the_readme_gives_the_two_commands_and_the_docs_command() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    setup = [command for command in commands if command.startswith("sh tools/uv sync")]
    assert setup == [
        "sh tools/uv sync --frozen && sh tools/uv run --frozen causeway demo",
        "sh tools/uv sync --frozen && sh tools/uv run --frozen pytest",
        "sh tools/uv sync --frozen && sh tools/uv run --frozen mkdocs serve",
    ]


def test_every_readme_link_leads_to_a_file() -> None:
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert local, "the README links into the docs"
    assert [link for link in local if not (ROOT / link).exists()] == []


def test_every_chart_readme_link_leads_to_a_file() -> None:
    chart = ROOT / "charts" / "causeway"
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", (chart / "README.md").read_text())
    local = [link for link in links if "://" not in link]
    assert local, "the chart's README links into the docs"
    assert [link for link in local if not (chart / link).exists()] == []
