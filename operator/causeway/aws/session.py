"""boto3 clients from the standard AWS SDK chain (AWS_ENDPOINT_URL, IRSA/Pod
Identity, profiles): nothing custom, one cached client per region and service, and
a report of every call they make (for the metrics, and for the test that keeps the
IAM policy exact)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from causeway import __version__
from causeway.errors import AwsCallError
from causeway.fence import Fence

# One attempt per call: the operator's budget (controllers/budget.py) paces every call
# and queues a throttled one again, and the error table backs off from other failures.
# botocore retrying by itself would spend AWS's tokens behind the budget's back.
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    user_agent_extra=f"causeway/{__version__}",
    connect_timeout=5,
    read_timeout=30,
)

_PROBE_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    user_agent_extra=f"causeway/{__version__}",
    connect_timeout=3,
    read_timeout=5,
)


@dataclass(frozen=True)
class CallRecord:
    """One AWS call as it ended: `error` is None on success, else AWS's error code, or
    the botocore exception's class name when no answer came (`answered` False)."""

    service: str  # as given to client(): ec2, cloudwatch, sts, service-quotas
    operation: str  # e.g. DescribeVpcEndpoints
    region: str
    error: str | None = None
    answered: bool = True


CallListener = Callable[[CallRecord], None]


class ClientFactory:
    """Hands out thread-safe boto3 clients, one per (service, region), and tells its
    listeners about every call they make."""

    def __init__(
        self,
        session_factory: Callable[[], boto3.Session] = boto3.Session,
        *,
        endpoint_url: str | None = None,
    ) -> None:
        self._session = session_factory()
        self._endpoint_url = endpoint_url  # None: the SDK chain decides (AWS_ENDPOINT_URL etc.)
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._listeners: list[CallListener] = []
        self.fence = Fence()  # asked before every call (leader election)

    def listen(self, listener: CallListener) -> None:
        """Call `listener` after every call of every client (also those made before)."""
        self._listeners.append(listener)

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._new_client(service, region, _CLIENT_CONFIG)
            return self._clients[key]

    def probe_client(self, service: str, region: str) -> Any:
        """A client that tries once, with short timeouts: for checks at start-up, where a
        missing endpoint should be reported in seconds, not after several retries."""
        return self._new_client(service, region, _PROBE_CONFIG)

    def _new_client(self, service: str, region: str, config: Config) -> Any:
        client = self._session.client(  # type: ignore[call-overload]
            service, region_name=region, config=config, endpoint_url=self._endpoint_url
        )
        client.meta.events.register("before-call", self._fenced(service))
        # Asked again as each attempt leaves (after credentials, signing and retries'
        # sleeps): a call let through before the deadline is not sent after it.
        client.meta.events.register("before-send", self._fenced_send(service))
        client.meta.events.register("after-call", self._answered(service, region))
        client.meta.events.register("after-call-error", self._unanswered(service, region))
        return client

    def _tell(self, record: CallRecord) -> None:
        for listener in self._listeners:
            listener(record)

    def _fenced(self, service: str) -> Callable[..., None]:
        def before_call(model: Any, **_: Any) -> None:
            self.fence.check(f"{service}:{model.name}")

        return before_call

    def _fenced_send(self, service: str) -> Callable[..., None]:
        def before_send(event_name: str, **_: Any) -> None:
            self.fence.check(f"{service}:{event_name.rsplit('.', 1)[-1]}")

        return before_send

    def _answered(self, service: str, region: str) -> Callable[..., None]:
        def after_call(http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
            error = None
            if http_response.status_code >= 300:
                code = (parsed or {}).get("Error", {}).get("Code")
                error = str(code or http_response.status_code)
            self._tell(CallRecord(service, model.name, region, error))

        return after_call

    def _unanswered(self, service: str, region: str) -> Callable[..., None]:
        def after_call_error(exception: BaseException, event_name: str, **_: Any) -> None:
            operation = event_name.rsplit(".", 1)[-1]
            self._tell(CallRecord(service, operation, region, type(exception).__name__, False))

        return after_call_error


@contextmanager
def aws_call(operation: str) -> Iterator[None]:
    """Run one AWS call, turning whatever it raises into AwsCallError, so the one error
    table classifies every failure: AWS error codes, and transport or parsing failures
    by their botocore class name (EndpointConnectionError, ResponseParserError, …)."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AwsCallError(
            operation, str(error.get("Code", "Unknown")), str(error.get("Message", ""))
        ) from exc
    except (BotoCoreError, ResponseParserError) as exc:
        raise AwsCallError(operation, type(exc).__name__, _first_line(exc)) from exc


def _first_line(exc: BaseException) -> str:
    """botocore's parser errors quote the whole response body; keep one short line."""
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."
