"""Writes to the cluster from outside kopf's handlers: status patches (the region
reconcilers; each conditioned on the resourceVersion the writer last saw), Causeway's
finalizer on a connection about to be made in AWS, Events on phase transitions, and
the operator's own cluster-scoped objects (SourceRangeAllocations)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import kubernetes

from causeway.api import API_VERSION, GROUP, VERSION, KindInfo, with_finalizer
from causeway.fence import Fence
from causeway.kube.client import operator_client
from causeway.kube.objects import ObjectsApi
from causeway.kube.secrets import SecretsApi

MERGE_PATCH = "application/merge-patch+json"


COMPONENT = "causeway"


class StaleObjectError(Exception):
    """A write's resourceVersion precondition failed: the object changed since the
    version the writer last saw (409 Conflict). Decide again on the newer one."""


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
        self._configuration = configuration
        self._custom = kubernetes.client.CustomObjectsApi(operator_client(configuration))
        # Asked before every write here and in `secrets` (leader election closes it).
        self.fence = Fence()
        self.secrets = SecretsApi(configuration, self.fence)

    def objects(self) -> ObjectsApi:
        """A fresh lister and watcher of Causeway's kinds (the cluster index's, one per
        operator run: stopping it ends its watches)."""
        return ObjectsApi(self._configuration)

    def record_event(
        self, ref: ObjectRef, *, reason: str, message: str, warning: bool, now: datetime
    ) -> None:
        """Record an events.k8s.io/v1 Event about the object (`kubectl describe` shows it).
        Sent through the generic custom-objects API: the typed Event model would make the
        client build and validate dozens of nested models for every Event."""
        self.fence.check(f"record Event {reason} about {ref.namespace}/{ref.name}")
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
    ) -> str | None:
        """Merge-patch the status subresource; the resourceVersion the API server gave the
        write, or None when the object is gone (nothing written). `resource_version`:
        the version the writer last saw, a precondition: the API server refuses the write
        (StaleObjectError) if the object has changed since, so a write made from an
        older view (a deposed leader's) never lands over a newer one."""
        self.fence.check(f"write status of {kind.plural} {namespace}/{name}")
        body: dict[str, Any] = {"status": dict(status)}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        try:
            written: Any = self._custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, kind.plural, name, body, _content_type=MERGE_PATCH
            )
        except kubernetes.client.ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status == 409:
                raise StaleObjectError(f"{kind.plural} {namespace}/{name}") from None
            raise
        return _version_of(written)

    def add_finalizer(
        self,
        kind: KindInfo,
        namespace: str,
        name: str,
        *,
        resource_version: str,
        finalizers: Sequence[str],
    ) -> str | None:
        """Add Causeway's finalizer to `finalizers` (the object's list at
        `resource_version`); the resourceVersion the API server gave the write, or None
        when the object changed since or is gone. A merge
        patch replaces the whole list, so the resourceVersion in it is the API server's
        precondition: a finalizer another controller added meanwhile is never dropped."""
        self.fence.check(f"add the finalizer to {kind.plural} {namespace}/{name}")
        wanted = with_finalizer(finalizers)
        body = {"metadata": {"resourceVersion": resource_version, "finalizers": wanted}}
        try:
            written: Any = self._custom.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, kind.plural, name, body, _content_type=MERGE_PATCH
            )
        except kubernetes.client.ApiException as exc:
            if exc.status in (404, 409):
                return None
            raise
        return _version_of(written)

    def create_cluster_object(
        self, kind: KindInfo, body: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Create a cluster-scoped object; None when one of that name exists already (the
        API server's 409 is how a second holder of a name is refused)."""
        self.fence.check(f"create {kind.plural}")
        try:
            created: Any = self._custom.create_cluster_custom_object(
                GROUP, VERSION, kind.plural, dict(body)
            )
        except kubernetes.client.ApiException as exc:
            if exc.status == 409:
                return None
            raise
        return {str(key): value for key, value in dict(created).items()}

    def list_cluster_objects(self, kind: KindInfo, label_selector: str) -> list[dict[str, Any]]:
        """The cluster-scoped objects of a kind that carry these labels."""
        found: Any = self._custom.list_cluster_custom_object(
            GROUP, VERSION, kind.plural, label_selector=label_selector
        )
        return [dict(item) for item in (found or {}).get("items") or []]

    def delete_cluster_object(self, kind: KindInfo, name: str) -> bool:
        """Delete a cluster-scoped object; False when it was already gone."""
        self.fence.check(f"delete {kind.plural} {name}")
        try:
            self._custom.delete_cluster_custom_object(GROUP, VERSION, kind.plural, name)
        except kubernetes.client.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True


def _version_of(written: Any) -> str:
    """The resourceVersion in the API server's answer to a write ("" if it has none)."""
    return str(((written or {}).get("metadata") or {}).get("resourceVersion") or "")
