"""The Kubernetes edge outside kopf: the only module that uses the kubernetes client.
kopf patches objects from inside handlers; this module writes status from outside
them (the region pollers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kubernetes

from causeway.api import GROUP, VERSION, KindInfo

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


class KubeApi:
    """Status writes for Causeway's own kinds."""

    def __init__(self, configuration: kubernetes.client.Configuration) -> None:
        self._custom = kubernetes.client.CustomObjectsApi(
            kubernetes.client.ApiClient(configuration)
        )

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
