"""Which operator replica leads, and whether each replica's index is synced, for
`causeway status`: read from the leader-election Leases and the operator's pods found
(pure: the CLI lists them). A Lease is shown as it says; whether its holder is still
alive is for the replicas to judge, so the renew age is printed. A pod is Ready only
once its index is synced (its readiness probe), so Ready and the time it turned Ready
are the replica's sync state and age."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from causeway.election import pod_of
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


def replica_entries(leases: Sequence[Body], pods: Sequence[Body]) -> list[dict[str, Any]]:
    """One entry per operator pod (sorted by namespace/name): whether it leads, whether
    its index is synced (Ready) and since when, when it started, whether it stops."""
    leaders = {
        (entry["lease"].split("/")[0], pod_of(entry["holder"]))
        for entry in leader_entries(leases)
        if entry["holder"]
    }
    entries = []
    for pod in pods:
        meta, status = meta_of(pod), pod.get("status") or {}
        ready: Body = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {}
        )
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        entries.append(
            {
                "pod": f"{namespace}/{name}",
                "leads": (namespace, name) in leaders,
                "synced": ready.get("status") == "True",
                "syncedSince": ready.get("lastTransitionTime")
                if ready.get("status") == "True"
                else None,
                "started": status.get("startTime"),
                "stopping": bool(meta.get("deletionTimestamp")),
            }
        )
    return sorted(entries, key=lambda entry: str(entry["pod"]))


def replica_lines(leases: Sequence[Body], pods: Sequence[Body], now: datetime) -> list[str]:
    """`Replica ns/pod: leads, index synced 2m ago` per operator pod."""
    lines = []
    for entry in replica_entries(leases, pods):
        role = "leads" if entry["leads"] else "stands by"
        since, started = _parse(entry["syncedSince"]), _parse(entry["started"])
        if entry["synced"]:
            state = "index synced" + (f" {age(since, now)} ago" if since else "")
        else:
            state = "index not synced yet" + (
                f" (started {age(started, now)} ago)" if started else ""
            )
        stopping = ", stopping" if entry["stopping"] else ""
        lines.append(f"Replica {entry['pod']}: {role}, {state}{stopping}")
    return lines


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
