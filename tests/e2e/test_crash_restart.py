"""A crash between "endpoint created in AWS" and "status written" must not leave a
second endpoint behind: the restarted operator adopts the tagged endpoint."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from causeway.aws.endpoints import TransitEndpoints
from causeway.domain import Endpoint
from causeway.runtime import Runtime
from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import OUTBOUND, eventually, live_endpoints_of, outbound, status_of, wait_phase


class ProcessCrash(BaseException):
    """Stands for the process dying: not an Exception, so nothing in kopf handles it."""


class CrashAfterCreate(TransitEndpoints):
    """Creates the endpoint for real, then 'dies' before the caller sees the reply."""

    created = threading.Event()

    def create(self, service_name: str, client_token: str, tags: Any, **request: Any) -> Endpoint:
        super().create(service_name, client_token, tags, **request)
        self.created.set()
        raise ProcessCrash


class CrashingRuntime(Runtime):
    def transit_endpoints(self, region: str) -> TransitEndpoints:
        return CrashAfterCreate(self.clients.client("ec2", region), self.config.regions[region])


@pytest.fixture(params=[0, 2], ids=["single-vpc", "pool-of-2"])
def stack(
    request: pytest.FixtureRequest, kube_backend: KubeBackendFactory
) -> Iterator[SandboxStack]:
    """The single-VPC config, and a pool of 2 VPCs of 1 endpoint each (the restarted
    operator must adopt the endpoint where it is, not place a second one elsewhere)."""
    pool = {"transit_vpcs": request.param, "max_endpoints": 1} if request.param else {}
    with SandboxStack(
        poll_interval="1s", namespaces=["acme"], kube_backend=kube_backend, **pool
    ) as running:
        running.grant_quota("acme", licenses=10)
        yield running


def test_restart_after_a_crash_between_create_and_status_adopts_the_endpoint(
    stack: SandboxStack,
) -> None:
    CrashAfterCreate.created.clear()  # a class attribute: each run (and backend) starts anew
    service = stack.aws.create_tenant_service()
    normal = stack.runtime()
    crashing = CrashingRuntime(config=normal.config, clients=normal.clients, kube=normal.kube)
    first = stack.start_operator(runtime=crashing)
    stack.kube.apply(outbound("crashy", service.service_name))
    assert CrashAfterCreate.created.wait(20), "the first operator never created the endpoint"
    stack.stop_operator(first, expect_crash=True)

    body = stack.kube.get(OUTBOUND, "acme", "crashy")
    assert body is not None
    uid = body["metadata"]["uid"]
    assert not (body.get("status") or {}).get("vpcEndpointId"), (
        "status was written before the crash"
    )
    (made,) = live_endpoints_of(stack, uid)
    # The create was recorded before it was sent: the restart repeats it in that VPC.
    pending = (body.get("status") or {}).get("pendingCreate") or {}
    assert pending.get("vpcId") == made["VpcId"]

    stack.start_operator()  # a fresh process: no memory of the first one
    status = wait_phase(stack, "acme", "crashy", "PendingAcceptance")
    endpoints = live_endpoints_of(stack, uid)
    assert [e["VpcEndpointId"] for e in endpoints] == [status["vpcEndpointId"]]
    eventually(
        lambda: stack.aws.call_counts().get("DescribeVpcEndpoints", 0) > 3, what="a few polls"
    )
    assert len(live_endpoints_of(stack, uid)) == 1
    assert status_of(stack, "acme", "crashy")["phase"] == "PendingAcceptance"
    assert status["transitVpcId"] == endpoints[0]["VpcId"]
    assert "pendingCreate" not in status_of(stack, "acme", "crashy")  # answered: record gone
