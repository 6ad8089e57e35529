"""Connections in a Region the platform does not serve, as a replica that starts acting
finds them: each is told so once (Stalled, UnknownRegion, the Regions offered), one
that says so already is not rewritten, and nothing else is touched."""

from __future__ import annotations

from typing import Any

from causeway.api import INBOUND, OUTBOUND
from causeway.controllers.unserved import report_unserved, unserved_status
from causeway.controllers.writer import StatusWriter
from fakes import SERVICE_NAME, FakeRuntime, FakeTransit


def connection(name: str, region: str, **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "acme", "uid": f"uid-{name}", **meta},
        "spec": {"region": region, "serviceName": SERVICE_NAME},
        "status": {"phase": "Ready", "vpcEndpointId": "vpce-0123456789abcdef0"},
    }


async def test_each_connection_in_an_unserved_region_is_told_so_once() -> None:
    runtime = FakeRuntime(FakeTransit())
    outbound = runtime.index[OUTBOUND]
    outbound.observe(None, connection("served", "us-east-1"))
    outbound.observe(None, connection("dropped", "eu-west-3"))
    outbound.observe(
        None, connection("going", "eu-west-3", deletionTimestamp="2026-11-22T09:00:00Z")
    )
    inbound = connection("inbound", "ap-south-1")
    inbound["spec"] = {"region": "ap-south-1", "vpcEndpointId": "vpce-0fedcba9876543210"}
    runtime.index[INBOUND].observe(None, inbound)
    writer = StatusWriter(runtime.kube, runtime.index, runtime.clock)

    assert await report_unserved(runtime, writer) == 2
    written = dict(runtime.kube.patches)
    assert sorted(written) == ["dropped", "inbound"]
    stalled = next(c for c in written["dropped"]["conditions"] if c["type"] == "Stalled")
    assert (written["dropped"]["phase"], stalled["reason"]) == ("Unprovisioned", "UnknownRegion")
    assert "eu-west-3 is not served" in written["dropped"]["message"]
    assert "vpce-0123456789abcdef0" in written["dropped"]["message"]  # deleted with the object

    runtime.kube.patches.clear()
    assert await report_unserved(runtime, writer) == 0  # the index holds what was written
    assert runtime.kube.patches == []


def test_the_status_names_the_regions_offered() -> None:
    runtime = FakeRuntime(FakeTransit())
    status = unserved_status(runtime, connection("x", ""), "")
    assert "Region (none) is not served" in status["message"]
    assert "regions offered: us-east-1" in status["message"]
