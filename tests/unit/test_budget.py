"""The AWS budget with a fake clock: buckets refill and adapt (halved by a throttle,
restored step by step), waiters are served round-robin by tenant and oldest first
within one, the platform's calls first, each told how many are ahead of it; and a
throttled call waits again instead of failing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from causeway.controllers.budget import (
    LAG_SECONDS,
    PLATFORM,
    BucketSettings,
    Budget,
    Lane,
    TokenBucket,
    rounded,
)
from causeway.errors import AwsCallError


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
