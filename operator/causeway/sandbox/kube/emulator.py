"""kmock's KubernetesEmulator plus the real-API-server semantics kmock 0.8 lacks
(resourceVersion, generation, uid, finalizer-aware deletion, the status
subresource, PUT, resumable watches, cheap routing). Every workaround is marked
WORKAROUND with its reason."""

from __future__ import annotations

import asyncio
import base64
import collections
import copy
import itertools
import secrets
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

import aiohttp
import aiohttp.web
import attrs
import kmock
from kmock._internal import aiobus, apps, parsing, rendering

from causeway.sandbox import faults, usage
from causeway.sandbox.kube.kinds import _STATUS, ResourceKind
from causeway.sandbox.kube.patches import (
    _api_error,
    _apply_patch,
    _check_precondition,
    _now,
    _object_matches,
    _rv_of,
    _without,
)
from causeway.sandbox.kube.validation import SchemaCheck, invalid_message

_T = TypeVar("_T")

# How many watch events per resource are kept for resuming watches at a resourceVersion.
# Older resourceVersions get "410 Gone", as on a real server after its compaction window.
_EVENT_LOG_SIZE = 10_000
# How many versions of each object kmock may keep in memory.
_HISTORY_SIZE = 8
# Kept small on purpose: kmock routes every request by scanning this list (see
# _trim_requests), so its length is paid on every request.
_REQUESTS_KEPT = 16
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


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

    def __init__(self, kinds: Sequence[ResourceKind], *, record_usage: bool = False) -> None:
        super().__init__(buses=collections.defaultdict(_LoggedBus))
        self._record_usage = record_usage
        self.kinds: dict[tuple[str, str, str], ResourceKind] = {}
        self.write_count = 0
        # GETs of single objects by (plural, namespace, name): who read which Secret.
        self.reads: collections.Counter[tuple[str, str | None, str]] = collections.Counter()
        # Requests by bearer token, method and resource[/subresource]: which of several
        # operator processes (each given its own token, as each pod's bound service
        # account token differs) asked what.
        self.by_token: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self._rv = itertools.count(1)
        self._last_rv = 0
        # Writes read-modify-write the stored object outside kmock's own lock (kmock takes it
        # inside its _handle), so they are serialised here to stay atomic.
        self._write_lock = asyncio.Lock()
        self._in_flight: set[int] = set()  # ids of requests not yet answered
        self.on_removed: Callable[[str], None] | None = None  # told the uid of a removed object
        self._schemas: dict[tuple[str, str, str], SchemaCheck] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: ResourceKind) -> None:
        self.kinds[(kind.group, kind.version, kind.plural)] = kind
        if kind.schema is not None:
            self._schemas[(kind.group, kind.version, kind.plural)] = SchemaCheck(kind.schema)
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
        if request.method.value == "GET" and request.name and request.resource is not None:
            self.reads[(request.resource.plural or "", request.namespace, request.name)] += 1
        if self._record_usage:
            _record_usage(request, self.kinds.values())
        self._count_by_token(request)
        fault = faults.kube_fault(
            request.method.value,
            request.headers.get("User-Agent", ""),
            watch=request.params.get("watch") in ("true", "1"),
        )
        if fault is not None and not fault.after_effect:
            return _fault_response(fault)
        self._in_flight.add(id(request))
        try:
            self._trim_requests()
            response = await self._handle_tracked(request)
        finally:
            self._in_flight.discard(id(request))
        return response if fault is None else _fault_response(fault)

    def _count_by_token(self, request: rendering.Request) -> None:
        authorization = str(request.headers.get("Authorization", ""))
        token = authorization.removeprefix("Bearer ").strip()
        resource = request.resource
        if not token or resource is None or not resource.plural:
            return
        plural = resource.plural
        what = f"{plural}/{request.subresource}" if request.subresource else plural
        method = request.method.value
        if method == "GET" and request.params.get("watch") in ("true", "1"):
            method = "WATCH"
        self.by_token[(token, method, what)] += 1

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
            target = self._target_uid(request)
            self._substitute(request, prepared)
            response = await super()._handle(prepared)
            gone = target is not None and self._target_uid(request) is None
            dangling = self._dangling_owner(prepared) if response.status < 300 else None
        # WORKAROUND: kmock answers a create with 200; the API server says 201 Created.
        if prepared.action == kmock.action.CREATE and response.status == 200:
            response.set_status(201)
        if gone and target is not None and self.on_removed is not None:
            self.on_removed(target)  # WORKAROUND: kmock has no garbage collector
        if dangling is not None and self.on_removed is not None:
            self.on_removed(dangling)  # the collector deletes what only dead owners own
        return response

    def _dangling_owner(self, request: rendering.Request) -> str | None:
        """An owner uid of the written object when none of its owners exists any more (a
        dependent written after its owner was deleted): the real garbage collector looks
        its owners up and deletes such an object, as it does the dependents of a deleted
        owner. None if it has no owners or one of them exists."""
        name = request.name or ((request.data or {}).get("metadata") or {}).get("name")
        kind = self._kind(request)
        key = (kind.key, request.namespace if kind.namespaced else None, name or "")
        if key not in self.objects or self.objects[key].deleted:
            return None
        stored = self.objects[key]
        owners = [o.get("uid") for o in stored.raw["metadata"].get("ownerReferences") or ()]
        if not owners:
            return None
        live = {obj.raw["metadata"].get("uid") for obj in self.objects.values() if not obj.deleted}
        return None if any(uid in live for uid in owners) else str(owners[0])

    def _target_uid(self, request: rendering.Request) -> str | None:
        """The uid of the object a write names, while it exists."""
        if request.name is None:
            return None
        stored = self._stored(request, self._kind(request))
        return None if stored is None else str(stored.raw["metadata"].get("uid"))

    def dependents_of(self, uid: str) -> list[tuple[ResourceKind, str | None, str]]:
        """Objects whose ownerReferences name `uid` (what the garbage collector deletes)."""
        found = []
        for (resource, namespace, name), obj in list(self.objects.items()):
            if obj.deleted:
                continue
            owners = obj.raw.get("metadata", {}).get("ownerReferences") or []
            if any(o.get("uid") == uid for o in owners):
                kind = self.kinds.get(
                    (resource.group or "", resource.version or "", resource.plural or "")
                )
                if kind is not None:
                    found.append((kind, namespace, name))
        return found

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
        _fold_string_data(kind, body)
        if kind.status_subresource:
            body.pop(_STATUS, None)  # the real server ignores status on create then
        body = self._validated(kind, body, None)
        return attrs.evolve(request, data=body, namespace=namespace)

    def _validated(
        self, kind: ResourceKind, body: dict[str, Any], old: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Defaults applied and the schema enforced, as the API server does for CRDs: a
        body it would refuse is refused here too (422 Invalid, naming every field)."""
        check = self._schemas.get((kind.group, kind.version, kind.plural))
        if check is None:
            return body
        body = check.defaulted(body)
        errors = check.errors(body, old)
        if errors:
            name = str(body["metadata"].get("name", ""))
            raise _api_error(422, "Invalid", invalid_message(kind.kind, kind.group, name, errors))
        return body

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
        _fold_string_data(kind, target)
        return self._validated(kind, target, current)

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
        metadata_only = _metadata_only(request, "PartialObjectMetadataList")
        async with self._lock:
            items = self._live_objects(request)
        # WORKAROUND: kmock lists with resourceVersion "..." and no kind; kopf and the client
        # watch from the list's resourceVersion, so it must be the real current one.
        if metadata_only:
            return {
                "apiVersion": "meta.k8s.io/v1",
                "kind": "PartialObjectMetadataList",
                "metadata": {"resourceVersion": str(self._last_rv)},
                "items": [_partial(item) for item in items],
            }
        return {
            "apiVersion": kind.api_version,
            "kind": f"{kind.kind}List",
            "metadata": {"resourceVersion": str(self._last_rv)},
            "items": items,
        }

    async def _serve_watch(self, request: rendering.Request) -> AsyncIterator[rendering.Payload]:
        kind = self._kind(request)  # before the first chunk, so that it is still a plain 404
        metadata_only = _metadata_only(request, "PartialObjectMetadata")  # or a plain 406
        yield b""  # send the headers now, even if nothing happens for a while
        bus = cast(_LoggedBus, self._buses[kind.key])
        # WORKAROUND: kmock snapshots the objects, streams them, and only then subscribes to
        # the bus, so events written in between are lost. Subscribe inside the same lock.
        async with self._lock:
            mark = await bus.mark()
            initial = self._initial_events(request, bus)
        stream = cast(AsyncGenerator[Any, None], bus.stream(since=mark))
        shape = _partial_event if metadata_only else _as_is
        since = request.params.get("resourceVersion", "")
        events = faults.watch_events(  # the campaign's faults; as is without a fault plan
            self._matching(request, initial, stream),
            request.headers.get("User-Agent", ""),
            gone=(lambda: _gone_event(since)) if since not in ("", "0") else None,
        )
        try:
            async for event in events:
                yield shape(event)
        finally:
            await stream.aclose()
            await bus.unmark(mark)

    async def _matching(
        self,
        request: rendering.Request,
        initial: list[dict[str, Any]],
        stream: AsyncGenerator[Any, None],
    ) -> AsyncIterator[Any]:
        """The watch's events: the initial ones, then the bus's that match, until timeout."""
        for event in initial:
            yield event
        async for event in self._until_timeout(stream, request.params.get("timeoutSeconds")):
            if self._event_matches(request, event):
                yield event

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
            return [_gone_event(since)]
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


def _gone_event(since: str) -> dict[str, Any]:
    """The ERROR event a watch gets when its resourceVersion is older than the server keeps."""
    gone = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": 410,
        "reason": "Expired",
        "message": f"too old resource version: {since}",
    }
    return {"type": "ERROR", "object": gone}


def _fault_response(fault: faults.KubeFault) -> aiohttp.web.StreamResponse:
    """An injected API-server error, shaped as the server's Status object."""
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": fault.message,
        "reason": fault.reason,
        "code": fault.status,
    }
    return aiohttp.web.json_response(status, status=fault.status)


def _record_usage(request: rendering.Request, kinds: Iterable[ResourceKind]) -> None:
    """Note the RBAC permissions an operator request needs (discovery and other
    non-resource paths need none: every authenticated client may read them)."""
    resource = request.resource
    if resource is None or not resource.plural:
        return
    agent = request.headers.get("User-Agent", "")
    plural = resource.plural
    usage.record_kube(
        agent,
        request.method.value,
        request.params,
        group=resource.group or "",
        resource=f"{plural}/{request.subresource}" if request.subresource else plural,
        named=request.name is not None,
        everywhere=request.namespace is None and _namespaced(plural, kinds),
    )
    # The API server's OwnerReferencesPermissionEnforcement admission also requires
    # `update` on the owner's finalizers for an ownerReference with blockOwnerDeletion.
    body = request.data if isinstance(request.data, dict) else {}
    for owner in (body.get("metadata") or {}).get("ownerReferences") or ():
        if not owner.get("blockOwnerDeletion"):
            continue
        group = str(owner.get("apiVersion", "")).rpartition("/")[0]
        for kind in kinds:
            if kind.group == group and kind.kind == owner.get("kind"):
                usage.record_kube(
                    agent, "PUT", {}, group=group, resource=f"{kind.plural}/finalizers", named=True
                )


def _namespaced(plural: str, kinds: Iterable[ResourceKind]) -> bool:
    return any(kind.plural == plural and kind.namespaced for kind in kinds)


def _fold_string_data(kind: ResourceKind, body: dict[str, Any]) -> None:
    """WORKAROUND: kmock stores a Secret's stringData as sent; the API server merges it
    into data (base64) and never stores stringData."""
    if (kind.group, kind.plural) != ("", "secrets") or "stringData" not in body:
        return
    data = dict(body.get("data") or {})
    for key, value in (body.pop("stringData") or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    body["data"] = data


def _metadata_only(request: rendering.Request, form: str) -> bool:
    """WORKAROUND: kmock ignores `Accept: ...;as=PartialObjectMetadata[List]`, with which a
    client asks for objects' metadata only (a Secret watch without values). As the API
    server: a list must ask for the List form and a watch for the object form; a request
    whose every media type asks for another form is refused with 406 Not Acceptable."""
    forms, plain = set(), False
    for media in request.headers.get("Accept", "").split(","):
        params = dict(
            part.strip().partition("=")[::2] for part in media.split(";")[1:] if "=" in part
        )
        if "as" in params:
            forms.add(params["as"])
        elif media.strip():
            plain = True
    if form in forms:
        return True
    if forms and not plain:
        raise _api_error(
            406,
            "NotAcceptable",
            f"only the following media types are accepted: application/json;as={form};"
            "g=meta.k8s.io;v=v1, application/json, application/yaml",
        )
    return False


def _partial(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": copy.deepcopy(dict(obj.get("metadata") or {})),
    }


def _partial_event(event: Mapping[str, Any]) -> Mapping[str, Any]:
    obj = event.get("object") or {}
    if event.get("type") in ("ADDED", "MODIFIED", "DELETED") and isinstance(obj, Mapping):
        return {"type": event["type"], "object": _partial(obj)}
    return event


def _as_is(event: Mapping[str, Any]) -> Mapping[str, Any]:
    return event
