"""RegionView: the latest listing overlaid with the operator's own newer actions, and
the per-owner index a pass reads once per object (built once per change, never stale)."""

from __future__ import annotations

from causeway.controllers.observation import GRACE_SECONDS, RegionObservation, RegionView
from causeway.domain import Endpoint

SERVICE = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"


def endpoint(vpce: str, owner: str | None, state: str = "available") -> Endpoint:
    return Endpoint(vpce, state, SERVICE, (), owner)


def test_owned_by_follows_every_listing_and_every_action_of_ours() -> None:
    now = [100.0]
    view = RegionView(clock=lambda: now[0])
    view.listed(
        RegionObservation(now[0], endpoints=(endpoint("vpce-1", "a"), endpoint("vpce-2", "b")))
    )
    assert [e.id for e in view.owned_by("a")] == ["vpce-1"]
    assert view.owned_by("nobody") == []

    now[0] += 1
    view.record([endpoint("vpce-3", "a", "pendingAcceptance")])  # we just created it
    assert sorted(e.id for e in view.owned_by("a")) == ["vpce-1", "vpce-3"]

    now[0] += 1  # a listing taken before the create does not undo it
    view.listed(RegionObservation(now[0] - 1.5, endpoints=(endpoint("vpce-1", "a"),)))
    assert sorted(e.id for e in view.owned_by("a")) == ["vpce-1", "vpce-3"]
    assert view.owned_by("b") == []  # vpce-2 is gone from the newer listing

    view.record([endpoint("vpce-1", "a", "deleting")])  # we just deleted it
    assert {e.id: e.state for e in view.owned_by("a")}["vpce-1"] == "deleting"


def test_our_record_expires_when_listings_never_show_it() -> None:
    now = [100.0]
    view = RegionView(clock=lambda: now[0])
    view.record([endpoint("vpce-9", "a", "pendingAcceptance")])
    now[0] += GRACE_SECONDS + 1
    view.listed(RegionObservation(now[0], endpoints=()))
    assert view.owned_by("a") == []


def test_endpoints_without_an_owner_tag_belong_to_no_one() -> None:
    view = RegionView(clock=lambda: 0.0)
    view.listed(RegionObservation(0.0, endpoints=(endpoint("vpce-1", None),)))
    assert view.owned_by("") == []
    assert [e.id for e in view.all_endpoints()] == ["vpce-1"]
