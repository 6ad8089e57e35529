"""Shared, batched views of what AWS holds per region. Many handlers asking at once
"which endpoints does AWS hold in region R" (a burst of creates, or every object
resuming after a restart) share one paged DescribeVpcEndpoints listing instead of
one call each; the region poller's listing is shared the same way.

Only questions that tolerate a few seconds of staleness use it: a brand-new object
(nothing can exist for it but its own earlier attempts, which the ClientToken
covers) and an object resuming after a restart. Updates, syncs and teardown always
ask AWS directly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from causeway.domain import Endpoint

ListRegion = Callable[[str], list[Endpoint]]


@dataclass
class _Listing:
    taken_at: float
    result: asyncio.Future[list[Endpoint]]


class RegionListings:
    """Coalesces concurrent listings of one region's managed endpoints."""

    def __init__(
        self,
        list_region: ListRegion,
        *,
        max_age: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._list_region = list_region
        self._max_age = max_age
        self._clock = clock
        self._listings: dict[str, _Listing] = {}

    async def endpoints(self, region: str) -> list[Endpoint]:
        """A listing no older than max_age, or the one under way, or a new one."""
        listing = self._listings.get(region)
        if listing is None or self._stale(listing):
            return await self.refresh(region)
        return await asyncio.shield(listing.result)

    async def refresh(self, region: str) -> list[Endpoint]:
        """Take a new listing now (the poller does, every interval) and share it."""
        listing = _Listing(self._clock(), asyncio.get_running_loop().create_future())
        self._listings[region] = listing
        try:
            endpoints = await asyncio.to_thread(self._list_region, region)
        except BaseException as exc:
            self._listings.pop(region, None)  # never serve a failure to later callers
            listing.result.set_exception(exc)
            listing.result.exception()  # retrieved here, so asyncio does not warn
            raise
        listing.result.set_result(endpoints)
        return endpoints

    async def owned_by(self, region: str, uid: str) -> list[Endpoint]:
        return [e for e in await self.endpoints(region) if e.owner_uid == uid]

    def _stale(self, listing: _Listing) -> bool:
        done = listing.result.done()
        return done and self._clock() - listing.taken_at > self._max_age
