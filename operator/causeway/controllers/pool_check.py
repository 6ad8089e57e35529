"""The start-up check of a region's transit VPC pool against AWS: at the region's first
pass, one DescribeSubnets and one DescribeSecurityGroups call (whatever the number of
VPCs) say which VPC each configured subnet and group belongs to, and which
Availability Zone (by AZ ID) each subnet is in: new endpoints go in the subnets of
their service's zones. A subnet or group listed under a VPC it does not belong to,
two subnets of one VPC in one zone, or a subnet without an AZ ID is logged as an
ERROR naming the entry, the key and the id, and that VPC takes no new endpoints until
the config is fixed (AWS would refuse them); its existing endpoints are managed as
before. If AWS cannot answer, a WARNING says so and the next pass asks again."""

from __future__ import annotations

import asyncio
import logging

from causeway.errors import AwsCallError
from causeway.reconcile.network import every_group, every_subnet
from causeway.reconcile.zones import pool_problems
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
        region = self._runtime.config.regions[self._region]
        network = self._runtime.transit_network(self._region)
        try:
            facts = await asyncio.to_thread(network.subnets, every_subnet(region))
            groups = await asyncio.to_thread(network.group_vpcs, every_group(region))
        except AwsCallError as exc:
            logger.warning(
                "Could not check the transit VPCs' subnets and security groups in %s (%s: %s)",
                self._region,
                exc.code,
                exc.message,
            )
            return
        self._done = True
        subnets = {subnet: (fact.vpc_id, fact.zone_id) for subnet, fact in facts.items()}
        self._runtime.subnet_zones[self._region] = {s: z for s, (_, z) in subnets.items()}
        problems = pool_problems(region, subnets, groups)
        for problem in problems:
            logger.error(
                "Config regions.%s.%s; transit VPC %s takes no new endpoints until the "
                "config is fixed",
                self._region,
                problem,
                problem.vpc_id,
            )
        self._runtime.unusable_vpcs[self._region] = {p.vpc_id for p in problems}
