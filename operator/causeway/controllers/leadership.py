"""Drives the leader election (causeway.election) for a running operator: one attempt
every retry period on a worker thread (the Lease calls are synchronous), a log line on
every acquire and loss naming the holder, the `causeway_leader` gauge, and the Lease
handed back on a graceful stop. The operator waits on `acquired` to start acting and
on `lost` to stop.

Between attempts the renew deadline is checked on the event loop itself every tick,
so a process resuming from a pause (SIGSTOP, a frozen VM, a long GC) learns that it
lost within its first loop iterations, before kopf's queued watch events (which wait
a batching window of 0.1 s) can turn into writes; `on_lost` then runs at once (the
`causeway run` process exits there, see causeway.startup)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from causeway.election import Elector, Role

logger = logging.getLogger("causeway.leadership")

JITTER = 1.2  # client-go's: a standby waits retry * (1 + up to 1.2) between attempts
TICK = 0.05  # how often the renew deadline is checked between attempts (seconds)


class Leadership:
    def __init__(
        self,
        elector: Elector,
        *,
        lease: str,
        on_change: Callable[[bool], None] | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.elector = elector
        self.lease = lease  # namespace/name, for the log
        self.attempted = asyncio.Event()  # the first attempt is over (won or not)
        self.acquired = asyncio.Event()
        self.lost = asyncio.Event()
        self._on_change = on_change
        self._on_lost = on_lost
        self._holder_seen = ""
        self._config_warned = ""

    def may_act(self) -> bool:
        return self.elector.may_act()

    async def run(self, stopped: asyncio.Event) -> None:
        """Attempt every retry period until stopped or lost."""
        logger.info(
            "Leader election on Lease %s as %s: waiting to lead", self.lease, self.elector.identity
        )
        loop = asyncio.get_running_loop()
        while not stopped.is_set() and not self.lost.is_set():
            await self._attempt()
            self.attempted.set()
            retry = self.elector.timing.retry_period
            if self.elector.role is not Role.LEADER:
                retry *= 1 + random.random() * JITTER  # spreads retries only
            next_attempt = loop.time() + retry
            # Plain sleeps, no helper tasks: kopf, stopping, waits for every task created
            # while it ran, and this loop outlives each kopf run.
            while not stopped.is_set() and not self.lost.is_set() and loop.time() < next_attempt:
                await asyncio.sleep(TICK)
                self.check_deadline()

    def check_deadline(self) -> None:
        """Lose at once when the renew deadline has passed (also from a signal handler)."""
        if self.elector.role is Role.LEADER and self.elector.check_deadline():
            self._lose("not renewed within the renew deadline")

    async def release(self) -> None:
        """Hand the Lease back (graceful stop): a standby takes it within a retry period."""
        try:
            released = await asyncio.to_thread(self.elector.release)
        except Exception as exc:  # the Lease then simply expires
            logger.warning(
                "Could not release Lease %s (%s); it expires on its own", self.lease, exc
            )
            return
        if released:
            logger.info("Released Lease %s: a standby takes over now", self.lease)
        self._publish(leading=False)

    async def _attempt(self) -> None:
        elector = self.elector
        self.check_deadline()  # on the loop, before anything else can run after a pause
        if self.lost.is_set():
            return
        try:
            outcome = await asyncio.to_thread(elector.attempt)
        except Exception as exc:  # a round without a renew
            logger.warning("Lease %s: could not read or renew it: %s", self.lease, exc)
            self.check_deadline()
            return
        if outcome.role is Role.LEADER and outcome.changed:
            logger.info("Acquired Lease %s: %s leads now", self.lease, elector.identity)
            self._publish(leading=True)
            self.acquired.set()
        elif outcome.role is Role.LOST and outcome.changed:
            taken = outcome.holder and outcome.holder != elector.identity
            self._lose(f"{outcome.holder} holds it now" if taken else "it was taken or deleted")
        elif outcome.role is Role.STANDBY:
            self._note_holder(outcome.holder, outcome.holder_config_hash)

    def _note_holder(self, holder: str, holder_config_hash: str) -> None:
        if holder and holder != self._holder_seen:
            logger.info("Lease %s is held by %s: standing by", self.lease, holder)
        self._holder_seen = holder
        mine = self.elector.config_hash
        if holder_config_hash and holder_config_hash not in (mine, self._config_warned):
            logger.warning(
                "The leader %s runs another operator config (hash %s, this replica's %s); "
                "the leader's config rules until this replica leads",
                holder,
                holder_config_hash,
                mine,
            )
            self._config_warned = holder_config_hash

    def _lose(self, why: str) -> None:
        if self.lost.is_set():
            return
        logger.error(
            "Lost Lease %s (%s): %s stops acting now", self.lease, why, self.elector.identity
        )
        self._publish(leading=False)
        self.lost.set()
        if self._on_lost is not None:
            self._on_lost()

    def _publish(self, *, leading: bool) -> None:
        if self._on_change is not None:
            self._on_change(leading)
