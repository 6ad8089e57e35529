"""An in-memory view of every connection object, kept current from kopf's watch
events, so a region poller can see all its objects without listing the cluster."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ObjectSnapshot:
    """One object as last seen on the watch stream."""

    namespace: str
    name: str
    uid: str
    generation: int
    region: str
    body: Mapping[str, Any]

    @property
    def deleting(self) -> bool:
        return bool(self.body.get("metadata", {}).get("deletionTimestamp"))

    @property
    def status(self) -> Mapping[str, Any]:
        return self.body.get("status") or {}

    @property
    def resource_version(self) -> str | None:
        version = self.body.get("metadata", {}).get("resourceVersion")
        return str(version) if version else None


class ConnectionIndex:
    """Objects of one kind by region; safe to read from any thread."""

    def __init__(self) -> None:
        self._objects: dict[tuple[str, str], ObjectSnapshot] = {}
        self._lock = threading.Lock()

    def observe(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """Record one watch event (None = the initial listing)."""
        meta = body.get("metadata", {})
        key = (meta.get("namespace", ""), meta.get("name", ""))
        with self._lock:
            if event_type == "DELETED":
                self._objects.pop(key, None)
                return
            self._objects[key] = ObjectSnapshot(
                namespace=key[0],
                name=key[1],
                uid=meta.get("uid", ""),
                generation=int(meta.get("generation") or 1),
                region=str(body.get("spec", {}).get("region", "")),
                body=body,
            )

    def remember_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """Fold a status we just wrote into the snapshot, ahead of its watch event."""
        with self._lock:
            current = self._objects.get((namespace, name))
            if current is not None:
                merged = {**current.status, **status}
                body = {**current.body, "status": merged}
                self._objects[(namespace, name)] = ObjectSnapshot(
                    current.namespace,
                    current.name,
                    current.uid,
                    current.generation,
                    current.region,
                    body,
                )

    def in_region(self, region: str) -> list[ObjectSnapshot]:
        with self._lock:
            return [o for o in self._objects.values() if o.region == region]

    def __len__(self) -> int:
        with self._lock:
            return len(self._objects)
