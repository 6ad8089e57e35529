"""The OutboundConnection planner, as tables: AWS state → phase and kstatus, and
(object, owned endpoints) → actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from causeway.api import OutboundConnectionSpec, OutboundConnectionStatus, Phase
from causeway.conditions import Progress
from causeway.domain import Endpoint, Owner, SecurityGroup, client_token
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

OPEN_SG, OTHER_SG, BLOCKED_SG, TENANT_SG = "sg-open", "sg-other", "sg-blocked", "sg-acme"
VPCE = "vpce-0a1b2c3d4e5f60718"
NOON = datetime(2026, 11, 28, 12, 20, tzinfo=UTC)
ONE = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)
PAST = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
RULE = ("tcp", 443, 443, "cidr", "10.0.0.0/16")
TRANSIT_VPC = "vpc-0123456789abcdef0"


def listed(*, tenant_rules: bool = True) -> dict[str, SecurityGroup]:
    """The groups as AWS lists them: the tenant group open (or closed), the shared open
    group with its rule, the rule-less blocked group, and a group someone else added."""
    rules = frozenset({RULE}) if tenant_rules else frozenset()
    return {
        TENANT_SG: SecurityGroup(TENANT_SG, TRANSIT_VPC, rules, "acme"),
        OPEN_SG: SecurityGroup(OPEN_SG, TRANSIT_VPC, frozenset({RULE})),
        BLOCKED_SG: SecurityGroup(BLOCKED_SG, TRANSIT_VPC),
        OTHER_SG: SecurityGroup(OTHER_SG, TRANSIT_VPC, frozenset({RULE})),
    }


def guarded(
    until: datetime | None,
    *,
    tenant_group: str | None = TENANT_SG,
    groups: dict[str, SecurityGroup] | None = None,
    configured: bool = True,
    now: datetime = NOON,
) -> planner.Guard:
    seen = listed(tenant_rules=until is None) if groups is None else groups
    legacy = (OPEN_SG, BLOCKED_SG) if configured else ()
    return planner.Guard(now, until, tenant_group, legacy, seen, configured)


def live(
    state: str = "available",
    groups: tuple[str, ...] = (TENANT_SG,),
    tag: datetime | None = None,
    recorded: tuple[str, ...] | None = None,
) -> Endpoint:
    return Endpoint(
        VPCE,
        state,
        SERVICE,
        (f"{VPCE}.example",),
        OWNER.uid,
        T0,
        "acme",
        groups,
        tag,
        recorded,
        vpc_id=TRANSIT_VPC,
    )


OLD_SG = "sg-from-an-earlier-config"
Adopt = planner.AdoptTenantGroup
ADOPT_TABLE = [
    # endpoint's groups, groups recorded on it at its create, the tenant group (None: not
    # made yet), VPC still configured?, expected action
    ((TENANT_SG,), None, TENANT_SG, True, None),  # on its group already: never modified
    ((OPEN_SG,), None, TENANT_SG, True, Adopt(VPCE, TRANSIT_VPC, TENANT_SG, (OPEN_SG,))),
    # blocked the old way: onto the group (which carries the block), the blocked one off
    ((BLOCKED_SG,), None, TENANT_SG, True, Adopt(VPCE, TRANSIT_VPC, TENANT_SG, (BLOCKED_SG,))),
    # a group someone else added is not Causeway's to take off
    ((OPEN_SG, OTHER_SG), None, TENANT_SG, True, Adopt(VPCE, TRANSIT_VPC, TENANT_SG, (OPEN_SG,))),
    # made under an earlier config: the groups recorded on it are the shared ones
    ((OLD_SG,), (OLD_SG,), TENANT_SG, True, Adopt(VPCE, TRANSIT_VPC, TENANT_SG, (OLD_SG,))),
    # a crash left both: only the shared one goes
    (
        (TENANT_SG, OPEN_SG),
        None,
        TENANT_SG,
        True,
        Adopt(VPCE, TRANSIT_VPC, TENANT_SG, (OPEN_SG,), False),
    ),
    # no tenant group yet: made first, by the work
    ((OPEN_SG,), None, None, True, Adopt(VPCE, TRANSIT_VPC, None, (OPEN_SG,))),
    # a VPC removed from the config: no group is made there
    ((OPEN_SG,), None, None, False, None),
]


AdoptCase = tuple[tuple[str, ...], tuple[str, ...] | None, str | None, bool, Any]


@pytest.mark.parametrize("case", ADOPT_TABLE)
def test_endpoints_move_onto_their_tenant_group_taking_only_shared_groups_off(
    case: AdoptCase,
) -> None:
    groups, recorded, tenant_group, configured, expected = case
    guard = guarded(None, tenant_group=tenant_group, configured=configured)
    endpoint = live(groups=groups, recorded=recorded)
    actions = planner.plan(request(tracked_id=VPCE), [endpoint], guard=guard)
    assert actions.actions == ((expected,) if expected else ())


@pytest.mark.parametrize("until", [None, ONE])
def test_a_block_or_reopen_never_modifies_an_endpoint(until: datetime | None) -> None:
    for state in ("pendingAcceptance", "pending", "available"):
        the_plan = planner.plan(request(tracked_id=VPCE), [live(state)], guard=guarded(until))
        assert the_plan.actions == ()


def test_a_new_endpoint_gets_its_tenant_group_blocked_or_not_with_one_token() -> None:
    """The group's rules carry the block: a blocked tenant's new endpoint starts closed
    with the very same request as an open one."""
    blocked = planner.plan(request(), [], guard=guarded(ONE)).actions[0]
    opened = planner.plan(request(), [], guard=guarded(None)).actions[0]
    assert isinstance(blocked, CreateEndpoint) and isinstance(opened, CreateEndpoint)
    assert blocked == opened
    assert blocked.security_groups == (TENANT_SG,)
    assert blocked.client_token == client_token(OWNER, 1, "")
    assert "causeway.dev/blocked-until" not in blocked.tags
    waiting = planner.plan(request(), [], guard=guarded(None, tenant_group=None)).actions[0]
    assert isinstance(waiting, CreateEndpoint) and waiting.security_groups == ()


def test_a_block_aws_has_not_shown_is_reported_in_progress_not_in_effect() -> None:
    """Decided, but AWS still lists the tenant group with its rules: the connection must
    not say its traffic is blocked, nor give a blockedUntil for credentials to repeat."""
    still_open = guarded(ONE, groups=listed(tenant_rules=True))
    result = planner.outcome(request(tracked_id=VPCE), [live()], guard=still_open)
    assert result.fields["blockedUntil"] is None
    (condition,) = result.conditions
    assert (condition.type, condition.status, condition.reason) == (
        "Blocked",
        False,
        "BlockInProgress",
    )
    assert "may still pass" in result.message
    done = planner.outcome(request(tracked_id=VPCE), [live()], guard=guarded(ONE))
    assert done.fields["blockedUntil"] == "2026-11-28T13:00:00Z"
    assert done.conditions[0].status is True
    # Closed group, but a group someone else added still lets traffic in.
    other = live(groups=(TENANT_SG, OTHER_SG))
    leaking = planner.outcome(request(tracked_id=VPCE), [other], guard=guarded(ONE))
    assert leaking.conditions[0].reason == "BlockInProgress"


@pytest.mark.parametrize("state", ["rejected", "deleting", "deleted", "failed"])
def test_dead_or_leaving_endpoints_are_left_alone(state: str) -> None:
    endpoint = live(state, groups=(OPEN_SG,))
    assert planner.plan(request(tracked_id=VPCE), [endpoint], guard=guarded(ONE)).actions == ()


def test_a_blocked_connection_stays_ready_and_says_until_when() -> None:
    result = planner.outcome(request(tracked_id=VPCE), [live()], guard=guarded(ONE))
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
    result = planner.outcome(request(tracked_id=VPCE), [live()], guard=guarded(None))
    assert result.fields["blockedUntil"] is None
    assert [(c.type, c.status) for c in result.conditions] == [("Blocked", False)]


@pytest.mark.parametrize("configured", [True, False])
def test_a_block_that_is_over_but_still_closed_is_never_reported_open(configured: bool) -> None:
    """The review's defect: an endpoint still closed after its block (in a VPC removed
    from the config, its open rules unknown) reported Ready and not blocked."""
    closed = guarded(None, groups=listed(tenant_rules=False), configured=configured)
    result = planner.outcome(request(tracked_id=VPCE), [live()], guard=closed)
    (condition,) = result.conditions
    assert (condition.status, condition.reason) == (True, "ReopenPending")
    assert ("no longer in the operator's config" in condition.message) is not configured
