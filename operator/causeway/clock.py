"""Wall-clock time as the operator reads it: one injectable source (UTC), so tests
and the demo can move it across hour and day boundaries without waiting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)
