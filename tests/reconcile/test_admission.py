"""Admission, as tables: every refusal reason with its message, the tie-breaks of claims
and licenses (oldest first, then namespace/name), sticky licenses and claims,
over-licensing, and that no message names another tenant."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from causeway.domain import ConnectionRequest, Direction
from causeway.reconcile.admission import Admission, Claimant, Quota, Reason, admit

SERVICES = {"us-east-1": "com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d4e5f60718"}
TENANT_ACCOUNT = "222222222222"


def quota(namespace: str = "acme", licenses: int = 2, *accounts: str, **changes: Any) -> Quota:
    return Quota(
        namespace,
        changes.get("name", namespace),
        changes.get("created", "2026-11-01T00:00:00Z"),
        licenses,
        frozenset(accounts or (TENANT_ACCOUNT,)),
    )


def outbound(name: str, minute: int = 0, **changes: Any) -> Claimant:
    base = Claimant(
        direction=Direction.OUTBOUND,
        namespace="acme",
        name=name,
        uid=f"uid-{changes.get('namespace', 'acme')}-{name}",
        created=f"2026-11-22T10:{minute:02d}:00Z",
        region="us-east-1",
        wants=True,
        holds=False,
    )
    return replace(base, **changes)


def inbound(
    name: str, minute: int = 0, *, state: str | None = "pendingAcceptance", **changes: Any
) -> Claimant:
    endpoint = changes.pop("endpoint_id", "vpce-0123456789abcdef0")
    account = changes.pop("account", TENANT_ACCOUNT)
    request = None if state is None else ConnectionRequest(endpoint, account, state)
    base = replace(
        outbound(name, minute),
        direction=Direction.INBOUND,
        endpoint_id=endpoint,
        request=request,
    )
    namespace = changes.get("namespace", "acme")
    return replace(base, uid=f"uid-{namespace}-{name}", **changes)


def judged(claimants: list[Claimant], quotas: list[Quota]) -> Admission:
    return admit(claimants, quotas, SERVICES)


def reason(admission: Admission, claimant: Claimant) -> Reason | None:
    return admission.verdict(claimant.uid).reason


# --- refusals ----------------------------------------------------------------------------

REFUSALS: list[tuple[str, Claimant, list[Quota], Reason, list[str]]] = [
    # name, claimant, quotas, reason, fragments of the message
    (
        "outbound without a quota",
        outbound("a"),
        [],
        Reason.NO_QUOTA,
        ["no ConnectionQuota", "Ask the platform admin"],
    ),
    (
        "inbound without a quota",
        inbound("a"),
        [],
        Reason.NO_QUOTA,
        ["no ConnectionQuota", "AWS accounts"],
    ),
    (
        "inbound endpoint not found",
        inbound("a", state=None),
        [quota()],
        Reason.ENDPOINT_NOT_FOUND,
        ["vpce-0123456789abcdef0", SERVICES["us-east-1"], "us-east-1"],
    ),
    (
        "inbound from an account not listed",
        inbound("a", account="999999999999"),
        [quota()],
        Reason.ACCOUNT_NOT_ALLOWED,
        ["vpce-0123456789abcdef0", TENANT_ACCOUNT, "ConnectionQuota acme"],
    ),
    (
        "outbound over the licenses",
        outbound("a"),
        [quota(licenses=0)],
        Reason.LICENSE_LIMIT,
        ["All 0 outbound licenses", "0 ahead"],
    ),
]


@pytest.mark.parametrize(
    ("claimant", "quotas", "expected", "fragments"),
    [row[1:] for row in REFUSALS],
    ids=[row[0] for row in REFUSALS],
)
def test_each_refusal_has_its_reason_and_a_message(
    claimant: Claimant, quotas: list[Quota], expected: Reason, fragments: list[str]
) -> None:
    verdict = judged([claimant], quotas).verdict(claimant.uid)
    assert (verdict.admitted, verdict.reason) == (False, expected)
    for fragment in fragments:
        assert fragment in verdict.message


def test_a_foreign_account_is_never_named_to_the_tenant() -> None:
    claimant = inbound("a", account="999999999999")
    assert "999999999999" not in judged([claimant], [quota()]).verdict(claimant.uid).message


def test_an_admitted_inbound_connection_passes_every_check() -> None:
    claimant = inbound("a")
    assert judged([claimant], [quota()]).verdict(claimant.uid).admitted


def test_a_request_past_accepting_is_neither_admitted_nor_refused() -> None:
    claimant = inbound("a", state="rejected")
    verdict = judged([claimant], [quota()]).verdict(claimant.uid)
    assert (verdict.admitted, verdict.reason) == (False, None)


# --- claims -------------------------------------------------------------------------------


def test_the_older_claim_wins_and_the_loser_in_the_same_namespace_learns_its_name() -> None:
    older, younger = inbound("first", 1), inbound("second", 2)
    admission = judged([younger, older], [quota()])
    assert admission.verdict(older.uid).admitted
    refused = admission.verdict(younger.uid)
    assert refused.reason is Reason.ENDPOINT_CLAIMED
    assert "InboundConnection first in this namespace" in refused.message


def test_a_claim_in_another_namespace_reveals_nothing_of_it() -> None:
    acme = inbound("loader", 1)
    other = inbound("sneaky", 2, namespace="globex")
    admission = judged([acme, other], [quota(), quota("globex", 2, TENANT_ACCOUNT)])
    refused = admission.verdict(other.uid)
    assert refused.reason is Reason.ENDPOINT_CLAIMED
    assert "another tenant" in refused.message
    assert "acme" not in refused.message and "loader" not in refused.message


def test_claims_tie_on_time_break_on_namespace_then_name() -> None:
    b = inbound("b", 5, namespace="beta")
    a = inbound("z", 5, namespace="alpha")
    quotas = [quota("alpha", 2, TENANT_ACCOUNT), quota("beta", 2, TENANT_ACCOUNT)]
    admission = judged([b, a], quotas)
    assert admission.verdict(a.uid).admitted
    assert reason(admission, b) is Reason.ENDPOINT_CLAIMED


def test_a_claim_that_holds_the_endpoint_keeps_it_against_an_older_one() -> None:
    holder = inbound("holder", 9, state="available", holds=True, owns_endpoint=True)
    older = inbound("older", 1)
    admission = judged([older, holder], [quota()])
    assert admission.verdict(holder.uid).admitted
    assert reason(admission, older) is Reason.ENDPOINT_CLAIMED


def test_an_ineligible_older_claim_does_not_block_a_valid_one() -> None:
    # The older claimant's namespace may not use the account: its claim does not count.
    older = inbound("older", 1, namespace="globex")
    valid = inbound("valid", 2)
    quotas = [quota(), quota("globex", 2, "333333333333")]
    admission = judged([older, valid], quotas)
    assert admission.verdict(valid.uid).admitted
    assert reason(admission, older) is Reason.ACCOUNT_NOT_ALLOWED


# --- licenses ----------------------------------------------------------------------------


def test_free_licenses_go_to_the_oldest_waiting_connections() -> None:
    connections = [
        outbound(name, minute)
        for name, minute in [("e", 5), ("a", 1), ("c", 3), ("b", 2), ("d", 4)]
    ]
    admission = judged(connections, [quota(licenses=3)])
    admitted = sorted(c.name for c in connections if admission.verdict(c.uid).admitted)
    assert admitted == ["a", "b", "c"]
    assert [admission.verdict(c.uid).ahead for c in connections if c.name in "de"] == [1, 0]
    use = admission.usage["acme"]
    assert (use.held[Direction.OUTBOUND], use.waiting[Direction.OUTBOUND]) == (0, 2)


def test_license_ties_break_on_name() -> None:
    same_time = [outbound("b", 1), outbound("a", 1)]
    admission = judged(same_time, [quota(licenses=1)])
    assert admission.verdict("uid-acme-a").admitted
    assert not admission.verdict("uid-acme-b").admitted


def test_held_licenses_are_sticky_even_for_younger_connections() -> None:
    holder = outbound("young-holder", 9, holds=True)
    older_waiting = outbound("old-waiting", 1)
    admission = judged([older_waiting, holder], [quota(licenses=1)])
    assert admission.verdict(holder.uid).admitted
    assert reason(admission, older_waiting) is Reason.LICENSE_LIMIT


def test_a_holder_keeps_its_license_when_its_quota_or_account_goes() -> None:
    holder = inbound("kept", 1, state="available", holds=True, owns_endpoint=True)
    admission = judged([holder], [])
    assert admission.verdict(holder.uid).admitted


def test_each_license_is_one_connection_per_direction() -> None:
    out = [outbound("o1", 1), outbound("o2", 2)]
    into = [
        inbound("i1", 1, endpoint_id="vpce-00000000000000001"),
        inbound("i2", 2, endpoint_id="vpce-00000000000000002"),
    ]
    admission = judged(out + into, [quota(licenses=1)])
    admitted = {c.name for c in out + into if admission.verdict(c.uid).admitted}
    assert admitted == {"o1", "i1"}


def test_a_lowered_license_count_is_over_licensed_and_refuses_nobody_holding() -> None:
    holders = [outbound(f"h{i}", i, holds=True) for i in range(3)]
    waiting = outbound("w", 9)
    admission = judged([*holders, waiting], [quota(licenses=2)])
    assert all(admission.verdict(h.uid).admitted for h in holders)
    assert reason(admission, waiting) is Reason.LICENSE_LIMIT
    assert admission.usage["acme"].over_licensed() == [Direction.OUTBOUND]


def test_connections_not_wanting_hold_without_a_verdict() -> None:
    leaving = outbound("leaving", 1, wants=False, holds=True)
    waiting = outbound("waiting", 2)
    admission = judged([leaving, waiting], [quota(licenses=1)])
    assert reason(admission, waiting) is Reason.LICENSE_LIMIT  # freed only once it is gone
    assert admission.usage["acme"].held[Direction.OUTBOUND] == 1


# --- quotas --------------------------------------------------------------------------------


def test_the_oldest_quota_of_a_namespace_counts() -> None:
    older = quota(licenses=1, name="first", created="2026-11-01T00:00:00Z")
    newer = quota(licenses=9, name="second", created="2026-11-02T00:00:00Z")
    connections = [outbound("a", 1), outbound("b", 2)]
    admission = judged(connections, [newer, older])
    assert [admission.verdict(c.uid).admitted for c in connections] == [True, False]
    use = admission.usage["acme"]
    assert use.quota == older and use.shadowed == ("second",)


def test_a_namespace_without_connections_still_reports_its_quota() -> None:
    use = judged([], [quota(licenses=4)]).usage["acme"]
    assert (use.licenses, use.held[Direction.INBOUND]) == (4, 0)
