"""The AWS API budget: the operator, not AWS, decides who gets the next request.

EC2 throttles each API action per account and region with a token bucket of its own.
Every call the operator makes first takes a token from its own bucket for that (region,
API), so it paces itself instead of calling, failing and backing off in bursts. The
buckets are AWS's documented ones (DEFAULTS) unless the config's awsBudget sets others,
for an account whose limits AWS raised. Calls waiting for a token queue fairly:
round-robin across tenants (namespaces), oldest first within a tenant, with the
platform's own calls (listings, batched accepts) served first; so one tenant's flood
costs another tenant at most a few token intervals. Each API has its own bucket and
queue, so deletes are never starved by creates.

The buckets adapt (additive increase, multiplicative decrease): an answer of
`RequestLimitExceeded` cuts the bucket's rate to 70%, and each success adds back a
tenth of the configured rate, so the operator converges at AWS's real limit even
when the configured one is too high. Waiting is not failing: a waiter is told how
many are ahead of it, and nothing is retried with backoff.

When the operator stops (a signal, or the Lease lost), the budget closes: it hands
out no more tokens, and every call still waiting fails at once with BudgetClosedError
(the fence's kind of refusal: not sent, because this replica stops acting), so a
stop takes as long as the calls already sent, not as long as the queue."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from causeway.errors import AwsCallError
from causeway.fence import FencedError

T = TypeVar("T")
# The codes with which AWS says "too many requests" (EC2, and the query APIs' generic one).
THROTTLED = frozenset({"RequestLimitExceeded", "Throttling", "ThrottlingException", "429"})
logger = logging.getLogger("causeway.budget")

PLATFORM = ""  # the queue key of the operator's own calls, served before any tenant's
MIN_RATE_FRACTION = 0.02  # adaptation never slows a bucket below this part of its rate
DECREASE_FACTOR = 0.7  # a throttle multiplies the rate by this (as botocore's adaptive mode)
INCREASE_FRACTION = 0.1  # each success adds back this part of the configured rate
# AWS's bucket refills from when it served the last call, which is a little after ours
# handed out the token; waiting this much longer than our own bucket says keeps the
# next call from arriving a hair before AWS's token (and being throttled for it).
LAG_SECONDS = 0.05
POSITION_UPDATE_SECONDS = 10.0
_EPSILON = 1e-9  # a waiter hears of its new position at most this often


@dataclass(frozen=True)
class BucketSettings:
    """A token bucket: `burst` tokens at most, refilled at `rate` tokens per second."""

    burst: float
    rate: float


# The default buckets are AWS's documented ones, per account and region. EC2's come from
# the EC2 API reference, "Request throttling", request token bucket sizes and refill rates
# (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html). EC2 gives
# every API action a bucket of its own (a category only says which figures the action's
# own bucket has), so each action here is its own lane too: describes do not share one.
# The VPC endpoint actions have rows of their own ("Uncategorized actions"), far below
# the general mutating figures: Create/Modify/DeleteVpcEndpoint(s) 4 refilled at 0.3/s,
# Accept/RejectVpcEndpointConnections 10 at 1/s, CreateTags/DeleteTags 100 at 10/s.
DESCRIBE = BucketSettings(burst=100, rate=20)  # "Non-mutating actions" (Describe*)
# DescribeSecurityGroups is also listed under "Unfiltered and unpaginated non-mutating
# actions" (50 refilled at 10/s), which applies only to a call that gives neither a
# filter nor pagination. The budgeted one (the region pass's listing, aws/groups.py)
# filters by VPC and paginates, so it draws on the non-mutating bucket, 100 at 20/s;
# the pool check's call by GroupIds, once per start and not budgeted, is the only one
# that takes the smaller bucket.
# "Mutating actions": every mutating action without a row of its own and not
# resource-intensive, such as CreateSecurityGroup and DeleteSecurityGroup (neither has a
# row in the page's tables). Also the bucket of an API missing from DEFAULTS.
MUTATING = BucketSettings(burst=50, rate=5)
# "Resource-intensive actions", which lists AuthorizeSecurityGroupIngress and
# RevokeSecurityGroupIngress: the same 50 at 5/s, throttled apart from other mutating ones.
RESOURCE_INTENSIVE = BucketSettings(burst=50, rate=5)
ENDPOINTS = BucketSettings(burst=4, rate=0.3)  # Create/Modify/DeleteVpcEndpoint(s)' rows
CONNECTIONS = BucketSettings(burst=10, rate=1)  # Accept/RejectVpcEndpointConnections' rows
TAGS = BucketSettings(burst=100, rate=10)  # CreateTags' and DeleteTags' rows
# CloudWatch's GetMetricData quota is 50 transactions per second.
METRICS = BucketSettings(burst=50, rate=50)
DEFAULTS: Mapping[str, BucketSettings] = {
    "DescribeVpcEndpoints": DESCRIBE,
    "DescribeVpcEndpointConnections": DESCRIBE,
    "DescribeVpcEndpointServices": DESCRIBE,
    "DescribeSecurityGroups": DESCRIBE,
    "CreateVpcEndpoint": ENDPOINTS,
    "ModifyVpcEndpoint": ENDPOINTS,
    "DeleteVpcEndpoints": ENDPOINTS,
    "AcceptVpcEndpointConnections": CONNECTIONS,
    "RejectVpcEndpointConnections": CONNECTIONS,
    "CreateTags": TAGS,
    "DeleteTags": TAGS,
    "CreateSecurityGroup": MUTATING,
    "DeleteSecurityGroup": MUTATING,
    "AuthorizeSecurityGroupIngress": RESOURCE_INTENSIVE,
    "RevokeSecurityGroupIngress": RESOURCE_INTENSIVE,
    "GetMetricData": METRICS,
}


class TokenBucket:
    """A client-side token bucket whose rate adapts to AWS's answers."""

    def __init__(self, settings: BucketSettings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.rate = settings.rate
        self._clock = clock
        self._tokens = settings.burst
        self._at = clock()
        self.throttles = 0

    def tokens(self) -> float:
        now = self._clock()
        self._tokens = min(self.settings.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        return self._tokens

    def take(self) -> float:
        """Take a token now (returns 0), or the seconds until one is there."""
        available = self.tokens()
        if available >= 1 - _EPSILON:  # a refill computed in floats may fall just short
            self._tokens = max(0.0, available - 1)
            return 0.0
        return (1 - available) / self.rate + LAG_SECONDS

    def throttled(self) -> None:
        """AWS said RequestLimitExceeded: its bucket is empty, and slower than ours."""
        self.throttles += 1
        floor = self.settings.rate * MIN_RATE_FRACTION
        self.rate = max(floor, self.rate * DECREASE_FACTOR)
        self.tokens()
        self._tokens = 0.0

    def succeeded(self) -> None:
        self.tokens()  # settle the refill at the old rate before changing it
        self.rate = min(self.settings.rate, self.rate + self.settings.rate * INCREASE_FRACTION)


OnWait = Callable[[int], Awaitable[None]]


class BudgetClosedError(FencedError):
    """Not sent: the operator is stopping and the AWS budget hands out no more tokens."""


@dataclass
class _Waiter:
    tenant: str
    order: tuple[Any, ...]
    served: asyncio.Future[None]
    on_wait: OnWait | None
    told: int | None = None  # the position it was last told
    told_at: float = -math.inf


@dataclass
class Lane:
    """One (region, API): its bucket and the calls waiting for a token."""

    region: str
    api: str
    bucket: TokenBucket
    sleep: Callable[[float], Awaitable[None]]
    clock: Callable[[], float]
    _queues: dict[str, deque[_Waiter]] = field(default_factory=dict)
    _rotation: deque[str] = field(default_factory=deque)
    _pump: asyncio.Task[None] | None = None
    _telling: asyncio.Task[None] | None = None
    closed: bool = False

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    @property
    def tenants(self) -> int:
        return len([t for t, queue in self._queues.items() if queue and t != PLATFORM])

    async def acquire(
        self, tenant: str, order: tuple[Any, ...] = (), on_wait: OnWait | None = None
    ) -> None:
        """Wait for a token, served fairly among everyone waiting on this lane
        (BudgetClosedError once the lane is closed, also while waiting)."""
        if self.closed:
            raise self._closed_error()
        if not self.waiting and self.bucket.take() == 0:
            return  # no queue and a token at hand: no waiting at all
        waiter = _Waiter(tenant, order, asyncio.get_running_loop().create_future(), on_wait)
        self._enqueue(waiter)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._serve(), name=f"budget-{self.region}-{self.api}")
        await self._tell(waiter, self.position(waiter))
        await waiter.served
        if self.closed:  # served just before the close, but not yet sent: not sent now
            raise self._closed_error()

    def close(self) -> None:
        """Hand out no more tokens: every waiter fails now, every later call at once."""
        self.closed = True
        waiters = [waiter for queue in self._queues.values() for waiter in queue]
        self._queues.clear()
        self._rotation.clear()
        for waiter in waiters:
            if not waiter.served.done():
                waiter.served.set_exception(self._closed_error())

    def _closed_error(self) -> BudgetClosedError:
        return BudgetClosedError(f"{self.api} in {self.region} not sent: the operator is stopping")

    def _enqueue(self, waiter: _Waiter) -> None:
        queue = self._queues.setdefault(waiter.tenant, deque())
        if waiter.tenant not in self._rotation:
            self._rotation.append(waiter.tenant)
        index = next((i for i, w in enumerate(queue) if w.order > waiter.order), len(queue))
        queue.insert(index, waiter)

    def position(self, waiter: _Waiter) -> int:
        """How many are served before it. The platform's calls go first; then tenants
        take turns (one call each per round, in rotation order), oldest first within a
        tenant: before the d-th call of a tenant come d rounds of every tenant, and in
        round d the tenants whose turn comes earlier."""
        return self._position_at(waiter.tenant, self._queues[waiter.tenant].index(waiter))

    def _position_at(self, tenant: str, depth: int) -> int:
        """The position of the waiter `depth` deep in `tenant`'s queue (see position)."""
        if tenant == PLATFORM:
            return depth
        ahead = len(self._queues.get(PLATFORM, ()))
        tenants = [t for t in self._order() if t != PLATFORM]
        ahead += sum(min(len(self._queues[t]), depth) for t in tenants)
        for other in tenants:
            if other == tenant:
                break
            if len(self._queues[other]) > depth:
                ahead += 1
        return ahead

    def _order(self) -> list[str]:
        """Tenants in the order their turn comes (the platform always first)."""
        tenants = [t for t in self._rotation if t != PLATFORM]
        return [PLATFORM, *tenants] if PLATFORM in self._queues else tenants

    async def _serve(self) -> None:
        while self.waiting:
            delay = self.bucket.take()
            if delay > 0:
                await self.sleep(delay)
                continue
            waiter = self._next()
            if not waiter.served.done():
                waiter.served.set_result(None)
            self._tell_positions_soon()

    def _tell_positions_soon(self) -> None:
        """Tell the waiters their positions beside serving, not before the next token:
        each telling is a status write, and with thousands waiting, writing them in
        line held every token back (a 5,000-connection benchmark created 0.5 endpoints
        a second against a budget of 5). One telling at a time; the next token starts
        another once it is done (each waiter is told at most every 10 s anyway)."""
        if self._telling is None or self._telling.done():
            self._telling = asyncio.create_task(
                self._tell_positions(), name=f"budget-positions-{self.region}-{self.api}"
            )

    def _next(self) -> _Waiter:
        platform = self._queues.get(PLATFORM)
        if platform:
            return platform.popleft()
        while True:
            tenant = self._rotation[0]
            self._rotation.rotate(-1)
            queue = self._queues.get(tenant)
            if queue:
                waiter = queue.popleft()
                if not queue:
                    del self._queues[tenant]
                    self._rotation.remove(tenant)
                return waiter
            self._queues.pop(tenant, None)
            self._rotation.remove(tenant)

    async def _tell_positions(self) -> None:
        """Each waiter's position, walking each queue once (looking each waiter up in
        its queue made every token cost O(N^2) with thousands waiting)."""
        for tenant, queue in list(self._queues.items()):
            for depth, waiter in enumerate(list(queue)):
                if self._may_tell(waiter):
                    await self._tell(waiter, self._position_at(tenant, depth))

    def _may_tell(self, waiter: _Waiter) -> bool:
        recently = self.clock() - waiter.told_at < POSITION_UPDATE_SECONDS
        return waiter.on_wait is not None and not (recently and waiter.told is not None)

    async def _tell(self, waiter: _Waiter, position: int) -> None:
        """Tell a waiter where it stands, when that changed enough and not too often."""
        tell = waiter.on_wait
        if tell is None or not self._may_tell(waiter) or rounded(position) == waiter.told:
            return
        waiter.told, waiter.told_at = rounded(position), self.clock()
        try:
            await tell(waiter.told)
        except Exception:  # telling is best effort; waiting goes on
            logger.debug("Could not report a queue position", exc_info=True)


def rounded(position: int) -> int:
    """Positions as a person reads them, so a long queue does not rewrite every
    waiter's status on every token: exact below 10, then tens, hundreds, thousands.
    (With 10,000 waiting, hundreds rewrote each deep waiter's status every 100 tokens:
    some 500 status writes a second at EC2's 5 creates a second.)"""
    if position < 10:
        return position
    step = 10 if position < 100 else 100 if position < 1000 else 1000
    return position - position % step


class Budget:
    """Every (region, API) lane of the operator, created on first use."""

    def __init__(
        self,
        overrides: Mapping[str, BucketSettings] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = {**DEFAULTS, **(overrides or {})}
        self._clock = clock
        self._sleep = sleep
        self._lanes: dict[tuple[str, str], Lane] = {}
        self.closed = False

    def lane(self, region: str, api: str) -> Lane:
        key = (region, api)
        if key not in self._lanes:
            settings = self._settings.get(api, MUTATING)
            bucket = TokenBucket(settings, self._clock)
            lane = Lane(region, api, bucket, self._sleep, self._clock, closed=self.closed)
            self._lanes[key] = lane
        return self._lanes[key]

    def close(self) -> None:
        """The operator stops acting: no more tokens; every waiting call fails now with
        BudgetClosedError, and so does every later one (calls already holding a token,
        in flight, are not touched)."""
        self.closed = True
        waiting = sum(lane.waiting for lane in self._lanes.values())
        for lane in self._lanes.values():
            lane.close()
        if waiting:
            logger.info("AWS budget closed: %d queued calls not sent (stopping)", waiting)

    def open(self) -> None:
        """Hand out tokens again (an operator acting anew with the same runtime)."""
        self.closed = False
        for lane in self._lanes.values():
            lane.closed = False

    def lanes(self) -> list[Lane]:
        return list(self._lanes.values())

    async def call(
        self,
        region: str,
        api: str,
        attempt: Callable[[], Awaitable[T]],
        *,
        tenant: str = PLATFORM,
        order: tuple[Any, ...] = (),
        on_wait: OnWait | None = None,
    ) -> T:
        """Make one AWS call within the budget: wait for a token, call, and when AWS
        still answers RequestLimitExceeded, slow the lane down and queue again (a
        throttle is not a failure: it is neither retried with backoff nor logged as
        an error). Any other failure is the caller's."""
        lane = self.lane(region, api)
        while True:
            await lane.acquire(tenant, order, on_wait)
            try:
                result = await attempt()
            except AwsCallError as exc:
                if exc.code not in THROTTLED:
                    raise
                lane.bucket.throttled()
                logger.info(
                    "AWS throttled %s in %s; pacing it at %g/s", api, region, lane.bucket.rate
                )
                continue
            lane.bucket.succeeded()
            return result

    def report(self, region: str) -> list[str]:
        """One line per lane of the region with calls waiting: tokens, queue, pace."""
        return [
            f"AWS budget {lane.region} {lane.api}: {lane.bucket.tokens():.1f} tokens, "
            f"{lane.waiting} waiting ({lane.tenants} tenants), pacing {lane.bucket.rate:.3g}/s "
            f"of {lane.bucket.settings.rate:g}/s, {lane.bucket.throttles} throttled so far"
            for lane in self._lanes.values()
            if lane.waiting and lane.region == region
        ]
