"""The leader-election Lease through causeway.kube.leases against the sandbox API
server, which keeps the real server's rules for it: create of an existing Lease is
409 AlreadyExists, a replace with a stale resourceVersion is 409 Conflict, a replace
of a deleted Lease is 404; times are MicroTime (six fractional digits and 'Z')."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from causeway.election import Elector, LeaseConflictError, LeaseRecord, Role
from causeway.kube import ClusterConnection
from causeway.kube.leases import LeaseStoreApi
from causeway.kube.reader import list_leader_leases
from causeway.sandbox.kube import ThreadedKubeSandbox

MOMENT = datetime(2026, 12, 2, 1, 2, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def kube() -> Iterator[ThreadedKubeSandbox]:
    with ThreadedKubeSandbox([], namespaces=("causeway-system",)) as sandbox:
        yield sandbox


def store(kube: ThreadedKubeSandbox, name: str) -> LeaseStoreApi:
    return LeaseStoreApi(kube.kube_configuration(), "causeway-system", name, request_timeout=5)


def record(holder: str) -> LeaseRecord:
    return LeaseRecord(holder, 15, MOMENT, MOMENT, 0, config_hash="abc")


def test_lease_round_trips_in_the_api_servers_format(kube: ThreadedKubeSandbox) -> None:
    leases = store(kube, "round-trip")
    assert leases.get() is None
    created = leases.create(record("pod-a_1"))
    body = kube.get("leases", "causeway-system", "round-trip")
    assert body is not None
    assert body["spec"] == {
        "holderIdentity": "pod-a_1",
        "leaseDurationSeconds": 15,
        "leaseTransitions": 0,
        "acquireTime": "2026-12-02T01:02:03.000000Z",
        "renewTime": "2026-12-02T01:02:03.000000Z",
    }
    assert body["metadata"]["annotations"] == {"causeway.dev/config-hash": "abc"}
    assert created == replace(record("pod-a_1"), resource_version=created.resource_version)
    assert leases.get() == created
    assert [
        item["metadata"]["name"]
        for item in list_leader_leases(
            ClusterConnection(kube.kube_configuration(), "sandbox"), timeout=5
        )
    ] == ["round-trip"]


def test_creating_an_existing_lease_is_refused(kube: ThreadedKubeSandbox) -> None:
    leases = store(kube, "create-twice")
    leases.create(record("a"))
    with pytest.raises(LeaseConflictError):
        leases.create(record("b"))
    assert (leases.get() or record("?")).holder == "a"


def test_replace_with_a_stale_resource_version_is_refused(kube: ThreadedKubeSandbox) -> None:
    leases = store(kube, "stale")
    first = leases.create(record("a"))
    renewed = leases.replace(replace(first, renew_time=MOMENT.replace(second=5)))
    assert renewed.resource_version != first.resource_version
    with pytest.raises(LeaseConflictError):
        leases.replace(replace(first, holder="b"))
    assert (leases.get() or record("?")).holder == "a"


def test_replace_of_a_deleted_lease_is_refused(kube: ThreadedKubeSandbox) -> None:
    leases = store(kube, "deleted")
    first = leases.create(record("a"))
    kube.delete("leases", "causeway-system", "deleted")
    with pytest.raises(LeaseConflictError):
        leases.replace(first)
    assert leases.get() is None


def test_two_electors_on_the_api_server_make_one_leader(kube: ThreadedKubeSandbox) -> None:
    now = [100.0]
    electors = [
        Elector(
            store(kube, "election"),
            name,
            monotonic=lambda: now[0],
            wall_clock=lambda: MOMENT,
        )
        for name in ("a", "b")
    ]
    roles = [e.attempt().role for e in electors]
    assert roles == [Role.LEADER, Role.STANDBY]
    now[0] += 2
    assert [e.attempt().role for e in reversed(electors)] == [Role.STANDBY, Role.LEADER]
    assert electors[0].release()
    assert electors[1].attempt().role is Role.LEADER
