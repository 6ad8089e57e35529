"""Source IP ranges: the allocator's order and exhaustion, and a property test over any
sequence of allocations, releases, restarts and racing reconciles (each working from
its own possibly stale copy of the allocations): no range ever has two holders, no
two ranges overlap, and a connection's range never changes while it holds one."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from hypothesis import example, given, settings
from hypothesis import strategies as st

from causeway.api import allocation_name
from causeway.api.inbound import InboundConnectionSpec
from causeway.domain import ConnectionRequest, Owner
from causeway.reconcile import inbound as planner
from causeway.reconcile.admission import ADMITTED
from causeway.reconcile.inbound import (
    AllocateRange,
    InboundFacts,
    InboundRequest,
    ReleaseRanges,
)
from causeway.reconcile.ranges import first_free, pool_size, ranges_of

POOL = "10.200.0.0/26"  # four /28s: small enough for exhaustion to happen often


def test_ranges_are_the_pool_s_28s_lowest_first() -> None:
    assert list(ranges_of("10.200.0.0/26")) == [
        "10.200.0.0/28",
        "10.200.0.16/28",
        "10.200.0.32/28",
        "10.200.0.48/28",
    ]
    assert pool_size("10.200.0.0/16") == 4096


def test_first_free_skips_taken_and_refused_and_knows_exhaustion() -> None:
    assert first_free(POOL, {"10.200.0.0/28"}) == "10.200.0.16/28"
    assert first_free(POOL, {"10.200.0.0/28"}, skip={"10.200.0.16/28"}) == "10.200.0.32/28"
    assert first_free(POOL, set(ranges_of(POOL))) is None


def test_allocation_names_are_unique_per_region_and_range() -> None:
    assert allocation_name("us-east-1", "10.200.0.16/28") == "us-east-1.10-200-0-16-28"
    assert allocation_name("us-east-1", "10.200.0.16/28") != allocation_name(
        "eu-west-1", "10.200.0.16/28"
    )


@dataclass
class ApiServer:
    """Allocations by name, in creation order: a second create of a name is refused."""

    objects: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # owner, cidr, seq
    created: int = 0

    def create(self, owner: str, cidr: str) -> bool:
        name = allocation_name("us-east-1", cidr)
        if name in self.objects:
            return False
        self.created += 1
        self.objects[name] = (owner, cidr, self.created)
        return True

    def ranges_of(self, owner: str) -> list[str]:
        """Oldest first, as the operator orders them (creationTimestamp)."""
        held = sorted((seq, cidr) for who, cidr, seq in self.objects.values() if who == owner)
        return [cidr for _, cidr in held]


@dataclass
class Reconciler:
    """One operator's copy of the allocations, refreshed from the API server only when
    told to (a watch event, a restart): between refreshes it may be stale. It decides
    with the real planner and allocator, as the inbound manager does."""

    server: ApiServer
    seen: dict[str, tuple[str, str, int]] = field(default_factory=dict)

    def refresh(self) -> None:
        self.seen = dict(self.server.objects)

    def pass_for(self, owner: str) -> None:
        """One pass for an admitted connection whose request waits for acceptance."""
        request = InboundRequest(
            Owner("InboundConnection", "acme", owner, owner),
            1,
            InboundConnectionSpec(region="us-east-1", vpcEndpointId="vpce-0123456789abcdef0"),
        )
        observed = ConnectionRequest("vpce-0123456789abcdef0", "222222222222", "pendingAcceptance")
        mine = sorted((seq, cidr) for who, cidr, seq in self.seen.values() if who == owner)
        facts = InboundFacts(observed, ADMITTED, tuple(cidr for _, cidr in mine))
        taken = {cidr for _, cidr, _ in self.seen.values()}
        candidate = first_free(POOL, taken)
        for action in planner.plan(request, facts, candidate).actions:
            if isinstance(action, ReleaseRanges):
                for cidr in action.cidrs:
                    self.server.objects.pop(allocation_name("us-east-1", cidr), None)
                    self.seen.pop(allocation_name("us-east-1", cidr), None)
            elif isinstance(action, AllocateRange):
                self._allocate(owner, action.cidr, taken)

    def _allocate(self, owner: str, candidate: str | None, taken: set[str]) -> None:
        refused: set[str] = set()
        while candidate is not None:
            name = allocation_name("us-east-1", candidate)
            if self.server.create(owner, candidate):
                self.seen[name] = self.server.objects[name]
                return
            if self.server.objects[name][0] == owner:  # our own, made by a racing pass
                self.seen[name] = self.server.objects[name]
                return
            refused.add(candidate)
            candidate = first_free(POOL, taken, skip=refused)

    def release(self, owner: str) -> None:
        for name, (who, _, _) in list(self.server.objects.items()):
            if who == owner:
                del self.server.objects[name]
        self.seen = {k: v for k, v in self.seen.items() if v[0] != owner}


OWNERS = st.sampled_from(["a", "b", "c", "d", "e", "f"])
ACTIONS = st.sampled_from(["pass", "release", "restart", "refresh"])
STEPS = st.lists(st.tuples(ACTIONS, st.integers(0, 1), OWNERS), max_size=60)


@settings(max_examples=1000, deadline=None)
@given(STEPS)
# A stale operator gives x a second range; a fresh pass must keep x's first one.
@example(
    [
        ("pass", 1, "y"),
        ("release", 0, "y"),
        ("pass", 0, "x"),
        ("pass", 1, "x"),
        ("refresh", 0, "x"),
        ("pass", 0, "x"),
    ]
)
def test_no_sequence_double_books_overlaps_or_moves_a_range(
    steps: list[tuple[str, int, str]],
) -> None:
    server = ApiServer()
    reconcilers = [Reconciler(server), Reconciler(server)]  # two racing operators
    first_range: dict[str, str] = {}  # owner -> the range it got, while it holds one
    for action, which, owner in steps:
        if action == "pass":
            reconcilers[which].pass_for(owner)
        elif action == "release":
            reconcilers[which].release(owner)
        elif action == "restart":
            reconcilers[which] = Reconciler(server)
            reconcilers[which].refresh()
        else:
            reconcilers[which].refresh()

        holders: dict[str, str] = {}
        for who, cidr, _ in server.objects.values():
            assert holders.setdefault(cidr, who) == who  # one holder per range
        networks = [ipaddress.ip_network(cidr) for cidr in holders]
        assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])
        for who in {w for w, _, _ in server.objects.values()}:
            oldest = server.ranges_of(who)[0]
            assert first_range.setdefault(who, oldest) == oldest  # never moves while held
        for who in list(first_range):
            if not server.ranges_of(who):
                del first_range[who]  # released: it may get any range next time
        if action == "pass" and reconcilers[which].seen == server.objects:
            assert len(server.ranges_of(owner)) <= 1  # a pass on a fresh view leaves one
