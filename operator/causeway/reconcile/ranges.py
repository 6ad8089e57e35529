"""Source IP ranges (pure): the /28s of a region's pool, in order, and the first one no
allocation holds. Uniqueness is not decided here but by the API server, which refuses
a second SourceRangeAllocation of the same name; this only proposes a candidate."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterator

RANGE_PREFIX = 28


def ranges_of(pool: str) -> Iterator[str]:
    """Every /28 of the pool, lowest first."""
    network = ipaddress.ip_network(pool, strict=True)
    for subnet in network.subnets(new_prefix=RANGE_PREFIX):
        yield str(subnet)


def first_free(pool: str, taken: Collection[str], *, skip: Collection[str] = ()) -> str | None:
    """The lowest /28 of the pool that is neither taken nor to be skipped (a candidate
    just refused by the API server), or None when the pool is exhausted."""
    return next((r for r in ranges_of(pool) if r not in taken and r not in skip), None)


def pool_size(pool: str) -> int:
    """How many /28s the pool holds."""
    network = ipaddress.ip_network(pool, strict=True)
    return 1 << (RANGE_PREFIX - network.prefixlen)
