"""What a real API server does with a custom resource's body before storing it, for the
sandbox: apply the structural schema's defaults, check the OpenAPI schema (jsonschema)
and then the CEL `x-kubernetes-validations` rules (cel-python), transition rules
(`oldSelf`) on updates only. Errors come back as (field path, message) pairs in the API
server's own wording (field_errors), which the sandbox answers with 422 Invalid as the
API server does.

An approximation: jsonschema and cel-python are not the API server's own validators, so
the tests keep the real server (tests/realkube) as the judge; this keeps the sandbox
from accepting what a cluster refuses."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from typing import Any

import celpy
import jsonschema
from celpy.adapter import json_to_cel

from causeway.sandbox.kube.field_errors import error_message, error_path, invalid, shadowed

Schema = Mapping[str, Any]
FieldError = tuple[str, str]

_SERVER_OWNED = ("apiVersion", "kind", "metadata")
# Schema errors after which the API server does not evaluate CEL rules (their cost is
# bounded by these constraints): a wrong type, a missing field, a value not in an enum,
# a string, list or map too long. A pattern or a bound does not stop them.
_BLOCKING = frozenset({"type", "required", "enum", "maxLength", "maxItems", "maxProperties"})
_RULES_SKIPPED: FieldError = (
    "<nil>",
    "Invalid value: null: some validation rules were not checked because the object was "
    "invalid; correct the existing errors to complete validation",
)


def with_defaults(schema: Schema, value: Any) -> Any:
    """`value` with every absent property that has a schema default filled in."""
    if isinstance(value, Mapping):
        result = dict(value)
        for name, sub in (schema.get("properties") or {}).items():
            if name not in result and "default" in sub:
                result[name] = copy.deepcopy(sub["default"])
            if name in result:
                result[name] = with_defaults(sub, result[name])
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [with_defaults(schema["items"], item) for item in value]
    return value


class SchemaCheck:
    """One kind's schema, ready to check bodies: the validator built once and each CEL
    rule compiled once (a write path the benchmark drives thousands of times)."""

    def __init__(self, schema: Schema) -> None:
        properties = schema.get("properties") or {}
        self.schema: Schema = {
            **schema,
            "properties": {k: v for k, v in properties.items() if k not in _SERVER_OWNED},
        }
        self._validator = jsonschema.Draft7Validator(
            self.schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
        )
        self._programs: dict[str, Any] = {}
        self._has_rules = "x-kubernetes-validations" in json.dumps(self.schema)

    def defaulted(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = with_defaults(self.schema, obj)
        return result

    def errors(self, obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[FieldError]:
        """Every error the API server would report for `obj` (an update of `old`)."""
        body = {k: v for k, v in obj.items() if k not in _SERVER_OWNED}
        schema_errors = shadowed(list(self._validator.iter_errors(body)))
        found = [(error_path(e), error_message(e)) for e in schema_errors]
        found += list(_duplicate_map_keys(self.schema, body, ""))
        if any(e.validator in _BLOCKING for e in schema_errors):
            # Like the API server: then it does not run the CEL rules, and says so.
            return found + ([_RULES_SKIPPED] if self._has_rules else [])
        return found + list(self._cel_errors(self.schema, body, old, ""))

    def _cel_errors(self, schema: Schema, value: Any, old: Any, path: str) -> Iterator[FieldError]:
        for rule in schema.get("x-kubernetes-validations", []):
            uses_old = "oldSelf" in rule["rule"]
            if uses_old and old is None:
                continue  # transition rules run only on update, when there is an old value
            activation = {"self": json_to_cel(value)}
            if uses_old:
                activation["oldSelf"] = json_to_cel(old)
            result = self._program(rule["rule"]).evaluate(activation)
            if not (result is True or (isinstance(result, celpy.celtypes.BoolType) and result)):
                yield (path or "<root>", invalid(value, str(rule.get("message", rule["rule"]))))
        for name, sub in (schema.get("properties") or {}).items():
            if isinstance(value, Mapping) and name in value:
                old_sub = old.get(name) if isinstance(old, Mapping) else None
                yield from self._cel_errors(
                    sub, value[name], old_sub, f"{path}.{name}" if path else name
                )

    def _program(self, rule: str) -> Any:
        if rule not in self._programs:
            environment = celpy.Environment()
            self._programs[rule] = environment.program(environment.compile(rule))
        return self._programs[rule]


def _duplicate_map_keys(schema: Schema, value: Any, path: str) -> Iterator[FieldError]:
    """`x-kubernetes-list-type: map` lists hold one item per key (conditions: one per
    type); the API server names each later duplicate with its key."""
    if isinstance(value, list) and schema.get("x-kubernetes-list-type") == "map":
        keys = list(schema.get("x-kubernetes-list-map-keys") or [])
        seen: set[str] = set()
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                shown = json.dumps(item)
                message = "must be an object for an array of list-type map"
                yield (f"{path}[{index}]", f"Invalid value: {shown}: {message}")
                continue
            key = json.dumps({k: item.get(k) for k in keys}, separators=(",", ":"))
            if key in seen:
                yield (f"{path}[{index}]", f"Duplicate value: {key}")
            seen.add(key)
    if isinstance(value, Mapping):
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                yield from _duplicate_map_keys(sub, value[name], f"{path}.{name}" if path else name)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            yield from _duplicate_map_keys(schema["items"], item, f"{path}[{index}]")


def invalid_message(kind: str, group: str, name: str, errors: list[FieldError]) -> str:
    """The API server's wording for a refused object."""
    details = ", ".join(f"{field}: {message}" for field, message in errors)
    return f'{kind}.{group} "{name}" is invalid: ' + (
        f"[{details}]" if len(errors) > 1 else details
    )
