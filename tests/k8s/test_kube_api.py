"""causeway.kube against the sandbox API server: status merge patches touch only
status and are refused on an object changed since the version they name, a finalizer is added only to what was read, a vanished object is not an error, a cluster object's name has one holder,
and Events name their object."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from causeway.api import ALL_KINDS, FINALIZER, OUTBOUND, SOURCE_RANGE_ALLOCATION, allocation_name
from causeway.crdgen import crd_for
from causeway.kube import KubeApi, ObjectRef, StaleObjectError
from causeway.sandbox.kube import ThreadedKubeSandbox, kinds_from_crds
from fakes import SERVICE_NAME


@pytest.fixture(scope="module")
def kube() -> Iterator[ThreadedKubeSandbox]:
    kinds = kinds_from_crds(crd_for(kind) for kind in ALL_KINDS)
    with ThreadedKubeSandbox(kinds, namespaces=("acme",)) as sandbox:
        yield sandbox


def outbound(name: str, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "causeway.dev/v1alpha1",
        "kind": "OutboundConnection",
        "metadata": {"name": name, "namespace": "acme", **meta},
        "spec": {"region": "us-east-1", "serviceName": SERVICE_NAME},
    }


def test_patch_status_changes_only_status(kube: ThreadedKubeSandbox) -> None:
    created = kube.apply(outbound("inventory"))
    api = KubeApi(kube.kube_configuration())
    first = api.patch_status(
        OUTBOUND, "acme", "inventory", {"phase": "Ready", "vpcEndpointId": "vpce-0123456789abcdef0"}
    )
    second = api.patch_status(OUTBOUND, "acme", "inventory", {"vpcEndpointId": None})
    body = kube.get("outboundconnections", "acme", "inventory")
    assert body is not None
    # Each write answers with the version it made (what the index waits to see).
    assert first and second and first != created["metadata"]["resourceVersion"]
    assert body["metadata"]["resourceVersion"] == second != first
    assert body["status"] == {"phase": "Ready"}  # null removes a field (merge patch)
    assert body["spec"] == created["spec"]
    assert body["metadata"]["generation"] == 1


def test_add_finalizer_keeps_the_others_and_refuses_a_stale_read(
    kube: ThreadedKubeSandbox,
) -> None:
    created = kube.apply(outbound("guarded", finalizers=["a.io/x"]))
    api = KubeApi(kube.kube_configuration())
    version = created["metadata"]["resourceVersion"]
    api.patch_status(OUTBOUND, "acme", "guarded", {"phase": "Allocating"})  # a write since
    assert not api.add_finalizer(
        OUTBOUND, "acme", "guarded", resource_version=version, finalizers=["a.io/x"]
    )
    body = kube.get("outboundconnections", "acme", "guarded")
    assert body is not None and body["metadata"]["finalizers"] == ["a.io/x"]
    current = body["metadata"]["resourceVersion"]
    written = api.add_finalizer(
        OUTBOUND, "acme", "guarded", resource_version=current, finalizers=["a.io/x"]
    )
    body = kube.get("outboundconnections", "acme", "guarded")
    assert body is not None and body["metadata"]["finalizers"] == ["a.io/x", FINALIZER]
    assert written == body["metadata"]["resourceVersion"]  # what the next write names
    assert not api.add_finalizer(OUTBOUND, "acme", "gone", resource_version="1", finalizers=[])


def test_patch_status_is_refused_on_an_object_changed_since(kube: ThreadedKubeSandbox) -> None:
    created = kube.apply(outbound("conditioned"))
    api = KubeApi(kube.kube_configuration())
    read_at = created["metadata"]["resourceVersion"]
    newer = api.patch_status(
        OUTBOUND, "acme", "conditioned", {"phase": "Ready"}, resource_version=read_at
    )
    assert newer and newer != read_at
    with pytest.raises(StaleObjectError):
        api.patch_status(
            OUTBOUND, "acme", "conditioned", {"phase": "Allocating"}, resource_version=read_at
        )
    body = kube.get("outboundconnections", "acme", "conditioned")
    assert body is not None and body["status"]["phase"] == "Ready"


def test_patch_status_of_a_deleted_object_is_ignored(kube: ThreadedKubeSandbox) -> None:
    api = KubeApi(kube.kube_configuration())
    assert api.patch_status(OUTBOUND, "acme", "gone", {"phase": "Ready"}) is None


def test_a_cluster_object_name_has_one_holder(kube: ThreadedKubeSandbox) -> None:
    api = KubeApi(kube.kube_configuration())
    name = allocation_name("us-east-1", "10.200.0.16/28")

    def allocation(owner: str) -> dict[str, object]:
        return {
            "apiVersion": "causeway.dev/v1alpha1",
            "kind": "SourceRangeAllocation",
            "metadata": {"name": name, "labels": {"causeway.dev/owner-uid": f"uid-{owner}"}},
            "spec": {
                "region": "us-east-1",
                "cidr": "10.200.0.16/28",
                "vpcEndpointId": "vpce-0123456789abcdef0",
                "owner": {"namespace": "acme", "name": owner, "uid": f"uid-{owner}"},
            },
        }

    created = api.create_cluster_object(SOURCE_RANGE_ALLOCATION, allocation("first"))
    assert created is not None and created["metadata"]["uid"]
    assert api.create_cluster_object(SOURCE_RANGE_ALLOCATION, allocation("second")) is None
    (found,) = api.list_cluster_objects(SOURCE_RANGE_ALLOCATION, "causeway.dev/owner-uid=uid-first")
    assert found["metadata"]["name"] == name and found["spec"]["owner"]["name"] == "first"
    assert (
        api.list_cluster_objects(SOURCE_RANGE_ALLOCATION, "causeway.dev/owner-uid=uid-second") == []
    )
    assert api.delete_cluster_object(SOURCE_RANGE_ALLOCATION, name) is True
    assert api.delete_cluster_object(SOURCE_RANGE_ALLOCATION, name) is False
    assert (
        api.list_cluster_objects(SOURCE_RANGE_ALLOCATION, "causeway.dev/owner-uid=uid-first") == []
    )


def test_record_event_names_the_object(kube: ThreadedKubeSandbox) -> None:
    api = KubeApi(kube.kube_configuration())
    ref = ObjectRef("OutboundConnection", "acme", "inventory", "uid-1")
    now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    api.record_event(ref, reason="Ready", message="Connected.", warning=False, now=now)
    api.record_event(ref, reason="RejectedRemotely", message="x" * 5000, warning=True, now=now)
    events = kube.list("events.events.k8s.io", "acme")
    assert [(e["reason"], e["type"]) for e in events] == [
        ("Ready", "Normal"),
        ("RejectedRemotely", "Warning"),
    ]
    assert events[0]["regarding"] == {
        "apiVersion": "causeway.dev/v1alpha1",
        "kind": "OutboundConnection",
        "name": "inventory",
        "namespace": "acme",
        "uid": "uid-1",
    }
    assert events[0]["eventTime"] == "2026-11-22T10:00:00.000000Z"
    assert len(events[1]["note"]) == 1024  # the API server's limit for a note
