"""The region poller: one listing per poll, status patches only for objects whose
AWS state changed, and one failing object does not stop the others."""

from __future__ import annotations

from typing import Any

from causeway.api import KindInfo
from causeway.domain import Endpoint
from causeway.poller import RegionPoller
from fakes import SERVICE_NAME as SERVICE
from fakes import FakeRuntime


class FakeKube:
    def __init__(self, failing: set[str]) -> None:
        self.patches: list[tuple[str, dict[str, Any]]] = []
        self.versions: list[str | None] = []
        self.failing = failing
        self.stale: set[str] = set()

    def patch_status(
        self,
        kind: KindInfo,
        namespace: str,
        name: str,
        status: dict[str, Any],
        *,
        resource_version: str | None = None,
    ) -> bool:
        if name in self.failing:
            raise RuntimeError("API server said no")
        if name in self.stale:
            return False  # a handler wrote the object since the poll's snapshot
        self.versions.append(resource_version)
        self.patches.append((name, status))
        return True


class FakeTransit:
    def __init__(self, endpoints: list[Endpoint]) -> None:
        self.endpoints, self.listings = endpoints, 0

    def all_managed(self) -> list[Endpoint]:
        self.listings += 1
        return self.endpoints


def obj(name: str, vpce: str | None, phase: str | None) -> dict[str, Any]:
    status = {"vpcEndpointId": vpce, "phase": phase} if vpce else {}
    return {
        "metadata": {
            "name": name,
            "namespace": "acme",
            "uid": f"uid-{name}",
            "generation": 1,
            "resourceVersion": f"rv-{name}",
        },
        "spec": {"region": "us-east-1", "serviceName": SERVICE},
        "status": status,
    }


def endpoint(name: str, vpce: str, state: str) -> Endpoint:
    return Endpoint(vpce, state, SERVICE, (f"{vpce}.example",), f"uid-{name}")


async def test_only_changed_objects_are_patched_and_failures_are_isolated() -> None:
    transit = FakeTransit(
        [
            endpoint("accepted", "vpce-1", "available"),
            endpoint("broken", "vpce-2", "available"),
            endpoint("waiting", "vpce-3", "pendingAcceptance"),
        ]
    )
    kube = FakeKube(failing={"broken"})
    runtime = FakeRuntime(transit, kube)
    for body in (
        obj("accepted", "vpce-1", "PendingAcceptance"),  # tenant accepted: must be patched
        obj("broken", "vpce-2", "PendingAcceptance"),  # patch fails: logged, others go on
        obj("waiting", "vpce-3", "PendingAcceptance"),  # unchanged... except conditions
        obj("new", None, None),  # nothing allocated yet: left to the handlers
    ):
        runtime.outbound_index.observe("ADDED", body)
    report = await RegionPoller(runtime, "us-east-1").poll_once()
    assert transit.listings == 1
    assert (report.objects, report.endpoints) == (4, 3)
    patched = dict(kube.patches)
    assert patched["accepted"]["phase"] == "Ready"
    assert "broken" not in patched and "new" not in patched
    assert report.patched == len(kube.patches)

    assert set(kube.versions) == {"rv-accepted", "rv-waiting"}  # guarded by what was seen

    kube.patches.clear()
    kube.failing.clear()
    second = await RegionPoller(runtime, "us-east-1").poll_once()
    assert "accepted" not in dict(kube.patches)  # remembered: no second write
    assert second.patched == len(kube.patches)


async def test_an_object_written_since_the_snapshot_is_left_for_the_next_poll() -> None:
    transit = FakeTransit([endpoint("raced", "vpce-1", "available")])
    kube = FakeKube(failing=set())
    kube.stale.add("raced")
    runtime = FakeRuntime(transit, kube)
    runtime.outbound_index.observe("ADDED", obj("raced", "vpce-1", "PendingAcceptance"))
    report = await RegionPoller(runtime, "us-east-1").poll_once()
    assert report.patched == 0
    assert runtime.outbound_index.in_region("us-east-1")[0].status["phase"] == "PendingAcceptance"


async def test_a_region_without_objects_costs_no_aws_call() -> None:
    transit = FakeTransit([])
    report = await RegionPoller(FakeRuntime(transit, FakeKube(set())), "us-east-1").poll_once()
    assert (report.objects, transit.listings) == (0, 0)
