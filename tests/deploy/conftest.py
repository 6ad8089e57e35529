"""Fixtures for the deployment tests: the real helm binary (extracted once per session by
tools/helm.py), the chart rendered once per set of values, and the repository's tools
loaded as modules.

Tests run in importlib mode, where a conftest is not importable by a plain name: this
module registers itself as `deploy_testlib` so the test modules can import its helpers
(`from deploy_testlib import ...`) without loading it twice."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "causeway"
TOOLS = ROOT / "tools"
RELEASE = "causeway"
NAMESPACE = "causeway-system"
KUBERNETES_VERSION = "1.30"

sys.modules.setdefault("deploy_testlib", sys.modules[__name__])


def load_tool(name: str) -> ModuleType:
    """tools/<name>.py as the module `name` (render_manifests imports `helm` by name)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Helm:
    binary: Path
    scratch: Path

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *map(str, args)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    def template(
        self, values: dict[str, Any] | None = None, chart: Path = CHART
    ) -> subprocess.CompletedProcess[str]:
        """`helm template` of release "causeway" with `values` merged over the defaults
        (as `-f`: maps merge, a null removes a default key)."""
        return self.run(
            "template", RELEASE, chart, "--namespace", NAMESPACE, *self.values_args(values)
        )

    def lint(
        self, values: dict[str, Any] | None = None, chart: Path = CHART
    ) -> subprocess.CompletedProcess[str]:
        return self.run(
            "lint", "--strict", chart, "--namespace", NAMESPACE, *self.values_args(values)
        )

    def values_args(self, values: dict[str, Any] | None) -> list[str]:
        if not values:
            return []
        text = json.dumps(values, sort_keys=True)  # JSON is YAML
        file = self.scratch / f"values-{hashlib.sha256(text.encode()).hexdigest()[:16]}.yaml"
        file.write_text(text)
        return ["--values", str(file)]


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(load_tool("helm").helm_binary(), tmp_path_factory.mktemp("values"))


Manifests = list[dict[str, Any]]


def parse(text: str) -> Manifests:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.fixture(scope="session")
def render(helm: Helm) -> Callable[..., Manifests]:
    """Render the chart with `values` (cached per distinct values) and parse it."""
    cache: dict[str, Manifests] = {}

    def rendered(values: dict[str, Any] | None = None) -> Manifests:
        key = json.dumps(values or {}, sort_keys=True)
        if key not in cache:
            result = helm.template(values)
            assert result.returncode == 0, result.stderr
            cache[key] = parse(result.stdout)
        return cache[key]

    return rendered


def only(manifests: Manifests, kind: str, name: str | None = None) -> dict[str, Any]:
    """The one object of `kind` (and `name`)."""
    found = [
        m
        for m in manifests
        if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def of_kind(manifests: Manifests, kind: str) -> Manifests:
    return [m for m in manifests if m["kind"] == kind]


def validate_k8s(manifest: dict[str, Any]) -> None:
    """Validate against the Kubernetes OpenAPI schemas (strict: unknown fields fail)."""
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path)
        name = f"{manifest['kind']}/{manifest['metadata']['name']}"
        raise AssertionError(f"{name} is invalid at {where}: {exc.message}") from None


@pytest.fixture
def chart_copy(tmp_path: Path) -> Iterator[Path]:
    """A scratch copy of the chart, for tests that add or remove chart files."""
    target = tmp_path / "causeway"
    shutil.copytree(CHART, target)
    yield target
