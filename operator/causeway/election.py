"""Leader election on a coordination.k8s.io/v1 Lease, as pure logic: which replica
may act, decided from what the Lease store answers and this process's own monotonic
clock. The Kubernetes calls live in causeway.kube.leases (the `LeaseStore` here is
what they offer); the loop that calls `attempt` every retry period lives in
causeway.controllers.leadership.

It follows client-go's leaderelection algorithm and defaults (lease 15 s, renew
deadline 10 s, retry 2 s):
- Two candidates can never both hold the Lease: every acquire and renew is a write
  conditioned on the resourceVersion this process read (the API server answers 409 to
  a stale one), and a create of a Lease that exists is refused. A refused renew is a
  failed renew, as in client-go: the next round reads the Lease again and only a
  holder other than this process is a loss (an annotation edited meanwhile is not).
- Expiry is judged only on the local monotonic clock: a standby takes a held Lease only
  after it has seen the same record, unchanged, for a whole lease duration. The
  renewTime written in the Lease is for people; wall clocks of two nodes are never
  compared, so clock skew cannot make two leaders.
- Fencing: the leader may act only until `renew_deadline` after the start of its last
  successful renew. The renew deadline is shorter than the lease, so a leader that
  cannot renew stops before any standby can take over; and a process that was paused
  (SIGSTOP, a frozen VM) finds on resuming that its monotonic clock ran past the
  deadline, so it refuses to act before it has even tried to renew.
- A standby times a record from when its GET *answered* (client-go's observedTime):
  timed from before the GET, a slow answer would eat into the margin between the old
  leader's fence closing and the new leader acting.
- Losing is final for this process: the operator stops and exits, and the restarted
  process begins as a standby with fresh memory (as client-go's users do). The driver
  checks the deadline on its event loop while an attempt runs on a worker thread, so
  a renew that succeeds only after the deadline passed does not make it leader again.
- One exception to waiting out a lease duration (client-go has none): an identity is
  `<pod>_<per-process suffix>`, and a process started with its pod's name from the
  downward API (`pod`) that finds the Lease held by another process *of its own pod*
  takes it at once: the kubelet runs one container of a pod at a time, so that holder
  is the restarted container's dead predecessor. Without a pod name (a host name is
  no such proof: two processes may share a host) it waits like any standby."""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class ElectionTiming:
    """client-go's defaults. The renew deadline must be shorter than the lease: the
    difference is the margin by which an old leader stops before a new one starts."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                "leader election needs 0 < retry period < renew deadline < lease duration"
            )


@dataclass(frozen=True)
class LeaseRecord:
    """What a Lease says (spec plus the fields the election reads from metadata)."""

    holder: str  # "" once released
    lease_duration_seconds: int
    acquire_time: datetime | None
    renew_time: datetime | None
    transitions: int
    config_hash: str = ""  # the holder's operator config (an annotation)
    resource_version: str = ""  # "" for a record not stored yet


class LeaseConflictError(Exception):
    """The write lost a race: the Lease changed (409 on a stale resourceVersion), it
    exists already (409 on create) or it was deleted (404 on replace)."""


class LeaseStore(Protocol):
    """The one Lease this election is about."""

    def get(self) -> LeaseRecord | None: ...  # None when there is no Lease

    def create(self, record: LeaseRecord) -> LeaseRecord: ...  # LeaseConflictError if any

    def replace(self, record: LeaseRecord) -> LeaseRecord: ...  # conditioned on its RV


class Role(enum.Enum):
    STANDBY = "standby"
    LEADER = "leader"
    LOST = "lost"  # was leader, then could not renew in time: final


@dataclass(frozen=True)
class Outcome:
    """What one attempt found, for the log and the metrics."""

    role: Role
    holder: str  # who holds the Lease as far as this process knows ("" if nobody)
    changed: bool  # the role differs from before the attempt
    holder_config_hash: str = ""


class Elector:
    """One candidate's view of the election. One thread at a time attempts (the
    driver's Lease thread); `may_act`, `check_deadline` and `release` may be called from
    others meanwhile (the event loop, a signal handler): the role changes under a lock,
    and LOST is never left."""

    def __init__(
        self,
        store: LeaseStore,
        identity: str,
        *,
        config_hash: str = "",
        timing: ElectionTiming | None = None,
        monotonic: Callable[[], float],
        wall_clock: Callable[[], datetime],
        pod: str | None = None,
    ) -> None:
        self.identity = identity
        self.pod = pod  # this process's pod (downward API), proof of a same-pod holder
        self.timing = timing or ElectionTiming()
        self._store = store
        self.config_hash = config_hash
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self.role = Role.STANDBY
        self._observed: LeaseRecord | None = None
        self._observed_at = 0.0  # monotonic time the observed record was first seen
        self._renew_started: float | None = None  # start of the last successful write
        self._lock = threading.RLock()  # guards role changes (see the class docstring)

    @property
    def holder(self) -> str:
        return "" if self._observed is None else self._observed.holder

    def may_act(self) -> bool:
        """True only while this process leads and its last renew is fresh enough that no
        other replica can have taken the Lease. Checked before every AWS call and write."""
        renewed = self._renew_started  # read once: another thread may clear it
        if self.role is not Role.LEADER or renewed is None:
            return False
        return self._monotonic() - renewed < self.timing.renew_deadline

    def attempt(self) -> Outcome:
        """One acquire-or-renew round (client-go's tryAcquireOrRenew). Store errors other
        than a lost race propagate; the caller counts them as a failed round and calls
        `check_deadline`."""
        before = self.role
        if self.check_deadline():
            return self._outcome(before)
        started = self._monotonic()
        current = self._store.get()
        if current is None:
            self._write(started, self._store.create, self._claim(None))
            return self._outcome(before)
        self._observe(current, self._monotonic())  # when it answered, as client-go
        if self.role is Role.LEADER and current.holder != self.identity:
            self._lose()  # taken over (or released by hand): never fight for it back
            return self._outcome(before)
        if self._held_by_other(current, started):
            return self._outcome(before)
        self._write(started, self._store.replace, self._claim(current))
        return self._outcome(before)

    def check_deadline(self) -> bool:
        """Give up leadership once the renew deadline has passed without a renew; True
        when this process has lost (now or before)."""
        if self.role is Role.LEADER and not self.may_act():
            self._lose()
        return self.role is Role.LOST

    def release(self) -> bool:
        """Hand the Lease back (on a graceful stop) so a standby takes it within a retry
        period instead of a lease duration: empty holder, one-second duration. Only
        while still leading, and conditioned on the resourceVersion last written."""
        with self._lock:
            observed = self._observed
            if not self.may_act() or observed is None:
                return False
            self._lose()  # from here on this process never acts again
        now = self._wall_clock()
        released = replace(
            observed, holder="", lease_duration_seconds=1, acquire_time=now, renew_time=now
        )
        try:
            self._observed = self._store.replace(released)
        except LeaseConflictError:
            return False
        return True

    def _held_by_other(self, current: LeaseRecord, now: float) -> bool:
        """Someone else holds a Lease this process has not seen unchanged for a whole
        lease duration (measured on the local clock, from when this record was first seen)."""
        if not current.holder or current.holder == self.identity:
            return False
        if self.pod is not None and pod_of(current.holder) == self.pod:
            return False  # our own pod's previous container: dead (see the module's notes)
        return now - self._observed_at < current.lease_duration_seconds

    def _claim(self, current: LeaseRecord | None) -> LeaseRecord:
        now = self._wall_clock()
        renewing = current is not None and current.holder == self.identity
        if current is not None and renewing:
            return replace(current, renew_time=now, config_hash=self.config_hash)
        # A new holder: the Lease's transitions count how often leadership changed hands.
        return LeaseRecord(
            holder=self.identity,
            lease_duration_seconds=round(self.timing.lease_duration),
            acquire_time=now,
            renew_time=now,
            transitions=0 if current is None else current.transitions + 1,
            config_hash=self.config_hash,
            resource_version="" if current is None else current.resource_version,
        )

    def _write(
        self, started: float, write: Callable[[LeaseRecord], LeaseRecord], record: LeaseRecord
    ) -> None:
        try:
            stored = write(record)
        except LeaseConflictError:
            # Someone else wrote since the read (as client-go, no verdict yet): the next
            # round reads the Lease again and loses if another holds it. Meanwhile a
            # leader acts only until its renew deadline, as after any failed renew.
            self._observed = None
            return
        with self._lock:
            if self.role is Role.LOST:  # the deadline passed while this write was under way
                return
            self._observed = stored
            self._observed_at = started
            self._renew_started = started
            self.role = Role.LEADER

    def _observe(self, current: LeaseRecord, now: float) -> None:
        if self._observed is None or current.resource_version != self._observed.resource_version:
            self._observed = current
            self._observed_at = now

    def _lose(self) -> None:
        with self._lock:
            self.role = Role.LOST
            self._renew_started = None

    def _outcome(self, before: Role) -> Outcome:
        observed = self._observed
        return Outcome(
            role=self.role,
            holder=self.holder,
            changed=self.role is not before,
            holder_config_hash="" if observed is None else observed.config_hash,
        )


def pod_of(identity: str) -> str:
    """The pod part of an identity `<pod>_<suffix>` (pod names never hold "_")."""
    pod, separator, _ = identity.rpartition("_")
    return pod if separator else identity
