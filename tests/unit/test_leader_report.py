"""`causeway status` says which operator replica leads, from the Leases found."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from causeway.report.leader import leader_entries, leader_lines, replica_entries, replica_lines

NOW = datetime(2026, 12, 2, 1, 0, 10, tzinfo=UTC)


def lease(namespace: str, holder: str | None, renewed: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"leaseDurationSeconds": 15}
    if holder is not None:
        spec["holderIdentity"] = holder
    if renewed is not None:
        spec["renewTime"] = renewed
    return {"metadata": {"namespace": namespace, "name": "causeway-leader"}, "spec": spec}


@pytest.mark.parametrize(
    ("leases", "lines"),
    [
        ([], []),
        (
            [lease("causeway-system", "causeway-7d9f-x2_ab12cd34", "2026-12-02T01:00:07.000000Z")],
            [
                "Operator: causeway-7d9f-x2_ab12cd34 leads "
                "(Lease causeway-system/causeway-leader, renewed 3s ago)"
            ],
        ),
        (
            [lease("causeway-system", "", "2026-12-02T00:58:10.123456Z")],
            [
                "Operator: no replica leads (Lease causeway-system/causeway-leader released, "
                "renewed 119s ago)"
            ],
        ),
        (
            [lease("b", "pod-b", None), lease("a", "pod-a", "not a time")],
            [
                "Operator: pod-a leads (Lease a/causeway-leader)",
                "Operator: pod-b leads (Lease b/causeway-leader)",
            ],
        ),
    ],
    ids=["none", "held", "released", "unreadable-times-two-installs"],
)
def test_status_names_the_leading_replica(leases: list[dict[str, Any]], lines: list[str]) -> None:
    assert leader_lines(leases, NOW) == lines


def test_json_entries_keep_what_the_lease_says() -> None:
    assert leader_entries([lease("ns", None, None)]) == [
        {"lease": "ns/causeway-leader", "holder": "", "renewTime": None}
    ]


def pod(name: str, *, ready: str | None, since: str = "", stopping: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"namespace": "causeway-system", "name": name}
    if stopping:
        meta["deletionTimestamp"] = "2026-12-02T01:00:09Z"
    conditions = [{"type": "Ready", "status": ready, "lastTransitionTime": since}] if ready else []
    return {
        "metadata": meta,
        "status": {"startTime": "2026-12-02T01:00:04Z", "conditions": conditions},
    }


def test_each_replica_says_whether_it_leads_and_whether_its_index_is_synced() -> None:
    """Ready is the readiness probe's answer: the index is synced. A rolling update in
    the middle: the old leader stopping, its successor synced, a new pod still listing."""
    leases = [lease("causeway-system", "causeway-7d9f-a_1f2e3d4c", "2026-12-02T01:00:08Z")]
    pods = [
        pod("causeway-7d9f-c", ready="False", since="2026-12-02T01:00:04Z"),
        pod("causeway-7d9f-a", ready="True", since="2026-12-02T00:40:10Z", stopping=True),
        pod("causeway-7d9f-b", ready="True", since="2026-12-02T01:00:02Z"),
        pod("causeway-7d9f-d", ready=None),
    ]
    assert replica_lines(leases, pods, NOW) == [
        "Replica causeway-system/causeway-7d9f-a: leads, index synced 20m ago, stopping",
        "Replica causeway-system/causeway-7d9f-b: stands by, index synced 8s ago",
        "Replica causeway-system/causeway-7d9f-c: stands by, index not synced yet (started 6s ago)",
        "Replica causeway-system/causeway-7d9f-d: stands by, index not synced yet (started 6s ago)",
    ]
    (leader,) = [e for e in replica_entries(leases, pods) if e["leads"]]
    assert leader == {
        "pod": "causeway-system/causeway-7d9f-a",
        "leads": True,
        "synced": True,
        "syncedSince": "2026-12-02T00:40:10Z",
        "started": "2026-12-02T01:00:04Z",
        "stopping": True,
    }


def test_a_pod_of_the_same_name_in_another_namespace_does_not_lead() -> None:
    leases = [lease("other", "causeway-7d9f-a_1f2e3d4c", "2026-12-02T01:00:08Z")]
    entries = replica_entries(leases, [pod("causeway-7d9f-a", ready="True")])
    assert [e["leads"] for e in entries] == [False]
