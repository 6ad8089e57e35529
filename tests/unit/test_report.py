"""The status report, table-driven over the status shapes the operator writes (built
with its own condition helpers): every phase, stalled and reconciling, blocked, not
synced, stale, missing status; the quota's usage rows; the whole report's sections,
sorting and empty cases; and the table and age layout."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from causeway.api import CONNECTION_QUOTA, INBOUND, NAMED_CREDENTIAL, OUTBOUND, Phase
from causeway.conditions import ConditionState, Progress, kstatus, merge, synced
from causeway.reconcile.phases import PHASE_PROGRESS
from causeway.report import (
    age,
    format_table,
    next_steps,
    object_report,
    quota_report,
    status_document,
)
from causeway.report.status import NOT_REPORTED, PHASE_FALLBACK, render_status
from unit.test_layers import IO_MODULES, PACKAGE, imports_of

NOW = datetime(2026, 11, 28, 14, 37, tzinfo=UTC)
CREATED = "2026-11-28T14:30:00Z"  # 7m ago
VPCE = "vpce-0123456789abcdef0"
MB = 10**6


def conditions(*states: ConditionState) -> list[dict[str, Any]]:
    return merge([], list(states), generation=1, now=NOW)


def body(
    kind: str,
    name: str,
    status: dict[str, Any] | None,
    *,
    namespace: str = "acme",
    generation: int = 1,
    **spec: Any,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "generation": generation,
            "creationTimestamp": CREATED,
        },
        "spec": {"region": "us-east-1", **spec},
    }
    if status is not None:
        found["status"] = status
    return found


def connection_status(
    phase: str, message: str, reason: str | None = None, *extra: ConditionState
) -> dict[str, Any]:
    progress = PHASE_PROGRESS[Phase(phase)]
    return {
        "phase": phase,
        "message": message,
        "observedGeneration": 1,
        "conditions": conditions(*kstatus(progress, reason or phase, message), synced(), *extra),
    }


@dataclass(frozen=True)
class StepCase:
    status: dict[str, Any] | None
    steps: tuple[str, ...]
    generation: int = 1
    spec: dict[str, Any] = field(default_factory=dict)


ACCEPT = f"Accept the connection request {VPCE} on your endpoint service vpce-svc-1 in us-east-1."
BLOCKED_TEXT = "Outbound traffic is blocked until 2026-11-28T15:00:00Z: this namespace reached..."
AWS_DOWN = "AWS could not be reached (connection refused); retrying."

STEP_CASES: dict[str, StepCase] = {
    "Ready: nothing to do": StepCase(connection_status("Ready", f"Connected: {VPCE}."), ()),
    "Allocating": StepCase(
        connection_status("Allocating", "Creating an interface endpoint."),
        ("Creating an interface endpoint. (Reconciling: Allocating)",),
    ),
    "PendingAcceptance": StepCase(
        connection_status("PendingAcceptance", ACCEPT),
        (f"{ACCEPT} (Reconciling: PendingAcceptance)",),
    ),
    "PendingActivation": StepCase(
        connection_status("PendingActivation", "AWS is activating it."),
        ("AWS is activating it. (Reconciling: PendingActivation)",),
    ),
    "RejectedRemotely": StepCase(
        connection_status("RejectedRemotely", "Your service rejected it."),
        ("Your service rejected it. (Stalled: RejectedRemotely)",),
    ),
    "DeletedRemotely": StepCase(
        connection_status("DeletedRemotely", "The endpoint is deleted outside Causeway."),
        ("The endpoint is deleted outside Causeway. (Stalled: DeletedRemotely)",),
    ),
    "TeardownInProgress": StepCase(
        connection_status("TeardownInProgress", f"Deleting the endpoint {VPCE}."),
        (f"Deleting the endpoint {VPCE}. (Reconciling: TeardownInProgress)",),
    ),
    "Unprovisioned placeholder (settled: no condition True)": StepCase(
        connection_status("Unprovisioned", "Not provisioned (spec.provisioned is false)."),
        ("Not provisioned (spec.provisioned is false). (Unprovisioned)",),
        spec={"provisioned": False},
    ),
    "Unprovisioned waiting for a license (stalled, its own reason)": StepCase(
        {
            **connection_status("Unprovisioned", "All 2 licenses are in use."),
            "conditions": conditions(
                *kstatus(Progress.STALLED, "LicenseLimitReached", "All 2 licenses are in use.")
            ),
        },
        ("All 2 licenses are in use. (Stalled: LicenseLimitReached)",),
    ),
    "Ready but blocked at the hourly limit": StepCase(
        connection_status(
            "Ready",
            f"Connected: {VPCE}. {BLOCKED_TEXT}",
            None,
            ConditionState("Blocked", True, "HourlyLimitReached", BLOCKED_TEXT),
        ),
        (f"{BLOCKED_TEXT} (Blocked: HourlyLimitReached)",),
    ),
    "Blocked=False says nothing": StepCase(
        connection_status(
            "Ready", "Connected.", None, ConditionState("Blocked", False, "NotBlocked", "Passes.")
        ),
        (),
    ),
    "Ready but not synced: the last view, and why it may be stale": StepCase(
        {
            **connection_status("Ready", "Connected."),
            "conditions": conditions(
                *kstatus(Progress.READY, "Ready", "Connected."),
                synced("AwsUnreachable", AWS_DOWN),
            ),
        },
        (
            "Causeway could not check it against AWS on its last try (what is shown is as "
            f"last seen): {AWS_DOWN} (Synced=False: AwsUnreachable)",
        ),
    ),
    "stalled and not synced: both": StepCase(
        {
            **connection_status("RejectedRemotely", "Rejected."),
            "conditions": conditions(
                *kstatus(Progress.STALLED, "RejectedRemotely", "Rejected."),
                synced("PlatformAccessDenied", "Access denied."),
            ),
        },
        (
            "Rejected. (Stalled: RejectedRemotely)",
            "Causeway could not check it against AWS on its last try (what is shown is as "
            "last seen): Access denied. (Synced=False: PlatformAccessDenied)",
        ),
    ),
    "status written for an older generation": StepCase(
        connection_status("Ready", "Connected."),
        (
            "The spec changed (generation 2) after this status was written (generation 1): "
            "Causeway has not caught up yet.",
        ),
        generation=2,
    ),
    "no status at all": StepCase(None, (NOT_REPORTED,)),
    "status without a phase": StepCase({"conditions": []}, (NOT_REPORTED,)),
    "phase without message or conditions: the short fallback": StepCase(
        {"phase": "PendingAcceptance"},
        (f"{PHASE_FALLBACK['PendingAcceptance']} (PendingAcceptance)",),
    ),
    "unknown phase without message": StepCase(
        {"phase": "Rebooting"}, ("Phase Rebooting. (Rebooting)",)
    ),
    "Ready Unknown is not Ready": StepCase(
        {
            "phase": "PendingActivation",
            "message": "Activating.",
            "conditions": [{"type": "Ready", "status": "Unknown", "reason": "Probing"}],
        },
        ("Activating. (PendingActivation: Probing)",),
    ),
    "credential Pending relays its connection": StepCase(
        {
            "phase": "Pending",
            "message": "Its connection inventory is PendingAcceptance: accept the request.",
            "conditions": conditions(
                *kstatus(
                    Progress.RECONCILING,
                    "ConnectionNotReady",
                    "Its connection inventory is PendingAcceptance: accept the request.",
                )
            ),
        },
        (
            "Its connection inventory is PendingAcceptance: accept the request. "
            "(Reconciling: ConnectionNotReady)",
        ),
    ),
    "credential Invalid without message: the fallback": StepCase(
        {
            "phase": "Invalid",
            "conditions": conditions(*kstatus(Progress.STALLED, "SecretNotFound", "")),
        },
        (f"{PHASE_FALLBACK['Invalid']} (Stalled: SecretNotFound)",),
    ),
}


@pytest.mark.parametrize("case", STEP_CASES.values(), ids=STEP_CASES.keys())
def test_next_steps(case: StepCase) -> None:
    found = body("OutboundConnection", "c", case.status, generation=case.generation, **case.spec)
    assert next_steps(found) == case.steps


def test_every_phase_has_a_fallback_and_a_case() -> None:
    assert {*Phase, "Pending", "Invalid"} <= set(PHASE_FALLBACK)
    covered = {c.status.get("phase") for c in STEP_CASES.values() if c.status}
    assert set(Phase) <= covered


ROW_CASES = {
    "outbound Ready": (
        OUTBOUND,
        body(
            "OutboundConnection",
            "inventory",
            {**connection_status("Ready", "Connected."), "vpcEndpointId": VPCE},
        ),
        ("us-east-1", "Ready", "True", VPCE, "7m"),
    ),
    "outbound before any status": (
        OUTBOUND,
        body("OutboundConnection", "new", None),
        ("us-east-1", "-", "-", "-", "7m"),
    ),
    "inbound with its range": (
        INBOUND,
        body(
            "InboundConnection",
            "loader",
            {**connection_status("Ready", "Connected."), "sourceIpRanges": ["10.200.0.0/28"]},
            vpcEndpointId=VPCE,
        ),
        ("us-east-1", "Ready", "True", VPCE, "10.200.0.0/28", "7m"),
    ),
    "credential with its target": (
        NAMED_CREDENTIAL,
        {
            "metadata": {"name": "api", "namespace": "acme"},
            "spec": {"outboundConnection": "inventory"},
            "status": {
                "phase": "Pending",
                "endpoint": {"host": "a.example", "port": 443, "address": "a.example:443"},
            },
        },
        ("inventory", "Pending", "-", "a.example:443", "-"),
    ),
}


@pytest.mark.parametrize(("kind", "found", "cells"), ROW_CASES.values(), ids=ROW_CASES.keys())
def test_object_rows(kind: Any, found: dict[str, Any], cells: tuple[str, ...]) -> None:
    report = object_report(kind, found, NOW)
    assert (report.namespace, report.cells) == ("acme", cells)


def quota(status: dict[str, Any] | None, **meta: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "kind": CONNECTION_QUOTA.kind,
        "metadata": {"name": "acme", "namespace": "acme", **meta},
        "spec": {"licenses": 2, "dataPacks": 3},
    }
    if status is not None:
        found["status"] = status
    return found


METERED = {
    "hard": {
        "outboundConnections": 2,
        "inboundConnections": 2,
        "dailyBytes": 25_000 * MB,
        "hourlyOutboundBytes": 56_480 * MB,
        "hourlyInboundBytes": 56_480 * MB,
    },
    "used": {
        "outboundConnections": 2,
        "inboundConnections": 0,
        "dailyBytes": 41_200 * MB,
        "hourlyOutboundBytes": 56_480 * MB,
        "hourlyInboundBytes": 0,
    },
    "waiting": {"outboundConnections": 1, "inboundConnections": 0},
    "resetsAt": {"hour": "2026-11-28T15:00:00Z", "day": "2026-11-29T00:00:00Z"},
    "blockedUntil": "2026-11-28T15:00:00Z",
    "conditions": conditions(
        ConditionState("Ready", True, "InEffect", "2 licenses: ..."),
        ConditionState("Metered", True, "Metered", "Usage is read from CloudWatch."),
        ConditionState("OutboundBlocked", True, "HourlyLimitReached", "Blocked until 15:00."),
        ConditionState("DailyAllocationExceeded", True, "DailyAllocationExceeded", "Over."),
        ConditionState("InboundHourlyLimitExceeded", False, "WithinHourlyLimit", "0 MB."),
        ConditionState("OverLicensed", False, "WithinLicenses", "Fine."),
    ),
}


def test_quota_rows_from_a_metered_blocked_status() -> None:
    report = quota_report(quota(METERED))
    assert report.summary == "2 licenses, 3 data packs"
    assert report.rows == (
        ("outbound connections", "2", "2", "1 waiting for a license"),
        ("inbound connections", "0", "2", ""),
        (
            "data today",
            "41200 MB (164%)",
            "25000 MB",
            "soft: reported, never blocked; resets 2026-11-29T00:00:00Z",
        ),
        (
            "outbound this hour",
            "56480 MB (100%)",
            "56480 MB",
            "hard: outbound stops at the limit; resets 2026-11-28T15:00:00Z",
        ),
        (
            "inbound this hour",
            "0 MB (0%)",
            "56480 MB",
            "soft: reported, never blocked; resets 2026-11-28T15:00:00Z",
        ),
    )
    assert report.notes == (
        "Blocked until 15:00. (OutboundBlocked: HourlyLimitReached)",
        "Over. (DailyAllocationExceeded: DailyAllocationExceeded)",
    )


QUOTA_NOTE_CASES = {
    "no status yet": (None, (NOT_REPORTED,)),
    "licenses only, never metered": (
        {"hard": {"outboundConnections": 1}, "used": {"outboundConnections": 0}},
        (),
    ),
    "metering failing": (
        {"conditions": conditions(ConditionState("Metered", False, "AwsThrottled", "Slow."))},
        ("Slow. (Metered=False: AwsThrottled)",),
    ),
    "over-licensed": (
        {"conditions": conditions(ConditionState("OverLicensed", True, "OverLicensed", "3 > 2."))},
        ("3 > 2. (OverLicensed: OverLicensed)",),
    ),
    "a duplicate quota": (
        {
            "conditions": conditions(
                *kstatus(Progress.STALLED, "DuplicateQuota", "acme already has one.")
            )
        },
        ("acme already has one. (Stalled: DuplicateQuota)",),
    ),
    "blockedUntil without its condition": (
        {"blockedUntil": "2026-11-28T15:00:00Z"},
        ("Outbound traffic is blocked until 2026-11-28T15:00:00Z.",),
    ),
}


@pytest.mark.parametrize(
    ("status", "notes"), QUOTA_NOTE_CASES.values(), ids=QUOTA_NOTE_CASES.keys()
)
def test_quota_notes(status: dict[str, Any] | None, notes: tuple[str, ...]) -> None:
    assert quota_report(quota(status)).notes == notes


def test_quota_rows_before_metering() -> None:
    rows = quota_report(quota({"hard": {"outboundConnections": 1}})).rows
    assert rows[0] == ("outbound connections", "-", "1", "")
    assert rows[2] == ("data today", "not metered yet", "-", "soft: reported, never blocked")


def test_report_for_one_namespace() -> None:
    found = {
        OUTBOUND.plural: [
            body("OutboundConnection", "zeta", connection_status("Ready", "Connected.")),
            body("OutboundConnection", "alpha", connection_status("PendingAcceptance", ACCEPT)),
        ],
        CONNECTION_QUOTA.plural: [quota(METERED)],
    }
    text = render_status(found, "acme", NOW)
    assert text.split("\n\n")[0] == (
        "OutboundConnections\n"
        "NAME   REGION     PHASE              READY  ENDPOINT  AGE\n"
        "alpha  us-east-1  PendingAcceptance  False  -         7m\n"
        "zeta   us-east-1  Ready              True   -         7m\n"
        "Next steps:\n"
        f"  alpha: {ACCEPT} (Reconciling: PendingAcceptance)"
    )
    assert "InboundConnections" not in text and "NamedCredentials" not in text
    assert text.split("\n\n")[1].startswith(
        "ConnectionQuota acme: 2 licenses, 3 data packs\n"
        "ALLOWANCE             USED             LIMIT     NOTE\n"
        "outbound connections  2                2         1 waiting for a license\n"
    )
    assert text.endswith("  Over. (DailyAllocationExceeded: DailyAllocationExceeded)\n")


def test_report_for_all_namespaces_is_sorted_and_names_quota_less_ones() -> None:
    found = {
        OUTBOUND.plural: [
            body("OutboundConnection", "a", None, namespace="zulu"),
            body("OutboundConnection", "b", connection_status("Ready", "OK."), namespace="acme"),
        ],
        INBOUND.plural: [body("InboundConnection", "in", None, namespace="beta")],
        CONNECTION_QUOTA.plural: [quota({})],
    }
    text = render_status(found, None, NOW)
    lines = text.splitlines()
    assert lines[1].split() == ["NAMESPACE", "NAME", "REGION", "PHASE", "READY", "ENDPOINT", "AGE"]
    assert [line.split()[:2] for line in lines[2:4]] == [["acme", "b"], ["zulu", "a"]]
    assert f"  zulu/a: {NOT_REPORTED}" in lines
    assert "ConnectionQuota acme/acme: 2 licenses, 3 data packs" in lines
    assert lines[-3:] == [
        "no ConnectionQuota in namespace beta: it has no licenses, so no connection there is "
        "provisioned (a platform admin creates one)",
        "",
        "no ConnectionQuota in namespace zulu: it has no licenses, so no connection there is "
        "provisioned (a platform admin creates one)",
    ]


@pytest.mark.parametrize(
    ("found", "namespace", "expected"),
    [
        ({}, "acme", "no Causeway objects in namespace acme\n"),
        ({OUTBOUND.plural: []}, None, "no Causeway objects in any namespace\n"),
    ],
)
def test_nothing_found_is_one_line(
    found: dict[str, list[dict[str, Any]]], namespace: str | None, expected: str
) -> None:
    assert render_status(found, namespace, NOW) == expected


def test_a_quota_alone_is_shown_with_no_connections() -> None:
    text = render_status({CONNECTION_QUOTA.plural: [quota(None)]}, "acme", NOW)
    assert text.startswith("no connections or credentials in namespace acme\n\nConnectionQuota")
    assert text.endswith(f"  {NOT_REPORTED}\n")


def test_table_aligns_columns_and_marks_empty_cells() -> None:
    assert format_table(("A", "LONG HEADER", "C"), [("xxxx", "", "z"), ("y", "b", "")]) == (
        "A     LONG HEADER  C\nxxxx  -            z\ny     b            -\n"
    )
    with pytest.raises(ValueError, match="2 cells, the header 3"):
        format_table(("A", "B", "C"), [("x", "y")])


@pytest.mark.parametrize(
    ("elapsed", "shown"),
    [
        (timedelta(seconds=-5), "0s"),
        (timedelta(seconds=42), "42s"),
        (timedelta(seconds=119), "119s"),
        (timedelta(minutes=5), "5m"),
        (timedelta(minutes=5, seconds=10), "5m10s"),
        (timedelta(minutes=17), "17m"),
        (timedelta(hours=4, minutes=30), "4h30m"),
        (timedelta(hours=12, minutes=59), "12h"),
        (timedelta(days=3, hours=4), "3d4h"),
        (timedelta(days=45), "45d"),
        (timedelta(days=800), "2y"),
    ],
)
def test_age_reads_like_kubectl(elapsed: timedelta, shown: str) -> None:
    assert age(NOW - elapsed, NOW) == shown
    assert age(None, NOW) == "-"


@pytest.mark.parametrize("path", sorted((PACKAGE / "report").glob("*.py")), ids=lambda p: p.name)
def test_the_report_package_is_pure(path: Path) -> None:
    assert not imports_of(path) & (IO_MODULES | {"os", "sys", "pathlib", "urllib3"})


# --- the JSON document (`causeway status -o json`) ----------------------------------------


def test_json_document_carries_each_object_and_the_quota_as_fields() -> None:
    found = {
        OUTBOUND.plural: [
            body("OutboundConnection", "zeta", connection_status("Ready", "Connected.")),
            body("OutboundConnection", "alpha", connection_status("PendingAcceptance", ACCEPT)),
        ],
        NAMED_CREDENTIAL.plural: [body("NamedCredential", "api", None, outboundConnection="zeta")],
        CONNECTION_QUOTA.plural: [quota(METERED)],
    }
    document = status_document(found, "acme")
    assert [(i["kind"], i["name"], i["phase"], i["ready"]) for i in document["items"]] == [
        ("OutboundConnection", "alpha", "PendingAcceptance", False),
        ("OutboundConnection", "zeta", "Ready", True),
        ("NamedCredential", "api", None, None),
    ]
    alpha, zeta, api = document["items"]
    assert alpha["nextSteps"] == [f"{ACCEPT} (Reconciling: PendingAcceptance)"]
    assert (zeta["nextSteps"], zeta["region"], zeta["vpcEndpointId"]) == ([], "us-east-1", None)
    assert api == {
        "kind": "NamedCredential",
        "namespace": "acme",
        "name": "api",
        "phase": None,
        "ready": None,
        "outboundConnection": "zeta",
        "address": None,
        "nextSteps": [NOT_REPORTED],
    }
    [found_quota] = document["quotas"]
    assert found_quota["used"] == METERED["used"] and found_quota["hard"] == METERED["hard"]
    assert found_quota["waiting"] == {"outboundConnections": 1, "inboundConnections": 0}
    assert found_quota["blockedUntil"] == "2026-11-28T15:00:00Z"
    assert found_quota["notes"] == list(quota_report(quota(METERED)).notes)
    assert (found_quota["licenses"], found_quota["dataPacks"]) == (2, 3)
    assert document["namespacesWithoutQuota"] == []
    json.dumps(document)  # plain data only


def test_json_document_of_odd_bodies_and_quota_less_namespaces() -> None:
    odd = body("InboundConnection", "in", {"phase": "Ready", "conditions": "garbage"})
    odd["status"]["sourceIpRanges"] = None
    credential = body("NamedCredential", "c", {"phase": "Ready", "endpoint": "not a map"})
    document = status_document({INBOUND.plural: [odd], NAMED_CREDENTIAL.plural: [credential]}, None)
    inbound, named = document["items"]
    assert (inbound["ready"], inbound["sourceIpRanges"]) == (None, [])
    assert named["address"] is None
    assert (document["namespace"], document["quotas"]) == (None, [])
    assert document["namespacesWithoutQuota"] == ["acme"]
    assert status_document({}, "acme") == {
        "namespace": "acme",
        "items": [],
        "quotas": [],
        "namespacesWithoutQuota": [],
    }


def test_json_document_survives_bodies_without_names() -> None:
    nameless = {"kind": "OutboundConnection", "metadata": {}, "spec": {}}
    document = status_document(
        {OUTBOUND.plural: [nameless, body("OutboundConnection", "a", None)]}, None
    )
    assert [(i["namespace"], i["name"]) for i in document["items"]] == [("", ""), ("acme", "a")]
    assert document["namespacesWithoutQuota"] == ["", "acme"]
