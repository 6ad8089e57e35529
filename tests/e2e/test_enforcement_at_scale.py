"""End to end: the hourly block of a tenant with 12 endpoints under EC2's documented
request buckets (the sandbox refuses every call over them with RequestLimitExceeded,
as EC2 does). Every endpoint lets no traffic in within one metering interval + 10 s
of the crossing, without one endpoint modified, and the quota never says the tenant
is blocked while AWS still lets one endpoint's traffic in (sampled throughout)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from causeway.sandbox.clock import SandboxClock
from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import QUOTAS, condition, eventually, outbound, status_of, wait_phase

MB = 10**6
LIMIT_MB = 56480
ENDPOINTS = 12
METERING_SECONDS = 0.3
START = datetime(2026, 11, 28, 14, 10, tzinfo=UTC)


@pytest.fixture
def clock() -> SandboxClock:
    return SandboxClock(START, frozen=True)


@pytest.fixture
def stack(clock: SandboxClock, kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s",
        namespaces=["acme"],
        clock=clock,
        metering_seconds=METERING_SECONDS,
        kube_backend=kube_backend,
    ) as running:
        running.grant_quota("acme", licenses=ENDPOINTS, data_packs=1)
        running.start_operator()
        yield running


def test_twelve_endpoints_are_closed_in_one_metering_interval_and_reported_only_then(
    stack: SandboxStack, clock: SandboxClock
) -> None:
    service = stack.aws.create_tenant_service(acceptance_required=False)
    names = [f"conn-{i:02d}" for i in range(ENDPOINTS)]
    for name in names:
        stack.kube.apply(outbound(name, service.service_name))
    endpoints = [wait_phase(stack, "acme", n, "Ready", timeout=60)["vpcEndpointId"] for n in names]
    assert all(stack.aws.endpoint_lets_traffic_in(v) for v in endpoints)
    stack.aws.limit_as_documented()  # every action the operator makes, as AWS documents
    stack.aws.reset_call_counts()

    assert stack.config is not None
    vpc = stack.config.regions[stack.region].transitVpcId
    share = LIMIT_MB * MB // ENDPOINTS + 1  # together: just over the hourly limit
    crossed = time.monotonic()
    for vpce in endpoints:
        stack.aws.put_endpoint_bytes(
            vpce, service.service_name, vpc, share, START - timedelta(minutes=1)
        )

    deadline = crossed + METERING_SECONDS + 10
    samples = 0
    while True:
        reported = condition(status_of(stack, "acme", "acme", QUOTAS), "OutboundBlocked")
        letting_in = [v for v in endpoints if stack.aws.endpoint_lets_traffic_in(v)]
        samples += 1
        if reported.get("status") == "True":
            # Read after the quota: an endpoint open now was open when it said blocked.
            assert not letting_in, f"quota says blocked while {letting_in} let traffic in"
        if not letting_in and reported.get("status") == "True":
            break
        assert not letting_in or time.monotonic() < deadline, (
            f"{len(letting_in)} of {ENDPOINTS} endpoints still let traffic in "
            f"{time.monotonic() - crossed:.1f} s after the crossing"
        )
        assert time.monotonic() < deadline + 20, f"quota never said blocked: {reported}"
        time.sleep(0.05)
    assert samples > 1
    calls = stack.aws.call_counts()
    assert calls.get("ModifyVpcEndpoint", 0) == 0  # no endpoint modified to block it
    assert calls.get("RevokeSecurityGroupIngress", 0) == 1  # one tenant, one transit VPC
    assert not stack.aws.throttled_counts().get("RevokeSecurityGroupIngress")

    # The top of the hour: one call reopens all twelve.
    clock.jump_to(datetime(2026, 11, 28, 15, 0, 1, tzinfo=UTC))
    eventually(
        lambda: all(stack.aws.endpoint_lets_traffic_in(v) for v in endpoints),
        what="every endpoint to let traffic in again",
    )
    assert stack.aws.call_counts().get("AuthorizeSecurityGroupIngress", 0) == 1
    assert stack.aws.call_counts().get("ModifyVpcEndpoint", 0) == 0
