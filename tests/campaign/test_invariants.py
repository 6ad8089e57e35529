"""The campaign's invariants can fail: a consistent snapshot passes every check, and
each table row breaks it the way a defect would and names the check that must say so."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from causeway.sandbox.aws import TenantService
from causeway.sandbox.campaign.invariants import CHECKS, Memory, Snapshot
from causeway.sandbox.campaign.world import MB, Credential, Inbound, Outbound, Tenant, World

NOW = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
SERVICE = TenantService("vpce-svc-1", "com.amazonaws.vpce.us-east-1.vpce-svc-1")
KEY = "campaign-secret-0123456789abcdef"
OPEN_GROUP, TENANT_GROUP = "sg-open", "sg-acme"
VPC = "vpc-transit"
RULE = {
    "IpProtocol": "tcp",
    "FromPort": 443,
    "ToPort": 443,
    "IpRanges": [{"CidrIp": "10.0.0.0/16"}],
}


def group(group_id: str, *, tenant: str | None = None, open_: bool = True) -> dict[str, Any]:
    tags = {"causeway.dev/kind": "TenantSecurityGroup", "causeway.dev/owner-namespace": tenant}
    return {
        "GroupId": group_id,
        "VpcId": VPC,
        "IpPermissions": [copy.deepcopy(RULE)] if open_ else [],
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()] if tenant else [],
    }


def meta(name: str, uid: str, *, generation: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": "acme",
        "uid": uid,
        "generation": generation,
        "creationTimestamp": "2026-12-02T10:00:00Z",
        **extra,
    }


def consistent() -> tuple[Snapshot, World]:
    """acme: one Ready outbound with a credential, one Ready inbound, 100 MB sent."""
    world = World()
    tenant = Tenant("acme", 2, "200000000001", "200000000002", {"200000000001"})
    tenant.ever_listed = set(tenant.accounts)
    world.tenants["acme"] = tenant
    world.outbound[("acme", "out")] = Outbound("acme", "out", SERVICE, True, cycles=1)
    world.inbound[("acme", "in")] = Inbound("acme", "in", "vpce-t1", "200000000001", True)
    world.credentials[("acme", "cred")] = Credential(
        "acme", "cred", "out", "cred-key", "cred-out", KEY
    )
    world.secret_values.add(KEY)
    world.traffic[("acme", NOW.replace(minute=0))] = 100 * MB
    ready = {"observedGeneration": 1}
    objects: dict[str, list[dict[str, Any]]] = {
        "outboundconnections": [
            {
                "kind": "OutboundConnection",
                "metadata": meta("out", "u-out"),
                "spec": {"provisioned": True},
                "status": {**ready, "phase": "Ready", "vpcEndpointId": "vpce-p1"},
            }
        ],
        "inboundconnections": [
            {
                "kind": "InboundConnection",
                "metadata": meta("in", "u-in"),
                "spec": {"provisioned": True, "vpcEndpointId": "vpce-t1"},
                "status": {**ready, "phase": "Ready", "sourceIpRanges": ["10.200.0.0/28"]},
            }
        ],
        "namedcredentials": [
            {
                "kind": "NamedCredential",
                "metadata": meta("cred", "u-cred"),
                "spec": {},
                "status": {**ready, "phase": "Ready"},
            }
        ],
        "connectionquotas": [
            {
                "kind": "ConnectionQuota",
                "metadata": meta("acme", "u-quota"),
                "spec": {},
                "status": {**ready, "used": {"hourlyOutboundBytes": 100 * MB}},
            }
        ],
        "sourcerangeallocations": [
            {
                "kind": "SourceRangeAllocation",
                "metadata": {"name": "r1", "uid": "u-r1"},
                "spec": {
                    "cidr": "10.200.0.0/28",
                    "owner": {"namespace": "acme", "name": "in", "uid": "u-in"},
                },
            }
        ],
    }
    endpoint = {
        "VpcEndpointId": "vpce-p1",
        "State": "available",
        "VpcId": VPC,
        "Tags": [
            {"Key": "causeway.dev/owner-uid", "Value": "u-out"},
            {"Key": "causeway.dev/owner-namespace", "Value": "acme"},
        ],
        "Groups": [{"GroupId": TENANT_GROUP}],
    }
    request = {
        "VpcEndpointId": "vpce-t1",
        "VpcEndpointState": "available",
        "VpcEndpointOwner": "200000000001",
    }
    published = {"data": {"apiKey": base64.b64encode(KEY.encode()).decode()}}
    snap = Snapshot(
        objects=objects,
        endpoints=[endpoint],
        requests={"vpce-t1": request},
        events=[],
        secrets={("acme", "cred-out"): published},
        logs="Published Secret cred-out (Ready)",
        now=NOW,
        groups={OPEN_GROUP: group(OPEN_GROUP), TENANT_GROUP: group(TENANT_GROUP, tenant="acme")},
        open_groups={VPC: (OPEN_GROUP,)},
    )
    return snap, world


def problems(snap: Snapshot, world: World, before: Memory | None = None) -> dict[str, list[str]]:
    found = {}
    for check in CHECKS:
        listed = check(snap, world, before or Memory(), Memory())
        if listed:
            found[check.__name__] = listed
    return found


def test_a_consistent_world_passes_every_check() -> None:
    assert problems(*consistent()) == {}


Breakage = Callable[[Snapshot, World], None]


def orphan(snap: Snapshot, world: World) -> None:
    extra = copy.deepcopy(snap.endpoints[0])
    extra["VpcEndpointId"] = "vpce-orphan"
    extra["Tags"] = [{"Key": "causeway.dev/owner-uid", "Value": "u-gone"}]
    snap.endpoints.append(extra)


def created_twice(snap: Snapshot, world: World) -> None:
    extra = copy.deepcopy(snap.endpoints[0])
    extra["VpcEndpointId"], extra["State"] = "vpce-dup", "deleted"
    snap.endpoints.append(extra)


def accepted_for_unlisted(snap: Snapshot, world: World) -> None:
    snap.requests["vpce-t1"]["VpcEndpointOwner"] = "999999999999"


def accepted_after_teardown(snap: Snapshot, world: World) -> None:
    world.inbound[("acme", "in")].provisioned = False
    snap.objects["inboundconnections"][0]["spec"]["provisioned"] = False


def range_shared(snap: Snapshot, world: World) -> None:
    other = copy.deepcopy(snap.objects["sourcerangeallocations"][0])
    other["spec"]["owner"] = {"namespace": "acme", "name": "x", "uid": "u-x"}
    snap.objects["sourcerangeallocations"].append(other)


def over_licensed(snap: Snapshot, world: World) -> None:
    world.tenants["acme"].licenses = 0


def usage_reset(snap: Snapshot, world: World) -> None:
    snap.objects["connectionquotas"][0]["status"]["used"]["hourlyOutboundBytes"] = 0


def not_blocked(snap: Snapshot, world: World) -> None:
    world.traffic[("acme", NOW.replace(minute=0))] = 60_000 * MB
    snap.objects["connectionquotas"][0]["status"]["used"]["hourlyOutboundBytes"] = 60_000 * MB


def blocked_but_open(snap: Snapshot, world: World) -> None:
    not_blocked(snap, world)
    snap.objects["connectionquotas"][0]["status"]["conditions"] = [
        {"type": "OutboundBlocked", "status": "True"}
    ]


def open_but_closed(snap: Snapshot, world: World) -> None:
    snap.groups[TENANT_GROUP]["IpPermissions"] = []


def on_another_tenants_group(snap: Snapshot, world: World) -> None:
    snap.groups["sg-globex"] = group("sg-globex", tenant="globex")
    snap.endpoints[0]["Groups"] = [{"GroupId": "sg-globex"}]


def left_on_the_shared_group(snap: Snapshot, world: World) -> None:
    snap.endpoints[0]["Groups"].append({"GroupId": OPEN_GROUP})


def group_left_behind(snap: Snapshot, world: World) -> None:
    snap.groups["sg-old"] = group("sg-old", tenant="acme")


def rules_not_followed(snap: Snapshot, world: World) -> None:
    snap.groups[OPEN_GROUP]["IpPermissions"][0]["FromPort"] = 8443


def stale_key(snap: Snapshot, world: World) -> None:
    world.credentials[("acme", "cred")].value = "campaign-secret-rotated"


def leaked_in_log(snap: Snapshot, world: World) -> None:
    snap.logs += f"\nheaders: X-Api-Key={KEY}"


def stuck_deleting(snap: Snapshot, world: World) -> None:
    snap.objects["outboundconnections"][0]["metadata"]["deletionTimestamp"] = "2026-12-02T10:01:00Z"


def unobserved(snap: Snapshot, world: World) -> None:
    snap.objects["namedcredentials"][0]["metadata"]["generation"] = 2


@pytest.mark.parametrize(
    ("breakage", "check", "says"),
    [
        (orphan, "outbound_endpoints", "orphaned endpoint vpce-orphan"),
        (created_twice, "outbound_endpoints", "was not idempotent"),
        (accepted_for_unlisted, "inbound_acceptance", "never listed that account"),
        (accepted_after_teardown, "inbound_acceptance", "was torn down"),
        (range_shared, "source_ranges", "is shared"),
        (over_licensed, "licenses", "for 0 licenses"),
        (usage_reset, "metering", "shows 0 MB outbound this hour; sent 100 MB"),
        (not_blocked, "metering", "OutboundBlocked=False"),
        (not_blocked, "metering", "lets traffic in while blocked"),
        (blocked_but_open, "metering", "lets traffic in while blocked"),
        (open_but_closed, "metering", "lets no traffic in while open"),
        (on_another_tenants_group, "tenant_groups", "the tenant group of globex"),
        (left_on_the_shared_group, "tenant_groups", "not its tenant group alone"),
        (group_left_behind, "tenant_groups", "sg-old of acme is left with no endpoint"),
        (rules_not_followed, "tenant_groups", "not the config's open rules"),
        (stale_key, "credentials", "does not hold the current key"),
        (leaked_in_log, "no_secret_leaks", "secret material in the operator's logs"),
        (stuck_deleting, "deletions_finish", "still being deleted"),
        (unobserved, "statuses_current", "observed generation 1 of 2"),
    ],
)
def test_each_check_catches_its_defect(breakage: Breakage, check: str, says: str) -> None:
    snap, world = consistent()
    breakage(snap, world)
    found = problems(snap, world)
    assert any(says in line for line in found.get(check, [])), found


def test_a_range_that_moved_between_quiet_periods_is_caught() -> None:
    snap, world = consistent()
    before = Memory(ranges={"u-in": ("10.200.0.16/28",)})
    assert "changed its range" in " ".join(problems(snap, world, before)["source_ranges"])


def test_usage_that_went_down_within_the_hour_is_caught() -> None:
    snap, world = consistent()
    before = Memory(used={"acme": (NOW.replace(minute=0), 200 * MB)})
    assert "went down within the hour" in " ".join(problems(snap, world, before)["metering"])
