"""The start-up check of a region's transit VPC pool against AWS: at the region's first
pass, one DescribeSubnets and one DescribeSecurityGroups call (whatever the number of
VPCs) say which VPC each configured subnet and group belongs to. A subnet or group
listed under a VPC it does not belong to is logged as an ERROR naming the entry, the
key and the id, and that VPC takes no new endpoints until the config is fixed (AWS
would refuse them); its existing endpoints are managed as before. If AWS cannot
answer, a WARNING says the check was skipped."""

from __future__ import annotations

import asyncio
import logging

from causeway.errors import AwsCallError
from causeway.reconcile.network import every_group, every_subnet, misplaced
from causeway.runtime import Runtime

logger = logging.getLogger("causeway.startup")


class PoolCheck:
    """Runs once per region (per operator start)."""

    def __init__(self, runtime: Runtime, region: str) -> None:
        self._runtime = runtime
        self._region = region
        self._done = False

    async def run_once(self) -> None:
        if self._done:
            return
        self._done = True
        region = self._runtime.config.regions[self._region]
        network = self._runtime.transit_network(self._region)
        try:
            subnets = await asyncio.to_thread(network.subnet_vpcs, every_subnet(region))
            groups = await asyncio.to_thread(network.group_vpcs, every_group(region))
        except AwsCallError as exc:
            logger.warning(
                "Could not check the transit VPCs' subnets and security groups in %s (%s: %s)",
                self._region,
                exc.code,
                exc.message,
            )
            return
        problems = misplaced(region, subnets, groups)
        for problem in problems:
            logger.error(
                "Config regions.%s.%s; transit VPC %s takes no new endpoints until the "
                "config is fixed",
                self._region,
                problem,
                problem.vpc_id,
            )
        self._runtime.unusable_vpcs[self._region] = {p.vpc_id for p in problems}
