"""End to end (found by the fault campaign, seeds 11 and 1004 --rough): an
OutboundConnection deleted while EC2's describe does not show its new endpoint yet
(eventual consistency) — as a restarted operator sees it, or after a create whose
answer was lost — still gets its endpoint deleted before the finalizer goes; nothing is
orphaned."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from causeway.sandbox import faults
from causeway.sandbox.faults import FaultPlan
from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import OUTBOUND, eventually, outbound, wait_phase


@pytest.fixture
def stack(kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s", namespaces=["acme"], kube_backend=kube_backend
    ) as running:
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
        FaultPlan.only(
            lag_rate=1.0,
            lag_seconds=3600,
        )
    )
    stack.kube.delete(OUTBOUND, "acme", "lagged")
    stack.start_operator()
    eventually(lambda: stack.kube.get(OUTBOUND, "acme", "lagged") is None, what="the deletion")
    assert endpoint_state(stack, vpce) in ("deleting", "deleted")


def test_a_deletion_after_a_lost_create_on_a_lagging_listing_leaves_nothing(
    stack: SandboxStack,
) -> None:
    service = stack.aws.create_tenant_service(acceptance_required=True)
    plan = FaultPlan.only(
        aws_action_rates={"CreateVpcEndpoint": 1.0},
        aws_weights={"aws.reset-applied": 1.0},
        lag_rate=1.0,
        lag_seconds=3600,
    )
    faults.install(plan)
    stack.start_operator()
    stack.kube.apply(outbound("lost", service.service_name))
    uid = str((stack.kube.get(OUTBOUND, "acme", "lost") or {})["metadata"]["uid"])
    eventually(lambda: plan.tally().get("aws.reset-applied"), what="a create applied, answer lost")
    # AWS answers again from now on; its listing still lags.
    faults.install(FaultPlan.only(lag_rate=1.0, lag_seconds=3600))
    stack.kube.delete(OUTBOUND, "acme", "lost")
    eventually(lambda: stack.kube.get(OUTBOUND, "acme", "lost") is None, what="the deletion")
    reply = stack.aws.client().describe_vpc_endpoints(
        Filters=[{"Name": "tag:causeway.dev/owner-uid", "Values": [uid]}]
    )
    live = [
        e["VpcEndpointId"]
        for e in reply["VpcEndpoints"]
        if e["State"] not in ("deleting", "deleted")
    ]
    assert live == []
