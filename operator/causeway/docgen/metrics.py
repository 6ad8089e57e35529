"""The metrics reference page: every series the operator exports, its type, labels and
help text, read from the metric constructors in causeway/metrics.py (the module is
parsed, not run: most gauges are computed from a live operator's state at scrape
time)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from causeway import metrics
from causeway.docgen.markdown import code, header, table

# Constructor → (type shown, the suffix Prometheus exposition adds to the name).
_KINDS = {
    "Counter": ("counter", "_total"),
    "CounterMetricFamily": ("counter", "_total"),
    "Gauge": ("gauge", ""),
    "GaugeMetricFamily": ("gauge", ""),
    "Histogram": ("histogram", ""),
}


def page() -> str:
    return (
        header("operator/causeway/metrics.py") + "# Metrics reference\n\n"
        "Served by `causeway run --metrics-address HOST:PORT` (port 9090 in the chart). "
        "Histograms add `_bucket`, `_sum` and `_count`; no `_created` series are "
        "exported. The tenant is always the label `tenant`. What the series are for, and "
        "which alerts read them: [metrics and the dashboard](../operations/metrics.md).\n"
        + table(("Series", "Type", "Labels", "Meaning"), list(rows()))
    )


def rows() -> Iterator[list[str]]:
    source = Path(metrics.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    constants = _string_constants(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            kind = _KINDS.get(node.func.id)
            if kind and len(node.args) >= 2:
                name = _text(node.args[0], constants) + kind[1]
                labels = _labels(node, constants)
                help_text = _text(node.args[1], constants)
                yield [code(name), kind[0], ", ".join(code(label) for label in labels), help_text]


def _string_constants(tree: ast.Module) -> dict[str, str]:
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def _text(node: ast.expr, constants: dict[str, str]) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    raise ValueError(f"metrics.py line {node.lineno}: a metric name or label is not a literal")


def _labels(call: ast.Call, constants: dict[str, str]) -> list[str]:
    given = [kw.value for kw in call.keywords if kw.arg in ("labels", "labelnames")]
    given += call.args[2:3]
    for node in given:
        if isinstance(node, ast.Tuple | ast.List):
            return [_text(element, constants) for element in node.elts]
    return []
