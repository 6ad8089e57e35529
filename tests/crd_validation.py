"""Test helper: validates an object against a generated CRD with the sandbox API
server's own checks (causeway.sandbox.kube.validation: the OpenAPI schema via jsonschema,
then the CEL rules via cel-python, transition rules on update). The real API server
(tests/realkube) is the judge; these stay for fast unit tests where they agree with it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from causeway.sandbox.kube.validation import SchemaCheck


def schema_of(crd: Mapping[str, Any]) -> dict[str, Any]:
    return dict(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def validate(
    crd: Mapping[str, Any], obj: Mapping[str, Any], old: Mapping[str, Any] | None = None
) -> list[str]:
    """Every error the API server would report for creating `obj` (or updating `old` to it)."""
    check = SchemaCheck(schema_of(crd))
    return [f"{path}: {message}" for path, message in check.errors(check.defaulted(obj), old)]
