"""One batched poller per region: every pollInterval it lists the Causeway-managed
endpoints of the region's transit VPC (ceil(N/1000) describe calls, whatever the
number of objects) and patches the status of only those objects whose AWS state
changed. Remote accept, reject and delete surface within one interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass

from causeway.api import OUTBOUND
from causeway.controllers.outbound import InvalidObjectError, OutboundController
from causeway.domain import Endpoint
from causeway.errors import AwsCallError
from causeway.index import ObjectSnapshot
from causeway.runtime import Runtime

logger = logging.getLogger("causeway.poller")
PATCH_CONCURRENCY = 16


@dataclass(frozen=True)
class PollReport:
    """What one poll of one region did (logged, and read by tests and the benchmark)."""

    region: str
    objects: int
    endpoints: int
    patched: int


class RegionPoller:
    """Refreshes the status of every OutboundConnection in one region."""

    def __init__(self, runtime: Runtime, region: str) -> None:
        self._runtime = runtime
        self._region = region
        self._controller = OutboundController(runtime)
        self._patch_slots = asyncio.Semaphore(PATCH_CONCURRENCY)

    async def run(self, stopped: asyncio.Event) -> None:
        """Poll until `stopped` is set; a failed poll is logged and retried next interval."""
        interval = self._runtime.config.pollInterval.total_seconds()
        while not stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopped.wait(), timeout=interval)
            if stopped.is_set():
                return
            try:
                await self.poll_once()
            except AwsCallError as exc:
                logger.warning("Poll of %s failed, retrying next interval: %s", self._region, exc)
            except Exception:  # the poller must outlive any one bad poll
                logger.exception(
                    "Poll of %s failed unexpectedly; retrying next interval", self._region
                )

    async def poll_once(self) -> PollReport:
        """One poll: one batched listing, then status patches for changed objects only."""
        objects = [o for o in self._runtime.outbound_index.in_region(self._region) if _pollable(o)]
        if not objects:
            return PollReport(self._region, 0, 0, 0)
        endpoints = await self._runtime.listings.refresh(self._region)
        by_owner: dict[str, list[Endpoint]] = defaultdict(list)
        for endpoint in endpoints:
            by_owner[endpoint.owner_uid or ""].append(endpoint)
        results = await asyncio.gather(
            *(self._refresh(o, by_owner[o.uid]) for o in objects), return_exceptions=True
        )
        for snapshot, result in zip(objects, results, strict=True):
            if isinstance(result, BaseException):
                logger.warning(
                    "%s/%s: status update failed, retrying next poll: %s",
                    snapshot.namespace,
                    snapshot.name,
                    result,
                )
        patched = sum(1 for result in results if result is True)
        report = PollReport(self._region, len(objects), len(endpoints), patched)
        logger.info(
            "Polled %s: %d objects, %d managed endpoints, %d status updates",
            report.region,
            report.objects,
            report.endpoints,
            report.patched,
        )
        return report

    async def _refresh(self, snapshot: ObjectSnapshot, owned: list[Endpoint]) -> bool:
        if not owned and not snapshot.status.get("vpcEndpointId"):
            return False  # nothing allocated yet: the handlers own this object for now
        try:
            patch = self._controller.refresh(snapshot.body, owned)
        except InvalidObjectError:
            return False
        if patch is None:
            return False
        async with self._patch_slots:
            # The object as seen before the listing was taken: if a handler wrote it since,
            # its status is newer than this poll's view, so the write is refused (409).
            written = await asyncio.to_thread(
                self._runtime.kube.patch_status,
                OUTBOUND,
                snapshot.namespace,
                snapshot.name,
                patch,
                resource_version=snapshot.resource_version,
            )
        if not written:
            return False
        self._runtime.outbound_index.remember_status(snapshot.namespace, snapshot.name, patch)
        await self._controller.announce(snapshot.body, patch, logger)
        logger.info(
            "%s/%s: AWS state changed, phase now %s",
            snapshot.namespace,
            snapshot.name,
            patch.get("phase", snapshot.status.get("phase")),
        )
        return True


def _pollable(snapshot: ObjectSnapshot) -> bool:
    """Objects being torn down are left to their handlers."""
    provisioned = snapshot.body.get("spec", {}).get("provisioned", True)
    return bool(provisioned) and not snapshot.deleting
