"""A replica that starts acting looks at every NamedCredential the index holds (none
waits for kopf to reach it) and follows the Secrets of every namespace holding one."""

from __future__ import annotations

import asyncio
from typing import Any

from causeway.api import NAMED_CREDENTIAL
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
