"""The leader-election Lease (coordination.k8s.io/v1) as the API server stores it: read,
create and replace one Lease, mapping the API server's answers onto the election's
terms (causeway.election). Replace sends the resourceVersion last read, so the API
server refuses it with 409 Conflict when anyone wrote since; create of a Lease that
exists is 409 AlreadyExists; replace of a deleted one is 404. All three are the same
thing to the election: this write lost."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kubernetes

from causeway.election import ElectionTiming, LeaseConflictError, LeaseRecord
from causeway.kube.client import operator_client

GROUP = "coordination.k8s.io"
VERSION = "v1"
PLURAL = "leases"
CONFIG_HASH_ANNOTATION = "causeway.dev/config-hash"
# A leader-election Lease is labelled so `causeway status` can find it in any namespace.
ROLE_LABEL = "causeway.dev/role"
ROLE_VALUE = "leader-election"


def lease_request_timeout(timing: ElectionTiming) -> float:
    """Each Lease call's whole time (connect and answer): an attempt's GET and PUT
    together take at most half the renew deadline, so a leader whose connection hung
    once still has time for a second attempt before it must stop acting."""
    return timing.renew_deadline / 4


class LeaseStoreApi:
    """One named Lease in one namespace (the election's LeaseStore)."""

    def __init__(
        self,
        configuration: kubernetes.client.Configuration,
        namespace: str,
        name: str,
        *,
        request_timeout: float,
    ) -> None:
        self.namespace = namespace
        self.name = name
        client = operator_client(configuration, request_timeout=request_timeout)
        self._custom = kubernetes.client.CustomObjectsApi(client)
        self._timeout = request_timeout

    def get(self) -> LeaseRecord | None:
        try:
            found: Any = self._custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, self.name, _request_timeout=self._timeout
            )
        except kubernetes.client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return lease_record(found)

    def create(self, record: LeaseRecord) -> LeaseRecord:
        try:
            created: Any = self._custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                self.namespace,
                PLURAL,
                lease_body(self.name, record),
                _request_timeout=self._timeout,
            )
        except kubernetes.client.ApiException as exc:
            if exc.status == 409:
                raise LeaseConflictError(f"Lease {self.name} exists already") from None
            raise
        return lease_record(created)

    def replace(self, record: LeaseRecord) -> LeaseRecord:
        try:
            replaced: Any = self._custom.replace_namespaced_custom_object(
                GROUP,
                VERSION,
                self.namespace,
                PLURAL,
                self.name,
                lease_body(self.name, record),
                _request_timeout=self._timeout,
            )
        except kubernetes.client.ApiException as exc:
            if exc.status in (404, 409):
                raise LeaseConflictError(f"Lease {self.name}: {exc.reason}") from None
            raise
        return lease_record(replaced)


def lease_body(name: str, record: LeaseRecord) -> dict[str, Any]:
    """The Lease object for `record`; with its resourceVersion when it has one, which
    makes a replace conditional on it."""
    metadata: dict[str, Any] = {
        "name": name,
        "labels": {ROLE_LABEL: ROLE_VALUE},
        "annotations": {CONFIG_HASH_ANNOTATION: record.config_hash},
    }
    if record.resource_version:
        metadata["resourceVersion"] = record.resource_version
    spec: dict[str, Any] = {
        "holderIdentity": record.holder,
        "leaseDurationSeconds": record.lease_duration_seconds,
        "leaseTransitions": record.transitions,
    }
    if record.acquire_time is not None:
        spec["acquireTime"] = micro_time(record.acquire_time)
    if record.renew_time is not None:
        spec["renewTime"] = micro_time(record.renew_time)
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Lease", "metadata": metadata, "spec": spec}


def lease_record(body: Any) -> LeaseRecord:
    """What the election needs from a Lease the API server returned (any field may be
    missing: a Lease created by hand or by another tool still parses)."""
    metadata = (body or {}).get("metadata") or {}
    spec = (body or {}).get("spec") or {}
    annotations = metadata.get("annotations") or {}
    return LeaseRecord(
        holder=str(spec.get("holderIdentity") or ""),
        lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
        acquire_time=_parse_micro_time(spec.get("acquireTime")),
        renew_time=_parse_micro_time(spec.get("renewTime")),
        transitions=int(spec.get("leaseTransitions") or 0),
        config_hash=str(annotations.get(CONFIG_HASH_ANNOTATION) or ""),
        resource_version=str(metadata.get("resourceVersion") or ""),
    )


def micro_time(moment: datetime) -> str:
    """metav1.MicroTime: RFC 3339 in UTC with exactly six fractional digits and 'Z'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_micro_time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None  # shown to people only; the election never reads it
