"""The AWS budget with a fake clock: buckets refill and adapt (halved by a throttle,
restored step by step), waiters are served round-robin by tenant and oldest first
within one, the platform's calls first, each told how many are ahead of it; and a
throttled call waits again instead of failing. Its default buckets are AWS's documented
ones, one per action, and the config raises any of them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from causeway.aws.session import ClientFactory
from causeway.config import parse_config
from causeway.controllers.budget import (
    DEFAULTS,
    DESCRIBE,
    LAG_SECONDS,
    MUTATING,
    PLATFORM,
    BucketSettings,
    Budget,
    Lane,
    TokenBucket,
    rounded,
)
from causeway.errors import AwsCallError
from causeway.runtime import Runtime
from fakes import REGION_CONFIG, FakeKube


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def test_a_bucket_bursts_then_refills_at_its_rate() -> None:
    time = FakeTime()
    bucket = TokenBucket(BucketSettings(burst=2, rate=0.5), time)
    assert [bucket.take(), bucket.take()] == [0.0, 0.0]
    assert bucket.take() == pytest.approx(2.0 + LAG_SECONDS)  # one token at 0.5/s, a hair late
    time.now += 2
    assert bucket.take() == 0.0


def test_a_throttle_slows_the_rate_and_successes_restore_it() -> None:
    bucket = TokenBucket(BucketSettings(burst=4, rate=1.0), FakeTime())
    bucket.throttled()
    assert (bucket.rate, bucket.tokens(), bucket.throttles) == (0.7, 0.0, 1)
    for _ in range(3):
        bucket.succeeded()
    assert bucket.rate == pytest.approx(1.0)
    bucket.succeeded()
    assert bucket.rate == 1.0  # never above what is configured
    for _ in range(20):
        bucket.throttled()
    assert bucket.rate == pytest.approx(0.02)  # a floor, so it never stops


@pytest.mark.parametrize(
    ("position", "shown"),
    [
        (0, 0),
        (9, 9),
        (10, 10),
        (47, 40),
        (99, 90),
        (250, 200),
        (999, 900),
        (1000, 1000),
        (9876, 9000),
        (12345, 12000),
    ],
)
def test_positions_are_rounded_as_people_read_them(position: int, shown: int) -> None:
    assert rounded(position) == shown


async def served_in_order(budget: Budget, callers: list[tuple[str, tuple[Any, ...]]]) -> list[str]:
    served: list[str] = []
    lane = budget.lane("us-east-1", "CreateVpcEndpoint")

    async def call(tenant: str, order: tuple[Any, ...], name: str) -> None:
        await lane.acquire(tenant, order)
        served.append(name)

    tasks = [  # they run, and so queue, in this order before any token is handed out
        asyncio.create_task(call(tenant, order, f"{tenant or 'platform'}-{index}"))
        for index, (tenant, order) in enumerate(callers)
    ]
    await asyncio.gather(*tasks)
    return served


async def test_tenants_take_turns_and_the_platform_goes_first() -> None:
    time = FakeTime()
    budget = Budget(
        {"CreateVpcEndpoint": BucketSettings(burst=1, rate=1)}, clock=time, sleep=time.sleep
    )
    callers = [("flood", (i,)) for i in range(4)] + [("small", (0,)), (PLATFORM, ())]
    served = await served_in_order(budget, callers)
    # the first caller took the only token at once; then the platform, then turns
    assert served == ["flood-0", "platform-5", "flood-1", "small-4", "flood-2", "flood-3"]


async def test_within_a_tenant_the_oldest_goes_first() -> None:
    time = FakeTime()
    budget = Budget(
        {"CreateVpcEndpoint": BucketSettings(burst=1, rate=1)}, clock=time, sleep=time.sleep
    )
    callers = [("acme", ("2026-11-22T10:00:00Z", "a"))] + [
        ("acme", (f"2026-11-22T10:0{m}:00Z", "x")) for m in (5, 3, 4)
    ]
    served = await served_in_order(budget, callers)
    assert served == ["acme-0", "acme-2", "acme-3", "acme-1"]


async def test_a_late_small_tenant_waits_a_few_tokens_not_behind_the_flood() -> None:
    time = FakeTime()
    budget = Budget(
        {"CreateVpcEndpoint": BucketSettings(burst=4, rate=0.3)}, clock=time, sleep=time.sleep
    )
    lane = budget.lane("us-east-1", "CreateVpcEndpoint")
    done: dict[str, float] = {}
    waited: dict[str, float] = {}

    async def call(tenant: str, index: int) -> None:
        asked = time.now
        await lane.acquire(tenant, (index,))
        done[f"{tenant}-{index}"] = time.now
        waited[f"{tenant}-{index}"] = time.now - asked

    flood = [asyncio.create_task(call("flood", i)) for i in range(30)]
    await asyncio.sleep(0)
    await time.sleep(5)  # the small tenant applies a few seconds later
    small = asyncio.create_task(call("small", 0))
    await asyncio.gather(small, *flood)
    assert waited["small-0"] <= 2 / 0.3 + 0.01  # within two token intervals
    assert max(waited.values()) > 60  # while the flood waits its turns
    floor = (31 - 4) / 0.3
    assert floor <= max(done.values()) <= floor + 27 * LAG_SECONDS + 0.01  # no waste


async def drained_lane(time: FakeTime) -> Lane:
    """A lane of one token a second whose only token was just taken."""
    budget = Budget(
        {"CreateVpcEndpoint": BucketSettings(burst=1, rate=1)}, clock=time, sleep=time.sleep
    )
    lane = budget.lane("us-east-1", "CreateVpcEndpoint")
    await lane.acquire("acme", (0,))
    return lane


async def test_waiters_are_told_how_many_are_ahead() -> None:
    time = FakeTime()
    lane = await drained_lane(time)
    told: dict[str, list[int]] = {"a": [], "b": [], "c": []}

    def reporter(name: str) -> Any:
        async def report(position: int) -> None:
            told[name].append(position)

        return report

    tasks = [
        asyncio.create_task(lane.acquire("acme", (1,), reporter("a"))),
        asyncio.create_task(lane.acquire("acme", (2,), reporter("b"))),
        asyncio.create_task(lane.acquire("globex", (1,), reporter("c"))),
    ]
    for _ in range(3):
        await asyncio.sleep(0)
    assert (told["a"][0], told["b"][0], told["c"][0]) == (0, 1, 1)
    await asyncio.gather(*tasks)


async def test_telling_positions_never_holds_a_token_back() -> None:
    # Each telling is a status write; the 5,000-connection benchmark's creates slowed to
    # a tenth of the budget while the lane wrote them in line before each token.
    time = FakeTime()
    lane = await drained_lane(time)
    never = asyncio.Event()
    told: list[int] = []

    async def slow_report(position: int) -> None:
        told.append(position)
        if len(told) > 30:  # every telling after the first round hangs
            await never.wait()

    waiters = [asyncio.create_task(lane.acquire("acme", (i,), slow_report)) for i in range(30)]
    await asyncio.wait_for(asyncio.gather(*waiters), timeout=5)
    assert 30 <= time.now <= 30 + 30 * LAG_SECONDS + 0.01  # a token a second, none held back
    assert len(told) > 30  # positions were told again meanwhile


async def test_a_throttled_call_waits_again_and_slows_the_lane() -> None:
    time = FakeTime()
    budget = Budget(
        {"CreateVpcEndpoint": BucketSettings(burst=5, rate=1)}, clock=time, sleep=time.sleep
    )
    answers = ["RequestLimitExceeded", "RequestLimitExceeded", None]

    async def attempt() -> str:
        code = answers.pop(0)
        if code:
            raise AwsCallError("CreateVpcEndpoint", code, "Request limit exceeded.")
        return "created"

    assert await budget.call("us-east-1", "CreateVpcEndpoint", attempt, tenant="acme") == "created"
    bucket = budget.lane("us-east-1", "CreateVpcEndpoint").bucket
    assert bucket.throttles == 2 and bucket.rate == pytest.approx(0.49 + 0.1)


async def test_other_failures_are_the_caller_s() -> None:
    budget = Budget()

    async def attempt() -> None:
        raise AwsCallError("CreateVpcEndpoint", "InvalidServiceName", "no")

    with pytest.raises(AwsCallError):
        await budget.call("us-east-1", "CreateVpcEndpoint", attempt, tenant="acme")


def test_the_report_names_busy_lanes_only() -> None:
    budget = Budget()
    budget.lane("us-east-1", "CreateVpcEndpoint")
    assert budget.report("us-east-1") == []


# AWS's documented buckets (burst, refill per second), as "Request throttling" in the EC2
# API reference lists them (https://docs.aws.amazon.com/ec2/latest/devguide/
# ec2-api-throttling.html): written out here, not read from the module under test.
DOCUMENTED = {
    "CreateVpcEndpoint": (4, 0.3),  # its own row
    "ModifyVpcEndpoint": (4, 0.3),
    "DeleteVpcEndpoints": (4, 0.3),
    "AcceptVpcEndpointConnections": (10, 1),
    "RejectVpcEndpointConnections": (10, 1),
    "CreateTags": (100, 10),
    "DeleteTags": (100, 10),
    "AuthorizeSecurityGroupIngress": (50, 5),  # "Resource-intensive actions"
    "RevokeSecurityGroupIngress": (50, 5),
    "CreateSecurityGroup": (50, 5),  # no row: "Mutating actions"
    "DeleteSecurityGroup": (50, 5),
    "DescribeVpcEndpoints": (100, 20),  # "Non-mutating actions"
    "DescribeVpcEndpointConnections": (100, 20),
    "DescribeVpcEndpointServices": (100, 20),
    "DescribeSecurityGroups": (100, 20),  # filtered and paginated (else 50, 10)
    "GetMetricData": (50, 50),  # CloudWatch: 50 transactions per second
}


def test_every_budgeted_action_is_in_the_documented_table() -> None:
    assert set(DEFAULTS) == set(DOCUMENTED)


@pytest.mark.parametrize(("api", "figures"), sorted(DOCUMENTED.items()))
def test_each_default_bucket_is_aws_s_documented_one(
    api: str, figures: tuple[float, float]
) -> None:
    assert (DEFAULTS[api].burst, DEFAULTS[api].rate) == figures
    lane = Budget().lane("us-east-1", api)
    assert lane.bucket.settings == DEFAULTS[api]


def test_each_action_has_its_own_bucket() -> None:
    """EC2's buckets are per action: emptying one describe's leaves another's full."""
    time = FakeTime()
    budget = Budget(clock=time, sleep=time.sleep)
    endpoints = budget.lane("us-east-1", "DescribeVpcEndpoints").bucket
    while endpoints.take() == 0:
        pass
    services = budget.lane("us-east-1", "DescribeVpcEndpointServices").bucket
    assert services.tokens() == DESCRIBE.burst
    assert budget.lane("eu-west-1", "DescribeVpcEndpoints").bucket.tokens() == DESCRIBE.burst
    assert budget.lane("us-east-1", "SomethingNew").bucket.settings == MUTATING


def test_the_config_raises_one_bucket_for_an_account_whose_limit_aws_raised() -> None:
    config = parse_config(
        {
            "regions": {"us-east-1": REGION_CONFIG},
            "awsBudget": {"CreateVpcEndpoint": {"burst": 12, "rate": 0.9}},
        }
    )
    runtime = Runtime(config=config, clients=ClientFactory(), kube=FakeKube())
    raised = runtime.budget.lane("us-east-1", "CreateVpcEndpoint").bucket.settings
    assert raised == BucketSettings(burst=12, rate=0.9)
    others = runtime.budget.lane("us-east-1", "DeleteVpcEndpoints").bucket.settings
    assert others == DEFAULTS["DeleteVpcEndpoints"]


@pytest.mark.parametrize(
    "api", ["AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress", "CreateSecurityGroup"]
)
def test_the_config_names_the_security_group_actions(api: str) -> None:
    config = parse_config(
        {"regions": {"us-east-1": REGION_CONFIG}, "awsBudget": {api: {"burst": 150, "rate": 15}}}
    )
    assert config.awsBudget[api].rate == 15
