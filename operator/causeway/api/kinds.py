"""Per-kind facts the CRD generator needs beyond the pydantic models: names,
short names, printer columns and whole-spec CEL rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class Column:
    """One `kubectl get` printer column."""

    name: str
    json_path: str
    type: str = "string"
    priority: int = 0


@dataclass(frozen=True)
class KindInfo:
    """Everything that describes one custom resource kind of the API."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    description: str
    spec: type[BaseModel]
    status: type[BaseModel] | None  # None: no status subresource
    columns: tuple[Column, ...] = ()
    spec_rules: tuple[dict[str, Any], ...] = field(default=())
    namespaced: bool = True
    categories: tuple[str, ...] = ("causeway",)  # the tenant-facing kinds

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_file(self) -> str:
        """File name of the kind's CRD under crds/."""
        return f"{self.singular}.yaml"
