"""causeway.kube against the sandbox API server: status merge patches touch only
status, a vanished object is not an error, and Events name their object."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from causeway.api import ALL_KINDS, OUTBOUND
from causeway.crdgen import crd_for
from causeway.kube import KubeApi, ObjectRef
from causeway.sandbox.kube import ThreadedKubeSandbox, kinds_from_crds
from fakes import SERVICE_NAME


@pytest.fixture(scope="module")
def kube() -> Iterator[ThreadedKubeSandbox]:
    kinds = kinds_from_crds(crd_for(kind) for kind in ALL_KINDS)
    with ThreadedKubeSandbox(kinds, namespaces=("acme",)) as sandbox:
        yield sandbox


def test_patch_status_changes_only_status(kube: ThreadedKubeSandbox) -> None:
    created = kube.apply(
        {
            "apiVersion": "causeway.dev/v1alpha1",
            "kind": "OutboundConnection",
            "metadata": {"name": "inventory", "namespace": "acme"},
            "spec": {"region": "us-east-1", "serviceName": SERVICE_NAME},
        }
    )
    api = KubeApi(kube.kube_configuration())
    api.patch_status(OUTBOUND, "acme", "inventory", {"phase": "Ready", "vpcEndpointId": "vpce-1"})
    api.patch_status(OUTBOUND, "acme", "inventory", {"vpcEndpointId": None})
    body = kube.get("outboundconnections", "acme", "inventory")
    assert body is not None
    assert body["status"] == {"phase": "Ready"}  # null removes a field (merge patch)
    assert body["spec"] == created["spec"]
    assert body["metadata"]["generation"] == 1


def test_patch_status_of_a_deleted_object_is_ignored(kube: ThreadedKubeSandbox) -> None:
    api = KubeApi(kube.kube_configuration())
    assert api.patch_status(OUTBOUND, "acme", "gone", {"phase": "Ready"}) is False


def test_patch_status_with_a_stale_resource_version_is_refused(kube: ThreadedKubeSandbox) -> None:
    api = KubeApi(kube.kube_configuration())
    seen = kube.get("outboundconnections", "acme", "inventory")
    assert seen is not None
    version = seen["metadata"]["resourceVersion"]
    assert api.patch_status(
        OUTBOUND, "acme", "inventory", {"message": "a"}, resource_version=version
    )
    stale = api.patch_status(
        OUTBOUND, "acme", "inventory", {"message": "b"}, resource_version=version
    )
    assert stale is False
    body = kube.get("outboundconnections", "acme", "inventory")
    assert body is not None and body["status"]["message"] == "a"


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
