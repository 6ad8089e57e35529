"""KindIndex: watch events in, the operator's own status writes folded in ahead of
them, and a late event never undoing a status we wrote (the watch delivers an object's
events in write order; resourceVersions are compared only for equality)."""

from __future__ import annotations

import json
from typing import Any

from causeway.index import UNKEPT_ANNOTATIONS, KindIndex
from causeway.operator import build_settings


def body(
    version: str, status: dict[str, Any] | None = None, *, uid: str = "u1", **spec: Any
) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "acme", "name": "db", "uid": uid, "resourceVersion": version},
        "spec": spec or {"region": "us-east-1"},
        "status": status or {},
    }


def phase(index: KindIndex) -> Any:
    found = index.get("acme", "db")
    assert found is not None
    return found.status.get("phase")


def test_an_event_older_than_our_write_keeps_our_status_but_takes_the_rest() -> None:
    index = KindIndex()
    index.observe(None, body("1", {"phase": "Creating"}))
    index.remember_status("acme", "db", {"phase": "Ready"}, "3")
    found = index.get("acme", "db")
    assert found is not None and found.resource_version == "3"  # the next write's condition
    index.observe(None, body("2", {"phase": "Creating"}, region="eu-west-1"))  # late
    found = index.get("acme", "db")
    assert found is not None
    # Version 3 is version 2 with our status written over it: the next write is
    # conditioned on 3, which is what the API server holds.
    assert (found.status["phase"], found.region, found.resource_version) == (
        "Ready",
        "eu-west-1",
        "3",
    )

    index.observe(None, body("3", {"phase": "Ready"}))  # our write's own event
    index.observe(None, body("4", {"phase": "Deleting"}))  # anything after it is newer
    assert phase(index) == "Deleting"


def test_when_our_write_event_came_before_its_answer_nothing_is_awaited() -> None:
    index = KindIndex()
    index.observe(None, body("1", {"phase": "Creating"}))
    index.observe(None, body("3", {"phase": "Ready"}))  # the write's event, early
    index.remember_status("acme", "db", {"phase": "Ready"}, "3")
    index.observe(None, body("4", {"phase": "Stalled"}))
    assert phase(index) == "Stalled"


def test_a_recreated_object_ends_the_wait() -> None:
    index = KindIndex()
    index.observe(None, body("1", {"phase": "Creating"}))
    index.remember_status("acme", "db", {"phase": "Ready"}, "3")
    index.observe(None, body("7", {}, uid="u2"))  # deleted and created again meanwhile
    assert phase(index) is None
    index.observe(None, body("8", {"phase": "Creating"}, uid="u2"))
    assert phase(index) == "Creating"


def test_a_deletion_forgets_the_object_and_the_wait() -> None:
    index = KindIndex()
    index.observe(None, body("1"))
    index.remember_status("acme", "db", {"phase": "Ready"}, "3")
    index.observe("DELETED", body("2"))
    assert index.get("acme", "db") is None
    index.observe(None, body("9", {"phase": "Creating"}))
    assert phase(index) == "Creating"


def test_a_write_without_a_version_is_folded_in_and_later_events_count() -> None:
    index = KindIndex()
    index.observe(None, body("1", {"phase": "Creating"}))
    index.remember_status("acme", "db", {"phase": "Ready", "vpcEndpointId": None}, None)
    assert phase(index) == "Ready"
    index.observe(None, body("2", {"phase": "Creating"}))
    assert phase(index) == "Creating"


def test_a_write_for_an_object_not_seen_yet_is_dropped() -> None:
    index = KindIndex()
    index.remember_status("acme", "db", {"phase": "Ready"}, "3")
    index.observe(None, body("2", {"phase": "Creating"}))
    assert phase(index) == "Creating"


def test_the_index_keeps_neither_field_ownership_nor_copies_of_the_object() -> None:
    annotations = {
        "causeway.dev/sync": "2",
        "kubectl.kubernetes.io/last-applied-configuration": '{"spec": {}}',
        "kopf.causeway.dev/last-handled-configuration": '{"spec": {}}',
    }
    event = {
        "metadata": {
            "namespace": "acme",
            "name": "db",
            "uid": "u1",
            "annotations": annotations,
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {"region": "us-east-1"},
    }
    index = KindIndex()
    index.observe(None, event)
    kept = index.get("acme", "db")
    assert kept is not None
    assert "managedFields" not in kept.body["metadata"]
    assert kept.annotations == {"causeway.dev/sync": "2"}
    assert kept.spec == {"region": "us-east-1"}
    assert len(annotations) == 3 and "managedFields" in event["metadata"]  # kopf's, untouched


def test_the_annotation_left_out_is_the_one_kopf_writes() -> None:
    storage = build_settings().persistence.diffbase_storage
    assert set(storage.make_keys(storage.key)) <= UNKEPT_ANNOTATIONS


def test_objects_share_their_keys_and_short_values_but_keep_their_content() -> None:
    # Every object decoded from JSON has its own copy of each key: at 10,000 objects the
    # copies are tens of MiB. The index shares them (and short values: phases, reasons).
    condition = {"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-02T09:00:00Z"}
    index = KindIndex()
    for name in ("a", "b"):
        event = {
            "metadata": {"namespace": "acme", "name": name, "uid": f"uid-{name}"},
            "spec": {"region": "us-east-1"},
            "status": {"phase": "Ready", "conditions": [condition], "message": "x" * 80},
        }
        index.observe(None, json.loads(json.dumps(event)))
    a, b = index.get("acme", "a"), index.get("acme", "b")
    assert a is not None and b is not None
    assert a.status == b.status and a.status["conditions"] == [condition]
    (key_a,) = (k for k in a.status["conditions"][0] if k == "lastTransitionTime")
    (key_b,) = (k for k in b.status["conditions"][0] if k == "lastTransitionTime")
    assert key_a is key_b
    assert a.status["phase"] is b.status["phase"]
    assert (
        a.status["conditions"][0]["lastTransitionTime"]
        is b.status["conditions"][0]["lastTransitionTime"]
    )


def test_the_finalizers_we_wrote_and_their_version_are_held_at_once() -> None:
    index = KindIndex()
    index.observe(None, body("1", {"phase": "Allocating"}))
    index.remember_finalizers("acme", "db", ["example.com/audit", "causeway.dev/teardown"], "2")
    found = index.get("acme", "db")
    assert found is not None
    assert (found.resource_version, found.guarded, found.status["phase"]) == (
        "2",
        True,
        "Allocating",
    )
    index.remember_finalizers("acme", "gone", ["causeway.dev/teardown"], "9")  # not held
    assert index.get("acme", "gone") is None


def test_a_write_whose_event_and_a_newer_one_came_first_sets_nothing_back() -> None:
    # Our status write was answered with version 3; before the answer was folded in,
    # the watch brought 3 and then 4 (kopf's bookkeeping, just after). Folding the answer
    # in would set the index back to 3: every later write, conditioned on 3, would be
    # refused as stale, and no event would come to bring 4 again (a CI rehearsal's
    # deleted connection whose writes were refused every pass).
    index = KindIndex()
    index.observe(None, body("1", {"phase": "Creating"}))
    index.observe(None, body("3", {"phase": "Ready"}))
    index.observe(None, body("4", {"phase": "Ready"}, region="eu-west-1"))
    index.remember_status("acme", "db", {"phase": "Ready"}, "3")
    found = index.get("acme", "db")
    assert found is not None and (found.resource_version, found.region) == ("4", "eu-west-1")
    index.observe(None, body("5", {"phase": "Deleting"}))
    assert phase(index) == "Deleting"


def test_finalizers_whose_event_and_a_newer_one_came_first_set_nothing_back() -> None:
    index = KindIndex()
    index.observe(None, body("1", {"phase": "Allocating"}))
    index.observe(None, body("2", {"phase": "Allocating"}))  # the finalizer patch's event
    index.observe(None, body("3", {"phase": "Creating"}))  # and the next change
    index.remember_finalizers("acme", "db", ["causeway.dev/teardown"], "2")
    found = index.get("acme", "db")
    assert found is not None and (found.resource_version, found.status["phase"]) == (
        "3",
        "Creating",
    )
