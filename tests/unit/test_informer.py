"""The index's informers against a fake API server: a kind is filled from a paged
listing in one step, watch events after the listing apply in order, a 410 Gone is
answered with a new listing that replaces the kind's index at once (what was deleted
meanwhile disappears: a deleted quota stops granting licenses, a deleted connection's
license goes to the next in line), a status the operator
wrote survives a listing that predates it, and the index is not synced (readiness
false) until every kind has been listed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from causeway.api import CONNECTION_QUOTA, FINALIZER, OUTBOUND, KindInfo
from causeway.controllers.entitlements import judge
from causeway.index import ClusterIndex, KindIndex, ObjectSnapshot
from causeway.index.informer import ClusterInformers, Informer
from causeway.kube.objects import Page, ResourceExpiredError
from fakes import SERVICE_NAME as SERVICE
from fakes import FakeRuntime, FakeTransit, quota


def connection(name: str, version: str = "1", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "acme",
            "uid": f"uid-{name}",
            "resourceVersion": version,
            "generation": 1,
            "creationTimestamp": "2026-11-22T09:00:00Z",
            "finalizers": [FINALIZER],
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {"region": "us-east-1", "serviceName": SERVICE},
        "status": status,
    }


class FakeServer:
    """One kind's objects as an API server lists them (in pages; `continue` is the
    offset) and the watch answers it gives, one scripted batch per watch call: a list
    of events, or an exception (ResourceExpiredError: 410 Gone)."""

    def __init__(self, objects: list[dict[str, Any]], version: str = "100") -> None:
        self.objects = objects
        self.version = version
        self.watches: list[list[dict[str, Any]] | Exception] = []
        self.pages_served = 0
        self.watched_from: list[str] = []
        self.during_page: Callable[[int], None] | None = None  # called after each page
        self.before_watch: Callable[[], None] | None = None

    def list_page(self, kind: KindInfo, *, limit: int, token: str = "") -> Page:
        start = int(token or 0)
        items = self.objects[start : start + limit]
        more = start + limit < len(self.objects)
        self.pages_served += 1
        if self.during_page is not None:
            self.during_page(self.pages_served)
        return Page([dict(i) for i in items], self.version, str(start + limit) if more else "")

    def watch(self, kind: KindInfo, since: str) -> Iterator[dict[str, Any]]:
        self.watched_from.append(since)
        if self.before_watch is not None:
            self.before_watch()
        answer = self.watches.pop(0) if self.watches else []
        if isinstance(answer, Exception):
            raise answer
        yield from answer


def names(index: KindIndex) -> set[str]:
    return {snapshot.name for snapshot in index.all()}


def test_a_kind_is_filled_from_a_paged_listing_in_one_step() -> None:
    server = FakeServer([connection(f"c{i:04}") for i in range(1234)])
    index = KindIndex()
    seen_while_paging: list[int] = []
    server.during_page = lambda _: seen_while_paging.append(len(index.all()))
    synced: list[bool] = []
    informer = Informer(
        OUTBOUND, index, server, page_size=100, on_synced=lambda: synced.append(True)
    )

    version = informer.relist()

    assert version == "100"
    assert server.pages_served == 13
    assert seen_while_paging == [0] * 13  # nothing half-listed is ever visible
    assert len(index.all()) == 1234 and synced == [True]
    kept = index.get("acme", "c0042")
    assert kept is not None and "managedFields" not in kept.body["metadata"]  # compacted
    assert index.synced_at is not None


def test_watch_events_after_the_listing_apply_and_move_the_resource_version() -> None:
    server = FakeServer([connection("a"), connection("b")])
    server.watches = [
        [
            {"type": "MODIFIED", "object": connection("a", "101", phase="Ready")},
            {"type": "DELETED", "object": connection("b", "102")},
            {"type": "ADDED", "object": connection("c", "103")},
            {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "150"}}},
        ]
    ]
    index = KindIndex()
    changes: list[tuple[str, str, bool]] = []
    informer = Informer(
        OUTBOUND,
        index,
        server,
        on_change=lambda _, event, before, now: changes.append((event, now.name, before is None)),
    )

    version = informer.follow(informer.relist(), threading.Event())

    assert server.watched_from == ["100"]  # the watch starts where the listing ended
    assert version == "150"  # a bookmark's version is where the next watch resumes
    assert names(index) == {"a", "c"}
    found = index.get("acme", "a")
    assert found is not None and found.status["phase"] == "Ready"
    assert changes == [("MODIFIED", "a", False), ("DELETED", "b", False), ("ADDED", "c", True)]


def run_until(informer: Informer, done: Callable[[], bool], timeout: float = 5.0) -> None:
    """Run the informer's loop in a thread until `done()`; then stop it."""
    stopped = threading.Event()
    thread = threading.Thread(target=informer.run, args=(stopped,), daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(0.01)
    stopped.set()
    thread.join(timeout)
    assert done(), "the informer did not get there in time"


def test_a_410_relists_and_what_was_deleted_in_the_gap_disappears_at_once() -> None:
    runtime = FakeRuntime(FakeTransit())
    quotas = FakeServer([quota(licenses=1)])
    connections = FakeServer([connection("db"), connection("web")])
    gone = ResourceExpiredError("watch: 410 Gone")
    quotas.watches = [gone]  # the watch expired; meanwhile the quota was deleted
    connections.watches = [gone]  # and so was one connection
    before_gap: list[tuple[int, bool]] = []

    def gap() -> None:  # as the first watch starts: what the listing gave, then the gap
        if not before_gap:
            admission = judge(runtime)
            before_gap.append(
                (admission.usage["acme"].licenses, admission.verdict("uid-db").admitted)
            )
        quotas.objects = []
        connections.objects = [connection("db", "205")]

    changes: list[tuple[str, str]] = []

    def changed(kind: KindInfo, event: str, _: ObjectSnapshot | None, now: ObjectSnapshot) -> None:
        changes.append((event, now.name))

    quota_informer = Informer(CONNECTION_QUOTA, runtime.index[CONNECTION_QUOTA], quotas)
    connection_informer = Informer(
        OUTBOUND, runtime.index[OUTBOUND], connections, on_change=changed
    )
    connection_informer.relist()
    quotas.before_watch = gap
    run_until(quota_informer, lambda: quota_informer.listings >= 2)
    assert before_gap == [(1, True)]
    run_until(connection_informer, lambda: connection_informer.listings >= 3)

    assert runtime.index[CONNECTION_QUOTA].all() == []
    assert names(runtime.index[OUTBOUND]) == {"db"}
    admission = judge(runtime)
    assert "acme" not in admission.usage or admission.usage["acme"].licenses == 0
    assert not admission.verdict("uid-db").admitted  # no quota grants it a license now
    assert ("DELETED", "web") in changes and ("LISTED", "db") in changes


def test_a_ghost_connection_keeps_no_license_after_the_relist() -> None:
    """A new leader's index after a handover: the older connection, which held the one
    license, was torn down and deleted while the watch was down (no DELETED event
    arrives); the re-list on the 410 drops it, and its license goes to the next in
    line. Were it kept, the ghost would hold the license forever."""
    runtime = FakeRuntime(FakeTransit())
    runtime.index[CONNECTION_QUOTA].replace([ObjectSnapshot(quota(licenses=1))])
    connections = FakeServer([connection("db"), connection("web")])  # db first in line
    connections.watches = [ResourceExpiredError("watch: 410 Gone")]
    before_gap: list[tuple[bool, bool]] = []

    def gap() -> None:
        if not before_gap:
            admission = judge(runtime)
            before_gap.append(
                (admission.verdict("uid-db").admitted, admission.verdict("uid-web").admitted)
            )
        connections.objects = [connection("web", "301")]  # db's finalizer released: gone

    informer = Informer(OUTBOUND, runtime.index[OUTBOUND], connections)
    connections.before_watch = gap
    run_until(informer, lambda: informer.listings >= 2)

    assert before_gap == [(True, False)]  # one license: db holds it, web waits
    assert names(runtime.index[OUTBOUND]) == {"web"}
    admission = judge(runtime)
    assert admission.verdict("uid-web").admitted  # the license db held is web's now
    assert "uid-db" not in admission.verdicts  # the ghost claims nothing
    usage = admission.usage["acme"]
    assert (usage.licenses, sum(usage.waiting.values())) == (1, 0)


def test_a_listing_older_than_our_status_write_keeps_our_status() -> None:
    server = FakeServer([connection("db", "1", phase="Creating")])
    index = KindIndex()
    informer = Informer(OUTBOUND, index, server)
    informer.relist()
    index.remember_status("acme", "db", {"phase": "Ready"}, "7")

    server.objects = [connection("db", "5", phase="Creating")]  # listed before our write
    informer.relist()
    found = index.get("acme", "db")
    assert found is not None and found.status["phase"] == "Ready"

    server.objects = [connection("db", "7", phase="Ready")]  # our write itself
    informer.relist()
    server.objects = [connection("db", "9", phase="Stalled")]  # a later one
    informer.relist()
    found = index.get("acme", "db")
    assert found is not None and found.status["phase"] == "Stalled"


class FailingFirst(FakeServer):
    """Lists fail (the API server is not answering) until `answering` is set."""

    def __init__(self) -> None:
        super().__init__([quota()])
        self.answering = threading.Event()

    def list_page(self, kind: KindInfo, *, limit: int, token: str = "") -> Page:
        if not self.answering.is_set():
            raise OSError("connection refused")
        return super().list_page(kind, limit=limit, token=token)

    def watch(self, kind: KindInfo, since: str) -> Iterator[dict[str, Any]]:
        time.sleep(0.01)  # a quiet watch
        yield from ()


def test_the_index_is_not_synced_until_every_kind_is_listed() -> None:
    index = ClusterIndex([OUTBOUND, CONNECTION_QUOTA])
    server = FailingFirst()
    synced = threading.Event()
    informers = ClusterInformers(index, server, on_synced=synced.set)
    assert not index.synced
    assert index.ages(time.monotonic()) == {"OutboundConnection": None, "ConnectionQuota": None}
    informers.start()
    try:
        assert not synced.wait(0.3)
        assert not index.synced  # the listing failed: not ready, retried
        server.answering.set()
        assert synced.wait(5)
        assert index.synced
        ages = index.ages(time.monotonic())
        assert all(age is not None and 0 <= age < 5 for age in ages.values()), ages
    finally:
        informers.stop()
