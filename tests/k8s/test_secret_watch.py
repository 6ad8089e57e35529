"""The Secret metadata watch: what it asks the API server for (metadata only, in the
form a list and a watch each need, never a plain-JSON fallback) and how it reports a
watch that keeps failing (one WARNING per change of cause, not one per retry)."""

from __future__ import annotations

import logging

import pytest

from causeway.kube import secrets
from causeway.kube.secrets import METADATA_LIST, METADATA_WATCH, SecretApiError


def test_list_and_watch_ask_for_metadata_only_with_no_fallback() -> None:
    assert METADATA_LIST.split(",") == [
        "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    ]
    assert METADATA_WATCH.split(",") == [
        "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
    ]


def test_a_refusal_is_one_warning_until_its_cause_changes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="causeway.secrets")
    refused = SecretApiError("listing Secrets: HTTP 406 Not Acceptable")
    reported = None
    for attempt in range(4):
        reported = secrets._report_failure(refused, attempt, 1.0, reported)
    forbidden = SecretApiError("listing Secrets: HTTP 403 Forbidden")
    reported = secrets._report_failure(forbidden, 4, 1.0, reported)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "406 Not Acceptable" in warnings[0] and "403 Forbidden" in warnings[1]


def test_a_dropped_connection_is_quiet_once_and_a_warning_when_it_lasts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="causeway.secrets")
    reported = secrets._report_failure(ConnectionResetError(), 0, 1.0, None)
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    secrets._report_failure(ConnectionResetError(), 1, 2.0, reported)
    assert [r.levelno for r in caplog.records] == [logging.DEBUG, logging.WARNING]
