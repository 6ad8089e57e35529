"""Where a new outbound endpoint goes in a region's pool of transit VPCs (pure).

The rule is *fill the first VPC in config order that has room*: a VPC that is not
draining, with fewer endpoints (every endpoint there not yet deleted, plus creations
in flight) than its capacity (maxEndpoints, else the account's quota, or fewer if
AWS refused one since the last capacity reading).

Why fill-first rather than spread: the answer depends only on the config's order and
on counts AWS reports, so a restart or a re-list places the same way; the VPCs at
the end of the list stay empty until needed, so an admin can add or retire one
without moving anything; and AWS's per-VPC quota, not the spread, is what limits a
region. An endpoint once created is never moved (its id is what the tenant accepted).

Zones come first, though: a service runs in some Availability Zones only, and an
endpoint can only be made in those. Among the VPCs with room, the first one that
covers every zone of the service that the pool covers at all is taken; else the
first that covers one of them; never one that covers none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from causeway.domain import Endpoint
from causeway.reconcile.phases import GONE, normalize

# States in which an endpoint no longer takes a slot of its VPC's quota.
_RELEASED_STATES = frozenset({"deleted", GONE})


@dataclass(frozen=True)
class TransitVpc:
    """One VPC of the pool as placement sees it: its capacity (maxEndpoints, else the
    account's quota) and whether it takes new endpoints."""

    vpc_id: str
    capacity: int
    draining: bool = False


@dataclass(frozen=True)
class VpcUsage:
    """How full one VPC is. `configured` is False for a VPC removed from the config that
    still holds endpoints: they are kept and managed, nothing new goes there. `refused`:
    AWS answered VpcEndpointLimitExceeded (or a subnet is full) since the last reading."""

    vpc_id: str
    used: int
    capacity: int
    draining: bool = False
    configured: bool = True
    refused: bool = False  # its capacity is what AWS held when it refused one more

    @property
    def takes_new(self) -> bool:
        return self.configured and not self.draining and self.used < self.capacity


def occupies_slot(endpoint: Endpoint) -> bool:
    """Whether AWS counts the endpoint against its VPC's quota (until it is deleted)."""
    return normalize(endpoint.state) not in _RELEASED_STATES


def usage(
    pool: Sequence[TransitVpc],
    endpoints: Iterable[Endpoint],
    in_flight: Mapping[str, str] | None = None,
    refused: Mapping[str, int] | None = None,
) -> tuple[VpcUsage, ...]:
    """Each configured VPC in config order, then each VPC no longer configured that still
    holds endpoints. `in_flight` maps an owner uid to the VPC a create was sent to; it
    counts until the endpoint shows up in `endpoints`. `refused` maps a VPC where AWS
    refused an endpoint to the number it held then: its capacity until the next
    capacity reading, whatever the config or the quota said."""
    counts: dict[str, int] = {}
    listed_owners: set[str] = set()
    for endpoint in endpoints:
        if occupies_slot(endpoint) and endpoint.vpc_id:
            counts[endpoint.vpc_id] = counts.get(endpoint.vpc_id, 0) + 1
            if endpoint.owner_uid:
                listed_owners.add(endpoint.owner_uid)
    for uid, vpc_id in (in_flight or {}).items():
        if uid not in listed_owners:
            counts[vpc_id] = counts.get(vpc_id, 0) + 1
    seen_full = refused or {}
    configured = [
        VpcUsage(
            v.vpc_id,
            counts.pop(v.vpc_id, 0),
            min(v.capacity, seen_full.get(v.vpc_id, v.capacity)),
            v.draining,
            refused=v.vpc_id in seen_full,
        )
        for v in pool
    ]
    removed = [
        VpcUsage(vpc_id, used, capacity=0, configured=False)
        for vpc_id, used in sorted(counts.items())
    ]
    return (*configured, *removed)


def _open(usage_now: VpcUsage) -> bool:
    return usage_now.configured and not usage_now.draining


def place(usages: Sequence[VpcUsage]) -> str | None:
    """The VPC a new endpoint goes to (None: the region is full or draining)."""
    return next((u.vpc_id for u in usages if u.takes_new), None)


class Placements:
    """One pass's placements: each new endpoint takes a slot at once, so the next
    connection of the same pass sees it (callers go oldest first).

    Within a pass a VPC only fills up (a refusal makes it full), so the first VPC with
    room never moves back: a cursor makes each placement O(1) however large the pool."""

    def __init__(
        self,
        usages: Sequence[VpcUsage],
        zones: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self._usages = list(usages)
        self._used = [u.used for u in self._usages]
        self._capacity = [u.capacity for u in self._usages]
        self._refused = [u.refused for u in self._usages]
        self._index = {u.vpc_id: i for i, u in enumerate(self._usages)}
        self._next = 0  # no VPC before this one has room
        self._zones = [(zones or {}).get(u.vpc_id, frozenset()) for u in self._usages]
        self.pool_zones = frozenset().union(
            *(z for z, u in zip(self._zones, self._usages, strict=True) if _open(u))
        )

    def _has_room(self, at: int) -> bool:
        return _open(self._usages[at]) and self._used[at] < self._capacity[at]

    def _first_with_room(self) -> int | None:
        while self._next < len(self._usages):
            if self._has_room(self._next):
                return self._next
            self._next += 1
        return None

    def _choose(self, service_zones: frozenset[str] | None) -> int | None:
        first = self._first_with_room()
        if first is None or service_zones is None:
            return first
        reach = service_zones & self.pool_zones
        fallback = None
        for at in range(first, len(self._usages)):
            if not self._has_room(at) or not self._zones[at] & reach:
                continue
            if reach <= self._zones[at]:
                return at
            fallback = at if fallback is None else fallback
        return fallback

    def take(self, service_zones: frozenset[str] | None = None) -> str | None:
        """Place one endpoint and count it; None when nothing has room (or, with the
        service's zones, when no VPC with room covers any of them)."""
        at = self._choose(service_zones)
        if at is None:
            return None
        self._used[at] += 1
        return self._usages[at].vpc_id

    def peek(self, service_zones: frozenset[str] | None = None) -> str | None:
        """The VPC the next endpoint would go to, without counting it."""
        at = self._choose(service_zones)
        return None if at is None else self._usages[at].vpc_id

    def refuse(self, vpc_id: str) -> None:
        """AWS refused the endpoint just placed in the VPC: it is full as it stands (the
        refused endpoint's slot is given back, and the rest is the VPC's capacity)."""
        at = self._index.get(vpc_id)
        if at is not None:
            self._used[at] -= 1
            self._capacity[at] = self._used[at]
            self._refused[at] = True

    @property
    def usages(self) -> tuple[VpcUsage, ...]:
        return tuple(
            replace(u, used=self._used[i], capacity=self._capacity[i], refused=self._refused[i])
            for i, u in enumerate(self._usages)
        )
