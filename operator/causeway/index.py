"""The cluster as the operator last saw it: every Causeway object of every kind, kept
current from kopf's watch events, so region reconcilers and the cluster-wide rules
(licenses, claims) read one consistent in-memory view instead of listing the cluster.

kopf lists every indexed kind before it runs any other handler; `ready` is set at that
point, so nothing decides on a half-loaded view (an older claim not yet seen)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from causeway.api import KindInfo


@dataclass(frozen=True)
class ObjectSnapshot:
    """One object as last seen on the watch stream; everything else derives from it."""

    body: Mapping[str, Any]

    @property
    def _meta(self) -> Mapping[str, Any]:
        return self.body.get("metadata") or {}

    @property
    def key(self) -> tuple[str, str]:
        return str(self._meta.get("namespace", "")), str(self._meta.get("name", ""))

    @property
    def namespace(self) -> str:
        return self.key[0]

    @property
    def name(self) -> str:
        return self.key[1]

    @property
    def uid(self) -> str:
        return str(self._meta.get("uid", ""))

    @property
    def generation(self) -> int:
        return int(self._meta.get("generation") or 1)

    @property
    def created(self) -> str:
        """creationTimestamp as written by the API server (RFC 3339, sorts in time order)."""
        return str(self._meta.get("creationTimestamp") or "")

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.body.get("spec") or {}

    @property
    def region(self) -> str:
        return str(self.spec.get("region", ""))

    @property
    def deleting(self) -> bool:
        return bool(self._meta.get("deletionTimestamp"))

    @property
    def annotations(self) -> Mapping[str, str]:
        return self._meta.get("annotations") or {}

    @property
    def status(self) -> Mapping[str, Any]:
        return self.body.get("status") or {}

    def with_status(self, status: Mapping[str, Any]) -> ObjectSnapshot:
        """This object with a status merge patch applied, as the API server applies it."""
        return ObjectSnapshot({**self.body, "status": merge_patch(self.status, status)})


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: nested mappings merge, null removes, the rest replaces."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class KindIndex:
    """The objects of one kind by namespace/name; safe to read from any thread."""

    def __init__(self) -> None:
        self._objects: dict[tuple[str, str], ObjectSnapshot] = {}
        self._lock = threading.Lock()

    def observe(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """Record one watch event (None = the initial listing)."""
        snapshot = ObjectSnapshot(body)
        with self._lock:
            if event_type == "DELETED":
                self._objects.pop(snapshot.key, None)
            else:
                self._objects[snapshot.key] = snapshot

    def remember_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """Fold a status we just wrote into the snapshot, ahead of its watch event."""
        with self._lock:
            current = self._objects.get((namespace, name))
            if current is not None:
                self._objects[current.key] = current.with_status(status)

    def get(self, namespace: str, name: str) -> ObjectSnapshot | None:
        with self._lock:
            return self._objects.get((namespace, name))

    def all(self) -> list[ObjectSnapshot]:
        with self._lock:
            return list(self._objects.values())

    def in_region(self, region: str) -> list[ObjectSnapshot]:
        return [o for o in self.all() if o.region == region]

    def in_namespace(self, namespace: str) -> list[ObjectSnapshot]:
        return [o for o in self.all() if o.namespace == namespace]


class ClusterIndex:
    """One KindIndex per Causeway kind, and whether kopf has listed them all yet."""

    def __init__(self, kinds: Iterable[KindInfo]) -> None:
        self._kinds = {kind.kind: KindIndex() for kind in kinds}
        self.ready = asyncio.Event()

    def __getitem__(self, kind: KindInfo) -> KindIndex:
        return self._kinds[kind.kind]
