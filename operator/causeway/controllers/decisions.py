"""The vocabulary between the generic region reconciler and each kind's manager: what
a manager decided for its objects in a pass (statuses to write now, AWS work to do,
one object at a time or in a batch), and how that work ended."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any, Protocol

from causeway.api import KindInfo
from causeway.controllers.memory import ObjectMemories
from causeway.controllers.observation import RegionView
from causeway.index import ObjectSnapshot
from causeway.reconcile.admission import Admission
from causeway.reconcile.status import Problem


class Failure(Enum):
    """How an object's AWS work failed."""

    RECOVERABLE = "recoverable"  # retry after a backoff
    TERMINAL = "terminal"  # only a spec change or a sync (tenant) or an admin fix helps


@dataclass(frozen=True)
class WorkResult:
    """How an object's AWS work ended, and the status to write for it."""

    patch: Mapping[str, Any] | None
    failure: Failure | None = None
    settled: bool = False  # a deleting object has nothing left in AWS
    awaiting_aws: bool = False  # AWS is completing a transition we started


@dataclass(frozen=True)
class Decision:
    """What a manager decided for one object in one pass: a status patch to write now,
    or AWS work for this object alone (which returns its own status)."""

    patch: Mapping[str, Any] | None = None
    work: Callable[[], Awaitable[WorkResult]] | None = None
    settled: bool = False
    awaiting_aws: bool = False
    deferred: bool = False  # work is due but must wait (under way, or backing off)
    # Add Causeway's finalizer first: AWS work is due for the object. Once the API
    # server took it, the work starts; else `patch` is written (what it waits for).
    guard: bool = False


@dataclass(frozen=True)
class Batch:
    """AWS work for several objects at once (one call for all, e.g. accepting every
    request due in a pass); returns each object's result by uid."""

    snapshots: tuple[ObjectSnapshot, ...]
    run: Callable[[], Awaitable[Mapping[str, WorkResult]]]


StatusWriter = Callable[[KindInfo, ObjectSnapshot, Mapping[str, Any]], Awaitable[bool]]


@dataclass(frozen=True)
class WorkContext:
    """What an object's AWS work reads and reports through once started: the region's
    view and the status writers. Not the pass's judgements: a create may wait many
    minutes for AWS's budget, and holding its pass's admission (a verdict for every
    object) kept one such table alive per pass while thousands waited."""

    view: RegionView
    write: StatusWriter
    record: StatusWriter


@dataclass(frozen=True)
class PassContext:
    """What every manager reads in a pass, and how its work may report meanwhile (a
    status while it waits for AWS capacity)."""

    view: RegionView
    memories: ObjectMemories
    admission: Admission
    write: StatusWriter
    # Records that must be written before an AWS call (a create's pendingCreate): their
    # own write slots, so they never queue behind a flood of status reports (queue
    # positions while thousands of creates wait for AWS capacity).
    record: StatusWriter

    @cached_property
    def for_work(self) -> WorkContext:
        """The part of this pass's context that its AWS work may keep."""
        return WorkContext(self.view, self.write, self.record)


@dataclass
class PassPlan:
    """A manager's decisions for its objects in one pass."""

    decisions: list[tuple[ObjectSnapshot, Decision]] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)


class Manager(Protocol):
    """One kind's part of a region pass (ACK's resource manager, for a batched world)."""

    kind: KindInfo

    def plan_pass(self, snapshots: Sequence[ObjectSnapshot], context: PassContext) -> PassPlan:
        """What to write or do about each of the kind's objects in the region."""
        ...

    def unobserved(self, snapshot: ObjectSnapshot, problem: Problem) -> Mapping[str, Any] | None:
        """The status patch when AWS could not be read: what the tenant sees stays."""
        ...
