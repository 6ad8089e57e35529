"""What a SandboxStack needs of a Kubernetes API: the embedded sandbox provides it, and
so does the tests' real control plane (tests/realkube), so one end-to-end suite runs on
either. Helper calls act as the admin; the client settings are the operator's."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol, Self

import kopf
import kubernetes.client

from causeway.sandbox.kube.kinds import ResourceKind


class KubeBackend(Protocol):
    """A running Kubernetes API with the tests' helper calls."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    @property
    def url(self) -> str: ...

    def kube_configuration(self) -> kubernetes.client.Configuration: ...

    def kopf_connection(self) -> kopf.ConnectionInfo: ...

    @property
    def operator_namespace(self) -> str:
        """Where the operator's own objects (its leader-election Lease) live."""
        ...

    def write_kubeconfig(self, path: pathlib.Path, *, replica: str | None = None) -> None:
        """A kubeconfig for the operator; each `replica` gets credentials of its own, by
        which `requests_by` tells its requests from the others'."""
        ...

    def write_admin_kubeconfig(self, path: pathlib.Path) -> None:
        """A kubeconfig for a cluster admin (the CLI in the tests), whose requests are
        not the operator's."""
        ...

    def requests_by(self, replica: str) -> dict[tuple[str, str], int]:
        """A replica's requests by (method, resource[/subresource]); WATCH for watches."""
        ...

    def write_count(self) -> int:
        """Write requests the operator made (every answer, refusals included)."""
        ...

    def reads_of(self, plural: str, namespace: str | None, name: str) -> int:
        """GETs of one object the operator made."""
        ...

    def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]: ...

    def get(self, kind_plural: str, namespace: str | None, name: str) -> dict[str, Any] | None: ...

    def list(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]: ...

    def patch(
        self, plural: str, namespace: str | None, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]: ...

    def patch_status(
        self, plural: str, namespace: str | None, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any]: ...

    def delete(
        self, plural: str, namespace: str | None, name: str, *, missing_ok: bool = False
    ) -> None: ...


class KubeBackendFactory(Protocol):
    """Makes a backend serving these kinds with these namespaces."""

    def __call__(
        self, kinds: Sequence[ResourceKind], namespaces: Sequence[str], *, record_usage: bool
    ) -> KubeBackend: ...
