"""The start-up check of a region's transit VPC pool against AWS, at the region's
first pass.

- One DescribeSubnets and one DescribeSecurityGroups call (whatever the number of
  VPCs) say which VPC each configured subnet and group belongs to, and which
  Availability Zone (by AZ ID) each subnet is in: new endpoints go in the subnets of
  their service's zones. A subnet or group listed under a VPC it does not belong to,
  two subnets of one VPC in one zone, or a subnet without an AZ ID is logged as an
  ERROR naming the entry, the key and the id, and that VPC takes no new endpoints
  until the config is fixed (AWS would refuse them); its existing endpoints are
  managed as before. If AWS cannot answer, a WARNING says so and the next pass asks
  again.
- Then the security-group quotas tenant groups need (three GetServiceQuota calls and
  the Region's groups, paged): a VPC whose open rules no tenant group can hold is an
  ERROR and takes no new endpoints, as above; little room is a WARNING."""

from __future__ import annotations

import asyncio
import logging
import math

from causeway.aws.network import TransitNetwork
from causeway.aws.quotas import group_quotas
from causeway.config import RegionConfig
from causeway.errors import AwsCallError
from causeway.reconcile.group_quotas import rule_problems, warnings
from causeway.reconcile.network import every_group, every_subnet
from causeway.reconcile.zones import pool_problems
from causeway.runtime import Runtime

logger = logging.getLogger("causeway.startup")


RETRY_SECONDS = 60.0  # how soon a check AWS could not answer is tried again


class PoolCheck:
    """Runs once per region (per operator start), until AWS has answered it."""

    def __init__(self, runtime: Runtime, region: str) -> None:
        self._runtime = runtime
        self._region = region
        self._done = False
        self._retry_at = -math.inf
        self._failing: str | None = None  # the last failure said (said once per kind)

    async def run_once(self) -> None:
        if self._done or self._runtime.monotonic() < self._retry_at:
            return
        region = self._runtime.config.regions[self._region]
        network = self._runtime.transit_network(self._region)
        try:
            facts = await asyncio.to_thread(network.subnets, every_subnet(region))
            groups = await asyncio.to_thread(network.group_vpcs, every_group(region))
        except AwsCallError as exc:
            self._retry_at = self._runtime.monotonic() + RETRY_SECONDS
            if exc.code != self._failing:
                logger.warning(
                    "Could not check the transit VPCs' subnets and security groups in %s "
                    "(%s: %s); trying again every minute",
                    self._region,
                    exc.code,
                    exc.message,
                )
            self._failing = exc.code
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
        over_quota = await self._check_group_quotas(region, network)
        self._runtime.unusable_vpcs[self._region] = {p.vpc_id for p in problems} | over_quota

    async def _check_group_quotas(self, region: RegionConfig, network: TransitNetwork) -> set[str]:
        """The VPCs whose open rules no tenant group can hold (logged as ERRORs); little
        room for new groups is a WARNING. Quotas AWS does not answer leave it unchecked
        (a WARNING): the groups' own calls then say what AWS refuses."""
        client = self._runtime.service_quotas(self._region)
        try:
            quotas = await asyncio.to_thread(group_quotas, client)
            groups = await asyncio.to_thread(network.region_groups)
        except AwsCallError as exc:
            logger.warning(
                "Could not check the security-group quotas in %s (%s: %s); tenant security "
                "groups are not checked against them",
                self._region,
                exc.code,
                exc.message,
            )
            return set()
        problems = rule_problems(region, {g: s.rules for g, s in groups.items()}, quotas)
        for problem in problems:
            logger.error(
                "Config regions.%s.%s; transit VPC %s takes no new endpoints until the "
                "config or the quota changes",
                self._region,
                problem,
                problem.vpc_id,
            )
        for warning in warnings(region, len(groups), quotas):
            logger.warning("Transit pool in %s: %s", self._region, warning)
        return {p.vpc_id for p in problems}
