"""End to end: licenses decide which OutboundConnections get an endpoint. With 3
licenses and 5 connections exactly the 3 oldest are provisioned; deleting one
provisions the next within one poll; raising the licenses provisions the rest;
lowering them tears nothing down and the quota says it is over-licensed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import (
    OUTBOUND,
    QUOTAS,
    condition,
    eventually,
    live_endpoints_of,
    outbound,
    status_of,
    uid_of,
    wait_phase,
)

NAMES = [f"conn-{i}" for i in range(1, 6)]


@pytest.fixture
def stack(kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s", namespaces=["acme"], kube_backend=kube_backend
    ) as running:
        running.start_operator()
        yield running


def phases(stack: SandboxStack) -> dict[str, str]:
    return {name: status_of(stack, "acme", name).get("phase", "-") for name in NAMES}


def quota_status(stack: SandboxStack) -> dict:
    return dict((stack.kube.get(QUOTAS, "acme", "acme") or {}).get("status") or {})


def test_licenses_go_to_the_oldest_and_follow_frees_and_raises(stack: SandboxStack) -> None:
    service = stack.aws.create_tenant_service(acceptance_required=False)
    for name in NAMES:  # one second apart is not needed: same-second ties go by name
        stack.kube.apply(outbound(name, service.service_name))
    waiting = wait_phase(stack, "acme", "conn-5", "Unprovisioned")
    assert condition(waiting, "Stalled")["reason"] == "NoConnectionQuota"
    assert stack.aws.call_counts().get("CreateVpcEndpoint", 0) == 0

    stack.grant_quota("acme", licenses=3)
    for name in NAMES[:3]:
        wait_phase(stack, "acme", name, "Ready")
    fourth = wait_phase(stack, "acme", "conn-4", "Unprovisioned")
    assert condition(fourth, "Stalled")["reason"] == "LicenseLimitReached"
    assert "0 ahead" in fourth["message"]
    assert "1 ahead" in status_of(stack, "acme", "conn-5")["message"]
    assert stack.aws.call_counts()["CreateVpcEndpoint"] == 3
    quota = eventually(
        lambda: (q := quota_status(stack)).get("used", {}).get("outboundConnections") == 3 and q,
        what="the quota to count the three",
    )
    assert quota["hard"]["outboundConnections"] == 3
    assert quota["waiting"]["outboundConnections"] == 2

    stack.kube.delete(OUTBOUND, "acme", "conn-2")
    wait_phase(stack, "acme", "conn-4", "Ready", timeout=10)  # freed: the next in line
    assert phases(stack)["conn-5"] == "Unprovisioned"

    stack.grant_quota("acme", licenses=4)
    wait_phase(stack, "acme", "conn-5", "Ready", timeout=10)


def test_lowering_licenses_tears_nothing_down_and_reports_it(stack: SandboxStack) -> None:
    service = stack.aws.create_tenant_service(acceptance_required=False)
    stack.grant_quota("acme", licenses=3)
    for name in NAMES[:3]:
        stack.kube.apply(outbound(name, service.service_name))
    for name in NAMES[:3]:
        wait_phase(stack, "acme", name, "Ready")

    stack.grant_quota("acme", licenses=1)
    over = eventually(
        lambda: (
            (q := quota_status(stack))
            and condition(q, "OverLicensed").get("status") == "True"
            and q
        ),
        what="OverLicensed",
    )
    assert (
        "3 outbound connections hold licenses but the quota has 1"
        in condition(over, "OverLicensed")["message"]
    )
    assert all(phase == "Ready" for phase in phases(stack).values() if phase != "-")
    assert all(
        live_endpoints_of(stack, uid_of(stack, name)) for name in NAMES[:3]
    )  # nothing torn down
    warnings = [
        e for e in stack.kube.list("events.events.k8s.io", "acme") if e["reason"] == "OverLicensed"
    ]
    assert [e["type"] for e in warnings] == ["Warning"]
