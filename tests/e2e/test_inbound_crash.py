"""A crash mid-acceptance: the operator process is killed -9 after the range was
allocated, once with AWS's accept done but its reply lost, once with the accept
failed. The restarted operator keeps the same range and accepts exactly once."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import INBOUND, allocations_of, eventually, inbound, uid_of, wait_phase

ACME_ACCOUNT = "222222222222"


def accepts(stack: SandboxStack) -> int:
    return stack.aws.call_counts().get("AcceptVpcEndpointConnections", 0)


@pytest.fixture
def lone_stack(kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s", namespaces=["acme"], kube_backend=kube_backend
    ) as running:
        running.grant_quota("acme", licenses=5, accounts=[ACME_ACCOUNT])
        yield running


@pytest.mark.parametrize("lost", ["reply", "request"])
def test_kill_9_mid_acceptance_keeps_the_range_and_accepts_once(
    lone_stack: SandboxStack, tmp_path: Path, lost: str
) -> None:
    """`reply`: AWS accepted but the answer never came (then the crash). `request`: the
    range was allocated but the accept failed (then the crash)."""
    stack = lone_stack
    vpce = stack.aws.create_tenant_endpoint(ACME_ACCOUNT)
    stack.aws.fail_next(
        "AcceptVpcEndpointConnections", "UnauthorizedOperation", after_effect=lost == "reply"
    )
    first = stack.start_operator_process(tmp_path / "first")
    stack.kube.apply(inbound("crashy", vpce))
    eventually(lambda: accepts(stack) >= 1, what="the first accept")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    uid = uid_of(stack, "crashy", kind=INBOUND)
    before = allocations_of(stack, uid)
    assert len(before) == 1
    calls_before = accepts(stack)

    second = stack.start_operator_process(tmp_path / "second")
    try:
        ready = wait_phase(stack, "acme", "crashy", "Ready", kind=INBOUND)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    assert ready["sourceIpRanges"] == before == allocations_of(stack, uid)
    assert accepts(stack) - calls_before == (0 if lost == "reply" else 1)
