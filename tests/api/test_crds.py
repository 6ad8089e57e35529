"""The committed CRDs are generated from the pydantic models and must not drift;
their schemas enforce the API contract (patterns, immutability, defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from causeway.api import ALL_KINDS, GROUP
from causeway.crdgen import crd_files
from crd_validation import validate

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"


def load_crd(singular: str) -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "crds" / f"{singular}.yaml").read_text()))


def outbound(**spec: Any) -> dict[str, Any]:
    body = {"region": "us-east-1", "serviceName": SERVICE} | spec
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "OutboundConnection",
        "metadata": {"name": "inventory", "namespace": "acme"},
        "spec": {k: v for k, v in body.items() if v is not None},
    }


def test_committed_crds_match_the_models() -> None:
    for name, text in crd_files().items():
        committed = (ROOT / "crds" / name).read_text()
        assert committed == text, f"crds/{name} drifted from the models: run `causeway crds`"


def test_every_kind_has_a_crd_with_status_subresource_and_short_names() -> None:
    for kind in ALL_KINDS:
        crd = load_crd(kind.singular)
        version = crd["spec"]["versions"][0]
        has_status = kind.status is not None  # SourceRangeAllocation: spec only
        assert version["subresources"] == ({"status": {}} if has_status else {})
        assert crd["spec"]["scope"] == ("Namespaced" if kind.namespaced else "Cluster")
        assert crd["spec"]["names"]["shortNames"] == list(kind.short_names)
        columns = {c["name"] for c in version["additionalPrinterColumns"]}
        assert columns >= ({"Ready", "Age"} if has_status else {"Age"})


def _walk(schema: dict[str, Any], path: str = "") -> list[str]:
    """Paths of schema nodes that are not structural (no type, no preserve flag)."""
    bad = [] if "type" in schema or schema.get("x-kubernetes-preserve-unknown-fields") else [path]
    for name, sub in (schema.get("properties") or {}).items():
        bad += _walk(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        bad += _walk(schema["items"], f"{path}[]")
    return bad


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.kind)
def test_schemas_are_structural_and_described(kind: Any) -> None:
    schema = load_crd(kind.singular)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert _walk(schema) == []
    spec = schema["properties"]["spec"]
    assert all("description" in field for field in spec["properties"].values())


@pytest.mark.parametrize(
    ("name", "spec", "error"),
    [
        ("valid", {}, None),
        ("region with capitals", {"region": "US-EAST-1"}, "should match"),
        (
            "service name not an endpoint service",
            {"serviceName": "com.example.api"},
            "should match",
        ),
        (
            "service id too short",
            {"serviceName": "com.amazonaws.vpce.us-east-1.vpce-svc-12"},
            "should match",
        ),
        (
            "service in another region",
            {"region": "eu-west-1"},
            "serviceName must be an endpoint service",
        ),
        ("missing service name", {"serviceName": None}, "spec.serviceName: Required value"),
        ("unknown field", {"color": "blue"}, None),  # pruned by the API server, not rejected
    ],
)
def test_outbound_schema_rejects_bad_specs(
    name: str, spec: dict[str, Any], error: str | None
) -> None:
    errors = validate(load_crd("outboundconnection"), outbound(**spec))
    if error is None:
        assert [e for e in errors if "color" not in e] == []
    else:
        assert any(error in e for e in errors), errors


@pytest.mark.parametrize("field", ["region", "serviceName"])
def test_outbound_identity_fields_are_immutable(field: str) -> None:
    old = outbound()
    new = outbound(
        region="us-west-2", serviceName="com.amazonaws.vpce.us-west-2.vpce-svc-0123456789abcdef0"
    )
    changed = outbound(**{field: new["spec"][field]})
    errors = validate(load_crd("outboundconnection"), changed, old=old)
    assert f'spec.{field}: Invalid value: "{new["spec"][field]}": {field} is immutable' in errors


def test_outbound_description_and_provisioned_may_change() -> None:
    old = outbound()
    new = outbound(description="Inventory API", provisioned=False)
    assert validate(load_crd("outboundconnection"), new, old=old) == []


def test_provisioned_defaults_to_true_in_the_schema() -> None:
    spec = load_crd("outboundconnection")["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert spec["properties"]["spec"]["properties"]["provisioned"]["default"] is True


def test_inbound_vpc_endpoint_id_pattern() -> None:
    crd = load_crd("inboundconnection")
    good = {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "InboundConnection",
        "metadata": {},
        "spec": {"region": "us-east-1", "vpcEndpointId": "vpce-0abc1234def567890"},
    }
    bad = {**good, "spec": {"region": "us-east-1", "vpcEndpointId": "vpc-0abc1234"}}
    assert validate(crd, good) == []
    assert any("should match" in e for e in validate(crd, bad))


def test_named_credential_url_must_be_http_or_https() -> None:
    crd = load_crd("namedcredential")
    obj = {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "NamedCredential",
        "metadata": {},
        "spec": {"url": "ftp://files.acme.internal", "outboundConnection": "inventory"},
    }
    assert any("should match" in e for e in validate(crd, obj))


COMMON_CRDS = yaml.safe_load((ROOT / "tests" / "data" / "common-crd-short-names.yaml").read_text())
TENANT_CATEGORY = "causeway"


def test_short_names_collide_with_no_common_crd_or_builtin_kind() -> None:
    taken = set(COMMON_CRDS["builtin"])
    taken |= {
        s for kinds in COMMON_CRDS["projects"].values() for names in kinds.values() for s in names
    }
    ours = [s for kind in ALL_KINDS for s in load_crd(kind.singular)["spec"]["names"]["shortNames"]]
    assert not taken & set(ours)
    assert len(ours) == len(set(ours))
    # One prefix, so a future kind elsewhere is unlikely to take one, and no plain word
    # (inbound, outbound) that reads as anyone's.
    assert all(s.startswith("cw") for s in ours), ours


def test_the_tenant_category_holds_only_namespaced_kinds() -> None:
    """`kubectl get causeway -n acme` lists every kind of the category: a cluster-scoped
    one in it fails the whole command with Forbidden for a tenant."""
    for kind in ALL_KINDS:
        categories = load_crd(kind.singular)["spec"]["names"]["categories"]
        assert (TENANT_CATEGORY in categories) == kind.namespaced, kind.kind
        assert categories, kind.kind


def test_status_conditions_are_a_bounded_map_keyed_by_type() -> None:
    """metav1.Condition's convention: server-side apply merges by type, kstatus reads
    one entry per type, and the list cannot grow without bound."""
    for kind in ALL_KINDS:
        if kind.status is None:
            continue
        crd = load_crd(kind.singular)
        status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
        conditions = status["properties"]["conditions"]
        assert conditions["x-kubernetes-list-type"] == "map", kind.kind
        assert conditions["x-kubernetes-list-map-keys"] == ["type"], kind.kind
        assert 0 < conditions["maxItems"] <= 32, kind.kind
        assert "type" in conditions["items"]["required"], kind.kind
