"""The sandbox's garbage collector deletes an object written after all its owners were
deleted, as the real one does (it looks owners up by uid): the fault campaign found a
NamedCredential's published Secret outliving its credential in the sandbox only."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from causeway.sandbox.kube import ThreadedKubeSandbox


@pytest.fixture(scope="module")
def kube() -> Iterator[ThreadedKubeSandbox]:
    with ThreadedKubeSandbox([], namespaces=["ns"]) as sandbox:
        yield sandbox


def owned_secret(name: str, owner_uid: str) -> dict[str, Any]:
    owner = {"apiVersion": "v1", "kind": "Secret", "name": "owner", "uid": owner_uid}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "ns", "ownerReferences": [owner]},
        "data": {},
    }


def gone_within(kube: ThreadedKubeSandbox, name: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if kube.get("secrets", "ns", name) is None:
            return True
        time.sleep(0.05)
    return False


def test_an_object_whose_owners_are_all_gone_is_collected(kube: ThreadedKubeSandbox) -> None:
    kube.apply(owned_secret("orphan", str(uuid.uuid4())))
    assert gone_within(kube, "orphan", 5)


def test_an_object_with_a_live_owner_stays(kube: ThreadedKubeSandbox) -> None:
    owner = kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "owner"}})
    kube.apply(owned_secret("kept", owner["metadata"]["uid"]))
    assert not gone_within(kube, "kept", 0.5)
    kube.delete("secrets", "ns", "owner")
    assert gone_within(kube, "kept", 5)
