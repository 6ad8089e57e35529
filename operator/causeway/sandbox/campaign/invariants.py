"""The campaign's invariants: what must hold once faults are off and the operator has
had time to converge. Each check compares what Kubernetes and AWS hold now with the
harness's own record (`World`) and with what the previous quiet period saw
(`Memory`), and returns human messages for what does not hold.

Checked: endpoints (one per provisioned connection, none orphaned, never a second one
for one request), inbound acceptance (only for a listed account, only while wanted,
rejected after teardown), source ranges (one per accepted connection, none shared or
leaked, stable), licenses (never more granted than licensed except by lowering, free
ones given, oldest first), metering (usage equals the bytes sent this hour: no reset,
no double count; a tenant at its limit blocked, else open, judged by whether its
endpoints' security groups let traffic in), tenant security groups (each endpoint on
its own tenant's group alone, none on another tenant's, none left behind, an open
tenant's holding the config's open rules), credentials (published
Secrets match their source; none left behind), no secret value in any status, Event
or operator log line, phases as AWS says, and no object stuck in deletion."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from causeway.sandbox.campaign.enforcement import (
    lets_traffic_in,
    read_endpoints,
    read_groups,
    rules,
    settled_groups,
    transit_vpcs,
)
from causeway.sandbox.campaign.workload import (
    CREDENTIALS,
    INBOUND,
    OUTBOUND,
    QUOTAS,
)
from causeway.sandbox.campaign.world import MB, World, hour_of
from causeway.sandbox.stack import SandboxStack

ALLOCATIONS = "sourcerangeallocations"
TAG_UID = "causeway.dev/owner-uid"
LIVE = frozenset({"pendingAcceptance", "pending", "available"})
ACCEPTED = frozenset({"pending", "available"})
PHASE_OF_STATE = {
    "pendingAcceptance": "PendingAcceptance",
    "pending": "PendingActivation",
    "available": "Ready",
    "rejected": "RejectedRemotely",
}
NEED_SYNC = frozenset({"RejectedRemotely", "DeletedRemotely"})


@dataclass
class Memory:
    """What a quiet period saw, for the checks that span periods: each check reads the
    previous period's and fills the next one's, kept only once every check passed."""

    ranges: dict[str, tuple[str, ...]] = field(default_factory=dict)  # by inbound uid
    holders: set[str] = field(default_factory=set)  # uids holding a license
    used: dict[str, tuple[datetime, int]] = field(default_factory=dict)  # by namespace


@dataclass
class Snapshot:
    """Kubernetes and AWS as they are, read once per check."""

    objects: dict[str, list[dict[str, Any]]]  # by plural
    endpoints: list[dict[str, Any]]  # the transit VPC's, deleted ones included
    requests: dict[str, dict[str, Any]]  # the platform service's, by endpoint id
    events: list[dict[str, Any]]
    secrets: dict[tuple[str, str], dict[str, Any]]
    logs: str
    now: datetime
    groups: dict[str, dict[str, Any]]  # the transit VPCs' security groups, by id
    open_groups: dict[str, tuple[str, ...]]  # the config's open groups, by transit VPC

    def live(self, plural: str) -> list[dict[str, Any]]:
        return [o for o in self.objects[plural] if not o["metadata"].get("deletionTimestamp")]

    def by_name(self, plural: str) -> dict[tuple[str, str], dict[str, Any]]:
        return {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in self.live(plural)}


def snapshot(stack: SandboxStack, logs: Iterable[Path]) -> Snapshot:
    assert stack.config is not None
    region = stack.config.regions[stack.region]
    ec2 = stack.aws.client()
    endpoints = read_endpoints(stack, transit_vpcs(stack))
    requests = {
        c["VpcEndpointId"]: c
        for page in ec2.get_paginator("describe_vpc_endpoint_connections").paginate(
            Filters=[{"Name": "service-id", "Values": [str(region.inboundServiceId)]}]
        )
        for c in page["VpcEndpointConnections"]
    }
    secrets = {
        (s["metadata"]["namespace"], s["metadata"]["name"]): s for s in stack.kube.list("secrets")
    }
    plurals = (OUTBOUND, INBOUND, CREDENTIALS, QUOTAS, ALLOCATIONS)
    return Snapshot(
        objects={plural: stack.kube.list(plural) for plural in plurals},
        endpoints=endpoints,
        requests=requests,
        events=stack.kube.list("events.events.k8s.io") + stack.kube.list("events"),
        secrets=secrets,
        logs="\n".join(p.read_text(errors="replace") for p in logs if p.exists()),
        now=datetime.now(UTC),
        groups=read_groups(stack, transit_vpcs(stack)),
        open_groups={vpc.vpcId: tuple(vpc.securityGroupIds) for vpc in region.pool},
    )


def _uid(body: Mapping[str, Any]) -> str:
    return str(body["metadata"]["uid"])


def _tags(endpoint: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in endpoint.get("Tags", [])}


def _age(body: Mapping[str, Any]) -> tuple[str, str]:
    return (str(body["metadata"].get("creationTimestamp", "")), body["metadata"]["name"])


# endpoints -----------------------------------------------------------------------------


def outbound_endpoints(snap: Snapshot, world: World, before: Memory, after: Memory) -> list[str]:
    """One live endpoint per provisioned connection that has one, the one its status
    names, in the phase its state says; none for anything else; never more endpoints
    for one object than times it was asked for one (an idempotent create)."""
    problems: list[str] = []
    wanted = {_uid(o): o for o in snap.live(OUTBOUND) if o["spec"].get("provisioned", True)}
    by_owner: dict[str, list[dict[str, Any]]] = {}
    for endpoint in snap.endpoints:
        owner = _tags(endpoint).get(TAG_UID, "")
        by_owner.setdefault(owner, []).append(endpoint)
        if endpoint["State"] in LIVE and owner not in wanted:
            problems.append(
                f"orphaned endpoint {endpoint['VpcEndpointId']} ({endpoint['State']}) tagged "
                f"for {owner or 'nobody'}, which is not a provisioned OutboundConnection"
            )
    uids = {_uid(o): o for o in snap.objects[OUTBOUND]}
    for uid, owned in by_owner.items():
        body = uids.get(uid)
        if body is None or not uid:
            continue
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        record = world.outbound.get(key)
        allowed = (record.cycles if record else 1) + world.blocks.get(key[0], 0)
        if len(owned) > allowed:
            ids = ", ".join(e["VpcEndpointId"] for e in owned)
            problems.append(
                f"{key[0]}/{key[1]} has had {len(owned)} endpoints ({ids}) for "
                f"{allowed} request(s) of one: a create was not idempotent"
            )
    for uid, body in wanted.items():
        problems += _one_endpoint(body, [e for e in by_owner.get(uid, []) if e["State"] in LIVE])
    for body in snap.live(OUTBOUND):
        if not body["spec"].get("provisioned", True):
            phase = (body.get("status") or {}).get("phase")
            if phase != "Unprovisioned":
                problems.append(f"{_ref(body)} is provisioned: false but in phase {phase}")
    return problems


def _one_endpoint(body: Mapping[str, Any], live: list[dict[str, Any]]) -> list[str]:
    status = body.get("status") or {}
    phase = status.get("phase")
    if len(live) > 1:
        return [
            f"{_ref(body)} has {len(live)} live endpoints: {[e['VpcEndpointId'] for e in live]}"
        ]
    if not live:
        if phase in ("PendingAcceptance", "PendingActivation", "Ready"):
            return [f"{_ref(body)} is {phase} but has no live endpoint"]
        return []
    endpoint = live[0]
    problems = []
    if status.get("vpcEndpointId") != endpoint["VpcEndpointId"]:
        problems.append(
            f"{_ref(body)} names {status.get('vpcEndpointId')} but its endpoint is "
            f"{endpoint['VpcEndpointId']}"
        )
    expected = PHASE_OF_STATE.get(endpoint["State"])
    if phase != expected:
        problems.append(
            f"{_ref(body)} is in phase {phase} while its endpoint is {endpoint['State']} "
            f"(expected {expected})"
        )
    return problems


def _ref(body: Mapping[str, Any]) -> str:
    meta = body["metadata"]
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{body.get('kind', 'object')} {where}{meta['name']}"


# inbound -------------------------------------------------------------------------------


def inbound_acceptance(snap: Snapshot, world: World, before: Memory, after: Memory) -> list[str]:
    """Accepted only for a live provisioned claim from an account its quota listed;
    rejected after teardown; a wanted, admissible request is accepted and Ready."""
    problems: list[str] = []
    claims: dict[str, list[dict[str, Any]]] = {}
    for body in snap.live(INBOUND):
        if body["spec"].get("provisioned", True):
            claims.setdefault(body["spec"]["vpcEndpointId"], []).append(body)
    for vpce, request in snap.requests.items():
        if request["VpcEndpointState"] not in ACCEPTED:
            continue
        owner = request.get("VpcEndpointOwner", "")
        claimants = claims.get(vpce, [])
        if not claimants:
            problems.append(
                f"request {vpce} of {owner} is accepted but nothing provisioned claims it"
            )
            continue
        namespace = claimants[0]["metadata"]["namespace"]
        tenant = world.tenants.get(namespace)
        if tenant is None or owner not in tenant.ever_listed:
            problems.append(
                f"request {vpce} of account {owner} is accepted for {namespace}, whose quota "
                "never listed that account"
            )
    for record in world.inbound.values():
        if record.deleted or not record.provisioned:
            state = snap.requests.get(record.vpce, {}).get("VpcEndpointState")
            if state in ACCEPTED:
                problems.append(
                    f"{record.namespace}/{record.name} was torn down but its request "
                    f"{record.vpce} is still {state}"
                )
    for body in snap.live(INBOUND):
        phase = (body.get("status") or {}).get("phase")
        state = snap.requests.get(body["spec"]["vpcEndpointId"], {}).get("VpcEndpointState")
        if state in ACCEPTED and body["spec"].get("provisioned", True) and phase != "Ready":
            problems.append(f"{_ref(body)} is in phase {phase} though its request is {state}")
    return problems


def source_ranges(snap: Snapshot, world: World, before: Memory, after: Memory) -> list[str]:
    """One range per accepted connection, none shared, none held for anything that
    is not a live provisioned connection, status equal to the allocations, and the
    same range as last time for a connection still accepted."""
    problems: list[str] = []
    inbound = {_uid(b): b for b in snap.live(INBOUND) if b["spec"].get("provisioned", True)}
    held: dict[str, list[str]] = {}
    owners_of: dict[str, list[str]] = {}
    for allocation in snap.live(ALLOCATIONS):
        spec = allocation["spec"]
        held.setdefault(spec["owner"]["uid"], []).append(spec["cidr"])
        owners_of.setdefault(spec["cidr"], []).append(spec["owner"]["uid"])
        if spec["owner"]["uid"] not in inbound:
            problems.append(
                f"range {spec['cidr']} leaked: held for {spec['owner']['namespace']}/"
                f"{spec['owner']['name']}, not a live provisioned InboundConnection"
            )
    problems += [f"range {c} is shared by {o}" for c, o in owners_of.items() if len(o) > 1]
    ranges_now: dict[str, tuple[str, ...]] = {}
    for uid, body in inbound.items():
        ranges = tuple(sorted(held.get(uid, [])))
        state = snap.requests.get(body["spec"]["vpcEndpointId"], {}).get("VpcEndpointState")
        if state in ACCEPTED:
            ranges_now[uid] = ranges
            if len(ranges) != 1:
                problems.append(f"{_ref(body)} is accepted with {len(ranges)} ranges: {ranges}")
            previous = before.ranges.get(uid)
            if previous is not None and previous != ranges:
                problems.append(f"{_ref(body)} changed its range from {previous} to {ranges}")
        shown = tuple(sorted((body.get("status") or {}).get("sourceIpRanges") or ()))
        if state in ACCEPTED and shown != ranges:
            problems.append(f"{_ref(body)} shows ranges {shown} but holds {ranges}")
    after.ranges = ranges_now
    return problems


# licenses ------------------------------------------------------------------------------


def licenses(snap: Snapshot, world: World, before: Memory, after: Memory) -> list[str]:
    """Per tenant and direction: holders never exceed licenses except those already
    holding before (licenses lowered: OverLicensed); a free license goes to a waiting
    connection; none younger than a waiting one was granted since the last period."""
    problems: list[str] = []
    live_endpoint_owners = {_tags(e).get(TAG_UID) for e in snap.endpoints if e["State"] in LIVE}
    holders_now: set[str] = set()
    for namespace, tenant in world.tenants.items():
        for plural in (OUTBOUND, INBOUND):
            wanting = [
                b
                for b in snap.live(plural)
                if b["metadata"]["namespace"] == namespace and b["spec"].get("provisioned", True)
            ]
            holding = [b for b in wanting if _holds(b, snap, live_endpoint_owners)]
            holders_now |= {_uid(b) for b in holding}
            granted = [b for b in holding if _uid(b) not in before.holders]
            if len(holding) > tenant.licenses and granted:
                problems.append(
                    f"{namespace} holds {len(holding)} {plural} for {tenant.licenses} licenses, "
                    f"and {', '.join(_ref(b) for b in granted)} got one since the last check"
                )
            waiting = [b for b in wanting if _waits(b, snap, world, plural, live_endpoint_owners)]
            if waiting and len(holding) < tenant.licenses:
                problems.append(
                    f"{namespace} has {tenant.licenses - len(holding)} free {plural} license(s) "
                    f"but {', '.join(_ref(b) for b in waiting)} wait(s): "
                    + "; ".join(_why(b) for b in waiting)
                )
            for waiter in waiting:
                younger = [b for b in granted if _age(b) > _age(waiter)]
                if younger:
                    problems.append(
                        f"{', '.join(_ref(b) for b in younger)} got a license before the older "
                        f"{_ref(waiter)}"
                    )
    after.holders = holders_now
    return problems


def _why(body: Mapping[str, Any]) -> str:
    """What the object's own status says (for a failure message)."""
    status = body.get("status") or {}
    conditions = status.get("conditions") or []
    ready: Mapping[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
    return f"{_ref(body)} is {status.get('phase')} ({ready.get('reason')}: {status.get('message')})"


def _holds(body: Mapping[str, Any], snap: Snapshot, live_owners: set[str | None]) -> bool:
    if body["kind"] == "OutboundConnection":
        return _uid(body) in live_owners
    state = snap.requests.get(body["spec"]["vpcEndpointId"], {}).get("VpcEndpointState")
    return state in ACCEPTED


def _waits(
    body: Mapping[str, Any], snap: Snapshot, world: World, plural: str, live: set[str | None]
) -> bool:
    """Wants a license, does not hold one, and nothing but a license stands in its way."""
    if _holds(body, snap, live):
        return False
    if plural == OUTBOUND:
        return (body.get("status") or {}).get("phase") not in NEED_SYNC
    request = snap.requests.get(body["spec"]["vpcEndpointId"])
    tenant = world.tenants[body["metadata"]["namespace"]]
    return (
        request is not None
        and request["VpcEndpointState"] == "pendingAcceptance"
        and request.get("VpcEndpointOwner") in tenant.accounts
        and not _claimed_by_other(body, snap)
    )


def _claimed_by_other(body: Mapping[str, Any], snap: Snapshot) -> bool:
    vpce = body["spec"]["vpcEndpointId"]
    return any(
        b["spec"]["vpcEndpointId"] == vpce and _uid(b) != _uid(body) for b in snap.live(INBOUND)
    )


# metering ------------------------------------------------------------------------------


def metering(snap: Snapshot, world: World, before: Memory, after: Memory) -> list[str]:
    """Usage this hour equals the bytes sent this hour (no reset, no double count) and
    never goes down within the hour; at the limit the tenant is blocked (none of its
    live endpoints lets traffic in), below it open (each of them does)."""
    problems: list[str] = []
    hour = hour_of(snap.now)
    quotas = {b["metadata"]["namespace"]: b for b in snap.live(QUOTAS)}
    endpoint_of = {_tags(e).get(TAG_UID): e for e in snap.endpoints if e["State"] in LIVE}
    outbound_by_ns: dict[str, list[str]] = {}
    for body in snap.live(OUTBOUND):
        outbound_by_ns.setdefault(body["metadata"]["namespace"], []).append(_uid(body))
    for namespace in world.tenants:
        status = (quotas.get(namespace) or {}).get("status") or {}
        used = int((status.get("used") or {}).get("hourlyOutboundBytes") or 0)
        sent = world.used_this_hour(namespace, snap.now)
        if used != sent:
            problems.append(
                f"{namespace} shows {used // MB} MB outbound this hour; sent {sent // MB} MB"
            )
        previous = before.used.get(namespace)
        if previous is not None and previous[0] == hour and used < previous[1]:
            problems.append(
                f"{namespace}'s usage went down within the hour: {previous[1]} -> {used}"
            )
        after.used[namespace] = (hour, used)
        blocked = world.blocked(namespace, snap.now)
        shown = any(
            c.get("type") == "OutboundBlocked" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        if shown != blocked:
            problems.append(f"{namespace} OutboundBlocked={shown} with {sent // MB} MB sent")
        for uid in outbound_by_ns.get(namespace, []):
            endpoint = endpoint_of.get(uid)
            if endpoint is not None and lets_traffic_in(endpoint, snap.groups) == blocked:
                problems.append(
                    f"{namespace}'s endpoint {endpoint['VpcEndpointId']} "
                    f"{'lets traffic in' if blocked else 'lets no traffic in'} while "
                    f"{'blocked' if blocked else 'open'}"
                )
    return problems


def tenant_groups(snap: Snapshot, world: World, before: Memory, after: Memory) -> list[str]:
    """Each live endpoint on its own tenant's group alone (endpoints moved off shared
    groups), none on another tenant's, no tenant group left behind, and an open
    tenant's group holding exactly the config's open rules of its VPC."""
    open_rules = {
        vpc: frozenset().union(*(rules(snap.groups.get(g, {})) for g in ids))
        for vpc, ids in snap.open_groups.items()
    }
    open_tenants = {n for n in world.tenants if not world.blocked(n, snap.now)}
    return settled_groups(snap.endpoints, snap.groups, open_rules, open_tenants)


# credentials, secrets, finalizers ------------------------------------------------------


def credentials(snap: Snapshot, world: World, before: Memory, after: Memory) -> list[str]:
    """A published Secret per live credential, with its source's current key, and Ready
    exactly while its connection is; none left for a deleted credential."""
    problems: list[str] = []
    outbound = snap.by_name(OUTBOUND)
    creds = snap.by_name(CREDENTIALS)
    for record in world.credentials.values():
        published = snap.secrets.get((record.namespace, record.publish))
        if record.deleted:
            if published is not None:
                problems.append(f"credential {record.name} is deleted but {record.publish} remains")
            continue
        body = creds.get((record.namespace, record.name))
        if body is None:
            problems.append(f"credential {record.namespace}/{record.name} is missing")
            continue
        key = _decoded(published or {}).get("apiKey")
        if key != record.value:
            problems.append(
                f"{record.namespace}/{record.publish} does not hold the current key of "
                f"{record.source}"
            )
        connection = outbound.get((record.namespace, record.connection))
        ready = ((connection or {}).get("status") or {}).get("phase") == "Ready"
        phase = (body.get("status") or {}).get("phase")
        if (phase == "Ready") != ready:
            problems.append(
                f"credential {record.namespace}/{record.name} is {phase} while its connection "
                f"is {'Ready' if ready else 'not Ready'}"
            )
    return problems


def _decoded(secret: Mapping[str, Any]) -> dict[str, str]:
    import base64  # noqa: PLC0415 - only this check decodes

    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def no_secret_leaks(snap: Snapshot, world: World, before: Memory, after: Memory) -> list[str]:
    """No secret value in any status of any kind, any Event, or the operator's logs."""
    problems: list[str] = []
    statuses = [
        (f"status of {_ref(b)}", repr(b.get("status")))
        for bodies in snap.objects.values()
        for b in bodies
    ]
    events = [(f"Event {e['metadata']['name']}", repr(e)) for e in snap.events]
    for where, text in [*statuses, *events, ("the operator's logs", snap.logs)]:
        leaked = [v for v in world.secret_values if v in text]
        if leaked:
            problems.append(f"secret material in {where}")
    return problems


def statuses_current(snap: Snapshot, world: World, before: Memory, after: Memory) -> list[str]:
    """Every live object of every tenant-facing kind has a status for its current spec."""
    return [
        f"{_ref(b)} has observed generation {observed} of {b['metadata'].get('generation')}"
        for plural in (OUTBOUND, INBOUND, CREDENTIALS, QUOTAS)
        for b in snap.live(plural)
        if (observed := (b.get("status") or {}).get("observedGeneration"))
        != b["metadata"].get("generation")
    ]


def deletions_finish(snap: Snapshot, world: World, before: Memory, after: Memory) -> list[str]:
    """Nothing stuck in deletion (no finalizer left), and every deleted object gone."""
    problems = [
        f"{_ref(b)} is still being deleted (finalizers {b['metadata'].get('finalizers')})"
        for plural in (OUTBOUND, INBOUND, CREDENTIALS)
        for b in snap.objects[plural]
        if b["metadata"].get("deletionTimestamp")
    ]
    present = {
        (plural, b["metadata"]["namespace"], b["metadata"]["name"])
        for plural in (OUTBOUND, INBOUND, CREDENTIALS)
        for b in snap.objects[plural]
    }
    records: list[tuple[str, Any]] = [
        *((OUTBOUND, r) for r in world.outbound.values()),
        *((INBOUND, r) for r in world.inbound.values()),
        *((CREDENTIALS, r) for r in world.credentials.values()),
    ]
    problems += [
        f"deleted {plural} {r.namespace}/{r.name} still exists"
        for plural, r in records
        if r.deleted and (plural, r.namespace, r.name) in present
    ]
    return problems


Check = Callable[[Snapshot, World, Memory, Memory], list[str]]

CHECKS: tuple[Check, ...] = (
    outbound_endpoints,
    inbound_acceptance,
    source_ranges,
    licenses,
    metering,
    tenant_groups,
    credentials,
    no_secret_leaks,
    statuses_current,
    deletions_finish,
)
