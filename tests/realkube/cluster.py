"""The real API server as a SandboxStack's Kubernetes backend: the same helper calls the
tests make of the embedded sandbox (apply/get/list/patch/delete as the admin), client
settings that make the operator act as the chart's ServiceAccount with a real token,
and the operator's requests read back from the API server's audit log (for the
write counts the tests assert and for the permission check over the whole suite).

Each backend owns its namespaces while it runs: it creates them (or takes over the
emptied ones an earlier test left) and on exit empties them, and deletes every
cluster-scoped SourceRangeAllocation, so the next test starts clean."""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import kopf
import kubernetes.client
import urllib3

from causeway.sandbox import usage
from causeway.sandbox.kube import CORE_KINDS, KubeSandboxError, ResourceKind
from causeway.sandbox.kube.kinds import apply_patch, kind_named, kind_of_manifest
from realkube.controlplane import ClusterAccess, write_kubeconfig

CLEAN_UP_TIMEOUT = 30.0
_BUSY_RETRIES = 10  # answers of 429 TooManyRequests retried, after Retry-After each
# Namespaced kinds emptied between tests besides Causeway's own.
_EMPTIED = frozenset({"secrets", "events", "leases"})
# The API server names a bound token in the audit log by its JWT ID.
_CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
_METHODS = {
    "get": "GET",
    "list": "GET",
    "watch": "WATCH",
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
    "deletecollection": "DELETE",
}
_WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
_CAUSEWAY_GROUP = "causeway.dev"


class HttpClient:
    """JSON over HTTP(S) to an API server as one user: the real one's (client certificate
    or token over TLS) or the sandbox's (plain HTTP, no authentication)."""

    def __init__(self, access: ClusterAccess | str) -> None:
        self.access = access if isinstance(access, ClusterAccess) else None
        self._server = access.server if isinstance(access, ClusterAccess) else access
        self._headers = {"Accept": "application/json", "User-Agent": "causeway-tests"}
        if self.access is not None and self.access.token:
            self._headers["Authorization"] = f"Bearer {self.access.token}"
        context = self.access.ssl_context() if self.access is not None else None
        self._pool = urllib3.PoolManager(ssl_context=context, retries=False, timeout=30.0)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        query: Mapping[str, str] | None = None,
        missing_ok: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        url = self._server + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        sent = {**self._headers, **(headers or {})}
        if body is not None:
            sent["Content-Type"] = content_type
        data = json.dumps(body).encode() if body is not None else None
        reply = self._pool.request(method, url, body=data, headers=sent)
        for _ in range(_BUSY_RETRIES):
            if reply.status != 429:
                break
            # "storage is (re)initializing" right after CRDs are established: come back
            # after Retry-After, as client-go does.
            time.sleep(min(float(reply.headers.get("Retry-After") or 1), 2.0))
            reply = self._pool.request(method, url, body=data, headers=sent)
        payload: Any = json.loads(reply.data) if reply.data else {}
        if reply.status == 404 and missing_ok:
            return None
        if reply.status >= 400:
            raise KubeSandboxError(method, path, reply.status, payload)
        return dict(payload)


class AuditLog:
    """The operator's requests, as the API server's audit log records them."""

    def __init__(self, path: Path, user: str) -> None:
        self.path, self.user = path, user
        self._start = path.stat().st_size if path.exists() else 0

    def events(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as log:
            log.seek(self._start)
            lines = log.read().splitlines()
        found = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line still being written
            if event.get("user", {}).get("username") != self.user or not event.get("objectRef"):
                continue
            # One event per request: a watch's when it starts, any other's when answered.
            stage = "ResponseStarted" if event.get("verb") == "watch" else "ResponseComplete"
            if event.get("stage") == stage:
                found.append(event)
        return found

    def requests_with(self, credential: str) -> dict[tuple[str, str], int]:
        """Requests made with one token, by (method, resource[/subresource])."""
        counts: dict[tuple[str, str], int] = {}
        for event in self.events():
            extra = (event.get("user") or {}).get("extra") or {}
            if credential not in extra.get(_CREDENTIAL_ID, []):
                continue
            ref = event["objectRef"]
            what = ref.get("resource", "")
            if ref.get("subresource"):
                what += "/" + ref["subresource"]
            key = (_METHODS[event["verb"]], what)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def accesses(self, namespaced: Callable[[str, str], bool]) -> set[usage.KubeAccess]:
        """One RBAC permission per request (verb, group, resource[/subresource]); a request
        on a namespaced resource without a namespace spans them all (`everywhere`)."""
        found = set()
        for event in self.events():
            ref = event["objectRef"]
            group, plural = ref.get("apiGroup", ""), ref.get("resource", "")
            resource = f"{plural}/{ref['subresource']}" if ref.get("subresource") else plural
            everywhere = not ref.get("namespace") and namespaced(group, plural)
            found.add(usage.KubeAccess(group, resource, event["verb"], everywhere))
        return found


class RealKube:
    """A SandboxStack backend on the real API server (see the module docstring)."""

    def __init__(
        self,
        kinds: Sequence[ResourceKind],
        namespaces: Sequence[str],
        *,
        admin: ClusterAccess,
        operator: ClusterAccess,
        operator_user: str,
        audit_log: Path,
        operator_namespace: str,
        mint_token: Callable[[], str],
        on_namespace: Callable[[RealKube, str], None] | None = None,
    ) -> None:
        known = {(k.group, k.version, k.plural) for k in CORE_KINDS}
        self.kinds = CORE_KINDS + tuple(
            k for k in kinds if (k.group, k.version, k.plural) not in known
        )
        self.namespaces = tuple(namespaces)
        self.admin = HttpClient(admin)
        self.operator_access = operator
        self._operator_user = operator_user
        self._audit_path = audit_log
        self._audit: AuditLog | None = None
        self._on_namespace = on_namespace  # admin onboarding of a tenant namespace
        self._operator_namespace = operator_namespace
        self._mint_token = mint_token  # a new token of the operator's ServiceAccount
        self._replica_tokens: dict[str, str] = {}

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._audit = AuditLog(self._audit_path, self._operator_user)
        for namespace in self.namespaces:
            self._create_namespace(namespace)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._audit is not None:
            usage.record_accesses(self._audit.accesses(self._namespaced))
        self._clean_up()

    def _namespaced(self, group: str, plural: str) -> bool:
        return any(k.namespaced for k in self.kinds if (k.group, k.plural) == (group, plural))

    def _create_namespace(self, name: str) -> None:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        try:
            self.admin.call("POST", "/api/v1/namespaces", namespace)
        except KubeSandboxError as exc:
            if exc.status != 409:
                raise  # 409: a namespace an earlier test used, emptied when it ended
        if self._on_namespace is not None:
            self._on_namespace(self, name)

    def _clean_up(self) -> None:
        """Delete what the test made, so the next test starts from empty namespaces:
        finalizers first (the operator that would remove them is stopped), then every
        Causeway object, Secret, Event and Lease in the namespaces, and every cluster-scoped
        SourceRangeAllocation. The namespaces themselves stay: the namespace controller
        takes about ten seconds to finalize one, which thirty tests cannot afford."""
        causeway = [k for k in self.kinds if k.group == _CAUSEWAY_GROUP]
        for kind in causeway:
            for namespace in self.namespaces if kind.namespaced else [None]:
                self._release_finalizers(kind, namespace)
                self.admin.call("DELETE", kind.url(namespace), missing_ok=True)
        for kind in (k for k in self.kinds if k.plural in _EMPTIED and k.namespaced):
            for namespace in self.namespaces:
                self.admin.call("DELETE", kind.url(namespace), missing_ok=True)
        leases = self.kind_for("leases")  # the leader-election Lease
        self.admin.call("DELETE", leases.url(self._operator_namespace), missing_ok=True)
        for kind in causeway:
            for namespace in self.namespaces if kind.namespaced else [None]:
                self._wait_empty(kind, namespace)

    def _release_finalizers(self, kind: ResourceKind, namespace: str | None) -> None:
        listed = self.admin.call("GET", kind.url(namespace)) or {}
        for item in listed.get("items", []):
            meta = item["metadata"]
            if meta.get("finalizers"):
                self.admin.call(
                    "PATCH",
                    kind.url(meta.get("namespace"), meta["name"]),
                    {"metadata": {"finalizers": None}},
                    content_type="application/merge-patch+json",
                    missing_ok=True,
                )

    def _wait_empty(self, kind: ResourceKind, namespace: str | None) -> None:
        deadline = time.monotonic() + CLEAN_UP_TIMEOUT
        while (self.admin.call("GET", kind.url(namespace)) or {}).get("items"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind.plural} in {namespace} still there after clean-up")
            time.sleep(0.1)

    # -- connection info for the operator ------------------------------------------------

    @property
    def url(self) -> str:
        return self.operator_access.server

    def kube_configuration(self) -> kubernetes.client.Configuration:
        configuration = kubernetes.client.Configuration(host=self.operator_access.server)
        configuration.ssl_ca_cert = str(self.operator_access.ca)
        configuration.api_key = {"authorization": f"Bearer {self.operator_access.token}"}
        return configuration

    def kopf_connection(self) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(
            server=self.operator_access.server,
            ca_path=str(self.operator_access.ca),
            token=self.operator_access.token,
            default_namespace=self.namespaces[0] if self.namespaces else None,
        )

    @property
    def operator_namespace(self) -> str:
        return self._operator_namespace

    def write_kubeconfig(self, path: Path, *, replica: str | None = None) -> None:
        """The operator's kubeconfig; a replica gets a token of its own (as each pod's
        kubelet requests one), which the audit log names by its JTI."""
        access = self.operator_access
        if replica is not None:
            if replica not in self._replica_tokens:
                self._replica_tokens[replica] = self._mint_token()
            access = replace(access, token=self._replica_tokens[replica])
        namespace = self.namespaces[0] if self.namespaces else "default"
        write_kubeconfig(path, access, namespace)

    def write_admin_kubeconfig(self, path: Path) -> None:
        namespace = self.namespaces[0] if self.namespaces else "default"
        assert self.admin.access is not None
        write_kubeconfig(path, self.admin.access, namespace)

    def requests_by(self, replica: str) -> dict[tuple[str, str], int]:
        token = self._replica_tokens.get(replica)
        if token is None or self._audit is None:
            return {}
        return self._audit.requests_with(token_id(token))

    # -- what the operator did -----------------------------------------------------------

    def _operator_events(self) -> list[dict[str, Any]]:
        return self._audit.events() if self._audit is not None else []

    def write_count(self) -> int:
        return sum(1 for e in self._operator_events() if e["verb"] in _WRITE_VERBS)

    def reads_of(self, plural: str, namespace: str | None, name: str) -> int:
        return sum(
            1
            for e in self._operator_events()
            if e["verb"] == "get"
            and e["objectRef"].get("resource") == plural
            and e["objectRef"].get("namespace") == namespace
            and e["objectRef"].get("name") == name
            and not e["objectRef"].get("subresource")
        )

    # -- helper calls, as the admin ------------------------------------------------------

    def kind_for(self, plural: str) -> ResourceKind:
        return kind_named(self.kinds, plural)

    def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Create, or merge-patch if it exists (like the sandbox's helper)."""
        kind = kind_of_manifest(self.kinds, manifest)
        meta = manifest.get("metadata", {})
        namespace = meta.get("namespace") or (self.namespaces[0] if kind.namespaced else None)
        try:
            created = self.admin.call("POST", kind.url(namespace), dict(manifest))
        except KubeSandboxError as e:
            if e.status != 409:
                raise
        else:
            assert created is not None
            return created
        plural = f"{kind.plural}.{kind.group}"
        return self.patch(plural, namespace, meta["name"], apply_patch(manifest))

    def get(self, kind_plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.admin.call(
            "GET", self.kind_for(kind_plural).url(namespace, name), missing_ok=True
        )

    def list(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        result = self.admin.call("GET", self.kind_for(plural).url(namespace))
        assert result is not None
        return list(result["items"])

    def patch(
        self, plural: str, namespace: str | None, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        result = self.admin.call(
            "PATCH",
            self.kind_for(plural).url(namespace, name),
            dict(patch),
            content_type="application/merge-patch+json",
        )
        assert result is not None
        return result

    def patch_status(
        self, plural: str, namespace: str | None, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any]:
        result = self.admin.call(
            "PATCH",
            self.kind_for(plural).url(namespace, name) + "/status",
            {"status": dict(status)},
            content_type="application/merge-patch+json",
        )
        assert result is not None
        return result

    def delete(
        self, plural: str, namespace: str | None, name: str, *, missing_ok: bool = False
    ) -> None:
        self.admin.call("DELETE", self.kind_for(plural).url(namespace, name), missing_ok=missing_ok)


def token_id(token: str) -> str:
    """How the audit log names a bound ServiceAccount token: "JTI=" and its JWT ID."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"JTI={claims['jti']}"
