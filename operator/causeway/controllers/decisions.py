"""The vocabulary between the generic region reconciler and each kind's manager: what
a manager decided for one object in a pass (a status to write, AWS work to do), and
how that work ended."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from causeway.api import KindInfo
from causeway.controllers.memory import ObjectMemory
from causeway.controllers.observation import RegionView
from causeway.index import ObjectSnapshot
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
    """What a manager decided for one object in one pass: either a status patch to
    write now, or AWS work to run (which returns its own status)."""

    patch: Mapping[str, Any] | None = None
    work: Callable[[], Awaitable[WorkResult]] | None = None
    settled: bool = False
    awaiting_aws: bool = False
    deferred: bool = False  # work is due but must wait (under way, or backing off)


class Manager(Protocol):
    """One kind's part of a region pass (ACK's resource manager, for a batched world)."""

    kind: KindInfo

    def decide(self, snapshot: ObjectSnapshot, view: RegionView, memory: ObjectMemory) -> Decision:
        """What to write or do about this object given the region's view of AWS."""
        ...

    def unobserved(self, snapshot: ObjectSnapshot, problem: Problem) -> Mapping[str, Any] | None:
        """The status patch when AWS could not be read: what the tenant sees stays."""
        ...
