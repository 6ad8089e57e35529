"""kstatus conditions: lastTransitionTime moves only when a condition flips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from causeway.conditions import Progress, kstatus, merge

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def by_type(conditions: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {c["type"]: c for c in conditions}


def test_exactly_one_kstatus_condition_is_true_except_settled() -> None:
    for progress in Progress:
        states = kstatus(progress, "Reason", "message")
        trues = [s.type for s in states if s.status]
        assert trues == ([] if progress is Progress.SETTLED else [progress.value])


def test_first_write_stamps_now() -> None:
    merged = merge([], kstatus(Progress.RECONCILING, "Allocating", "m"), generation=1, now=T0)
    assert {c["lastTransitionTime"] for c in merged} == {"2026-11-22T08:00:00Z"}
    assert {c["observedGeneration"] for c in merged} == {1}


def test_unflipped_condition_keeps_its_transition_time_even_when_reason_changes() -> None:
    first = merge([], kstatus(Progress.RECONCILING, "Allocating", "a"), generation=1, now=T0)
    second = merge(
        first,
        kstatus(Progress.RECONCILING, "PendingAcceptance", "b"),
        generation=2,
        now=T0 + timedelta(minutes=3),
    )
    reconciling = by_type(second)["Reconciling"]
    assert reconciling["lastTransitionTime"] == "2026-11-22T08:00:00Z"
    assert (reconciling["reason"], reconciling["observedGeneration"]) == ("PendingAcceptance", 2)


def test_flipped_condition_moves_its_transition_time() -> None:
    first = merge([], kstatus(Progress.RECONCILING, "PendingAcceptance", ""), generation=1, now=T0)
    second = merge(
        first, kstatus(Progress.READY, "Ready", ""), generation=1, now=T0 + timedelta(minutes=7)
    )
    conditions = by_type(second)
    assert conditions["Ready"]["lastTransitionTime"] == "2026-11-22T08:07:00Z"
    assert conditions["Reconciling"]["lastTransitionTime"] == "2026-11-22T08:07:00Z"
    assert conditions["Stalled"]["lastTransitionTime"] == "2026-11-22T08:00:00Z"
