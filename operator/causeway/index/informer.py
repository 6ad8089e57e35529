"""Keeps the index current as client-go's informers do: list every object of a kind in
pages (each page compacted into the index's snapshots as it arrives, so the raw pages
are never all held at once), make that listing the kind's whole index in one step,
then watch from the listing's resourceVersion. A watch the server ends is resumed from
the last resourceVersion seen (bookmarks included); a watch or continue token that
expired (410 Gone) is answered with a new listing, which again replaces the kind's
index at once: an object deleted while nothing was watched disappears from it (a
deleted ConnectionQuota stops granting licenses; a deleted connection stops holding a
license or a transit slot).

Why its own watch and not kopf's: kopf's handlers never learn where a listing ends
(kopf keeps that to its own start-up barrier, whose cost grows with the square of the
objects), so a re-list's deletions would be invisible; and a standby then needs no kopf
at all. The acting replica's kopf watches too, for its handlers (finalizers,
resume): the index takes no body from them, so two streams never race in it.

One thread per kind (the Kubernetes client is synchronous); `on_change` hears of each
watched change after it is in the index, from that thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from causeway.api import KindInfo
from causeway.index.views import ClusterIndex, KindIndex, ObjectSnapshot, kept
from causeway.kube.objects import Page, ResourceExpiredError

logger = logging.getLogger("causeway.index")

PAGE_SIZE = 500  # client-go's informers list in pages of 500 too
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)

# The kind, the event (a watch's ADDED, MODIFIED or DELETED; LISTED for each object
# of a re-listing, DELETED for each it no longer holds), what the index held before
# (None: nothing) and the object as now kept (for DELETED: as last held). Called from
# the informer's thread once the index holds the change.
OnChange = Callable[[KindInfo, str, ObjectSnapshot | None, ObjectSnapshot], None]


class ListWatch(Protocol):
    """The Kubernetes calls an informer needs (causeway.kube.objects.ObjectsApi)."""

    def list_page(self, kind: KindInfo, *, limit: int, token: str = "") -> Page: ...

    def watch(self, kind: KindInfo, since: str) -> Iterator[dict[str, Any]]: ...


class Informer:
    """Lists and then watches one kind into its KindIndex until stopped."""

    def __init__(
        self,
        kind: KindInfo,
        index: KindIndex,
        source: ListWatch,
        *,
        on_change: OnChange | None = None,
        on_synced: Callable[[], None] | None = None,
        page_size: int = PAGE_SIZE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind = kind
        self._index = index
        self._source = source
        self._on_change = on_change
        self._on_synced = on_synced
        self._page_size = page_size
        self._monotonic = monotonic
        self.listings = 0  # how many complete listings (the first, then one per 410)

    def run(self, stopped: threading.Event) -> None:
        """List, then watch, until `stopped` is set; failures are retried with backoff."""
        version: str | None = None
        failures = 0
        while not stopped.is_set():
            try:
                if version is None:
                    version = self.relist()
                version = self.follow(version, stopped)
                failures = 0
            except ResourceExpiredError:
                logger.debug("%s: resourceVersion expired; listing again", self.kind.plural)
                version = None
            except Exception as exc:
                if stopped.is_set():
                    return
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                level = logging.DEBUG if failures == 0 else logging.WARNING
                logger.log(
                    level, "%s: %s failed (%s); again in %gs", self.kind.plural,
                    "listing" if version is None else "watch", exc, delay,
                )  # fmt: skip
                failures += 1
                stopped.wait(delay)

    def relist(self) -> str:
        """One complete listing, made the kind's whole index at once; returns its
        resourceVersion (the watch starts there)."""
        snapshots: list[ObjectSnapshot] = []
        token = ""
        version = ""
        while True:
            page = self._source.list_page(self.kind, limit=self._page_size, token=token)
            snapshots.extend(ObjectSnapshot(kept(item)) for item in page.items)
            version = page.resource_version or version
            token = page.token
            del page
            if not token:
                break
        first = self.listings == 0
        before = self._index.replace(snapshots)
        self._index.mark_synced(self._monotonic())
        self.listings += 1
        if first:
            logger.info("%s: %d listed", self.kind.plural, len(snapshots))
            if self._on_synced is not None:
                self._on_synced()
            return version
        listed = {snapshot.key for snapshot in snapshots}
        gone = [snapshot for key, snapshot in before.items() if key not in listed]
        logger.info(
            "%s: listed again (%d, %d gone meanwhile)", self.kind.plural, len(listed), len(gone)
        )
        if self._on_change is not None:
            for snapshot in gone:
                self._on_change(self.kind, "DELETED", snapshot, snapshot)
            for snapshot in snapshots:
                self._on_change(self.kind, "LISTED", before.get(snapshot.key), snapshot)
        return version

    def follow(self, version: str, stopped: threading.Event) -> str:
        """Apply the watch's events from `version` until the server ends the watch (or
        `stopped`); returns the last resourceVersion seen."""
        for event in self._source.watch(self.kind, version):
            if stopped.is_set():
                break
            version = self.apply(event) or version
        return version

    def apply(self, event: Mapping[str, Any]) -> str | None:
        """One watch event into the index; its resourceVersion."""
        kind = str(event.get("type") or "")
        body = event.get("object") or {}
        self._index.mark_heard(self._monotonic())
        meta = body.get("metadata") or {}
        version = str(meta.get("resourceVersion") or "") or None
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            return version  # BOOKMARK: only its resourceVersion counts
        snapshot = ObjectSnapshot(kept(body))
        before = self._index.apply(kind, snapshot)
        if self._on_change is not None:
            self._on_change(self.kind, kind, before, snapshot)
        return version


class ClusterInformers:
    """One informer thread per kind of a ClusterIndex."""

    def __init__(
        self,
        index: ClusterIndex,
        source: ListWatch,
        *,
        on_change: OnChange | None = None,
        on_synced: Callable[[], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._index = index
        self._source = source
        self._stopped = threading.Event()
        self._synced = on_synced
        self.informers = [
            Informer(
                kind,
                index[kind],
                source,
                on_change=on_change,
                on_synced=self._kind_synced,
                page_size=page_size,
                monotonic=monotonic,
            )
            for kind in index.kinds
        ]
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for informer in self.informers:
            thread = threading.Thread(
                target=informer.run,
                args=(self._stopped,),
                name=f"index/{informer.kind.plural}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop every informer (a watch in progress is interrupted when the source can)."""
        self._stopped.set()
        interrupt = getattr(self._source, "interrupt", None)
        if interrupt is not None:
            interrupt()

    def _kind_synced(self) -> None:
        if self._index.synced and self._synced is not None:
            self._synced()
