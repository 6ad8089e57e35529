"""A create whose answer was lost (found by the fault campaign, seed 1004 --rough): the
create is recorded in status before it is sent, and until its answer is seen the
planner deals with it first, so a deletion while AWS's listing does not show the
endpoint yet cannot release the object and orphan the endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from causeway.api import OutboundConnectionStatus
from causeway.domain import client_token
from causeway.reconcile import outbound as planner
from causeway.reconcile.outbound import CreateEndpoint, DeleteEndpoints, ResolveCreate
from reconcile.test_outbound_planner import OWNER, SERVICE, ep, request

VPC = "vpc-0aaaaaaaaaaaaaaaa"
TOKEN_GEN1 = client_token(OWNER, 1, "")
TOKEN_GEN2 = client_token(OWNER, 2, "")


def sent(token: str = TOKEN_GEN1, groups: tuple[str, ...] = ()) -> CreateEndpoint:
    return CreateEndpoint(SERVICE, token, OWNER.tags(), groups, VPC)


TABLE: list[tuple[str, dict[str, Any], list[Any], list[Any], bool]] = [
    # name, request changes, owned endpoints, actions, settled
    (
        "same create due again: sent exactly as before (its VPC, groups and tags)",
        {"pending": sent()},
        [],
        [sent()],
        True,
    ),
    (
        "deleted, nothing listed: sent again, its endpoint deleted",
        {"deleting": True, "pending": sent()},
        [],
        [ResolveCreate(sent(), delete=True)],
        False,
    ),
    (
        "deleted, tracked and listed: resolved with the rest of the teardown",
        {"deleting": True, "tracked_id": "vpce-1", "pending": sent()},
        [ep("vpce-1", "available")],
        [ResolveCreate(sent(), delete=True), DeleteEndpoints(("vpce-1",))],
        False,
    ),
    (
        "unprovisioned: same as deleted",
        {"provisioned": False, "pending": sent()},
        [],
        [ResolveCreate(sent(), delete=True)],
        False,
    ),
    (
        "a newer generation would create anew: the old create resolved first, alone",
        {"generation": 2, "pending": sent()},
        [],
        [ResolveCreate(sent())],
        False,
    ),
    (
        "endpoint adopted from the listing: still resolved (its id is not known to be it)",
        {"pending": sent()},
        [ep("vpce-1", "pendingAcceptance")],
        [ResolveCreate(sent())],
        False,
    ),
    (
        "nothing pending: a plain create",
        {"generation": 2},
        [],
        [CreateEndpoint(SERVICE, TOKEN_GEN2, OWNER.tags())],
        True,
    ),
]


@pytest.mark.parametrize(
    ("name", "changes", "owned", "actions", "settled"), TABLE, ids=[row[0] for row in TABLE]
)
def test_a_lost_create_is_resolved_before_anything_else(
    name: str, changes: dict[str, Any], owned: list[Any], actions: list[Any], settled: bool
) -> None:
    the_plan = planner.plan(request(**changes), owned)
    assert list(the_plan.actions) == actions
    assert the_plan.settled is settled


def test_teardown_of_an_unparsable_object_resolves_its_lost_create_too() -> None:
    the_plan = planner.plan_teardown([], None, sent())
    assert list(the_plan.actions) == [ResolveCreate(sent(), delete=True)]
    assert not the_plan.settled


def test_the_status_record_round_trips_and_fits_the_status_schema() -> None:
    create = sent(groups=("sg-0bbbbbbbbbbbbbbbb",))
    record = planner.pending_record(create)
    OutboundConnectionStatus.model_validate({"pendingCreate": record})
    assert planner.pending_create({"pendingCreate": record}) == create


@pytest.mark.parametrize(
    "status",
    [{}, {"pendingCreate": None}, {"pendingCreate": "x"}, {"pendingCreate": {"vpcId": 3}}],
    ids=["absent", "null", "not a mapping", "unparsable"],
)
def test_no_usable_record_means_nothing_pending(status: dict[str, Any]) -> None:
    assert planner.pending_create(status) is None
