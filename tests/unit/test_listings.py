"""Shared region listings: concurrent askers share one AWS listing, a fresh listing
is reused, a stale one is replaced, and a failure is never served to later askers."""

from __future__ import annotations

import asyncio
import threading

import pytest

from causeway.domain import Endpoint
from causeway.listings import RegionListings


class FakeAws:
    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()
        self.fail = False

    def list_region(self, region: str) -> list[Endpoint]:
        self.calls += 1
        self.release.wait(5)
        if self.fail:
            raise RuntimeError("AWS is down")
        return [
            Endpoint("vpce-1", "available", "svc", owner_uid="a"),
            Endpoint("vpce-2", "available", "svc", owner_uid="b"),
        ]


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_askers_share_one_listing() -> None:
    aws = FakeAws()
    listings = RegionListings(aws.list_region, max_age=5, clock=Clock())
    waiting = [asyncio.create_task(listings.owned_by("us-east-1", uid)) for uid in ("a", "b", "a")]
    await asyncio.sleep(0.05)
    aws.release.set()
    owned = await asyncio.gather(*waiting)
    assert [[e.id for e in o] for o in owned] == [["vpce-1"], ["vpce-2"], ["vpce-1"]]
    assert aws.calls == 1


async def test_fresh_listing_is_reused_and_stale_one_replaced() -> None:
    aws, clock = FakeAws(), Clock()
    aws.release.set()
    listings = RegionListings(aws.list_region, max_age=5, clock=clock)
    await listings.endpoints("us-east-1")
    clock.now += 5
    await listings.endpoints("us-east-1")
    assert aws.calls == 1
    clock.now += 0.1
    await listings.endpoints("us-east-1")
    assert aws.calls == 2


async def test_refresh_always_lists_and_regions_are_separate() -> None:
    aws = FakeAws()
    aws.release.set()
    listings = RegionListings(aws.list_region, max_age=5, clock=Clock())
    await listings.refresh("us-east-1")
    await listings.refresh("us-east-1")
    await listings.endpoints("eu-west-1")
    assert aws.calls == 3


async def test_a_failed_listing_is_not_served_later() -> None:
    aws = FakeAws()
    aws.release.set()
    aws.fail = True
    listings = RegionListings(aws.list_region, max_age=5, clock=Clock())
    with pytest.raises(RuntimeError, match="AWS is down"):
        await listings.endpoints("us-east-1")
    aws.fail = False
    assert len(await listings.endpoints("us-east-1")) == 2
    assert aws.calls == 2
