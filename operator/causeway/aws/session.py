"""boto3 clients from the standard AWS SDK chain (AWS_ENDPOINT_URL, IRSA/Pod
Identity, profiles): nothing custom, one cached client per region and service."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from causeway import __version__
from causeway.errors import AwsCallError

# botocore's own retries absorb brief throttling; anything it gives up on goes to the
# error table, which backs off at the object level.
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    user_agent_extra=f"causeway/{__version__}",
    connect_timeout=5,
    read_timeout=30,
)


class ClientFactory:
    """Hands out thread-safe boto3 clients, one per (service, region)."""

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

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._session.client(  # type: ignore[call-overload]
                    service,
                    region_name=region,
                    config=_CLIENT_CONFIG,
                    endpoint_url=self._endpoint_url,
                )
            return self._clients[key]


@contextmanager
def aws_call(operation: str) -> Iterator[None]:
    """Run one AWS call, turning botocore failures into AwsCallError."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AwsCallError(
            operation, str(error.get("Code", "Unknown")), str(error.get("Message", ""))
        ) from exc
    except BotoCoreError as exc:
        raise AwsCallError(operation, type(exc).__name__, str(exc)) from exc
