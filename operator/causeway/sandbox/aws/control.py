"""Process-wide test controls of the AWS sandbox: call counts (EC2 and CloudWatch
actions alike), CloudWatch metrics requested, queued injected failures, outages,
throttles, the platform principal and the activation delay. moto's backends are
process-wide, so these are too. Also the per-VPC endpoint quota, and the endpoints of
each VPC it is checked against."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Failure:
    code: str
    message: str
    after_effect: bool
    status: int


@dataclass(frozen=True)
class _Outage:
    """Every call of an action answers this raw HTTP response until healed (an
    overloaded endpoint or a proxy answering with a page, not an API error)."""

    status: int
    body: str


@dataclass
class _Bucket:
    """The throttling of one action, as EC2's API reference describes it: a bucket of
    `burst` tokens refilled at `rate` per second; a call without a token is refused
    (with the throttle answer of the action's service) and costs no token."""

    burst: float
    rate: float
    tokens: float
    at: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class _Control:
    """Process-wide sandbox state: moto's backends are process-wide too."""

    platform_principal: str | None = None
    activation_seconds: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)
    # The same calls by the caller's access key id: which of several operator processes
    # (each given its own key) made them.
    counts_by_key: Counter[tuple[str, str]] = field(default_factory=Counter)
    # CloudWatch bills GetMetricData per metric requested: the queries of each call.
    metrics_requested: int = 0
    failures: dict[str, deque[_Failure]] = field(default_factory=dict)
    outages: dict[str, _Outage] = field(default_factory=dict)
    limits: dict[str, _Bucket] = field(default_factory=dict)
    throttled: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_service_id: str | None = None
    next_endpoint_id: str | None = None
    # The quota "Interface and Gateway Load Balancer endpoints per VPC" (L-29B6F2EB):
    # AWS's default for every VPC, and per-VPC values as if raised or lowered there.
    endpoints_per_vpc: int = 50
    endpoint_quotas: dict[str, int] = field(default_factory=dict)
    # Interface endpoints by VPC as created (deleted ones stay, in state deleted), so the
    # quota is checked without scanning every endpoint of the account.
    endpoints_by_vpc: dict[str, list[Any]] = field(default_factory=dict)
    endpoints_by_token: dict[str, Any] = field(default_factory=dict)  # by ClientToken

    def record(
        self,
        action: str,
        *,
        throttle: _Failure | None = None,
        metrics: int = 0,
        access_key: str = "",
    ) -> _Failure | _Outage | None:
        """Count one received call (and the `metrics` it requests); the outage of its
        action, else a throttle (`throttle`, the answer of the action's service; EC2's by
        default), else the failure queued."""
        with self.lock:
            self.counts[action] += 1
            self.counts_by_key[(access_key, action)] += 1
            self.metrics_requested += metrics
            outage = self.outages.get(action)
            if outage is not None:
                return outage
            bucket = self.limits.get(action)
            if bucket is not None and not bucket.take(time.monotonic()):
                self.throttled[action] += 1
                return throttle or _THROTTLED
            queue = self.failures.get(action)
            return queue.popleft() if queue else None

    def take_service_id(self) -> str | None:
        """The id the next endpoint service must get, if a fixture asked for one."""
        with self.lock:
            chosen, self.next_service_id = self.next_service_id, None
            return chosen

    def take_endpoint_id(self) -> str | None:
        """The id the next VPC endpoint must get, if a fixture asked for one."""
        with self.lock:
            chosen, self.next_endpoint_id = self.next_endpoint_id, None
            return chosen

    def clear(self) -> None:
        with self.lock:
            self.counts.clear()
            self.counts_by_key.clear()
            self.metrics_requested = 0
            self.failures.clear()
            self.outages.clear()
            self.limits.clear()
            self.throttled.clear()
            self.next_service_id = None
            self.next_endpoint_id = None
            self.endpoints_per_vpc = 50
            self.endpoint_quotas.clear()
            self.endpoints_by_vpc.clear()
            self.endpoints_by_token.clear()

    def endpoint_quota(self, vpc_id: str) -> int:
        with self.lock:
            return self.endpoint_quotas.get(vpc_id, self.endpoints_per_vpc)


# EC2 answers a throttled call with HTTP 503 and this code.
_THROTTLED = _Failure("RequestLimitExceeded", "Request limit exceeded.", False, 503)
_CONTROL = _Control()


def access_key_of(headers: Any) -> str:
    """The access key id in a SigV4 Authorization header ("" when unsigned)."""
    authorization = str(headers.get("Authorization") or "")
    _, found, rest = authorization.partition("Credential=")
    return rest.split("/", 1)[0] if found else ""
