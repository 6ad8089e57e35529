"""Placement of new outbound endpoints in a region's pool of transit VPCs, as tables
(order, full, draining, in flight, refused by AWS, removed from the config), and a
property test: no sequence of creates, teardowns, restarts and config changes puts
more endpoints in a VPC than its capacity, or moves a live endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from causeway.domain import Endpoint
from causeway.reconcile.placement import (
    Placements,
    TransitVpc,
    VpcUsage,
    occupies_slot,
    place,
    usage,
)

A, B, C = "vpc-0000000a", "vpc-0000000b", "vpc-0000000c"


def endpoints(
    vpc_id: str, count: int, state: str = "available", prefix: str = ""
) -> list[Endpoint]:
    return [
        Endpoint(
            f"vpce-{prefix}{vpc_id[-1]}{i:07d}",
            state,
            "svc",
            owner_uid=f"uid-{prefix}{vpc_id}-{i}",
            vpc_id=vpc_id,
        )
        for i in range(count)
    ]


POOL = [TransitVpc(A, 2), TransitVpc(B, 2)]

PLACEMENT_TABLE = [
    # (case, pool, endpoints listed, in flight, refused, expected VPC)
    ("empty pool fills the first VPC", POOL, [], {}, {}, A),
    ("first VPC with room, in config order", POOL, endpoints(A, 1), {}, {}, A),
    ("a full VPC is skipped", POOL, endpoints(A, 2), {}, {}, B),
    ("every VPC full: nowhere", POOL, endpoints(A, 2) + endpoints(B, 2), {}, {}, None),
    (
        "a draining VPC gets nothing new",
        [TransitVpc(A, 2, draining=True), TransitVpc(B, 2)],
        [],
        {},
        {},
        B,
    ),
    ("all draining: nowhere", [TransitVpc(A, 2, draining=True)], [], {}, {}, None),
    ("a create in flight takes its slot", POOL, endpoints(A, 1), {"uid-new": A}, {}, B),
    (
        "an in-flight create already listed counts once",
        POOL,
        endpoints(A, 1),
        {f"uid-{A}-0": A},
        {},
        A,
    ),
    ("deleting endpoints still hold their slot", POOL, endpoints(A, 2, "deleting"), {}, {}, B),
    ("deleted endpoints free their slot", POOL, endpoints(A, 2, "deleted"), {}, {}, A),
    (
        "rejected endpoints hold their slot until deleted",
        POOL,
        endpoints(A, 2, "rejected"),
        {},
        {},
        B,
    ),
    ("a VPC AWS refused is full as it was then", POOL, endpoints(A, 1), {}, {A: 1}, B),
    ("a refused VPC takes new ones once one of its own goes", POOL, [], {}, {A: 1}, A),
    (
        "a VPC removed from the config gets nothing new",
        [TransitVpc(B, 2)],
        endpoints(C, 1),
        {},
        {},
        B,
    ),
    (
        "a removed VPC's endpoints do not count against the configured ones",
        [TransitVpc(B, 1)],
        endpoints(C, 5),
        {},
        {},
        B,
    ),
    (
        "a raised maxEndpoints makes room",
        [TransitVpc(A, 3), TransitVpc(B, 2)],
        endpoints(A, 2) + endpoints(B, 2),
        {},
        {},
        A,
    ),
    (
        "a new VPC in the config makes room",
        [*POOL, TransitVpc(C, 1)],
        endpoints(A, 2) + endpoints(B, 2),
        {},
        {},
        C,
    ),
]


@pytest.mark.parametrize(
    ("pool", "listed", "in_flight", "refused", "expected"),
    [case[1:] for case in PLACEMENT_TABLE],
    ids=[case[0] for case in PLACEMENT_TABLE],
)
def test_placement(
    pool: list[TransitVpc],
    listed: list[Endpoint],
    in_flight: dict[str, str],
    refused: dict[str, int],
    expected: str | None,
) -> None:
    assert place(usage(pool, listed, in_flight, refused)) == expected


def test_usage_lists_configured_vpcs_in_order_then_removed_ones() -> None:
    usages = usage(
        [TransitVpc(B, 5), TransitVpc(A, 4, draining=True)],
        endpoints(A, 1) + endpoints(C, 2),
        {"uid-x": B},
    )
    assert usages == (
        VpcUsage(B, used=1, capacity=5),
        VpcUsage(A, used=1, capacity=4, draining=True),
        VpcUsage(C, used=2, capacity=0, configured=False),
    )


def test_one_pass_places_oldest_first_and_counts_each_placement() -> None:
    placements = Placements(usage(POOL, endpoints(A, 1)))
    assert [placements.take() for _ in range(4)] == [A, B, B, None]


def test_a_refusal_gives_the_slot_back_and_fills_the_vpc_as_it_stands() -> None:
    placements = Placements(usage(POOL, []))
    assert placements.take() == A
    placements.refuse(A)  # AWS: VpcEndpointLimitExceeded (the quota was lower than believed)
    assert placements.usages[0] == VpcUsage(A, used=0, capacity=0, refused=True)
    assert placements.take() == B


def test_only_deleted_or_gone_endpoints_free_a_slot() -> None:
    states = ["pendingAcceptance", "pending", "available", "deleting", "rejected", "failed"]
    assert all(occupies_slot(Endpoint("vpce-1", s, "svc")) for s in states)
    assert not any(occupies_slot(Endpoint("vpce-1", s, "svc")) for s in ["deleted", "gone"])


# --- property: capacity is never exceeded by a placement, live endpoints never move -------


@dataclass
class World:
    """AWS as placement's caller sees it: live endpoints by owner (with their VPC), the
    operator's in-flight creates (lost on restart), and the config's pool."""

    pool: list[TransitVpc]
    live: dict[str, str] = field(default_factory=dict)
    in_flight: dict[str, str] = field(default_factory=dict)
    next_uid: int = 0

    def listing(self) -> list[Endpoint]:
        return [
            Endpoint(f"vpce-{uid}", "available", "svc", owner_uid=uid, vpc_id=vpc)
            for uid, vpc in self.live.items()
        ]

    def count(self, vpc_id: str) -> int:
        return sum(1 for vpc in [*self.live.values(), *self.in_flight.values()] if vpc == vpc_id)


VPCS = [f"vpc-0000000{i}" for i in range(1, 5)]
OPERATIONS = ("create", "complete", "teardown", "restart", "capacity", "drain", "add", "remove")
operations = st.lists(st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 39)), max_size=60)


def _pass(world: World, new_connections: int) -> None:
    """One pass placing new connections, oldest first; each placement is checked."""
    placements = Placements(usage(world.pool, world.listing(), world.in_flight))
    for _ in range(new_connections):
        chosen = placements.take()
        if chosen is None:
            return
        vpc = next(v for v in world.pool if v.vpc_id == chosen)
        assert world.count(chosen) < vpc.capacity, "placed past the VPC's capacity"
        assert not vpc.draining
        world.in_flight[f"uid-{world.next_uid}"] = chosen
        world.next_uid += 1


def _apply(world: World, op: str, arg: int) -> None:
    pool, live, in_flight = world.pool, world.live, world.in_flight
    if op == "create":
        _pass(world, arg % 4 + 1)
    elif op == "complete" and in_flight:  # AWS made one: it is listed from now on
        uid = sorted(in_flight)[arg % len(in_flight)]
        live[uid] = in_flight.pop(uid)
    elif op == "teardown" and live:
        del live[sorted(live)[arg % len(live)]]
    elif op == "restart":  # the operator forgets what was in flight (never reached AWS)
        in_flight.clear()
    elif op == "capacity" and pool:  # maxEndpoints raised or lowered (even below use)
        at = arg % len(pool)
        pool[at] = replace(pool[at], capacity=arg // 10 + 1)
    elif op == "drain" and pool:
        at = arg % len(pool)
        pool[at] = replace(pool[at], draining=True)
    elif op == "add":
        fresh = next((v for v in VPCS if v not in {p.vpc_id for p in pool}), None)
        if fresh is not None:
            pool.append(TransitVpc(fresh, arg % 4 + 1))
    elif op == "remove" and pool:
        pool.pop(arg % len(pool))


@settings(max_examples=300, deadline=None)
@given(operations)
def test_no_sequence_overfills_a_vpc_or_moves_a_live_endpoint(ops: list[tuple[str, int]]) -> None:
    world = World([TransitVpc(VPCS[0], 2), TransitVpc(VPCS[1], 3)])
    for op, arg in ops:
        before = dict(world.live)
        _apply(world, op, arg)
        # A live endpoint keeps its VPC whatever happens (only teardown removes it).
        assert all(world.live[uid] == vpc for uid, vpc in before.items() if uid in world.live)
