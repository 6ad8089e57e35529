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


def kind_named(kinds: Iterable[ResourceKind], plural: str) -> ResourceKind:
    """A kind by "plural" or "plural.group"; core wins on clashes (e.g. events)."""
    name, _, group = plural.partition(".")
    matches = [k for k in kinds if k.plural == name and (not group or k.group == group)]
    if not matches:
        raise KeyError(f"No registered kind for {plural!r}")
    return sorted(matches, key=lambda k: k.group != "")[0]


def kind_of_manifest(kinds: Iterable[ResourceKind], manifest: Mapping[str, Any]) -> ResourceKind:
    """The kind a manifest's apiVersion and kind name."""
    for kind in kinds:
        if kind.api_version == manifest["apiVersion"] and kind.kind == manifest["kind"]:
            return kind
    raise KeyError(f"No registered kind for {manifest['apiVersion']}/{manifest['kind']}")


def apply_patch(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch a simplified `kubectl apply` sends for an object that exists:
    the manifest without status and server-owned metadata."""
    patch = {k: v for k, v in manifest.items() if k != "status"}
    meta = manifest.get("metadata", {})
    patch["metadata"] = {
        k: v for k, v in meta.items() if k not in ("resourceVersion", "uid", "creationTimestamp")
    }
    return patch
