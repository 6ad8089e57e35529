"""
An in-process, real-HTTP Kubernetes API for running the real operator end-to-end.

This module owns the Kubernetes half of Causeway's sandbox (used by ``causeway demo``,
the e2e tests and the benchmark): it serves the Causeway CRDs plus the few core kinds that
kopf touches on ``127.0.0.1:<free port>``, and offers small HTTP helpers for tests.

It is built on kmock's ``KubernetesEmulator`` (storage, discovery, routing, finalizer
soft-deletion, watch buses, error rendering). kmock 0.8 is young, so a thin shim here fills
in what a real API server does and kmock does not. Every workaround is marked ``WORKAROUND``
with the reason next to it.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import datetime
import itertools
import pathlib
import secrets
import socket
import threading
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeAlias, TypeVar, cast

import aiohttp
import aiohttp.web
import attrs
import jsonpatch
import kmock
import kopf
import kubernetes.client
import yaml
from kmock._internal import aiobus, apps, parsing, rendering

_T = TypeVar("_T")
# Aliases also keep mypy from reading "list" as the sandbox's own list() method.
_Body: TypeAlias = dict[str, Any]
_Bodies: TypeAlias = list[dict[str, Any]]

# How many watch events per resource are kept for resuming watches at a resourceVersion.
# Older resourceVersions get "410 Gone", as on a real server after its compaction window.
_EVENT_LOG_SIZE = 10_000
# How many versions of each object and how many served requests kmock may keep in memory.
_HISTORY_SIZE = 8
# Kept small on purpose: kmock routes every request by scanning this list (see
# _trim_requests), so its length is paid on every request.
_REQUESTS_KEPT = 16
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_STATUS = "status"


# --------------------------------------------------------------------------------------------
# Kinds
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceKind:
    """One API resource to serve."""

    group: str  # "" for core
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    status_subresource: bool = True

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
                )
            )
    return kinds


# --------------------------------------------------------------------------------------------
# Pure helpers: timestamps, patches, selectors
# --------------------------------------------------------------------------------------------


def _now() -> str:
    # RFC 3339 in UTC with "Z", as the API server renders metav1.Time.
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _api_error(status: int, reason: str, message: str) -> kmock.KubernetesError:
    # details={} keeps kmock from putting a server traceback into every client-visible error.
    return kmock.KubernetesError(status=status, reason=reason, message=message, details={})


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (also used, simplified, for strategic merge patches)."""
    # WORKAROUND: kmock's merge raises ValueError when a dict replaces a scalar or vice versa;
    # RFC 7386 says the patch value simply wins, so we merge with our own ten lines.
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _apply_patch(current: dict[str, Any], data: Any, content_type: str) -> dict[str, Any]:
    if "apply-patch" in content_type:
        raise _api_error(415, "UnsupportedMediaType", "server-side apply is not emulated")
    if isinstance(data, list):  # application/json-patch+json, as kopf sends for finalizers
        try:
            patched: dict[str, Any] = jsonpatch.apply_patch(current, data, in_place=False)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
            # WORKAROUND: kmock lets a failed JSON-patch "test" op escape as HTTP 500; kopf's
            # optimistic concurrency (test on metadata.resourceVersion) needs 422 to retry.
            raise _api_error(422, "Invalid", f"the JSON patch cannot be applied: {e}") from e
        return patched
    if isinstance(data, Mapping):
        merged: dict[str, Any] = _merge_patch(current, data)
        return merged
    raise _api_error(400, "BadRequest", "the patch body must be a JSON object or list")


def _selector_matches(selector: str, values: Mapping[str, Any]) -> bool:
    """Equality-only label/field selectors ("a=b,c!=d"); enough for kopf & the client."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if str(values.get(key.strip())) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if str(values.get(key.strip())) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in values:
                return False
        elif term not in values:
            return False
    return True


def _object_matches(obj: Mapping[str, Any], params: Mapping[str, str]) -> bool:
    meta = obj.get("metadata", {})
    fields = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace")}
    return _selector_matches(
        params.get("labelSelector", ""), meta.get("labels") or {}
    ) and _selector_matches(params.get("fieldSelector", ""), fields)


def _check_precondition(sent: Any, current: Mapping[str, Any]) -> None:
    """A resourceVersion in a replace or merge-patch body is a precondition: the API
    server refuses the write with 409 if the object changed since (optimistic locking)."""
    if not isinstance(sent, Mapping):
        return  # a JSON patch (a list) states its preconditions with `test` operations
    sent_rv = (sent.get("metadata") or {}).get("resourceVersion")
    if sent_rv and str(sent_rv) != current["metadata"].get("resourceVersion"):
        raise _api_error(409, "Conflict", "the object has been modified; please retry")


def _rv_of(obj: Mapping[str, Any]) -> int:
    return int(obj.get("metadata", {}).get("resourceVersion") or 0)


def _without(obj: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if key not in keys}


# --------------------------------------------------------------------------------------------
# Teaching kmock's path parser the namespaces resource
# --------------------------------------------------------------------------------------------

_original_parse_path = parsing.parse_path


def _parse_path(path: str) -> parsing.ParsedPath:
    # WORKAROUND: kmock 0.8 reads "/api/v1/namespaces/NAME" as "namespace NAME, no resource"
    # and crashes (HTTP 500) on "/api/v1/namespaces"; kopf then waits for namespaces forever.
    # Only the namespaces' own subresources are special; ".../namespaces/NS/secrets" is not.
    parts = path.strip("/").split("/")
    if parts[:3] == ["api", "v1", "namespaces"] and (
        len(parts) <= 4 or (len(parts) == 5 and parts[4] in {_STATUS, "finalize"})
    ):
        return parsing.ParsedPath(
            group="",
            version="v1",
            plural="namespaces",
            name=parts[3] if len(parts) > 3 else None,
            subresource=parts[4] if len(parts) > 4 else None,
        )
    return _original_parse_path(path)


# kmock's request parser looks the function up on the module at call time; install once.
parsing.parse_path = _parse_path


# --------------------------------------------------------------------------------------------
# The emulator with the real-API-server semantics kmock lacks
# --------------------------------------------------------------------------------------------


@attrs.define(eq=False)
class _LoggedBus(aiobus.Bus[Any]):
    """A watch bus that also remembers recent events, so watches can resume at an RV."""

    # WORKAROUND: kmock's watch ignores ?resourceVersion= and re-sends every object as ADDED;
    # a real server replays only the events after that RV, which needs a short event log.
    log: collections.deque[dict[str, Any]] = attrs.field(
        init=False, factory=lambda: collections.deque(maxlen=_EVENT_LOG_SIZE)
    )
    floor: int = attrs.field(init=False, default=0)  # the newest RV that fell off the log

    async def put(self, *items: Any) -> None:
        for item in items:
            if len(self.log) == self.log.maxlen:
                self.floor = _rv_of(self.log[0]["object"])
            self.log.append(item)
        await super().put(*items)


class _DirectRouting(apps.RawHandler):
    """WORKAROUND: kmock picks the reaction for a request by asking each reaction's view
    whether the request is in it, and a view answers by re-filtering *every* request the
    server kept, oldest first — milliseconds per request with a few dozen kept, which
    dominated the benchmark. Routing only needs to know whether this one request passes
    each view's filters, so the root's request list is narrowed to just it for the
    (synchronous) membership checks, then restored before any reaction runs."""

    __slots__ = ()

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        kept = self._requests[:]
        self._requests[:] = [request]
        try:
            candidates = [
                payload
                for payload in self._by_priority()
                if request in payload._source and not payload._disabled.is_set()
            ]
        finally:
            self._requests[:] = kept
        for payload in candidates:
            try:
                response: aiohttp.web.StreamResponse = await payload(request)
            except rendering.ReactionMismatchError:
                payload._disabled.set()
            except NotImplementedError:
                pass
            else:
                return response
        raise NotImplementedError(f"no reaction for {request.method.value} {request.url}")

    def _by_priority(self) -> list[Any]:
        """Reactions, highest priority first (kmock pads priorities to equal length)."""
        priorities = [payload.priorities for payload in self._payloads]
        width = max((len(p) for p in priorities), default=0)
        keys = [tuple(-x for x in p) + (0,) * (width - len(p)) for p in priorities]
        order = sorted(range(len(keys)), key=keys.__getitem__)
        return [self._payloads[i] for i in order]


class _Emulator(kmock.KubernetesEmulator, _DirectRouting):
    """kmock's emulator plus resourceVersion/uid/generation, subresources, PUT and resumable
    watches. kmock still stores objects, soft-deletes behind finalizers and emits events."""

    def __init__(self, kinds: Sequence[ResourceKind]) -> None:
        super().__init__(buses=collections.defaultdict(_LoggedBus))
        self.kinds: dict[tuple[str, str, str], ResourceKind] = {}
        self.write_count = 0
        self._rv = itertools.count(1)
        self._last_rv = 0
        # Writes read-modify-write the stored object outside kmock's own lock (kmock takes it
        # inside its _handle), so they are serialised here to stay atomic.
        self._write_lock = asyncio.Lock()
        self._in_flight: set[int] = set()  # ids of requests not yet answered
        for kind in kinds:
            self.register(kind)

    def register(self, kind: ResourceKind) -> None:
        self.kinds[(kind.group, kind.version, kind.plural)] = kind
        verbs = {"get", "list", "watch", "create", "update", "patch", "delete"}
        self.resources[kind.key] = kmock.ResourceInfo(
            kind=kind.kind,
            singular=kind.kind.lower(),
            namespaced=kind.namespaced,
            verbs=verbs,
            subresources={_STATUS} if kind.status_subresource else set(),
        )

    def next_rv(self) -> str:
        self._last_rv = next(self._rv)
        return str(self._last_rv)

    # -- request entry point -----------------------------------------------------------------

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        self._in_flight.add(id(request))
        try:
            self._trim_requests()
            return await self._handle_tracked(request)
        finally:
            self._in_flight.discard(id(request))

    async def _handle_tracked(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        if request.method.value not in _WRITE_METHODS:
            return await super()._handle(request)
        self.write_count += 1
        if request.resource is None or (request.name is None and request.method.value != "POST"):
            return await super()._handle(request)
        async with self._write_lock:
            prepared = self._prepare_write(request)
            if isinstance(prepared, dict):  # a no-op write: no new RV, no watch event
                return aiohttp.web.json_response(prepared)
            self._substitute(request, prepared)
            response = await super()._handle(prepared)
        # WORKAROUND: kmock answers a create with 200; the API server says 201 Created.
        if prepared.action == kmock.action.CREATE and response.status == 200:
            response.set_status(201)
        return response

    def _substitute(self, old: rendering.Request, new: rendering.Request) -> None:
        # kmock routes a request only if that very object (by identity) is among the served
        # requests, so a rewritten request must take the original one's place in that list.
        for index in range(len(self._requests) - 1, -1, -1):
            if self._requests[index] is old:
                self._requests[index] = new
                return

    def _trim_requests(self) -> None:
        # WORKAROUND: kmock keeps every request (with its body), in the root and in each
        # matching reaction, plus every error, forever; and it routes each request by scanning
        # that whole list (through every reaction's filters) for every request: a long
        # demo/benchmark would grow in memory and slow down with every request served (about
        # 80 ms a request with 400 kept). Assertions on old requests are not needed here.
        # Requests still being handled must stay listed, or kmock cannot route them: they
        # may wait on locks while newer ones arrive and trim.
        if len(self._requests) > 2 * _REQUESTS_KEPT:
            recent = {id(r) for r in self._requests[-_REQUESTS_KEPT:]}
            keep = recent | self._in_flight
            self._requests[:] = [r for r in self._requests if id(r) in keep]
            for payload in self._payloads:
                payload._requests[:] = [r for r in payload._requests if id(r) in keep]
            for errors in self._errors:
                del errors[:-_REQUESTS_KEPT]

    def _kind(self, request: rendering.Request) -> ResourceKind:
        res = request.resource
        kind = (
            None
            if res is None
            else self.kinds.get((res.group or "", res.version or "", res.plural or ""))
        )
        if kind is None:
            # WORKAROUND: kmock accepts writes to any resource; a real server 404s unknown ones.
            raise _api_error(404, "NotFound", f"the server could not find the resource {res}")
        return kind

    def _stored(self, request: rendering.Request, kind: ResourceKind) -> kmock.Object | None:
        key = (kind.key, request.namespace if kind.namespaced else None, request.name or "")
        if key not in self.objects or self.objects[key].deleted:
            return None
        return self.objects[key]

    def _prepare_write(self, request: rendering.Request) -> rendering.Request | dict[str, Any]:
        kind = self._kind(request)
        if request.method.value == "POST":
            if request.name is not None:
                raise _api_error(405, "MethodNotAllowed", "POST is only for collections")
            return self._prepare_create(request, kind)
        stored = self._stored(request, kind)
        if stored is None:
            raise _api_error(404, "NotFound", f"{kind.plural} {request.name!r} not found")
        if request.method.value == "DELETE":
            return self._prepare_delete(request, stored)
        return self._prepare_update(request, kind, stored)

    # -- writes ------------------------------------------------------------------------------

    def _prepare_create(self, request: rendering.Request, kind: ResourceKind) -> rendering.Request:
        if request.subresource is not None or not isinstance(request.data, Mapping):
            raise _api_error(400, "BadRequest", "a create needs an object body")
        # WORKAROUND: kmock stores the body as sent; the API server owns these metadata fields.
        body = dict(request.data, apiVersion=kind.api_version, kind=kind.kind)
        meta = dict(body.get("metadata") or {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        if not meta.get("name"):
            raise _api_error(422, "Invalid", "metadata.name: Required value")
        namespace = (request.namespace or meta.get("namespace")) if kind.namespaced else None
        if kind.namespaced:
            self._require_namespace(namespace)
        meta.pop("namespace", None)
        meta.pop("deletionTimestamp", None)
        meta.update(
            uid=str(uuid.uuid4()),
            creationTimestamp=_now(),
            generation=1,
            resourceVersion=self.next_rv(),
        )
        if namespace is not None:
            meta["namespace"] = namespace
        body["metadata"] = meta
        if kind.status_subresource:
            body.pop(_STATUS, None)  # the real server ignores status on create then
        return attrs.evolve(request, data=body, namespace=namespace)

    def _require_namespace(self, namespace: str | None) -> None:
        if not namespace:
            raise _api_error(400, "BadRequest", "a namespaced object needs a namespace")
        key = (kmock.resource("", "v1", "namespaces"), None, namespace)
        if key not in self.objects or self.objects[key].deleted:
            raise _api_error(404, "NotFound", f'namespaces "{namespace}" not found')

    def _prepare_delete(
        self,
        request: rendering.Request,
        stored: kmock.Object,
    ) -> rendering.Request:
        # kmock itself sets deletionTimestamp behind finalizers or removes the object, and
        # emits the event; it only misses the new resourceVersion, set in place beforehand.
        meta = stored.raw["metadata"]  # .raw: plain nested dicts, not kmock's views
        if not meta.get("deletionTimestamp"):
            stored.last["metadata"] = dict(meta, resourceVersion=self.next_rv())
        return request

    def _prepare_update(
        self,
        request: rendering.Request,
        kind: ResourceKind,
        stored: kmock.Object,
    ) -> rendering.Request | dict[str, Any]:
        current = copy.deepcopy(stored.raw)
        target = self._updated_object(request, kind, current)
        if target == current:
            return current
        meta = target["metadata"]
        if _without(target, "metadata", _STATUS) != _without(current, "metadata", _STATUS):
            meta["generation"] = int(current["metadata"].get("generation", 1)) + 1
        meta["resourceVersion"] = self.next_rv()
        # WORKAROUND: kmock can only merge-patch (no PUT, no exact replacement), so the exact
        # new version is appended here and kmock gets an empty patch: it still emits MODIFIED.
        stored.history.append(target)
        del stored.history[:-_HISTORY_SIZE]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            # The last finalizer is gone: kmock's DELETE branch (already-deleting object) then
            # just garbage-collects it with a single DELETED event, as a real server does.
            return attrs.evolve(request, action=kmock.action.DELETE, data=None)
        return attrs.evolve(request, action=kmock.action.UPDATE, data={})

    def _updated_object(
        self,
        request: rendering.Request,
        kind: ResourceKind,
        current: dict[str, Any],
    ) -> dict[str, Any]:
        sub = request.subresource
        if sub not in (None, _STATUS) or (sub == _STATUS and not kind.status_subresource):
            raise _api_error(404, "NotFound", f"no subresource {sub!r} for {kind.plural}")
        if request.method.value == "PUT":
            # WORKAROUND: kmock 0.8 has no action for PUT (it 404s), so replace is ours.
            candidate = self._replacement(request, current)
        else:
            content_type = request.headers.get("Content-Type", "")
            _check_precondition(request.data, current)
            candidate = _apply_patch(current, request.data, content_type)
        # WORKAROUND: kmock applies a patch to the whole object for any URL; a real server
        # changes only .status via /status and never .status via the main resource.
        if kind.status_subresource and sub == _STATUS:
            target = dict(current)
            target[_STATUS] = candidate.get(_STATUS)
        elif kind.status_subresource:
            target = dict(candidate)
            target[_STATUS] = current.get(_STATUS)
        else:
            target = dict(candidate)
        if target.get(_STATUS) is None:
            target.pop(_STATUS, None)
        target["metadata"] = self._kept_metadata(current, target.get("metadata"))
        return target

    def _replacement(self, request: rendering.Request, current: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(request.data, Mapping):
            raise _api_error(400, "BadRequest", "a replace needs an object body")
        _check_precondition(request.data, current)
        return copy.deepcopy(dict(request.data))

    @staticmethod
    def _kept_metadata(current: dict[str, Any], sent: Any) -> dict[str, Any]:
        # Clients cannot change identity or server-owned bookkeeping through writes.
        meta = dict(sent) if isinstance(sent, Mapping) else {}
        for key in (
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
            "resourceVersion",
            "deletionTimestamp",
        ):
            if key in current["metadata"]:
                meta[key] = current["metadata"][key]
            else:
                meta.pop(key, None)
        return meta

    # -- reads -------------------------------------------------------------------------------

    def _live_objects(self, request: rendering.Request) -> list[dict[str, Any]]:
        return [
            obj.raw
            for (res, namespace, _), obj in self.objects.items()
            if res == request.resource and not obj.deleted
            if request.namespace is None or namespace == request.namespace
            if _object_matches(obj.raw, request.params)
        ]

    async def _serve_list(self, request: rendering.Request) -> rendering.Payload:
        kind = self._kind(request)
        async with self._lock:
            items = self._live_objects(request)
        # WORKAROUND: kmock lists with resourceVersion "..." and no kind; kopf and the client
        # watch from the list's resourceVersion, so it must be the real current one.
        return {
            "apiVersion": kind.api_version,
            "kind": f"{kind.kind}List",
            "metadata": {"resourceVersion": str(self._last_rv)},
            "items": items,
        }

    async def _serve_watch(self, request: rendering.Request) -> AsyncIterator[rendering.Payload]:
        kind = self._kind(request)  # before the first chunk, so that it is still a plain 404
        yield b""  # send the headers now, even if nothing happens for a while
        bus = cast(_LoggedBus, self._buses[kind.key])
        # WORKAROUND: kmock snapshots the objects, streams them, and only then subscribes to
        # the bus, so events written in between are lost. Subscribe inside the same lock.
        async with self._lock:
            mark = await bus.mark()
            initial = self._initial_events(request, bus)
        stream = cast(AsyncGenerator[Any, None], bus.stream(since=mark))
        try:
            for event in initial:
                yield event
            async for event in self._until_timeout(stream, request.params.get("timeoutSeconds")):
                if self._event_matches(request, event):
                    yield event
        finally:
            await stream.aclose()
            await bus.unmark(mark)

    @staticmethod
    async def _until_timeout(
        stream: AsyncIterator[_T],
        timeout_seconds: str | None,
    ) -> AsyncIterator[_T]:
        # WORKAROUND: kmock ignores ?timeoutSeconds=, so a client's watch(timeout_seconds=N)
        # would hang; a real server closes the stream after N seconds.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(timeout_seconds) if timeout_seconds else None
        while True:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return
            try:
                yield await asyncio.wait_for(anext(stream), remaining)
            except (TimeoutError, StopAsyncIteration):
                return

    def _initial_events(self, request: rendering.Request, bus: _LoggedBus) -> list[dict[str, Any]]:
        since = request.params.get("resourceVersion", "")
        if since in ("", "0") or request.params.get("sendInitialEvents") == "true":
            events = [{"type": "ADDED", "object": obj} for obj in self._live_objects(request)]
            if request.params.get("sendInitialEvents") == "true":
                events.append(self._initial_events_end_bookmark())
            return events
        if not since.isdigit() or int(since) < bus.floor:
            gone = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "code": 410,
                "reason": "Expired",
                "message": f"too old resource version: {since}",
            }
            return [{"type": "ERROR", "object": gone}]
        return [
            event
            for event in bus.log
            if _rv_of(event["object"]) > int(since) and self._event_matches(request, event)
        ]

    def _initial_events_end_bookmark(self) -> dict[str, Any]:
        meta = {
            "resourceVersion": str(self._last_rv),
            "annotations": {"k8s.io/initial-events-end": "true"},
        }
        return {"type": "BOOKMARK", "object": {"metadata": meta}}

    @staticmethod
    def _event_matches(request: rendering.Request, event: Mapping[str, Any]) -> bool:
        obj = event.get("object", {})
        namespace = obj.get("metadata", {}).get("namespace")
        in_namespace = request.namespace is None or namespace == request.namespace
        return in_namespace and _object_matches(obj, request.params)


# --------------------------------------------------------------------------------------------
# The sandbox
# --------------------------------------------------------------------------------------------


class KubeSandboxError(RuntimeError):
    """A helper's request got a non-success answer from the sandbox API."""

    def __init__(self, method: str, url: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {url} -> HTTP {status}: {body}")
        self.status = status
        self.body = body


class KubeSandbox:
    """Async context manager: starts the emulator on 127.0.0.1:<free port>."""

    def __init__(
        self,
        kinds: Sequence[ResourceKind],
        namespaces: Sequence[str] = ("default",),
    ) -> None:
        known = {(k.group, k.version, k.plural) for k in CORE_KINDS}
        self.kinds: tuple[ResourceKind, ...] = CORE_KINDS + tuple(
            k for k in kinds if (k.group, k.version, k.plural) not in known
        )
        self.namespaces = tuple(namespaces)
        self._emulator: _Emulator | None = None
        self._runner: aiohttp.web.ServerRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port: int | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("The sandbox is not running.")
        return f"http://127.0.0.1:{self._port}"

    @property
    def emulator(self) -> kmock.KubernetesEmulator:
        """The underlying kmock emulator, for assertions on ``.objects`` if needed."""
        if self._emulator is None:
            raise RuntimeError("The sandbox is not running.")
        return self._emulator

    async def __aenter__(self) -> KubeSandbox:
        self._emulator = _Emulator(self.kinds)
        await self._emulator.__aenter__()
        for namespace in self.namespaces:
            self._seed_namespace(namespace)
        # WORKAROUND: kmock.Server monkey-patches aiohttp's DNS resolver process-wide and
        # insists on LIFO exits, which breaks with several sandboxes/threads; we need no DNS
        # tricks, so the handler is served by a plain aiohttp runner on a pre-bound socket.
        # handler_cancellation: a watch whose client went away must stop holding its bus mark.
        server = aiohttp.web.Server(self._emulator, handler_cancellation=True)
        self._runner = aiohttp.web.ServerRunner(server, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await aiohttp.web.SockSite(self._runner, sock).start()
        self._session = aiohttp.ClientSession(self.url)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._emulator is not None:
            await self._emulator.__aexit__(exc_type, exc, tb)
        self._session = self._runner = None
        self._port = None

    def _seed_namespace(self, name: str) -> None:
        assert self._emulator is not None
        meta = {
            "name": name,
            "uid": str(uuid.uuid4()),
            "creationTimestamp": _now(),
            "resourceVersion": self._emulator.next_rv(),
        }
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": meta,
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }
        self._emulator.objects[kmock.resource("", "v1", "namespaces"), None, name] = body

    # -- connection info for clients ---------------------------------------------------------

    def kube_configuration(self) -> kubernetes.client.Configuration:
        return kubernetes.client.Configuration(host=self.url)

    def kopf_connection(self) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(
            server=self.url, default_namespace=self.namespaces[0] if self.namespaces else None
        )

    def write_kubeconfig(self, path: pathlib.Path) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "causeway-sandbox",
            "clusters": [{"name": "causeway-sandbox", "cluster": {"server": self.url}}],
            "users": [{"name": "causeway-sandbox", "user": {"token": "sandbox"}}],
            "contexts": [
                {
                    "name": "causeway-sandbox",
                    "context": {
                        "cluster": "causeway-sandbox",
                        "user": "causeway-sandbox",
                        "namespace": self.namespaces[0] if self.namespaces else "default",
                    },
                }
            ],
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))

    def write_count(self) -> int:
        return self._emulator.write_count if self._emulator is not None else 0

    # -- HTTP helpers for tests --------------------------------------------------------------

    def kind_for(self, plural: str) -> ResourceKind:
        """Find a kind by "plural" or "plural.group"; core wins on clashes (e.g. events)."""
        name, _, group = plural.partition(".")
        matches = [k for k in self.kinds if k.plural == name and (not group or k.group == group)]
        if not matches:
            raise KeyError(f"No registered kind for {plural!r}")
        return sorted(matches, key=lambda k: k.group != "")[0]

    def _kind_of_manifest(self, manifest: Mapping[str, Any]) -> ResourceKind:
        for kind in self.kinds:
            if kind.api_version == manifest["apiVersion"] and kind.kind == manifest["kind"]:
                return kind
        raise KeyError(f"No registered kind for {manifest['apiVersion']}/{manifest['kind']}")

    async def _call(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        if self._session is None:
            raise RuntimeError("The sandbox is not running.")
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs = {"json": body, "headers": {"Content-Type": content_type}}
        async with self._session.request(method, url, **kwargs) as response:
            payload: Any = await response.json(content_type=None)
            if response.status == 404 and missing_ok:
                return None
            if response.status >= 400:
                raise KubeSandboxError(method, url, response.status, payload)
            return dict(payload)

    async def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Create, or merge-patch if it exists (like ``kubectl apply``, simplified)."""
        kind = self._kind_of_manifest(manifest)
        meta = manifest.get("metadata", {})
        namespace = meta.get("namespace") or (self.namespaces[0] if kind.namespaced else None)
        try:
            created = await self._call("POST", kind.url(namespace), dict(manifest))
        except KubeSandboxError as e:
            if e.status != 409:
                raise
        else:
            assert created is not None
            return created
        patch = _without(manifest, "status")
        patch["metadata"] = _without(meta, "resourceVersion", "uid", "creationTimestamp")
        return await self.patch(f"{kind.plural}.{kind.group}", namespace, meta["name"], patch)

    async def get(self, kind_plural: str, namespace: str | None, name: str) -> _Body | None:
        kind = self.kind_for(kind_plural)
        return await self._call("GET", kind.url(namespace, name), missing_ok=True)

    async def list(self, plural: str, namespace: str | None = None) -> _Bodies:
        result = await self._call("GET", self.kind_for(plural).url(namespace))
        assert result is not None
        return list(result["items"])

    async def patch(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        patch: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Merge-patch the main resource (``.status`` is ignored there if it is a subresource)."""
        url = self.kind_for(plural).url(namespace, name)
        result = await self._call(
            "PATCH", url, dict(patch), content_type="application/merge-patch+json"
        )
        assert result is not None
        return result

    async def patch_status(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        status: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Merge-patch ``.status`` through the status subresource."""
        url = self.kind_for(plural).url(namespace, name) + "/status"
        result = await self._call(
            "PATCH", url, {"status": dict(status)}, content_type="application/merge-patch+json"
        )
        assert result is not None
        return result

    async def delete(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        *,
        missing_ok: bool = False,
    ) -> None:
        await self._call(
            "DELETE", self.kind_for(plural).url(namespace, name), missing_ok=missing_ok
        )


class ThreadedKubeSandbox:
    """A :class:`KubeSandbox` running in a background thread with its own event loop.

    For synchronous callers, or when kopf and the kubernetes client run in other threads.
    """

    def __init__(
        self,
        kinds: Sequence[ResourceKind],
        namespaces: Sequence[str] = ("default",),
    ) -> None:
        self.sandbox = KubeSandbox(kinds, namespaces)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _run(self, coro: Coroutine[Any, Any, _T], timeout: float = 30.0) -> _T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("The sandbox thread is not running.")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __enter__(self) -> ThreadedKubeSandbox:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kube-sandbox", daemon=True
        )
        self._thread.start()
        try:
            self._run(self.sandbox.__aenter__())
        except BaseException:
            self._stop_loop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._run(self.sandbox.__aexit__(exc_type, exc, tb))
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    @property
    def url(self) -> str:
        return self.sandbox.url

    def kube_configuration(self) -> kubernetes.client.Configuration:
        return self.sandbox.kube_configuration()

    def kopf_connection(self) -> kopf.ConnectionInfo:
        return self.sandbox.kopf_connection()

    def write_kubeconfig(self, path: pathlib.Path) -> None:
        self.sandbox.write_kubeconfig(path)

    def write_count(self) -> int:
        return self.sandbox.write_count()

    def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        return self._run(self.sandbox.apply(manifest))

    def get(self, kind_plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self._run(self.sandbox.get(kind_plural, namespace, name))

    def list(self, plural: str, namespace: str | None = None) -> _Bodies:
        return self._run(self.sandbox.list(plural, namespace))

    def patch(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        patch: Mapping[str, Any],
    ) -> dict[str, Any]:
        return self._run(self.sandbox.patch(plural, namespace, name, patch))

    def patch_status(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        status: Mapping[str, Any],
    ) -> dict[str, Any]:
        return self._run(self.sandbox.patch_status(plural, namespace, name, status))

    def delete(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        *,
        missing_ok: bool = False,
    ) -> None:
        self._run(self.sandbox.delete(plural, namespace, name, missing_ok=missing_ok))
