"""Writing what the controllers decided back to the cluster: a status merge patch (best
effort: the next pass writes it again) conditioned on the resourceVersion the index
holds, folded into the index at once, and an Event when the phase changes (a Warning
when it stalls), so `kubectl describe` shows the history; Causeway's finalizer on a
connection about to be made in AWS. Shared by the region reconcilers and the
credential controller."""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

from causeway.api import KindInfo, with_finalizer
from causeway.clock import Clock
from causeway.index import ClusterIndex, ObjectSnapshot
from causeway.kube import KubeApi, ObjectRef, StaleObjectError
from causeway.logs import object_logger

logger = logging.getLogger("causeway.status")
WRITE_CONCURRENCY = 16
# A status write refused because the object changed since it was read is decided again
# this soon: the watch brings the newer object within moments.
STALE_WRITE_RETRY_SECONDS = 0.5


class Written(enum.Enum):
    """What became of a status write."""

    WRITTEN = "written"
    STALE = "stale"  # the object changed since: decide again once the watch brings it
    FAILED = "failed"  # refused, gone or unanswered: the next pass writes it again


class StatusWriter:
    """Status patches and Events for every kind."""

    def __init__(
        self,
        kube: KubeApi,
        index: ClusterIndex,
        clock: Clock,
        on_stale: Callable[[], None] | None = None,
    ) -> None:
        self._kube = kube
        self._index = index
        self._clock = clock
        self._on_stale = on_stale
        self._slots = asyncio.Semaphore(WRITE_CONCURRENCY)

    async def write(
        self, kind: KindInfo, snapshot: ObjectSnapshot, patch: Mapping[str, Any]
    ) -> bool:
        """Write a status patch, conditioned on the object as the index holds it now (our
        own earlier writes included); False when it could not (the next pass retries;
        `on_stale` is called when the object had changed, so that pass comes soon)."""
        outcome = await self.write_outcome(kind, snapshot, patch)
        if outcome is Written.STALE and self._on_stale is not None:
            self._on_stale()
        return outcome is Written.WRITTEN

    async def write_outcome(
        self, kind: KindInfo, snapshot: ObjectSnapshot, patch: Mapping[str, Any]
    ) -> Written:
        """`write`, saying why a write did not land (and calling no `on_stale`)."""
        log = object_logger(
            logger, kind=kind.kind, namespace=snapshot.namespace, name=snapshot.name
        )
        current = self._index[kind].get(snapshot.namespace, snapshot.name)
        if current is None or current.uid != snapshot.uid:
            current = snapshot  # gone or made anew: the write is refused (404 or 409)
        async with self._slots:
            try:
                written = await asyncio.to_thread(
                    functools.partial(
                        self._kube.patch_status,
                        kind,
                        snapshot.namespace,
                        snapshot.name,
                        patch,
                        resource_version=current.resource_version,
                    )
                )
            except StaleObjectError:
                # Changed since (kopf's bookkeeping, the tenant, another replica): decided
                # again on the newer object once the watch brings it.
                log.debug("Status not written: the object changed since it was read")
                return Written.STALE
            except Exception as exc:  # the next pass computes and writes it again
                log.warning("Status update failed, retrying next pass: %s", exc)
                return Written.FAILED
        if written is None:
            return Written.FAILED
        self._index[kind].remember_status(snapshot.namespace, snapshot.name, patch, written)
        if "phase" in patch:
            log.info("Phase now %s", patch["phase"])
            stalled = any(
                c["type"] == "Stalled" and c["status"] == "True"
                for c in patch.get("conditions", [])
            )
            message = str(patch.get("message", ""))
            await self.event(kind, snapshot, str(patch["phase"]), message, warning=stalled)
        return Written.WRITTEN

    async def guard(self, kind: KindInfo, snapshot: ObjectSnapshot) -> bool:
        """Add Causeway's finalizer to the object as the index holds it; False when it
        could not (changed since, gone, refused: the next pass tries again). kopf adds
        it too, on first sight of the object, but after a start it first works through
        every object it lists (about 10,000 at scale): a connection applied meanwhile
        would otherwise wait for all of them before anything is made."""
        log = object_logger(
            logger, kind=kind.kind, namespace=snapshot.namespace, name=snapshot.name
        )
        finalizers = tuple(snapshot.body.get("metadata", {}).get("finalizers") or ())
        async with self._slots:
            try:
                written = await asyncio.to_thread(
                    self._kube.add_finalizer,
                    kind,
                    snapshot.namespace,
                    snapshot.name,
                    resource_version=snapshot.resource_version,
                    finalizers=finalizers,
                )
            except Exception as exc:
                log.warning("Adding the finalizer failed, retrying next pass: %s", exc)
                return False
        if written is None:
            return False
        if written:
            self._index[kind].remember_finalizers(
                snapshot.namespace, snapshot.name, with_finalizer(finalizers), written
            )
        return True

    async def event(
        self,
        kind: KindInfo,
        snapshot: ObjectSnapshot,
        reason: str,
        message: str,
        *,
        warning: bool,
    ) -> None:
        """Record an Event about the object. Best effort: Events are informational."""
        ref = ObjectRef(kind.kind, snapshot.namespace, snapshot.name, snapshot.uid)
        try:
            await asyncio.to_thread(
                self._kube.record_event,
                ref,
                reason=reason,
                message=message,
                warning=warning,
                now=self._clock(),
            )
        except Exception as exc:
            logger.debug("Could not record an Event for %s/%s: %s", ref.namespace, ref.name, exc)
