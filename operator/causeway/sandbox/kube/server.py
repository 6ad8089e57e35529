"""The sandbox Kubernetes API as something to start: an async context manager
serving the emulator on 127.0.0.1, a threaded variant for synchronous callers, and
small HTTP helpers (apply/get/list/patch/delete) for tests, the demo and the bench."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import socket
import threading
import uuid
from collections.abc import Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeAlias, TypeVar

import aiohttp
import aiohttp.web
import kmock
import kopf
import kubernetes.client
import yaml

from causeway.sandbox.kube.emulator import _Emulator
from causeway.sandbox.kube.kinds import (
    CORE_KINDS,
    ResourceKind,
    apply_patch,
    kind_named,
    kind_of_manifest,
)
from causeway.sandbox.kube.patches import _now

_T = TypeVar("_T")

_Body: TypeAlias = dict[str, Any]

_Bodies: TypeAlias = list[dict[str, Any]]


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
        *,
        record_usage: bool = False,
    ) -> None:
        self.record_usage = record_usage  # note the operator's requests (sandbox.usage)
        known = {(k.group, k.version, k.plural) for k in CORE_KINDS}
        self.kinds: tuple[ResourceKind, ...] = CORE_KINDS + tuple(
            k for k in kinds if (k.group, k.version, k.plural) not in known
        )
        self.namespaces = tuple(namespaces)
        self._emulator: _Emulator | None = None
        self._runner: aiohttp.web.ServerRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port: int | None = None
        self._gc_tasks: set[asyncio.Future[None]] = set()

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
        self._emulator = _Emulator(self.kinds, record_usage=self.record_usage)
        self._emulator.on_removed = self._collect_garbage
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

    def _collect_garbage(self, uid: str) -> None:
        """WORKAROUND: kmock has no garbage collector. A real cluster's deletes an object's
        dependents (ownerReferences) once it is gone ("background" propagation), as an
        API client; so does this, through the sandbox's own HTTP API."""
        task = asyncio.ensure_future(self._delete_dependents(uid))
        self._gc_tasks.add(task)
        task.add_done_callback(self._gc_tasks.discard)

    async def _delete_dependents(self, uid: str) -> None:
        if self._emulator is None:
            return
        for kind, namespace, name in self._emulator.dependents_of(uid):
            with contextlib.suppress(KubeSandboxError, RuntimeError):
                await self._call("DELETE", kind.url(namespace, name), missing_ok=True)

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

    @property
    def operator_namespace(self) -> str:
        return self.namespaces[0] if self.namespaces else "default"

    def write_kubeconfig(self, path: pathlib.Path, *, replica: str | None = None) -> None:
        """A kubeconfig for this server; a `replica`'s name is its bearer token, which
        tells its requests from another's in `requests_by`."""
        token = replica or "sandbox"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "causeway-sandbox",
            "clusters": [{"name": "causeway-sandbox", "cluster": {"server": self.url}}],
            "users": [{"name": "causeway-sandbox", "user": {"token": token}}],
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

    def write_admin_kubeconfig(self, path: pathlib.Path) -> None:
        self.write_kubeconfig(path, replica="admin")  # no authentication: any token will do

    def write_count(self) -> int:
        return self._emulator.write_count if self._emulator is not None else 0

    def requests_by(self, replica: str) -> dict[tuple[str, str], int]:
        """The requests sent with a replica's bearer token, by (method,
        resource[/subresource]) (method WATCH for watches)."""
        token = replica
        if self._emulator is None:
            return {}
        return {
            (method, what): count
            for (sent, method, what), count in list(self._emulator.by_token.items())
            if sent == token
        }

    def reads_of(self, plural: str, namespace: str | None, name: str) -> int:
        """How many times one object was read (GET) through the API."""
        return self._emulator.reads[(plural, namespace, name)] if self._emulator else 0

    # -- HTTP helpers for tests --------------------------------------------------------------

    def kind_for(self, plural: str) -> ResourceKind:
        """Find a kind by "plural" or "plural.group"; core wins on clashes (e.g. events)."""
        return kind_named(self.kinds, plural)

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
        kind = kind_of_manifest(self.kinds, manifest)
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
        plural = f"{kind.plural}.{kind.group}"
        return await self.patch(plural, namespace, meta["name"], apply_patch(manifest))

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
        *,
        record_usage: bool = False,
    ) -> None:
        self.sandbox = KubeSandbox(kinds, namespaces, record_usage=record_usage)
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

    @property
    def operator_namespace(self) -> str:
        return self.sandbox.operator_namespace

    def write_kubeconfig(self, path: pathlib.Path, *, replica: str | None = None) -> None:
        self.sandbox.write_kubeconfig(path, replica=replica)

    def write_count(self) -> int:
        return self.sandbox.write_count()

    def write_admin_kubeconfig(self, path: pathlib.Path) -> None:
        self.sandbox.write_admin_kubeconfig(path)

    def requests_by(self, replica: str) -> dict[tuple[str, str], int]:
        return self.sandbox.requests_by(replica)

    def reads_of(self, plural: str, namespace: str | None, name: str) -> int:
        return self.sandbox.reads_of(plural, namespace, name)

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
