"""Pure planner for InboundConnection: given the object, its endpoint's request on the
platform service, the admission verdict and the source ranges it holds, decide what to
do (allocate a range, accept, reject, release) and where it stands.

Accepting is batched by the region reconciler (one call per service per pass); this
planner only says that the request is due."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from causeway.api import Phase
from causeway.api.inbound import InboundConnectionSpec
from causeway.conditions import Progress
from causeway.domain import ConnectionRequest, Owner
from causeway.reconcile.admission import ACCEPTABLE, ACCEPTED, Reason, Verdict
from causeway.reconcile.phases import PHASE_PROGRESS
from causeway.reconcile.status import Outcome, Problem, with_problem

RANGES_EXHAUSTED = "SourceRangesExhausted"
NOT_OFFERED = "InboundNotOffered"


@dataclass(frozen=True)
class InboundRequest:
    """One InboundConnection as the planner sees it."""

    owner: Owner
    generation: int
    spec: InboundConnectionSpec
    deleting: bool = False

    @property
    def wants_connection(self) -> bool:
        return self.spec.provisioned and not self.deleting

    @property
    def endpoint_id(self) -> str:
        return self.spec.vpcEndpointId


@dataclass(frozen=True)
class InboundContext:
    """Facts about the region the planner's messages need."""

    region: str
    service_name: str  # the platform's inbound endpoint service (what tenants point at)


@dataclass(frozen=True)
class InboundFacts:
    """What the planner knows beyond the object: its endpoint's request on the platform
    service (None: no such request), the admission verdict, and the ranges it holds."""

    observed: ConnectionRequest | None
    verdict: Verdict
    ranges: tuple[str, ...] = ()


@dataclass(frozen=True)
class AllocateRange:
    cidr: str


@dataclass(frozen=True)
class AcceptRequest:
    endpoint_id: str


@dataclass(frozen=True)
class RejectRequest:
    endpoint_id: str


@dataclass(frozen=True)
class ReleaseRanges:
    cidrs: tuple[str, ...]


Action = AllocateRange | AcceptRequest | RejectRequest | ReleaseRanges


@dataclass(frozen=True)
class InboundPlan:
    """What to do, in order, and whether nothing is left of it in AWS (for teardown)."""

    actions: tuple[Action, ...] = ()
    settled: bool = True
    exhausted: bool = False  # it should get a range and the pool has none left


def _state(observed: ConnectionRequest | None) -> str:
    return observed.state.lower() if observed is not None else "gone"


def accepted(observed: ConnectionRequest | None) -> bool:
    """The request is accepted (or on its way to it): the tenant's endpoint is let in."""
    return _state(observed) in ACCEPTED


def plan(request: InboundRequest, facts: InboundFacts, free_range: str | None) -> InboundPlan:
    """The actions for one InboundConnection. `facts.ranges` are oldest first;
    `free_range`: the range it would get now, if it needs one."""
    observed, ranges = facts.observed, facts.ranges
    if not request.wants_connection:
        return _plan_teardown(request, observed, ranges)
    if not facts.verdict.admitted:
        return InboundPlan()  # never accepted, never rejected: it waits
    state = _state(observed)
    if state not in ACCEPTABLE | ACCEPTED:
        return InboundPlan()
    actions: list[Action] = []
    if len(ranges) > 1:
        # Two racing operators gave it a second range: it keeps its first.
        actions.append(ReleaseRanges(tuple(ranges[1:])))
    if not ranges:
        if free_range is None:
            return InboundPlan(exhausted=True)
        actions.append(AllocateRange(free_range))
    if state in ACCEPTABLE:
        actions.append(AcceptRequest(request.endpoint_id))
    return InboundPlan(tuple(actions))


def _plan_teardown(
    request: InboundRequest, observed: ConnectionRequest | None, ranges: Sequence[str]
) -> InboundPlan:
    """Reject what it accepted (only what it owns: its allocation names it), then give
    the ranges back. A request it never accepted is left alone."""
    actions: list[Action] = []
    if ranges and accepted(observed):
        actions.append(RejectRequest(request.endpoint_id))
    if ranges:
        actions.append(ReleaseRanges(tuple(ranges)))
    return InboundPlan(tuple(actions), settled=not actions)


def outcome(
    request: InboundRequest,
    facts: InboundFacts,
    context: InboundContext,
    problem: Problem | None = None,
) -> Outcome:
    """Where the connection stands."""
    fields: dict[str, Any] = {
        "sourceIpRanges": list(facts.ranges),
        "dnsRecord": dns_record(request, facts.observed),
    }
    return with_problem(_standing(request, facts, context, fields), problem)


def _standing(
    request: InboundRequest, facts: InboundFacts, context: InboundContext, fields: dict[str, Any]
) -> Outcome:
    vpce, ranges, verdict = request.endpoint_id, facts.ranges, facts.verdict
    if not request.wants_connection:
        if ranges:
            message = f"Rejecting {vpce} and releasing its source range."
            return _at(Phase.TEARDOWN_IN_PROGRESS, message, fields)
        return _at(Phase.UNPROVISIONED, _UNPROVISIONED, fields)
    if verdict.reason is not None:
        waits_for_tenant = verdict.reason is Reason.ENDPOINT_NOT_FOUND
        progress = Progress.RECONCILING if waits_for_tenant else Progress.STALLED
        return Outcome(Phase.UNPROVISIONED, progress, verdict.reason.value, verdict.message, fields)
    state = _state(facts.observed)
    dns = _dns_step(request)
    cidr = ranges[0] if ranges else "(not yet allocated)"
    if state in ACCEPTABLE:
        phase = Phase.PENDING_ACCEPTANCE if ranges else Phase.ALLOCATING
        message = f"Accepting your endpoint {vpce} (source range {cidr}).{dns}"
        return _at(phase, message, fields)
    if state == "pending":
        return _at(Phase.PENDING_ACTIVATION, f"Accepted {vpce}; AWS is activating it.{dns}", fields)
    if state == "available":
        message = f"Connected: your endpoint {vpce} reaches the platform from {cidr}.{dns}"
        return _at(Phase.READY, message, fields)
    if state == "rejected":
        return _at(
            Phase.REJECTED_REMOTELY,
            f"The request from {vpce} was rejected on the platform's endpoint service outside "
            "Causeway. Ask the platform admin, or create a new endpoint and a new "
            "InboundConnection naming it.",
            fields,
        )
    return _at(
        Phase.DELETED_REMOTELY,
        f"Your endpoint {vpce} is {'gone' if state == 'gone' else state} in your account. To "
        f"reconnect, create a new endpoint to {context.service_name} and a new "
        "InboundConnection naming it (spec.vpcEndpointId cannot change).",
        fields,
    )


_UNPROVISIONED = "Not provisioned (spec.provisioned is false): the platform does not accept it."


def _at(phase: Phase, message: str, fields: dict[str, Any]) -> Outcome:
    return Outcome(phase, PHASE_PROGRESS[phase], phase.value, message, fields)


def dns_record(
    request: InboundRequest, observed: ConnectionRequest | None
) -> dict[str, Any] | None:
    """The record the tenant creates so its platform domain resolves to its endpoint:
    an alias A record at the apex of a private hosted zone for the domain."""
    if request.spec.privateDns is None or not request.wants_connection:
        return None
    domain = request.spec.privateDns.domain
    names = observed.dns_names if observed is not None else ()
    target = names[0] if names else f"(the DNS name of {request.endpoint_id})"
    return {
        "zone": domain,
        "name": domain,
        "type": "A",
        "target": target,
        "note": (
            f"In Route 53, create a private hosted zone {domain} associated with the VPC of "
            f"{request.endpoint_id}, and in it an alias A record {domain} pointing at {target}."
        ),
    }


def _dns_step(request: InboundRequest) -> str:
    if request.spec.privateDns is None:
        return ""
    domain = request.spec.privateDns.domain
    return f" Create the DNS record in status.dnsRecord so {domain} resolves to your endpoint."


def not_offered(region: str) -> Problem:
    """Inbound is off in this region (the config has no inbound service there)."""
    return Problem(
        NOT_OFFERED,
        f"The platform does not accept inbound connections in {region}. Ask the platform "
        "admin, or recreate the connection in a region that offers inbound.",
        terminal=True,
    )


def exhausted(region: str) -> Problem:
    return Problem(
        RANGES_EXHAUSTED,
        f"The platform has no source IP range left to give in {region}; the connection is "
        "accepted as soon as one frees up or a platform admin enlarges sourceIpPool.",
        terminal=True,
    )
