"""What AWS holds in one region, as the reconcilers see it: the last batched listing
(the transit VPC's managed endpoints, and the platform service's connection
requests), overlaid with what this operator did itself since (created, deleted,
accepted, rejected), because a listing taken a moment before an action, or an
eventually consistent one taken just after, would otherwise undo it (a second
create, or a fresh endpoint "gone")."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from causeway.domain import ConnectionRequest, Endpoint, SecurityGroup
from causeway.reconcile.outbound import LISTING_GRACE_SECONDS

# How long our own record of an action outlives listings that do not show it yet (the
# planner gives a tracked endpoint the same grace from its status, after a restart).
GRACE_SECONDS = LISTING_GRACE_SECONDS


class _Record(Protocol):
    @property
    def state(self) -> str: ...


R = TypeVar("R", bound=_Record)


@dataclass(frozen=True)
class RegionObservation:
    """One batched listing of a region (None: that part was not listed)."""

    taken_at: float  # monotonic seconds
    endpoints: tuple[Endpoint, ...] | None = None
    connections: tuple[ConnectionRequest, ...] | None = None
    groups: tuple[SecurityGroup, ...] | None = None  # the transit VPCs' security groups


@dataclass(slots=True)
class _Known(Generic[R]):
    record: R
    at: float


@dataclass
class _Overlay(Generic[R]):
    """Listed records by id, and our own newer knowledge of some of them."""

    key: Callable[[R], str]
    clock: Callable[[], float]
    listed: dict[str, R] = field(default_factory=dict)
    taken_at: float = float("-inf")
    local: dict[str, _Known[R]] = field(default_factory=dict)
    version: int = 0  # moves on every change; what is derived from `current` keys on it
    _merged: dict[str, R] | None = field(default=None, init=False)

    def _changed(self) -> None:
        self.version += 1
        self._merged = None

    def replace(self, records: Iterable[R], taken_at: float) -> None:
        self._changed()
        self.listed = {self.key(r): r for r in records}
        self.taken_at = taken_at
        for record_id, known in list(self.local.items()):
            shown = self.listed.get(record_id)
            confirmed = shown is not None and shown.state.lower() == known.record.state.lower()
            expired = self.clock() - known.at > GRACE_SECONDS
            if (taken_at >= known.at and confirmed) or expired:
                del self.local[record_id]

    def record(self, records: Iterable[R]) -> None:
        self._changed()
        now = self.clock()
        for record in records:
            self.local[self.key(record)] = _Known(record, now)

    def forget(self, record_id: str) -> None:
        self._changed()
        self.listed.pop(record_id, None)
        self.local.pop(record_id, None)

    def current(self) -> Mapping[str, R]:
        """Every record; ours wins when newer than the listing or not listed (yet).
        Built once per change: a pass asks for it once per object."""
        if self._merged is None:
            merged = dict(self.listed)
            for record_id, known in self.local.items():
                if known.at > self.taken_at or record_id not in merged:
                    merged[record_id] = known.record
            self._merged = merged
        return self._merged


@dataclass
class RegionView:
    """The latest listing of a region plus the operator's own, newer, knowledge."""

    clock: Callable[[], float] = time.monotonic
    taken_at: float | None = None
    ever_listed: bool = False  # a listing arrived at least once since the start
    _endpoints: _Overlay[Endpoint] = field(init=False)
    _connections: _Overlay[ConnectionRequest] = field(init=False)
    _groups: _Overlay[SecurityGroup] = field(init=False)
    groups_taken_at: float | None = None  # when the groups were last listed
    _owners: tuple[int, dict[str | None, list[Endpoint]]] = field(init=False, default=(-1, {}))
    _seen: set[str] = field(init=False, default_factory=set)  # endpoint ids, see `saw`

    def __post_init__(self) -> None:
        self._endpoints = _Overlay(lambda e: e.id, self.clock)
        self._connections = _Overlay(lambda c: c.endpoint_id, self.clock)
        self._groups = _Overlay(lambda g: g.id, self.clock)

    def listed(self, observation: RegionObservation) -> None:
        """A new listing arrived: local knowledge it already reflects is dropped."""
        self.taken_at = observation.taken_at
        self.ever_listed = True
        if observation.endpoints is not None:
            self._endpoints.replace(observation.endpoints, observation.taken_at)
            self._seen.update(e.id for e in observation.endpoints)
        if observation.connections is not None:
            self._connections.replace(observation.connections, observation.taken_at)
        if observation.groups is not None:
            self.groups_listed(observation.groups, observation.taken_at)

    def groups_listed(self, groups: Iterable[SecurityGroup], taken_at: float) -> None:
        """The transit VPCs' security groups as listed (also on their own, between
        listings of the rest: after a block, AWS is asked again at once)."""
        self._groups.replace(groups, taken_at)
        self.groups_taken_at = taken_at

    def record_groups(self, groups: Iterable[SecurityGroup]) -> None:
        """Security groups as an action of ours just left them (made, blocked, reopened)."""
        self._groups.record(groups)

    def forget_group(self, group_id: str) -> None:
        """A group deleted: gone from what the view shows until a listing shows it."""
        self._groups.forget(group_id)

    def all_groups(self) -> dict[str, SecurityGroup]:
        """Every listed security group, with our own newer knowledge of some."""
        return dict(self._groups.current())

    def listed_groups(self) -> dict[str, SecurityGroup]:
        """The security groups exactly as AWS last listed them: what a block is judged
        by (never by what was decided or sent)."""
        return dict(self._groups.listed)

    def record(self, endpoints: Iterable[Endpoint]) -> None:
        """Endpoints as an action of ours just left them (created, or now deleting)."""
        endpoints = list(endpoints)
        self._seen.update(e.id for e in endpoints)
        self._endpoints.record(endpoints)

    def saw(self, endpoint_id: str) -> bool:
        """Whether this process ever listed or made the endpoint: if so, its own record
        and listings judge a listing that lacks it; if not (it was made by the process
        before this one), only the status can (reconcile.outbound.listing_may_lag)."""
        return endpoint_id in self._seen

    def record_connections(self, requests: Iterable[ConnectionRequest]) -> None:
        """Connection requests as an action of ours just left them (accepted, rejected)."""
        self._connections.record(requests)

    def age(self) -> float | None:
        return None if self.taken_at is None else self.clock() - self.taken_at

    def groups_age(self) -> float | None:
        """How old the security groups' listing is (None: never listed)."""
        return None if self.groups_taken_at is None else self.clock() - self.groups_taken_at

    def failed(self) -> None:
        """The latest attempt to list failed: the old listing must not be reused as if it
        were recent (it would say AWS answered), though its contents are kept."""
        self.taken_at = None

    def owned_by(self, uid: str) -> list[Endpoint]:
        """Every endpoint of this owner (indexed once per change of the view)."""
        version, by_owner = self._owners
        if version != self._endpoints.version:
            by_owner = {}
            for endpoint in self._endpoints.current().values():
                by_owner.setdefault(endpoint.owner_uid, []).append(endpoint)
            self._owners = (self._endpoints.version, by_owner)
        return list(by_owner.get(uid, ()))

    def all_endpoints(self) -> list[Endpoint]:
        return list(self._endpoints.current().values())

    def connection(self, endpoint_id: str) -> ConnectionRequest | None:
        """The request of this tenant endpoint on the platform service, if any."""
        return self._connections.current().get(endpoint_id)

    def all_connections(self) -> list[ConnectionRequest]:
        return list(self._connections.current().values())
