"""The pod's probes: liveness answers while the operator runs; readiness only once the
cluster index is synced (a rolling update then never hands over to a cold replica).
And what the index's informers tell the operator: a change beyond the status kicks
the region, a status-only change (the operator's own write) kicks nothing."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import urllib.error
import urllib.request
from types import SimpleNamespace
from typing import Any

import pytest

from causeway.api import CONNECTION_QUOTA, OUTBOUND
from causeway.controllers.credentials import CredentialController
from causeway.health import HealthServer, readiness_url
from causeway.index import ClusterIndex, ObjectSnapshot, kept
from causeway.operator import IndexHooks, _serve_health, _synced
from fakes import FakeRuntime, FakeTransit, quota


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_readiness_is_false_until_the_index_is_synced() -> None:
    index = ClusterIndex([OUTBOUND])
    liveness = f"http://127.0.0.1:{free_port()}/healthz"
    server = HealthServer(liveness, ready=lambda: index.synced, details=lambda: index.ages(0.0))
    await server.start()
    try:
        assert readiness_url(liveness) == liveness.replace("/healthz", "/readyz")
        assert (await asyncio.to_thread(get, liveness))[0] == 200
        status, body = await asyncio.to_thread(get, readiness_url(liveness))
        assert (status, body) == (503, {"ready": False, "index": {"OutboundConnection": None}})
        index[OUTBOUND].replace([])
        index[OUTBOUND].mark_synced(-2.5)
        status, body = await asyncio.to_thread(get, readiness_url(liveness))
        assert (status, body) == (200, {"ready": True, "index": {"OutboundConnection": 2.5}})
    finally:
        await server.stop()


def snapshot(body: dict[str, Any]) -> ObjectSnapshot:
    return ObjectSnapshot(kept(body))


def test_only_changes_beyond_the_status_kick() -> None:
    runtime = FakeRuntime(FakeTransit())
    kicks: list[str] = []
    runtime.on_kick("us-east-1", lambda _: kicks.append("us-east-1"))
    hooks = IndexHooks(runtime, CredentialController(runtime))
    body = {
        "metadata": {"namespace": "acme", "name": "db", "uid": "u1", "resourceVersion": "1"},
        "spec": {"region": "us-east-1"},
    }
    first = snapshot(body)
    written = snapshot(
        {
            **body,
            "status": {"phase": "Ready"},
            "metadata": {**body["metadata"], "resourceVersion": "2"},
        }
    )
    hooks.changed(OUTBOUND, "MODIFIED", first, written)
    hooks.changed(OUTBOUND, "LISTED", first, written)
    assert kicks == []
    deleting = snapshot({**body, "metadata": {**body["metadata"], "deletionTimestamp": "now"}})
    hooks.changed(OUTBOUND, "MODIFIED", written, deleting)
    assert kicks == ["us-east-1"]
    runtime.memories["u1"].sync_requested = True
    hooks.changed(OUTBOUND, "DELETED", deleting, deleting)
    assert kicks == ["us-east-1"] * 2
    assert not runtime.memories["u1"].sync_requested  # forgotten: a fresh memory
    hooks.changed(CONNECTION_QUOTA, "DELETED", None, snapshot(quota()))
    assert kicks == ["us-east-1"] * 3  # licenses are judged cluster-wide


async def test_the_operator_answers_ready_only_after_it_logged_the_index_synced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The informers' threads mark the index synced before the loop logs it; a probe
    answering in between would let a rolling update (or a test reading the log) see a
    Ready pod whose log does not yet say so."""
    runtime = SimpleNamespace(index=ClusterIndex([OUTBOUND]), monotonic=lambda: 0.0)
    runtime.index[OUTBOUND].replace([])
    runtime.index[OUTBOUND].mark_synced(0.0)
    liveness = f"http://127.0.0.1:{free_port()}/healthz"
    server = await _serve_health(runtime, liveness)  # type: ignore[arg-type]
    assert server is not None
    try:
        assert (await asyncio.to_thread(get, readiness_url(liveness)))[0] == 503
        with caplog.at_level(logging.INFO, logger="causeway.index"):
            _synced(runtime)  # type: ignore[arg-type]
        assert "Cluster index synced: 0 objects" in caplog.text
        assert (await asyncio.to_thread(get, readiness_url(liveness)))[0] == 200
    finally:
        await server.stop()
