"""HTTP addresses the operator listens on (the liveness probe, the metrics), checked
before it starts: an address it can serve and a port that is free, each problem in
one line."""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from causeway.problems import UserError

EXAMPLE = "http://0.0.0.0:8080/healthz"
HOST_PORT_EXAMPLE = "0.0.0.0:9090"
_REASONS = {
    errno.EADDRINUSE: "the port is already in use",
    errno.EACCES: "permission denied",
    errno.EADDRNOTAVAIL: "no such address on this machine",
}


class ListenAddressError(UserError):
    """The address cannot be served; the message is one line for the user."""


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int
    path: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"


def parse_listen_url(option: str, url: str) -> ListenAddress:
    """`http://HOST:PORT/PATH`, with PORT in 1-65535."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.netloc:
        raise ListenAddressError(f"{option} {url!r} is not a URL like {EXAMPLE}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is None:
        raise ListenAddressError(f"{option} {url!r} has no port; use a URL like {EXAMPLE}")
    if not 0 < port < 65536:
        raise ListenAddressError(f"{option} {url!r}: the port must be between 1 and 65535")
    return ListenAddress(parts.hostname or "0.0.0.0", port, parts.path or "/")


def parse_host_port(option: str, text: str, path: str = "/") -> ListenAddress:
    """`HOST:PORT` (IPv6 as `[::]:PORT`), with PORT in 1-65535."""
    host, _, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port_text.isdigit():
        raise ListenAddressError(f"{option} {text!r} is not HOST:PORT, e.g. {HOST_PORT_EXAMPLE}")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ListenAddressError(f"{option} {text!r}: the port must be between 1 and 65535")
    return ListenAddress(host, port, path)


def ensure_free(option: str, address: ListenAddress) -> None:
    """Fail now, in one line, if the port cannot be bound (in use, not permitted)."""
    with socket.socket(socket.AF_INET6 if ":" in address.host else socket.AF_INET) as probe:
        # As the probe server binds it: an old connection in TIME_WAIT does not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address.host, address.port))
        except OSError as exc:
            reason = _REASONS.get(exc.errno or 0, exc.strerror or str(exc))
            raise ListenAddressError(
                f"{option} {address.url}: cannot listen on {address.host}:{address.port} ({reason})"
            ) from None
