"""AWS answering every describe with an HTTP 500 page (an overloaded endpoint, a proxy)
for a while: the failure goes through the error table like any other, every
connection keeps its phase and says Synced=False, and the log stays a few lines
(once per change, no tracebacks) instead of one per object per retry."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import condition, eventually, outbound, status_of, wait_phase

OBJECTS = 20
OUTAGE_SECONDS = 6.0


@pytest.fixture
def stack(kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s", namespaces=["acme"], kube_backend=kube_backend
    ) as running:
        running.grant_quota("acme", licenses=OBJECTS)
        running.start_operator()
        yield running


def test_an_outage_of_500s_keeps_phases_and_a_quiet_log(
    stack: SandboxStack, caplog: pytest.LogCaptureFixture
) -> None:
    service = stack.aws.create_tenant_service(acceptance_required=False)
    names = [f"conn-{i:02d}" for i in range(OBJECTS)]
    for name in names:
        stack.kube.apply(outbound(name, service.service_name))
    for name in names:
        wait_phase(stack, "acme", name, "Ready")

    caplog.clear()
    caplog.set_level(logging.INFO)
    stack.aws.break_api("DescribeVpcEndpoints")
    eventually(
        lambda: all(
            condition(status_of(stack, "acme", name), "Synced").get("status") == "False"
            for name in names
        ),
        what="every connection to say it is not synced",
    )
    time.sleep(OUTAGE_SECONDS)  # several polls' worth of failing AWS: is the log quiet?
    records = [r for r in caplog.records if r.name.startswith(("causeway", "kopf"))]
    stack.aws.heal_api("DescribeVpcEndpoints")

    for name in names:
        status = status_of(stack, "acme", name)
        assert status["phase"] == "Ready" and condition(status, "Ready")["status"] == "True"
        assert condition(status, "Synced")["reason"] == "AwsUnavailable"
    assert not [r for r in records if r.exc_info], "no tracebacks"
    warnings = [r for r in records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # once, for the region
    assert len(records) <= 3, [r.getMessage() for r in records]

    eventually(
        lambda: all(
            condition(status_of(stack, "acme", name), "Synced").get("status") == "True"
            for name in names
        ),
        what="every connection synced again",
    )
