"""End to end: the real operator (kopf + region poller) against the kmock Kubernetes
API and the moto-based AWS sandbox. The test plays the tenant with boto3 (accept,
reject, delete) and checks phases, conditions, tags and teardown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from causeway.controllers.observation import GRACE_SECONDS
from causeway.sandbox.aws import TenantService
from causeway.sandbox.kube import KubeSandboxError
from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.seeds import TENANT, load_manifests, seeds_dir
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import (
    OUTBOUND,
    TickingClock,
    condition,
    endpoints_of,
    eventually,
    live_endpoints_of,
    outbound,
    status_of,
    uid_of,
    wait_phase,
)

SEED_SERVICE_ID = "vpce-svc-0123456789abcdef0"


@pytest.fixture(scope="module")
def stack(kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s", namespaces=["acme"], clock=TickingClock(), kube_backend=kube_backend
    ) as running:
        running.aws.create_tenant_service(service_id=SEED_SERVICE_ID)
        running.grant_quota("acme", licenses=100)  # more than the seeds' own quota: many tests
        running.start_operator()
        yield running


@pytest.fixture
def service(stack: SandboxStack) -> TenantService:
    return stack.aws.create_tenant_service(acceptance_required=True)


def events_about(stack: SandboxStack, name: str) -> list[dict[str, Any]]:
    events = stack.kube.list("events.events.k8s.io", "acme")
    return sorted(
        (e for e in events if e["regarding"]["name"] == name), key=lambda e: e["eventTime"]
    )


def test_seed_tenant_walks_to_ready_after_the_tenant_accepts(stack: SandboxStack) -> None:
    stack.apply_all(load_manifests(seeds_dir() / TENANT))
    pending = wait_phase(stack, "acme", "inventory", "PendingAcceptance")
    vpce = pending["vpcEndpointId"]
    assert pending["message"] == (
        f"Accept the connection request {vpce} on your endpoint service {SEED_SERVICE_ID} in us-east-1."
    )
    assert condition(pending, "Reconciling")["status"] == "True"
    assert condition(pending, "Ready")["status"] == "False"

    stack.aws.accept(SEED_SERVICE_ID, vpce)  # the tenant, in its own account
    ready = wait_phase(stack, "acme", "inventory", "Ready", timeout=5)  # within one poll (1s)
    assert condition(ready, "Ready") | {"lastTransitionTime": "-"} == {
        "type": "Ready",
        "status": "True",
        "reason": "Ready",
        "observedGeneration": 1,
        "message": f"Connected: {vpce} to {SEED_SERVICE_ID} is available.",
        "lastTransitionTime": "-",
    }
    assert ready["dnsNames"] and all(SEED_SERVICE_ID in name for name in ready["dnsNames"])

    tags = {
        t["Key"]: t["Value"] for t in endpoints_of(stack, uid_of(stack, "inventory"))[0]["Tags"]
    }
    assert tags["causeway.dev/owner-namespace"] == "acme"
    assert tags["causeway.dev/owner-name"] == "inventory"
    assert tags["causeway.dev/owner-uid"] == uid_of(stack, "inventory")

    events = events_about(stack, "inventory")
    assert [e["reason"] for e in events] == ["PendingAcceptance", "Ready"]
    assert {e["type"] for e in events} == {"Normal"}
    assert events[0]["regarding"]["uid"] == uid_of(stack, "inventory")

    placeholder = wait_phase(stack, "acme", "reporting", "Unprovisioned")
    assert condition(placeholder, "Ready")["status"] == "False"
    assert live_endpoints_of(stack, uid_of(stack, "reporting")) == []


def test_remote_reject_then_sync_requests_a_new_connection(
    stack: SandboxStack, service: TenantService
) -> None:
    stack.kube.apply(outbound("rejected", service.service_name))
    first = wait_phase(stack, "acme", "rejected", "PendingAcceptance")["vpcEndpointId"]
    stack.aws.reject(service.service_id, first)
    rejected = wait_phase(stack, "acme", "rejected", "RejectedRemotely", timeout=5)
    assert condition(rejected, "Stalled")["status"] == "True"
    assert "causeway.dev/sync" in rejected["message"]

    stack.kube.patch(
        OUTBOUND, "acme", "rejected", {"metadata": {"annotations": {"causeway.dev/sync": "1"}}}
    )
    again = eventually(
        lambda: (
            (s := status_of(stack, "acme", "rejected")).get("vpcEndpointId") not in (None, first)
            and s
        ),
        what="a new connection request",
    )
    assert again["phase"] == "PendingAcceptance"
    states = {
        e["VpcEndpointId"]: e["State"] for e in endpoints_of(stack, uid_of(stack, "rejected"))
    }
    assert states == {first: "deleted", again["vpcEndpointId"]: "pendingAcceptance"}


def test_sync_annotation_on_a_healthy_connection_only_rechecks(
    stack: SandboxStack, service: TenantService
) -> None:
    stack.kube.apply(outbound("healthy", service.service_name))
    before = wait_phase(stack, "acme", "healthy", "PendingAcceptance")
    stack.kube.patch(
        OUTBOUND, "acme", "healthy", {"metadata": {"annotations": {"causeway.dev/sync": "now"}}}
    )
    after = eventually(
        lambda: (
            (s := status_of(stack, "acme", "healthy")).get("lastSyncTime") != before["lastSyncTime"]
            and s
        ),
        what="the sync to be handled",
    )
    assert after["vpcEndpointId"] == before["vpcEndpointId"]
    assert len(live_endpoints_of(stack, uid_of(stack, "healthy"))) == 1


@pytest.mark.parametrize("how", ["deleted", "expired", "failed", "gone"])
def test_remote_delete_is_deleted_remotely(
    stack: SandboxStack, service: TenantService, how: str
) -> None:
    name = f"remote-{how}"
    stack.kube.apply(outbound(name, service.service_name))
    vpce = wait_phase(stack, "acme", name, "PendingAcceptance")["vpcEndpointId"]
    if how == "gone":
        stack.aws.remove_endpoint(vpce)
    else:
        stack.aws.force_endpoint_state(vpce, how)
    # A just-created endpoint missing from a listing gets a grace period: describes are
    # eventually consistent, and it may only not be listed yet.
    status = wait_phase(stack, "acme", name, "DeletedRemotely", timeout=5 + GRACE_SECONDS)
    assert condition(status, "Stalled")["status"] == "True"
    assert ("gone" if how == "gone" else how) in status["message"]


def test_accepted_but_activating_is_pending_activation(
    stack: SandboxStack, service: TenantService
) -> None:
    stack.kube.apply(outbound("activating", service.service_name))
    vpce = wait_phase(stack, "acme", "activating", "PendingAcceptance")["vpcEndpointId"]
    stack.aws.force_endpoint_state(vpce, "pending")
    status = wait_phase(stack, "acme", "activating", "PendingActivation", timeout=5)
    assert condition(status, "Reconciling")["status"] == "True"
    stack.aws.force_endpoint_state(vpce, "available")
    assert (
        condition(wait_phase(stack, "acme", "activating", "Ready", timeout=5), "Ready")["status"]
        == "True"
    )


def test_unprovision_tears_down_and_reprovision_creates_again(
    stack: SandboxStack, service: TenantService
) -> None:
    stack.kube.apply(outbound("toggled", service.service_name))
    first = wait_phase(stack, "acme", "toggled", "PendingAcceptance")["vpcEndpointId"]
    stack.kube.patch(OUTBOUND, "acme", "toggled", {"spec": {"provisioned": False}})
    unprovisioned = wait_phase(stack, "acme", "toggled", "Unprovisioned")
    assert "vpcEndpointId" not in unprovisioned or unprovisioned["vpcEndpointId"] is None
    assert live_endpoints_of(stack, uid_of(stack, "toggled")) == []
    assert condition(unprovisioned, "Ready")["status"] == "False"
    assert condition(unprovisioned, "Reconciling")["status"] == "False"

    stack.kube.patch(OUTBOUND, "acme", "toggled", {"spec": {"provisioned": True}})
    second = wait_phase(stack, "acme", "toggled", "PendingAcceptance")["vpcEndpointId"]
    assert second != first


def test_delete_removes_the_endpoint_then_the_object(
    stack: SandboxStack, service: TenantService
) -> None:
    stack.kube.apply(outbound("doomed", service.service_name))
    wait_phase(stack, "acme", "doomed", "PendingAcceptance")
    uid = uid_of(stack, "doomed")
    stack.kube.delete(OUTBOUND, "acme", "doomed")
    eventually(
        lambda: stack.kube.get(OUTBOUND, "acme", "doomed") is None, what="the object to be gone"
    )
    assert [e["State"] for e in endpoints_of(stack, uid)] == ["deleted"]


def test_delete_tolerates_an_endpoint_already_gone(
    stack: SandboxStack, service: TenantService
) -> None:
    stack.kube.apply(outbound("vanished", service.service_name))
    vpce = wait_phase(stack, "acme", "vanished", "PendingAcceptance")["vpcEndpointId"]
    stack.aws.remove_endpoint(vpce)
    stack.kube.delete(OUTBOUND, "acme", "vanished")
    eventually(
        lambda: stack.kube.get(OUTBOUND, "acme", "vanished") is None, what="the object to be gone"
    )


def test_service_not_allow_listed_stalls_without_hammering_aws(stack: SandboxStack) -> None:
    hidden = stack.aws.create_tenant_service(allow_platform=False)
    stack.kube.apply(outbound("not-allowed", hidden.service_name))
    status = wait_phase(stack, "acme", "not-allowed", "Unprovisioned")
    stalled = condition(status, "Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", "ServiceNotAllowed")
    # The Event follows the status write it reports: wait for it, do not race it.
    warnings = eventually(lambda: events_about(stack, "not-allowed"), what="the Warning Event")
    assert [(e["type"], e["reason"]) for e in warnings] == [("Warning", "Unprovisioned")]
    assert stack.config is not None
    assert stack.config.regions["us-east-1"].platformPrincipal in stalled["message"]
    creates = stack.aws.call_counts().get("CreateVpcEndpoint", 0)
    eventually(lambda: stack.aws.call_counts().get("DescribeVpcEndpoints", 0) > 0, what="a poll")
    polls_before = stack.aws.call_counts()["DescribeVpcEndpoints"]
    eventually(
        lambda: stack.aws.call_counts()["DescribeVpcEndpoints"] >= polls_before + 2,
        what="two more polls",
    )
    assert stack.aws.call_counts().get("CreateVpcEndpoint", 0) == creates  # no hot retry


def test_unknown_region_stalls_with_a_clear_message_and_no_aws_calls(stack: SandboxStack) -> None:
    before = stack.aws.call_counts().get("CreateVpcEndpoint", 0)
    stack.kube.apply(
        outbound(
            "elsewhere",
            "com.amazonaws.vpce.eu-west-3.vpce-svc-0123456789abcdef0",
            region="eu-west-3",
        )
    )
    status = eventually(
        lambda: (s := status_of(stack, "acme", "elsewhere")).get("conditions") and s,
        what="a status",
    )
    stalled = condition(status, "Stalled")
    assert (status["phase"], stalled["status"], stalled["reason"]) == (
        "Unprovisioned",
        "True",
        "UnknownRegion",
    )
    assert "eu-west-3 is not served" in status["message"] and "us-east-1" in status["message"]
    assert stack.aws.call_counts().get("CreateVpcEndpoint", 0) == before


def test_a_spec_the_schema_refuses_never_reaches_the_operator(stack: SandboxStack) -> None:
    # The API server enforces the CRD's schema and CEL rules (the sandbox as a real one):
    # the tenant gets a 422 naming every field, and nothing is stored. The operator's own
    # guard for a spec that slipped past an older CRD is a unit test of the reconciler.
    before = stack.aws.call_counts().get("CreateVpcEndpoint", 0)
    with pytest.raises(KubeSandboxError) as refused:
        stack.kube.apply(outbound("garbled", "vpce-svc-not-a-service-name"))
    assert refused.value.status == 422
    message = refused.value.body["message"]
    assert 'OutboundConnection.causeway.dev "garbled" is invalid' in message
    assert "spec.serviceName" in message
    assert stack.kube.get(OUTBOUND, "acme", "garbled") is None
    assert stack.aws.call_counts().get("CreateVpcEndpoint", 0) == before


def test_steady_state_polls_cost_one_describe_and_no_kubernetes_writes(stack: SandboxStack) -> None:
    # Runs last in this module: every object above has settled into some phase.
    def describes() -> int:
        return stack.aws.call_counts().get("DescribeVpcEndpoints", 0)

    def after_next_poll() -> int:
        before = describes()
        return eventually(lambda: describes() > before and describes(), what="a poll")

    after_next_poll()
    after_next_poll()  # a status write of the first poll, if any, has landed by now
    start_describes, start_writes = describes(), stack.kube.write_count()
    for _ in range(3):
        after_next_poll()
    assert describes() - start_describes == 3  # one batched call per poll for the region
    assert stack.kube.write_count() == start_writes  # nothing changed, nothing written
