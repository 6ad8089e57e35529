"""What AWS holds in one region, as the reconciler sees it: the last batched listing,
overlaid with what this operator did itself since (created, deleted), because a
listing taken a moment before an action, or an eventually consistent one taken just
after, would otherwise undo it (a second create, or a fresh endpoint "gone")."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from causeway.domain import Endpoint

# How long our own record of an action outlives listings that do not show it yet.
GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class RegionObservation:
    """One batched listing of a region's managed endpoints."""

    taken_at: float  # monotonic seconds
    endpoints: tuple[Endpoint, ...] = ()


@dataclass
class _Known:
    endpoint: Endpoint
    at: float


@dataclass
class RegionView:
    """The latest listing of a region plus the operator's own, newer, knowledge."""

    clock: Callable[[], float] = time.monotonic
    listing: RegionObservation | None = None
    _local: dict[str, _Known] = field(default_factory=dict)

    def listed(self, observation: RegionObservation) -> None:
        """A new listing arrived: local knowledge it already reflects is dropped."""
        self.listing = observation
        shown = {e.id: e for e in observation.endpoints}
        for vpce_id, known in list(self._local.items()):
            newer_listing = observation.taken_at >= known.at
            confirmed = (
                vpce_id in shown and shown[vpce_id].state.lower() == known.endpoint.state.lower()
            )
            expired = self.clock() - known.at > GRACE_SECONDS
            if (newer_listing and confirmed) or expired:
                del self._local[vpce_id]

    def record(self, endpoints: Iterable[Endpoint]) -> None:
        """Endpoints as an action of ours just left them (created, or now deleting)."""
        now = self.clock()
        for endpoint in endpoints:
            self._local[endpoint.id] = _Known(endpoint, now)

    def age(self) -> float | None:
        return None if self.listing is None else self.clock() - self.listing.taken_at

    def owned_by(self, uid: str) -> list[Endpoint]:
        """Every endpoint of this owner, our newer knowledge winning over the listing."""
        listed = self.listing.endpoints if self.listing else ()
        taken_at = self.listing.taken_at if self.listing else float("-inf")
        merged = {e.id: e for e in listed if e.owner_uid == uid}
        for vpce_id, known in self._local.items():
            if known.endpoint.owner_uid == uid and (known.at > taken_at or vpce_id not in merged):
                merged[vpce_id] = known.endpoint
        return list(merged.values())

    def all_endpoints(self) -> Sequence[Endpoint]:
        listed = {e.id: e for e in (self.listing.endpoints if self.listing else ())}
        for vpce_id, known in self._local.items():
            listed[vpce_id] = known.endpoint
        return list(listed.values())
