"""End to end (found by the fault campaign, seed 11): an OutboundConnection deleted
while EC2's describe does not show its new endpoint yet (eventual consistency) — as a
restarted operator sees it — still gets its endpoint deleted before the finalizer goes;
nothing is orphaned."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from causeway.sandbox import faults
from causeway.sandbox.faults import FaultPlan
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import OUTBOUND, eventually, outbound, wait_phase


@pytest.fixture
def stack() -> Iterator[SandboxStack]:
    with SandboxStack(poll_interval="1s", namespaces=["acme"]) as running:
        running.grant_quota("acme", licenses=2)
        yield running
    faults.install(None)


def endpoint_state(stack: SandboxStack, vpce: str) -> str:
    reply = stack.aws.client().describe_vpc_endpoints(VpcEndpointIds=[vpce])
    return str(reply["VpcEndpoints"][0]["State"])


def test_a_deletion_before_the_listing_shows_the_endpoint_deletes_it(stack: SandboxStack) -> None:
    service = stack.aws.create_tenant_service(acceptance_required=True)
    first = stack.start_operator()
    stack.kube.apply(outbound("lagged", service.service_name))
    vpce = wait_phase(stack, "acme", "lagged", "PendingAcceptance")["vpcEndpointId"]
    stack.stop_operator(first)

    # From now on the operator's describes leave out every endpoint younger than an hour.
    faults.install(
        FaultPlan(
            seed=1,
            aws_rate=0,
            kube_write_rate=0,
            kube_read_rate=0,
            watch_rate=0,
            event_rate=0,
            lag_rate=1.0,
            lag_seconds=3600,
        )
    )
    stack.kube.delete(OUTBOUND, "acme", "lagged")
    stack.start_operator()
    eventually(lambda: stack.kube.get(OUTBOUND, "acme", "lagged") is None, what="the deletion")
    assert endpoint_state(stack, vpce) in ("deleting", "deleted")
