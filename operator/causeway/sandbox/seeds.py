"""The seed manifests and example config the demo, the docs and the tests share: the
repository's `seeds/` in a source checkout, or the copy bundled into the wheel (so
`causeway demo` works from a plain `pip install`). What the admin applies and what
the tenant applies are kept apart, as on a real platform."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_PACKAGE = Path(__file__).resolve().parent
BUNDLED = _PACKAGE / "seed_manifests"  # placed there by the wheel build (pyproject.toml)
CHECKOUT = _PACKAGE.parents[2] / "seeds"
ADMIN = "admin"
TENANT = "tenant-acme"
TENANT_NAMESPACE = "acme"
CONFIG_EXAMPLE = "config.example.yaml"


def seeds_dir() -> Path:
    """The bundled seeds in an installed wheel, else the checkout's seeds/."""
    return BUNDLED if BUNDLED.is_dir() else CHECKOUT


def load_manifests(folder: Path) -> list[dict[str, Any]]:
    """Every YAML document in a folder's *.yaml files, in file-name order."""
    documents: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.yaml")):
        documents.extend(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d)
    return documents


def missing_parts(root: Path) -> list[str]:
    """What a seeds directory lacks for the demo (empty when complete)."""
    needed = [root / ADMIN, root / TENANT, root / CONFIG_EXAMPLE]
    return [str(path) for path in needed if not path.exists()]


def admin_and_tenant_manifests(root: Path | None = None) -> list[dict[str, Any]]:
    """What the admin applies, then what the tenant applies."""
    base = root or seeds_dir()
    return load_manifests(base / ADMIN) + load_manifests(base / TENANT)
