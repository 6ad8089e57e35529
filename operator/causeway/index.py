"""An in-memory view of every connection object, kept current from kopf's watch
events, so a region poller can see all its objects without listing the cluster."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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
    def region(self) -> str:
        return str((self.body.get("spec") or {}).get("region", ""))

    @property
    def deleting(self) -> bool:
        return bool(self._meta.get("deletionTimestamp"))

    @property
    def status(self) -> Mapping[str, Any]:
        return self.body.get("status") or {}

    @property
    def resource_version(self) -> str | None:
        version = self._meta.get("resourceVersion")
        return str(version) if version else None


class ConnectionIndex:
    """Objects of one kind by namespace/name; safe to read from any thread."""

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
                body = {**current.body, "status": {**current.status, **status}}
                self._objects[current.key] = ObjectSnapshot(body)

    def in_region(self, region: str) -> list[ObjectSnapshot]:
        with self._lock:
            return [o for o in self._objects.values() if o.region == region]
