"""Seeded random faults for the sandbox's two APIs, for the fault campaign.

A `FaultPlan` decides, for every request the *operator* sends (told apart from the
test harness by its User-Agent, as `sandbox.usage` does), whether it fails and how:

AWS (every EC2 and CloudWatch action): throttling as the action's service answers it,
a 5xx with an API error body (before the effect, or after it: applied, answer lost),
a 5xx page that is no API answer at all, a connection closed without an answer
(before or after the effect), a read timeout (the effect happens, the answer never
comes, the connection is dropped once the client has given up), and EC2's eventual
consistency (a new endpoint missing from describes for a few seconds).

Kubernetes: 409 Conflict and 500 on writes (500 also after the effect: applied,
answer lost), 500 on reads, 410 Gone at the start of a watch (as after the server's
compaction), watch streams that end early, and events delivered twice or late.

Decisions are a pure function of (seed, channel, n-th request on that channel), so a
seed replays the same decisions for the same sequence of requests; what the operator
sends depends on timing, so two runs of one seed match in workload and kill schedule
exactly and in faults statistically. The plan is process-wide, as moto's backends and
the sandbox controls are; only the hooks in the AWS responses and the Kubernetes
emulator read it. Nothing of the operator is patched.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from causeway.sandbox.aws.control import _Failure, _Outage
from causeway.sandbox.usage import OPERATOR_AGENTS

_T = TypeVar("_T")

# The AWS SDK adds this to the User-Agent of the operator's clients (aws/session.py).
_OPERATOR_AWS_AGENT: Final = "causeway/"

# The operator's botocore read timeout (aws/session.py): a "read timeout" fault holds the
# answer a little longer than that, so the client gives up as it would against AWS.
DEFAULT_HANG_SECONDS: Final = 31.0

AWS_FAULTS: Final = (
    "aws.throttle",
    "aws.5xx",
    "aws.5xx-applied",
    "aws.5xx-bare",
    "aws.reset",
    "aws.reset-applied",
    "aws.timeout-applied",
)
KUBE_WRITE_FAULTS: Final = ("kube.409", "kube.500", "kube.500-applied")
KUBE_READ_FAULTS: Final = ("kube.500",)
KUBE_WATCH_FAULTS: Final = ("kube.410", "kube.watch-drop", "kube.duplicate", "kube.delay")

_DEFAULT_AWS_WEIGHTS: Final = {
    "aws.throttle": 4.0,
    "aws.5xx": 2.0,
    "aws.5xx-applied": 2.0,
    "aws.5xx-bare": 1.0,
    "aws.reset": 1.0,
    "aws.reset-applied": 2.0,
    "aws.timeout-applied": 0.1,
}


@dataclass(frozen=True)
class Drop:
    """Close the connection without an answer; `after_effect`: the action runs first.
    `hang_seconds`: hold the connection that long first (a read timeout)."""

    after_effect: bool
    hang_seconds: float = 0.0


@dataclass(frozen=True)
class KubeFault:
    """An API-server error answer; `after_effect`: the write is applied first."""

    status: int
    reason: str
    message: str
    after_effect: bool = False


@dataclass
class FaultPlan:
    """What fails, how often, and a tally of what was injected.

    Rates are probabilities per request (per event, for watch events). `active` is
    the switch for quiet periods: off, nothing is injected and nothing is drawn."""

    seed: int
    aws_rate: float = 0.05
    kube_write_rate: float = 0.05
    kube_read_rate: float = 0.01
    watch_rate: float = 0.05
    event_rate: float = 0.02
    aws_weights: Mapping[str, float] = field(default_factory=lambda: dict(_DEFAULT_AWS_WEIGHTS))
    aws_action_rates: Mapping[str, float] = field(default_factory=dict)  # aws_rate overrides
    hang_seconds: float = DEFAULT_HANG_SECONDS
    delay_seconds: float = 0.5
    # EC2's eventual consistency: a new endpoint may be missing from describes this long.
    lag_rate: float = 0.0
    lag_seconds: float = 3.0
    active: bool = True
    injected: Counter[str] = field(default_factory=Counter)
    _ordinals: Counter[str] = field(default_factory=Counter)
    _lagged: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def only(cls, **settings: Any) -> FaultPlan:
        """A plan that injects nothing but what `settings` turn on (every rate 0 else):
        a test's one deliberate fault, such as one action's answers lost."""
        quiet: dict[str, Any] = {
            "seed": 1,
            "aws_rate": 0.0,
            "kube_write_rate": 0.0,
            "kube_read_rate": 0.0,
            "watch_rate": 0.0,
            "event_rate": 0.0,
        }
        return cls(**(quiet | settings))

    def _draw(self, channel: str) -> random.Random | None:
        """The random source for the next request on `channel`, or None when inactive."""
        with self._lock:
            if not self.active:
                return None
            self._ordinals[channel] += 1
            return random.Random(f"{self.seed}:{channel}:{self._ordinals[channel]}")

    def _count(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1

    def total(self) -> int:
        with self._lock:
            return sum(self.injected.values())

    def tally(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self.injected.items()))

    def aws(self, action: str, *, throttle: _Failure) -> _Failure | _Outage | Drop | None:
        rng = self._draw(f"aws:{action}")
        if rng is None or rng.random() >= self.aws_action_rates.get(action, self.aws_rate):
            return None
        kinds = [k for k in AWS_FAULTS if self.aws_weights.get(k, 0) > 0]
        kind = rng.choices(kinds, [self.aws_weights[k] for k in kinds])[0]
        self._count(kind)
        return _aws_answer(kind, throttle, self.hang_seconds)

    def hides(self, resource_id: str, age_seconds: float) -> bool:
        """Whether a describe leaves out this resource, created `age_seconds` ago: EC2 is
        eventually consistent, so a new resource may be missing from describes for a
        while ("Eventual consistency in the Amazon EC2 API"). Decided once per resource."""
        if not self.active or age_seconds >= self.lag_seconds:
            return False
        if random.Random(f"{self.seed}:lag:{resource_id}").random() >= self.lag_rate:
            return False
        with self._lock:
            if resource_id not in self._lagged:
                self._lagged.add(resource_id)
                self.injected["aws.describe-lag"] += 1
        return True

    def kube(self, method: str, *, watch: bool) -> KubeFault | None:
        """A fault for a whole request (not a watch: see `watch_events`)."""
        if watch:
            return None
        write = method in {"POST", "PUT", "PATCH", "DELETE"}
        rng = self._draw("kube:write" if write else "kube:read")
        rate = self.kube_write_rate if write else self.kube_read_rate
        if rng is None or rng.random() >= rate:
            return None
        kind = rng.choice(KUBE_WRITE_FAULTS if write else KUBE_READ_FAULTS)
        self._count(kind)
        return _KUBE_ANSWERS[kind]

    async def watch_events(
        self, events: AsyncIterator[_T], *, gone: Callable[[], _T] | None
    ) -> AsyncIterator[_T]:
        """The watch's events with faults: the stream may open with 410 Gone (`gone()`
        makes that ERROR event; None for a watch that names no resourceVersion, which
        cannot be too old), end early, repeat an event or deliver it late."""
        rng = self._draw("kube:watch") if gone is not None else None
        if gone is not None and rng is not None and rng.random() < self.watch_rate:
            self._count("kube.410")
            yield gone()
            return
        async for event in events:
            fault = self._event_fault()
            if fault == "kube.watch-drop":
                return
            if fault == "kube.delay":
                await asyncio.sleep(self.delay_seconds)
            yield event
            if fault == "kube.duplicate":
                yield event

    def _event_fault(self) -> str | None:
        rng = self._draw("kube:event")
        if rng is None or rng.random() >= self.event_rate:
            return None
        kind = rng.choice(("kube.watch-drop", "kube.duplicate", "kube.delay"))
        self._count(kind)
        return kind


def _aws_answer(kind: str, throttle: _Failure, hang: float) -> _Failure | _Outage | Drop:
    """The answer for one AWS fault kind (EC2's codes; CloudWatch's wrapper renders a
    _Failure in its own protocol, where the common codes are the same names)."""
    answers: dict[str, _Failure | _Outage | Drop] = {
        "aws.throttle": throttle,
        "aws.5xx": _Failure("InternalError", "An internal error has occurred.", False, 500),
        "aws.5xx-applied": _Failure("InternalError", "An internal error has occurred.", True, 500),
        "aws.5xx-bare": _Outage(503, "<html><body><h1>503 Service Unavailable</h1></body></html>"),
        "aws.reset": Drop(after_effect=False),
        "aws.reset-applied": Drop(after_effect=True),
        "aws.timeout-applied": Drop(after_effect=True, hang_seconds=hang),
    }
    return answers[kind]


_KUBE_ANSWERS: Final = {
    "kube.409": KubeFault(
        409,
        "Conflict",
        "Operation cannot be fulfilled: the object has been modified; "
        "please apply your changes to the latest version and try again",
    ),
    "kube.500": KubeFault(
        500, "InternalError", "Internal error occurred: etcdserver: leader changed"
    ),
    "kube.500-applied": KubeFault(
        500,
        "InternalError",
        "Internal error occurred: etcdserver: request timed out",
        after_effect=True,
    ),
}

_lock = threading.Lock()
_plan: FaultPlan | None = None


def install(plan: FaultPlan | None) -> None:
    """Make `plan` the process's fault plan (None: no faults)."""
    global _plan  # noqa: PLW0603 - process-wide, as the sandbox's APIs are
    with _lock:
        _plan = plan


def current() -> FaultPlan | None:
    return _plan


def aws_fault(action: str, agent: str, *, throttle: _Failure) -> _Failure | _Outage | Drop | None:
    """The hook of the AWS responses: a fault for this call of the operator's, if any."""
    plan = _plan
    if plan is None or _OPERATOR_AWS_AGENT not in agent:
        return None
    return plan.aws(action, throttle=throttle)


def visible(endpoints: list[_T], agent: str) -> list[_T]:
    """The hook of DescribeVpcEndpoints: the endpoints an operator's describe shows."""
    plan = _plan
    if plan is None or _OPERATOR_AWS_AGENT not in agent:
        return endpoints
    now = datetime.now(UTC).replace(tzinfo=None)  # moto keeps naive UTC times
    return [
        e
        for e in endpoints
        if not plan.hides(
            str(getattr(e, "id", "")), _age(getattr(e, "creation_timestamp", now), now)
        )
    ]


def _age(created: datetime, now: datetime) -> float:
    return (now - created.replace(tzinfo=None)).total_seconds()


def kube_fault(method: str, agent: str, *, watch: bool) -> KubeFault | None:
    """The hook of the Kubernetes emulator: a fault for this operator request, if any."""
    plan = _plan
    if plan is None or not agent.startswith(OPERATOR_AGENTS):
        return None
    return plan.kube(method, watch=watch)


def watch_events(
    events: AsyncIterator[_T], agent: str, gone: Callable[[], _T] | None
) -> AsyncIterator[_T]:
    """The hook of the emulator's watches: the operator's watch events with faults."""
    plan = _plan
    if plan is None or not agent.startswith(OPERATOR_AGENTS):
        return events
    return plan.watch_events(events, gone=gone)


def drop_connection(response: Any, drop: Drop, run: Callable[[], object]) -> None:
    """Serve a Drop on the socket of moto's `response` (its werkzeug request's): run the
    action if the effect must happen, wait out the client, then close the connection
    with no answer (an RST, as a crashed or reset peer sends). werkzeug's attempt to
    answer afterwards fails quietly: it takes a broken connection for a client gone."""
    if drop.after_effect:
        run()
    if drop.hang_seconds:
        time.sleep(drop.hang_seconds)
    connection = response.normalized_request.environ.get("werkzeug.socket")
    if not isinstance(connection, socket.socket):
        raise RuntimeError("the AWS sandbox's server does not expose its sockets")
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.shutdown(socket.SHUT_RDWR)
