"""A small evaluator of identity-based IAM policies, for the policy tests: does an
Allow statement match an action on one resource, given the request's condition keys?
It follows the IAM User Guide's evaluation rules for what Causeway's policy uses:
action and resource wildcards, and the String*, Arn*, Null operators with the
ForAllValues/ForAnyValue qualifiers and IfExists. A key absent from the request makes
a positive operator false and a negated one true; ForAllValues over an absent key is
true (the case the Null guard exists for). No Deny statements, no NotAction: the
policy has neither, and a test fails if it ever does."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Value = str | Sequence[str]


@dataclass(frozen=True)
class Access:
    """One action on one resource, with the condition keys the request carries for it."""

    action: str
    resource: str
    context: Mapping[str, Value] = field(default_factory=dict)


def allowed(document: Mapping[str, Any], access: Access) -> bool:
    """Whether some statement of `document` allows `access`."""
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow" and "NotAction" not in statement
        if not any(_glob(access.action, a) for a in _listed(statement["Action"])):
            continue
        if not any(_glob(access.resource, r) for r in _listed(statement["Resource"])):
            continue
        if all(_holds(op, conds, access.context) for op, conds in _conditions(statement)):
            return True
    return False


def authorized(document: Mapping[str, Any], accesses: Sequence[Access]) -> bool:
    """A request authorizes each resource it names on its own: all must be allowed."""
    return all(allowed(document, access) for access in accesses)


def _conditions(statement: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return list((statement.get("Condition") or {}).items())


def _listed(value: Value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _glob(value: str, pattern: str) -> bool:
    """IAM wildcards: * any run of characters, ? one character (case-sensitive)."""
    escaped = pattern.replace("[", "[[]")
    return fnmatch.fnmatchcase(value, escaped)


def _lookup(context: Mapping[str, Value], key: str) -> list[str] | None:
    for name, value in context.items():
        if name.lower() == key.lower():  # condition key names are case-insensitive
            return _listed(value)
    return None


_NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def _matches(base: str, actual: str, expected: list[str]) -> bool:
    positive = base.replace("Not", "")
    if positive in ("StringEquals", "ArnEquals"):
        hit = actual in expected
    elif positive in ("StringLike", "ArnLike"):
        hit = any(_glob(actual, pattern) for pattern in expected)
    else:
        raise AssertionError(f"operator {base} is not modelled")
    return not hit if base in _NEGATED else hit


def _holds(operator: str, conditions: Mapping[str, Any], context: Mapping[str, Value]) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    for key, expected_value in conditions.items():
        expected = _listed(expected_value)
        actual = _lookup(context, key)
        if base == "Null":
            absent = actual is None or actual == []
            if absent != (expected == ["true"]):
                return False
            continue
        if not _key_holds(qualifier, base, actual, expected, if_exists):
            return False
    return True


def _key_holds(
    qualifier: str, base: str, actual: list[str] | None, expected: list[str], if_exists: bool
) -> bool:
    if qualifier == "ForAllValues":
        return all(_matches(base, value, expected) for value in actual or [])
    if qualifier == "ForAnyValue":
        return any(_matches(base, value, expected) for value in actual or [])
    assert not qualifier, qualifier
    if actual is None:
        return if_exists or base in _NEGATED
    return any(_matches(base, value, expected) for value in actual)
