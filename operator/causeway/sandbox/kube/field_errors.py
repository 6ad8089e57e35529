"""The API server's wording for a custom resource's schema errors, for the sandbox: a
jsonschema error becomes the field path and message a real server would write in its
422 Invalid (`spec.region: Invalid value: "X": spec.region in body should match '…'`,
`spec.url: Required value`, `Too long: may not be more than 256 bytes`, …), so what a
user of the sandbox reads is what a cluster would tell them. tests/k8s/
test_crd_constraints.py holds each form against a real API server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jsonschema

# JSON types as the API server names a value's type in "must be of type" errors.
_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),  # before int: a bool is an int in Python
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (Mapping, "object"),
)


def field_path(parts: Iterable[str | int]) -> str:
    """A field path as the API server writes it: spec.items[0].name."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "<root>"


def error_path(error: jsonschema.ValidationError) -> str:
    """The field an error is about; for a missing required property, that property (the
    API server's "spec.region: Required value"), not the object lacking it."""
    parts = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.validator_value, list):
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        missing = [n for n in error.validator_value if n not in instance]
        parts += [n for n in missing if error.message.startswith(repr(n))][:1]
    return field_path(parts)


def error_message(error: jsonschema.ValidationError) -> str:
    """The message the API server gives for this error (without the field path)."""
    field, value, rule = _body_name(error.absolute_path), error.instance, error.validator_value
    wording: dict[str, Callable[[], str]] = {
        "required": lambda: "Required value",
        "type": lambda: _type_message(field, value, error.schema),
        "format": lambda: (
            f"Invalid value: {_go(value)}: {field} in body must be of type {rule}: {_go(value)}"
        ),
        "pattern": lambda: f"Invalid value: {_go(value)}: {field} in body should match '{rule}'",
        "enum": lambda: (
            f"Unsupported value: {_go(value)}: supported values: " + ", ".join(_go(v) for v in rule)
        ),
        "minimum": lambda: (
            f"Invalid value: {_go(value)}: {field} in body should be greater "
            f"than or equal to {rule}"
        ),
        "maximum": lambda: (
            f"Invalid value: {_go(value)}: {field} in body should be less than or equal to {rule}"
        ),
        "maxLength": lambda: f"Too long: may not be more than {rule} bytes",
        "minLength": lambda: (
            f"Invalid value: {_go(value)}: {field} in body should be at least {rule} chars long"
        ),
        "maxItems": lambda: f"Too many: {_length(value)}: must have at most {rule} items",
        "minItems": lambda: (
            f"Invalid value: {_length(value)}: {field} in body should have at least {rule} items"
        ),
    }
    render = wording.get(str(error.validator))
    return render() if render else invalid(value, error.message)


def invalid(value: Any, detail: str) -> str:
    """The API server's "Invalid value" message: it shows a scalar value, never an
    object or a list."""
    if isinstance(value, Mapping | list):
        return f"Invalid value: {detail}"
    return f"Invalid value: {_go(value)}: {detail}"


def shadowed(errors: list[jsonschema.ValidationError]) -> list[jsonschema.ValidationError]:
    """`errors` less those the API server does not report: it checks a string's length
    before its pattern and stops at the first that fails."""
    too_long_or_short = {
        tuple(e.absolute_path) for e in errors if e.validator in ("maxLength", "minLength")
    }
    return [
        e
        for e in errors
        if not (e.validator == "pattern" and tuple(e.absolute_path) in too_long_or_short)
    ]


def _body_name(parts: Iterable[str | int]) -> str:
    """How a message names the field "in body": the full path under spec, but relative
    to .status for a status field, which the API server checks on its own (a status
    write through the status subresource)."""
    path = list(parts)
    if path[:1] == ["status"]:
        return "" if len(path) == 1 else field_path(path[1:])
    return field_path(path)


def _type_message(field: str, value: Any, schema: Any) -> str:
    details = schema if isinstance(schema, Mapping) else {}
    wanted = details.get("format") or details.get("type")
    found = next((name for kind, name in _TYPE_NAMES if isinstance(value, kind)), "null")
    if details.get("format") and found in ("integer", "number"):
        found = "int64" if found == "integer" else "float64"  # named as formats, too
    return f'Invalid value: "{found}": {field} in body must be of type {wanted}: "{found}"'


def _go(value: Any) -> str:
    """A value the way the API server quotes it (Go's %q for strings, plain otherwise)."""
    return json.dumps(value, default=str)


def _length(value: Any) -> int:
    return len(value) if isinstance(value, list | str) else 0
