"""The tenant groups of one region, through which the hourly limit is enforced (see
causeway.reconcile.enforcement): make a tenant's group in a transit VPC when its first
endpoint there is about to be created or moved onto it, and once per region pass
apply the plan (block, reopen, follow the open rules, delete) as the platform's own
AWS calls, ahead of any tenant's. The plan's work runs beside the pass, one batch at
a time; when it ends the groups are listed again at once, because a block is only
reported in effect once AWS lists it so."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any

from causeway.aws.groups import TransitGroups
from causeway.domain import SecurityGroup
from causeway.errors import AwsCallError, classify
from causeway.fence import FencedError
from causeway.reconcile import enforcement as planner
from causeway.reconcile.enforcement import BlockGroup, DeleteGroup, GroupAction, SetRules
from causeway.runtime import Runtime

logger = logging.getLogger("causeway.enforcement")
# The groups' calls run on threads of their own: a block must not queue behind the
# status writes and listings that share asyncio's default executor (a few threads).
WORKERS = 8


class OpenRulesUnknownError(AwsCallError):
    """A tenant group cannot be made: the config's open groups of its VPC are not among
    the VPC's groups AWS lists (deleted, or in another VPC): the admin must fix it."""

    def __init__(self, vpc_id: str) -> None:
        super().__init__(
            "CreateSecurityGroup",
            "OpenRulesUnknown",
            f"the open security groups the config names for transit VPC {vpc_id} are not "
            "among the groups AWS lists in that VPC",
        )


class TenantGroups:
    """Per region: the tenant groups, made on demand and kept as the plan says."""

    def __init__(self, runtime: Runtime, region: str) -> None:
        self._runtime = runtime
        self._region = region
        self._view = runtime.views[region]
        self._making: dict[tuple[str, str], asyncio.Lock] = {}
        self._listing = asyncio.Lock()  # one listing for every group made meanwhile
        self._work: asyncio.Task[None] | None = None
        self._threads = ThreadPoolExecutor(WORKERS, thread_name_prefix=f"causeway-groups-{region}")
        self.relist = False  # acted since the groups were listed: list them again now

    # -- what is known ----------------------------------------------------------------------

    def vpc_ids(self) -> list[str]:
        """The VPCs whose groups are listed: the configured ones, and any other that
        still holds one of the region's managed endpoints (a VPC removed from config)."""
        configured = [v.vpcId for v in self._runtime.config.regions[self._region].pool]
        held = {e.vpc_id for e in self._view.all_endpoints() if e.vpc_id}
        return sorted({*configured, *held})

    def group_of(self, tenant: str, vpc_id: str) -> SecurityGroup | None:
        for group in self._view.all_groups().values():
            if group.tenant == tenant and group.vpc_id == vpc_id:
                return group
        return None

    def open_rules(self) -> dict[str, frozenset[tuple[str, int, int, str, str]]]:
        pool = self._runtime.config.regions[self._region].pool
        opened = {vpc.vpcId: list(vpc.securityGroupIds) for vpc in pool}
        return planner.open_rules(self._view.all_groups().values(), opened)

    def legacy_groups(self, vpc_id: str) -> tuple[str, ...]:
        """The shared groups an endpoint made before tenant groups may carry: the VPC's
        open groups and its blocked group (none for a VPC no longer configured)."""
        vpc = self._runtime.config.regions[self._region].transit_vpc(vpc_id)
        if vpc is None:
            return ()
        return (*vpc.securityGroupIds, *filter(None, [vpc.blockedSecurityGroupId]))

    def page(self, token: str | None) -> tuple[list[SecurityGroup], str | None]:
        return self._api().page(self.vpc_ids(), token)

    # -- making a group ---------------------------------------------------------------------

    async def ensure(self, tenant: str, vpc_id: str) -> str:
        """The id of the tenant's group in the VPC, made now if there is none (its rules
        the open ones, or none while the tenant is blocked). One at a time per pair:
        two connections of a tenant must not race to make it twice."""
        lock = self._making.setdefault((tenant, vpc_id), asyncio.Lock())
        async with lock:
            found = self.group_of(tenant, vpc_id)
            if found is not None:
                return found.id
            rules = self.open_rules().get(vpc_id)
            if rules is None:  # not listed yet (a pass that reused an older listing)
                await self.list_now(self._runtime.monotonic())
                rules = self.open_rules().get(vpc_id)
            if rules is None:  # listed, and the config's open groups are not in that VPC
                raise OpenRulesUnknownError(vpc_id)
            until = self._runtime.meter.blocked_until(tenant, self._runtime.clock())
            api = self._api()
            made: SecurityGroup = await self._call(
                "CreateSecurityGroup", partial(api.create, tenant, vpc_id, rules, until)
            )
            if until is None and rules:
                await self._call(
                    "AuthorizeSecurityGroupIngress", partial(api.authorize, made.id, rules)
                )
                made = SecurityGroup(made.id, vpc_id, rules, tenant, made.name, None)
            self._view.record_groups([made])
            logger.info("Made security group %s for tenant %s in %s", made.id, tenant, vpc_id)
            return made.id

    async def list_now(self, asked_at: float) -> None:
        """List the transit VPCs' groups, every page within the budget, unless a listing
        started since `asked_at` (the tenants' groups made in one pass share one)."""
        async with self._listing:
            listed_at = self._view.groups_taken_at
            if listed_at is not None and listed_at >= asked_at:
                return
            await self._list()

    async def _list(self) -> None:
        taken_at = self._runtime.monotonic()
        listed: list[SecurityGroup] = []
        token: str | None = None
        while True:
            page, token = await self._call("DescribeSecurityGroups", partial(self.page, token))
            listed.extend(page)
            if not token:
                break
        self._view.groups_listed(listed, taken_at)

    # -- the plan ---------------------------------------------------------------------------

    def enforce(
        self,
        wanted: Iterable[tuple[str, str]],
        held: Iterable[str],
        on_done: Callable[[], None],
    ) -> int:
        """Start the plan's work unless some is still under way; the number of actions.
        `wanted`: (tenant, VPC) pairs whose group stays although no endpoint holds it
        yet; `held`: groups a recorded create names."""
        if self._work is not None and not self._work.done():
            return 0
        endpoints = self._view.all_endpoints()
        now = self._runtime.clock()
        seen = planner.Enforcement(
            groups=[g for g in self._view.all_groups().values() if g.tenant],
            open_rules=self.open_rules(),
            blocked_until=partial(self._runtime.meter.blocked_until, now=now),
            wanted=frozenset({*planner.wanted_groups(endpoints), *wanted}),
            in_use=frozenset({*planner.groups_in_use(endpoints), *held}),
        )
        actions = planner.plan(seen)
        if actions:
            self._work = asyncio.create_task(self._apply(actions, on_done))
        return len(actions)

    async def drain(self) -> None:
        if self._work is not None:
            await asyncio.gather(self._work, return_exceptions=True)

    async def _apply(self, actions: tuple[GroupAction, ...], on_done: Callable[[], None]) -> None:
        try:
            await asyncio.gather(*(self._act(a) for a in actions))
        finally:
            self.relist = True
            on_done()

    async def _act(self, action: GroupAction) -> None:
        try:
            if isinstance(action, BlockGroup):
                await self._block(action)
            elif isinstance(action, SetRules):
                await self._set_rules(action)
            else:
                await self._delete(action)
        except FencedError:
            # Stopping, or no longer leading: the next leader takes it from AWS's state.
            # (Raised, it would end the task in an exception kopf raises again as it stops.)
            logger.debug("Security group %s of tenant %s: not sent", action.group_id, action.tenant)
        except AwsCallError as exc:
            rule = classify(exc)
            logger.warning(
                "Security group %s of tenant %s: %s (%s); tried again next pass",
                action.group_id,
                action.tenant,
                exc,
                rule.reason,
            )

    async def _block(self, action: BlockGroup) -> None:
        """The tag first: a restart between the two calls still knows to block."""
        api = self._api()
        if action.tag:
            await self._call("CreateTags", partial(api.mark_blocked, action.group_id, action.until))
        await self._call(
            "RevokeSecurityGroupIngress", partial(api.revoke, action.group_id, action.revoke)
        )
        self._changed(action.group_id, rules=frozenset(), blocked_until=action.until)
        logger.info(
            "Blocked tenant %s's security group %s until %s (hourly outbound limit)",
            action.tenant,
            action.group_id,
            action.until,
        )

    async def _set_rules(self, action: SetRules) -> None:
        api = self._api()
        await self._call(
            "AuthorizeSecurityGroupIngress",
            partial(api.authorize, action.group_id, action.authorize),
        )
        await self._call(
            "RevokeSecurityGroupIngress", partial(api.revoke, action.group_id, action.revoke)
        )
        group = self._view.all_groups().get(action.group_id)
        rules = (group.rules if group else frozenset()) - action.revoke | action.authorize
        self._changed(action.group_id, rules=rules)
        logger.info(
            "Opened tenant %s's security group %s (%d rule(s) added, %d taken off)",
            action.tenant,
            action.group_id,
            len(action.authorize),
            len(action.revoke),
        )

    async def _delete(self, action: DeleteGroup) -> None:
        await self._call("DeleteSecurityGroup", partial(self._api().delete, action.group_id))
        self._view.forget_group(action.group_id)
        logger.info(
            "Deleted tenant %s's security group %s (no endpoint of it left there)",
            action.tenant,
            action.group_id,
        )

    def _changed(
        self, group_id: str, *, rules: frozenset[Any], blocked_until: datetime | None = None
    ) -> None:
        group = self._view.all_groups().get(group_id)
        if group is None:
            return
        until = blocked_until if blocked_until is not None else group.blocked_until
        self._view.record_groups(
            [SecurityGroup(group.id, group.vpc_id, rules, group.tenant, group.name, until)]
        )

    async def _call(self, api: str, call: Callable[[], Any]) -> Any:
        """One call within the AWS budget, as the platform's own (before any tenant's:
        enforcing the limit must not wait behind creates)."""

        async def run() -> Any:
            return await asyncio.get_running_loop().run_in_executor(self._threads, call)

        return await self._runtime.budget.call(self._region, api, run)

    def _api(self) -> TransitGroups:
        return self._runtime.transit_groups(self._region)
