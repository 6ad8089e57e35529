"""Teardown of OutboundConnections in a Region the config no longer serves. Removing a
Region from the config must not orphan what Causeway made there: an endpoint left
behind stays connected into the tenant's VPC with nothing listing it. So a deleted
(or unprovisioned) connection of such a Region still has its endpoints found (by its
owner tag, and the id its status names) and deleted, and its finalizer goes only once
AWS shows none of them left. The operator's role needs its endpoint grants in that
Region until then: an admin removing a Region keeps its IAM statements until its
connections are gone (the docs' upgrade notes say so)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from causeway.aws.endpoints import TransitEndpoints
from causeway.errors import AwsCallError
from causeway.reconcile.outbound import DeleteEndpoints, plan_teardown
from causeway.runtime import Runtime

logger = logging.getLogger("causeway.retired")


async def tear_down(runtime: Runtime, region: str, body: Mapping[str, Any]) -> bool:
    """Delete what the connection owns in `region`; True once nothing is left."""
    meta, status = body.get("metadata") or {}, body.get("status") or {}
    uid, tracked = str(meta.get("uid", "")), status.get("vpcEndpointId")
    where = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    endpoints = TransitEndpoints(runtime.clients.client("ec2", region), None)
    also = (tracked,) if isinstance(tracked, str) else ()
    try:
        owned = await _call(runtime, region, "DescribeVpcEndpoints", endpoints.owned_by, uid, also)
        teardown = plan_teardown(owned)
        for action in teardown.actions:
            if isinstance(action, DeleteEndpoints):
                await _call(runtime, region, "DeleteVpcEndpoints", endpoints.delete, action.ids)
                logger.info(
                    "Deleted %s of %s in %s, a Region no longer configured",
                    ", ".join(action.ids),
                    where,
                    region,
                )
    except AwsCallError as exc:
        logger.warning(
            "Could not tear down %s in %s, a Region no longer configured (%s: %s); its "
            "finalizer stays until its endpoints are gone",
            where,
            region,
            exc.code,
            exc.message,
        )
        return False
    return teardown.settled


async def _call(runtime: Runtime, region: str, api: str, method: Any, *args: Any) -> Any:
    return await runtime.budget.call(region, api, partial(asyncio.to_thread, method, *args))
