"""Test-wide hygiene: the CLI configures logging (root handlers and levels) as a real
process does; every test gets the logging setup it started with back afterwards."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

_CONFIGURED = ("causeway", "kopf", "aiohttp.access", "urllib3", "botocore", "boto3", "kubernetes")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in _CONFIGURED}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)
