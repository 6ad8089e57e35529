"""Writes the generated documentation pages (docs/reference/*.md and the measured tables
in docs/generated/) from the code and bench/results-*.json; `--check` only says which
are stale (exit 1), as a test does. Run from anywhere: paths are the repository's.

    uv run --frozen python tools/render_docs.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))

from causeway import docgen  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale pages")
    args = parser.parse_args()
    if args.check:
        problems = docgen.stale(ROOT)
        for problem in problems:
            sys.stdout.write(f"{problem}; run `uv run --frozen python tools/render_docs.py`\n")
        return 1 if problems else 0
    for path in docgen.write_all(ROOT):
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
