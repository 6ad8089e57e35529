"""Test helper: validates an object against a generated CRD the way an API server
would for what matters here — the OpenAPI schema (via jsonschema) and the CEL
x-kubernetes-validations rules (via cel-python), including transition rules that
compare `self` with `oldSelf` on update."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import celpy
import jsonschema


def schema_of(crd: Mapping[str, Any]) -> dict[str, Any]:
    return dict(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def validate(
    crd: Mapping[str, Any], obj: Mapping[str, Any], old: Mapping[str, Any] | None = None
) -> list[str]:
    """Every error the API server would report for creating `obj` (or updating `old` to it)."""
    schema = schema_of(crd)
    errors = [
        f"{'.'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(obj)
    ]
    if errors:
        return errors  # like the API server: CEL rules only run on schema-valid objects
    return list(_cel_errors(schema, obj, old, "."))


def _cel_errors(schema: Mapping[str, Any], value: Any, old: Any, path: str) -> Iterator[str]:
    for rule in schema.get("x-kubernetes-validations", []):
        uses_old = "oldSelf" in rule["rule"]
        if uses_old and old is None:
            continue  # transition rules only run on update, when there is an old value
        activation = {"self": celpy.json_to_cel(value)}
        if uses_old:
            activation["oldSelf"] = celpy.json_to_cel(old)
        env = celpy.Environment()
        result = env.program(env.compile(rule["rule"])).evaluate(activation)
        if result is not True and not (
            isinstance(result, celpy.celtypes.BoolType) and bool(result)
        ):
            yield f"{path}: {rule.get('message', rule['rule'])}"
    for name, sub in (schema.get("properties") or {}).items():
        if isinstance(value, Mapping) and name in value:
            old_sub = old.get(name) if isinstance(old, Mapping) else None
            yield from _cel_errors(sub, value[name], old_sub, f"{path}{name}.")
