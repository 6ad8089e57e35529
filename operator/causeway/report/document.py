"""`causeway status -o json`: the same findings as the tables, as one JSON document for
scripts and CI gates. Pure: object bodies in, plain data out.

Field names follow the API's own (phase, vpcEndpointId, hard/used/waiting), so a
script written against the CRDs reads this the same way; `ready` is the Ready
condition as a boolean (null while it is Unknown or not written yet), and
`nextSteps` are the lines the table report prints under "Next steps"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from causeway.api import CONNECTION_QUOTA, INBOUND, NAMED_CREDENTIAL, OUTBOUND, KindInfo
from causeway.conditions import READY
from causeway.report.bodies import (
    Body,
    as_text,
    conditions_of,
    is_true,
    meta_of,
    sort_bodies,
    spec_of,
    status_of,
)
from causeway.report.status import LISTED_KINDS, next_steps, quota_notes

QUOTA_FIELDS = ("hard", "used", "waiting", "resetsAt", "blockedUntil")


def status_document(found: Mapping[str, Sequence[Body]], namespace: str | None) -> dict[str, Any]:
    """Every listed object and quota found (keyed by kind plural), sorted by namespace
    then name, and the namespaces that have objects but no quota."""
    items = [
        _item(kind, body)
        for kind in LISTED_KINDS
        for body in sort_bodies(found.get(kind.plural, ()))
    ]
    quotas = [_quota(body) for body in sort_bodies(found.get(CONNECTION_QUOTA.plural, ()))]
    covered = {quota["namespace"] for quota in quotas}
    return {
        "namespace": namespace,
        "items": items,
        "quotas": quotas,
        "namespacesWithoutQuota": sorted({i["namespace"] for i in items} - covered),
    }


def _item(kind: KindInfo, body: Body) -> dict[str, Any]:
    meta, status = meta_of(body), status_of(body)
    return {
        "kind": kind.kind,
        "namespace": as_text(meta.get("namespace"), ""),
        "name": as_text(meta.get("name"), ""),
        "phase": status.get("phase"),
        "ready": is_true(conditions_of(status).get(READY)),
        **_DETAILS[kind.kind](body),
        "nextSteps": list(next_steps(body)),
    }


def _outbound(body: Body) -> dict[str, Any]:
    return {
        "region": spec_of(body).get("region"),
        "vpcEndpointId": status_of(body).get("vpcEndpointId"),
    }


def _inbound(body: Body) -> dict[str, Any]:
    return {
        "region": spec_of(body).get("region"),
        "vpcEndpointId": spec_of(body).get("vpcEndpointId"),
        "sourceIpRanges": list(status_of(body).get("sourceIpRanges") or []),
    }


def _credential(body: Body) -> dict[str, Any]:
    endpoint = status_of(body).get("endpoint")
    return {
        "outboundConnection": spec_of(body).get("outboundConnection"),
        "address": endpoint.get("address") if isinstance(endpoint, Mapping) else None,
    }


_DETAILS = {OUTBOUND.kind: _outbound, INBOUND.kind: _inbound, NAMED_CREDENTIAL.kind: _credential}


def _quota(body: Body) -> dict[str, Any]:
    meta, spec, status = meta_of(body), spec_of(body), status_of(body)
    return {
        "namespace": as_text(meta.get("namespace"), ""),
        "name": as_text(meta.get("name"), ""),
        "licenses": spec.get("licenses", 0),
        "dataPacks": spec.get("dataPacks", 0),
        **{field: status.get(field) for field in QUOTA_FIELDS},
        "notes": list(quota_notes(status)),
    }
