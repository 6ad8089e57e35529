"""OutboundConnection's part of a region pass: find the endpoints that are the object's
own (in the region's listing) and its tenant's security group (causeway.controllers.
enforcement: what a block closes), plan (pure,
reconcile/outbound.py), place a new endpoint in a transit VPC of the region's pool
(pure, reconcile/placement.py; oldest connection first), do the plan in AWS, and
compute the status. The region reconciler decides when this runs."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

from pydantic import ValidationError

from causeway.api import OUTBOUND, OutboundConnectionSpec, Phase
from causeway.aws.endpoints import TransitEndpoints
from causeway.controllers.budget import OnWait
from causeway.controllers.decisions import (
    Decision,
    Failure,
    PassContext,
    PassPlan,
    WorkContext,
    WorkResult,
)
from causeway.controllers.enforcement import TenantGroups
from causeway.controllers.health import PlatformHealth
from causeway.controllers.observation import RegionView
from causeway.controllers.services import ServiceCatalog
from causeway.domain import Endpoint, Owner, SecurityGroup
from causeway.errors import (
    AwsCallError,
    ErrorContext,
    ErrorKind,
    classify,
    describe,
    may_have_applied,
)
from causeway.index import ObjectSnapshot
from causeway.logs import object_logger
from causeway.reconcile import enforcement
from causeway.reconcile import outbound as planner
from causeway.reconcile.admission import ADMITTED, Verdict
from causeway.reconcile.outbound import (
    SYNC_ANNOTATION,
    AdoptTenantGroup,
    CreateEndpoint,
    DeleteEndpoints,
    ExtendEndpoint,
    Guard,
    OutboundPlan,
    OutboundRequest,
    ResolveCreate,
    pending_create,
    pending_record,
)
from causeway.reconcile.phases import LIVE_STATES, normalize
from causeway.reconcile.placement import Placements, TransitVpc, VpcUsage, occupies_slot, usage
from causeway.reconcile.status import (
    Outcome,
    Problem,
    awaiting_capacity,
    invalid_status,
    render_status,
    status_changes,
    unsynced_status,
    with_problem,
)
from causeway.reconcile.zones import dropped_zones, missing_subnets, subnets_for, vpc_zones
from causeway.runtime import Runtime

logger = logging.getLogger("causeway.outbound")


class InvalidObjectError(Exception):
    """The object cannot be parsed (the CRD schema should have prevented it)."""


def request_from(
    snapshot: ObjectSnapshot, *, sync_requested: bool = False, now: datetime | None = None
) -> OutboundRequest:
    """The planner's view of the object, read at `now` (the wall clock: None, no grace
    for an endpoint its status shows and the listing lacks; see listing_may_lag)."""
    try:
        spec = OutboundConnectionSpec.model_validate(snapshot.spec)
    except ValidationError as exc:
        problems = [f"spec.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise InvalidObjectError("; ".join(problems)) from None
    shown = planner.last_shown(snapshot.status, spec.serviceName)
    return OutboundRequest(
        owner=Owner(OUTBOUND.kind, snapshot.namespace, snapshot.name, snapshot.uid),
        generation=snapshot.generation,
        spec=spec,
        tracked_id=snapshot.status.get("vpcEndpointId"),
        sync=str(snapshot.annotations.get(SYNC_ANNOTATION, "")),
        sync_requested=sync_requested,
        deleting=snapshot.deleting,
        pending=pending_create(snapshot.status),
        shown_waiting=snapshot.status.get("phase") in planner.WAITING_PHASES,
        shown=shown[0] if shown else None,
        shown_at=shown[1] if shown else None,
        now=now,
    )


def grace_clock(view: RegionView, snapshot: ObjectSnapshot, now: datetime) -> datetime | None:
    """The wall clock `request_from` gets: None (no listing grace from the status) when
    the endpoint the status names is one this process listed or made, whose own view
    judges a listing that lacks it, as always; else `now` (a restart, a takeover)."""
    tracked = snapshot.status.get("vpcEndpointId")
    return None if isinstance(tracked, str) and view.saw(tracked) else now


@dataclass(frozen=True)
class _Job:
    """One object's AWS work of a pass. `request` is None when tearing down an object
    whose spec does not parse."""

    snapshot: ObjectSnapshot
    plan: OutboundPlan
    context: WorkContext
    request: OutboundRequest | None = None
    guard: Guard | None = None

    @property
    def gating_only(self) -> bool:
        """Only moving onto its tenant group or extending into more zones: AWS's
        serving of the connection is not at stake."""
        return all(isinstance(a, AdoptTenantGroup | ExtendEndpoint) for a in self.plan.actions)


def _tenant(job: _Job) -> str:
    return job.snapshot.namespace


def _order(job: _Job) -> tuple[str, str]:
    """Oldest first within the tenant's turn, as licenses are handed out."""
    return (job.snapshot.created, job.snapshot.name)


def _age(snapshot: ObjectSnapshot) -> tuple[str, str, str]:
    """Oldest first across tenants: transit capacity is the platform's, not a tenant's."""
    return (snapshot.created, snapshot.namespace, snapshot.name)


# AWS's answers meaning a security group named in the request does not exist.
_GROUP_GONE = frozenset({"InvalidGroup.NotFound", "InvalidSecurityGroupID.NotFound"})
# AWS's answers meaning "this VPC takes no more endpoints": its quota, or a subnet with
# no free address (each endpoint takes one address in each of its subnets).
_VPC_FULL = frozenset({"VpcEndpointLimitExceeded", "InsufficientFreeAddressesInSubnet"})
# How long a VPC AWS refused stays as full as it was then, when the quota is not read
# sooner (it is read hourly, when a VPC has no maxEndpoints).
CAPACITY_READING_SECONDS = 3600.0


class _NoRoomError(Exception):
    """Every transit VPC of the region refused or has no room: the connection waits."""


class _NotRecordedError(Exception):
    """The create could not be recorded in status first, so it is not sent (yet)."""


# AWS has seen the create's token before, with other parameters: the first request made
# an endpoint, which the listing will show by its token's tag (never forget the record).
_TOKEN_SEEN = "IdempotentParameterMismatch"


def _create_refused(error: AwsCallError) -> bool:
    """A create AWS refused outright made nothing: its record has nothing to resolve."""
    refused = error.operation == "CreateVpcEndpoint" and not may_have_applied(error)
    return refused and error.code != _TOKEN_SEEN


def _sends_a_create(plan: OutboundPlan) -> bool:
    return any(isinstance(a, CreateEndpoint | ResolveCreate) for a in plan.actions)


def _log(job: _Job) -> logging.LoggerAdapter[logging.Logger]:
    return object_logger(
        logger, kind=OUTBOUND.kind, namespace=job.snapshot.namespace, name=job.snapshot.name
    )


class OutboundManager:
    """Decides, for one OutboundConnection in one pass, what to write or do."""

    kind = OUTBOUND

    def __init__(
        self,
        runtime: Runtime,
        region: str,
        health: PlatformHealth,
        catalog: ServiceCatalog | None = None,
    ) -> None:
        self._runtime = runtime
        self._region = region
        self._health = health
        self.catalog = catalog or ServiceCatalog(region, runtime.monotonic)
        self.groups = TenantGroups(runtime, region)
        # Per pass: (tenant, VPC) → its tenant group's id, and the groups as listed.
        self._group_ids: dict[tuple[str, str], str] = {}
        self._listed_groups: dict[str, SecurityGroup] = {}
        # Owner uid -> the VPC its create was sent to, until the endpoint is listed: a
        # retry (a lost answer) goes to the same VPC with the same ClientToken.
        self._placed: dict[str, str] = {}
        # VPC -> (endpoints it held when AWS refused one more, when it refused): it stands
        # until the quota is read again (or an hour, if it is not read).
        self._seen_full: dict[str, tuple[int, float]] = {}
        self._placements = Placements(())

    def plan_pass(self, snapshots: Sequence[ObjectSnapshot], context: PassContext) -> PassPlan:
        """One decision per object, oldest first (new endpoints take transit capacity in
        that order); each object's AWS work is its own."""
        endpoints = context.view.all_endpoints()
        present = {s.uid for s in snapshots}
        self._placed = {uid: vpc for uid, vpc in self._placed.items() if uid in present}
        self._placed.update(self._recorded_placements(snapshots))
        zones = self._runtime.subnet_zones.get(self._region, {})
        by_vpc = {
            vpc.vpcId: frozenset(vpc_zones(vpc, zones))
            for vpc in self._runtime.config.regions[self._region].pool
        }
        self._placements = Placements(self.capacity(endpoints), by_vpc)
        return PassPlan([(s, self.decide(s, context)) for s in sorted(snapshots, key=_age)])

    def see_groups(self, snapshots: Sequence[ObjectSnapshot]) -> None:
        """At the start of a pass, before anything acts on the groups: the pass's view of
        the tenant groups, and what metering learns from AWS's listing: the blocks the
        groups (and older endpoints) record (a new process knows them before its first
        cycle), and per blocked tenant how many of its endpoints AWS still lists
        letting traffic in."""
        now, meter = self._now(), self._runtime.meter
        view = self._runtime.views[self._region]
        endpoints = view.all_endpoints()
        tenants = {s.namespace for s in snapshots}
        current = view.all_groups()
        self._group_ids = {(g.tenant, g.vpc_id): g.id for g in current.values() if g.tenant}
        self._listed_groups = view.listed_groups()
        blocks = enforcement.tagged_blocks(self._listed_groups.values(), now)
        for tenant, until in _tagged_blocks(endpoints).items():
            blocks[tenant] = max(until, blocks.get(tenant, until))
        meter.tags_seen(self._region, blocks)
        listed_at = view.groups_taken_at
        if listed_at is None:
            return
        still_open = enforcement.open_endpoints(
            endpoints, self._listed_groups, partial(meter.blocked_until, now=now)
        )
        # Every tenant with a connection here: an endpoint made after this listing (by
        # this pass's work) is not in it, and must not be taken for none at all.
        present = {e.owner_namespace for e in endpoints if e.owner_namespace and planner.is_live(e)}
        present |= tenants
        meter.enforcement_seen(self._region, still_open, present, listed_at)

    def wanted_groups(
        self, snapshots: Sequence[ObjectSnapshot]
    ) -> tuple[set[tuple[str, str]], set[str]]:
        """What the tenant groups must keep although AWS's listing shows no endpoint
        holding them (EC2 lists a new endpoint only after a while): the (tenant, VPC)
        pairs of connections whose status names an endpoint there, of creates placed or
        recorded as sent (a resend after a lost answer, also by a new process), and,
        for a tenant with a connection still to be placed, every VPC of the pool (its
        create takes the group the listing shows there); and the groups the recorded
        creates name."""
        pairs: set[tuple[str, str]] = set()
        groups: set[str] = set()
        pool = [vpc.vpcId for vpc in self._runtime.config.regions[self._region].pool]
        for snapshot in snapshots:
            status = snapshot.status
            tracked_vpc, phase = status.get("transitVpcId"), status.get("phase")
            if status.get("vpcEndpointId") and phase in _HOLDING_PHASES:
                if isinstance(tracked_vpc, str):
                    pairs.add((snapshot.namespace, tracked_vpc))
            elif _to_be_placed(snapshot):
                pairs.update((snapshot.namespace, vpc) for vpc in pool)
            placed = self._placed.get(snapshot.uid)
            if placed:
                pairs.add((snapshot.namespace, placed))
            pending = pending_create(status)
            if pending is not None:
                pairs.add((snapshot.namespace, pending.vpc_id))
                groups.update(pending.security_groups)
        return pairs, groups

    def _recorded_placements(self, snapshots: Sequence[ObjectSnapshot]) -> dict[str, str]:
        """The VPCs of creates recorded in status as sent but unanswered (after a restart,
        say) and not placed in memory: a repeat goes to the same VPC, and it counts."""
        placed: dict[str, str] = {}
        for snapshot in snapshots:
            pending = pending_create(snapshot.status)
            if pending is not None and snapshot.uid not in self._placed and self._sendable(pending):
                placed[snapshot.uid] = pending.vpc_id
        return placed

    def _sendable(self, create: CreateEndpoint) -> bool:
        """Whether the create can be sent exactly as it was: recorded whole (VPC, subnets
        and groups), or its VPC is still configured (a record from before subnets were
        recorded is sent in that VPC's subnets)."""
        whole = bool(create.vpc_id and create.subnet_ids and create.security_groups)
        region = self._runtime.config.regions[self._region]
        return whole or region.transit_vpc(create.vpc_id) is not None

    def _service_zones(self, request: OutboundRequest) -> frozenset[str] | None:
        """The zones the connection's service runs in (None: not known yet, or the
        transit subnets' zones are not known: then every subnet is used, as before; or a
        service of another Region, whose zones are that Region's)."""
        found = self.catalog.zones(request.spec.serviceName)
        if found is None or request.spec.cross_region:
            return None
        if not self._runtime.subnet_zones.get(self._region):
            return None
        return found.zone_ids

    def _cannot_create(
        self, request: OutboundRequest, zones: frozenset[str] | None
    ) -> Outcome | None:
        """Why a create would be refused before it is sent (None: it may be sent): a
        service of a Region the platform does not reach from here, one AWS does not offer
        here, or one in no zone of the platform. Each waits without any AWS call."""
        spec, region = request.spec, self._runtime.config.regions[self._region]
        if spec.cross_region and spec.service_region not in region.remoteServiceRegions:
            return planner.remote_region_not_allowed(request, region.remoteServiceRegions)
        name = spec.serviceName
        if spec.cross_region and self.catalog.known(name) and self.catalog.zones(name) is None:
            return planner.remote_service_not_offered(request, region.platformPrincipal)
        if zones is not None and not zones & self._placements.pool_zones:
            return planner.no_common_zone(request, zones, self._placements.pool_zones)
        return None

    def _extension(self, current: Endpoint | None, zones: frozenset[str] | None) -> tuple[str, ...]:
        """Subnets of the endpoint's VPC in zones its service added since it was made."""
        if current is None or zones is None or not current.subnet_ids:
            return ()
        vpc = self._runtime.config.regions[self._region].transit_vpc(current.vpc_id)
        if vpc is None:
            return ()
        subnet_zones = self._runtime.subnet_zones.get(self._region, {})
        return missing_subnets(current.subnet_ids, vpc, subnet_zones, zones)

    def capacity(self, endpoints: Sequence[Endpoint]) -> tuple[VpcUsage, ...]:
        """Each transit VPC's used and capacity, as placement counts them."""
        now = self._runtime.monotonic()
        read_at = self._runtime.capacity_read_at.get(self._region, -math.inf)
        self._seen_full = {
            vpc_id: (held, at)
            for vpc_id, (held, at) in self._seen_full.items()
            if at > read_at and now - at < CAPACITY_READING_SECONDS
        }
        region = self._runtime.config.regions[self._region]
        quota = self._runtime.endpoints_per_vpc(self._region)
        unusable = self._runtime.unusable_vpcs.get(self._region, set())
        pool = [
            TransitVpc(v.vpcId, v.maxEndpoints or quota, v.draining or v.vpcId in unusable)
            for v in region.pool
        ]
        seen_full = {vpc_id: held for vpc_id, (held, _) in self._seen_full.items()}
        usages = usage(pool, endpoints, self._placed, seen_full)
        self._runtime.metrics.transit_capacity(self._region, usages)
        return usages

    def _guard(self, namespace: str, now: datetime, vpc_id: str | None) -> Guard | None:
        """The tenant's block as it bears on an endpoint in `vpc_id`: its group there,
        the VPC's shared groups, and the groups as AWS lists them (None: no VPC yet)."""
        if not vpc_id:
            return None
        return Guard(
            now,
            self._runtime.meter.blocked_until(namespace, now),
            self._group_ids.get((namespace, vpc_id)),
            self.groups.legacy_groups(vpc_id),
            self._listed_groups
            if self._runtime.views[self._region].groups_age() is not None
            else None,
            self._runtime.config.regions[self._region].transit_vpc(vpc_id) is not None,
        )

    def decide(self, snapshot: ObjectSnapshot, context: PassContext) -> Decision:
        memory = context.memories[snapshot.uid]
        if memory.in_flight:
            return Decision(deferred=True)  # its work writes its status when it ends
        try:
            clock = grace_clock(context.view, snapshot, self._now())
            request = request_from(snapshot, sync_requested=memory.sync_requested, now=clock)
        except InvalidObjectError as exc:
            return self._invalid(snapshot, context, str(exc))
        if request.wants_endpoint and memory.held_back(snapshot.generation, snapshot.status):
            return Decision()  # Stalled stays as written until the spec changes or a sync
        owned = context.view.owned_by(snapshot.uid)
        verdict = context.admission.verdict(snapshot.uid)
        current = planner.focus(owned, request.tracked_id)
        zones = self._service_zones(request)
        vpc_id = current.vpc_id if current else self._placed.get(snapshot.uid)
        guard = self._guard(snapshot.namespace, self._now(), vpc_id or self._placements.peek(zones))
        extend = self._extension(current, zones)
        the_plan = planner.plan(request, owned, verdict, guard, extend)
        creates = any(isinstance(a, CreateEndpoint) for a in the_plan.actions)
        refused = self._cannot_create(request, zones) if creates else None
        if refused is not None:
            # AWS would refuse: no AWS call until what it depends on changes.
            return Decision(self._patch(request, refused, snapshot.status, touch=memory.touch))
        # Whatever is made, or to be made, in AWS for a connection needs Causeway's
        # finalizer first, or deleting the object would leave it behind: the pass adds
        # it (kopf too, once it gets to the object) and, once the API server took it,
        # starts the work; else the status says what it waits for. Objects are guarded
        # in no particular order, so the connection holds its place in line meanwhile:
        # a younger one guarded sooner must not take its slot.
        unguarded = (creates or bool(owned)) and not (snapshot.guarded or snapshot.deleting)
        if not creates:
            self._placed.pop(snapshot.uid, None)
        if the_plan.actions:
            if self._runtime.monotonic() < memory.retry_at:
                return Decision(deferred=True)  # the status says what happened last
            if creates:
                placed = self._place(snapshot, request, owned, verdict, zones)
                if placed is None:
                    # No AWS call while it waits, and no write either unless it changed.
                    waiting = planner.waiting_for_capacity(request)
                    touch = memory.touch or unguarded
                    patch = self._patch(request, waiting, snapshot.status, touch=touch)
                    return Decision(patch, guard=unguarded)
                the_plan, guard = placed
            job = _Job(snapshot, the_plan, context.for_work, request, guard)
            if unguarded:
                waiting = planner.outcome(request, owned, verdict=verdict, guard=guard)
                patch = self._patch(request, waiting, snapshot.status, touch=True)
                return Decision(patch, work=lambda: self._work(job), guard=True)
            return Decision(work=lambda: self._work(job))
        result = planner.outcome(request, owned, verdict=verdict, guard=guard)
        answered = planner.pending_answered(request.pending, owned)
        patch = self._patch(request, result, snapshot.status, touch=memory.touch, answered=answered)
        settled = request.deleting and the_plan.settled
        return Decision(patch, settled=settled, awaiting_aws=not the_plan.settled, guard=unguarded)

    def _place(
        self,
        snapshot: ObjectSnapshot,
        request: OutboundRequest,
        owned: Sequence[Endpoint],
        verdict: Verdict,
        zones: frozenset[str] | None,
    ) -> tuple[OutboundPlan, Guard | None] | None:
        """The plan with its create placed in a transit VPC, and the guard of that VPC
        (None: no VPC has room). A create already sent keeps its VPC: a retry after a
        lost answer must not go to a second one."""
        vpc_id = self._slot(snapshot.uid, zones)
        if vpc_id is None:
            self._placed.pop(snapshot.uid, None)
            return None
        self._placed[snapshot.uid] = vpc_id
        return self._plan_in(request, owned, verdict, vpc_id, zones)

    def _plan_in(
        self,
        request: OutboundRequest,
        owned: Sequence[Endpoint],
        verdict: Verdict,
        vpc_id: str,
        zones: frozenset[str] | None,
    ) -> tuple[OutboundPlan, Guard | None]:
        """The plan with its create as it will be sent in `vpc_id`: with the tenant's
        group there (when made), in its subnets of the service's zones."""
        vpc = self._runtime.config.regions[self._region].transit_vpc(vpc_id)
        assert vpc is not None  # placement only chooses configured VPCs
        guard = self._guard(request.owner.namespace, self._now(), vpc_id)
        replanned = planner.plan(request, owned, verdict, guard)
        subnet_zones = self._runtime.subnet_zones.get(self._region, {})
        subnets = (
            subnets_for(vpc, subnet_zones, zones) if zones is not None else tuple(vpc.subnetIds)
        )
        actions = tuple(
            planner.placed(a, vpc_id, subnets, ()) if isinstance(a, CreateEndpoint) else a
            for a in replanned.actions
        )
        return replace(replanned, actions=actions), guard

    def _slot(self, uid: str, zones: frozenset[str] | None = None) -> str | None:
        """The transit VPC this connection's create goes to: the one it was placed in,
        while still configured, else the next with room in this pass that serves the
        service's zones (None: no room)."""
        placed = self._placed.get(uid)
        if placed is not None and self._runtime.config.regions[self._region].transit_vpc(placed):
            return placed
        return self._placements.take(zones)

    async def _work(self, job: _Job) -> WorkResult:
        assert job.request is not None
        view, uid = job.context.view, job.snapshot.uid
        try:
            await self._apply(job)
        except _NotRecordedError:
            # Nothing was sent: the next pass tries again (a Kubernetes write that did
            # not land is no AWS failure, and backing off would delay the create).
            return WorkResult(None)
        except _NoRoomError:
            self._health.succeeded(self._region)
            waiting = planner.waiting_for_capacity(job.request)
            # Every VPC refused the create: AWS made nothing, nothing is left to resolve.
            patch = self._patch(job.request, waiting, self._latest(job), touch=True, answered=True)
            return WorkResult(patch)
        except AwsCallError as exc:
            if classify(exc).kind is ErrorKind.TERMINAL:
                self._placed.pop(uid, None)  # AWS made nothing: the next try may go elsewhere
            return self._failed(job, view.owned_by(uid), exc)
        self._health.succeeded(self._region)
        owned = view.owned_by(uid)
        result = planner.outcome(job.request, owned, guard=job.guard)
        answered = _sends_a_create(job.plan) or planner.pending_answered(job.request.pending, owned)
        patch = self._patch(job.request, result, self._latest(job), touch=True, answered=answered)
        settled = job.request.deleting and _settled_now(view.owned_by(uid))
        return WorkResult(patch, settled=settled, awaiting_aws=True)

    def _latest(self, job: _Job) -> Mapping[str, Any]:
        """The object's status as the index holds it now (with what this job wrote)."""
        latest = self._runtime.index[OUTBOUND].get(job.snapshot.namespace, job.snapshot.name)
        return (latest or job.snapshot).status

    async def _apply(self, job: _Job) -> None:
        """The plan's calls, each within the AWS budget (this tenant's turn)."""
        for action in job.plan.actions:
            if isinstance(action, DeleteEndpoints):
                await self._delete(job, action)
            elif isinstance(action, CreateEndpoint):
                await self._create(job, action)
            elif isinstance(action, ResolveCreate):
                await self._resolve(job, action)
            elif isinstance(action, AdoptTenantGroup):
                await self._adopt(job, action)
            elif isinstance(action, ExtendEndpoint):
                await self._extend(job, action)

    async def _call(self, job: _Job, method: str, *args: Any) -> Any:
        """One call of the endpoint API, within this tenant's AWS budget."""
        api = _ACTIONS[method]
        call = partial(asyncio.to_thread, getattr(self._endpoints(), method), *args)
        return await self._runtime.budget.call(
            self._region, api, call, tenant=_tenant(job), order=_order(job)
        )

    async def _adopt(self, job: _Job, action: AdoptTenantGroup) -> None:
        """Onto the tenant's group (made first if need be) in one ModifyVpcEndpoint: the
        group added and the shared ones taken off together."""
        group = action.tenant_group
        if group is None:
            group = await self.groups.ensure(job.snapshot.namespace, action.vpc_id)
        add = (group,) if action.add else ()
        await self._call(job, "swap_groups", action.id, add, action.remove)
        _log(job).info(
            "Moved endpoint %s onto its tenant security group %s (off %s)",
            action.id,
            group,
            ", ".join(action.remove) or "no shared group",
        )
        view = job.context.view
        for endpoint in view.owned_by(job.snapshot.uid):
            if endpoint.id == action.id:
                kept = tuple(g for g in endpoint.security_groups if g not in action.remove)
                view.record([replace(endpoint, security_groups=(*kept, *add))])

    async def _extend(self, job: _Job, action: ExtendEndpoint) -> None:
        """Its service runs in more zones now: the endpoint serves them too."""
        await self._call(job, "add_subnets", action.id, action.subnet_ids)
        _log(job).info(
            "Extended endpoint %s into subnets %s (its service added zones)",
            action.id,
            ", ".join(action.subnet_ids),
        )
        view = job.context.view
        for endpoint in view.owned_by(job.snapshot.uid):
            if endpoint.id == action.id:
                subnets = (*endpoint.subnet_ids, *action.subnet_ids)
                view.record([replace(endpoint, subnet_ids=subnets)])

    async def _delete(self, job: _Job, action: DeleteEndpoints) -> None:
        call = partial(asyncio.to_thread, self._endpoints().delete, action.ids)
        deleted = await self._runtime.budget.call(
            self._region, "DeleteVpcEndpoints", call, tenant=_tenant(job), order=_order(job)
        )
        _log(job).info("Deleted endpoints %s", ", ".join(deleted))
        view = job.context.view
        owned = view.owned_by(job.snapshot.uid)
        view.record(planner.after_deletion([e for e in owned if e.id in deleted], deleted))

    async def _create(self, job: _Job, action: CreateEndpoint) -> None:
        """Create in the VPC placed; if AWS says that VPC is full after all, it counts as
        full from now on and the endpoint is placed in the next one, in the same pass, as
        a request of its own (that VPC's groups and subnets, a token of its own)."""
        assert job.request is not None
        zones = self._service_zones(job.request)
        if not action.security_groups:
            action = await self._with_tenant_group(job, action, zones)
        while True:
            try:
                await self._create_in(job, action)
                return
            except AwsCallError as exc:
                if exc.code not in _VPC_FULL:
                    raise
                self._vpc_refused(action.vpc_id, job.snapshot.uid, exc)
            vpc_id = self._placements.take(zones)
            if vpc_id is None:
                self._placed.pop(job.snapshot.uid, None)
                raise _NoRoomError
            self._placed[job.snapshot.uid] = vpc_id
            action = self._moved(job, vpc_id, zones)
            if not action.security_groups:
                action = await self._with_tenant_group(job, action, zones)

    async def _with_tenant_group(
        self, job: _Job, action: CreateEndpoint, zones: frozenset[str] | None
    ) -> CreateEndpoint:
        """The create planned again once the tenant's group in its VPC exists."""
        group = await self.groups.ensure(job.snapshot.namespace, action.vpc_id)
        self._group_ids[(job.snapshot.namespace, action.vpc_id)] = group
        return self._moved(job, action.vpc_id, zones)

    def _moved(self, job: _Job, vpc_id: str, zones: frozenset[str] | None) -> CreateEndpoint:
        """The create planned afresh for another VPC."""
        assert job.request is not None
        owned = job.context.view.owned_by(job.snapshot.uid)
        the_plan, _ = self._plan_in(job.request, owned, ADMITTED, vpc_id, zones)
        return next(a for a in the_plan.actions if isinstance(a, CreateEndpoint))

    def _vpc_refused(self, vpc_id: str, uid: str, error: AwsCallError) -> None:
        """AWS refused an endpoint in the VPC: it is as full as it is now until the next
        capacity reading (the quota may be lower than believed, or endpoints were made
        outside Causeway). Logged once per VPC, not once per connection."""
        view = self._runtime.views[self._region]
        held = sum(
            1
            for e in view.all_endpoints()
            if e.vpc_id == vpc_id and occupies_slot(e) and e.owner_uid != uid
        )
        if vpc_id not in self._seen_full:
            logger.warning(
                "Transit VPC %s in %s takes no more endpoints (%s: %s); counting it as full "
                "at %d until its capacity is read again",
                vpc_id,
                self._region,
                error.code,
                error.message,
                held,
            )
        self._seen_full[vpc_id] = (held, self._runtime.monotonic())
        self._placed.pop(uid, None)
        self._placements.refuse(vpc_id)

    async def _create_in(self, job: _Job, action: CreateEndpoint) -> None:
        """Record the create in status, then send it (within the budget): from the moment
        it may reach AWS until its answer is seen, the object says so durably."""

        async def record_then_send() -> Endpoint:
            await self._record(job, action)
            return await asyncio.to_thread(self._send, action)

        created = await self._runtime.budget.call(
            self._region,
            "CreateVpcEndpoint",
            record_then_send,
            tenant=_tenant(job),
            order=_order(job),
            on_wait=self._waiting(job),
        )
        _log(job).info(
            "Created endpoint %s to %s (%s)", created.id, action.service_name, created.state
        )
        job.context.view.record([created])

    def _send(self, action: CreateEndpoint) -> Endpoint:
        return self._endpoints().create(
            action.service_name,
            action.client_token,
            action.tags,
            security_groups=action.security_groups,
            vpc_id=action.vpc_id,
            subnet_ids=action.subnet_ids,
            service_region=action.service_region,
        )

    async def _record(self, job: _Job, action: CreateEndpoint) -> None:
        record = pending_record(action)
        if self._latest(job).get("pendingCreate") == record:
            return  # sent before, answer lost: the record stands
        if not await job.context.record(OUTBOUND, job.snapshot, {"pendingCreate": record}):
            raise _NotRecordedError

    async def _resolve(self, job: _Job, action: ResolveCreate) -> None:
        """Send the unanswered create again to learn its endpoint (see ResolveCreate)."""
        create, log = action.create, _log(job)
        if not self._sendable(create):
            log.warning(
                "A create sent to transit VPC %s had no answer, and that VPC is no longer "
                "configured: it cannot be sent again; an endpoint it made is found by its "
                "owner tags once AWS lists it",
                create.vpc_id,
            )
            return
        call = partial(asyncio.to_thread, self._send, create)
        found: Endpoint = await self._runtime.budget.call(
            self._region, "CreateVpcEndpoint", call, tenant=_tenant(job), order=_order(job)
        )
        log.info("A create whose answer was lost made endpoint %s (%s)", found.id, found.state)
        job.context.view.record([found])
        if action.delete:
            await self._delete(job, DeleteEndpoints((found.id,)))

    def _waiting(self, job: _Job) -> OnWait:
        """While the create waits for a token, the tenant reads how many are ahead."""

        async def report(ahead: int) -> None:
            assert job.request is not None
            latest = self._runtime.index[OUTBOUND].get(job.snapshot.namespace, job.snapshot.name)
            previous = (latest or job.snapshot).status
            result = awaiting_capacity(planner.outcome(job.request, []), ahead)
            patch = self._patch(job.request, result, previous, touch=False)
            if patch:
                await job.context.write(OUTBOUND, job.snapshot, patch)

        return report

    def _failed(self, job: _Job, owned: Sequence[Endpoint], error: AwsCallError) -> WorkResult:
        assert job.request is not None
        request, log = job.request, _log(job)
        rule = classify(error)
        context = ErrorContext(
            region=self._region,
            service_name=request.spec.serviceName,
            platform_principal=self._runtime.config.regions[self._region].platformPrincipal,
        )
        # Moving onto its tenant group never stalls the connection: AWS still serves it.
        # Nor does a recorded create AWS knows by its token (its endpoint is found by its
        # tag), nor one whose tenant group is gone (deleted by hand, say): made again.
        resending = error.code == _TOKEN_SEEN and request.pending is not None
        regrouping = self._tenant_group_gone(job, error)
        terminal = (
            rule.kind is ErrorKind.TERMINAL
            and not job.gating_only
            and not resending
            and not regrouping
        )
        problem = Problem(rule.reason, describe(error, context), terminal)
        if rule.platform:
            self._health.failed(self._region, rule, error)
        log.log(logging.DEBUG if rule.platform else logging.WARNING, "%s (%s)", error, rule.reason)
        result = planner.outcome(request, owned, problem, guard=job.guard)
        refused = _create_refused(error)
        patch = self._patch(request, result, self._latest(job), touch=True, answered=refused)
        # While the object is being deleted every failure is retried: releasing the
        # finalizer now could leave an endpoint behind that nobody tracks any more.
        failure = Failure.TERMINAL if terminal and not request.deleting else Failure.RECOVERABLE
        return WorkResult(patch, failure)

    def _tenant_group_gone(self, job: _Job, error: AwsCallError) -> bool:
        """AWS refused a create or a move because a group is gone, and that group is a
        tenant group (not one of the config's): it is forgotten, so the next try makes
        the tenant's group again (a config group gone is the admin's to fix)."""
        if error.code not in _GROUP_GONE:
            return False
        named: set[str] = set()
        for action in job.plan.actions:
            create = action.create if isinstance(action, ResolveCreate) else action
            if isinstance(create, CreateEndpoint):
                named.update(create.security_groups)
                named -= set(self.groups.legacy_groups(create.vpc_id))
            elif isinstance(action, AdoptTenantGroup) and action.tenant_group:
                named.add(action.tenant_group)
        for group in named:
            self._runtime.views[self._region].forget_group(group)
        self.groups.relist = True
        return bool(named)

    def unobserved(self, snapshot: ObjectSnapshot, problem: Problem) -> dict[str, Any] | None:
        """AWS could not be listed: a connection seen before keeps its phase and says it is
        not synced; a new one shows what it is about to do, and why it does not yet."""
        if snapshot.status.get("phase"):
            return unsynced_status(snapshot.status, problem, snapshot.generation, self._now())
        try:
            request = request_from(snapshot)
        except InvalidObjectError:
            return None
        result = with_problem(planner.outcome(request, []), problem)
        return self._patch(request, result, snapshot.status, touch=True)

    def _now(self) -> datetime:
        return self._runtime.clock()

    def _patch(
        self,
        request: OutboundRequest,
        result: Outcome,
        previous: Mapping[str, Any],
        *,
        touch: bool,
        answered: bool = False,
    ) -> dict[str, Any] | None:
        """The status patch for `result`; `answered`: AWS answered the recorded create
        (made the endpoint, or refused), so its record goes."""
        result = self._zoned(request, result)
        status = render_status(request.generation, result, previous, self._runtime.clock())
        if answered:
            status["pendingCreate"] = None
        return status_changes(previous, status, touch=touch)

    def _zoned(self, request: OutboundRequest, result: Outcome) -> Outcome:
        """The outcome with the zones its endpoint is in, and a word when its service no
        longer lists one of them (reported, not acted on: AWS keeps serving the rest)."""
        if "vpcEndpointId" not in result.fields:
            return result
        vpce = result.fields["vpcEndpointId"]
        owned = self._runtime.views[self._region].owned_by(request.owner.uid)
        endpoint = next((e for e in owned if e.id == vpce), None) if vpce else None
        subnet_zones = self._runtime.subnet_zones.get(self._region, {})
        subnets = endpoint.subnet_ids if endpoint is not None else ()
        zone_ids = sorted({z for z in (subnet_zones.get(s) for s in subnets) if z})
        fields = {**result.fields, "availabilityZoneIds": zone_ids}
        found = self.catalog.zones(request.spec.serviceName)
        dropped = dropped_zones(subnets, subnet_zones, found.zone_ids) if found else ()
        message = result.message
        if dropped and endpoint is not None and planner.is_live(endpoint):
            message = (
                f"{message} Your endpoint service no longer lists {', '.join(dropped)}, where "
                "this endpoint has a subnet: traffic there fails until the service serves "
                "that zone again."
            )
        return replace(result, fields=fields, message=message)

    def _invalid(self, snapshot: ObjectSnapshot, context: PassContext, detail: str) -> Decision:
        """Nothing is created for an object that does not parse. If it is being deleted,
        whatever it owns is still torn down: endpoints carry its uid, no spec needed."""
        message = f"The spec is invalid: {detail}. Fix the spec."
        touch = context.memories[snapshot.uid].touch
        patch = invalid_status(
            snapshot.status, snapshot.generation, message, self._now(), touch=touch
        )
        tracked = snapshot.status.get("vpcEndpointId")
        teardown = planner.plan_teardown(
            context.view.owned_by(snapshot.uid),
            tracked if isinstance(tracked, str) else None,
            pending_create(snapshot.status),
        )
        if not snapshot.deleting or teardown.settled:
            return Decision(patch, settled=snapshot.deleting)
        if not teardown.actions:
            return Decision(patch, awaiting_aws=True)
        job = _Job(snapshot, teardown, context.for_work)
        return Decision(work=lambda: self._teardown_only(job))

    async def _teardown_only(self, job: _Job) -> WorkResult:
        try:
            await self._apply(job)
        except AwsCallError as exc:
            _log(job).warning("%s (%s)", exc, classify(exc).reason)
            cleared = {"pendingCreate": None} if _create_refused(exc) else None
            return WorkResult(cleared, Failure.RECOVERABLE)
        resolved = _sends_a_create(job.plan) and "pendingCreate" in self._latest(job)
        return WorkResult({"pendingCreate": None} if resolved else None, awaiting_aws=True)

    def _endpoints(self) -> TransitEndpoints:
        return self._runtime.transit_endpoints(self._region)


# Phases in which the endpoint the status names is live (or being torn down): its
# tenant group is still on it, whatever a lagging listing shows.
_HOLDING_PHASES = frozenset(
    p.value
    for p in (
        Phase.PENDING_ACCEPTANCE,
        Phase.PENDING_ACTIVATION,
        Phase.READY,
        Phase.TEARDOWN_IN_PROGRESS,
    )
)


def _to_be_placed(snapshot: ObjectSnapshot) -> bool:
    """Provisioned, not being deleted, and waiting for an endpoint (none named, or its
    status shows it waiting): a create may come in any VPC of the pool. A connection
    whose endpoint ended waits for its tenant's sync instead, holding no group."""
    if snapshot.deleting or snapshot.spec.get("provisioned", True) is False:
        return False
    status = snapshot.status
    return not status.get("vpcEndpointId") or status.get("phase") in planner.WAITING_PHASES


def _settled_now(owned: Sequence[Endpoint]) -> bool:
    return planner.plan_teardown(owned).settled


# Each budgeted method of the endpoint API, with the AWS action it makes.
_ACTIONS = {
    "swap_groups": "ModifyVpcEndpoint",
    "add_subnets": "ModifyVpcEndpoint",
}


def _tagged_blocks(endpoints: Sequence[Endpoint]) -> dict[str, datetime]:
    """Per tenant, the latest block its live endpoints carry in their tags (endpoints
    blocked before tenant groups: their block stands until its time)."""
    blocks: dict[str, datetime] = {}
    for endpoint in endpoints:
        namespace, until = endpoint.owner_namespace, endpoint.blocked_until
        if namespace and until is not None and normalize(endpoint.state) in LIVE_STATES:
            blocks[namespace] = max(until, blocks.get(namespace, until))
    return blocks
