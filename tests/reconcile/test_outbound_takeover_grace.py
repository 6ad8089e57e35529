"""The grace for an endpoint a lagging listing lacks, after a takeover (issue 24). The
operator that creates an endpoint remembers it for GRACE_SECONDS (RegionView), so a
listing taken before EC2 shows it does not make it "gone"; that memory died with the
process. A new leader (or a restarted one) has only the status: one that showed the
endpoint less than the grace ago by the wall clock keeps its phase, Synced False says
the listing lacks it, and no create is planned; after the grace it is DeletedRemotely.

Each case runs as a new process would: a fresh RegionView with one listing (without the
endpoint), the object as the index holds it, `request_from` at an injected time (as the
pass gets it: `grace_clock`, none for an endpoint this process itself saw)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from causeway.api import Phase
from causeway.controllers.observation import GRACE_SECONDS, RegionObservation, RegionView
from causeway.controllers.outbound import grace_clock, request_from
from causeway.domain import Endpoint
from causeway.index import ObjectSnapshot
from causeway.reconcile import outbound as planner
from causeway.reconcile.status import render_status, status_changes

SERVICE = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
UID = "uid-1"
T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)  # when the old leader wrote the status


def created(state: str = "pendingAcceptance") -> Endpoint:
    """The endpoint the old leader just made (as its create answered)."""
    return Endpoint("vpce-new", state, SERVICE, (), UID, T0, "acme", ("sg-t",), vpc_id="vpc-1")


def connection(status: Mapping[str, Any] | None = None) -> ObjectSnapshot:
    body = {
        "metadata": {
            "namespace": "acme",
            "name": "inventory",
            "uid": UID,
            "generation": 1,
            "finalizers": ["causeway.dev/teardown"],
        },
        "spec": {"region": "us-east-1", "serviceName": SERVICE},
    }
    return ObjectSnapshot({**body, "status": dict(status or {})})


def old_leader_status(state: str = "pendingAcceptance") -> dict[str, Any]:
    """The status the old leader wrote at T0, right after its create (its view held
    the endpoint only as its own record: the listing did not show it yet)."""
    request = request_from(connection(), now=T0)
    return render_status(1, planner.outcome(request, [created(state)]), {}, T0)


def new_leader(
    status: Mapping[str, Any], at: datetime, view: RegionView | None = None
) -> tuple[planner.Outcome, Any]:
    """A pass at `at` of a new process (a fresh view, one listing without the endpoint),
    or of the one holding `view`."""
    if view is None:
        view = RegionView(clock=lambda: 5.0)
        view.listed(RegionObservation(5.0, endpoints=()))
    owned = view.owned_by(UID)
    snapshot = connection(status)
    request = request_from(snapshot, now=grace_clock(view, snapshot, at))
    return planner.outcome(request, owned), planner.plan(request, owned)


def synced(status: Mapping[str, Any]) -> Mapping[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == "Synced")


TABLE = [
    # name, seconds after the status was written, AWS state then, phase now
    ("just created, listed 3 s later", 3, "pendingAcceptance", Phase.PENDING_ACCEPTANCE),
    ("activating, 9 s", 9, "pending", Phase.PENDING_ACTIVATION),
    ("ready, 1 s", 1, "available", Phase.READY),
    ("the new pod's clock 4 s behind", -4, "pendingAcceptance", Phase.PENDING_ACCEPTANCE),
    ("after the grace", GRACE_SECONDS + 1, "pendingAcceptance", Phase.DELETED_REMOTELY),
    ("long after", 3600, "available", Phase.DELETED_REMOTELY),
]


@pytest.mark.parametrize(
    ("name", "seconds", "state", "phase"), TABLE, ids=[row[0] for row in TABLE]
)
def test_a_takeover_keeps_the_grace_of_a_just_created_endpoint(
    name: str, seconds: float, state: str, phase: Phase
) -> None:
    status = old_leader_status(state)
    result, the_plan = new_leader(status, T0 + timedelta(seconds=seconds))
    assert result.phase is phase
    assert the_plan.actions == ()  # never a second create for it
    assert result.fields["vpcEndpointId"] == "vpce-new"
    if phase is Phase.DELETED_REMOTELY:
        assert result.sync_problem is None
        return
    assert result.fields["transitVpcId"] == "vpc-1"  # as the status showed it
    assert result.sync_problem is not None
    assert result.sync_problem.reason == planner.NOT_LISTED_YET
    assert not result.sync_problem.terminal


def test_the_grace_starts_once_and_ends() -> None:
    """The write made during the grace is no sighting: the grace runs from that first
    write at the latest, however many passes follow, and then the endpoint is gone."""
    status = old_leader_status()
    first = T0 + timedelta(seconds=4)  # the new leader's first pass
    result, _ = new_leader(status, first)
    patch = status_changes(status, render_status(1, result, status, first), touch=False)
    assert patch is not None
    status = {**status, **patch}
    assert status["phase"] == "PendingAcceptance"
    assert (synced(status)["status"], synced(status)["reason"]) == ("False", "EndpointNotListedYet")

    for second in (6, 9, 12, 13):  # later passes: nothing new to write, the grace holds
        at = T0 + timedelta(seconds=second)
        result, _ = new_leader(status, at)
        assert result.phase is Phase.PENDING_ACCEPTANCE
        assert status_changes(status, render_status(1, result, status, at), touch=False) is None

    touched = T0 + timedelta(seconds=13)  # a write that only touches the time ...
    status = {**status, **render_status(1, result, status, touched)}
    at = first + timedelta(seconds=GRACE_SECONDS + 1)  # ... does not start it again
    result, _ = new_leader(status, at)
    assert result.phase is Phase.DELETED_REMOTELY
    assert result.sync_problem is None


def test_a_listing_that_shows_it_clears_the_grace() -> None:
    status = old_leader_status()
    at = T0 + timedelta(seconds=3)
    result, _ = new_leader(status, at)
    status = {**status, **render_status(1, result, status, at)}
    request = request_from(connection(status), now=at + timedelta(seconds=1))
    result = planner.outcome(request, [created()])
    assert result.phase is Phase.PENDING_ACCEPTANCE
    assert result.sync_problem is None


def test_without_a_clock_or_a_live_phase_there_is_no_grace() -> None:
    status = old_leader_status()
    owned: list[Endpoint] = []
    assert planner.outcome(request_from(connection(status)), owned).phase is Phase.DELETED_REMOTELY
    gone = {**status, "phase": "DeletedRemotely"}
    result = planner.outcome(request_from(connection(gone), now=T0), owned)
    assert result.phase is Phase.DELETED_REMOTELY
    undated = {k: v for k, v in status.items() if k != "lastSyncTime"}
    result = planner.outcome(request_from(connection(undated), now=T0), owned)
    assert result.phase is Phase.DELETED_REMOTELY


def test_the_process_that_saw_it_judges_by_its_own_view() -> None:
    """The grace from the status is for a process that never saw the endpoint: the one
    that listed it (or made it) reports it gone on the first listing that lacks it once
    its own record is settled, as before (an endpoint deleted outside Causeway)."""
    status = old_leader_status()
    now = [5.0]
    view = RegionView(clock=lambda: now[0])
    view.listed(RegionObservation(now[0], endpoints=(created(),)))  # listed: confirmed
    now[0] += 2
    view.listed(RegionObservation(now[0], endpoints=()))  # then deleted outside Causeway
    result, _ = new_leader(status, T0 + timedelta(seconds=3), view)
    assert result.phase is Phase.DELETED_REMOTELY
    assert result.sync_problem is None
