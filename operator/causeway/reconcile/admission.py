"""Who may have what, decided cluster-wide in one pure function (no I/O).

Every connection of every tenant in every region is judged together, so the answer
is the same whoever asks and whenever (a restart, a re-list, another region's pass):

- a tenant is a namespace; its entitlement is its ConnectionQuota (the oldest one if
  an admin made two);
- an inbound connection needs its endpoint's request on the platform service, from
  an AWS account the quota lists, and no older claim on the same endpoint by another
  InboundConnection (a claim that already holds the endpoint keeps it);
- each license is one provisioned connection per direction; a connection that holds
  one keeps it (derived from AWS: a live endpoint, or an accepted request it owns),
  and free licenses go to waiting connections oldest first (creationTimestamp, then
  name);
- lowering the licenses below what is held tears nothing down: it is reported.

A connection refused here is never accepted and never rejected in AWS; it waits, and
a later fix (an account added, a license freed) lets it through on the next pass."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from causeway.domain import ConnectionRequest, Direction

# AWS states in which a request can still be accepted, and in which it is accepted.
ACCEPTABLE = frozenset({"pendingacceptance"})
ACCEPTED = frozenset({"pending", "available"})


class Reason(StrEnum):
    """Stable reasons a connection is not admitted."""

    NO_QUOTA = "NoConnectionQuota"
    ENDPOINT_NOT_FOUND = "EndpointNotFound"
    ACCOUNT_NOT_ALLOWED = "AccountNotAllowed"
    ENDPOINT_CLAIMED = "EndpointClaimed"
    LICENSE_LIMIT = "LicenseLimitReached"


@dataclass(frozen=True)
class Quota:
    """One ConnectionQuota as admission sees it."""

    namespace: str
    name: str
    created: str
    licenses: int
    accounts: frozenset[str]
    data_packs: int = 0  # not admission's business; metering reads it from here


@dataclass(frozen=True)
class Claimant:
    """One connection as admission sees it."""

    direction: Direction
    namespace: str
    name: str
    uid: str
    created: str
    region: str
    wants: bool  # provisioned, not being deleted, parseable, served, not stalled
    holds: bool  # AWS state says it holds a license now
    endpoint_id: str = ""  # inbound: the tenant's endpoint
    request: ConnectionRequest | None = None  # inbound: its request, if the service has one
    owns_endpoint: bool = False  # inbound: its allocation already names this endpoint

    @property
    def age_key(self) -> tuple[str, str, str]:
        return (self.created, self.namespace, self.name)


@dataclass(frozen=True)
class Verdict:
    """Whether a connection may be provisioned now, and if not, why."""

    admitted: bool
    reason: Reason | None = None
    message: str = ""
    ahead: int = 0  # waiting for a license: how many older connections wait before it


ADMITTED = Verdict(True)
NOT_ACCEPTABLE = Verdict(False)  # its request is past accepting (rejected, deleted…)


@dataclass(frozen=True)
class QuotaUse:
    """A namespace's licenses against what its connections hold and wait for."""

    namespace: str
    quota: Quota | None
    shadowed: tuple[str, ...]  # names of younger quotas in the namespace (ignored)
    held: Mapping[Direction, int]
    waiting: Mapping[Direction, int]

    @property
    def licenses(self) -> int:
        return self.quota.licenses if self.quota else 0

    def over_licensed(self) -> list[Direction]:
        return [d for d in Direction if self.held.get(d, 0) > self.licenses]


@dataclass(frozen=True)
class Admission:
    verdicts: Mapping[str, Verdict]  # by uid, for every claimant that wants to be provisioned
    usage: Mapping[str, QuotaUse]  # by namespace

    def verdict(self, uid: str) -> Verdict:
        return self.verdicts.get(uid, NOT_ACCEPTABLE)


def admit(
    claimants: Sequence[Claimant],
    quotas: Sequence[Quota],
    service_names: Mapping[str, str],
) -> Admission:
    """Judge every connection. `service_names`: the platform's inbound service name per
    region, for the message telling a tenant where to point its endpoint."""
    effective, shadowed = _effective_quotas(quotas)
    verdicts: dict[str, Verdict] = {}
    eligible: list[Claimant] = []
    for claimant in claimants:
        if not claimant.wants:
            continue
        # A holder keeps what it holds, even if its quota or account changed since.
        refusal = (
            None
            if claimant.holds
            else _eligibility(claimant, effective.get(claimant.namespace), service_names)
        )
        if refusal is None:
            eligible.append(claimant)
        else:
            verdicts[claimant.uid] = refusal
    eligible = _settle_claims(eligible, verdicts)
    usage = _grant_licenses(claimants, eligible, effective, shadowed, verdicts)
    return Admission(verdicts, usage)


def _effective_quotas(
    quotas: Sequence[Quota],
) -> tuple[dict[str, Quota], dict[str, tuple[str, ...]]]:
    """The oldest quota of each namespace counts; the others are listed as shadowed."""
    by_namespace: dict[str, list[Quota]] = defaultdict(list)
    for quota in quotas:
        by_namespace[quota.namespace].append(quota)
    effective, shadowed = {}, {}
    for namespace, found in by_namespace.items():
        first, *rest = sorted(found, key=lambda q: (q.created, q.name))
        effective[namespace] = first
        shadowed[namespace] = tuple(q.name for q in rest)
    return effective, shadowed


def _eligibility(
    claimant: Claimant, quota: Quota | None, service_names: Mapping[str, str]
) -> Verdict | None:
    """Why the connection cannot be provisioned whatever the licenses, or None."""
    if claimant.direction is Direction.INBOUND:
        request = claimant.request
        if request is None:
            return _refused(Reason.ENDPOINT_NOT_FOUND, _not_found(claimant, service_names))
        if request.state.lower() not in ACCEPTABLE | ACCEPTED:
            return NOT_ACCEPTABLE
    if quota is None:
        return _refused(Reason.NO_QUOTA, _no_quota(claimant))
    if claimant.direction is Direction.INBOUND:
        assert claimant.request is not None
        if claimant.request.owner_account not in quota.accounts:
            return _refused(Reason.ACCOUNT_NOT_ALLOWED, _foreign_account(claimant, quota))
    return None


def _settle_claims(eligible: list[Claimant], verdicts: dict[str, Verdict]) -> list[Claimant]:
    """One InboundConnection per endpoint: the one that holds it, else the oldest claim."""
    claims: dict[tuple[str, str], list[Claimant]] = defaultdict(list)
    for claimant in eligible:
        if claimant.direction is Direction.INBOUND:
            claims[(claimant.region, claimant.endpoint_id)].append(claimant)
    losers: set[str] = set()
    for contenders in claims.values():
        winner = min(contenders, key=lambda c: (not c.owns_endpoint, c.age_key))
        for loser in contenders:
            if loser is not winner:
                losers.add(loser.uid)
                verdicts[loser.uid] = _refused(Reason.ENDPOINT_CLAIMED, _claimed(loser, winner))
    return [c for c in eligible if c.uid not in losers]


def _grant_licenses(
    claimants: Sequence[Claimant],
    eligible: Iterable[Claimant],
    effective: Mapping[str, Quota],
    shadowed: Mapping[str, tuple[str, ...]],
    verdicts: dict[str, Verdict],
) -> dict[str, QuotaUse]:
    held: dict[tuple[str, Direction], int] = defaultdict(int)
    for claimant in claimants:
        if claimant.holds:
            held[(claimant.namespace, claimant.direction)] += 1
    queues: dict[tuple[str, Direction], list[Claimant]] = defaultdict(list)
    for claimant in eligible:
        if claimant.holds:
            verdicts[claimant.uid] = ADMITTED  # licenses are sticky
        else:
            queues[(claimant.namespace, claimant.direction)].append(claimant)
    waiting: dict[tuple[str, Direction], int] = defaultdict(int)
    for (namespace, direction), queue in queues.items():
        quota = effective.get(namespace)
        free = max(0, (quota.licenses if quota else 0) - held[(namespace, direction)])
        for position, claimant in enumerate(sorted(queue, key=lambda c: c.age_key)):
            if position < free:
                verdicts[claimant.uid] = ADMITTED
                continue
            waiting[(namespace, direction)] += 1
            ahead = position - free
            verdicts[claimant.uid] = _refused(
                Reason.LICENSE_LIMIT, _no_license(claimant, quota, ahead), ahead
            )
    namespaces = {c.namespace for c in claimants} | set(effective)
    return {
        namespace: QuotaUse(
            namespace,
            effective.get(namespace),
            shadowed.get(namespace, ()),
            {d: held[(namespace, d)] for d in Direction},
            {d: waiting[(namespace, d)] for d in Direction},
        )
        for namespace in namespaces
    }


def _refused(reason: Reason, message: str, ahead: int = 0) -> Verdict:
    return Verdict(False, reason, message, ahead)


# --- messages: what the tenant reads, never another tenant's names or accounts ---------


def _not_found(claimant: Claimant, service_names: Mapping[str, str]) -> str:
    service = service_names.get(claimant.region, "the platform's endpoint service")
    return (
        f"No connection request from {claimant.endpoint_id} reached the platform in "
        f"{claimant.region}. Create an interface endpoint to {service} in your VPC in "
        f"{claimant.region}, or check spec.vpcEndpointId; Causeway finds it within one poll."
    )


def _no_quota(claimant: Claimant) -> str:
    what = "licenses" if claimant.direction is Direction.OUTBOUND else "licenses or AWS accounts"
    return (
        f"This namespace has no ConnectionQuota, so it has no {what}. "
        "Ask the platform admin for one; the connection is provisioned as soon as it exists."
    )


def _foreign_account(claimant: Claimant, quota: Quota) -> str:
    allowed = ", ".join(sorted(quota.accounts)) or "none"
    return (
        f"The endpoint {claimant.endpoint_id} is not owned by an AWS account this namespace "
        f"may connect from (ConnectionQuota {quota.name} allows: {allowed}). Ask the platform "
        "admin to add the account, or use an endpoint from an allowed account."
    )


def _claimed(loser: Claimant, winner: Claimant) -> str:
    if winner.namespace == loser.namespace:
        return (
            f"The endpoint {loser.endpoint_id} is already claimed by InboundConnection "
            f"{winner.name} in this namespace (the older claim wins). Delete one of the two."
        )
    return (
        f"The endpoint {loser.endpoint_id} is already claimed by another tenant. "
        "Check spec.vpcEndpointId."
    )


def _no_license(claimant: Claimant, quota: Quota | None, ahead: int) -> str:
    licenses = quota.licenses if quota else 0
    plural = "license is" if licenses == 1 else "licenses are"
    return (
        f"All {licenses} {claimant.direction.value} {plural} in use by older connections of "
        f"this namespace; this one waits ({ahead} ahead of it) and is provisioned as soon as "
        "one frees up: a connection deleted or set provisioned: false, or more licenses from "
        "the platform admin."
    )
