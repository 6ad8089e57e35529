"""Lists and watches Causeway's own kinds for the cluster index (causeway.index.informer):
one page of a LIST (`limit`/`continue`) and a WATCH from a resourceVersion, cluster-wide,
as plain JSON (no client models: decoding 10,000 objects into models would cost more
than the listing). A 410 Gone, of a watch or of a continue token the server no longer
keeps, is its own error: the caller lists again."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import kubernetes

from causeway.api import GROUP, VERSION, KindInfo
from causeway.kube.client import operator_client

WATCH_SECONDS = 300  # the server ends each watch after this; it is then resumed
REQUEST_SECONDS = 60.0  # one page of a listing
CONNECT_SECONDS = 5.0


@dataclass(frozen=True)
class Page:
    """One page of a listing; `token` is empty on the last page."""

    items: list[dict[str, Any]]
    resource_version: str
    token: str


class ObjectsApiError(Exception):
    """A list or watch failed; the message says which and the HTTP status."""


class ResourceExpiredError(ObjectsApiError):
    """410 Gone: the resourceVersion or continue token is older than the server keeps."""


class ObjectsApi:
    """Listing and watching one Causeway kind at a time (each call blocks: run it in a
    thread). `interrupt` ends every watch in progress at once (the operator stops)."""

    def __init__(self, configuration: kubernetes.client.Configuration) -> None:
        self._client = operator_client(configuration)
        self._streams: set[Any] = set()
        self._lock = threading.Lock()

    def list_page(self, kind: KindInfo, *, limit: int, token: str = "") -> Page:
        query = {"limit": str(limit)}
        if token:
            query["continue"] = token
        response = self._get(kind, query, timeout=REQUEST_SECONDS, doing="list")
        try:
            response.read()
            reply = json.loads(response.data or b"{}")
        finally:
            response.response.release_conn()
        meta = reply.get("metadata") or {}
        return Page(
            list(reply.get("items") or []),
            str(meta.get("resourceVersion") or ""),
            str(meta.get("continue") or ""),
        )

    def watch(self, kind: KindInfo, since: str) -> Iterator[dict[str, Any]]:
        """The events after `since` (BOOKMARKs included) until the server ends the watch.
        An ERROR event ends it with ResourceExpiredError (410) or ObjectsApiError."""
        query = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "resourceVersion": since,
            "timeoutSeconds": str(WATCH_SECONDS),
        }
        timeout = (CONNECT_SECONDS, WATCH_SECONDS + 30.0)
        response = self._get(kind, query, timeout=timeout, doing="watch")
        stream = response.response
        with self._lock:
            self._streams.add(stream)
        try:
            buffer = b""
            for chunk in stream.stream(65536, decode_content=True):
                buffer += chunk
                lines = buffer.split(b"\n")
                buffer = lines.pop()
                for line in lines:
                    if line.strip():
                        yield _checked(json.loads(line), kind)
        finally:
            with self._lock:
                self._streams.discard(stream)
            stream.release_conn()

    def interrupt(self) -> None:
        """End the watches in progress (their reads fail at once)."""
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            with contextlib.suppress(Exception):  # already closed
                stream.shutdown()

    def _get(self, kind: KindInfo, query: dict[str, str], *, timeout: Any, doing: str) -> Any:
        request = self._client.param_serialize(
            method="GET",
            resource_path=f"/apis/{GROUP}/{VERSION}/{kind.plural}",
            query_params=list(query.items()),
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = self._client.call_api(*request, _request_timeout=timeout)
        if response.status == 410:
            response.read()
            raise ResourceExpiredError(f"{doing} {kind.plural}: HTTP 410 {response.reason}")
        if response.status >= 400:
            response.read()
            raise ObjectsApiError(
                f"{doing} {kind.plural}: HTTP {response.status} {response.reason}"
            )
        return response


def _checked(event: Any, kind: KindInfo) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise ObjectsApiError(f"watch {kind.plural}: not an event: {str(event)[:80]}")
    if event.get("type") == "ERROR":
        status = event.get("object") or {}
        text = f"watch {kind.plural}: {status.get('code')} {status.get('reason')}"
        if status.get("code") == 410:
            raise ResourceExpiredError(text)
        raise ObjectsApiError(text)
    return event
