"""The fence between a replica and the world: whether this process may make an AWS call
or a Kubernetes write right now. The leader election decides (causeway.election); the
AWS client factory and the Kubernetes writers ask before every call, so a leader that
lost its Lease (or was paused past its renew deadline) cannot act even from work that
was already queued. A single-replica install never closes it."""

from __future__ import annotations

from collections.abc import Callable


class FencedError(RuntimeError):
    """Refused before it was sent: this replica does not lead (any more)."""


class Fence:
    def __init__(self) -> None:
        self._may_act: Callable[[], bool] = lambda: True

    def follow(self, may_act: Callable[[], bool]) -> None:
        """From now on, let `may_act` decide (the elector's)."""
        self._may_act = may_act

    def is_open(self) -> bool:
        return self._may_act()

    def check(self, what: str) -> None:
        """Raise FencedError unless this replica may act; `what` names the call."""
        if not self._may_act():
            raise FencedError(f"{what} refused: this replica does not hold the leader Lease")
