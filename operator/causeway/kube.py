"""The Kubernetes edge outside kopf: the only module that uses the kubernetes client.
kopf patches objects from inside handlers; this module writes status from outside
them (the region pollers) and records Events on phase transitions."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import kubernetes

from causeway.api import API_VERSION, GROUP, VERSION, KindInfo
from causeway.conditions import timestamp

MERGE_PATCH = "application/merge-patch+json"


def load_configuration() -> kubernetes.client.Configuration:
    """In-cluster config when running in a pod, else the current kubeconfig context."""
    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
    return configuration


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
        client = kubernetes.client.ApiClient(configuration)
        self._custom = kubernetes.client.CustomObjectsApi(client)
        self._core = kubernetes.client.CoreV1Api(client)

    def record_event(
        self, ref: ObjectRef, *, reason: str, message: str, warning: bool, now: datetime
    ) -> None:
        """Record a core/v1 Event on the object (shown by `kubectl describe`)."""
        stamp = timestamp(now)
        event: Any = {  # the client serialises plain dicts as well as its models
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{ref.name}.{uuid.uuid4().hex[:16]}", "namespace": ref.namespace},
            "involvedObject": {
                "apiVersion": API_VERSION,
                "kind": ref.kind,
                "name": ref.name,
                "namespace": ref.namespace,
                "uid": ref.uid,
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        self._core.create_namespaced_event(ref.namespace, event)

    def patch_status(
        self, kind: KindInfo, namespace: str, name: str, status: Mapping[str, Any]
    ) -> None:
        """Merge-patch the status subresource; an object deleted meanwhile is ignored."""
        try:
            self._custom.patch_namespaced_custom_object_status(
                GROUP,
                VERSION,
                namespace,
                kind.plural,
                name,
                {"status": dict(status)},
                _content_type=MERGE_PATCH,
            )
        except kubernetes.client.ApiException as exc:
            if exc.status != 404:
                raise
