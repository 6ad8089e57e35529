"""Status writes and Events for Causeway's kinds, from outside kopf's handlers.
kopf patches objects from inside handlers; this module writes status from outside
them (the region pollers) and records Events on phase transitions."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import kubernetes

from causeway.api import API_VERSION, GROUP, VERSION, KindInfo

MERGE_PATCH = "application/merge-patch+json"


COMPONENT = "causeway"


@dataclass(frozen=True)
class ObjectRef:
    """Which object an Event is about."""

    kind: str
    namespace: str
    name: str
    uid: str


class KubeApi:
    """Status writes and Events for Causeway's own kinds."""

    def __init__(self, configuration: kubernetes.client.Configuration) -> None:
        self._custom = kubernetes.client.CustomObjectsApi(
            kubernetes.client.ApiClient(configuration)
        )

    def record_event(
        self, ref: ObjectRef, *, reason: str, message: str, warning: bool, now: datetime
    ) -> None:
        """Record an events.k8s.io/v1 Event about the object (`kubectl describe` shows it).
        Sent through the generic custom-objects API: the typed Event model would make the
        client build and validate dozens of nested models for every Event."""
        event = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": f"{ref.name}.{uuid.uuid4().hex[:16]}", "namespace": ref.namespace},
            "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "reportingController": f"{GROUP}/{COMPONENT}",
            "reportingInstance": f"{COMPONENT}-{socket.gethostname()}",
            "action": "Reconcile",
            "reason": reason,
            "note": message[:1024],
            "type": "Warning" if warning else "Normal",
            "regarding": {
                "apiVersion": API_VERSION,
                "kind": ref.kind,
                "name": ref.name,
                "namespace": ref.namespace,
                "uid": ref.uid,
            },
        }
        self._custom.create_namespaced_custom_object(
            "events.k8s.io", "v1", ref.namespace, "events", event
        )

    def patch_status(
        self,
        kind: KindInfo,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        *,
        resource_version: str | None = None,
    ) -> bool:
        """Merge-patch the status subresource. With `resource_version`, only if the object
        is still at that version (optimistic locking). False when the object changed
        meanwhile or is gone: the caller's view was stale, nothing was written."""
        body: dict[str, Any] = {"status": dict(status)}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        try:
            self._custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, kind.plural, name, body, _content_type=MERGE_PATCH
            )
        except kubernetes.client.ApiException as exc:
            if exc.status in (404, 409):
                return False
            raise
        return True
