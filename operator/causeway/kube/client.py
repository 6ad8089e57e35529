"""The kubernetes API client the operator's own requests go through (outside kopf):
one place that names the operator in its User-Agent, so audit logs show who asked,
bounds every request in time and keeps its connections alive.

Without a timeout a request on a connection the network silently dropped (a half-open
TCP connection after a node or load-balancer failure) waits forever, holding a worker
thread; a few of those and nothing else gets a thread. So every request gets a
connect and read timeout unless it names its own (a watch does: its read lasts the
server-side timeoutSeconds plus a margin; the Lease calls take a shorter one, well
inside the renew deadline), and TCP keepalive probes the pooled connections, so an
idle or long-reading one to a vanished peer fails within about a minute."""

from __future__ import annotations

import copy
import socket
from typing import Any

import kubernetes
import urllib3

from causeway import __version__

USER_AGENT = f"causeway/{__version__}"

# (connect, read) seconds for a request that names no timeout of its own: reads are
# small objects and status patches, answered in milliseconds by a healthy API server;
# 30 s also covers one slow under load without giving up on it.
REQUEST_TIMEOUT = (5.0, 30.0)
# TCP keepalive: first probe after 30 s idle (client-go's dialer also uses 30 s), then
# every 10 s, the connection dropped after 3 unanswered: a dead peer is noticed within
# a minute (the kernel default is two hours).
KEEPALIVE_IDLE = 30
KEEPALIVE_INTERVAL = 10
KEEPALIVE_COUNT = 3

Timeout = float | tuple[float, float]


def operator_client(
    configuration: kubernetes.client.Configuration, *, request_timeout: Timeout = REQUEST_TIMEOUT
) -> Any:
    """An API client sending Causeway's User-Agent, with TCP keepalive on its pool and
    `request_timeout` on every request that names none."""
    kept_alive = copy.copy(configuration)  # the caller's settings stay as they were
    if kept_alive.socket_options is None:
        kept_alive.socket_options = keepalive_socket_options()
    client = _TimedApiClient(kept_alive, request_timeout)
    client.user_agent = USER_AGENT
    return client


def keepalive_socket_options() -> list[tuple[int, int, int]]:
    """urllib3's own socket options (no Nagle) plus TCP keepalive; the timing options
    only where the platform has them (macOS lacks TCP_KEEPIDLE, for one)."""
    options: list[tuple[int, int, int]] = list(
        urllib3.connection.HTTPConnection.default_socket_options
    )
    options.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        option = getattr(socket, name, None)
        if option is not None:
            options.append((socket.IPPROTO_TCP, option, value))
    return options


class _TimedApiClient(kubernetes.client.ApiClient):
    """Every request goes through `call_api` (the generated APIs' and our raw ones):
    the one place to give a request without a timeout the default."""

    def __init__(
        self, configuration: kubernetes.client.Configuration, request_timeout: Timeout
    ) -> None:
        super().__init__(configuration)
        self.request_timeout = request_timeout

    def call_api(
        self,
        method: str,
        url: str,
        header_params: Any = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: Timeout | None = None,
    ) -> Any:
        timeout = self.request_timeout if _request_timeout is None else _request_timeout
        return super().call_api(
            method, url, header_params, body, post_params, _request_timeout=timeout
        )
