"""InboundConnection's part of a region pass: find each object's request on the
platform service (in the region's listing), plan (pure, reconcile/inbound.py) with
the admission verdict and the ranges it holds, and do what is due for all objects
of the pass in one batch: source ranges allocated (one Kubernetes object each, so
the API server refuses a second holder), then one Accept call per service for every
request due, one Reject call for every teardown, and the ranges given back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from pydantic import ValidationError

from causeway.api import (
    INBOUND,
    OWNER_LABEL,
    SOURCE_RANGE_ALLOCATION,
    AllocationOwner,
    allocation_body,
    allocation_name,
    allocation_owner_uid,
)
from causeway.api.inbound import InboundConnectionSpec
from causeway.aws.connections import batches
from causeway.controllers.decisions import (
    Batch,
    Decision,
    Failure,
    PassContext,
    PassPlan,
    WorkResult,
)
from causeway.controllers.entitlements import Allocation, allocations_by_owner
from causeway.controllers.health import PlatformHealth
from causeway.controllers.observation import RegionView
from causeway.domain import ConnectionRequest, Owner, endpoint_service_name
from causeway.errors import AwsCallError, ErrorContext, ErrorKind, classify, describe
from causeway.index import ObjectSnapshot
from causeway.logs import object_logger
from causeway.reconcile import inbound as planner
from causeway.reconcile.admission import NOT_ACCEPTABLE
from causeway.reconcile.inbound import (
    AcceptRequest,
    AllocateRange,
    InboundContext,
    InboundFacts,
    InboundPlan,
    InboundRequest,
    RejectRequest,
    ReleaseRanges,
)
from causeway.reconcile.ranges import first_free
from causeway.reconcile.status import (
    Outcome,
    Problem,
    invalid_status,
    render_status,
    status_changes,
    unsynced_status,
    with_problem,
)
from causeway.runtime import Runtime

logger = logging.getLogger("causeway.inbound")
# AWS answers for a reject that has nothing left to reject: already gone is done.
_ALREADY_DONE = frozenset({"InvalidVpcEndpointId.NotFound", "InvalidState"})
ALLOCATION_ATTEMPTS = 5


class InvalidObjectError(Exception):
    """The object cannot be parsed (the CRD schema should have prevented it)."""


def request_from(snapshot: ObjectSnapshot) -> InboundRequest:
    try:
        spec = InboundConnectionSpec.model_validate(snapshot.spec)
    except ValidationError as exc:
        problems = [f"spec.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise InvalidObjectError("; ".join(problems)) from None
    return InboundRequest(
        owner=Owner(INBOUND.kind, snapshot.namespace, snapshot.name, snapshot.uid),
        generation=snapshot.generation,
        spec=spec,
        deleting=snapshot.deleting,
    )


@dataclass(frozen=True)
class _Due:
    """One object with work in this pass's batch."""

    snapshot: ObjectSnapshot
    request: InboundRequest
    facts: InboundFacts
    plan: InboundPlan


class InboundManager:
    """Decides, for the InboundConnections of one region in one pass, what to write or
    do, and does it in one batch."""

    kind = INBOUND

    def __init__(self, runtime: Runtime, region: str, health: PlatformHealth) -> None:
        self._runtime = runtime
        self._region = region
        self._health = health
        config = runtime.config.regions[region]
        self._pool = config.sourceIpPool
        service_id = config.inboundServiceId or ""
        self._context = InboundContext(region, endpoint_service_name(region, service_id))

    # -- deciding ------------------------------------------------------------------------

    def plan_pass(self, snapshots: Sequence[ObjectSnapshot], context: PassContext) -> PassPlan:
        held = allocations_by_owner(self._runtime)
        taken = {a.cidr for owned in held.values() for a in owned if a.region == self._region}
        result = PassPlan()
        due: list[_Due] = []
        for snapshot in snapshots:
            decision, work = self._decide(snapshot, context, held.get(snapshot.uid, []), taken)
            if work is not None:
                due.append(work)
                for action in work.plan.actions:
                    if isinstance(action, AllocateRange):
                        taken.add(action.cidr)  # the next object of this pass gets another
            else:
                result.decisions.append((snapshot, decision))
        if due:
            result.batches.append(
                Batch(tuple(d.snapshot for d in due), lambda: self._run(due, context.view))
            )
        return result

    def _decide(
        self,
        snapshot: ObjectSnapshot,
        context: PassContext,
        held: list[Allocation],
        taken: set[str],
    ) -> tuple[Decision, _Due | None]:
        memory = context.memories[snapshot.uid]
        if memory.in_flight:
            return Decision(deferred=True), None  # its work writes its status when it ends
        try:
            request = request_from(snapshot)
        except InvalidObjectError as exc:
            if not (snapshot.deleting and held):
                return self._invalid(snapshot, held, memory.touch, str(exc)), None
            request = self._teardown_request(snapshot, held[0])
        ranges = tuple(a.cidr for a in held if a.region == self._region)
        if self._pool is None:
            return self._not_offered(snapshot, request, memory.touch), None
        verdict = (
            context.admission.verdict(snapshot.uid) if request.wants_connection else NOT_ACCEPTABLE
        )
        facts = InboundFacts(context.view.connection(request.endpoint_id), verdict, ranges)
        the_plan = planner.plan(request, facts, first_free(self._pool, taken))
        unguarded = not (snapshot.guarded or snapshot.deleting)
        if unguarded and any(_acquires(a) for a in the_plan.actions):
            # The finalizer first (this pass adds it; kopf too, once it gets to the
            # object), with a status write each pass until it is there.
            waiting = planner.outcome(request, facts, self._context)
            patch = self._patch(request, waiting, snapshot.status, touch=True)
            return Decision(patch, guard=True), None
        if the_plan.actions:
            if self._runtime.monotonic() < memory.retry_at:
                return Decision(deferred=True), None
            return Decision(), _Due(snapshot, request, facts, the_plan)
        problem = planner.exhausted(self._region) if the_plan.exhausted else None
        result = planner.outcome(request, facts, self._context, problem)
        patch = self._patch(request, result, snapshot.status, touch=memory.touch)
        settled = request.deleting and the_plan.settled
        # Holding a range or an accepted request without the finalizer (accepted by an
        # earlier version, or the finalizer stripped): guarded too, or deleting the object
        # would leave the tenant's endpoint accepted with nothing behind it.
        holds = bool(ranges) or planner.accepted(facts.observed)
        return Decision(patch, settled=settled, guard=unguarded and holds), None

    # -- doing (one batch per pass) ------------------------------------------------------

    async def _run(self, due: list[_Due], view: RegionView) -> Mapping[str, WorkResult]:
        problems: dict[str, Problem] = {}
        ranges = {d.snapshot.uid: list(d.facts.ranges) for d in due}
        for item in due:
            await self._allocate(item, ranges, problems)
        accept = [d for d in due if _has(d, AcceptRequest) and d.snapshot.uid not in problems]
        reject = [d for d in due if _has(d, RejectRequest)]
        await self._call("accept", accept, view, problems)
        await self._call("reject", reject, view, problems)
        for item in due:
            if _has(item, ReleaseRanges) and item.snapshot.uid not in problems:
                await self._release(item, ranges, problems)
        return {
            d.snapshot.uid: self._result(d, ranges[d.snapshot.uid], view, problems) for d in due
        }

    async def _allocate(
        self, item: _Due, ranges: dict[str, list[str]], problems: dict[str, Problem]
    ) -> None:
        wanted = next((a.cidr for a in item.plan.actions if isinstance(a, AllocateRange)), None)
        if wanted is None:
            return
        uid, refused = item.snapshot.uid, set()
        cidr: str | None = wanted
        for _ in range(ALLOCATION_ATTEMPTS):
            if cidr is None:
                problems[uid] = planner.exhausted(self._region)
                return
            try:
                created = await asyncio.to_thread(
                    self._runtime.kube.create_cluster_object,
                    SOURCE_RANGE_ALLOCATION,
                    self._allocation(item, cidr),
                )
            except Exception as exc:  # the API server failed: retried with backoff
                problems[uid] = Problem(
                    "AllocationFailed", f"Could not record the range: {exc}", False
                )
                return
            if created is not None:
                self._runtime.index[SOURCE_RANGE_ALLOCATION].observe(None, created)
                ranges[uid].append(cidr)
                self._log(item).info("Allocated source range %s", cidr)
                return
            if await self._adopt(item, cidr, ranges):
                return  # another reconcile of this very object got there first
            refused.add(cidr)  # someone else holds that range: the next free one
            taken = {r for held in ranges.values() for r in held}
            cidr = first_free(self._pool or "", taken, skip=refused | self._taken_in_index())
        problems[uid] = Problem(
            "AllocationFailed", "Every candidate range was taken meanwhile.", False
        )

    async def _adopt(self, item: _Due, cidr: str, ranges: dict[str, list[str]]) -> bool:
        """Whether the existing allocation of that name is this object's own (a retried
        create whose first answer was lost). The object's allocations are selected by
        their owner label (the operator lists allocations anyway; it needs no right to
        read one by name), and one is its own only if its spec says so: the same rule
        the orphan collection judges by, so an adopted allocation is never collected."""
        name = allocation_name(self._region, cidr)
        uid = item.snapshot.uid
        with contextlib.suppress(Exception):  # unknown: try the next range instead
            owned = await asyncio.to_thread(
                self._runtime.kube.list_cluster_objects,
                SOURCE_RANGE_ALLOCATION,
                f"{OWNER_LABEL}={uid}",
            )
            found = next(
                (
                    a
                    for a in owned
                    if a["metadata"]["name"] == name
                    and allocation_owner_uid(a.get("spec") or {}) == uid
                ),
                None,
            )
            if found is not None:
                self._runtime.index[SOURCE_RANGE_ALLOCATION].observe(None, found)
                ranges[uid].append(cidr)
                return True
        return False

    def _taken_in_index(self) -> set[str]:
        held = allocations_by_owner(self._runtime)
        return {a.cidr for owned in held.values() for a in owned if a.region == self._region}

    def _allocation(self, item: _Due, cidr: str) -> dict[str, Any]:
        owner = item.request.owner
        holder = AllocationOwner(namespace=owner.namespace, name=owner.name, uid=owner.uid)
        return allocation_body(self._region, cidr, item.request.endpoint_id, holder)

    async def _call(
        self, verb: str, items: list[_Due], view: RegionView, problems: dict[str, Problem]
    ) -> None:
        """One Accept (or Reject) call per batch of items, each within the AWS budget
        (the platform's own turn); failures are per item."""
        by_endpoint = {item.request.endpoint_id: item for item in items}
        for batch in batches(list(by_endpoint)):
            await self._call_batch(verb, [by_endpoint[e] for e in batch], view, problems)

    async def _call_batch(
        self, verb: str, items: list[_Due], view: RegionView, problems: dict[str, Problem]
    ) -> None:
        connections = self._runtime.service_connections(self._region)
        method = connections.accept if verb == "accept" else connections.reject
        api = f"{verb.capitalize()}VpcEndpointConnections"
        ids = [item.request.endpoint_id for item in items]
        try:
            failed = await self._runtime.budget.call(
                self._region, api, partial(asyncio.to_thread, method, ids)
            )
        except AwsCallError as exc:
            problem = self._problem(exc)
            for item in items:
                problems[item.snapshot.uid] = problem
            return
        self._health.succeeded(self._region)
        new_state = "pending" if verb == "accept" else "rejected"
        for item in items:
            code_message = failed.get(item.request.endpoint_id)
            if code_message is None or (verb == "reject" and code_message[0] in _ALREADY_DONE):
                self._log(item).info(
                    "%sed connection request %s", verb.capitalize(), item.request.endpoint_id
                )
                if item.facts.observed is not None:
                    view.record_connections([replace(item.facts.observed, state=new_state)])
                continue
            code, message = code_message
            problems[item.snapshot.uid] = self._problem(AwsCallError(api, code, message))

    async def _release(
        self, item: _Due, ranges: dict[str, list[str]], problems: dict[str, Problem]
    ) -> None:
        uid = item.snapshot.uid
        action = next(a for a in item.plan.actions if isinstance(a, ReleaseRanges))
        for cidr in action.cidrs:
            name = allocation_name(self._region, cidr)
            try:
                await asyncio.to_thread(
                    self._runtime.kube.delete_cluster_object, SOURCE_RANGE_ALLOCATION, name
                )
            except Exception as exc:  # retried with backoff
                problems[uid] = Problem("ReleaseFailed", f"Could not release {cidr}: {exc}", False)
                return
            self._runtime.index[SOURCE_RANGE_ALLOCATION].observe(
                "DELETED", {"metadata": {"name": name, "namespace": ""}}
            )
            if cidr in ranges[uid]:
                ranges[uid].remove(cidr)
            self._log(item).info("Released source range %s", cidr)

    def _result(
        self, item: _Due, ranges: list[str], view: RegionView, problems: dict[str, Problem]
    ) -> WorkResult:
        problem = problems.get(item.snapshot.uid)
        facts = InboundFacts(
            view.connection(item.request.endpoint_id), item.facts.verdict, tuple(ranges)
        )
        result = planner.outcome(item.request, facts, self._context, problem)
        patch = self._patch(item.request, result, item.snapshot.status, touch=True)
        if problem is None:
            settled = item.request.deleting and not ranges
            return WorkResult(patch, settled=settled, awaiting_aws=not item.request.deleting)
        failure = (
            Failure.TERMINAL
            if problem.terminal and not item.request.deleting
            else Failure.RECOVERABLE
        )
        return WorkResult(patch, failure)

    def _problem(self, error: AwsCallError) -> Problem:
        rule = classify(error)
        if rule.platform:
            self._health.failed(self._region, rule, error)
        else:
            logger.warning("%s (%s)", error, rule.reason)
        context = ErrorContext(region=self._region)
        return Problem(rule.reason, describe(error, context), rule.kind is ErrorKind.TERMINAL)

    # -- statuses ------------------------------------------------------------------------

    def unobserved(self, snapshot: ObjectSnapshot, problem: Problem) -> dict[str, Any] | None:
        if snapshot.status.get("phase"):
            return unsynced_status(
                snapshot.status, problem, snapshot.generation, self._runtime.clock()
            )
        try:
            request = request_from(snapshot)
        except InvalidObjectError:
            return None
        facts = InboundFacts(None, NOT_ACCEPTABLE)
        result = with_problem(planner.outcome(request, facts, self._context), problem)
        return self._patch(request, result, snapshot.status, touch=True)

    def _not_offered(
        self, snapshot: ObjectSnapshot, request: InboundRequest, touch: bool
    ) -> Decision:
        facts = InboundFacts(None, NOT_ACCEPTABLE)
        result = planner.outcome(request, facts, self._context, planner.not_offered(self._region))
        return Decision(
            self._patch(request, result, snapshot.status, touch=touch), settled=request.deleting
        )

    def _invalid(
        self, snapshot: ObjectSnapshot, held: list[Allocation], touch: bool, detail: str
    ) -> Decision:
        """Nothing is accepted for an object that does not parse; one that held ranges
        before keeps them until it is fixed, or deleted (see _teardown_request)."""
        message = f"The spec is invalid: {detail}. Fix the spec."
        now = self._runtime.clock()
        patch = invalid_status(snapshot.status, snapshot.generation, message, now, touch=touch)
        return Decision(patch, settled=snapshot.deleting and not held)

    def _teardown_request(self, snapshot: ObjectSnapshot, allocation: Allocation) -> InboundRequest:
        """A deleting object whose spec does not parse is still torn down: its allocation
        records the region and endpoint it holds."""
        spec = InboundConnectionSpec(
            region=allocation.region, vpcEndpointId=allocation.endpoint_id, provisioned=False
        )
        owner = Owner(INBOUND.kind, snapshot.namespace, snapshot.name, snapshot.uid)
        return InboundRequest(owner, snapshot.generation, spec, deleting=True)

    def _patch(
        self, request: InboundRequest, result: Outcome, previous: Mapping[str, Any], *, touch: bool
    ) -> dict[str, Any] | None:
        status = render_status(request.generation, result, previous, self._runtime.clock())
        return status_changes(previous, status, touch=touch)

    def _log(self, item: _Due) -> logging.LoggerAdapter[logging.Logger]:
        return object_logger(
            logger, kind=INBOUND.kind, namespace=item.snapshot.namespace, name=item.snapshot.name
        )


def _has(item: _Due, action: type) -> bool:
    return any(isinstance(a, action) for a in item.plan.actions)


def _acquires(action: object) -> bool:
    """An action that gives the object something its deletion must take back."""
    return isinstance(action, AllocateRange | AcceptRequest)


def stray_accepted(view: RegionView, owned_endpoints: set[str]) -> list[ConnectionRequest]:
    """Accepted requests on the platform service that no InboundConnection owns
    (accepted outside Causeway): reported, never attached to a tenant silently."""
    return [
        c
        for c in view.all_connections()
        if c.state.lower() in {"pending", "available"} and c.endpoint_id not in owned_endpoints
    ]
