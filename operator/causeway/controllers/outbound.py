"""OutboundConnection's part of a region pass: find the endpoints that are the object's
own (in the region's listing) and its tenant's hourly-limit block, plan (pure,
reconcile/outbound.py), do the plan in AWS, and compute the status. The region
reconciler decides when this runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

from pydantic import ValidationError

from causeway.api import OUTBOUND, OutboundConnectionSpec
from causeway.aws.endpoints import TransitEndpoints
from causeway.controllers.budget import OnWait
from causeway.controllers.decisions import Decision, Failure, PassContext, PassPlan, WorkResult
from causeway.controllers.health import PlatformHealth
from causeway.domain import Endpoint, Owner
from causeway.errors import (
    AwsCallError,
    ErrorContext,
    ErrorKind,
    classify,
    describe,
)
from causeway.index import ObjectSnapshot
from causeway.logs import object_logger
from causeway.reconcile import outbound as planner
from causeway.reconcile.outbound import (
    SYNC_ANNOTATION,
    BlockEndpoint,
    CreateEndpoint,
    DeleteEndpoints,
    Guard,
    OutboundPlan,
    OutboundRequest,
    ReopenEndpoint,
)
from causeway.reconcile.phases import LIVE_STATES, normalize
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
from causeway.runtime import Runtime

logger = logging.getLogger("causeway.outbound")


class InvalidObjectError(Exception):
    """The object cannot be parsed (the CRD schema should have prevented it)."""


def request_from(snapshot: ObjectSnapshot, *, sync_requested: bool = False) -> OutboundRequest:
    """The planner's view of the object."""
    try:
        spec = OutboundConnectionSpec.model_validate(snapshot.spec)
    except ValidationError as exc:
        problems = [f"spec.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise InvalidObjectError("; ".join(problems)) from None
    return OutboundRequest(
        owner=Owner(OUTBOUND.kind, snapshot.namespace, snapshot.name, snapshot.uid),
        generation=snapshot.generation,
        spec=spec,
        tracked_id=snapshot.status.get("vpcEndpointId"),
        sync=str(snapshot.annotations.get(SYNC_ANNOTATION, "")),
        sync_requested=sync_requested,
        deleting=snapshot.deleting,
    )


@dataclass(frozen=True)
class _Job:
    """One object's AWS work of a pass. `request` is None when tearing down an object
    whose spec does not parse."""

    snapshot: ObjectSnapshot
    plan: OutboundPlan
    context: PassContext
    request: OutboundRequest | None = None
    guard: Guard | None = None

    @property
    def gating_only(self) -> bool:
        """Only blocking or reopening: AWS's serving of the connection is not at stake."""
        return all(isinstance(a, BlockEndpoint | ReopenEndpoint) for a in self.plan.actions)


def _tenant(job: _Job) -> str:
    return job.snapshot.namespace


def _order(job: _Job) -> tuple[str, str]:
    """Oldest first within the tenant's turn, as licenses are handed out."""
    return (job.snapshot.created, job.snapshot.name)


def _log(job: _Job) -> logging.LoggerAdapter[logging.Logger]:
    return object_logger(
        logger, kind=OUTBOUND.kind, namespace=job.snapshot.namespace, name=job.snapshot.name
    )


class OutboundManager:
    """Decides, for one OutboundConnection in one pass, what to write or do."""

    kind = OUTBOUND

    def __init__(self, runtime: Runtime, region: str, health: PlatformHealth) -> None:
        self._runtime = runtime
        self._region = region
        self._health = health

    def plan_pass(self, snapshots: Sequence[ObjectSnapshot], context: PassContext) -> PassPlan:
        """One decision per object; each object's AWS work is its own."""
        self._runtime.meter.tags_seen(self._region, _tagged_blocks(context.view.all_endpoints()))
        now = self._now()
        return PassPlan(
            [(s, self.decide(s, context, self._guard(s.namespace, now))) for s in snapshots]
        )

    def _guard(self, namespace: str, now: datetime) -> Guard:
        region = self._runtime.config.regions[self._region]
        return Guard(
            now,
            self._runtime.meter.blocked_until(namespace, now),
            region.blockedSecurityGroupId,
            tuple(region.securityGroupIds),
        )

    def decide(
        self, snapshot: ObjectSnapshot, context: PassContext, guard: Guard | None = None
    ) -> Decision:
        memory = context.memories[snapshot.uid]
        if memory.in_flight:
            return Decision(deferred=True)  # its work writes its status when it ends
        try:
            request = request_from(snapshot, sync_requested=memory.sync_requested)
        except InvalidObjectError as exc:
            return self._invalid(snapshot, context, str(exc))
        if request.wants_endpoint and memory.held_back(snapshot.generation, snapshot.status):
            return Decision()  # Stalled stays as written until the spec changes or a sync
        owned = context.view.owned_by(snapshot.uid)
        verdict = context.admission.verdict(snapshot.uid)
        guard = guard or self._guard(snapshot.namespace, self._now())
        the_plan = planner.plan(request, owned, verdict, guard)
        if the_plan.actions:
            if self._runtime.monotonic() < memory.retry_at:
                return Decision(deferred=True)  # the status says what happened last
            job = _Job(snapshot, the_plan, context, request, guard)
            return Decision(work=lambda: self._work(job))
        result = planner.outcome(request, owned, verdict=verdict, guard=guard)
        patch = self._patch(request, result, snapshot.status, touch=memory.touch)
        settled = request.deleting and the_plan.settled
        return Decision(patch, settled=settled, awaiting_aws=not the_plan.settled)

    async def _work(self, job: _Job) -> WorkResult:
        assert job.request is not None
        view, uid = job.context.view, job.snapshot.uid
        try:
            await self._apply(job)
        except AwsCallError as exc:
            return self._failed(job, view.owned_by(uid), exc)
        self._health.succeeded(self._region)
        result = planner.outcome(job.request, view.owned_by(uid), guard=job.guard)
        patch = self._patch(job.request, result, job.snapshot.status, touch=True)
        settled = job.request.deleting and _settled_now(view.owned_by(uid))
        return WorkResult(patch, settled=settled, awaiting_aws=True)

    async def _apply(self, job: _Job) -> None:
        """The plan's calls, each within the AWS budget (this tenant's turn)."""
        for action in job.plan.actions:
            if isinstance(action, DeleteEndpoints):
                await self._delete(job, action)
            elif isinstance(action, CreateEndpoint):
                await self._create(job, action)
            elif isinstance(action, BlockEndpoint):
                await self._block(job, action)
            elif isinstance(action, ReopenEndpoint):
                await self._reopen(job, action)

    async def _call(self, job: _Job, api: str, *args: Any) -> Any:
        """One call of the endpoint API, within this tenant's AWS budget."""
        method = getattr(self._endpoints(), _METHODS[api])
        call = partial(asyncio.to_thread, method, *args)
        return await self._runtime.budget.call(
            self._region, api, call, tenant=_tenant(job), order=_order(job)
        )

    async def _block(self, job: _Job, action: BlockEndpoint) -> None:
        """The tag first: a restart between the two calls still knows to block."""
        await self._call(job, "CreateTags", action.id, action.until)
        if action.remove:
            await self._call(
                job, "ModifyVpcEndpoint", action.id, [action.blocked_group], action.remove
            )
        _log(job).info(
            "Blocked endpoint %s until %s (hourly outbound limit)", action.id, action.until
        )
        self._remember(job, action.id, (action.blocked_group,), action.until)

    async def _reopen(self, job: _Job, action: ReopenEndpoint) -> None:
        """The groups first: the tag says to reopen until the groups are back."""
        if action.restore or action.remove:
            await self._call(job, "ModifyVpcEndpoint", action.id, action.restore, action.remove)
        await self._call(job, "DeleteTags", action.id)
        _log(job).info("Reopened endpoint %s", action.id)
        region = self._runtime.config.regions[self._region]
        self._remember(job, action.id, tuple(region.securityGroupIds), None)

    def _remember(
        self, job: _Job, vpce_id: str, groups: tuple[str, ...], until: datetime | None
    ) -> None:
        view = job.context.view
        for endpoint in view.owned_by(job.snapshot.uid):
            if endpoint.id == vpce_id:
                view.record([replace(endpoint, security_groups=groups, blocked_until=until)])

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
        endpoints = self._endpoints()
        call = partial(
            asyncio.to_thread,
            endpoints.create,
            action.service_name,
            action.client_token,
            action.tags,
            action.security_groups,
        )
        created = await self._runtime.budget.call(
            self._region,
            "CreateVpcEndpoint",
            call,
            tenant=_tenant(job),
            order=_order(job),
            on_wait=self._waiting(job),
        )
        _log(job).info(
            "Created endpoint %s to %s (%s)", created.id, action.service_name, created.state
        )
        job.context.view.record([created])

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
        snapshot, request, log = job.snapshot, job.request, _log(job)
        rule = classify(error)
        context = ErrorContext(
            region=self._region,
            service_name=request.spec.serviceName,
            platform_principal=self._runtime.config.regions[self._region].platformPrincipal,
        )
        # Blocking or reopening never stalls the connection: AWS still serves it.
        terminal = rule.kind is ErrorKind.TERMINAL and not job.gating_only
        problem = Problem(rule.reason, describe(error, context), terminal)
        if rule.platform:
            self._health.failed(self._region, rule, error)
        log.log(logging.DEBUG if rule.platform else logging.WARNING, "%s (%s)", error, rule.reason)
        result = planner.outcome(request, owned, problem, guard=job.guard)
        patch = self._patch(request, result, snapshot.status, touch=True)
        # While the object is being deleted every failure is retried: releasing the
        # finalizer now could leave an endpoint behind that nobody tracks any more.
        failure = Failure.TERMINAL if terminal and not request.deleting else Failure.RECOVERABLE
        return WorkResult(patch, failure)

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
    ) -> dict[str, Any] | None:
        status = render_status(request.generation, result, previous, self._runtime.clock())
        return status_changes(previous, status, touch=touch)

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
            context.view.owned_by(snapshot.uid), tracked if isinstance(tracked, str) else None
        )
        if not snapshot.deleting or teardown.settled:
            return Decision(patch, settled=snapshot.deleting)
        if not teardown.actions:
            return Decision(patch, awaiting_aws=True)
        job = _Job(snapshot, teardown, context)
        return Decision(work=lambda: self._teardown_only(job))

    async def _teardown_only(self, job: _Job) -> WorkResult:
        try:
            await self._apply(job)
        except AwsCallError as exc:
            _log(job).warning("%s (%s)", exc, classify(exc).reason)
            return WorkResult(None, Failure.RECOVERABLE)
        return WorkResult(None, awaiting_aws=True)

    def _endpoints(self) -> TransitEndpoints:
        return self._runtime.transit_endpoints(self._region)


def _settled_now(owned: Sequence[Endpoint]) -> bool:
    return planner.plan_teardown(owned).settled


# The endpoint API's method for each budgeted AWS call.
_METHODS = {
    "CreateTags": "mark_blocked",
    "DeleteTags": "unmark_blocked",
    "ModifyVpcEndpoint": "swap_groups",
}


def _tagged_blocks(endpoints: Sequence[Endpoint]) -> dict[str, datetime]:
    """Per tenant, the latest block its live endpoints carry in their tags."""
    blocks: dict[str, datetime] = {}
    for endpoint in endpoints:
        namespace, until = endpoint.owner_namespace, endpoint.blocked_until
        if namespace and until is not None and normalize(endpoint.state) in LIVE_STATES:
            blocks[namespace] = max(until, blocks.get(namespace, until))
    return blocks
