"""Reading Kubernetes object bodies as the API server returns them, defensively: any
part may be missing or of an unexpected shape (an object Causeway has not reached yet
has no status; a hand-edited one may hold anything). Shared by the status reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from causeway.report.table import EMPTY

Body = Mapping[str, Any]


def mapping_of(value: object) -> Body:
    return value if isinstance(value, Mapping) else {}


def meta_of(body: Body) -> Body:
    return mapping_of(body.get("metadata"))


def spec_of(body: Body) -> Body:
    return mapping_of(body.get("spec"))


def status_of(body: Body) -> Body:
    return mapping_of(body.get("status"))


def conditions_of(status: Body) -> dict[str, Body]:
    found = status.get("conditions")
    items = found if isinstance(found, list) else []
    return {str(c.get("type")): c for c in items if isinstance(c, Mapping)}


def is_true(condition: Body | None) -> bool | None:
    """True/False as the condition says; None when absent or Unknown."""
    if condition is None:
        return None
    return {"True": True, "False": False}.get(str(condition.get("status")))


def as_text(value: object, default: str = EMPTY) -> str:
    return default if value is None or value == "" else str(value)


def sort_bodies(bodies: Sequence[Body]) -> list[Body]:
    return sorted(
        bodies,
        key=lambda b: (
            as_text(meta_of(b).get("namespace"), ""),
            as_text(meta_of(b).get("name"), ""),
        ),
    )
