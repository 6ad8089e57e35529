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
