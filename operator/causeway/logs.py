"""How Causeway logs: one line per record, the object's namespace/name on every line
about an object (kopf's lines and ours share kopf's `k8s_ref` convention), levels
scoped so that `-v` shows Causeway's own debug lines rather than every library's,
and a JSON format for log pipelines."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

ROOT = "causeway"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# Libraries whose INFO lines are noise for an operator's user (request logs, probes).
_QUIET_LIBRARIES = ("aiohttp.access", "urllib3", "botocore", "boto3", "kubernetes", "asyncio")


def configure(
    verbosity: int = 0, *, json_lines: bool = False, stream: TextIO | None = None
) -> None:
    """Send every log record to `stream` (stderr) as one line. Verbosity 0: Causeway and
    kopf at INFO, libraries at WARNING; 1 (-v): Causeway at DEBUG; 2 (-vv): everything."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter(TEXT_FORMAT))
    handler.addFilter(KubernetesRetries())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
    logging.getLogger(ROOT).setLevel(logging.DEBUG if verbosity >= 1 else logging.INFO)
    logging.getLogger("kopf").setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)


def object_logger(
    logger: logging.Logger, *, kind: str, namespace: str, name: str
) -> logging.LoggerAdapter[logging.Logger]:
    """A logger whose lines carry the object's reference, as kopf's per-object logger's do."""
    ref = {"kind": kind, "namespace": namespace, "name": name}
    return logging.LoggerAdapter(logger, {"k8s_ref": ref})


def object_of(record: logging.LogRecord) -> Mapping[str, Any] | None:
    ref = getattr(record, "k8s_ref", None)
    return ref if isinstance(ref, Mapping) else None


def object_prefix(record: logging.LogRecord) -> str:
    """'[namespace/name] ' for a record about an object, else ''."""
    ref = object_of(record)
    if not ref:
        return ""
    namespace, name = ref.get("namespace"), ref.get("name")
    return f"[{namespace}/{name}] " if namespace else f"[{name}] "


class TextFormatter(logging.Formatter):
    """The classic line, with the object's [namespace/name] before the message."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = object_prefix(record) + record.getMessage()
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, object (kind, namespace,
    name) when the line is about one, and the exception text if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ref = object_of(record)
        if ref:
            entry["object"] = {k: ref.get(k) for k in ("kind", "namespace", "name") if ref.get(k)}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class KubernetesRetries(logging.Filter):
    """kopf keeps retrying the Kubernetes API when it stops answering, and logs every
    attempt of every watch at ERROR with the whole URL and exception repr (hundreds of
    characters, several lines per second). Losing the API for a while is not an error
    of ours and kopf recovers by itself, so this turns those lines into one short
    WARNING per retry round naming the server, and drops the duplicates of that round."""

    _ATTEMPT = re.compile(
        r"^Request attempt #?(?P<n>\d+)(/(?P<of>\d+))? failed; (?P<next>will retry|escalating|"
        r"[^:]+): (?P<method>[A-Z]+) (?P<url>\S+) -> (?P<error>.*)$",
        re.DOTALL,
    )
    _SERVER = re.compile(r"^(https?://[^/]+)")
    _SAME_ROUND_SECONDS = 30.0

    def __init__(self, clock: Any = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._last: tuple[str, float] = ("", -1e9)

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("kopf._cogs.clients"):
            return True
        found = self._ATTEMPT.match(record.getMessage())
        if found is None:
            return True
        round_key = f"{found['n']}/{found['next']}"
        now = self._clock()
        if self._last[0] == round_key and now - self._last[1] < self._SAME_ROUND_SECONDS:
            return False
        self._last = (round_key, now)
        server = self._SERVER.match(found["url"])
        record.msg = (
            f"the Kubernetes API at {server.group(1) if server else found['url']} is not "
            f"answering ({short_reason(found['error'])}); kopf retries "
            f"(attempt {found['n']}{'/' + found['of'] if found['of'] else ''})"
        )
        record.args = ()
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_REASONS = (
    ("ConnectionRefusedError", "connection refused"),
    ("Connect call failed", "connection refused"),
    ("TimeoutError", "timed out"),
    ("ServerDisconnectedError", "the server closed the connection"),
    ("ClientConnectorCertificateError", "TLS certificate rejected"),
    ("Name or service not known", "unknown host"),
)


def short_reason(error: str) -> str:
    """A few words for an exception repr from aiohttp/urllib3."""
    for marker, words in _REASONS:
        if marker in error:
            return words
    return error.split("(", 1)[0] or "error"
