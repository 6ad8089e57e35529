"""What metering knows now, shared by the metering controller (which measures and
decides blocks), the region reconcilers (which enforce blocks on endpoints) and the
ConnectionQuota status: each tenant's latest usage, why it could not be measured,
and until when its outbound traffic is blocked.

A block comes from two sources: metering's own decision, and the tags the region
listings show on tenant groups (and on endpoints blocked before tenant groups), so a
restarted operator keeps a block it made before, whatever CloudWatch says meanwhile.
A block only ever ends at its time: a failed measurement never lifts one early, and
never starts one. A block is said to be in effect only from AWS's listing: taken
after the block was decided, showing none of the tenant's endpoints letting traffic
in, in every region where the tenant has one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from causeway.reconcile.metering import Usage
from causeway.reconcile.status import Problem
from causeway.reconcile.usage import Reading


@dataclass(frozen=True)
class _RegionSeen:
    still_open: dict[str, int]
    present: frozenset[str]
    listed_at: float  # monotonic


@dataclass
class _Tenant:
    usage: Usage | None = None
    measured_at: datetime | None = None
    problem: Problem | None = None
    decided_block: datetime | None = None
    decided_at: float | None = None  # when metering decided it (monotonic, this process)
    retired: tuple[Mapping[str, str], ...] = ()


@dataclass
class Meter:
    """Per tenant (namespace) metering state."""

    _tenants: dict[str, _Tenant] = field(default_factory=dict)
    _tagged: dict[str, dict[str, datetime]] = field(default_factory=dict)  # region → ns → until
    _seen: dict[str, _RegionSeen] = field(default_factory=dict)  # region → its last listing

    def _tenant(self, namespace: str) -> _Tenant:
        return self._tenants.setdefault(namespace, _Tenant())

    def measured(self, namespace: str, usage: Usage, at: datetime) -> None:
        tenant = self._tenant(namespace)
        tenant.usage, tenant.measured_at, tenant.problem = usage, at, None

    def failed(self, namespace: str, problem: Problem) -> None:
        """This tenant could not be measured: its last figures (and blocks) stay."""
        self._tenant(namespace).problem = problem

    def block(self, namespace: str, until: datetime, at: float | None = None) -> bool:
        """Block the tenant's outbound traffic until `until` (decided `at`); True if
        that is news."""
        tenant = self._tenant(namespace)
        if tenant.decided_block is not None and tenant.decided_block >= until:
            return False
        tenant.decided_block, tenant.decided_at = until, at
        return True

    def tags_seen(self, region: str, blocks: Mapping[str, datetime]) -> None:
        """The blocks a region's endpoints carry in their tags, as last listed."""
        self._tagged[region] = dict(blocks)

    def enforcement_seen(
        self,
        region: str,
        still_open: Mapping[str, int],
        present: Iterable[str],
        listed_at: float,
    ) -> None:
        """From a region's listing taken at `listed_at` (monotonic): per blocked tenant, how many of
        its endpoints AWS lists letting traffic in, and the tenants with a live endpoint
        there."""
        self._seen[region] = _RegionSeen(dict(still_open), frozenset(present), listed_at)

    def _block_listed(self, namespace: str) -> bool:
        """Whether every region where the tenant has endpoints was listed after its
        block was decided (a listing from before cannot show the block)."""
        decided = self._tenant(namespace).decided_at
        if decided is None:
            return True
        return all(
            seen.listed_at >= decided for seen in self._seen.values() if namespace in seen.present
        )

    def blocked_until(self, namespace: str, now: datetime) -> datetime | None:
        """When the tenant's outbound traffic reopens, if it is blocked now."""
        candidates = [self._tenant(namespace).decided_block]
        candidates += [blocks.get(namespace) for blocks in self._tagged.values()]
        live = [until for until in candidates if until is not None and until > now]
        return max(live, default=None)

    def blocks_ended(self, now: datetime) -> list[str]:
        """Forget the decided blocks whose time has come; the tenants they were for."""
        ended = []
        for namespace, tenant in self._tenants.items():
            if tenant.decided_block is not None and tenant.decided_block <= now:
                tenant.decided_block = None
                ended.append(namespace)
        return ended

    def block_ends(self) -> list[datetime]:
        """When the blocks metering decided end (so a cycle can come right then)."""
        return [t.decided_block for t in self._tenants.values() if t.decided_block is not None]

    def set_retired(self, namespace: str, retired: tuple[Mapping[str, str], ...]) -> None:
        self._tenant(namespace).retired = retired

    def reading(self, namespace: str, now: datetime) -> Reading:
        tenant = self._tenant(namespace)
        return Reading(
            usage=tenant.usage,
            measured_at=tenant.measured_at,
            problem=tenant.problem,
            blocked_until=self.blocked_until(namespace, now),
            unswapped_endpoints=sum(r.still_open.get(namespace, 0) for r in self._seen.values()),
            block_listed=self._block_listed(namespace),
            retired=tenant.retired,
        )

    def known(self, namespace: str) -> bool:
        """Whether metering has anything to say of the tenant since the start."""
        tenant = self._tenants.get(namespace)
        return tenant is not None and (tenant.usage is not None or tenant.problem is not None)
