"""A wall clock the sandbox can move: the operator reads time through one injected
source (causeway/clock.py), so tests and the demo cross hour and day boundaries by
jumping this clock instead of waiting for them."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SandboxClock:
    """Reads `start` at first, then moves on with real time (unless `frozen`), until
    someone jumps it. Thread-safe: the operator runs on its own thread."""

    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._frozen = frozen
        self._base = (start or datetime.now(UTC)).astimezone(UTC)
        self._since = time.monotonic()

    def __call__(self) -> datetime:
        with self._lock:
            if self._frozen:
                return self._base
            return self._base + timedelta(seconds=time.monotonic() - self._since)

    def jump_to(self, moment: datetime) -> None:
        """From now on, time reads `moment` (and moves on from there unless frozen)."""
        with self._lock:
            self._base = moment.astimezone(UTC)
            self._since = time.monotonic()

    def advance(self, delta: timedelta) -> None:
        self.jump_to(self() + delta)
