"""Writing ConnectionQuota status: the licences the latest admission counted and what
metering knows, joined by one pure function (reconcile/quota.py) and written by one
writer at a time, so the region passes and the metering cycles, which both report,
never undo each other's part. Also the Events that go with it: OverLicensed, and each
allowance reaching 80% and 100% (once per period)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from causeway.api import CONNECTION_QUOTA
from causeway.controllers.writer import STALE_WRITE_RETRY_SECONDS, StatusWriter
from causeway.index import ObjectSnapshot
from causeway.reconcile.admission import QuotaUse
from causeway.reconcile.metering import Allowance, allowance
from causeway.reconcile.quota import became_over_licensed, quota_status
from causeway.reconcile.usage import UsageStatus, announcements, usage_status

if TYPE_CHECKING:
    from causeway.runtime import Runtime


class QuotaReporter:
    """Computes and writes every ConnectionQuota's status (only what changed)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        # A write refused as stale (the admin edited the quota, kopf's bookkeeping landed
        # after the read) is made again by the passes this asks for, soon.
        self._writer = StatusWriter(
            runtime.kube,
            runtime.index,
            runtime.clock,
            on_stale=lambda: runtime.kick_all(STALE_WRITE_RETRY_SECONDS),
        )
        self._lock = asyncio.Lock()

    def allowance(self, use: QuotaUse | None) -> Allowance:
        """What the tenant of `use` may use (no quota: no licenses, no packs)."""
        metering = self._runtime.config.metering
        quota = use.quota if use else None
        return allowance(
            quota.licenses if quota else 0,
            quota.data_packs if quota else 0,
            gb_per_unit_per_day=metering.gbPerUnitPerDay,
            hourly_limit_mb=metering.hourlyLimitMB,
        )

    async def report(self) -> int:
        """Write what changed; the number of statuses written. Nothing before the
        first admission: the licence part would be empty."""
        usage_by_namespace = self._runtime.licence_use
        if usage_by_namespace is None:
            return 0
        async with self._lock:
            now = self._runtime.clock()
            writes = [
                self._report_one(quota, usage_by_namespace.get(quota.namespace), now)
                for quota in self._runtime.index[CONNECTION_QUOTA].all()
            ]
            return sum(await asyncio.gather(*writes))

    async def _report_one(self, quota: ObjectSnapshot, use: QuotaUse | None, now: datetime) -> bool:
        previous = quota.status
        patch = quota_status(
            quota.name,
            quota.generation,
            use,
            previous,
            now,
            usage=self._usage(quota, use, now),
        )
        if not patch or not await self._writer.write(CONNECTION_QUOTA, quota, patch):
            return False
        await self._announce(quota, previous, patch)
        return True

    def _usage(
        self, quota: ObjectSnapshot, use: QuotaUse | None, now: datetime
    ) -> UsageStatus | None:
        """Metering's part, for the namespace's quota in effect only."""
        if use is None or use.quota is None or use.quota.name != quota.name:
            return None
        reading = self._runtime.meter.reading(quota.namespace, now)
        return usage_status(self.allowance(use), reading, now)

    async def _announce(
        self, quota: ObjectSnapshot, previous: Mapping[str, Any], patch: Mapping[str, Any]
    ) -> None:
        current = {**previous, **patch}
        if became_over_licensed(previous, patch):
            message = _condition_message(patch, "OverLicensed")
            await self._writer.event(CONNECTION_QUOTA, quota, "OverLicensed", message, warning=True)
        for found in announcements(previous, current):
            await self._writer.event(
                CONNECTION_QUOTA, quota, found.reason, found.message, warning=found.warning
            )


def _condition_message(patch: Mapping[str, Any], kind: str) -> str:
    conditions = patch.get("conditions", [])
    found: Mapping[str, Any] = next((c for c in conditions if c.get("type") == kind), {})
    return str(found.get("message", ""))
