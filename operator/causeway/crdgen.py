"""Generates the CustomResourceDefinitions in `crds/` from the pydantic API models.

pydantic's JSON schema is close to, but not, a Kubernetes structural schema: refs
must be inlined, `Optional` unions collapsed, titles dropped and integer/date
formats spelled the Kubernetes way. This module does that translation and nothing
else, so `crds/` can never drift from the models (a test compares them).

Run from the repository root, `causeway crds` also writes (and `--check` also checks)
the Helm chart's copy, charts/causeway/files/crds.yaml: every file of crds/, byte for
byte, in name order, as one YAML stream. The chart renders it as templates so that
`helm upgrade` upgrades the CRDs too.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from causeway.api import ALL_KINDS, GROUP, VERSION, KindInfo
from causeway.problems import UserError

DEFAULT_DIRECTORY = Path("crds")
# The chart's copy, kept in step with crds/ whenever the default directory is used.
CHART_DIRECTORY = Path("charts/causeway")
CHART_COPY = CHART_DIRECTORY / "files" / "crds.yaml"
DIFF_LINES_SHOWN = 20

_KEPT_KEYS = {
    "type",
    "description",
    "default",
    "enum",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "items",
    "properties",
    "required",
    "additionalProperties",
    "nullable",
}


def structural(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """Translate one pydantic JSON-schema node into a Kubernetes structural schema node."""
    node = _resolve(schema, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-"):
            out[key] = value
        elif key == "properties":
            out[key] = {name: structural(sub, defs) for name, sub in value.items()}
        elif key == "items" or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = structural(value, defs)
        elif key == "additionalProperties":
            continue  # `false` is not structural; the API server prunes unknown fields instead
        elif key == "const":
            out["enum"] = [value]
        elif key in _KEPT_KEYS:
            out[key] = value
    if out.get("format") == "date-time":
        out["type"] = "string"
    out = {k: out[k] for k in sorted(out, key=_key_order)}
    open_object = "properties" not in out and "additionalProperties" not in out
    if out.get("type") == "object" and open_object:
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def _key_order(key: str) -> tuple[int, str]:
    """type and description first, nested schemas last, so the YAML reads top-down."""
    first = {"type": 0, "description": 1}
    last = {"properties": 8, "items": 8, "additionalProperties": 8, "required": 9}
    return (first.get(key, last.get(key, 5)), key if key not in last else "")


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """Inline $ref and collapse `X | None` unions, keeping the outer description/default."""
    node = dict(schema)
    if "$ref" in node:
        target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
        node = {**_resolve(target, defs), **node}
    options = node.pop("anyOf", None)
    if options is not None:
        concrete = [o for o in options if o.get("type") != "null"]
        if len(concrete) != 1:
            raise ValueError(f"cannot express union {options} structurally")
        inner = _resolve(concrete[0], defs)
        node = {**inner, **node}
    if node.get("default", ...) is None:
        del node["default"]
    return node


def _object_schema(model: type[Any], extra_rules: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    json_schema = model.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
    defs = json_schema.get("$defs", {})
    node = structural(json_schema, defs)
    node.pop("description", None)
    if extra_rules:
        node["x-kubernetes-validations"] = list(extra_rules)
    return node


def crd_for(kind: KindInfo) -> dict[str, Any]:
    """The full apiextensions.k8s.io/v1 CRD for one kind."""
    spec_schema = _object_schema(kind.spec, kind.spec_rules)
    spec_schema["description"] = f"Desired state of the {kind.kind}."
    properties: dict[str, Any] = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": spec_schema,
    }
    if kind.status is not None:
        status_schema = _object_schema(kind.status, ())
        status_schema["description"] = f"Observed state of the {kind.kind}, written by Causeway."
        properties["status"] = status_schema
    columns = [
        {"name": c.name, "type": c.type, "jsonPath": c.json_path}
        | ({"priority": c.priority} if c.priority else {})
        for c in kind.columns
    ]
    columns.append({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": list(kind.categories),
            },
            "scope": "Namespaced" if kind.namespaced else "Cluster",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}} if kind.status is not None else {},
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": kind.description,
                            "required": ["spec"],
                            "properties": properties,
                        }
                    },
                }
            ],
        },
    }


def render(kind: KindInfo) -> str:
    """The CRD as the YAML text committed under crds/."""
    header = "# Generated by `causeway crds` from operator/causeway/api; do not edit.\n"
    return header + yaml.safe_dump(crd_for(kind), sort_keys=False, width=100)


def crd_files() -> dict[str, str]:
    """File name → YAML text for every kind."""
    return {kind.crd_file: render(kind) for kind in ALL_KINDS}


class CrdDirectoryError(UserError):
    """The CRD directory to write or check is not there."""


def write_crds(output: str | None) -> str:
    """Write every CRD into `output` (created if named), or into ./crds, which must exist:
    `causeway crds` run from the wrong directory must not scatter a new crds/ there.
    Into ./crds, the chart's copy (when ./charts/causeway exists) is written too."""
    directory = _directory(output, create=output is not None)
    files = crd_files()
    written = [_write_all(directory, files)]
    if output is None and CHART_DIRECTORY.is_dir():
        written.append(_write_chart_copy(chart_copy(files)))
    return f"wrote {len(files)} CRDs to " + " and to ".join(written)


def chart_copy(files: Mapping[str, str]) -> str:
    """The chart's copy of crds/: each file byte for byte, in name order, one YAML stream."""
    return "".join(f"---\n{files[name]}" for name in sorted(files))


def _write_chart_copy(text: str) -> str:
    changed = _read(CHART_COPY) != text
    if changed:
        CHART_COPY.parent.mkdir(parents=True, exist_ok=True)
        CHART_COPY.write_text(text, encoding="utf-8")
    return f"{CHART_COPY} ({'changed' if changed else 'unchanged'})"


def _write_all(directory: Path, files: Mapping[str, str]) -> str:
    changed = [name for name, text in files.items() if _read(directory / name) != text]
    for name in changed:
        (directory / name).write_text(files[name], encoding="utf-8")
    return f"{directory}/ ({len(changed)} changed)"


def check_crds(output: str | None) -> list[str]:
    """Every way `output` (./crds, and then the chart's copy) differs from the models: a
    missing file, a stale one (with the start of a diff), or a stray YAML file that would
    be applied with them. Empty when all is in order."""
    directory = _directory(output, create=False)
    files = crd_files()
    problems = _check_directory(directory, files, f"`kubectl apply -f {directory}/` would apply it")
    if output is None and CHART_DIRECTORY.is_dir():
        problems += [problem for problem in [_compare(CHART_COPY, chart_copy(files))] if problem]
    return problems


def _check_directory(directory: Path, files: Mapping[str, str], applied_by: str) -> list[str]:
    problems = [_compare(directory / name, text) for name, text in files.items()]
    strays = sorted(p.name for p in directory.glob("*.y*ml") if p.name not in files)
    problems += [
        f"{directory / name} is not a Causeway CRD, but {applied_by}; remove it" for name in strays
    ]
    return [problem for problem in problems if problem]


def _directory(output: str | None, *, create: bool) -> Path:
    directory = Path(output) if output else DEFAULT_DIRECTORY
    if directory.is_dir():
        return directory
    if directory.exists():
        raise CrdDirectoryError(f"{directory} is not a directory")
    if create:
        directory.mkdir(parents=True)
        return directory
    if output:
        raise CrdDirectoryError(f"no directory {directory}")
    raise CrdDirectoryError(
        f"no {DEFAULT_DIRECTORY}/ directory here ({Path.cwd()}): run from the repository "
        "root, or pass --output DIR"
    )


def _compare(path: Path, expected: str) -> str:
    actual = _read(path)
    if actual is None:
        return f"{path} is missing; run `causeway crds` to write it"
    if actual == expected:
        return ""
    diff = list(
        difflib.unified_diff(
            actual.splitlines(), expected.splitlines(), "committed", "generated", lineterm="", n=1
        )
    )
    shown = "\n".join(f"    {line}" for line in diff[:DIFF_LINES_SHOWN])
    more = (
        f"\n    … {len(diff) - DIFF_LINES_SHOWN} more diff lines"
        if len(diff) > DIFF_LINES_SHOWN
        else ""
    )
    return f"{path} is out of date; run `causeway crds`:\n{shown}{more}"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
