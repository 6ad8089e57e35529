"""Tests for the in-process Kubernetes API sandbox (causeway.sandbox.kube)."""

from __future__ import annotations

import asyncio
import json
import pathlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import kopf
import kubernetes.client
import kubernetes.config
import pytest

from causeway.kopf_run import KopfRun, cancel_leftovers
from causeway.sandbox.kube import (
    KubeSandbox,
    KubeSandboxError,
    ResourceKind,
    ThreadedKubeSandbox,
    kinds_from_crds,
)

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.test"},
    "spec": {
        "group": "example.test",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            },
            {"name": "v0", "served": False, "storage": False},
        ],
    },
}
GROUP, VERSION, PLURAL = "example.test", "v1", "widgets"
WIDGETS = f"/apis/{GROUP}/{VERSION}/namespaces/default/widgets"


def widget(name: str = "w1", size: int = 1, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": "default", **meta},
        "spec": {"size": size},
    }


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """Poll until the check returns something truthy; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Condition not met within {timeout}s; last: {result!r}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def sandbox() -> AsyncIterator[KubeSandbox]:
    async with KubeSandbox(kinds_from_crds([WIDGET_CRD]), namespaces=["default", "other"]) as sb:
        yield sb


async def raw(
    sb: KubeSandbox,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/merge-patch+json",
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            sb.url + path,
            data=None if body is None else json.dumps(body),
            headers={"Content-Type": content_type},
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


def test_kinds_from_crds_takes_served_versions_only() -> None:
    assert kinds_from_crds([WIDGET_CRD]) == [
        ResourceKind(GROUP, VERSION, PLURAL, "Widget", namespaced=True, status_subresource=True),
    ]


async def test_create_sets_server_owned_metadata(sandbox: KubeSandbox) -> None:
    created = await sandbox.apply(widget())
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert meta["generation"] == 1
    assert int(meta["resourceVersion"]) > 0
    assert meta["namespace"] == "default"
    assert await sandbox.get(PLURAL, "default", "w1") == created


async def test_create_conflicts_and_missing_namespace(sandbox: KubeSandbox) -> None:
    status, _ = await raw(sandbox, "POST", WIDGETS, widget(), "application/json")
    assert status == 201
    status, _ = await raw(sandbox, "POST", WIDGETS, widget(), "application/json")
    assert status == 409
    body = widget(namespace="nowhere")
    status, _ = await raw(
        sandbox,
        "POST",
        f"/apis/{GROUP}/{VERSION}/namespaces/nowhere/widgets",
        body,
        "application/json",
    )
    assert status == 404


async def test_spec_patch_bumps_generation_and_resource_version(sandbox: KubeSandbox) -> None:
    created = await sandbox.apply(widget(size=1))
    patched = await sandbox.patch(PLURAL, "default", "w1", {"spec": {"size": 2}})
    assert patched["spec"] == {"size": 2}
    assert patched["metadata"]["generation"] == 2
    assert int(patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


async def test_metadata_patch_keeps_generation_and_noop_keeps_rv(sandbox: KubeSandbox) -> None:
    await sandbox.apply(widget())
    labelled = await sandbox.patch(PLURAL, "default", "w1", {"metadata": {"labels": {"a": "b"}}})
    assert labelled["metadata"]["generation"] == 1
    writes = sandbox.write_count()
    again = await sandbox.patch(PLURAL, "default", "w1", {"metadata": {"labels": {"a": "b"}}})
    assert again["metadata"]["resourceVersion"] == labelled["metadata"]["resourceVersion"]
    assert sandbox.write_count() == writes + 1  # still a served write request


async def test_status_patch_changes_status_only(sandbox: KubeSandbox) -> None:
    created = await sandbox.apply(widget(size=1))
    patched = await sandbox.patch_status(PLURAL, "default", "w1", {"phase": "Ready"})
    assert patched["status"] == {"phase": "Ready"}
    assert patched["metadata"]["generation"] == 1
    assert patched["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]

    # Spec and metadata smuggled into a /status patch are ignored, as by the API server.
    status, body = await raw(
        sandbox,
        "PATCH",
        f"{WIDGETS}/w1/status",
        {"spec": {"size": 9}, "metadata": {"labels": {"x": "y"}}, "status": {"phase": "Done"}},
    )
    assert status == 200
    assert body["spec"] == {"size": 1} and body["status"] == {"phase": "Done"}
    assert "labels" not in body["metadata"]


async def test_main_resource_patch_does_not_change_status(sandbox: KubeSandbox) -> None:
    await sandbox.apply(widget(size=1))
    await sandbox.patch_status(PLURAL, "default", "w1", {"phase": "Ready"})
    patched = await sandbox.patch(
        PLURAL, "default", "w1", {"spec": {"size": 5}, "status": {"phase": "Hacked"}}
    )
    assert patched["spec"] == {"size": 5}
    assert patched["status"] == {"phase": "Ready"}


async def test_status_in_create_is_dropped_for_status_subresource(sandbox: KubeSandbox) -> None:
    created = await sandbox.apply({**widget(), "status": {"phase": "Fake"}})
    assert "status" not in created


async def test_json_patch_test_failure_is_422(sandbox: KubeSandbox) -> None:
    created = await sandbox.apply(widget())
    rv = created["metadata"]["resourceVersion"]
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "0"},
        {"op": "add", "path": "/metadata/finalizers", "value": ["x"]},
    ]
    status, _ = await raw(sandbox, "PATCH", f"{WIDGETS}/w1", ops, "application/json-patch+json")
    assert status == 422
    ops[0]["value"] = rv
    status, body = await raw(sandbox, "PATCH", f"{WIDGETS}/w1", ops, "application/json-patch+json")
    assert status == 200 and body["metadata"]["finalizers"] == ["x"]


async def test_put_replaces_and_checks_resource_version(sandbox: KubeSandbox) -> None:
    created = await sandbox.apply(widget(size=1))
    stale = {**created, "spec": {"size": 3}}
    status, body = await raw(sandbox, "PUT", f"{WIDGETS}/w1", stale, "application/json")
    assert status == 200 and body["spec"] == {"size": 3} and body["metadata"]["generation"] == 2
    status, _ = await raw(sandbox, "PUT", f"{WIDGETS}/w1", stale, "application/json")
    assert status == 409


async def test_delete_with_finalizer_waits_for_its_removal(sandbox: KubeSandbox) -> None:
    await sandbox.apply(widget(finalizers=["example.test/hold"]))
    await sandbox.delete(PLURAL, "default", "w1")
    held = await sandbox.get(PLURAL, "default", "w1")
    assert held is not None and held["metadata"]["deletionTimestamp"]
    await sandbox.delete(PLURAL, "default", "w1")  # a repeated delete changes nothing
    assert await sandbox.get(PLURAL, "default", "w1") == held

    await sandbox.patch(PLURAL, "default", "w1", {"metadata": {"finalizers": None}})
    assert await sandbox.get(PLURAL, "default", "w1") is None
    assert await sandbox.list(PLURAL) == []


async def test_delete_without_finalizers_is_immediate(sandbox: KubeSandbox) -> None:
    await sandbox.apply(widget())
    await sandbox.delete(PLURAL, "default", "w1")
    assert await sandbox.get(PLURAL, "default", "w1") is None
    with pytest.raises(KubeSandboxError) as err:
        await sandbox.delete(PLURAL, "default", "w1")
    assert err.value.status == 404
    await sandbox.delete(PLURAL, "default", "w1", missing_ok=True)


async def test_watch_streams_added_modified_deleted(sandbox: KubeSandbox) -> None:
    listed = await raw(sandbox, "GET", WIDGETS)
    since = listed[1]["metadata"]["resourceVersion"]
    events: list[tuple[str, dict[str, Any]]] = []

    async def watch() -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{sandbox.url}{WIDGETS}?watch=true&resourceVersion={since}",
            ) as response,
        ):
            async for line in response.content:
                if line.strip():
                    event = json.loads(line)
                    events.append((event["type"], event["object"]))
                    if event["type"] == "DELETED":
                        return

    watcher = asyncio.create_task(watch())
    await sandbox.apply(widget(finalizers=["example.test/hold"]))
    await sandbox.patch(PLURAL, "default", "w1", {"spec": {"size": 2}})
    await sandbox.delete(PLURAL, "default", "w1")
    await sandbox.patch(PLURAL, "default", "w1", {"metadata": {"finalizers": []}})
    await asyncio.wait_for(watcher, timeout=5)

    assert [kind for kind, _ in events] == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]
    assert events[2][1]["metadata"]["deletionTimestamp"]
    versions = [int(obj["metadata"]["resourceVersion"]) for _, obj in events]
    assert versions == sorted(versions) and len(set(versions)) == 4


async def test_watch_resumes_from_resource_version(sandbox: KubeSandbox) -> None:
    first = await sandbox.apply(widget("w1"))
    await sandbox.apply(widget("w2"))
    url = (
        f"{sandbox.url}{WIDGETS}?watch=true&resourceVersion={first['metadata']['resourceVersion']}"
    )
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        line = await asyncio.wait_for(response.content.readline(), timeout=5)
    event = json.loads(line)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "w2")


async def test_watch_honours_timeout_seconds(sandbox: KubeSandbox) -> None:
    await sandbox.apply(widget())
    url = f"{sandbox.url}{WIDGETS}?watch=true&timeoutSeconds=1"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        body = await asyncio.wait_for(response.read(), timeout=5)  # ends by the server
    assert [json.loads(line)["type"] for line in body.splitlines() if line] == ["ADDED"]


async def test_namespaces_are_served(sandbox: KubeSandbox) -> None:
    status, body = await raw(sandbox, "GET", "/api/v1/namespaces/default")
    assert status == 200 and body["metadata"]["name"] == "default"
    status, body = await raw(sandbox, "GET", "/api/v1/namespaces")
    assert status == 200
    assert sorted(ns["metadata"]["name"] for ns in body["items"]) == ["default", "other"]
    status, _ = await raw(sandbox, "GET", "/api/v1/namespaces/absent")
    assert status == 404


async def test_discovery_lists_status_subresource(sandbox: KubeSandbox) -> None:
    status, body = await raw(sandbox, "GET", f"/apis/{GROUP}/{VERSION}")
    assert status == 200
    names = {r["name"]: r for r in body["resources"]}
    assert names["widgets"]["namespaced"] is True and "watch" in names["widgets"]["verbs"]
    assert "widgets/status" in names


async def test_unknown_resources_are_404(sandbox: KubeSandbox) -> None:
    status, _ = await raw(
        sandbox,
        "POST",
        "/apis/nope.test/v1/namespaces/default/things",
        {"metadata": {"name": "x"}},
        "application/json",
    )
    assert status == 404


def _use_kubernetes_client(config: kubernetes.client.Configuration) -> dict[str, Any]:
    with kubernetes.client.ApiClient(configuration=config) as api_client:
        custom = kubernetes.client.CustomObjectsApi(api_client)
        core = kubernetes.client.CoreV1Api(api_client)
        custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget())
        fetched = custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")
        custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, "default", PLURAL, "w1", {"status": {"phase": "Ready"}}
        )
        listed = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
        custom.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")

        secret = kubernetes.client.V1Secret(
            metadata=kubernetes.client.V1ObjectMeta(name="s1"), string_data={"k": "v"}
        )
        core.create_namespaced_secret("default", secret)
        core.patch_namespaced_secret("s1", "default", {"metadata": {"labels": {"a": "b"}}})
        read_secret = core.read_namespaced_secret("s1", "default")
        event = kubernetes.client.CoreV1Event(
            metadata=kubernetes.client.V1ObjectMeta(generate_name="w1-"),
            involved_object=kubernetes.client.V1ObjectReference(kind="Widget", name="w1"),
            reason="Test",
            message="hello",
        )
        core.create_namespaced_event("default", event)
        events = core.list_namespaced_event("default")
        namespace = core.read_namespace("default")
    return {
        "fetched": fetched,
        "listed": listed,
        "secret": read_secret,
        "events": events,
        "namespace": namespace,
    }


async def test_kubernetes_client_works_from_another_thread(sandbox: KubeSandbox) -> None:
    result = await asyncio.to_thread(_use_kubernetes_client, sandbox.kube_configuration())
    assert result["fetched"]["spec"] == {"size": 1}
    assert [i["status"] for i in result["listed"]["items"]] == [{"phase": "Ready"}]
    assert result["secret"].metadata.labels == {"a": "b"}
    assert [e.message for e in result["events"].items] == ["hello"]
    assert result["namespace"].metadata.name == "default"
    assert await sandbox.get(PLURAL, "default", "w1") is None


def test_threaded_sandbox_and_kubeconfig(tmp_path: pathlib.Path) -> None:
    with ThreadedKubeSandbox(kinds_from_crds([WIDGET_CRD])) as sb:
        created = sb.apply(widget())
        sb.apply(widget(size=4))  # an existing object gets merge-patched
        fetched = sb.get(PLURAL, "default", "w1")
        assert fetched is not None and fetched["spec"] == {"size": 4}
        assert [w["metadata"]["uid"] for w in sb.list(PLURAL, "default")] == [
            created["metadata"]["uid"]
        ]
        sb.patch(PLURAL, "default", "w1", {"spec": {"size": 5}})
        sb.delete(PLURAL, "default", "w1")
        assert sb.get(PLURAL, "default", "w1") is None
        assert sb.write_count() == 5  # POST, POST (409), PATCH (apply), PATCH, DELETE

        kubeconfig = tmp_path / "kubeconfig"
        sb.write_kubeconfig(kubeconfig)
        config = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(str(kubeconfig), client_configuration=config)
        assert config.host == sb.url


async def test_real_kopf_operator_handles_create_and_finalizer_delete(
    sandbox: KubeSandbox,
) -> None:
    registry = kopf.OperatorRegistry()
    deletions: list[str] = []

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return sandbox.kopf_connection()

    @kopf.on.create(GROUP, VERSION, PLURAL, id="created", registry=registry)
    def created(body: kopf.Body, spec: dict[str, Any], **_: Any) -> dict[str, Any]:
        kopf.info(body, reason="Doubled", message="done")  # exercises core v1 Events posting
        return {"doubled": spec["size"] * 2}

    @kopf.on.delete(GROUP, VERSION, PLURAL, id="deleted", registry=registry)
    def deleted(name: str, **_: Any) -> None:
        deletions.append(name)

    settings = kopf.OperatorSettings()
    settings.watching.inactivity_timeout = 30
    stop_flag, ready_flag = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def run_operator() -> None:
        try:
            asyncio.run(
                kopf.operator(
                    registry=registry,
                    settings=settings,
                    clusterwide=True,
                    standalone=True,
                    stop_flag=stop_flag,
                    ready_flag=ready_flag,
                )
            )
        except BaseException as e:  # surfaced to the test below
            failures.append(e)

    thread = threading.Thread(target=run_operator, name="kopf-under-test", daemon=True)
    thread.start()
    try:
        assert await asyncio.to_thread(ready_flag.wait, 10), failures
        await sandbox.apply(widget(size=21))

        async def handled() -> dict[str, Any] | None:
            obj = await sandbox.get(PLURAL, "default", "w1")
            return obj if obj and obj.get("status", {}).get("created") else None

        obj = await eventually(handled)
        assert obj["status"]["created"] == {"doubled": 42}
        assert obj["metadata"]["finalizers"]  # kopf holds it for the delete handler

        await sandbox.delete(PLURAL, "default", "w1")

        async def gone() -> bool:
            return await sandbox.get(PLURAL, "default", "w1") is None

        await eventually(gone)
        assert deletions == ["w1"]

        async def posted() -> list[dict[str, Any]]:
            return [
                e
                for e in await sandbox.list("events", "default")
                if e["involvedObject"]["name"] == "w1"
            ]

        assert await eventually(posted)
    finally:
        stop_flag.set()
        await asyncio.to_thread(thread.join, 15)
    assert not thread.is_alive()
    assert not failures


async def test_kopf_run_stops_kopf_without_waiting_for_what_a_handler_left_running(
    sandbox: KubeSandbox,
) -> None:
    # kopf.operator, stopping, waits 5 s for every task created while it ran, then
    # cancels it; KopfRun stops kopf's roots and hands such tasks back instead.
    registry = kopf.OperatorRegistry()
    strays: list[asyncio.Task[None]] = []
    kopf.on.login(registry=registry)(lambda **_: sandbox.kopf_connection())

    @kopf.on.create(GROUP, VERSION, PLURAL, id="created", registry=registry)
    async def created(**_: Any) -> None:
        strays.append(asyncio.create_task(asyncio.sleep(60), name="left running"))

    settings = kopf.OperatorSettings()
    settings.scanning.disabled = True
    stop_flag, ready_flag = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    async def run_and_stop() -> None:
        stop = asyncio.Event()
        kopf_run = KopfRun(login=None, ready_flag=ready_flag)
        running = asyncio.create_task(kopf_run.run(registry, settings, stop))
        await asyncio.to_thread(stop_flag.wait)
        stop.set()
        await running
        outcome["stray running when kopf returned"] = bool(strays) and not strays[0].done()
        left = kopf_run.leftovers()
        outcome["stray left over"] = bool(strays) and strays[0] in left
        await cancel_leftovers(left, timeout=1)
        outcome["stray cancelled"] = bool(strays) and strays[0].cancelled()

    thread = threading.Thread(target=asyncio.run, args=(run_and_stop(),), daemon=True)
    thread.start()
    try:
        assert await asyncio.to_thread(ready_flag.wait, 10)
        await sandbox.apply(widget())
        await eventually(lambda: _answer(bool(strays)))
    finally:
        stop_flag.set()
        await asyncio.to_thread(thread.join, 15)
    assert outcome == {
        "stray running when kopf returned": True,
        "stray left over": True,
        "stray cancelled": True,
    }


async def _answer(value: bool) -> bool:
    return value
