"""The pod's probes, served by the operator itself on the `--liveness` address for its
whole life (as leader and as standby alike): the liveness path answers 200 while the
event loop runs; `/readyz` on the same port answers 200 only once the cluster index is
synced (every kind listed in full and being watched), else 503. A rolling update
waits for a new pod's readiness before it stops an old one, so the Lease is never
handed to a replica that would first have to list the cluster."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp import web

READINESS_PATH = "/readyz"


def readiness_url(liveness_url: str) -> str:
    """The readiness endpoint served next to a liveness URL."""
    parts = urlsplit(liveness_url)
    return f"{parts.scheme}://{parts.netloc}{READINESS_PATH}"


class HealthServer:
    """Liveness at the given URL's path, readiness at /readyz; `ready` and `details` are
    read on each probe (details: a JSON-able summary shown in the answer)."""

    def __init__(
        self,
        url: str,
        ready: Callable[[], bool],
        details: Callable[[], object] = dict,
    ) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "0.0.0.0"
        self._port = parts.port or 80
        self._path = parts.path or "/"
        self._ready = ready
        self._details = details
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(self._path, self._live)
        if self._path != READINESS_PATH:
            app.router.add_get(READINESS_PATH, self._readiness)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port, reuse_address=True).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _live(self, _: web.Request) -> web.Response:
        return web.json_response({"live": True})

    async def _readiness(self, _: web.Request) -> web.Response:
        ready = self._ready()
        body = json.dumps({"ready": ready, "index": self._details()})
        return web.Response(
            status=200 if ready else 503, text=body, content_type="application/json"
        )
