"""The API reference page: every field of every kind, with its type, default,
validation and description, read from the CRDs that crdgen makes from the pydantic
models (so the page says exactly what the API server enforces)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from causeway.api import ALL_KINDS, API_VERSION, KindInfo
from causeway.crdgen import crd_for
from causeway.docgen.markdown import code, header, table

_LIMITS = (
    ("minimum", "≥ {}"),
    ("maximum", "≤ {}"),
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
)


def page() -> str:
    parts = [
        header("the API models in operator/causeway/api (through `causeway crds`)"),
        "# API reference\n\n",
        f"Every kind is namespaced and served as `{API_VERSION}`. Fields are listed as the "
        "API server validates them; *required* fields must be set, and a field marked "
        "*immutable* cannot change once set. Status fields are written by the operator "
        "only.\n\n",
    ]
    parts += [_kind(kind) for kind in ALL_KINDS]
    return "".join(parts)


def _kind(kind: KindInfo) -> str:
    crd = crd_for(kind)
    version = crd["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    names = crd["spec"]["names"]
    short = ", ".join(code(name) for name in names.get("shortNames", []))
    text = f"## {kind.kind}\n\n{schema.get('description', '')}\n\n"
    text += f"Plural `{names['plural']}`; short names {short or 'none'}.\n"
    for part in ("spec", "status"):
        node = schema.get("properties", {}).get(part)
        if node is None:
            continue
        required = part in schema.get("required", [])
        rows = list(_rows(part, node, required))
        text += f"\n### {kind.kind} {part}\n" + table(
            ("Field", "Type", "Default", "Validation", "Description"), rows
        )
    return text


def _rows(path: str, node: Mapping[str, Any], required: bool) -> Iterator[list[str]]:
    yield [code(path), _type(node), _default(node), _validation(node, required), _about(node)]
    children = node.get("properties") or {}
    for name, child in children.items():
        yield from _rows(f"{path}.{name}", child, name in node.get("required", []))
    items = node.get("items")
    if isinstance(items, Mapping) and items.get("properties"):
        yield from _rows(f"{path}[]", items, False)
    values = node.get("additionalProperties")
    if isinstance(values, Mapping) and values.get("properties"):
        yield from _rows(f"{path}.<key>", values, False)


def _type(node: Mapping[str, Any]) -> str:
    kind = str(node.get("type", "any"))
    if node.get("format"):
        kind += f" ({node['format']})"
    if kind == "array" and isinstance(node.get("items"), Mapping):
        kind = f"array of {_type(node['items'])}"
    values = node.get("additionalProperties")
    if kind == "object" and isinstance(values, Mapping) and not node.get("properties"):
        kind = f"map of {_type(values)}"
    return kind


def _default(node: Mapping[str, Any]) -> str:
    return code(_yaml_value(node["default"])) if "default" in node else ""


def _yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "{}" if value == {} else "[]" if value == [] else str(value)


def _validation(node: Mapping[str, Any], required: bool) -> str:
    notes = ["required"] if required else []
    if node.get("enum"):
        notes.append("one of " + ", ".join(code(value) for value in node["enum"]))
    if node.get("pattern"):
        notes.append("matches " + code(node["pattern"]))
    notes += [template.format(node[key]) for key, template in _LIMITS if key in node]
    for rule in node.get("x-kubernetes-validations", []):
        notes.append("immutable" if rule.get("rule") == "self == oldSelf" else _rule_text(rule))
    return "; ".join(notes)


def _rule_text(rule: Mapping[str, Any]) -> str:
    return str(rule.get("message") or code(rule.get("rule", "")))


def _about(node: Mapping[str, Any]) -> str:
    return str(node.get("description", ""))
