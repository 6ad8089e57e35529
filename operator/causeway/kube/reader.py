"""Reads Causeway's objects for the `status` command: the namespace the user means
(as kubectl picks it) and every object of the given kinds in one namespace or all of
them, paged. Each way a read can fail ends as one line naming the server and what
was asked, as the start-up checks in `connection` do."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import kubernetes
import urllib3

from causeway import __version__
from causeway.api import GROUP, VERSION, KindInfo
from causeway.kube.connection import (
    ClusterConnection,
    KubeConfigError,
    KubeUnavailableError,
    kubeconfig_paths,
    network_reason,
    refused,
)
from causeway.kube.leases import GROUP as LEASE_GROUP
from causeway.kube.leases import PLURAL as LEASE_PLURAL
from causeway.kube.leases import ROLE_LABEL, ROLE_VALUE
from causeway.kube.leases import VERSION as LEASE_VERSION

DEFAULT_NAMESPACE = "default"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
PAGE_SIZE = 500
USER_AGENT = f"causeway-status/{__version__}"


def current_namespace(
    environ: Mapping[str, str] | None = None,
    service_account_namespace: Path = SERVICE_ACCOUNT_NAMESPACE,
) -> str:
    """The namespace kubectl would use without -n: the pod's own inside a cluster, else
    the current kubeconfig context's, else `default`. Call after `load_cluster`, which
    has already refused a kubeconfig that cannot be used."""
    env = os.environ if environ is None else environ
    if env.get("KUBERNETES_SERVICE_HOST"):
        try:
            return service_account_namespace.read_text(encoding="utf-8").strip() or (
                DEFAULT_NAMESPACE
            )
        except OSError:
            return DEFAULT_NAMESPACE
    present = [str(p) for p in kubeconfig_paths(env) if p.exists()]
    if not present:
        return DEFAULT_NAMESPACE
    try:
        _, active = kubernetes.config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=os.pathsep.join(present)
        )
    except Exception:  # the loader raises ConfigException, KeyError, ValueError…
        return DEFAULT_NAMESPACE
    context = (active or {}).get("context") or {}
    return str(context.get("namespace") or DEFAULT_NAMESPACE)


def list_objects(
    connection: ClusterConnection,
    kinds: Sequence[KindInfo],
    namespace: str | None,
    *,
    timeout: float,
) -> dict[str, list[dict[str, Any]]]:
    """Every object of each kind in `namespace` (None: in every namespace), keyed by the
    kind's plural, in the server's order."""
    api = _reader(connection)
    return {kind.plural: _list_kind(api, connection, kind, namespace, timeout) for kind in kinds}


def list_leader_leases(connection: ClusterConnection, *, timeout: float) -> list[dict[str, Any]]:
    """Causeway's leader-election Leases in every namespace (who leads); empty when this
    user may not list Leases (a tenant usually may not) or they cannot be read now: the
    rest of the status does not depend on them."""
    try:
        found: Any = _reader(connection).list_cluster_custom_object(
            LEASE_GROUP,
            LEASE_VERSION,
            LEASE_PLURAL,
            label_selector=f"{ROLE_LABEL}={ROLE_VALUE}",
            _request_timeout=timeout,
        )
    except (kubernetes.client.ApiException, urllib3.exceptions.HTTPError, OSError):
        return []
    return [dict(item) for item in (found or {}).get("items") or []]


OPERATOR_POD_SELECTOR = "app.kubernetes.io/part-of=causeway"


def list_operator_pods(
    connection: ClusterConnection, namespaces: Sequence[str], *, timeout: float
) -> list[dict[str, Any]]:
    """The operator's pods in these namespaces (those of its Leases): each one's
    readiness says whether its index is synced. Empty where this user may not list
    pods or they cannot be read now: the rest of the status does not depend on them."""
    pods: list[dict[str, Any]] = []
    client = _reader(connection).api_client
    core = kubernetes.client.CoreV1Api(client)
    for namespace in sorted(set(namespaces)):
        try:
            found: Any = core.list_namespaced_pod(
                namespace,
                label_selector=OPERATOR_POD_SELECTOR,
                _request_timeout=timeout,
                _preload_content=False,
            )
        except (kubernetes.client.ApiException, urllib3.exceptions.HTTPError, OSError):
            continue
        pods += json.loads(found.data).get("items") or []
    return pods


def _reader(connection: ClusterConnection) -> Any:
    configuration = copy.copy(connection.configuration)
    configuration.retries = False  # one answer per request; a failure is reported at once
    client = kubernetes.client.ApiClient(configuration)
    client.user_agent = USER_AGENT  # audit logs tell the CLI from the operator
    return kubernetes.client.CustomObjectsApi(client)


def _list_kind(
    api: Any,
    connection: ClusterConnection,
    kind: KindInfo,
    namespace: str | None,
    timeout: float,
) -> list[dict[str, Any]]:
    where = f"in namespace {namespace}" if namespace else "in all namespaces"
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        paging: dict[str, Any] = {"limit": PAGE_SIZE, "_request_timeout": timeout}
        if token:
            paging["_continue"] = token
        try:
            if namespace:
                page = api.list_namespaced_custom_object(
                    GROUP, VERSION, namespace, kind.plural, **paging
                )
            else:
                page = api.list_cluster_custom_object(GROUP, VERSION, kind.plural, **paging)
        except kubernetes.client.ApiException as exc:
            raise _refused(exc, connection, f"list {kind.plural} {where}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeUnavailableError(
                f"the Kubernetes API at {connection.server} stopped answering while listing "
                f"{kind.plural} {where} ({network_reason(exc)})"
            ) from None
        items.extend(dict(item) for item in page.get("items") or [])
        token = (page.get("metadata") or {}).get("continue") or None
        if not token:
            return items


def _refused(
    exc: Any, connection: ClusterConnection, doing: str
) -> KubeConfigError | KubeUnavailableError:
    status, reason = exc.status, exc.reason
    if status == 404:
        return KubeConfigError(
            f"the cluster at {connection.server} does not serve {GROUP}/{VERSION} (asked to "
            f"{doing}): install the CRDs first (kubectl apply -f crds/)"
        )
    if status == 429 or (isinstance(status, int) and status >= 500):
        return KubeUnavailableError(
            f"the Kubernetes API at {connection.server} could not {doing} (HTTP {status} "
            f"{reason}); try again"
        )
    return refused(status, reason, connection, doing)
