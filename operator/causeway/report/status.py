"""`causeway status`: one table per kind of what a namespace declared, a next step
for every object that is not Ready, and the namespace's quota usage.

Pure: it reads object bodies as the API server returns them (any part may be
missing: an object Causeway has not reached yet has no status) and returns text.
The next steps are the operator's own status messages, which are written for the
tenant; this module only adds which condition and reason they come from, and a
short fallback for a phase written without a message."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from causeway.api import CONNECTION_QUOTA, INBOUND, NAMED_CREDENTIAL, OUTBOUND, KindInfo, Phase
from causeway.conditions import READY, RECONCILING, STALLED, SYNCED
from causeway.reconcile.outbound import BLOCKED, SYNC_ANNOTATION
from causeway.reconcile.quota import OVER_LICENSED
from causeway.reconcile.usage import (
    BLOCK_IN_PROGRESS,
    DAILY_EXCEEDED,
    INBOUND_EXCEEDED,
    METERED,
    OUTBOUND_BLOCKED,
)
from causeway.report.bodies import (
    Body,
    as_text,
    conditions_of,
    is_true,
    mapping_of,
    meta_of,
    sort_bodies,
    spec_of,
    status_of,
)
from causeway.report.table import EMPTY, age, format_table

MB = 10**6

# Kinds shown as tables, in this order; the quota follows them.
LISTED_KINDS: tuple[KindInfo, ...] = (OUTBOUND, INBOUND, NAMED_CREDENTIAL)
STATUS_KINDS: tuple[KindInfo, ...] = (*LISTED_KINDS, CONNECTION_QUOTA)

_RESYNC = f"set the annotation {SYNC_ANNOTATION} to a new value to request a new connection"
# Only for a status that names a phase but carries no message (the operator always writes
# one; an older operator or a hand-edited status may not).
PHASE_FALLBACK: dict[str, str] = {
    Phase.UNPROVISIONED: "Nothing is provisioned for it.",
    Phase.ALLOCATING: "Causeway is setting it up in AWS.",
    Phase.PENDING_ACCEPTANCE: "Waiting for the connection request to be accepted.",
    Phase.PENDING_ACTIVATION: "Accepted; AWS is activating it.",
    Phase.READY: "Connected.",
    Phase.REJECTED_REMOTELY: f"The connection request was rejected; {_RESYNC}.",
    Phase.DELETED_REMOTELY: f"The endpoint is gone outside Causeway; {_RESYNC}.",
    Phase.TEARDOWN_IN_PROGRESS: "Causeway is tearing it down.",
    "Pending": "Waiting for its OutboundConnection to be Ready.",
    "Invalid": "Only a change to its spec or its Secret can help.",
}
NOT_REPORTED = "Causeway has not reported on it yet: is the operator running?"


@dataclass(frozen=True)
class ObjectReport:
    """One object's row and what its owner should know or do (empty when Ready)."""

    namespace: str
    name: str
    cells: tuple[str, ...]
    steps: tuple[str, ...]


@dataclass(frozen=True)
class _Layout:
    headers: tuple[str, ...]
    cells: Callable[[Body, datetime], tuple[str, ...]]


def _outbound_cells(body: Body, now: datetime) -> tuple[str, ...]:
    status = status_of(body)
    return (
        as_text(spec_of(body).get("region")),
        as_text(status.get("phase")),
        _ready(status),
        as_text(status.get("vpcEndpointId")),
        _age(body, now),
    )


def _inbound_cells(body: Body, now: datetime) -> tuple[str, ...]:
    status = status_of(body)
    return (
        as_text(spec_of(body).get("region")),
        as_text(status.get("phase")),
        _ready(status),
        as_text(spec_of(body).get("vpcEndpointId")),
        ", ".join(str(r) for r in status.get("sourceIpRanges") or []) or EMPTY,
        _age(body, now),
    )


def _credential_cells(body: Body, now: datetime) -> tuple[str, ...]:
    status = status_of(body)
    endpoint = status.get("endpoint") or {}
    return (
        as_text(spec_of(body).get("outboundConnection")),
        as_text(status.get("phase")),
        _ready(status),
        as_text(endpoint.get("address")),
        _age(body, now),
    )


_LAYOUTS: dict[str, _Layout] = {
    OUTBOUND.kind: _Layout(
        ("NAME", "REGION", "PHASE", "READY", "ENDPOINT", "AGE"), _outbound_cells
    ),
    INBOUND.kind: _Layout(
        ("NAME", "REGION", "PHASE", "READY", "ENDPOINT", "SOURCE RANGE", "AGE"), _inbound_cells
    ),
    NAMED_CREDENTIAL.kind: _Layout(
        ("NAME", "CONNECTION", "PHASE", "READY", "TARGET", "AGE"), _credential_cells
    ),
}


def object_report(kind: KindInfo, body: Body, now: datetime) -> ObjectReport:
    """The row (without namespace) and next steps for one object of a listed kind."""
    meta = meta_of(body)
    return ObjectReport(
        namespace=as_text(meta.get("namespace")),
        name=as_text(meta.get("name")),
        cells=_LAYOUTS[kind.kind].cells(body, now),
        steps=next_steps(body),
    )


def next_steps(body: Body) -> tuple[str, ...]:
    """What the object's status says is in the way, in the operator's words, each
    followed by the condition and reason it comes from. Empty when Ready and nothing
    else is wrong."""
    status = status_of(body)
    phase = status.get("phase")
    if not phase:
        return (NOT_REPORTED,)
    conditions = conditions_of(status)
    steps: list[str] = []
    if is_true(conditions.get(READY)) is not True:
        steps.append(_waiting(str(phase), status, conditions))
    blocked = conditions.get(BLOCKED)
    if blocked is not None and is_true(blocked):
        steps.append(_from_condition(blocked, BLOCKED))
    synced = conditions.get(SYNCED)
    if synced is not None and is_true(synced) is False:
        steps.append(
            "Causeway could not check it against AWS on its last try (what is shown is as "
            f"last seen): {_from_condition(synced, f'{SYNCED}=False')}"
        )
    stale = _stale(body, status)
    if stale:
        steps.append(stale)
    return tuple(steps)


def _waiting(phase: str, status: Body, conditions: Mapping[str, Body]) -> str:
    """Why it is not Ready: the condition that says so (Stalled before Reconciling)."""
    message = as_text(status.get("message"), "") or PHASE_FALLBACK.get(phase, f"Phase {phase}.")
    for kind in (STALLED, RECONCILING):
        condition = conditions.get(kind)
        if is_true(condition) and condition is not None:
            return f"{message} ({kind}: {as_text(condition.get('reason'))})"
    ready = conditions.get(READY)
    reason = as_text(ready.get("reason"), phase) if ready else phase
    return f"{message} ({phase})" if reason == phase else f"{message} ({phase}: {reason})"


def _from_condition(condition: Body, label: str) -> str:
    message = as_text(condition.get("message"), "").strip() or "(no message)"
    return f"{message} ({label}: {as_text(condition.get('reason'))})"


def _stale(body: Body, status: Body) -> str | None:
    generation, observed = meta_of(body).get("generation"), status.get("observedGeneration")
    if isinstance(generation, int) and isinstance(observed, int) and observed < generation:
        return (
            f"The spec changed (generation {generation}) after this status was written "
            f"(generation {observed}): Causeway has not caught up yet."
        )
    return None


# --- quota -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaReport:
    """One ConnectionQuota: what it grants in short, the allowance rows, and notes."""

    namespace: str
    name: str
    summary: str  # "2 licenses, 3 data packs"
    rows: tuple[tuple[str, str, str, str], ...]
    notes: tuple[str, ...]


QUOTA_HEADERS = ("ALLOWANCE", "USED", "LIMIT", "NOTE")
_QUOTA_NOTES = (  # conditions worth a line when True (Ready and Metered: when False)
    STALLED,
    OVER_LICENSED,
    OUTBOUND_BLOCKED,
    DAILY_EXCEEDED,
    INBOUND_EXCEEDED,
)


def quota_report(body: Body) -> QuotaReport:
    meta, spec, status = meta_of(body), spec_of(body), status_of(body)
    namespace, name = as_text(meta.get("namespace")), as_text(meta.get("name"))
    licenses, packs = as_text(spec.get("licenses"), "0"), as_text(spec.get("dataPacks"), "0")
    summary = f"{licenses} licenses, {packs} data packs"
    hard, used, waiting = (mapping_of(status.get(key)) for key in ("hard", "used", "waiting"))
    resets = mapping_of(status.get("resetsAt"))
    rows = (
        _count_row("outbound connections", "outboundConnections", hard, used, waiting),
        _count_row("inbound connections", "inboundConnections", hard, used, waiting),
        _bytes_row(
            "data today",
            "dailyBytes",
            hard,
            used,
            _window(resets.get("day"), "soft: reported, never blocked"),
        ),
        _bytes_row(
            "outbound this hour",
            "hourlyOutboundBytes",
            hard,
            used,
            _window(resets.get("hour"), "hard: outbound stops at the limit"),
        ),
        _bytes_row(
            "inbound this hour",
            "hourlyInboundBytes",
            hard,
            used,
            _window(resets.get("hour"), "soft: reported, never blocked"),
        ),
    )
    return QuotaReport(namespace, name, summary, rows, quota_notes(status))


def _count_row(
    label: str, key: str, hard: Body, used: Body, waiting: Body
) -> tuple[str, str, str, str]:
    count = waiting.get(key)
    note = f"{count} waiting for a license" if isinstance(count, int) and count > 0 else ""
    return (label, as_text(used.get(key)), as_text(hard.get(key)), note)


def _bytes_row(
    label: str, key: str, hard: Body, used: Body, note: str
) -> tuple[str, str, str, str]:
    limit, spent = hard.get(key), used.get(key)
    if not isinstance(spent, int):
        return (label, "not metered yet", _mb(limit), note)
    share = f" ({spent * 100 // limit}%)" if isinstance(limit, int) and limit > 0 else ""
    return (label, f"{_mb(spent)}{share}", _mb(limit), note)


def _window(resets: object, kind: str) -> str:
    return f"{kind}; resets {resets}" if resets else kind


def _mb(value: object) -> str:
    return f"{value // MB} MB" if isinstance(value, int) else EMPTY


def quota_notes(status: Body) -> tuple[str, ...]:
    """What a quota's status says is wrong or limiting, in the operator's words."""
    if not status:
        return (NOT_REPORTED,)
    conditions = conditions_of(status)
    notes = [
        _from_condition(conditions[kind], kind)
        for kind in _QUOTA_NOTES
        if is_true(conditions.get(kind))
    ]
    metered = conditions.get(METERED)
    if is_true(metered) is False and metered is not None:
        notes.append(_from_condition(metered, f"{METERED}=False"))
    blocked = conditions.get(OUTBOUND_BLOCKED) or {}
    if status.get("blockedUntil") and blocked.get("reason") == BLOCK_IN_PROGRESS:
        notes.append(f"Outbound traffic is being blocked until {status['blockedUntil']}.")
    elif status.get("blockedUntil") and not is_true(conditions.get(OUTBOUND_BLOCKED)):
        notes.append(f"Outbound traffic is blocked until {status['blockedUntil']}.")
    return tuple(notes)


# --- the whole report --------------------------------------------------------------------


def render_status(found: Mapping[str, Sequence[Body]], namespace: str | None, now: datetime) -> str:
    """The report for one namespace (or every namespace when `namespace` is None) from
    the bodies found, keyed by kind plural. Sorted by namespace, then name."""
    where = f"namespace {namespace}" if namespace else "any namespace"
    listed = {kind.kind: sort_bodies(found.get(kind.plural, ())) for kind in LISTED_KINDS}
    quotas = sort_bodies(found.get(CONNECTION_QUOTA.plural, ()))
    if not quotas and not any(listed.values()):
        return f"no Causeway objects in {where}\n"
    sections = [
        _kind_section(kind, listed[kind.kind], namespace, now)
        for kind in LISTED_KINDS
        if listed[kind.kind]
    ]
    if not any(listed.values()):
        sections.append(f"no connections or credentials in {where}\n")
    sections.append(_quota_section(quotas, listed, namespace))
    return "\n".join(sections)


def _kind_section(
    kind: KindInfo, bodies: Sequence[Body], namespace: str | None, now: datetime
) -> str:
    reports = [object_report(kind, body, now) for body in bodies]
    layout = _LAYOUTS[kind.kind]
    headers = layout.headers if namespace else ("NAMESPACE", *layout.headers)
    rows = [
        (report.name, *report.cells)
        if namespace
        else (report.namespace, report.name, *report.cells)
        for report in reports
    ]
    text = f"{_plural_kind(kind)}\n" + format_table(headers, rows)
    steps = [
        f"  {_who(report, namespace)}: {step}\n" for report in reports for step in report.steps
    ]
    if steps:
        text += "Next steps:\n" + "".join(steps)
    return text


def _quota_section(
    quotas: Sequence[Body], listed: Mapping[str, Sequence[Body]], namespace: str | None
) -> str:
    with_objects = {
        as_text(meta_of(b).get("namespace")) for bodies in listed.values() for b in bodies
    }
    covered = {as_text(meta_of(q).get("namespace")) for q in quotas}
    parts = []
    for body in quotas:
        report = quota_report(body)
        who = report.name if namespace else f"{report.namespace}/{report.name}"
        text = f"ConnectionQuota {who}: {report.summary}\n"
        text += format_table(QUOTA_HEADERS, report.rows)
        text += "".join(f"  {note}\n" for note in report.notes)
        parts.append(text)
    for uncovered in sorted(with_objects - covered):
        parts.append(
            f"no ConnectionQuota in namespace {uncovered}: it has no licenses, so no connection "
            "there is provisioned (a platform admin creates one)\n"
        )
    return "\n".join(parts)


def _who(report: ObjectReport, namespace: str | None) -> str:
    return report.name if namespace else f"{report.namespace}/{report.name}"


def _plural_kind(kind: KindInfo) -> str:
    return f"{kind.kind}s"


def _ready(status: Body) -> str:
    ready = conditions_of(status).get(READY)
    return as_text(ready.get("status")) if ready else EMPTY


def _age(body: Body, now: datetime) -> str:
    created = meta_of(body).get("creationTimestamp")
    if isinstance(created, datetime):
        return age(created, now)
    if isinstance(created, str):
        try:
            return age(datetime.fromisoformat(created.replace("Z", "+00:00")), now)
        except ValueError:
            return EMPTY
    return EMPTY
