"""The PromQL the project ships (the Grafana dashboard's queries and the alert rules),
parsed with a PromQL parser, and the series each reads: the deploy tests check that
every query parses, the metrics e2e test that every series is one the operator
exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import promql_parser
import yaml

CHART = Path(__file__).resolve().parents[1] / "charts" / "causeway"
DASHBOARDS = CHART / "dashboards"
ALERT_RULES = CHART / "alerts" / "causeway.rules.yaml"
# A Grafana variable query (templating), not PromQL: label_values(metric, label).
LABEL_VALUES = re.compile(r"^label_values\((\w+),\s*\w+\)$")


def alert_rules() -> list[dict[str, Any]]:
    """Every rule of the shipped rule file, in order."""
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    """Every PromQL query of the shipped dashboards (panels and variables)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if key in ("expr", "definition") and isinstance(item, str) and item:
                    found.append(item)
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in sorted(DASHBOARDS.glob("*.json")):
        walk(json.loads(path.read_text()))
    return found


def series_of(query: str) -> set[str]:
    """The metric names a query reads; raises ValueError when it does not parse."""
    variable = LABEL_VALUES.match(query.strip())
    if variable:
        query = variable.group(1)
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(query), visit)
    return names


def shipped_series() -> dict[str, set[str]]:
    """What the dashboards and the alerts read, by where."""
    return {
        "the dashboards": {name for q in dashboard_queries() for name in series_of(q)},
        "the alert rules": {name for r in alert_rules() for name in series_of(r["expr"])},
    }


# --- series as Prometheus stores them ----------------------------------------------------

Labels = tuple[tuple[str, str], ...]
Series = dict[tuple[str, Labels], float]

# What a ServiceMonitor scrape (prometheus-operator's relabelling) attaches to every
# series of the operator's target: the chart's Service and pod in the release namespace.
TARGET_LABELS = {
    "job": "causeway-metrics",
    "instance": "10.0.3.7:9090",
    "namespace": "causeway-system",
    "pod": "causeway-6d5f8b7c9-x2x4q",
    "service": "causeway-metrics",
    "container": "operator",
    "endpoint": "metrics",
}


def as_stored(scraped: Series, target: dict[str, str] | None = None) -> Series:
    """The scraped series with the target's labels attached as Prometheus does with
    honor_labels false (the chart's ServiceMonitor sets no honorLabels): a label the
    exposition already has is kept as exported_<name>, the target's value wins."""
    target = TARGET_LABELS if target is None else target
    stored: Series = {}
    for (name, labels), value in scraped.items():
        renamed = {(f"exported_{k}" if k in target else k): v for k, v in labels}
        stored[(name, tuple(sorted({**renamed, **target}.items())))] = value
    return stored


def labels_read(query: str) -> dict[str, set[str]]:
    """Per metric a query reads, the labels it selects on or groups by (what must name
    the same thing in the stored series as the operator meant)."""
    variable = LABEL_VALUES_LABEL.match(query.strip())
    if variable:
        return {variable.group(1): {variable.group(2)}}
    found: dict[str, set[str]] = {}

    def visit(node: Any, grouping: frozenset[str]) -> None:
        if isinstance(node, promql_parser.AggregateExpr):
            modifier = node.modifier
            if modifier is not None and modifier.type == promql_parser.AggModifierType.By:
                grouping = grouping | frozenset(modifier.labels)
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            matchers = {m.name for m in node.matchers.matchers if m.name != "__name__"}
            found.setdefault(node.name, set()).update(grouping | matchers)
            return
        for attribute in ("expr", "lhs", "rhs", "args", "vector_selector"):
            child = getattr(node, attribute, None)
            for item in child if isinstance(child, list) else [child]:
                if item is not None:
                    visit(item, grouping)

    visit(promql_parser.parse(query), frozenset())
    return found


def label_values(stored: Series, metric: str, label: str) -> set[str]:
    """Grafana's label_values(metric, label) over stored series."""
    return {
        dict(labels)[label] for name, labels in stored if name == metric and label in dict(labels)
    }


LABEL_VALUES_LABEL = re.compile(r"^label_values\((\w+),\s*(\w+)\)$")


def shipped_queries() -> list[tuple[str, str]]:
    """Every shipped query with where it comes from."""
    rules = [(f"alert {r['alert']}", r["expr"]) for r in alert_rules()]
    return [*(("the dashboards", q) for q in dashboard_queries()), *rules]
