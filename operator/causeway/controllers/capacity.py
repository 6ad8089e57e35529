"""Reading a region's endpoint quota per VPC from Service Quotas, at start and then
hourly, for transit VPCs whose config sets no maxEndpoints. When Service Quotas
refuses (no permission, not reachable), AWS's default of 50 applies, said once in the
log. Each reading also ends what an earlier VpcEndpointLimitExceeded taught placement
(see controllers/outbound.py)."""

from __future__ import annotations

import asyncio
import logging
import math

from causeway.aws.quotas import ENDPOINTS_PER_VPC_QUOTA, endpoints_per_vpc
from causeway.config import DEFAULT_ENDPOINTS_PER_VPC
from causeway.errors import AwsCallError
from causeway.runtime import Runtime

logger = logging.getLogger("causeway.capacity")
READING_SECONDS = 3600.0


class QuotaReader:
    """The region's endpoints-per-VPC quota, kept in the Runtime for placement."""

    def __init__(self, runtime: Runtime, region: str) -> None:
        self._runtime = runtime
        self._region = region
        self._next_at = -math.inf
        self._fallback_said = False

    @property
    def needed(self) -> bool:
        """Some transit VPC of the region takes its capacity from the quota."""
        pool = self._runtime.config.regions[self._region].pool
        return any(vpc.maxEndpoints is None for vpc in pool)

    async def refresh_if_due(self) -> None:
        now = self._runtime.monotonic()
        if not self.needed or now < self._next_at:
            return
        self._next_at = now + READING_SECONDS
        client = self._runtime.service_quotas(self._region)
        try:
            quota = await asyncio.to_thread(endpoints_per_vpc, client)
        except AwsCallError as exc:
            self._runtime.endpoint_quotas.pop(self._region, None)
            if not self._fallback_said:
                self._fallback_said = True
                logger.warning(
                    "Could not read the quota %s (interface endpoints per VPC) in %s (%s: %s); "
                    "counting AWS's default of %d per transit VPC without maxEndpoints",
                    ENDPOINTS_PER_VPC_QUOTA,
                    self._region,
                    exc.code,
                    exc.message,
                    DEFAULT_ENDPOINTS_PER_VPC,
                )
        else:
            if self._runtime.endpoint_quotas.get(self._region) != quota:
                logger.info(
                    "Transit VPCs in %s hold %d interface endpoints each (quota %s) unless "
                    "maxEndpoints says otherwise",
                    self._region,
                    quota,
                    ENDPOINTS_PER_VPC_QUOTA,
                )
            self._runtime.endpoint_quotas[self._region] = quota
        self._runtime.capacity_read_at[self._region] = now
