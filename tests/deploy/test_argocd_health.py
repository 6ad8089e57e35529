"""The Argo CD health checks (charts/causeway/resource_customizations/causeway.dev):
each health.lua run the way Argo CD runs a check from argocd-cm (Lua 5.1, only the
base, package, table and a time-only os library; the object as the global `obj`,
converted from YAML through JSON), against every case of its health_test.yaml;
the testdata against the API models and the operator's own status code; and the
rendered argocd-cm patch (and the chart's copy of it) against the scripts."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import typing
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from lupa import lua51

from causeway.api import ALL_KINDS, GROUP, Phase
from causeway.api.kinds import KindInfo
from causeway.reconcile.quota import OVER_LICENSED
from causeway.reconcile.usage import DAILY_EXCEEDED, INBOUND_EXCEEDED, METERED, OUTBOUND_BLOCKED
from deploy import argocd_fixtures

ROOT = Path(__file__).resolve().parents[2]
CHECKS = ROOT / "charts" / "causeway" / "resource_customizations" / GROUP
PATCH = ROOT / "deploy" / "argocd" / "argocd-cm-patch.yaml"
HEALTH_STATES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}
CONNECTION_KINDS = ("OutboundConnection", "InboundConnection")
KINDS = {info.kind: info for info in ALL_KINDS}
# Served to users (namespaced, with a status): each needs a check. SourceRangeAllocation
# is the operator's own bookkeeping (cluster-scoped, no status): existence is its state.
CHECKED = sorted(k for k, info in KINDS.items() if info.namespaced and info.status is not None)


class _JsonLikeLoader(yaml.SafeLoader):
    """YAML as Argo CD reads it (sigs.k8s.io/yaml goes through JSON): no timestamp type,
    an unquoted time stays a string."""


_JsonLikeLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_JsonLikeLoader)  # a SafeLoader


# Argo CD's VM for argocd-cm checks (util/lua/lua.go, UseOpenLibs false): package, base,
# table and an os with time/date only. No string library, so no string methods either.
_SANDBOX = """
string, io, math, debug, coroutine = nil, nil, nil, nil, nil
local time, date = os.time, os.date
os = {time = time, date = date}
getmetatable("").__index = nil
"""


def run_check(script: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """Run a health.lua over `obj` and return what Argo CD would read from it."""
    lua = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    lua.execute(_SANDBOX)
    # Through JSON, as Argo CD's object decoding is (numbers, strings, bools, tables).
    plain = json.loads(json.dumps(obj))
    lua.globals().obj = lua.table_from(plain, recursive=True)
    result = lua.execute(script)
    assert lua51.lua_type(result) == "table", f"expected a table, got {result!r}"
    out = dict(result.items())
    assert set(out) <= {"status", "message"}, out
    return out


def script(kind: str) -> str:
    return (CHECKS / kind / "health.lua").read_text()


def cases(kind: str) -> list[dict[str, Any]]:
    return list(load_yaml(CHECKS / kind / "health_test.yaml")["tests"])


ALL_CASES = [
    pytest.param(kind, case, id=f"{kind}/{Path(case['inputPath']).stem}")
    for kind in CHECKED
    for case in cases(kind)
]


@pytest.mark.parametrize(("kind", "case"), ALL_CASES)
def test_health_case(kind: str, case: dict[str, Any]) -> None:
    obj = load_yaml(CHECKS / kind / case["inputPath"])
    expected = case["healthStatus"]
    got = run_check(script(kind), obj)
    assert got == {"status": expected["status"], "message": expected.get("message", "")}


@pytest.mark.parametrize(("kind", "case"), ALL_CASES)
def test_case_names_its_verdict(kind: str, case: dict[str, Any]) -> None:
    """Testdata files are named <verdict>_<situation>: a second, independent statement
    of the expected verdict, so a health_test.yaml edited to match a wrong script shows."""
    prefix = Path(case["inputPath"]).stem.split("_", 1)[0]
    assert case["healthStatus"]["status"].lower() == prefix


def test_every_served_kind_has_a_check() -> None:
    found = sorted(p.parent.name for p in CHECKS.glob("*/health.lua"))
    assert (
        found
        == CHECKED
        == sorted(["ConnectionQuota", "InboundConnection", "NamedCredential", "OutboundConnection"])
    )
    allocation = KINDS["SourceRangeAllocation"]
    assert allocation.status is None and not allocation.namespaced, (
        "SourceRangeAllocation gained a status: decide whether it needs a health check"
    )


@pytest.mark.parametrize("kind", CHECKED)
def test_every_testdata_file_is_a_case(kind: str) -> None:
    listed = sorted(Path(c["inputPath"]).name for c in cases(kind))
    assert len(listed) == len(set(listed)), "a testdata file is listed twice"
    assert listed == sorted(p.name for p in (CHECKS / kind / "testdata").glob("*.yaml"))


def _fixtures(kind: str) -> list[dict[str, Any]]:
    return [load_yaml(p) for p in sorted((CHECKS / kind / "testdata").glob("*.yaml"))]


@pytest.mark.parametrize("kind", CHECKED)
def test_testdata_parses_with_the_api_models(kind: str) -> None:
    info: KindInfo = KINDS[kind]
    assert info.status is not None
    for obj in _fixtures(kind):
        assert obj["apiVersion"] == f"{GROUP}/v1alpha1" and obj["kind"] == kind
        info.spec.model_validate(obj["spec"])
        if "status" in obj:
            info.status.model_validate(obj["status"])


def test_testdata_is_what_the_operator_writes() -> None:
    """Every fixture is rebuilt from the operator's status code; a committed file that
    differs is stale (the operator changed what it writes)."""
    built = argocd_fixtures.build()
    stale = [
        str(path)
        for path, body in built.items()
        if not (CHECKS / path).exists()
        or (CHECKS / path).read_text() != argocd_fixtures.render(body)
    ]
    assert not stale, (
        f"testdata differs from what the operator writes: {stale}. Run "
        "`.venv/bin/python tests/deploy/argocd_fixtures.py`, then review each kind's "
        "health_test.yaml against the new messages."
    )


@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_every_connection_phase_has_a_fixture(kind: str) -> None:
    phases = {o.get("status", {}).get("phase") for o in _fixtures(kind)}
    missing = {p.value for p in Phase} - phases
    assert not missing, f"{kind}: no testdata in phase(s) {sorted(missing)}"


def test_every_credential_phase_has_a_fixture() -> None:
    info = KINDS["NamedCredential"]
    assert info.status is not None
    annotation = info.status.model_fields["phase"].annotation
    literal = next(a for a in typing.get_args(annotation) if typing.get_origin(a) is typing.Literal)
    phases = {o.get("status", {}).get("phase") for o in _fixtures("NamedCredential")}
    missing = set(typing.get_args(literal)) - phases
    assert not missing, f"NamedCredential: no testdata in phase(s) {sorted(missing)}"


def _conditions(obj: Mapping[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in obj.get("status", {}).get("conditions", [])}


@pytest.mark.parametrize(
    ("kind", "condition", "value"),
    [
        ("OutboundConnection", "Stalled", "True"),
        ("OutboundConnection", "Blocked", "True"),
        ("OutboundConnection", "Synced", "False"),
        ("InboundConnection", "Stalled", "True"),
        ("InboundConnection", "Synced", "False"),
        ("NamedCredential", "Stalled", "True"),
        ("NamedCredential", "Blocked", "True"),
        ("ConnectionQuota", "Stalled", "True"),
        ("ConnectionQuota", OUTBOUND_BLOCKED, "True"),
        ("ConnectionQuota", OVER_LICENSED, "True"),
        ("ConnectionQuota", DAILY_EXCEEDED, "True"),
        ("ConnectionQuota", INBOUND_EXCEEDED, "True"),
        ("ConnectionQuota", METERED, "False"),
    ],
)
def test_every_condition_that_moves_a_verdict_has_a_fixture(
    kind: str, condition: str, value: str
) -> None:
    assert any(_conditions(o).get(condition) == value for o in _fixtures(kind))


@pytest.mark.parametrize("kind", CHECKED)
def test_no_status_and_generation_lag_are_progressing(kind: str) -> None:
    seen = set()
    for obj in _fixtures(kind):
        status = obj.get("status")
        generation = obj["metadata"]["generation"]
        got = run_check(script(kind), obj)
        if status is None:
            seen.add("none")
            assert got == {
                "status": "Progressing",
                "message": "Waiting for the operator to report status.",
            }
        elif status.get("observedGeneration", generation) < generation:
            seen.add("lag")
            assert got == {
                "status": "Progressing",
                "message": f"Waiting for the operator to observe generation {generation} "
                f"(status describes generation {status['observedGeneration']}).",
            }
    assert seen == {"none", "lag"}


@pytest.mark.parametrize("kind", CHECKED)
def test_a_blocked_verdict_says_when_traffic_passes_again(kind: str) -> None:
    blocked = [o for o in _fixtures(kind) if o.get("status", {}).get("blockedUntil")]
    for obj in blocked:
        got = run_check(script(kind), obj)
        assert got["status"] == "Degraded"
        assert obj["status"]["blockedUntil"] in got["message"]
    if kind != "InboundConnection":
        assert blocked, f"{kind}: no blocked testdata"


@pytest.mark.parametrize("kind", [k for k in CHECKED if k != "InboundConnection"])
def test_blocked_without_a_message_still_says_until_when(kind: str) -> None:
    """An older operator (or a trimmed status) may have blockedUntil but no Blocked
    message: the verdict still names the time. (Inbound traffic is never blocked.)"""
    obj = {
        "metadata": {"generation": 1},
        "spec": {},
        "status": {
            "phase": "Ready",
            "observedGeneration": 1,
            "blockedUntil": "2026-11-22T10:00:00Z",
            "conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}],
        },
    }
    got = run_check(script(kind), obj)
    assert got["status"] == "Degraded"
    assert "until 2026-11-22T10:00:00Z" in got["message"]


MALFORMED: list[Any] = [
    {},
    {"metadata": None, "spec": None, "status": None},
    {"status": "Ready"},
    {"status": []},
    {"status": {"conditions": "Ready"}},
    {"status": {"conditions": [None, "Ready", 3, {}]}},
    {"status": {"phase": "Ready"}},
    {"status": {"phase": "SomethingNew", "observedGeneration": 1}},
    {"metadata": {"generation": "2"}, "status": {"observedGeneration": "1", "phase": "Ready"}},
    {"status": {"conditions": [{"type": "Stalled", "status": "True"}]}},
    {"status": {"conditions": [{"type": "Synced", "status": "False"}], "phase": "Ready"}},
    {"status": {"blockedUntil": 7, "conditions": [{"type": "Blocked", "status": "True"}]}},
    {"status": {"observedGeneration": 1, "conditions": [{"type": "Metered", "status": "False"}]}},
    {"spec": {"provisioned": False}, "status": {"phase": "Unprovisioned"}},
]


@pytest.mark.parametrize("kind", CHECKED)
@pytest.mark.parametrize("obj", MALFORMED, ids=lambda o: json.dumps(o)[:60])
def test_missing_or_odd_fields_never_break_a_check(kind: str, obj: Any) -> None:
    got = run_check(script(kind), obj)
    assert got["status"] in HEALTH_STATES
    assert isinstance(got["message"], str) and got["message"]


def test_the_sandbox_is_as_strict_as_argo_cd() -> None:
    """The runner must refuse what Argo CD refuses, or the tests above prove nothing."""
    for probe in ('return ("x"):upper()', "return string.format('%d', 1)", "return math.max(1)"):
        with pytest.raises(lua51.LuaError):
            run_check(probe, {})


def test_unsynced_keeps_the_phase_verdict_and_says_why() -> None:
    obj = load_yaml(CHECKS / "OutboundConnection" / "testdata" / "healthy_ready_not_synced.yaml")
    got = run_check(script("OutboundConnection"), obj)
    synced = next(c for c in obj["status"]["conditions"] if c["type"] == "Synced")
    assert got["status"] == "Healthy"
    assert got["message"].startswith(obj["status"]["message"])
    assert synced["reason"] in got["message"] and synced["message"] in got["message"]


# --- the rendered argocd-cm patch ---------------------------------------------------


def _renderer() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "render_argocd", ROOT / "tools" / "render_argocd.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rendered_patch_is_current() -> None:
    renderer = _renderer()
    rendered = renderer.render(renderer.health_scripts())
    assert PATCH.read_text() == rendered, (
        "deploy/argocd/argocd-cm-patch.yaml is stale: run `python tools/render_argocd.py`"
    )


def test_patch_holds_each_check_under_argo_cds_key() -> None:
    data = load_yaml(PATCH)
    assert set(data) == {"data"}, "the patch must only add data keys to argocd-cm"
    expected = {f"resource.customizations.health.{GROUP}_{kind}": script(kind) for kind in CHECKED}
    assert data["data"] == expected


def test_render_check_mode_reports_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    renderer = _renderer()
    stale = tmp_path / "argocd-cm-patch.yaml"
    stale.write_text("data: {}\n")
    monkeypatch.setattr(renderer, "OUTPUT", stale)
    monkeypatch.setattr(renderer, "ROOT", tmp_path)
    assert renderer.main(["--check"]) == 1
    assert renderer.main([]) == 0
    assert renderer.main(["--check"]) == 0
    assert stale.read_text() == PATCH.read_text()


# --- the chart's copy ----------------------------------------------------------------

HELM_TOOL = ROOT / "tools" / "helm.py"
CHART = ROOT / "charts" / "causeway"


def _helm_template(*values: str, show_only: str | None = None) -> list[dict[str, Any]]:
    args = [sys.executable, str(HELM_TOOL), "template", "causeway", str(CHART),
            "--namespace", "causeway"]  # fmt: skip
    for value in values:
        args += ["--set", value]
    if show_only:
        args += ["--show-only", show_only]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


needs_helm = pytest.mark.skipif(
    not HELM_TOOL.exists() or not (CHART / "Chart.yaml").exists(),
    reason="tools/helm.py (the helm binary) or the chart is missing",
)


@needs_helm
def test_chart_renders_the_same_patch() -> None:
    (configmap,) = _helm_template(
        "argocd.healthChecks.enabled=true", show_only="templates/argocd-health.yaml"
    )
    assert configmap["kind"] == "ConfigMap"
    assert configmap["metadata"]["name"] == "causeway-argocd-health"
    assert configmap["metadata"]["namespace"] == "causeway"
    assert set(configmap["data"]) == {"argocd-cm-patch.yaml"}
    patch = yaml.safe_load(configmap["data"]["argocd-cm-patch.yaml"])
    assert patch == load_yaml(PATCH), (
        "the chart's argocd-cm patch differs from deploy/argocd/argocd-cm-patch.yaml"
    )


@needs_helm
def test_chart_renders_no_health_configmap_by_default() -> None:
    names = [d["metadata"]["name"] for d in _helm_template() if d.get("kind") == "ConfigMap"]
    assert "causeway-argocd-health" not in names
    assert "argocd-cm" not in names
