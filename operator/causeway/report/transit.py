"""Transit capacity for admins: each transit VPC of the config with its capacity and
whether it is draining, and, given the cluster's OutboundConnections, how many
endpoints each holds (from status.transitVpcId). Pure: rows and JSON-ready records.

Used here is what Causeway's connections hold; the operator's own gauge
(causeway_transit_endpoints) also counts creations in flight and endpoints made
outside Causeway in the VPC, which only AWS can tell."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from causeway.config import OperatorConfig
from causeway.report.table import EMPTY, format_table

HEADERS = ("REGION", "TRANSIT VPC", "USED", "CAPACITY", "DRAINING")
QUOTA = "quota"  # capacity is the account's quota for the VPC (read by the operator)
# Phases in which a connection holds no endpoint (so no slot of its VPC).
_NO_ENDPOINT = frozenset({"Unprovisioned", "Allocating", "DeletedRemotely"})


@dataclass(frozen=True)
class TransitRow:
    """One transit VPC: `used` is None when the cluster was not read; `maxEndpoints`
    None means the account's quota; `configured` False for a VPC removed from the
    config that still holds connections."""

    region: str
    vpcId: str  # noqa: N815 - the config's own key, also the JSON key
    used: int | None
    maxEndpoints: int | None  # noqa: N815
    draining: bool
    configured: bool = True


def transit_rows(
    config: OperatorConfig, outbound: Iterable[Mapping[str, Any]] | None = None
) -> list[TransitRow]:
    """Every VPC of every region in config order, then VPCs no longer configured that
    connections still name. `outbound`: OutboundConnection bodies (None: not read)."""
    held = None if outbound is None else _held(outbound)
    rows: list[TransitRow] = []
    for name, region in sorted(config.regions.items()):
        configured = {vpc.vpcId for vpc in region.pool}
        for vpc in region.pool:
            used = None if held is None else held.get((name, vpc.vpcId), 0)
            rows.append(TransitRow(name, vpc.vpcId, used, vpc.maxEndpoints, vpc.draining))
        for (where, vpc_id), count in sorted((held or {}).items()):
            if where == name and vpc_id not in configured:
                rows.append(TransitRow(name, vpc_id, count, None, True, configured=False))
    return rows


def _held(outbound: Iterable[Mapping[str, Any]]) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for body in outbound:
        status = body.get("status") or {}
        region = str((body.get("spec") or {}).get("region", ""))
        vpc_id = status.get("transitVpcId")
        if vpc_id and status.get("phase") not in _NO_ENDPOINT:
            counts[(region, str(vpc_id))] += 1
    return counts


def transit_table(rows: Iterable[TransitRow]) -> str:
    """The rows as a table; without a USED column when the cluster was not read."""
    listed = list(rows)
    cells = [
        (
            row.region,
            row.vpcId if row.configured else f"{row.vpcId} (not in the config)",
            EMPTY if row.used is None else str(row.used),
            str(row.maxEndpoints) if row.maxEndpoints else QUOTA,
            "yes" if row.draining else "no",
        )
        for row in listed
    ]
    if all(row.used is None for row in listed):
        return format_table(
            tuple(h for h in HEADERS if h != "USED"), [c[:2] + c[3:] for c in cells]
        )
    return format_table(HEADERS, cells)


def transit_json(rows: Iterable[TransitRow]) -> list[dict[str, Any]]:
    return [asdict(row) for row in rows]
