"""Which operator replica leads, for `causeway status`: read from the leader-election
Leases found (pure: the CLI lists them). A Lease is shown as it says; whether its
holder is still alive is for the replicas to judge, so the renew age is printed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from causeway.report.bodies import Body, meta_of, spec_of
from causeway.report.table import age


def leader_entries(leases: Sequence[Body]) -> list[dict[str, Any]]:
    """One entry per Lease (sorted by namespace/name): lease, holder ("" when released)
    and renewTime as written."""
    entries = []
    for lease in leases:
        meta, spec = meta_of(lease), spec_of(lease)
        entries.append(
            {
                "lease": f"{meta.get('namespace', '')}/{meta.get('name', '')}",
                "holder": str(spec.get("holderIdentity") or ""),
                "renewTime": spec.get("renewTime"),
            }
        )
    return sorted(entries, key=lambda entry: str(entry["lease"]))


def leader_lines(leases: Sequence[Body], now: datetime) -> list[str]:
    """`Operator: <holder> leads (Lease ns/name, renewed 3s ago)` per Lease."""
    lines = []
    for entry in leader_entries(leases):
        renewed = _parse(entry["renewTime"])
        when = f", renewed {age(renewed, now)} ago" if renewed is not None else ""
        if entry["holder"]:
            lines.append(f"Operator: {entry['holder']} leads (Lease {entry['lease']}{when})")
        else:
            lines.append(f"Operator: no replica leads (Lease {entry['lease']} released{when})")
    return lines


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
