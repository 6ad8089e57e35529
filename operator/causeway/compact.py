"""Compact copies of what the operator keeps for every object and every endpoint.

Each object decoded from JSON, and each record parsed from an AWS answer, carries its
own copy of every key and of every repeated value ("metadata", "lastTransitionTime",
"available", a service name, a VPC id). With thousands of objects held for the
operator's whole life, those copies are tens of MiB: what is kept shares one of each.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# Strings up to this length are shared (sys.intern): phases, reasons, condition types,
# timestamps of the same second, ids. Longer ones (messages, DNS names) are mostly one
# object's own and gain nothing from it.
SHARED_STRING_MAX = 24


def shared(text: str) -> str:
    """One copy of `text` for the whole process (dropped when nothing holds it)."""
    return sys.intern(text) if type(text) is str else text


def compact_mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of a JSON-like mapping with its keys and short strings shared."""
    return {shared(str(k)): compact(v) for k, v in value.items()}


def compact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return compact_mapping(value)
    if isinstance(value, list):
        return [compact(v) for v in value]
    if isinstance(value, str) and len(value) <= SHARED_STRING_MAX:
        return shared(value)
    return value


def utc(moment: datetime) -> datetime:
    """The same instant in the one shared UTC zone (botocore gives each parsed time its
    own tzinfo object)."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
