"""`causeway status` says which operator replica leads, from the Leases found."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from causeway.report.leader import leader_entries, leader_lines

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
