"""The sandbox API server and a real one answer alike where the operator depends on it:
each difference found by running the suite on a real API server is pinned here, on both
backends (the real one skipped without control-plane binaries), so the sandbox cannot
drift back into accepting what a cluster refuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from causeway.api import ALL_KINDS
from causeway.crdgen import crd_for
from causeway.sandbox.kube import KubeSandboxError, ThreadedKubeSandbox, kinds_from_crds
from realkube.cluster import HttpClient
from realkube.session import RealCluster

NAMESPACE = "fidelity"
OUTBOUNDS = f"/apis/causeway.dev/v1alpha1/namespaces/{NAMESPACE}/outboundconnections"
SECRETS = f"/api/v1/namespaces/{NAMESPACE}/secrets"
SERVICE = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"


@pytest.fixture(scope="module", params=["sandbox", "apiserver"])
def api(request: pytest.FixtureRequest) -> Iterator[HttpClient]:
    if request.param == "sandbox":
        kinds = kinds_from_crds(crd_for(kind) for kind in ALL_KINDS)
        with ThreadedKubeSandbox(kinds, namespaces=(NAMESPACE,)) as sandbox:
            yield HttpClient(sandbox.url)
        return
    cluster: RealCluster = request.getfixturevalue("real_cluster")
    admin = HttpClient(cluster.admin)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    admin.call("POST", "/api/v1/namespaces", namespace)
    yield admin
    admin.call("DELETE", f"/api/v1/namespaces/{NAMESPACE}", missing_ok=True)


def outbound(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "causeway.dev/v1alpha1",
        "kind": "OutboundConnection",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"region": "us-east-1", "serviceName": SERVICE, **spec},
    }


def refusal(api: HttpClient, method: str, path: str, body: Any, **kwargs: Any) -> KubeSandboxError:
    with pytest.raises(KubeSandboxError) as refused:
        api.call(method, path, body, **kwargs)
    return refused.value


def test_a_list_asked_for_object_metadata_only_is_not_acceptable(api: HttpClient) -> None:
    # The Secret watch's first LIST once asked this way: a real server answers 406.
    accept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
    refused = refusal(api, "GET", SECRETS, None, headers={"Accept": accept})
    assert refused.status == 406


def test_a_list_asked_for_the_list_form_carries_metadata_only(api: HttpClient) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "values"},
        "stringData": {"password": "hunter2"},
    }
    api.call("POST", SECRETS, secret)
    accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    listing = api.call("GET", SECRETS, headers={"Accept": accept})
    assert listing is not None and listing["kind"] == "PartialObjectMetadataList"
    assert [i["metadata"]["name"] for i in listing["items"]] == ["values"]
    assert "hunter2" not in str(listing) and "aHVudGVyMg" not in str(listing)
    api.call("DELETE", f"{SECRETS}/values")


def test_a_spec_against_the_schema_is_refused_naming_the_field(api: HttpClient) -> None:
    refused = refusal(api, "POST", OUTBOUNDS, outbound("garbled", serviceName="not-a-service"))
    assert refused.status == 422
    assert 'OutboundConnection.causeway.dev "garbled" is invalid' in refused.body["message"]
    assert "spec.serviceName" in refused.body["message"]


def test_a_cel_rule_refuses_with_its_message(api: HttpClient) -> None:
    other = SERVICE.replace("us-east-1", "eu-west-1")
    refused = refusal(api, "POST", OUTBOUNDS, outbound("elsewhere", serviceName=other))
    assert refused.status == 422
    assert (
        "serviceName must be an endpoint service in spec.serviceRegion, else spec.region"
        in refused.body["message"]
    )


def test_schema_defaults_are_stored(api: HttpClient) -> None:
    created = api.call("POST", OUTBOUNDS, outbound("defaulted"))
    assert created is not None and created["spec"]["provisioned"] is True
    api.call("DELETE", f"{OUTBOUNDS}/defaulted")


def test_an_immutable_field_cannot_change(api: HttpClient) -> None:
    api.call("POST", OUTBOUNDS, outbound("fixed"))
    moved = {"spec": {"serviceName": SERVICE.replace("0123456789abcdef0", "0123456789abcdef1")}}
    refused = refusal(
        api,
        "PATCH",
        f"{OUTBOUNDS}/fixed",
        moved,
        content_type="application/merge-patch+json",
    )
    assert refused.status == 422 and "serviceName is immutable" in refused.body["message"]
    api.call("DELETE", f"{OUTBOUNDS}/fixed")


def test_a_merge_patch_naming_a_resource_version_is_a_precondition(api: HttpClient) -> None:
    # How the reconciler adds its finalizer (KubeApi.add_finalizer): a merge patch
    # replaces the whole list, so one made from a stale read must be refused, not
    # drop a finalizer another controller added meanwhile.
    created = api.call("POST", OUTBOUNDS, outbound("guarded"))
    assert created is not None
    read_at = created["metadata"]["resourceVersion"]
    audit = {"metadata": {"finalizers": ["example.com/audit"]}}
    api.call("PATCH", f"{OUTBOUNDS}/guarded", audit, content_type="application/merge-patch+json")
    stale = {"metadata": {"resourceVersion": read_at, "finalizers": ["causeway.dev/teardown"]}}
    refused = refusal(
        api, "PATCH", f"{OUTBOUNDS}/guarded", stale, content_type="application/merge-patch+json"
    )
    assert refused.status == 409
    body = api.call("GET", f"{OUTBOUNDS}/guarded")
    assert body is not None and body["metadata"]["finalizers"] == ["example.com/audit"]
    current = {
        "metadata": {
            "resourceVersion": body["metadata"]["resourceVersion"],
            "finalizers": ["example.com/audit", "causeway.dev/teardown"],
        }
    }
    api.call("PATCH", f"{OUTBOUNDS}/guarded", current, content_type="application/merge-patch+json")
    body = api.call("GET", f"{OUTBOUNDS}/guarded")
    assert body is not None
    assert body["metadata"]["finalizers"] == ["example.com/audit", "causeway.dev/teardown"]
    api.call(
        "PATCH",
        f"{OUTBOUNDS}/guarded",
        {"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    api.call("DELETE", f"{OUTBOUNDS}/guarded")


def test_a_status_merge_patch_naming_a_resource_version_is_a_precondition(
    api: HttpClient,
) -> None:
    # How the reconciler writes status (KubeApi.patch_status): with the resourceVersion
    # its index holds, so a write decided on an older object (a deposed leader's, made
    # before it learnt of the new leader's) is refused rather than laid over the newer.
    created = api.call("POST", OUTBOUNDS, outbound("status-guarded"))
    assert created is not None
    read_at = created["metadata"]["resourceVersion"]
    path = f"{OUTBOUNDS}/status-guarded/status"
    newer = {"status": {"phase": "Ready"}}
    written = api.call("PATCH", path, newer, content_type="application/merge-patch+json")
    assert written is not None
    stale = {"metadata": {"resourceVersion": read_at}, "status": {"phase": "Allocating"}}
    refused = refusal(api, "PATCH", path, stale, content_type="application/merge-patch+json")
    assert refused.status == 409
    current = {
        "metadata": {"resourceVersion": written["metadata"]["resourceVersion"]},
        "status": {"phase": "PendingAcceptance"},
    }
    api.call("PATCH", path, current, content_type="application/merge-patch+json")
    body = api.call("GET", f"{OUTBOUNDS}/status-guarded")
    assert body is not None and body["status"]["phase"] == "PendingAcceptance"
    api.call("DELETE", f"{OUTBOUNDS}/status-guarded")
