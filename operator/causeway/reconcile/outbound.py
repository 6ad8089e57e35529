"""Pure planner for OutboundConnection: given the object, the endpoints AWS holds for
it and its tenant's security group in the transit VPC, decide what to create,
delete, extend, or move onto that group, then compute the status to write (with the
hourly-limit block as AWS shows it: the group is what a block closes, see
causeway.reconcile.enforcement; the endpoint itself is never modified to block).

The region reconciler runs: observe (the region's listing) → `plan` → apply (AWS) →
`outcome` → status (reconcile/status.py) → patch."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from causeway.api import OutboundConnectionSpec, Phase
from causeway.api.outbound import PendingCreate
from causeway.conditions import SYNCED, ConditionState, Progress, timestamp
from causeway.domain import (
    TAG_CLIENT_TOKEN,
    Endpoint,
    Owner,
    SecurityGroup,
    client_token,
)
from causeway.reconcile.admission import ADMITTED, Verdict
from causeway.reconcile.enforcement import lets_traffic_in
from causeway.reconcile.phases import (
    DEAD_STATES,
    DELETABLE_STATES,
    GONE,
    LIVE_STATES,
    PHASE_PROGRESS,
    normalize,
    phase_for_state,
)
from causeway.reconcile.status import Outcome, Problem, with_problem

SYNC_ANNOTATION = "causeway.dev/sync"
TRANSIT_CAPACITY_EXHAUSTED = "TransitCapacityExhausted"
NO_COMMON_AVAILABILITY_ZONE = "NoCommonAvailabilityZone"
REMOTE_REGION_NOT_ALLOWED = "RemoteRegionNotAllowed"
REMOTE_SERVICE_NOT_OFFERED = "RemoteServiceNotOffered"
BLOCKED = "Blocked"
HOURLY_LIMIT_REACHED = "HourlyLimitReached"
BLOCK_IN_PROGRESS = "BlockInProgress"
REOPEN_PENDING = "ReopenPending"
NOT_LISTED_YET = "EndpointNotListedYet"
# How long after its status last showed an endpoint a listing without it may only lag
# (EC2 is eventually consistent): RegionView's grace for the operator's own actions
# (controllers/observation.py), read from the status here, so that it outlives the
# process that made the endpoint (a restart, a takeover).
LISTING_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class OutboundRequest:
    """One OutboundConnection as the planner sees it."""

    owner: Owner
    generation: int
    spec: OutboundConnectionSpec
    tracked_id: str | None = None  # status.vpcEndpointId as last written
    sync: str = ""  # value of the causeway.dev/sync annotation
    sync_requested: bool = False  # this run was caused by a new sync value
    deleting: bool = False
    pending: CreateEndpoint | None = None  # status.pendingCreate: sent, no answer seen
    shown_waiting: bool = False  # its status shows it waiting to be created (see below)
    # The tracked endpoint as its status last showed it live, when (`last_shown`), and
    # the wall clock the request was read at: see `listing_may_lag`.
    shown: Endpoint | None = None
    shown_at: datetime | None = None
    now: datetime | None = None

    @property
    def wants_endpoint(self) -> bool:
        return self.spec.provisioned and not self.deleting

    @property
    def wants_replacement(self) -> bool:
        """A new endpoint is asked for in place of one that ended: by a sync now, or by
        one acted on before that is still waiting (for a license, say). The sync itself
        is consumed by the pass that sees it; the status then shows the connection
        waiting, not its old endpoint's end, and that carries the request over."""
        return self.sync_requested or self.shown_waiting


@dataclass(frozen=True)
class Guard:
    """The tenant's hourly-limit block as it bears on this connection's transit VPC:
    blocked until `until` (None: open); the tenant's group there (None: not made yet);
    the shared groups an endpoint made before tenant groups carries (`legacy_groups`,
    moved off it onto the tenant group); the groups as AWS last listed them (by id,
    what the block is judged by); and whether the VPC is still configured."""

    now: datetime
    until: datetime | None = None
    tenant_group: str | None = None
    legacy_groups: tuple[str, ...] = ()
    groups: Mapping[str, SecurityGroup] | None = None
    configured: bool = True

    @property
    def blocking(self) -> bool:
        return self.until is not None and self.until > self.now


@dataclass(frozen=True)
class CreateEndpoint:
    service_name: str
    client_token: str
    tags: Mapping[str, str]
    security_groups: tuple[str, ...] = ()  # (): the tenant's group, made first
    vpc_id: str = ""  # the transit VPC placement chose ("" until it has)
    subnet_ids: tuple[str, ...] = ()  # those of the service's zones (() = every one)
    service_region: str = ""  # the service's Region when it is another one (cross-Region)


@dataclass(frozen=True)
class ExtendEndpoint:
    """Add subnets to a live endpoint: its service now runs in more zones."""

    id: str
    subnet_ids: tuple[str, ...]


@dataclass(frozen=True)
class ResolveCreate:
    """Send a create whose answer was never seen again, with its very token and
    parameters: AWS answers with the endpoint it made then (or makes it now), so that
    endpoint is known by id before anything else is decided. `delete`: then delete it
    (the connection is being torn down). Without this, an object deleted while AWS's
    listing does not show that endpoint yet would be released, the endpoint orphaned."""

    create: CreateEndpoint
    delete: bool = False


@dataclass(frozen=True)
class DeleteEndpoints:
    ids: tuple[str, ...]


@dataclass(frozen=True)
class AdoptTenantGroup:
    """Move an endpoint made before tenant groups onto its tenant's group: add the group
    and take the shared ones (`remove`) off in one ModifyVpcEndpoint, so no moment
    passes without the rules it had. `tenant_group` None: the group is made first (the
    open rules, or none while the tenant is blocked, as the endpoint is then)."""

    id: str
    vpc_id: str
    tenant_group: str | None
    remove: tuple[str, ...]
    add: bool = True


Action = CreateEndpoint | ResolveCreate | DeleteEndpoints | AdoptTenantGroup | ExtendEndpoint


@dataclass(frozen=True)
class OutboundPlan:
    """What to do, in order (deletes first), and whether teardown is complete."""

    actions: tuple[Action, ...] = ()
    settled: bool = True


def is_live(endpoint: Endpoint) -> bool:
    return normalize(endpoint.state) in LIVE_STATES


def focus(owned: Sequence[Endpoint], tracked_id: str | None) -> Endpoint | None:
    """The endpoint the status follows: the tracked one while live, else the oldest live
    one (an adopted endpoint after a crash), else the tracked one (dead), else none."""
    tracked = next((e for e in owned if e.id == tracked_id), None)
    if tracked is not None and is_live(tracked):
        return tracked
    live = sorted(
        (e for e in owned if is_live(e)), key=lambda e: (e.created is None, e.created, e.id)
    )
    return live[0] if live else tracked


def plan(
    request: OutboundRequest,
    owned: Sequence[Endpoint],
    verdict: Verdict = ADMITTED,
    guard: Guard | None = None,
    extend: tuple[str, ...] = (),
) -> OutboundPlan:
    """Decide the actions for one connection given every endpoint tagged as its own. A
    new endpoint is only created with a license (`verdict`), with its tenant's group in
    the VPC (`guard`: a blocked tenant's holds no rule, so a new endpoint starts
    blocked); a live endpoint made before tenant groups moves onto its tenant's group;
    a live endpoint gains the subnets `extend` (zones its service added). A create whose
    answer was lost is resolved first (`resolving_first`), unless an endpoint listed
    carries its token: then it was answered."""
    decided = _plan(request, owned, verdict, guard, extend)
    pending = None if pending_answered(request.pending, owned) else request.pending
    return resolving_first(decided, pending, tearing_down=not request.wants_endpoint)


def pending_answered(pending: CreateEndpoint | None, owned: Sequence[Endpoint]) -> bool:
    """Whether AWS lists the endpoint the recorded create made (by its token's tag)."""
    return pending is not None and any(e.client_token == pending.client_token for e in owned)


def _plan(
    request: OutboundRequest,
    owned: Sequence[Endpoint],
    verdict: Verdict,
    guard: Guard | None,
    extend: tuple[str, ...] = (),
) -> OutboundPlan:
    if not request.wants_endpoint:
        return _teardown(owned, request.tracked_id)
    current = focus(owned, request.tracked_id)
    duplicates = tuple(e.id for e in owned if is_live(e) and e is not current)
    actions: list[Action] = [DeleteEndpoints(duplicates)] if duplicates else []
    if verdict.admitted and _needs_new_endpoint(request, current):
        if current is not None and normalize(current.state) in DELETABLE_STATES:
            actions.insert(0, DeleteEndpoints((current.id,)))
        actions.append(_create(request, guard))
    elif current is not None and is_live(current):
        if extend:
            actions.append(ExtendEndpoint(current.id, extend))
        adopt = _adopt(current, guard) if guard is not None else None
        if adopt is not None:
            actions.append(adopt)
    return OutboundPlan(tuple(actions))


def _adopt(endpoint: Endpoint, guard: Guard) -> AdoptTenantGroup | None:
    """Move an endpoint still on shared groups onto its tenant's group (None: it is on
    it already, or its VPC is no longer configured: no group is made there). Only the
    groups Causeway put there are taken off: those recorded on the endpoint at its
    create, and the VPC's open and blocked groups; never a group someone else added."""
    groups = endpoint.security_groups
    if not endpoint.vpc_id:
        return None  # a record without its VPC (AWS always lists it): no group to join
    shared = {*guard.legacy_groups, *(endpoint.open_groups or ())}
    remove = tuple(g for g in groups if g in shared and g != guard.tenant_group)
    on_it = guard.tenant_group is not None and guard.tenant_group in groups
    if on_it and not remove:
        return None
    if guard.tenant_group is None and not guard.configured:
        return None
    return AdoptTenantGroup(endpoint.id, endpoint.vpc_id, guard.tenant_group, remove, not on_it)


def _needs_new_endpoint(request: OutboundRequest, current: Endpoint | None) -> bool:
    if current is None:
        # Never created, or gone remotely: a gone endpoint is only replaced on request.
        return request.tracked_id is None or request.wants_replacement
    return normalize(current.state) in DEAD_STATES and request.wants_replacement


def resolving_first(
    decided: OutboundPlan, pending: CreateEndpoint | None, *, tearing_down: bool
) -> OutboundPlan:
    """The plan, with the create whose answer was lost (`pending`) dealt with first. A
    plan that sends that very create (same token) sends it exactly as before: AWS
    refuses a token it saw with other parameters, and the VPC must stay the one chosen
    then. Otherwise the lost create is sent again on its own, and the next pass plans
    with its endpoint known; in a teardown, its endpoint is deleted with the rest."""
    if pending is None:
        return decided
    if any(_sends(a, pending) for a in decided.actions):
        actions = tuple(pending if _sends(a, pending) else a for a in decided.actions)
        return replace(decided, actions=actions)
    if tearing_down:
        return OutboundPlan((ResolveCreate(pending, delete=True), *decided.actions), False)
    return OutboundPlan((ResolveCreate(pending),), settled=False)


def _sends(action: Action, pending: CreateEndpoint) -> bool:
    return isinstance(action, CreateEndpoint) and action.client_token == pending.client_token


def plan_teardown(
    owned: Sequence[Endpoint],
    tracked_id: str | None = None,
    pending: CreateEndpoint | None = None,
) -> OutboundPlan:
    """Delete what it owns, including the endpoint of a create whose answer was lost."""
    return resolving_first(_teardown(owned, tracked_id), pending, tearing_down=True)


def _teardown(owned: Sequence[Endpoint], tracked_id: str | None = None) -> OutboundPlan:
    """Delete what it owns. The endpoint its status names is deleted by id even when
    AWS's listing lacks it: EC2 is eventually consistent, so a listing taken soon after
    the create (by a restarted operator, say) may not show it yet, and settling on such
    a listing would orphan the endpoint. Deleting an id AWS no longer knows is a no-op."""
    deletable = tuple(e.id for e in owned if normalize(e.state) in DELETABLE_STATES)
    if tracked_id is not None and all(e.id != tracked_id for e in owned):
        deletable = (*deletable, tracked_id)
    deleting = any(normalize(e.state) == "deleting" for e in owned)
    actions = (DeleteEndpoints(deletable),) if deletable else ()
    return OutboundPlan(actions, settled=not deletable and not deleting)


# Phases in which the status shows a connection waiting to be created.
WAITING_PHASES = frozenset({Phase.UNPROVISIONED.value, Phase.ALLOCATING.value})


def ended_without_request(request: OutboundRequest, owned: Sequence[Endpoint]) -> bool:
    """Its endpoint is one AWS shows ended (rejected, deleted, expired, failed) and no
    new one is asked for: it waits for its tenant, not for a license. An endpoint the
    listing does not show at all does not count: the listing may only lag."""
    if not request.wants_endpoint:
        return False
    current = focus(owned, request.tracked_id)
    if current is None or normalize(current.state) not in DEAD_STATES:
        return False
    return not request.wants_replacement


def _create(request: OutboundRequest, guard: Guard | None) -> CreateEndpoint:
    """The create, with the tenant's group in the VPC when it exists (else () : the
    group is made first). Blocked or open, the parameters are the same: the group's
    rules, not the endpoint, carry the block."""
    remote = request.spec.service_region if request.spec.cross_region else ""
    token = client_token(request.owner, request.generation, request.sync)
    groups = (guard.tenant_group,) if guard is not None and guard.tenant_group else ()
    tags = request.owner.tags()
    return CreateEndpoint(request.spec.serviceName, token, tags, groups, service_region=remote)


def placed(
    create: CreateEndpoint,
    vpc_id: str,
    subnet_ids: tuple[str, ...],
    security_groups: tuple[str, ...],
) -> CreateEndpoint:
    """The create as it will be sent: in `vpc_id`'s `subnet_ids`, with `security_groups`
    (when it asked for none), and a token of its own for that very request
    (AWS refuses a token it saw with other parameters: a create moved to another VPC or
    other subnets is another request), carried in a tag as well (`pending_answered`)."""
    groups = create.security_groups or security_groups
    seed = f"{create.client_token}/{vpc_id}/{','.join(subnet_ids)}/{','.join(groups)}"
    token = f"causeway-{hashlib.sha256(seed.encode()).hexdigest()[:48]}"
    tags = {**create.tags, TAG_CLIENT_TOKEN: token}
    return CreateEndpoint(
        create.service_name, token, tags, groups, vpc_id, subnet_ids, create.service_region
    )


def pending_create(status: Mapping[str, Any]) -> CreateEndpoint | None:
    """The create recorded in status as sent without an answer seen (None: none, or a
    record that does not parse: only the operator writes status)."""
    record = status.get("pendingCreate")
    if not isinstance(record, Mapping):
        return None
    try:
        parsed = PendingCreate.model_validate(record)
    except ValidationError:
        return None
    return CreateEndpoint(
        parsed.serviceName,
        parsed.clientToken,
        dict(parsed.tags),
        tuple(parsed.securityGroupIds),
        parsed.vpcId,
        tuple(parsed.subnetIds),
        parsed.serviceRegion,
    )


def pending_record(create: CreateEndpoint) -> dict[str, Any]:
    """The status record of a create about to be sent (`pending_create` reads it)."""
    record = PendingCreate(
        clientToken=create.client_token,
        serviceName=create.service_name,
        serviceRegion=create.service_region,
        vpcId=create.vpc_id,
        subnetIds=list(create.subnet_ids),
        securityGroupIds=list(create.security_groups),
        tags=dict(create.tags),
    )
    return record.model_dump(mode="json")


def after_deletion(owned: Sequence[Endpoint], deleted: Sequence[str]) -> list[Endpoint]:
    """The endpoints as AWS reports them right after DeleteVpcEndpoints succeeded."""
    gone = set(deleted)
    return [replace(e, state="deleting") if e.id in gone else e for e in owned]


def outcome(
    request: OutboundRequest,
    owned: Sequence[Endpoint],
    problem: Problem | None = None,
    verdict: Verdict = ADMITTED,
    guard: Guard | None = None,
) -> Outcome:
    """Where the connection stands given the endpoints AWS holds for it (after apply).
    One that would be created but has no license (`verdict`) waits, Unprovisioned.
    With `guard` (the time, at least), a live endpoint's block is shown: a blocked
    connection stays Ready (AWS serves it) and says it is blocked, and until when."""
    phase, endpoint = _phase(request, owned)
    if problem is not None and phase is Phase.UNPROVISIONED:
        unconfirmed = _teardown_unconfirmed(request, owned)
        if unconfirmed is not None:
            phase, endpoint = Phase.TEARDOWN_IN_PROGRESS, unconfirmed
    lagging = endpoint is not None and endpoint is request.shown  # see listing_may_lag
    if lagging and endpoint is not None and problem is None:
        problem = _not_listed(endpoint, phase)
    if phase is Phase.ALLOCATING and verdict.reason is not None:
        nothing: dict[str, Any] = {
            "vpcEndpointId": None,
            "transitVpcId": None,
            "dnsNames": [],
            "blockedUntil": None,
        }
        waiting = Outcome(
            Phase.UNPROVISIONED, Progress.STALLED, verdict.reason.value, verdict.message, nothing
        )
        return with_problem(waiting, problem)
    endpoint_id = endpoint.id if endpoint is not None and phase is not Phase.UNPROVISIONED else None
    dns_names = endpoint.dns_names if endpoint is not None and is_live(endpoint) else ()
    fields: dict[str, Any] = {
        "vpcEndpointId": endpoint_id,
        "transitVpcId": (endpoint.vpc_id or None) if endpoint_id and endpoint else None,
        "dnsNames": list(dns_names),
        "blockedUntil": None,
    }
    message = _message(request, phase, endpoint)
    conditions: tuple[ConditionState, ...] = ()
    if guard is not None and endpoint is not None and is_live(endpoint) and not lagging:
        closed = guard.groups is not None and not lets_traffic_in(endpoint, guard.groups)
        until = guard.until if guard.blocking else None
        if until is not None and not closed:
            # Decided, but AWS does not list the endpoint closed yet: traffic may pass.
            conditions = (_blocking_condition(until),)
            message = f"{message} {_blocking_text(until)}"
        elif until is None and closed:
            # Its block is over, but AWS still lists it closed.
            conditions = (_reopen_condition(endpoint, guard),)
            message = f"{message} {conditions[0].message}"
        else:
            fields["blockedUntil"] = timestamp(until) if until else None
            conditions = (_blocked_condition(until),)
            if until is not None:
                message = f"{message} {_blocked_text(until)}"
    result = Outcome(phase, PHASE_PROGRESS[phase], phase.value, message, fields, None, conditions)
    return with_problem(result, problem)


def waiting_for_capacity(request: OutboundRequest) -> Outcome:
    """A connection that would be created but finds every transit VPC of its region full
    or draining: it waits, Unprovisioned, costing no AWS call, until room appears. The
    platform must act, not the tenant (Stalled, so kstatus and the Event say so)."""
    region = request.spec.region
    message = (
        f"Waiting for transit capacity: the platform is adding capacity in {region}; "
        "nothing to do on your side."
    )
    return _waiting(TRANSIT_CAPACITY_EXHAUSTED, message)


def no_common_zone(
    request: OutboundRequest, service_zones: frozenset[str], platform_zones: frozenset[str]
) -> Outcome:
    """The service runs in no Availability Zone where the platform has a transit subnet:
    AWS would refuse the endpoint. It waits, costing no AWS call, until the service's
    zones change (asked again now and then, and on a sync) or the platform adds a zone.
    The tenant can act (a load balancer subnet in one of the platform's zones), so it
    is Stalled with both lists named."""
    theirs = ", ".join(sorted(service_zones)) or "no zone"
    ours = sorted(platform_zones)
    choices = ", ".join(ours[:-1]) + f" or {ours[-1]}" if len(ours) > 1 else "".join(ours)
    message = (
        f"Your endpoint service runs in {theirs}, and the platform's transit subnets in "
        f"{request.spec.region} are in {', '.join(ours) or 'no zone'} (Availability Zone IDs "
        f"are the same in every account; names are not). Add a subnet of your load balancer "
        f"in {choices or 'a zone the platform serves'}, or ask the platform to add one of "
        f"your zones; then set the annotation {SYNC_ANNOTATION} to a new value."
    )
    return _waiting(NO_COMMON_AVAILABILITY_ZONE, message)


def remote_region_not_allowed(request: OutboundRequest, allowed: Sequence[str]) -> Outcome:
    """The service is in a Region the platform does not connect to from spec.region: no
    AWS call; only the platform can change that (config), or the tenant can recreate the
    connection with a service in an allowed Region."""
    spec = request.spec
    offered = ", ".join(sorted(allowed)) or "none"
    message = (
        f"The platform does not connect from {spec.region} to endpoint services in "
        f"{spec.service_region} (Regions it reaches from {spec.region}: {offered}). Use a "
        f"service in {spec.region} or one of those, or ask the platform to allow "
        f"{spec.service_region}."
    )
    return _waiting(REMOTE_REGION_NOT_ALLOWED, message)


def remote_service_not_offered(request: OutboundRequest, principal: str) -> Outcome:
    """AWS does not show the platform the service for use from spec.region: the service
    does not list that Region among its supported Regions, or does not allow the
    platform (AWS does not say which). No create until the tenant acts and syncs."""
    spec = request.spec
    service_id = spec.serviceName.rsplit(".", 1)[-1]
    message = (
        f"AWS does not offer your endpoint service {service_id} in {spec.service_region} to "
        f"the platform in {spec.region}. Add {spec.region} to the service's supported "
        f"Regions (aws ec2 modify-vpc-endpoint-service-configuration --region "
        f"{spec.service_region} --service-id {service_id} --add-supported-regions "
        f"{spec.region}) and allow {principal} on it, then set the annotation "
        f"{SYNC_ANNOTATION} to a new value."
    )
    return _waiting(REMOTE_SERVICE_NOT_OFFERED, message)


def _waiting(reason: str, message: str) -> Outcome:
    nothing: dict[str, Any] = {
        "vpcEndpointId": None,
        "transitVpcId": None,
        "dnsNames": [],
        "blockedUntil": None,
    }
    return Outcome(Phase.UNPROVISIONED, Progress.STALLED, reason, message, nothing)


def _blocking_text(until: datetime) -> str:
    return (
        f"Outbound traffic is being blocked until {timestamp(until)} (this namespace reached "
        "its hourly outbound limit); AWS does not list the endpoint's security groups "
        "without ingress rules yet, so traffic may still pass."
    )


def _reopen_condition(endpoint: Endpoint, guard: Guard) -> ConditionState:
    if guard.configured:
        why = "the operator is reopening it (its tenant security group gets its rules back)."
    else:
        why = (
            f"its transit VPC {endpoint.vpc_id} is no longer in the operator's config, so "
            "the rules to restore are not known: ask the platform to configure that VPC "
            "again, or delete and recreate this connection."
        )
    message = f"The hourly block is over, but AWS still lists the endpoint closed: {why}"
    return ConditionState(BLOCKED, True, REOPEN_PENDING, message)


def _blocking_condition(until: datetime) -> ConditionState:
    return ConditionState(BLOCKED, False, BLOCK_IN_PROGRESS, _blocking_text(until))


def _blocked_text(until: datetime) -> str:
    return (
        f"Outbound traffic is blocked until {timestamp(until)}: this namespace reached its "
        "hourly outbound limit (see its ConnectionQuota)."
    )


def _blocked_condition(until: datetime | None) -> ConditionState:
    if until is None:
        return ConditionState(BLOCKED, False, "NotBlocked", "Traffic passes.")
    return ConditionState(BLOCKED, True, HOURLY_LIMIT_REACHED, _blocked_text(until))


def _phase(request: OutboundRequest, owned: Sequence[Endpoint]) -> tuple[Phase, Endpoint | None]:
    if not request.wants_endpoint:
        busy = [e for e in owned if normalize(e.state) not in {"deleted", GONE}]
        return (Phase.TEARDOWN_IN_PROGRESS, busy[0]) if busy else (Phase.UNPROVISIONED, None)
    current = focus(owned, request.tracked_id)
    if _needs_new_endpoint(request, current):
        return Phase.ALLOCATING, None
    if current is not None:
        return phase_for_state(current.state), current
    if request.tracked_id is not None:
        lagging = listing_may_lag(request)
        if lagging is not None:
            return phase_for_state(lagging.state), lagging
        return Phase.DELETED_REMOTELY, Endpoint(request.tracked_id, GONE, request.spec.serviceName)
    return Phase.ALLOCATING, None


def _teardown_unconfirmed(request: OutboundRequest, owned: Sequence[Endpoint]) -> Endpoint | None:
    """The tracked endpoint of a teardown that failed before AWS confirmed it gone, while
    the listing lacks it (EC2 lists a new endpoint only after a while): the status keeps
    naming it, so the next pass deletes it by id. Dropped from the status, the next pass
    would find nothing to delete and release the object: the endpoint orphaned (the
    campaign's find, a delete answered 500 seconds after the create)."""
    tracked = request.tracked_id
    if request.wants_endpoint or tracked is None or any(e.id == tracked for e in owned):
        return None
    shown = request.shown if request.shown is not None and request.shown.id == tracked else None
    vpc_id = shown.vpc_id if shown is not None else ""
    return Endpoint(tracked, "deleting", request.spec.serviceName, vpc_id=vpc_id)


# The AWS state of an endpoint a status shows in this phase.
_SHOWN_STATES = {
    Phase.PENDING_ACCEPTANCE.value: "pendingAcceptance",
    Phase.PENDING_ACTIVATION.value: "pending",
    Phase.READY.value: "available",
}


def last_shown(status: Mapping[str, Any], service_name: str) -> tuple[Endpoint, datetime] | None:
    """The endpoint a status shows live (its state, transit VPC and DNS names), and when
    the status last said so: its last write (lastSyncTime), and no later than Synced
    turning False (a write made while AWS was not read, or did not list it, is no
    sighting: the grace then runs from that first write, and never starts again)."""
    endpoint_id = status.get("vpcEndpointId")
    state = _SHOWN_STATES.get(str(status.get("phase")))
    at = _moment(status.get("lastSyncTime"))
    if not isinstance(endpoint_id, str) or not endpoint_id or state is None or at is None:
        return None
    conditions = status.get("conditions") or []
    synced: Mapping[str, Any] = next((c for c in conditions if c.get("type") == SYNCED), {})
    turned = _moment(synced.get("lastTransitionTime"))
    if synced.get("status") == "False" and turned is not None:
        at = min(at, turned)
    dns_names = tuple(str(n) for n in status.get("dnsNames") or ())
    vpc_id = str(status.get("transitVpcId") or "")
    return Endpoint(endpoint_id, state, service_name, dns_names, vpc_id=vpc_id), at


def listing_may_lag(request: OutboundRequest) -> Endpoint | None:
    """The tracked endpoint, which the listing lacks, as its status showed it less than
    LISTING_GRACE_SECONDS ago by the wall clock (None: it is gone). A listing taken that
    soon after the endpoint's create may not show it yet; the operator that made it
    remembers that (RegionView), but a restarted one or a new leader only has the
    status. The phase then stays as shown, and Synced says the listing lacks it."""
    shown, at, now = request.shown, request.shown_at, request.now
    if shown is None or at is None or now is None or shown.id != request.tracked_id:
        return None
    return shown if abs((now - at).total_seconds()) < LISTING_GRACE_SECONDS else None


def _not_listed(endpoint: Endpoint, phase: Phase) -> Problem:
    message = (
        f"AWS's listing does not show the endpoint {endpoint.id} yet (EC2 lists a new "
        f"endpoint after a few seconds); the phase is {phase.value} as last seen. If it is "
        f"still not listed {LISTING_GRACE_SECONDS:.0f} s after that, it is reported "
        f"{Phase.DELETED_REMOTELY.value}."
    )
    return Problem(NOT_LISTED_YET, message, terminal=False)


def _moment(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _message(request: OutboundRequest, phase: Phase, endpoint: Endpoint | None) -> str:
    spec = request.spec
    service_id = spec.serviceName.rsplit(".", 1)[-1]
    vpce = endpoint.id if endpoint else "the endpoint"
    resync = f"set the annotation {SYNC_ANNOTATION} to a new value to request a new connection"
    messages = {
        Phase.UNPROVISIONED: "Not provisioned (spec.provisioned is false): no endpoint exists.",
        Phase.ALLOCATING: f"Creating an interface endpoint to {service_id} in {spec.region}.",
        Phase.PENDING_ACCEPTANCE: (
            f"Accept the connection request {vpce} on your endpoint service {service_id} "
            f"in {spec.region}."
        ),
        Phase.PENDING_ACTIVATION: f"The request {vpce} was accepted; AWS is activating it.",
        Phase.READY: f"Connected: {vpce} to {service_id} is available.",
        Phase.REJECTED_REMOTELY: (
            f"Your endpoint service {service_id} rejected the connection request {vpce}. "
            f"To try again, {resync}."
        ),
        Phase.DELETED_REMOTELY: (
            f"The endpoint {vpce} is {_remote_state(endpoint)} outside Causeway. "
            f"To reconnect, {resync}."
        ),
        Phase.TEARDOWN_IN_PROGRESS: f"Deleting the endpoint {vpce}.",
    }
    return messages[phase]


def _remote_state(endpoint: Endpoint | None) -> str:
    state = normalize(endpoint.state) if endpoint else GONE
    return {GONE: "gone (deleted)"}.get(state, state)
