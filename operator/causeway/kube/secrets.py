"""Secrets, as NamedCredentials need them: read one a credential names (its data, only
then), publish the Secret for workloads (owned by its credential, never overwriting
one Causeway does not own), and watch the Secrets' *metadata* only (names and
resource versions, never values) of one namespace, so a rotation is noticed within
seconds. The operator is granted Secrets per tenant namespace: a refusal (403) is its
own error, and a watch says when its namespace refuses it and when it allows it again.

Nothing here logs or raises with a secret value in it: API errors are reduced to their
status code and reason before they leave this module."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import kubernetes

from causeway.fence import Fence
from causeway.kube.client import operator_client

logger = logging.getLogger("causeway.secrets")
# Ask the API server for metadata only, so neither the list nor the watch ever carries a
# secret value. A list must ask for the List form (the API server answers a list asked
# `as=PartialObjectMetadata` with 406), a watch for the object form. No plain
# `application/json` fallback: a server unable to send metadata only must refuse, not
# send whole Secrets.
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
WATCH_SECONDS = 300
_RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
DENIED_RETRY_SECONDS = 30.0  # an admin may bind the role at any time


class SecretApiError(Exception):
    """A Secret call failed; the message holds the HTTP status and reason only."""


class SecretAccessDeniedError(SecretApiError):
    """The API server refused (403): the operator has no Secrets role in the namespace."""


@dataclass(frozen=True)
class SecretContent:
    """One Secret's values (decoded from base64) and identity."""

    values: Mapping[str, bytes]
    resource_version: str


@dataclass(frozen=True)
class PublishedSecret:
    """What matters of an existing Secret at the publish name: who owns it, and the
    fingerprint of what it says."""

    owner_uids: frozenset[str]
    content_hash: str
    resource_version: str


OnChange = Callable[[str, str, str, bool], None]  # namespace, name, resourceVersion, deleted
OnAccess = Callable[[bool], None]  # whether the namespace lets the operator list Secrets


class SecretsApi:
    """Reads, publishes and watches Secrets (as plain JSON: no client models, so nothing
    converts, validates or prints a value on the way)."""

    def __init__(
        self, configuration: kubernetes.client.Configuration, fence: Fence | None = None
    ) -> None:
        self._client = operator_client(configuration)
        self._fence = fence or Fence()  # asked before every write

    def read(self, namespace: str, name: str) -> SecretContent | None:
        """A named Secret's values, or None when it does not exist."""
        secret = self._object("GET", _path(namespace, name), f"read Secret {namespace}/{name}")
        if secret is None:
            return None
        values = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
        return SecretContent(values, str(secret["metadata"].get("resourceVersion", "")))

    def published(self, namespace: str, name: str, hash_annotation: str) -> PublishedSecret | None:
        """Who owns the Secret at the publish name, and what it says, if it exists."""
        secret = self._object("GET", _path(namespace, name), f"read Secret {namespace}/{name}")
        if secret is None:
            return None
        meta = secret.get("metadata") or {}
        owners = frozenset(str(o.get("uid")) for o in meta.get("ownerReferences") or [])
        annotations = meta.get("annotations") or {}
        return PublishedSecret(
            owners, str(annotations.get(hash_annotation, "")), str(meta.get("resourceVersion"))
        )

    def publish(
        self, namespace: str, body: Mapping[str, Any], existing: PublishedSecret | None
    ) -> bool:
        """Create the Secret, or replace the one Causeway owns (at the version read, so a
        concurrent change is not overwritten). False when it changed meanwhile."""
        name = body["metadata"]["name"]
        doing = f"publish Secret {namespace}/{name}"
        if existing is None:
            return self._object("POST", _path(namespace), doing, body, conflict_ok=True) is not None
        meta = {**body["metadata"], "resourceVersion": existing.resource_version}
        replaced = {**body, "metadata": meta}
        return (
            self._object("PUT", _path(namespace, name), doing, replaced, conflict_ok=True)
            is not None
        )

    def _object(
        self,
        method: str,
        path: str,
        doing: str,
        body: Mapping[str, Any] | None = None,
        *,
        conflict_ok: bool = False,
    ) -> dict[str, Any] | None:
        """One JSON call; None for 404 (and 409 when `conflict_ok`)."""
        if method != "GET":
            self._fence.check(doing)
        request = self._client.param_serialize(
            method=method,
            resource_path=path,
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            body=dict(body) if body is not None else None,
            auth_settings=["BearerToken"],
        )
        try:
            response = self._client.call_api(*request, _request_timeout=30.0)
            response.read()
        except Exception as exc:  # network trouble: say what, not what was sent
            raise SecretApiError(f"could not {doing}: {type(exc).__name__}") from None
        if response.status == 404 or (conflict_ok and response.status == 409):
            return None
        if response.status == 403:
            raise SecretAccessDeniedError(f"could not {doing}: HTTP 403 {response.reason}")
        if response.status >= 400:
            raise SecretApiError(f"could not {doing}: HTTP {response.status} {response.reason}")
        reply = json.loads(response.data or b"{}")
        return reply if isinstance(reply, dict) else {}

    def watch_metadata(
        self,
        on_change: OnChange,
        stopped: threading.Event,
        namespace: str,
        on_access: OnAccess | None = None,
    ) -> None:
        """List and then watch the metadata of the Secrets of `namespace` until
        `stopped` is set, calling `on_change` for each Secret seen changed or deleted
        (blocking: run in a thread). Resumes from the last resource version; relists
        when it is too old. `on_access` hears when the namespace refuses the operator
        (403: tried again every DENIED_RETRY_SECONDS) and when it allows it again."""
        attempt = 0
        version: str | None = None
        allowed: bool | None = None
        reported: str | None = None  # the failure last logged at WARNING
        path = _path(namespace)
        while not stopped.is_set():
            try:
                if version is None:
                    version = self._list_metadata(path, on_change)
                    if allowed is not True and on_access is not None:
                        on_access(True)
                    allowed = True
                version = self._watch_from(path, version, on_change, stopped)
                attempt, reported = 0, None
            except _GoneError:
                version = None
            except SecretAccessDeniedError:
                version = None
                if allowed is not False and on_access is not None:
                    on_access(False)
                allowed = False
                stopped.wait(DENIED_RETRY_SECONDS)
            except Exception as exc:
                delay = _RETRY_SECONDS[min(attempt, len(_RETRY_SECONDS) - 1)]
                reported = _report_failure(exc, attempt, delay, reported)
                attempt += 1
                stopped.wait(delay)

    def _list_metadata(self, path: str, on_change: OnChange) -> str:
        reply = self._get(path, {}, stream=False, accept=METADATA_LIST)
        listing = json.loads(reply.data or b"{}")
        for item in listing.get("items", []):
            meta = item.get("metadata") or {}
            on_change(
                meta.get("namespace", ""),
                meta.get("name", ""),
                meta.get("resourceVersion", ""),
                False,
            )
        return str((listing.get("metadata") or {}).get("resourceVersion", ""))

    def _watch_from(
        self, path: str, version: str, on_change: OnChange, stopped: threading.Event
    ) -> str:
        query = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "resourceVersion": version,
            "timeoutSeconds": str(WATCH_SECONDS),
        }
        reply = self._get(path, query, stream=True, accept=METADATA_WATCH)
        buffer = b""
        for chunk in reply.response.stream(4096, decode_content=True):
            if stopped.is_set():
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    version = _event(json.loads(line), on_change) or version
        reply.response.release_conn()
        return version

    def _get(self, path: str, query: Mapping[str, str], *, stream: bool, accept: str) -> Any:
        request = self._client.param_serialize(
            method="GET",
            resource_path=path,
            query_params=list(query.items()),
            header_params={"Accept": accept},
            auth_settings=["BearerToken"],
        )
        timeout = (5.0, WATCH_SECONDS + 30.0) if stream else 30.0
        response = self._client.call_api(*request, _request_timeout=timeout)
        if not stream:
            response.read()
        if response.status == 403:
            raise SecretAccessDeniedError(f"listing Secrets: HTTP 403 {response.reason}")
        if response.status >= 400:
            doing = "watching" if stream else "listing"
            raise SecretApiError(f"{doing} Secrets: HTTP {response.status} {response.reason}")
        return response


def _report_failure(exc: Exception, attempt: int, delay: float, reported: str | None) -> str | None:
    """A dropped connection is routine (DEBUG, retried); a watch that fails again is not:
    rotated Secrets go unnoticed meanwhile. Logged at WARNING once per change of cause,
    so a refusal that lasts is one line, not one per retry. Returns what was reported."""
    cause = str(exc) if isinstance(exc, SecretApiError) else type(exc).__name__
    if attempt == 0 and not isinstance(exc, SecretApiError):
        logger.debug("Secret watch interrupted (%s); again in %gs", cause, delay)
        return reported
    if cause != reported:
        logger.warning(
            "Secret watch failing (%s): rotated Secrets are not noticed until it recovers; "
            "retrying every %gs at most",
            cause,
            _RETRY_SECONDS[-1],
        )
    return cause


class _GoneError(Exception):
    """The watch's resource version is too old: list again."""


def _event(event: Mapping[str, Any], on_change: OnChange) -> str | None:
    kind = event.get("type")
    obj = event.get("object") or {}
    if kind == "ERROR":
        if obj.get("code") == 410:
            raise _GoneError
        raise SecretApiError(f"watching Secrets: {obj.get('code')} {obj.get('reason')}")
    meta = obj.get("metadata") or {}
    version = meta.get("resourceVersion")
    if kind in ("ADDED", "MODIFIED", "DELETED"):
        on_change(meta.get("namespace", ""), meta.get("name", ""), str(version), kind == "DELETED")
    return str(version) if version else None


def _path(namespace: str, name: str | None = None) -> str:
    base = f"/api/v1/namespaces/{namespace}/secrets"
    return f"{base}/{name}" if name else base
