"""The tenant groups in the region pass: a group a recorded create names is kept
although no endpoint holds it yet (the campaign's find: it was deleted while the
create's answer was lost, and the resend was refused), and a create refused because
its tenant group is gone makes the group again instead of stalling."""

from __future__ import annotations

import asyncio
from typing import Any

from causeway.api import CONNECTION_QUOTA, FINALIZER, OUTBOUND
from causeway.controllers.enforcement import TenantGroups
from causeway.controllers.region import RegionReconciler
from causeway.domain import SecurityGroup
from fakes import REGION_CONFIG, FakeKube, FakeRuntime, FakeTransit, quota
from fakes import SERVICE_NAME as SERVICE

REGION = "us-east-1"
VPC = REGION_CONFIG["transitVpcId"]
GROUP = "sg-0000000000000abcd"


def connection(pending: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "conn",
            "namespace": "acme",
            "uid": "uid-conn",
            "generation": 1,
            "creationTimestamp": "2026-11-22T09:00:00Z",
            "finalizers": [FINALIZER],
        },
        "spec": {"region": REGION, "serviceName": SERVICE},
        "status": {"pendingCreate": pending} if pending else {},
    }


def recorded_create() -> dict[str, Any]:
    return {
        "clientToken": "causeway-0123",
        "serviceName": SERVICE,
        "vpcId": VPC,
        "subnetIds": list(REGION_CONFIG["subnetIds"]),
        "securityGroupIds": [GROUP],
        "tags": {"causeway.dev/owner-uid": "uid-conn"},
    }


def runtime_with(body: dict[str, Any], transit: FakeTransit) -> FakeRuntime:
    runtime = FakeRuntime(transit, FakeKube())
    runtime.index[CONNECTION_QUOTA].observe(None, quota())
    runtime.index[OUTBOUND].observe(None, body)
    runtime.groups.groups[GROUP] = SecurityGroup(GROUP, VPC, frozenset(), "acme", "acme")
    return runtime


async def passes(runtime: FakeRuntime, count: int) -> RegionReconciler:
    reconciler = RegionReconciler(runtime, REGION)
    for _ in range(count):
        runtime.memories["uid-conn"].retry_at = 0.0
        await reconciler.pass_once()
        await reconciler.drain()
    return reconciler


async def test_a_group_a_recorded_create_names_is_kept_while_the_create_is_unanswered() -> None:
    transit = FakeTransit(fail={"CreateVpcEndpoint": "InternalError"})
    runtime = runtime_with(connection(recorded_create()), transit)
    await passes(runtime, 3)
    assert "DeleteSecurityGroup" not in runtime.groups.calls
    assert GROUP in runtime.groups.groups
    assert transit.calls.count("CreateVpcEndpoint") >= 1  # sent again, with its group


async def test_a_create_refused_for_a_tenant_group_gone_makes_it_again() -> None:
    transit = FakeTransit(fail={"CreateVpcEndpoint": "InvalidGroup.NotFound"})
    runtime = runtime_with(connection(recorded_create()), transit)
    del runtime.groups.groups[GROUP]  # deleted by hand; the view still lists it once
    await passes(runtime, 1)
    status = runtime.kube.last("conn")
    assert status["pendingCreate"] is None  # AWS made nothing: nothing to resolve
    assert runtime.memories["uid-conn"].stalled_generation is None  # not Stalled
    del transit.fail["CreateVpcEndpoint"]
    await passes(runtime, 2)
    (made,) = transit.requests[-1:]
    assert made["groups"] and made["groups"][0] != GROUP
    assert runtime.groups.groups[made["groups"][0]].tenant == "acme"


async def test_groups_made_before_any_listing_share_one_listing() -> None:
    """A pass that reused a listing without the groups: the first group made lists them,
    once, for every tenant's group made meanwhile."""
    runtime = FakeRuntime(FakeTransit(), FakeKube())
    groups = TenantGroups(runtime, REGION)
    made = await asyncio.gather(*(groups.ensure(t, VPC) for t in ("acme", "globex", "initech")))
    assert len(set(made)) == 3
    assert runtime.groups.calls.count("DescribeSecurityGroups") == 1
    assert runtime.groups.calls.count("CreateSecurityGroup") == 3


def with_status(**status: Any) -> dict[str, Any]:
    body = connection()
    body["status"] = status
    return body


async def test_a_group_is_kept_while_a_status_names_an_endpoint_the_listing_lacks() -> None:
    """EC2 lists a new endpoint only after a while: a listing without it must not make
    its tenant group look unused (the campaign's find: the group was deleted under an
    endpoint created seconds before, by a restarted operator)."""
    body = with_status(
        phase="PendingAcceptance",
        vpcEndpointId="vpce-0123456789abcdef0",
        transitVpcId=VPC,
        lastSyncTime="2026-11-22T09:59:58Z",  # shown 2 s ago: the listing may lag
    )
    transit = FakeTransit()
    runtime = runtime_with(body, transit)
    await passes(runtime, 2)
    assert "DeleteSecurityGroup" not in runtime.groups.calls
    assert "CreateVpcEndpoint" not in transit.calls  # nor replaced: the listing may lag


async def test_a_group_is_kept_for_a_connection_still_to_be_placed() -> None:
    """Its create will take the group the listing shows: deleting it in the same pass
    would send the create with a group AWS no longer has."""
    transit = FakeTransit(fail={"CreateVpcEndpoint": "InternalError"})
    runtime = runtime_with(connection(), transit)
    await passes(runtime, 2)
    assert "DeleteSecurityGroup" not in runtime.groups.calls


async def test_a_group_no_connection_of_its_tenant_needs_is_deleted() -> None:
    body = with_status(phase="Unprovisioned")
    body["spec"]["provisioned"] = False
    runtime = runtime_with(body, FakeTransit())
    await passes(runtime, 2)
    assert "DeleteSecurityGroup" in runtime.groups.calls
    assert GROUP not in runtime.groups.groups


async def test_a_connection_whose_endpoint_ended_holds_no_group() -> None:
    """It waits for its tenant's sync; the next create makes the group again."""
    body = with_status(
        phase="DeletedRemotely", vpcEndpointId="vpce-0123456789abcdef0", transitVpcId=VPC
    )
    runtime = runtime_with(body, FakeTransit())
    await passes(runtime, 2)
    assert GROUP not in runtime.groups.groups
