"""A replica that starts acting looks at every NamedCredential the index holds (none
waits for kopf to reach it) and follows the Secrets of every namespace holding one; a
status write refused as stale is decided again within moments; a Secret read refused
after the namespace allowed the operator again is not taken as final."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from causeway.api import NAMED_CREDENTIAL
from causeway.controllers import credentials
from causeway.controllers.credentials import CredentialController
from causeway.kube import SecretAccessDeniedError, SecretContent
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


class SecretsRefusedThenAllowed:
    """The first read is refused (403) once the test lets it answer; later reads find
    the Secret."""

    def __init__(self) -> None:
        self.reading = threading.Event()
        self.answer = threading.Event()
        self.reads = 0

    def read(self, namespace: str, name: str) -> SecretContent:
        self.reads += 1
        if self.reads == 1:
            self.reading.set()
            self.answer.wait(5)
            raise SecretAccessDeniedError("could not read Secret: HTTP 403 Forbidden")
        return SecretContent({"apiKey": b"value"}, "7")


async def test_a_refusal_answered_after_the_namespace_allowed_the_operator_again_is_not_final() -> (
    None
):
    # A read sent while Secrets were refused, answered after the watch said they are
    # usable again (the admin bound the role meanwhile): the credential is looked at
    # again, not left refused (the watch says "usable" only once).
    runtime = FakeRuntime(FakeTransit())
    secrets = SecretsRefusedThenAllowed()
    runtime.kube.secrets = secrets
    body = credential("acme", "orders")
    body["spec"]["authentication"] = {
        "type": "ApiKey",
        "secretRef": {"name": "orders-key"},
        "header": "X-Api-Key",
    }
    runtime.index[NAMED_CREDENTIAL].observe(None, body)
    runtime.index.ready.set()
    controller = CredentialController(runtime)
    stopped = asyncio.Event()
    running = asyncio.create_task(controller.run(stopped))
    try:
        await asyncio.to_thread(secrets.reading.wait, 5)
        controller.secret_access("acme", allowed=False)  # the watch: refused
        controller.secret_access("acme", allowed=True)  # the watch: usable again
        secrets.answer.set()  # the first read's 403 arrives only now
        await until(lambda: secrets.reads >= 2 and runtime.kube.patches)
    finally:
        stopped.set()
        await running
    ready = next(c for c in runtime.kube.last("orders")["conditions"] if c["type"] == "Ready")
    assert ready["reason"] != "SecretAccessDenied"
