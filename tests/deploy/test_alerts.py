"""The alert rules the chart ships (alerts/causeway.rules.yaml): a valid Prometheus rule
file whose every expression parses as PromQL (as do the dashboard's queries), with a
severity, a summary, a description and a runbook link per alert, shipped by the chart as a
PrometheusRule only when asked. That they read only exported series is checked
against a live scrape in tests/e2e/test_metrics_scrape.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from deploy_testlib import NAMESPACE, RELEASE, Manifests, of_kind, only

from promql_queries import ALERT_RULES, alert_rules, dashboard_queries, series_of

Render = Callable[..., Manifests]
RULES = alert_rules()
SEVERITIES = {"critical", "warning", "info"}
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


def test_the_rule_file_has_one_group_of_uniquely_named_alerts() -> None:
    document = yaml.safe_load(ALERT_RULES.read_text())
    assert set(document) == {"groups"}
    assert [group["name"] for group in document["groups"]] == ["causeway"]
    names = [rule["alert"] for rule in RULES]
    assert len(names) == len(set(names)) >= 5
    assert all(name.startswith("Causeway") for name in names)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule["alert"])
def test_each_alert_parses_and_says_what_to_do(rule: dict[str, Any]) -> None:
    assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
    assert series_of(rule["expr"]), "an alert must read at least one series"
    assert all(name.startswith("causeway_") for name in series_of(rule["expr"]))
    if "for" in rule:
        assert DURATION.match(rule["for"]), rule["for"]
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url"}
    assert annotations["summary"].strip() and len(annotations["description"]) > 40
    # Where it resolves in the built site is checked in tests/docs/test_site.py.
    assert annotations["runbook_url"].endswith("#" + rule["alert"].lower())


def test_the_operators_absence_pages() -> None:
    absent = [r for r in RULES if r["expr"].strip().startswith("absent(")]
    assert [r["labels"]["severity"] for r in absent] == ["critical"]


@pytest.mark.parametrize("query", dashboard_queries())
def test_every_dashboard_query_parses(query: str) -> None:
    assert series_of(query)


def test_an_invalid_query_is_refused() -> None:
    with pytest.raises(ValueError, match="parenthesis"):
        series_of("sum(rate(causeway_connections[5m])")


def test_the_chart_ships_the_rules_as_a_prometheus_rule_when_asked(render: Render) -> None:
    assert of_kind(render(), "PrometheusRule") == []
    labels = {"release": "kube-prometheus-stack"}
    enabled = {"metrics": {"prometheusRule": {"enabled": True, "labels": labels}}}
    rule = only(render(enabled), "PrometheusRule")
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert rule["metadata"]["namespace"] == NAMESPACE
    assert rule["metadata"]["name"] == RELEASE
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # Verbatim: the {{ $labels.x }} templates are Prometheus's, never expanded by Helm.
    assert rule["spec"] == yaml.safe_load(ALERT_RULES.read_text())
    assert any(
        "{{ $labels." in r["annotations"]["summary"] for r in rule["spec"]["groups"][0]["rules"]
    )
