"""Log lines: the object's namespace/name on every line about an object (text and
JSON), -v scoped to Causeway, and kopf's API retry storm folded into one short
WARNING per retry round."""

from __future__ import annotations

import io
import json
import logging

import pytest

from causeway.logs import KubernetesRetries, configure, object_logger

KOPF_RETRY = (
    "Request attempt #{n}/9 failed; will retry: GET http://127.0.0.1:6443/apis/causeway.dev/"
    "v1alpha1/outboundconnections?watch=true&resourceVersion=1 -> ClientConnectorError("
    "ConnectionKey(host='127.0.0.1', port=6443), ConnectionRefusedError(111, \"Connect call "
    "failed ('127.0.0.1', 6443)\"))"
)


@pytest.fixture
def captured() -> io.StringIO:
    return io.StringIO()  # conftest restores the logging setup configure() replaces


def test_lines_about_an_object_carry_its_namespace_and_name(captured: io.StringIO) -> None:
    configure(0, stream=captured)
    log = object_logger(
        logging.getLogger("causeway.test"), kind="OutboundConnection", namespace="acme", name="inv"
    )
    log.info("Created endpoint %s", "vpce-1")
    assert (
        captured.getvalue().rstrip().endswith("causeway.test: [acme/inv] Created endpoint vpce-1")
    )


def test_json_lines_name_the_object_in_fields(captured: io.StringIO) -> None:
    configure(0, json_lines=True, stream=captured)
    log = object_logger(logging.getLogger("causeway.test"), kind="K", namespace="acme", name="x")
    log.warning("waiting")
    entry = json.loads(captured.getvalue())
    assert entry["level"] == "WARNING" and entry["message"] == "waiting"
    assert entry["object"] == {"kind": "K", "namespace": "acme", "name": "x"}


def test_verbose_is_scoped_to_causeway(captured: io.StringIO) -> None:
    configure(1, stream=captured)
    logging.getLogger("causeway.x").debug("ours")
    logging.getLogger("botocore.x").debug("signing noise")
    logging.getLogger("kopf.x").debug("kopf noise")
    assert "ours" in captured.getvalue()
    assert "noise" not in captured.getvalue()
    configure(2, stream=captured)
    logging.getLogger("botocore.x").debug("library debug on request")
    assert "library debug on request" in captured.getvalue()


def test_kopf_retry_storm_becomes_one_warning_per_round() -> None:
    now = [0.0]
    retries = KubernetesRetries(clock=lambda: now[0])

    def record(n: int) -> logging.LogRecord:
        return logging.LogRecord(
            "kopf._cogs.clients.watching", logging.ERROR, "", 0, KOPF_RETRY.format(n=n), (), None
        )

    first, duplicate, second = record(1), record(1), record(2)
    assert retries.filter(first) and not retries.filter(duplicate)
    assert retries.filter(second)
    assert (first.levelno, first.getMessage()) == (
        logging.WARNING,
        "the Kubernetes API at http://127.0.0.1:6443 is not answering (connection refused); "
        "kopf retries (attempt 1/9)",
    )
    other = logging.LogRecord("kopf.objects", logging.ERROR, "", 0, "Handler failed", (), None)
    assert retries.filter(other) and other.levelno == logging.ERROR
