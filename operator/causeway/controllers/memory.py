"""What the operator remembers about each object between passes, in memory only (a
restart forgets it safely: everything here can be re-derived or simply retried):
what kopf asked for (a re-check, a sync, a teardown to finish), whether an AWS action
is under way, and the backoff after a recoverable failure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from causeway.errors import backoff_seconds
from causeway.reconcile.status import stalled_by_tenant


@dataclass(slots=True)  # one per object
class ObjectMemory:
    """The operator's notes on one object (by uid)."""

    touch: bool = False  # write lastSyncTime on the next pass: kopf saw a change or a sync
    sync_requested: bool = False  # the causeway.dev/sync value changed: act on it once
    in_flight: bool = False  # an AWS action for this object is under way
    failures: int = 0  # consecutive recoverable failures of its actions
    retry_at: float = 0.0  # monotonic time before which its actions are not retried
    stalled_generation: int | None = None  # its work failed terminally at this generation
    teardown_done: asyncio.Future[None] | None = None

    def held_back(self, generation: int, status: Mapping[str, Any]) -> bool:
        """Its last attempt at this generation failed terminally (remembered here for
        platform-side failures, in status for the tenant's), and no sync asks again."""
        if self.sync_requested:
            return False
        return self.stalled_generation == generation or stalled_by_tenant(status, generation)


@dataclass
class ObjectMemories:
    """ObjectMemory by uid."""

    clock: Callable[[], float] = time.monotonic
    _by_uid: dict[str, ObjectMemory] = field(default_factory=dict)

    def __getitem__(self, uid: str) -> ObjectMemory:
        return self._by_uid.setdefault(uid, ObjectMemory())

    def forget(self, uid: str) -> None:
        self._by_uid.pop(uid, None)

    def failed(self, uid: str) -> float:
        """Record a recoverable failure; returns the backoff before the next attempt."""
        memory = self[uid]
        delay = backoff_seconds(memory.failures)
        memory.failures += 1
        memory.retry_at = self.clock() + delay
        return delay

    def succeeded(self, uid: str) -> None:
        memory = self[uid]
        memory.failures, memory.retry_at = 0, 0.0

    def teardown_future(self, uid: str) -> asyncio.Future[None]:
        """Resolved once the object has nothing left in AWS (its finalizer may go)."""
        memory = self[uid]
        if memory.teardown_done is None or memory.teardown_done.cancelled():
            memory.teardown_done = asyncio.get_running_loop().create_future()
        return memory.teardown_done

    def teardown_finished(self, uid: str) -> None:
        future = self[uid].teardown_done
        if future is not None and not future.done():
            future.set_result(None)

    def next_retry(self) -> float | None:
        """The soonest retry time of any object still backing off, if any."""
        pending = [m.retry_at for m in self._by_uid.values() if m.retry_at > self.clock()]
        return min(pending) if pending else None
