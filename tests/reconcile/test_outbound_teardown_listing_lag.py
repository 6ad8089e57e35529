"""Teardown when AWS's listing lags (found by the fault campaign, seed 11): a restarted
operator listed the endpoints before EC2's describe showed one created seconds earlier,
settled the deletion on that listing and removed the finalizer, orphaning the endpoint
its status still named. The endpoint the status names is now deleted by id."""

from __future__ import annotations

from typing import Any

import pytest

from causeway.reconcile import outbound as planner
from causeway.reconcile.outbound import DeleteEndpoints
from reconcile.test_outbound_planner import ep, request

TABLE: list[tuple[str, dict[str, Any], list[Any], tuple[str, ...], bool]] = [
    # name, request changes, owned endpoints, ids deleted, settled
    (
        "deletion: tracked but not listed",
        {"deleting": True, "tracked_id": "vpce-1"},
        [],
        ("vpce-1",),
        False,
    ),
    (
        "unprovision: tracked but not listed",
        {"provisioned": False, "tracked_id": "vpce-1"},
        [],
        ("vpce-1",),
        False,
    ),
    (
        "deletion: tracked not listed, another listed",
        {"deleting": True, "tracked_id": "vpce-1"},
        [ep("vpce-2", "available")],
        ("vpce-2", "vpce-1"),
        False,
    ),
    (
        "deletion: tracked listed as deleted is done",
        {"deleting": True, "tracked_id": "vpce-1"},
        [ep("vpce-1", "deleted")],
        (),
        True,
    ),
    ("deletion: nothing tracked, nothing listed", {"deleting": True}, [], (), True),
]


@pytest.mark.parametrize(
    ("name", "changes", "owned", "deleted", "settled"), TABLE, ids=[row[0] for row in TABLE]
)
def test_teardown_deletes_the_tracked_endpoint_even_when_unlisted(
    name: str, changes: dict[str, Any], owned: list[Any], deleted: tuple[str, ...], settled: bool
) -> None:
    the_plan = planner.plan(request(**changes), owned)
    assert list(the_plan.actions) == ([DeleteEndpoints(deleted)] if deleted else [])
    assert the_plan.settled is settled


FAILED_DELETE = planner.Problem("AwsUnavailable", "DeleteVpcEndpoints failed: InternalError", False)


@pytest.mark.parametrize("changes", [{"deleting": True}, {"provisioned": False}])
def test_a_failed_delete_of_an_unlisted_endpoint_keeps_naming_it(changes: dict[str, Any]) -> None:
    """The campaign's find (seeds 3 --standby and 11): the delete of an endpoint created
    seconds before was answered 500, and the status written for that failure dropped the
    id the listing lacked; the next pass found nothing to delete and released the object."""
    failed = planner.outcome(request(tracked_id="vpce-1", **changes), [], FAILED_DELETE)
    assert failed.phase is planner.Phase.TEARDOWN_IN_PROGRESS
    assert failed.fields["vpcEndpointId"] == "vpce-1"
    # Confirmed (the delete succeeded, or AWS said it is gone): the status lets it go.
    done = planner.outcome(request(tracked_id="vpce-1", **changes), [])
    assert done.phase is planner.Phase.UNPROVISIONED
    assert done.fields["vpcEndpointId"] is None
