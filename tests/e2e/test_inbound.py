"""End to end: InboundConnection with the real operator against the sandbox, where each
tenant's endpoint lives in its own AWS account and the platform's service in another.
Accepting (batched), source ranges, the DNS record, refusals that never accept or
reject, claims that leak nothing, teardown, drift, and a crash mid-acceptance."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import (
    ALLOCATIONS,
    INBOUND,
    QUOTAS,
    allocations_of,
    condition,
    eventually,
    inbound,
    status_of,
    uid_of,
    wait_phase,
)

ACME_ACCOUNT = "222222222222"
GLOBEX_ACCOUNT = "333333333333"


@pytest.fixture(scope="module")
def stack(kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s", namespaces=["acme", "globex"], kube_backend=kube_backend
    ) as running:
        running.grant_quota("acme", licenses=20, accounts=[ACME_ACCOUNT])
        running.grant_quota("globex", licenses=20, accounts=[GLOBEX_ACCOUNT, ACME_ACCOUNT])
        running.start_operator()
        yield running


def wait_inbound(stack: SandboxStack, name: str, phase: str, namespace: str = "acme") -> dict:
    return wait_phase(stack, namespace, name, phase, kind=INBOUND)


def accepts(stack: SandboxStack) -> int:
    return stack.aws.call_counts().get("AcceptVpcEndpointConnections", 0)


def test_a_tenant_endpoint_is_accepted_with_its_own_range_and_dns_record(
    stack: SandboxStack,
) -> None:
    vpce = stack.aws.create_tenant_endpoint(ACME_ACCOUNT)
    domain = "acme.platform.example.com"
    stack.kube.apply(inbound("loader", vpce, privateDns={"domain": domain}))
    ready = wait_inbound(stack, "loader", "Ready")
    uid = uid_of(stack, "loader", kind=INBOUND)
    assert ready["sourceIpRanges"] == allocations_of(stack, uid)
    assert len(ready["sourceIpRanges"]) == 1 and ready["sourceIpRanges"][0].endswith("/28")
    assert ready["message"].startswith(f"Connected: your endpoint {vpce} reaches the platform")
    record = ready["dnsRecord"]
    assert (record["zone"], record["name"], record["type"]) == (domain, domain, "A")
    assert vpce in record["target"]
    assert stack.aws.tenant_endpoint_state(ACME_ACCOUNT, vpce) == "available"
    assert condition(ready, "Ready")["status"] == "True"


def test_an_endpoint_from_a_foreign_account_is_never_accepted(stack: SandboxStack) -> None:
    vpce = stack.aws.create_tenant_endpoint("999999999999")
    stack.kube.apply(inbound("foreign", vpce))
    status = eventually(
        lambda: (
            (s := status_of(stack, "acme", "foreign", INBOUND))
            and condition(s, "Stalled").get("reason") == "AccountNotAllowed"
            and s
        ),
        what="the refusal",
    )
    assert status["phase"] == "Unprovisioned"
    assert ACME_ACCOUNT in status["message"] and "999999999999" not in status["message"]
    polls = stack.aws.call_counts().get("DescribeVpcEndpointConnections", 0)
    eventually(
        lambda: stack.aws.call_counts().get("DescribeVpcEndpointConnections", 0) > polls + 1,
        what="two more polls",
    )
    assert stack.aws.tenant_endpoint_state("999999999999", vpce) == "pendingAcceptance"


def test_an_endpoint_not_yet_created_is_found_within_a_poll(stack: SandboxStack) -> None:
    missing = "vpce-0000000000000000a"
    stack.kube.apply(inbound("early", missing))
    status = eventually(
        lambda: (s := status_of(stack, "acme", "early", INBOUND)).get("phase") and s,
        what="a status",
    )
    assert condition(status, "Reconciling")["reason"] == "EndpointNotFound"
    assert stack.aws.inbound_services["us-east-1"].service_name in status["message"]


def test_two_namespaces_claiming_one_endpoint_the_older_wins_and_the_other_learns_nothing(
    stack: SandboxStack,
) -> None:
    vpce = stack.aws.create_tenant_endpoint(ACME_ACCOUNT)
    stack.kube.apply(inbound("first-claim", vpce))
    wait_inbound(stack, "first-claim", "Ready")
    stack.kube.apply(inbound("second-claim", vpce, namespace="globex"))
    status = eventually(
        lambda: (s := status_of(stack, "globex", "second-claim", INBOUND)).get("phase") and s,
        what="a status",
    )
    assert condition(status, "Stalled")["reason"] == "EndpointClaimed"
    assert "another tenant" in status["message"]
    events = stack.kube.list("events.events.k8s.io", "globex")
    seen = " ".join(str(e) for e in events) + str(status)
    assert "acme" not in seen and "first-claim" not in seen
    assert status_of(stack, "acme", "first-claim", INBOUND)["phase"] == "Ready"


def licensed_inbound(stack: SandboxStack) -> int:
    return int(stack.kube.get(QUOTAS, "acme", "acme")["status"]["used"]["inboundConnections"])


def test_teardown_rejects_releases_the_range_and_the_license(stack: SandboxStack) -> None:
    before = licensed_inbound(stack)
    vpce = stack.aws.create_tenant_endpoint(ACME_ACCOUNT)
    stack.kube.apply(inbound("short-lived", vpce))
    wait_inbound(stack, "short-lived", "Ready")
    uid = uid_of(stack, "short-lived", kind=INBOUND)
    assert allocations_of(stack, uid)
    # The quota's status follows the connection's in a later write: wait until it counts it.
    used = eventually(
        lambda: (n := licensed_inbound(stack)) == before + 1 and n, what="the license taken"
    )

    stack.kube.delete(INBOUND, "acme", "short-lived")
    eventually(
        lambda: stack.kube.get(INBOUND, "acme", "short-lived") is None, what="the object gone"
    )
    assert stack.aws.tenant_endpoint_state(ACME_ACCOUNT, vpce) == "rejected"
    assert allocations_of(stack, uid) == []
    eventually(
        lambda: (
            stack.kube.get(QUOTAS, "acme", "acme")["status"]["used"]["inboundConnections"]
            == used - 1
        ),
        what="the license back",
    )


def test_unprovisioning_rejects_and_reprovisioning_needs_a_new_endpoint(
    stack: SandboxStack,
) -> None:
    vpce = stack.aws.create_tenant_endpoint(ACME_ACCOUNT)
    stack.kube.apply(inbound("toggled", vpce))
    wait_inbound(stack, "toggled", "Ready")
    stack.kube.patch(INBOUND, "acme", "toggled", {"spec": {"provisioned": False}})
    unprovisioned = wait_inbound(stack, "toggled", "Unprovisioned")
    assert unprovisioned.get("sourceIpRanges", []) == []
    assert stack.aws.tenant_endpoint_state(ACME_ACCOUNT, vpce) == "rejected"
    stack.kube.patch(INBOUND, "acme", "toggled", {"spec": {"provisioned": True}})
    again = wait_inbound(stack, "toggled", "RejectedRemotely")
    assert "new endpoint" in again["message"]


def test_the_tenant_deleting_its_endpoint_is_deleted_remotely(stack: SandboxStack) -> None:
    vpce = stack.aws.create_tenant_endpoint(ACME_ACCOUNT)
    stack.kube.apply(inbound("vanishing", vpce))
    ready = wait_inbound(stack, "vanishing", "Ready")
    stack.aws.delete_tenant_endpoint(ACME_ACCOUNT, vpce)
    gone = wait_inbound(stack, "vanishing", "DeletedRemotely")
    assert condition(gone, "Stalled")["status"] == "True"
    assert gone["sourceIpRanges"] == ready["sourceIpRanges"]  # kept until teardown


def test_accepts_due_in_one_pass_share_one_call(stack: SandboxStack) -> None:
    endpoints = [stack.aws.create_tenant_endpoint(ACME_ACCOUNT) for _ in range(6)]
    before = accepts(stack)
    for index, vpce in enumerate(endpoints):
        stack.kube.apply(inbound(f"batch-{index}", vpce))
    for index in range(6):
        wait_inbound(stack, f"batch-{index}", "Ready")
    assert accepts(stack) - before < 6  # applied together, accepted in shared calls


def test_ranges_are_unique_across_tenants(stack: SandboxStack) -> None:
    ranges = [a["spec"]["cidr"] for a in stack.kube.list(ALLOCATIONS)]
    assert ranges and len(ranges) == len(set(ranges))


def test_a_request_accepted_outside_causeway_is_reported_not_attached(
    stack: SandboxStack, caplog: pytest.LogCaptureFixture
) -> None:
    vpce = stack.aws.create_tenant_endpoint(ACME_ACCOUNT)
    service_id = stack.aws.inbound_services["us-east-1"].service_id
    stack.aws.client().accept_vpc_endpoint_connections(ServiceId=service_id, VpcEndpointIds=[vpce])
    eventually(
        lambda: any("accepted outside Causeway" in r.getMessage() for r in caplog.records),
        what="the stray to be reported",
    )
    assert not [a for a in stack.kube.list(ALLOCATIONS) if a["spec"]["vpcEndpointId"] == vpce]
