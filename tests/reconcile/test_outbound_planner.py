"""The OutboundConnection planner, as tables: AWS state → phase and kstatus, and
(object, owned endpoints) → actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from causeway.api import OutboundConnectionSpec, OutboundConnectionStatus, Phase
from causeway.conditions import Progress
from causeway.domain import Endpoint, Owner, client_token
from causeway.reconcile import outbound as planner
from causeway.reconcile import status as rendering
from causeway.reconcile.outbound import CreateEndpoint, DeleteEndpoints, OutboundRequest
from causeway.reconcile.status import Problem

SERVICE = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
OWNER = Owner("OutboundConnection", "acme", "inventory", "uid-1")
T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def request(**changes: Any) -> OutboundRequest:
    spec = OutboundConnectionSpec.model_validate(
        {
            "region": "us-east-1",
            "serviceName": SERVICE,
            "provisioned": changes.pop("provisioned", True),
        }
    )
    return OutboundRequest(
        owner=OWNER, generation=changes.pop("generation", 1), spec=spec, **changes
    )


def ep(vpce: str, state: str, minute: int = 0) -> Endpoint:
    return Endpoint(
        vpce, state, SERVICE, (f"{vpce}.example",), OWNER.uid, T0 + timedelta(minutes=minute)
    )


# --- every AWS state → phase, progress and the endpoint id kept in status -------------------

STATE_TABLE = [
    # AWS state,            phase,                         kstatus
    ("pendingAcceptance", Phase.PENDING_ACCEPTANCE, Progress.RECONCILING),
    ("PendingAcceptance", Phase.PENDING_ACCEPTANCE, Progress.RECONCILING),
    ("pending", Phase.PENDING_ACTIVATION, Progress.RECONCILING),
    ("available", Phase.READY, Progress.READY),
    ("rejected", Phase.REJECTED_REMOTELY, Progress.STALLED),
    ("deleted", Phase.DELETED_REMOTELY, Progress.STALLED),
    ("expired", Phase.DELETED_REMOTELY, Progress.STALLED),
    ("failed", Phase.DELETED_REMOTELY, Progress.STALLED),
    ("deleting", Phase.TEARDOWN_IN_PROGRESS, Progress.RECONCILING),
]


@pytest.mark.parametrize(("state", "phase", "progress"), STATE_TABLE)
def test_aws_state_maps_to_phase(state: str, phase: Phase, progress: Progress) -> None:
    result = planner.outcome(request(tracked_id="vpce-1"), [ep("vpce-1", state)])
    assert (result.phase, result.progress, result.fields["vpcEndpointId"]) == (
        phase,
        progress,
        "vpce-1",
    )
    assert result.reason == phase.value


def test_gone_endpoint_is_deleted_remotely_and_says_so() -> None:
    result = planner.outcome(request(tracked_id="vpce-1"), [])
    assert result.phase is Phase.DELETED_REMOTELY
    assert "gone" in result.message and "causeway.dev/sync" in result.message


@pytest.mark.parametrize(
    ("state", "word"), [("expired", "expired"), ("failed", "failed"), ("deleted", "deleted")]
)
def test_deleted_remotely_message_names_the_state(state: str, word: str) -> None:
    assert word in planner.outcome(request(tracked_id="vpce-1"), [ep("vpce-1", state)]).message


def test_pending_acceptance_tells_the_tenant_what_to_accept() -> None:
    message = planner.outcome(
        request(tracked_id="vpce-1"), [ep("vpce-1", "pendingAcceptance")]
    ).message
    assert message == (
        "Accept the connection request vpce-1 on your endpoint service "
        "vpce-svc-0123456789abcdef0 in us-east-1."
    )


def test_dns_names_only_while_the_endpoint_is_live() -> None:
    def dns_names(state: str) -> list[str]:
        return list(
            planner.outcome(request(tracked_id="vpce-1"), [ep("vpce-1", state)]).fields["dnsNames"]
        )

    assert dns_names("available") == ["vpce-1.example"]
    assert dns_names("rejected") == []


def test_nothing_allocated_yet_is_allocating() -> None:
    assert planner.outcome(request(), []).phase is Phase.ALLOCATING


@pytest.mark.parametrize(
    ("owned", "phase"),
    [
        ([], Phase.UNPROVISIONED),
        ([ep("vpce-1", "deleted")], Phase.UNPROVISIONED),
        ([ep("vpce-1", "deleting")], Phase.TEARDOWN_IN_PROGRESS),
    ],
)
def test_unprovisioned_phases(owned: list[Endpoint], phase: Phase) -> None:
    result = planner.outcome(request(provisioned=False, tracked_id="vpce-1"), owned)
    assert result.phase is phase
    assert result.fields["vpcEndpointId"] == (None if phase is Phase.UNPROVISIONED else "vpce-1")


# --- problems ------------------------------------------------------------------------------


def test_terminal_problem_before_allocation_is_unprovisioned_and_stalled() -> None:
    result = planner.outcome(
        request(), [], Problem("ServiceNotAllowed", "allow-list arn:x", terminal=True)
    )
    assert (result.phase, result.progress, result.reason) == (
        Phase.UNPROVISIONED,
        Progress.STALLED,
        "ServiceNotAllowed",
    )


def test_recoverable_problem_keeps_what_the_tenant_sees_and_marks_it_unsynced() -> None:
    problem = Problem("AwsThrottled", "busy", terminal=False)
    result = planner.outcome(request(tracked_id="vpce-1"), [ep("vpce-1", "available")], problem)
    assert (result.phase, result.progress, result.reason) == (Phase.READY, Progress.READY, "Ready")
    assert result.message.startswith("Connected:") and result.sync_problem == problem
    status = rendering.render_status(1, result, {}, T0)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "True"  # never Ready=False beside phase Ready
    assert (conditions["Synced"]["status"], conditions["Synced"]["reason"]) == (
        "False",
        "AwsThrottled",
    )


def test_unobserved_status_changes_only_the_synced_condition() -> None:
    req = request(tracked_id="vpce-1")
    stored = rendering.render_status(1, planner.outcome(req, [ep("vpce-1", "available")]), {}, T0)
    patch = rendering.unsynced_status(
        stored, Problem("PlatformCredentialsMissing", "no credentials", False), 1, T0
    )
    assert patch is not None and set(patch) == {"conditions"}
    after = {c["type"]: c for c in patch["conditions"]}
    before = {c["type"]: c for c in stored["conditions"]}
    assert {k: after[k] for k in ("Ready", "Reconciling", "Stalled")} == {
        k: before[k] for k in ("Ready", "Reconciling", "Stalled")
    }
    assert (after["Synced"]["status"], after["Synced"]["reason"]) == (
        "False",
        "PlatformCredentialsMissing",
    )
    again = rendering.unsynced_status(
        {**stored, "conditions": patch["conditions"]},
        Problem("PlatformCredentialsMissing", "no credentials", False),
        1,
        T0,
    )
    assert again is None  # a repeated failure writes nothing


# --- plans ---------------------------------------------------------------------------------

CREATE = "create"
PLAN_TABLE: list[tuple[str, dict[str, Any], list[Endpoint], list[Any], bool]] = [
    # name, request changes, owned endpoints, expected actions, settled
    ("first create", {}, [], [CREATE], True),
    ("adopt after a crash", {}, [ep("vpce-1", "pendingAcceptance")], [], True),
    ("tracked and available", {"tracked_id": "vpce-1"}, [ep("vpce-1", "available")], [], True),
    (
        "duplicate from a lost create is deleted",
        {"tracked_id": "vpce-1"},
        [ep("vpce-1", "available"), ep("vpce-2", "pendingAcceptance", 1)],
        [DeleteEndpoints(("vpce-2",))],
        True,
    ),
    (
        "oldest live wins without tracking",
        {},
        [ep("vpce-2", "available", 1), ep("vpce-1", "pendingAcceptance")],
        [DeleteEndpoints(("vpce-2",))],
        True,
    ),
    ("gone stays gone without sync", {"tracked_id": "vpce-1"}, [], [], True),
    (
        "gone is recreated on sync",
        {"tracked_id": "vpce-1", "sync_requested": True, "sync": "2"},
        [],
        [CREATE],
        True,
    ),
    ("rejected stays without sync", {"tracked_id": "vpce-1"}, [ep("vpce-1", "rejected")], [], True),
    (
        "rejected is replaced on sync",
        {"tracked_id": "vpce-1", "sync_requested": True},
        [ep("vpce-1", "rejected")],
        [DeleteEndpoints(("vpce-1",)), CREATE],
        True,
    ),
    (
        "deleted is replaced on sync without a delete",
        {"tracked_id": "vpce-1", "sync_requested": True},
        [ep("vpce-1", "deleted")],
        [CREATE],
        True,
    ),
    (
        "live endpoint ignores sync",
        {"tracked_id": "vpce-1", "sync_requested": True},
        [ep("vpce-1", "available")],
        [],
        True,
    ),
    (
        "tracked dead but a live one exists",
        {"tracked_id": "vpce-1"},
        [ep("vpce-1", "rejected"), ep("vpce-2", "pendingAcceptance", 1)],
        [],
        True,
    ),
    (
        "unprovision deletes",
        {"provisioned": False, "tracked_id": "vpce-1"},
        [ep("vpce-1", "available")],
        [DeleteEndpoints(("vpce-1",))],
        False,
    ),
    (
        "unprovision deletes rejected ones too",
        {"provisioned": False},
        [ep("vpce-1", "rejected"), ep("vpce-2", "deleted")],
        [DeleteEndpoints(("vpce-1",))],
        False,
    ),
    (
        "unprovision waits while deleting",
        {"provisioned": False},
        [ep("vpce-1", "deleting")],
        [],
        False,
    ),
    ("unprovision done", {"provisioned": False}, [ep("vpce-1", "deleted")], [], True),
    (
        "deletion deletes",
        {"deleting": True, "tracked_id": "vpce-1"},
        [ep("vpce-1", "pendingAcceptance")],
        [DeleteEndpoints(("vpce-1",))],
        False,
    ),
    ("deletion of nothing is done", {"deleting": True}, [], [], True),
]


@pytest.mark.parametrize(
    ("name", "changes", "owned", "expected", "settled"),
    PLAN_TABLE,
    ids=[row[0] for row in PLAN_TABLE],
)
def test_plan(
    name: str, changes: dict[str, Any], owned: list[Endpoint], expected: list[Any], settled: bool
) -> None:
    req = request(**changes)
    the_plan = planner.plan(req, owned)
    want = [
        CreateEndpoint(SERVICE, client_token(OWNER, req.generation, req.sync), OWNER.tags())
        if a == CREATE
        else a
        for a in expected
    ]
    assert list(the_plan.actions) == want
    assert the_plan.settled is settled


def test_client_token_is_deterministic_per_generation_and_sync() -> None:
    assert client_token(OWNER, 1, "") == client_token(OWNER, 1, "")
    assert (
        len({client_token(OWNER, 1, ""), client_token(OWNER, 2, ""), client_token(OWNER, 1, "x")})
        == 3
    )
    assert len(client_token(OWNER, 1, "")) <= 64


def test_owner_tags_fit_aws_tag_limits_for_the_longest_names() -> None:
    longest = Owner("OutboundConnection", "n" * 63, "o" * 253, "u" * 36)
    assert all(len(key) <= 128 and len(value) <= 256 for key, value in longest.tags().items())
    assert longest.tags()["causeway.dev/owner-name"] == "o" * 253


def test_owner_tags_carry_namespace_name_and_uid() -> None:
    tags = OWNER.tags()
    assert tags["causeway.dev/owner-namespace"] == "acme"
    assert tags["causeway.dev/owner-name"] == "inventory"
    assert tags["causeway.dev/owner-uid"] == "uid-1"


# --- status rendering -----------------------------------------------------------------------


def test_status_is_rendered_with_conditions_and_generation() -> None:
    req = request(tracked_id="vpce-1", generation=3)
    status = rendering.render_status(
        req.generation, planner.outcome(req, [ep("vpce-1", "available")]), {}, T0
    )
    assert status["phase"] == "Ready" and status["observedGeneration"] == 3
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["observedGeneration"], ready["lastTransitionTime"]) == (
        "True",
        3,
        "2026-11-22T12:00:00Z",
    )


def test_no_op_refresh_writes_nothing_but_a_handler_touches_sync_time() -> None:
    req = request(tracked_id="vpce-1")
    first = rendering.render_status(
        req.generation, planner.outcome(req, [ep("vpce-1", "available")]), {}, T0
    )
    again = rendering.render_status(
        req.generation,
        planner.outcome(req, [ep("vpce-1", "available")]),
        first,
        T0 + timedelta(minutes=5),
    )
    assert rendering.status_changes(first, again, touch=False) is None
    assert rendering.status_changes(first, again, touch=True) == {
        "lastSyncTime": "2026-11-22T12:05:00Z"
    }


def test_a_change_is_written_with_the_new_sync_time() -> None:
    req = request(tracked_id="vpce-1")
    first = rendering.render_status(
        req.generation, planner.outcome(req, [ep("vpce-1", "pendingAcceptance")]), {}, T0
    )
    later = rendering.render_status(
        req.generation,
        planner.outcome(req, [ep("vpce-1", "available")]),
        first,
        T0 + timedelta(minutes=1),
    )
    patch = rendering.status_changes(first, later, touch=False)
    assert patch is not None
    assert patch["phase"] == "Ready" and patch["lastSyncTime"] == "2026-11-22T12:01:00Z"
    assert "dnsNames" not in patch and "vpcEndpointId" not in patch  # unchanged fields stay out
    assert next(c for c in patch["conditions"] if c["type"] == "Ready")["status"] == "True"


def test_removed_endpoint_id_is_patched_to_null() -> None:
    req = request(provisioned=False, tracked_id="vpce-1")
    status = rendering.render_status(
        req.generation, planner.outcome(req, []), {"vpcEndpointId": "vpce-1"}, T0
    )
    assert (
        rendering.status_changes({"vpcEndpointId": "vpce-1"}, status, touch=False)["vpcEndpointId"]
        is None
    )  # type: ignore[index]


@pytest.mark.parametrize(("state", "phase", "progress"), STATE_TABLE)
def test_rendered_status_fits_the_api_model(state: str, phase: Phase, progress: Progress) -> None:
    req = request(tracked_id="vpce-0123456789abcdef0")
    endpoint = Endpoint("vpce-0123456789abcdef0", state, SERVICE, ("a.example",), OWNER.uid, T0)
    status = rendering.render_status(req.generation, planner.outcome(req, [endpoint]), {}, T0)
    assert OutboundConnectionStatus.model_validate(status).phase is phase


# --- the hourly-limit block: guard → block, reopen, or nothing ---------------------------

OPEN_SG, OTHER_SG, BLOCKED_SG = "sg-open", "sg-other", "sg-blocked"
VPCE = "vpce-0a1b2c3d4e5f60718"
NOON = datetime(2026, 11, 28, 12, 20, tzinfo=UTC)
ONE = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)
PAST = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def guarded(
    until: datetime | None, *, blocked_group: str | None = BLOCKED_SG, now: datetime = NOON
) -> planner.Guard:
    return planner.Guard(now, until, blocked_group, (OPEN_SG,))


def live(
    state: str = "available",
    groups: tuple[str, ...] = (OPEN_SG,),
    tag: datetime | None = None,
    recorded: tuple[str, ...] | None = None,
) -> Endpoint:
    return Endpoint(
        VPCE, state, SERVICE, (f"{VPCE}.example",), OWNER.uid, T0, "acme", groups, tag, recorded
    )


OLD_SG = "sg-from-an-earlier-config"
Block = planner.BlockEndpoint
Reopen = planner.ReopenEndpoint
GATE_TABLE = [
    # endpoint's groups, groups recorded on it (None: made before they were recorded),
    # its block tag, tenant blocked until, blocking on?, expected action
    ((OPEN_SG,), None, None, None, True, None),
    (
        (OPEN_SG,),
        None,
        None,
        ONE,
        True,
        Block(VPCE, ONE, BLOCKED_SG, (OPEN_SG,), (BLOCKED_SG,), (BLOCKED_SG,)),
    ),
    # a group someone else added is not Causeway's to take off (nor allowed to)
    (
        (OPEN_SG, OTHER_SG),
        None,
        None,
        ONE,
        True,
        Block(VPCE, ONE, BLOCKED_SG, (OPEN_SG,), (BLOCKED_SG,), (OTHER_SG, BLOCKED_SG)),
    ),
    # created under an earlier config: its own groups are swapped, not the config's
    (
        (OLD_SG,),
        (OLD_SG,),
        None,
        ONE,
        True,
        Block(VPCE, ONE, BLOCKED_SG, (OLD_SG,), (BLOCKED_SG,), (BLOCKED_SG,)),
    ),
    ((BLOCKED_SG,), None, ONE, ONE, True, None),  # done already
    # marked but the swap did not happen (a crash between the two): finish it
    (
        (OPEN_SG,),
        None,
        ONE,
        ONE,
        True,
        Block(VPCE, ONE, BLOCKED_SG, (OPEN_SG,), (BLOCKED_SG,), (BLOCKED_SG,)),
    ),
    # still blocked from an earlier hour and blocked again: only the tag moves
    ((BLOCKED_SG,), None, PAST, ONE, True, Block(VPCE, ONE, BLOCKED_SG, (), (), (BLOCKED_SG,))),
    # the hour is over: reopen with the groups it had
    ((BLOCKED_SG,), None, PAST, None, True, Reopen(VPCE, (OPEN_SG,), (BLOCKED_SG,), (OPEN_SG,))),
    ((BLOCKED_SG,), (OLD_SG,), PAST, None, True, Reopen(VPCE, (OLD_SG,), (BLOCKED_SG,), (OLD_SG,))),
    (
        (BLOCKED_SG, OTHER_SG),
        None,
        PAST,
        None,
        True,
        Reopen(VPCE, (OPEN_SG,), (BLOCKED_SG,), (OTHER_SG, OPEN_SG)),
    ),
    ((BLOCKED_SG,), None, ONE, PAST, True, Reopen(VPCE, (OPEN_SG,), (BLOCKED_SG,), (OPEN_SG,))),
    # reopened but the tag removal failed: only the tag goes
    ((OPEN_SG,), None, PAST, None, True, Reopen(VPCE, (), (), (OPEN_SG,))),
    # blocking is off in the region: nothing is blocked; an old block is undone by giving
    # the open groups back (the rule-less blocked group, unknown now, adds nothing)
    ((OPEN_SG,), None, None, ONE, False, None),
    ((BLOCKED_SG,), None, ONE, ONE, False, Reopen(VPCE, (OPEN_SG,), (), (BLOCKED_SG, OPEN_SG))),
]


GateCase = tuple[
    tuple[str, ...], tuple[str, ...] | None, datetime | None, datetime | None, bool, Any
]


@pytest.mark.parametrize("case", GATE_TABLE)
def test_the_block_follows_the_tenant_moving_only_causeways_groups(case: GateCase) -> None:
    groups, recorded, tag, until, enforced, expected = case
    guard = guarded(until, blocked_group=BLOCKED_SG if enforced else None)
    endpoint = live(groups=groups, tag=tag, recorded=recorded)
    actions = planner.plan(request(tracked_id=VPCE), [endpoint], guard=guard)
    assert actions.actions == ((expected,) if expected else ())


def test_new_endpoints_record_the_groups_they_open_with() -> None:
    for until in (None, ONE):  # a blocked tenant's starts blocked, and knows what opens it
        create = planner.plan(request(), [], guard=guarded(until)).actions[0]
        assert isinstance(create, CreateEndpoint)
        assert create.tags["causeway.dev/security-groups"] == OPEN_SG


def test_a_block_aws_has_not_shown_is_reported_in_progress_not_in_effect() -> None:
    """Tagged (the first call) but the groups not swapped yet: the connection must not
    say its traffic is blocked, nor give a blockedUntil for credentials to repeat."""
    marked = live(groups=(OPEN_SG,), tag=ONE)
    result = planner.outcome(request(tracked_id=VPCE), [marked], guard=guarded(ONE))
    assert result.fields["blockedUntil"] is None
    (condition,) = result.conditions
    assert (condition.type, condition.status, condition.reason) == (
        "Blocked",
        False,
        "BlockInProgress",
    )
    assert "may still pass" in result.message
    swapped = live(groups=(BLOCKED_SG,), tag=ONE)
    done = planner.outcome(request(tracked_id=VPCE), [swapped], guard=guarded(ONE))
    assert done.fields["blockedUntil"] == "2026-11-28T13:00:00Z"
    assert done.conditions[0].status is True


@pytest.mark.parametrize("state", ["pendingAcceptance", "pending", "available"])
def test_every_live_endpoint_is_blocked(state: str) -> None:
    the_plan = planner.plan(request(tracked_id=VPCE), [live(state)], guard=guarded(ONE))
    assert [type(a) for a in the_plan.actions] == [planner.BlockEndpoint]


@pytest.mark.parametrize("state", ["rejected", "deleting", "deleted", "failed"])
def test_dead_or_leaving_endpoints_are_left_alone(state: str) -> None:
    assert planner.plan(request(tracked_id=VPCE), [live(state)], guard=guarded(ONE)).actions == ()


def test_a_blocked_tenants_new_endpoint_starts_blocked_with_its_own_token() -> None:
    create = planner.plan(request(), [], guard=guarded(ONE)).actions[0]
    assert isinstance(create, CreateEndpoint)
    assert create.security_groups == (BLOCKED_SG,)
    assert create.tags["causeway.dev/blocked-until"] == "2026-11-28T13:00:00Z"
    assert create.client_token != client_token(OWNER, 1, "")
    open_create = planner.plan(request(), [], guard=guarded(None)).actions[0]
    assert isinstance(open_create, CreateEndpoint)
    assert open_create.security_groups == ()
    assert "causeway.dev/blocked-until" not in open_create.tags
    assert open_create.client_token == client_token(OWNER, 1, "")


def test_a_blocked_connection_stays_ready_and_says_until_when() -> None:
    blocked = live(groups=(BLOCKED_SG,), tag=ONE)
    result = planner.outcome(request(tracked_id=VPCE), [blocked], guard=guarded(ONE))
    assert result.phase is Phase.READY and result.progress is Progress.READY
    assert result.fields["blockedUntil"] == "2026-11-28T13:00:00Z"
    assert "blocked until 2026-11-28T13:00:00Z" in result.message
    (condition,) = result.conditions
    assert (condition.type, condition.status, condition.reason) == (
        "Blocked",
        True,
        "HourlyLimitReached",
    )
    status = rendering.render_status(1, result, {}, NOON)
    OutboundConnectionStatus.model_validate(status)
    assert {c["type"] for c in status["conditions"]} >= {"Ready", "Blocked"}


def test_after_the_hour_the_connection_says_it_is_not_blocked() -> None:
    reopened = live(groups=(OPEN_SG,))
    result = planner.outcome(request(tracked_id=VPCE), [reopened], guard=guarded(None))
    assert result.fields["blockedUntil"] is None
    assert [(c.type, c.status) for c in result.conditions] == [("Blocked", False)]
    expired = live(groups=(BLOCKED_SG,), tag=PAST)
    late = planner.outcome(request(tracked_id=VPCE), [expired], guard=guarded(None))
    assert late.fields["blockedUntil"] is None
