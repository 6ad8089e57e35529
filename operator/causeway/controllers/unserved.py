"""Connections in a Region this platform does not serve: no region reconciler will ever
see them, so their Stalled status (UnknownRegion, naming the Regions offered) is
written here, since no AWS is involved. kopf's change handlers write it when such an
object is created or changed; `report_unserved` writes it once when the replica
starts acting, for the objects already there (the config may have dropped their
Region while the operator was down). kopf's resume handlers did that before, at the
cost of one handler run per object at every start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from causeway.api import INBOUND, OUTBOUND
from causeway.conditions import Progress, kstatus, merge, timestamp
from causeway.controllers.writer import StatusWriter
from causeway.runtime import Runtime

logger = logging.getLogger("causeway.unserved")
REASON = "UnknownRegion"


def unserved_status(runtime: Runtime, body: Mapping[str, Any], region: str) -> dict[str, Any]:
    """The status of a connection whose Region is not served here."""
    offered = ", ".join(sorted(runtime.config.regions)) or "none"
    message = (
        f"Region {region or '(none)'} is not served by this platform (regions offered: "
        f"{offered}). Recreate the connection in an offered region."
    )
    previous = body.get("status") or {}
    endpoint = previous.get("vpcEndpointId")
    if endpoint:
        message += (
            f" Its endpoint {endpoint}, made while the platform served {region}, is "
            "deleted when this object is deleted."
        )
    generation = int((body.get("metadata") or {}).get("generation") or 1)
    now = runtime.clock()
    return {
        "phase": "Unprovisioned",
        "message": message,
        "observedGeneration": generation,
        "lastSyncTime": timestamp(now),
        "conditions": merge(
            previous.get("conditions") or [],
            kstatus(Progress.STALLED, REASON, message),
            generation=generation,
            now=now,
        ),
    }


def says_unserved(status: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether `status` already says what `wanted` would (its sync time aside)."""
    keys = ("phase", "message", "observedGeneration")
    if any(status.get(key) != wanted[key] for key in keys):
        return False
    stalled = [c for c in status.get("conditions") or [] if c.get("type") == "Stalled"]
    return any(c.get("status") == "True" and c.get("reason") == REASON for c in stalled)


async def report_unserved(runtime: Runtime, writer: StatusWriter) -> int:
    """Write the status of every connection in an unserved Region that does not say so
    yet; how many were written."""
    writes = []
    for kind in (OUTBOUND, INBOUND):
        for snapshot in runtime.index[kind].all():
            if runtime.serves(snapshot.region) or snapshot.deleting:
                continue
            wanted = unserved_status(runtime, snapshot.body, snapshot.region)
            if not says_unserved(snapshot.status, wanted):
                writes.append(writer.write(kind, snapshot, wanted))
    written = sum(await asyncio.gather(*writes))  # the writer's slots bound them
    if written:
        logger.info("%d connections in Regions not served here told so", written)
    return written
