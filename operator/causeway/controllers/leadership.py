"""Drives the leader election (causeway.election) for a running operator: one attempt
every retry period on the election's own worker thread (the Lease calls are
synchronous), a log line on every acquire and loss naming the holder, the
`causeway_leader` gauge, and the Lease handed back on a graceful stop (and, bounded,
on a second signal). The operator waits on `acquired` to start acting and on `lost`
to stop.

The Lease calls run on a single thread of their own, not asyncio's default executor:
that one is shared with every other Kubernetes and AWS call, and a few hung
connections there would queue the renew behind them until the Lease was lost.

The renew deadline is checked on the event loop itself every tick, between attempts
and while an attempt runs (a GET or PUT may hang up to its request timeout): so a
leader whose renew hangs, or a process resuming from a pause (SIGSTOP, a frozen VM, a
long GC), learns that it lost at the deadline, within its first loop iterations,
before kopf's queued watch events (which wait a batching window of 0.1 s) can turn
into writes; `on_lost` then runs at once (the `causeway run` process exits there, see
causeway.startup)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from causeway.election import Elector, Role

logger = logging.getLogger("causeway.leadership")

# A standby reads the Lease this often (times 1 + up to READ_JITTER, to spread them),
# not every retry period (2 to 4.4 s, client-go's cadence): a Lease handed back at a
# rolling update is then taken within about this long instead of about 3 s. Expiry is
# judged as before (a lease duration from when this replica first saw the record):
# reading more often only sees a renew sooner. The cost: two GETs of one small object
# a second per standby.
STANDBY_READ_SECONDS = 0.5
READ_JITTER = 0.2
TICK = 0.05  # how often the renew deadline is checked, also during an attempt (seconds)
LEASE_THREAD = "causeway-lease"  # the name of the election's own worker thread
# How long a graceful stop waits to hand the Lease back: an attempt under way first
# (its GET and PUT), then the release's PUT: three Lease calls, each bounded by
# causeway.kube.leases.lease_request_timeout (2.5 s with client-go's timing).
RELEASE_SECONDS = 7.5


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
        # One thread: attempts never overlap, and the release queues behind an attempt
        # under way instead of racing it.
        self._lease_thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=LEASE_THREAD
        )
        self._releasing: concurrent.futures.Future[bool] | None = None
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
                retry = min(retry, STANDBY_READ_SECONDS)
                retry *= 1 + random.random() * READ_JITTER
            next_attempt = loop.time() + retry
            # Plain sleeps, no helper tasks: a stop cancels every task created while kopf
            # ran (causeway.kopf_run), and this loop outlives the acting.
            while not stopped.is_set() and not self.lost.is_set() and loop.time() < next_attempt:
                await asyncio.sleep(TICK)
                self.check_deadline()

    def check_deadline(self) -> None:
        """Lose at once when the renew deadline has passed (also from a signal handler)."""
        if self.elector.role is Role.LEADER and self.elector.check_deadline():
            self._lose("not renewed within the renew deadline")

    async def release(self, timeout: float = RELEASE_SECONDS) -> None:
        """Hand the Lease back (graceful stop): a standby takes it within a retry period.
        Waits at most `timeout` seconds (after an attempt under way); the Lease otherwise
        expires on its own."""
        releasing = self._start_release(self._lease_thread.submit)
        # Not wait_for: a timeout must not cancel the release a second signal may join.
        await asyncio.wait({asyncio.wrap_future(releasing)}, timeout=timeout)
        self._report_release(releasing, timeout)

    def release_now(self, timeout: float) -> None:
        """Hand the Lease back from a signal handler, the process about to exit: blocks at
        most `timeout` seconds. A release under way is waited for; otherwise it runs on a
        thread of its own, not behind an attempt that may hang (the writes are
        conditional, so it cannot undo a newer renew: one of the two gets a conflict)."""
        releasing = self._start_release(_on_own_thread)
        concurrent.futures.wait([releasing], timeout=timeout)
        self._report_release(releasing, timeout)

    def _start_release(
        self, submit: Callable[[Callable[[], bool]], concurrent.futures.Future[bool]]
    ) -> concurrent.futures.Future[bool]:
        """The one release of this process (a second signal joins the first's)."""
        if self._releasing is None:
            self._releasing = submit(self.elector.release)
        return self._releasing

    def _report_release(self, releasing: concurrent.futures.Future[bool], timeout: float) -> None:
        if not releasing.done():
            problem: object = f"no answer within {timeout:g}s"
        elif releasing.exception() is not None:
            problem = releasing.exception()
        else:
            if releasing.result():
                logger.info("Released Lease %s: a standby takes over now", self.lease)
            self._publish(leading=False)
            return
        # The Lease then simply expires.
        logger.warning(
            "Could not release Lease %s (%s); it expires on its own", self.lease, problem
        )

    async def _attempt(self) -> None:
        elector = self.elector
        self.check_deadline()  # on the loop, before anything else can run after a pause
        if self.lost.is_set():
            return
        running = asyncio.get_running_loop().run_in_executor(self._lease_thread, elector.attempt)
        # Keep checking the deadline while the attempt runs: a hung GET or PUT must not
        # keep a leader acting past it. A lost attempt is left to finish on its thread;
        # the elector ignores its outcome (losing is final).
        while not running.done():
            await asyncio.wait({running}, timeout=TICK)
            self.check_deadline()
            if self.lost.is_set():
                running.add_done_callback(_quietly)
                return
        try:
            outcome = running.result()
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


def _on_own_thread(call: Callable[[], bool]) -> concurrent.futures.Future[bool]:
    """Run `call` on a new daemon thread (an exiting process does not wait for it)."""
    future: concurrent.futures.Future[bool] = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(call())
        except Exception as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name=f"{LEASE_THREAD}-release", daemon=True).start()
    return future


def _quietly(future: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned attempt's outcome, so asyncio does not log it as unhandled."""
    if not future.cancelled():
        future.exception()
