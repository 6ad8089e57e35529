"""End to end against a sandbox that throttles as EC2 does (a token bucket per action;
RequestLimitExceeded when empty). With every budgeted action throttled at AWS's
documented bucket and the operator on its defaults (the same table), connections
applied at once converge at the documented create rate with (almost) no throttled
answer. With CreateVpcEndpoint's bucket alone refilled faster than documented (1/s,
so 30 connections fit in a test's time; every other action still as documented):
many connections applied at once converge near the floor the bucket allows, with few
throttled answers and no warnings; the operator adapts when AWS's real bucket is
smaller than its own; a small tenant is not stuck behind a large one; waiting
connections say how many are ahead; and a crash with a long queue leaves no
duplicate endpoint."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from causeway.controllers.budget import DEFAULTS
from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import (
    OUTBOUND,
    eventually,
    live_endpoints_of,
    outbound,
    sandbox_only,
    status_of,
    uid_of,
)

BURST, RATE = 4, 1.0  # the sandbox's bucket for CreateVpcEndpoint (AWS documents 4, 0.3/s)


def floor_seconds(connections: int, rate: float, burst: float = BURST) -> float:
    """The least time N creates can take through the bucket: the burst, then the refill."""
    return (connections - burst) / rate


@pytest.fixture
def documented(
    kube_backend: KubeBackendFactory, request: pytest.FixtureRequest
) -> Iterator[SandboxStack]:
    sandbox_only(request, "the AWS budget's pacing at AWS's documented rates, ~30 s")
    with SandboxStack(
        poll_interval="1s",
        namespaces=["flood"],
        throttle_as_documented=True,  # and the operator keeps its default budget
        kube_backend=kube_backend,
    ) as stack:
        stack.grant_quota("flood", licenses=20)
        yield stack


def test_at_aws_s_documented_buckets_the_defaults_pace_without_throttles(
    documented: SandboxStack,
) -> None:
    """The default budget is AWS's documented one: 12 connections at once take the
    floor of CreateVpcEndpoint's bucket (4, then 0.3/s), not a storm of throttled
    answers (43 for 30 connections when the defaults assumed 50 at 5/s)."""
    stack = documented
    assert stack.config is not None and stack.config.awsBudget == {}
    creates = DEFAULTS["CreateVpcEndpoint"]
    service = stack.aws.create_tenant_service(acceptance_required=False)
    stack.start_operator()
    started = time.monotonic()
    for i in range(12):
        stack.kube.apply(outbound(f"conn-{i:02d}", service.service_name, namespace="flood"))
    floor = floor_seconds(12, creates.rate, creates.burst)
    eventually(lambda: ready_count(stack, "flood") == 12, timeout=2 * floor, what="all 12 Ready")
    took = time.monotonic() - started
    assert 0.9 * floor <= took <= 1.3 * floor + 5, (took, floor)
    throttled = stack.aws.throttled_counts()
    assert sum(throttled.values()) <= 2, throttled
    served = stack.aws.call_counts()["CreateVpcEndpoint"] - throttled.get("CreateVpcEndpoint", 0)
    assert served == 12  # one create per connection


def ready_count(stack: SandboxStack, namespace: str) -> int:
    return sum(
        (b.get("status") or {}).get("phase") == "Ready"
        for b in stack.kube.list(OUTBOUND, namespace)
    )


def make_stack(operator_rate: float, kube_backend: KubeBackendFactory) -> SandboxStack:
    """Every other action throttled as AWS documents it, the operator on its defaults
    for them; CreateVpcEndpoint as the test sets it on both sides."""
    return SandboxStack(
        poll_interval="1s",
        namespaces=["flood", "small"],
        throttle_as_documented=True,
        aws_budget={"CreateVpcEndpoint": (BURST, operator_rate)},
        kube_backend=kube_backend,
    )


@pytest.fixture
def paced(
    kube_backend: KubeBackendFactory, request: pytest.FixtureRequest
) -> Iterator[SandboxStack]:
    sandbox_only(request, "the AWS budget's pacing, measured over 10-30 s")
    with make_stack(RATE, kube_backend) as stack:
        stack.aws.limit("CreateVpcEndpoint", BURST, RATE)
        stack.grant_quota("flood", licenses=50)
        stack.grant_quota("small", licenses=5)
        yield stack


def test_thirty_at_once_converge_near_the_floor_and_a_small_tenant_is_not_stuck(
    paced: SandboxStack, caplog: pytest.LogCaptureFixture
) -> None:
    stack = paced
    caplog.set_level(logging.INFO)
    service = stack.aws.create_tenant_service(acceptance_required=False)
    stack.start_operator()
    started = time.monotonic()
    for i in range(30):
        stack.kube.apply(outbound(f"conn-{i:02d}", service.service_name, namespace="flood"))
    waiting = eventually(
        lambda: [
            s["message"]
            for s in (status_of(stack, "flood", f"conn-{i:02d}") for i in range(30))
            if "Waiting for AWS capacity" in str(s.get("message"))
        ],
        what="a connection to say it waits for capacity",
    )
    assert any(" ahead of you in this region" in message for message in waiting)

    time.sleep(3)  # the small tenant comes a few seconds later
    small_applied = time.monotonic()
    stack.kube.apply(outbound("single", service.service_name, namespace="small"))
    eventually(
        lambda: status_of(stack, "small", "single").get("phase") == "Ready",
        timeout=20,
        what="the small tenant's connection",
    )
    small_wait = time.monotonic() - small_applied

    eventually(lambda: ready_count(stack, "flood") == 30, timeout=120, what="all 30 Ready")
    took = time.monotonic() - started
    floor = floor_seconds(31, RATE)
    assert took <= 1.2 * floor, (took, floor)
    assert small_wait <= 20
    assert sum(stack.aws.throttled_counts().values()) <= 5
    noisy = [
        r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("causeway")
    ]
    assert noisy == [], [r.getMessage() for r in noisy]


@pytest.fixture
def overconfident(
    kube_backend: KubeBackendFactory, request: pytest.FixtureRequest
) -> Iterator[SandboxStack]:
    sandbox_only(request, "the AWS budget's pacing, measured over 10-30 s")
    with make_stack(RATE, kube_backend) as stack:  # the operator believes in twice AWS's real rate
        stack.aws.limit("CreateVpcEndpoint", BURST, RATE / 2)
        stack.grant_quota("flood", licenses=50)
        yield stack


def test_the_operator_adapts_when_aws_is_slower_than_configured(
    overconfident: SandboxStack,
) -> None:
    stack = overconfident
    service = stack.aws.create_tenant_service(acceptance_required=False)
    stack.start_operator()
    started = time.monotonic()
    for i in range(20):
        stack.kube.apply(outbound(f"conn-{i:02d}", service.service_name, namespace="flood"))
    eventually(lambda: ready_count(stack, "flood") == 20, timeout=120, what="all 20 Ready")
    took = time.monotonic() - started
    floor = floor_seconds(20, RATE / 2)
    assert took <= 1.5 * floor, (took, floor)
    assert stack.aws.throttled_counts()["CreateVpcEndpoint"] >= 1  # it did have to adapt


@pytest.fixture
def slow(
    kube_backend: KubeBackendFactory, request: pytest.FixtureRequest
) -> Iterator[SandboxStack]:
    sandbox_only(request, "the AWS budget's pacing, measured over 10-30 s")
    with make_stack(1.0, kube_backend) as stack:
        stack.aws.limit("CreateVpcEndpoint", 2, 1.0)
        stack.grant_quota("flood", licenses=50)
        yield stack


def test_kill_9_with_a_long_queue_leaves_no_duplicate(slow: SandboxStack, tmp_path: Path) -> None:
    stack = slow
    service = stack.aws.create_tenant_service(acceptance_required=False)
    first = stack.start_operator_process(tmp_path / "first")
    for i in range(8):
        stack.kube.apply(outbound(f"conn-{i:02d}", service.service_name, namespace="flood"))
    eventually(
        lambda: stack.aws.call_counts().get("CreateVpcEndpoint", 0) >= 3, what="a few creates"
    )
    first.send_signal(signal.SIGKILL)  # most of the queue is still waiting
    first.wait(10)
    second = stack.start_operator_process(tmp_path / "second")
    try:
        eventually(lambda: ready_count(stack, "flood") == 8, timeout=90, what="all 8 Ready")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    for i in range(8):
        uid = uid_of(stack, f"conn-{i:02d}", namespace="flood")
        assert len(live_endpoints_of(stack, uid)) == 1
