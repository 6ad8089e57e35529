"""Shared end-to-end helpers: wait for a condition without fixed sleeps, and read
an object's phase, endpoint and conditions from the sandbox Kubernetes API."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from causeway.sandbox.stack import SandboxStack

T = TypeVar("T")
OUTBOUND = "outboundconnections"
INBOUND = "inboundconnections"
QUOTAS = "connectionquotas"
ALLOCATIONS = "sourcerangeallocations"


class TickingClock:
    """A deterministic clock for the operator: every reading is one second later, so
    each status write carries a distinct lastSyncTime whatever the wall clock does."""

    def __init__(self, start: datetime = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)) -> None:
        self._ticks = itertools.count()
        self._start = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=next(self._ticks))


def eventually(
    probe: Callable[[], T | None], *, timeout: float = 20.0, what: str = "condition"
) -> T:
    """Poll `probe` until it returns something truthy; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last seen: {last!r}")


def status_of(
    stack: SandboxStack, namespace: str, name: str, kind: str = OUTBOUND
) -> dict[str, Any]:
    body = stack.kube.get(kind, namespace, name) or {}
    return dict(body.get("status") or {})


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == kind), {})


def wait_phase(
    stack: SandboxStack,
    namespace: str,
    name: str,
    phase: str,
    *,
    timeout: float = 20.0,
    kind: str = OUTBOUND,
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def probe() -> dict[str, Any] | None:
        status = status_of(stack, namespace, name, kind)
        seen["status"] = status
        return status if status.get("phase") == phase else None

    try:
        return eventually(probe, timeout=timeout, what=f"{namespace}/{name} to reach {phase}")
    except AssertionError as timed_out:  # say where it stood, not just that it did not get there
        raise AssertionError(f"{timed_out}; its status: {seen.get('status')!r}") from None


def outbound(
    name: str, service_name: str, *, namespace: str = "acme", region: str = "us-east-1", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "causeway.dev/v1alpha1",
        "kind": "OutboundConnection",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"region": region, "serviceName": service_name, **spec},
    }


def endpoints_of(stack: SandboxStack, uid: str) -> list[dict[str, Any]]:
    """Every endpoint AWS holds for an owner uid, deleted ones included."""
    reply = stack.aws.client().describe_vpc_endpoints(
        Filters=[{"Name": "tag:causeway.dev/owner-uid", "Values": [uid]}]
    )
    return list(reply["VpcEndpoints"])


def live_endpoints_of(stack: SandboxStack, uid: str) -> list[dict[str, Any]]:
    return [e for e in endpoints_of(stack, uid) if e["State"] not in {"deleted", "deleting"}]


def inbound(
    name: str, vpce: str, *, namespace: str = "acme", region: str = "us-east-1", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "causeway.dev/v1alpha1",
        "kind": "InboundConnection",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"region": region, "vpcEndpointId": vpce, **spec},
    }


def allocations_of(stack: SandboxStack, uid: str) -> list[str]:
    """The source ranges the API server holds for an InboundConnection's uid."""
    return sorted(
        a["spec"]["cidr"] for a in stack.kube.list(ALLOCATIONS) if a["spec"]["owner"]["uid"] == uid
    )


def uid_of(stack: SandboxStack, name: str, namespace: str = "acme", kind: str = OUTBOUND) -> str:
    body = stack.kube.get(kind, namespace, name)
    assert body is not None, f"{kind} {namespace}/{name} does not exist"
    return str(body["metadata"]["uid"])


def sandbox_only(request: pytest.FixtureRequest, why: str) -> None:
    """Skip the real-server run of a test that exercises only AWS-side behaviour (pacing,
    credentials) and takes long: CI's time goes to what the real API server can show."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("kube_backend") == "apiserver":
        pytest.skip(f"sandbox only: {why}")
