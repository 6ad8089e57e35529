"""A replica that starts acting looks at every NamedCredential the index holds (none
waits for kopf to reach it) and follows the Secrets of every namespace holding one; a
status write refused as stale is decided again within moments."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from causeway.api import NAMED_CREDENTIAL
from causeway.controllers import credentials
from causeway.controllers.credentials import CredentialController
from fakes import FakeRuntime, FakeTransit


def credential(namespace: str, name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": {"url": "https://api.internal:8443/v1", "outboundConnection": "missing"},
    }


async def test_acting_starts_with_every_credential_and_their_namespaces_followed() -> None:
    runtime = FakeRuntime(FakeTransit())
    for namespace, name in (("acme", "orders"), ("acme", "billing"), ("globex", "crm")):
        runtime.index[NAMED_CREDENTIAL].observe(None, credential(namespace, name))
    runtime.index.ready.set()
    followed: list[set[str]] = []
    controller = CredentialController(runtime)
    controller.watch_secrets_with(lambda namespaces: followed.append(set(namespaces)))
    stopped = asyncio.Event()
    running = asyncio.create_task(controller.run(stopped))
    try:
        for _ in range(100):
            if len({name for name, _ in runtime.kube.patches}) == 3:
                break
            await asyncio.sleep(0.01)
    finally:
        stopped.set()
        await running
    assert followed[0] == {"acme", "globex"}
    assert {name for name, _ in runtime.kube.patches} == {"orders", "billing", "crm"}
    assert runtime.kube.last("crm")["phase"] == "Pending"  # its connection does not exist


async def test_a_status_write_refused_as_stale_is_decided_again_soon(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # kopf's bookkeeping on a new credential changes it just after the index read it;
    # the refused write comes again once the watch brought the newer object, not after
    # the retry for failures.
    monkeypatch.setattr(credentials, "RETRY_SECONDS", 60.0)
    runtime = FakeRuntime(FakeTransit())
    runtime.index[NAMED_CREDENTIAL].observe(None, credential("acme", "orders"))
    runtime.index.ready.set()
    runtime.kube.changed.add("orders")
    controller = CredentialController(runtime)
    stopped = asyncio.Event()
    running = asyncio.create_task(controller.run(stopped))
    try:
        await until(lambda: runtime.kube.refused)
        runtime.kube.changed.clear()  # the watch brought the newer object
        await until(lambda: runtime.kube.patches, seconds=2)
    finally:
        stopped.set()
        await running
    assert [name for name, _ in runtime.kube.refused] == ["orders"]
    assert runtime.kube.last("orders")["phase"] == "Pending"


async def until(condition: Callable[[], object], seconds: float = 1.0) -> None:
    """Poll the fake's record every 10 ms (it gives no signal) for up to `seconds`."""
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within {seconds}s")
