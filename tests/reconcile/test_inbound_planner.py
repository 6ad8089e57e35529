"""The InboundConnection planner, as tables: (request state, verdict, ranges) → actions
and phase; teardown rejects only what it accepted; the DNS record; and ConnectionQuota
status from admission's usage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from causeway.api import Phase
from causeway.api.inbound import InboundConnectionSpec, InboundConnectionStatus
from causeway.conditions import Progress
from causeway.domain import ConnectionRequest, Owner
from causeway.reconcile import inbound as planner
from causeway.reconcile.admission import (
    ADMITTED,
    NOT_ACCEPTABLE,
    Reason,
    Verdict,
)
from causeway.reconcile.inbound import (
    AcceptRequest,
    AllocateRange,
    InboundContext,
    InboundFacts,
    InboundRequest,
    RejectRequest,
    ReleaseRanges,
)
from causeway.reconcile.status import render_status

VPCE = "vpce-0123456789abcdef0"
CONTEXT = InboundContext("us-east-1", "com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d4e5f60718")
RANGE = "10.200.0.16/28"
T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
WAITING = Verdict(False, Reason.LICENSE_LIMIT, "All 1 inbound license is in use", 0)


def request(
    *, provisioned: bool = True, deleting: bool = False, domain: str | None = None
) -> InboundRequest:
    spec: dict[str, Any] = {
        "region": "us-east-1",
        "vpcEndpointId": VPCE,
        "provisioned": provisioned,
    }
    if domain:
        spec["privateDns"] = {"domain": domain}
    return InboundRequest(
        Owner("InboundConnection", "acme", "loader", "uid-1"),
        1,
        InboundConnectionSpec.model_validate(spec),
        deleting=deleting,
    )


def facts(
    state: str | None, verdict: Verdict = ADMITTED, ranges: tuple[str, ...] = ()
) -> InboundFacts:
    observed = (
        None
        if state is None
        else ConnectionRequest(VPCE, "222222222222", state, ("vpce-x.example",))
    )
    return InboundFacts(observed, verdict, ranges)


PLANS: list[tuple[str, InboundRequest, InboundFacts, list[Any]]] = [
    (
        "admitted, no range yet",
        request(),
        facts("pendingAcceptance"),
        [AllocateRange(RANGE), AcceptRequest(VPCE)],
    ),
    (
        "admitted, range kept",
        request(),
        facts("pendingAcceptance", ranges=(RANGE,)),
        [AcceptRequest(VPCE)],
    ),
    ("accepted out of band, then admitted", request(), facts("available"), [AllocateRange(RANGE)]),
    ("accepted and ranged", request(), facts("available", ranges=(RANGE,)), []),
    ("waiting for a license", request(), facts("pendingAcceptance", WAITING), []),
    (
        "endpoint not found",
        request(),
        facts(None, Verdict(False, Reason.ENDPOINT_NOT_FOUND, "x")),
        [],
    ),
    ("rejected stays rejected", request(), facts("rejected", NOT_ACCEPTABLE, (RANGE,)), []),
    (
        "a second range from a racing operator goes",
        request(),
        facts("available", ranges=(RANGE, "10.200.0.0/28")),
        [ReleaseRanges(("10.200.0.0/28",))],
    ),
    (
        "teardown of an accepted one",
        request(provisioned=False),
        facts("available", ranges=(RANGE,)),
        [RejectRequest(VPCE), ReleaseRanges((RANGE,))],
    ),
    (
        "teardown after the reject",
        request(deleting=True),
        facts("rejected", ranges=(RANGE,)),
        [ReleaseRanges((RANGE,))],
    ),
    (
        "teardown of a never accepted one",
        request(provisioned=False),
        facts("pendingAcceptance", WAITING),
        [],
    ),
    (
        "teardown leaves others' accepted endpoints alone",
        request(deleting=True),
        facts("available"),
        [],
    ),
]


@pytest.mark.parametrize(
    ("the_request", "the_facts", "actions"), [p[1:] for p in PLANS], ids=[p[0] for p in PLANS]
)
def test_plans(the_request: InboundRequest, the_facts: InboundFacts, actions: list[Any]) -> None:
    assert list(planner.plan(the_request, the_facts, RANGE).actions) == actions


def test_an_exhausted_pool_stalls_with_its_own_reason() -> None:
    plan = planner.plan(request(), facts("pendingAcceptance"), None)
    assert plan.exhausted and not plan.actions
    result = planner.outcome(
        request(), facts("pendingAcceptance"), CONTEXT, planner.exhausted("us-east-1")
    )
    assert (result.phase, result.progress, result.reason) == (
        Phase.UNPROVISIONED,
        Progress.STALLED,
        "SourceRangesExhausted",
    )


PHASES: list[tuple[str, InboundRequest, InboundFacts, Phase, Progress, str]] = [
    (
        "allocating",
        request(),
        facts("pendingAcceptance"),
        Phase.ALLOCATING,
        Progress.RECONCILING,
        "Accepting your endpoint",
    ),
    (
        "accepting",
        request(),
        facts("pendingAcceptance", ranges=(RANGE,)),
        Phase.PENDING_ACCEPTANCE,
        Progress.RECONCILING,
        RANGE,
    ),
    (
        "activating",
        request(),
        facts("pending", ranges=(RANGE,)),
        Phase.PENDING_ACTIVATION,
        Progress.RECONCILING,
        "activating",
    ),
    (
        "ready",
        request(),
        facts("available", ranges=(RANGE,)),
        Phase.READY,
        Progress.READY,
        f"from {RANGE}",
    ),
    (
        "rejected outside",
        request(),
        facts("rejected", NOT_ACCEPTABLE, (RANGE,)),
        Phase.REJECTED_REMOTELY,
        Progress.STALLED,
        "rejected",
    ),
    (
        "deleted by the tenant",
        request(),
        facts("deleted", NOT_ACCEPTABLE, (RANGE,)),
        Phase.DELETED_REMOTELY,
        Progress.STALLED,
        CONTEXT.service_name,
    ),
    (
        "waiting for a license",
        request(),
        facts("pendingAcceptance", WAITING),
        Phase.UNPROVISIONED,
        Progress.STALLED,
        "license",
    ),
    (
        "waiting for the tenant's endpoint",
        request(),
        facts(None, Verdict(False, Reason.ENDPOINT_NOT_FOUND, "create one")),
        Phase.UNPROVISIONED,
        Progress.RECONCILING,
        "create one",
    ),
    (
        "tearing down",
        request(provisioned=False),
        facts("available", ranges=(RANGE,)),
        Phase.TEARDOWN_IN_PROGRESS,
        Progress.RECONCILING,
        "Rejecting",
    ),
    (
        "placeholder",
        request(provisioned=False),
        facts("pendingAcceptance"),
        Phase.UNPROVISIONED,
        Progress.SETTLED,
        "Not provisioned",
    ),
]


@pytest.mark.parametrize(
    ("the_request", "the_facts", "phase", "progress", "fragment"),
    [p[1:] for p in PHASES],
    ids=[p[0] for p in PHASES],
)
def test_phases(
    the_request: InboundRequest,
    the_facts: InboundFacts,
    phase: Phase,
    progress: Progress,
    fragment: str,
) -> None:
    result = planner.outcome(the_request, the_facts, CONTEXT)
    assert (result.phase, result.progress) == (phase, progress)
    assert fragment in result.message
    status = render_status(1, result, {}, T0)
    assert InboundConnectionStatus.model_validate(status).phase is phase


def test_the_dns_record_names_the_zone_the_record_and_the_endpoint() -> None:
    result = planner.outcome(
        request(domain="acme.platform.example.com"), facts("pending", ranges=(RANGE,)), CONTEXT
    )
    assert result.fields["dnsRecord"] == {
        "zone": "acme.platform.example.com",
        "name": "acme.platform.example.com",
        "type": "A",
        "target": "vpce-x.example",
        "note": (
            "In Route 53, create a private hosted zone acme.platform.example.com associated with "
            f"the VPC of {VPCE}, and in it an alias A record acme.platform.example.com pointing "
            "at vpce-x.example."
        ),
    }
    assert "status.dnsRecord" in result.message
    assert planner.outcome(request(), facts("pending"), CONTEXT).fields["dnsRecord"] is None


@pytest.mark.parametrize(
    ("state", "accepted"),
    [
        (None, False),  # no request (yet, or gone)
        ("pendingAcceptance", False),
        ("pending", True),  # accepted, being provisioned
        ("available", True),
        ("rejected", False),
        ("deleted", False),
        ("failed", False),
    ],
)
def test_which_requests_let_the_tenant_in(state: str | None, accepted: bool) -> None:
    observed = None if state is None else ConnectionRequest("vpce-0a", "111122223333", state)
    assert planner.accepted(observed) is accepted
