"""The operator's Kubernetes client against an API server that accepts a connection and
never answers (a half-open connection): a request without a timeout of its own gives
up after the client's default instead of holding its thread forever, a request naming
its own keeps it, the pooled sockets have TCP keepalive, and the Lease calls are
bounded well inside the renew deadline."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import kubernetes
import pytest
import urllib3

from causeway.election import ElectionTiming
from causeway.kube.client import USER_AGENT, keepalive_socket_options, operator_client
from causeway.kube.leases import LeaseStoreApi, lease_request_timeout


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts and then never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    done.set()
    thread.join(5)
    for connection in held:
        connection.close()
    listener.close()


def configuration(host: str) -> kubernetes.client.Configuration:
    config = kubernetes.client.Configuration()
    config.host = host
    config.retries = False
    return config


def finishes_within(seconds: float, call: object) -> BaseException | None:
    """Run `call` on a thread; its exception, or fail when it is still running later."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()  # type: ignore[operator]
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds}s: no request timeout"
    return raised[0] if raised else None


def test_a_request_naming_no_timeout_gets_the_default(silent_server: str) -> None:
    client = operator_client(configuration(silent_server), request_timeout=(0.5, 0.3))
    api = kubernetes.client.CustomObjectsApi(client)
    started = time.monotonic()
    failed = finishes_within(
        5, lambda: api.get_namespaced_custom_object("g", "v1", "ns", "things", "x")
    )
    assert isinstance(failed, urllib3.exceptions.HTTPError | OSError)
    assert time.monotonic() - started < 2


def test_a_request_naming_its_own_timeout_keeps_it(silent_server: str) -> None:
    client = operator_client(configuration(silent_server), request_timeout=(10.0, 10.0))
    api = kubernetes.client.CustomObjectsApi(client)
    failed = finishes_within(
        5,
        lambda: api.get_namespaced_custom_object(
            "g", "v1", "ns", "things", "x", _request_timeout=0.3
        ),
    )
    assert isinstance(failed, urllib3.exceptions.HTTPError | OSError)


def test_the_pool_keeps_connections_alive_and_names_the_operator() -> None:
    config = configuration("http://127.0.0.1:1")
    client = operator_client(config)
    options = client.rest_client.pool_manager.connection_pool_kw["socket_options"]
    assert options == keepalive_socket_options()
    assert (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1) in options
    if hasattr(socket, "TCP_KEEPIDLE"):
        assert (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 30) in options
    assert client.user_agent == USER_AGENT
    assert config.socket_options is None  # the caller's configuration is left as it was


def test_lease_calls_leave_room_for_a_second_attempt_within_the_renew_deadline(
    silent_server: str,
) -> None:
    timing = ElectionTiming()
    timeout = lease_request_timeout(timing)
    assert 2 * timeout <= timing.renew_deadline / 2  # one attempt: a GET and a PUT
    store = LeaseStoreApi(configuration(silent_server), "ns", "lease", request_timeout=0.3)
    assert isinstance(finishes_within(5, store.get), urllib3.exceptions.HTTPError | OSError)
