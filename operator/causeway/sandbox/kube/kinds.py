"""The API resources the sandbox Kubernetes API serves: Causeway's CRDs (read from
CRD manifests) and the few core kinds kopf and the operator touch."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import kmock

_STATUS = "status"


@dataclass(frozen=True)
class ResourceKind:
    """One API resource to serve."""

    group: str  # "" for core
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    status_subresource: bool = True
    # The CRD's OpenAPI schema, checked on every write as the API server does.
    schema: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> kmock.resource:
        return kmock.resource(self.group, self.version, self.plural)

    def url(self, namespace: str | None = None, name: str | None = None) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        ns_part = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        name_part = f"/{name}" if name else ""
        return f"{prefix}{ns_part}/{self.plural}{name_part}"


CORE_KINDS: tuple[ResourceKind, ...] = (
    ResourceKind("", "v1", "namespaces", "Namespace", namespaced=False),
    ResourceKind("", "v1", "events", "Event", status_subresource=False),
    ResourceKind("", "v1", "secrets", "Secret", status_subresource=False),
    ResourceKind("events.k8s.io", "v1", "events", "Event", status_subresource=False),
    ResourceKind("coordination.k8s.io", "v1", "leases", "Lease", status_subresource=False),
    ResourceKind(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
    ),
)


def kinds_from_crds(crds: Iterable[Mapping[str, Any]]) -> list[ResourceKind]:
    """Turn apiextensions.k8s.io/v1 CRD dicts into kinds, one per served version."""
    kinds: list[ResourceKind] = []
    for crd in crds:
        spec = crd["spec"]
        for version in spec["versions"]:
            if not version.get("served", True):
                continue
            kinds.append(
                ResourceKind(
                    group=spec["group"],
                    version=version["name"],
                    plural=spec["names"]["plural"],
                    kind=spec["names"]["kind"],
                    namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                    status_subresource=_STATUS in (version.get("subresources") or {}),
                    schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                )
            )
    return kinds
