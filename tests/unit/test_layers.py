"""Import rules that keep the layering honest: boto3 only under causeway/aws, the
kubernetes client only in causeway/kube/, kopf only in the wiring modules, and
no I/O library at all in the pure core (planners, conditions, errors, api)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "causeway"
SANDBOX = "sandbox/"

ALLOWED: dict[str, tuple[str, ...]] = {
    "boto3": ("aws/", SANDBOX),
    "botocore": ("aws/", SANDBOX),
    "kubernetes": ("kube/", SANDBOX),
    "kopf": ("handlers.py", "operator.py", "kopf_run.py", SANDBOX),
    "moto": (SANDBOX,),
    "kmock": (SANDBOX,),
}
PURE = ("reconcile/", "report/", "conditions.py", "errors.py", "domain.py", "api/", "crdgen.py")
IO_MODULES = {"asyncio", "threading", "subprocess", "socket", "requests", "aiohttp", *ALLOWED}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_respect_the_layers(path: Path) -> None:
    relative = str(path.relative_to(PACKAGE))
    for name in imports_of(path):
        allowed = ALLOWED.get(name)
        if allowed is not None:
            assert relative.startswith(allowed), f"{relative} imports {name}; only {allowed} may"
    if relative.startswith(PURE):
        assert not imports_of(path) & IO_MODULES, f"{relative} is pure core but imports I/O"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_says_what_it_owns(path: Path) -> None:
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert docstring, f"{path.relative_to(PACKAGE)} has no module docstring"
