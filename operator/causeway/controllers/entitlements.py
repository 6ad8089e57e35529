"""The cluster-wide view admission judges (reconcile/admission.py), built from the
index and every region's view of AWS: every connection of every tenant (what it
wants, what it holds), every ConnectionQuota, and each inbound request. Also where
each InboundConnection's source ranges are (its SourceRangeAllocations)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import ValidationError

from causeway.api import (
    CONNECTION_QUOTA,
    INBOUND,
    OUTBOUND,
    SOURCE_RANGE_ALLOCATION,
    allocation_owner_uid,
)
from causeway.api.inbound import InboundConnectionSpec
from causeway.api.quota import ConnectionQuotaSpec
from causeway.controllers.outbound import InvalidObjectError, request_from
from causeway.domain import ConnectionRequest, Direction, endpoint_service_name
from causeway.index import ObjectSnapshot
from causeway.reconcile.admission import ACCEPTED, Admission, Claimant, Quota, admit
from causeway.reconcile.outbound import ended_without_request
from causeway.reconcile.phases import LIVE_STATES, normalize
from causeway.runtime import Runtime


@dataclass(frozen=True)
class Allocation:
    """One SourceRangeAllocation, as the index holds it."""

    name: str
    region: str
    cidr: str
    endpoint_id: str
    owner_uid: str
    owner_namespace: str
    created: str = ""


def allocations(runtime: Runtime) -> list[Allocation]:
    found = []
    for snapshot in runtime.index[SOURCE_RANGE_ALLOCATION].all():
        spec = snapshot.spec
        owner = spec.get("owner") or {}
        found.append(
            Allocation(
                name=snapshot.name,
                region=str(spec.get("region", "")),
                cidr=str(spec.get("cidr", "")),
                endpoint_id=str(spec.get("vpcEndpointId", "")),
                owner_uid=allocation_owner_uid(spec),
                owner_namespace=str(owner.get("namespace", "")),
                created=snapshot.created,
            )
        )
    return found


def allocations_by_owner(runtime: Runtime) -> dict[str, list[Allocation]]:
    by_owner: dict[str, list[Allocation]] = defaultdict(list)
    for allocation in allocations(runtime):
        by_owner[allocation.owner_uid].append(allocation)
    for held in by_owner.values():
        held.sort(key=lambda a: (a.created, a.name))  # the first one is the one it keeps
    return by_owner


def judge(runtime: Runtime) -> Admission:
    """Admission over the whole cluster as the operator sees it now."""
    claimants = [*_outbound(runtime), *_inbound(runtime)]
    service_names = {
        region: endpoint_service_name(region, config.inboundServiceId)
        for region, config in runtime.config.regions.items()
        if config.inboundServiceId
    }
    return admit(claimants, list(_quotas(runtime)), service_names)


def _quotas(runtime: Runtime) -> Iterator[Quota]:
    for snapshot in runtime.index[CONNECTION_QUOTA].all():
        try:
            spec = ConnectionQuotaSpec.model_validate(snapshot.spec)
        except ValidationError:
            continue  # an invalid quota grants nothing (its own status says why)
        yield Quota(
            snapshot.namespace,
            snapshot.name,
            snapshot.created,
            spec.licenses,
            frozenset(spec.awsAccountIds),
            spec.dataPacks,
        )


def _outbound(runtime: Runtime) -> Iterator[Claimant]:
    for snapshot in runtime.index[OUTBOUND].all():
        region = snapshot.region
        view = runtime.views.get(region)
        owned = view.owned_by(snapshot.uid) if view else []
        holds = any(normalize(e.state) in LIVE_STATES for e in owned)
        memory = runtime.memories[snapshot.uid]
        try:
            request = request_from(snapshot, sync_requested=memory.sync_requested)
        except InvalidObjectError:
            yield _claimant(runtime, snapshot, Direction.OUTBOUND, holds=holds, valid=False)
            continue
        # Its endpoint ended and no new one is asked for: it waits for its tenant, not
        # for a license, so a younger connection may have that license (found by the
        # fault campaign, seed 1005 --rough: an older, rejected connection kept it).
        ended = ended_without_request(request, owned)
        yield _claimant(runtime, snapshot, Direction.OUTBOUND, holds=holds, ended=ended, valid=True)


def _inbound(runtime: Runtime) -> Iterator[Claimant]:
    by_owner = allocations_by_owner(runtime)
    for snapshot in runtime.index[INBOUND].all():
        region = snapshot.region
        view = runtime.views.get(region)
        endpoint_id = str(snapshot.spec.get("vpcEndpointId", ""))
        request = view.connection(endpoint_id) if view else None
        owns = any(
            a.endpoint_id == endpoint_id and a.region == region
            for a in by_owner.get(snapshot.uid, [])
        )
        accepted = request is not None and request.state.lower() in ACCEPTED
        yield _claimant(
            runtime,
            snapshot,
            Direction.INBOUND,
            holds=owns and accepted,
            endpoint_id=endpoint_id,
            request=request,
            owns_endpoint=owns,
            valid=_inbound_spec_parses(snapshot),
        )


def _claimant(
    runtime: Runtime,
    snapshot: ObjectSnapshot,
    direction: Direction,
    *,
    holds: bool,
    endpoint_id: str = "",
    request: ConnectionRequest | None = None,
    owns_endpoint: bool = False,
    ended: bool = False,
    valid: bool,
) -> Claimant:
    return Claimant(
        direction=direction,
        namespace=snapshot.namespace,
        name=snapshot.name,
        uid=snapshot.uid,
        created=snapshot.created,
        region=snapshot.region,
        wants=_wants(runtime, snapshot, direction, valid) and not ended,
        holds=holds,
        endpoint_id=endpoint_id,
        request=request,
        owns_endpoint=owns_endpoint,
    )


def _inbound_spec_parses(snapshot: ObjectSnapshot) -> bool:
    try:
        InboundConnectionSpec.model_validate(snapshot.spec)
    except ValidationError:
        return False
    return True


def _wants(runtime: Runtime, snapshot: ObjectSnapshot, direction: Direction, valid: bool) -> bool:
    """Provisioned, not being deleted, its spec valid (`valid`, parsed by the caller), in
    a region that offers the direction, and not held back by a failure only the tenant
    (or a sync) can clear."""
    if snapshot.deleting or not snapshot.spec.get("provisioned", True):
        return False
    region = runtime.config.regions.get(snapshot.region)
    if region is None or (direction is Direction.INBOUND and not region.inbound_enabled):
        return False
    if not valid:
        return False
    return not runtime.memories[snapshot.uid].held_back(snapshot.generation, snapshot.status)
