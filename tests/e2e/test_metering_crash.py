"""Regression (found by the fault campaign, seed 2): the operator died after tearing
down an endpoint that had carried traffic this hour and before its next metering
cycle kept that endpoint in the quota's status. The restarted operator metered only
what was available, so the tenant's usage dropped to what its other endpoints
carried and its hourly block was lifted: a counter reset past the hard limit.

The crash is reproduced deterministically: the endpoint is deleted and its connection
removed while no operator runs, exactly what the dead one left behind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from causeway.sandbox.clock import SandboxClock
from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import eventually
from e2e.test_metering import (
    LIMIT_MB,
    START,
    lets_in,
    quota,
    ready_outbound,
    send,
    used_out,
    wait_blocked,
)


@pytest.fixture
def stack(kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s",
        namespaces=["acme"],
        clock=SandboxClock(START, frozen=True),
        metering_seconds=0.3,
        kube_backend=kube_backend,
    ) as running:
        running.grant_quota("acme", licenses=3)
        running.start_operator()
        yield running


def test_usage_of_an_endpoint_torn_down_just_before_a_crash_survives_the_restart(
    stack: SandboxStack,
) -> None:
    busy = ready_outbound(stack, "busy")
    other = ready_outbound(stack, "other")
    send(stack, busy, LIMIT_MB, START)
    used_out(stack, LIMIT_MB)
    wait_blocked(stack, other[0])

    stack.stop_operator(stack.operators[0])
    # What the dead operator had done: the endpoint deleted, the connection gone, and
    # no metering cycle since to keep the endpoint in the quota's status.
    stack.aws.client().delete_vpc_endpoints(VpcEndpointIds=[busy[0]])
    body = stack.kube.get("outboundconnections", "acme", "busy")
    assert body is not None
    stack.kube.patch("outboundconnections", "acme", "busy", {"metadata": {"finalizers": []}})
    stack.kube.delete("outboundconnections", "acme", "busy")
    assert not quota(stack).get("retiredEndpoints")  # nothing kept it before the crash

    stack.start_operator()
    stack.aws.reset_call_counts()
    eventually(lambda: stack.aws.call_counts().get("GetMetricData", 0) >= 3, what="cycles")
    assert quota(stack)["used"]["hourlyOutboundBytes"] == LIMIT_MB * 10**6
    assert not lets_in(stack, other[0])
    assert [e["id"] for e in quota(stack).get("retiredEndpoints", [])] == [busy[0]]
