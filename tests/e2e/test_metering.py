"""End to end: metering and data limits with the real operator against the sandbox,
whose CloudWatch holds BytesProcessed with the real dimension sets. The operator's
clock is injected and frozen, so tests cross the hour and the day by moving it.

Usage in status, one metric per endpoint per cycle, the hard outbound limit swapping
security groups (connection and credential say until when; a new endpoint starts
blocked), reopening at the top of the hour, a restart mid-hour (no reset, no double
count, block kept), CloudWatch failing (block kept, none on a guess), a connection
deleted mid-hour still counting, and the soft limits reported, not enforced."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from causeway.sandbox.clock import SandboxClock
from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import (
    QUOTAS,
    condition,
    eventually,
    outbound,
    status_of,
    uid_of,
    wait_phase,
)

MB = 10**6
LIMIT_MB = 56480
START = datetime(2026, 11, 28, 14, 10, tzinfo=UTC)
REOPEN = "2026-11-28T15:00:00Z"
ACME_ACCOUNT = "222222222222"


@pytest.fixture
def clock() -> SandboxClock:
    return SandboxClock(START, frozen=True)


@pytest.fixture
def stack(clock: SandboxClock, kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s",
        namespaces=["acme", "globex"],
        clock=clock,
        metering_seconds=0.3,
        kube_backend=kube_backend,
    ) as running:
        running.grant_quota("acme", licenses=3, data_packs=1, accounts=[ACME_ACCOUNT])
        running.grant_quota("globex", licenses=1)
        running.start_operator()
        yield running


def ready_outbound(stack: SandboxStack, name: str, namespace: str = "acme") -> tuple[str, str]:
    """An available OutboundConnection: (its endpoint, its service name)."""
    service = stack.aws.create_tenant_service(acceptance_required=True)
    stack.kube.apply(outbound(name, service.service_name, namespace=namespace))
    vpce = wait_phase(stack, namespace, name, "PendingAcceptance")["vpcEndpointId"]
    stack.aws.accept(service.service_id, vpce)
    wait_phase(stack, namespace, name, "Ready")
    return vpce, service.service_name


def send(stack: SandboxStack, endpoint: tuple[str, str], mb: float, at: datetime) -> None:
    """The endpoint's traffic as CloudWatch records it (AWS/PrivateLinkEndpoints)."""
    assert stack.config is not None
    vpc = stack.config.regions[stack.region].transitVpcId
    stack.aws.put_endpoint_bytes(endpoint[0], endpoint[1], vpc, mb * MB, at)


def quota(stack: SandboxStack, namespace: str = "acme") -> dict[str, Any]:
    return status_of(stack, namespace, namespace, QUOTAS)


def used_out(stack: SandboxStack, mb: int, namespace: str = "acme") -> dict[str, Any]:
    return eventually(
        lambda: (
            (q := quota(stack, namespace)).get("used", {}).get("hourlyOutboundBytes") == mb * MB
            and q
        ),
        what=f"{namespace} to show {mb} MB outbound this hour",
    )


def groups(stack: SandboxStack, vpce: str) -> list[str]:
    return sorted(stack.aws.endpoint_security_groups(vpce))


def lets_in(stack: SandboxStack, vpce: str) -> bool:
    """What AWS enforces: traffic reaches the endpoint only through its groups' rules."""
    return stack.aws.endpoint_lets_traffic_in(vpce)


def tenant_group(stack: SandboxStack, vpce: str) -> str:
    """The endpoint's one group: its tenant's own (never a shared or another's)."""
    (group,) = groups(stack, vpce)
    tags = stack.aws.resource_tags(group)
    assert tags["causeway.dev/kind"] == "TenantSecurityGroup"
    assert (
        tags["causeway.dev/owner-namespace"]
        == stack.aws.endpoint_tags(vpce)["causeway.dev/owner-namespace"]
    )
    return group


def events(stack: SandboxStack, reason: str, namespace: str = "acme") -> list[dict[str, Any]]:
    return [
        e for e in stack.kube.list("events.events.k8s.io", namespace) if e.get("reason") == reason
    ]


def wait_blocked(stack: SandboxStack, vpce: str) -> None:
    eventually(lambda: not lets_in(stack, vpce), what=f"{vpce} to let no traffic in")
    tenant_group(stack, vpce)  # closed through its tenant group, not modified itself


def wait_reopened(stack: SandboxStack, vpce: str) -> None:
    eventually(lambda: lets_in(stack, vpce), what=f"{vpce} to let traffic in again")
    tenant_group(stack, vpce)


def test_usage_appears_in_status_one_metric_per_endpoint(stack: SandboxStack) -> None:
    inventory = ready_outbound(stack, "inventory")
    reporting = ready_outbound(stack, "reporting")
    # Earlier today (the day only) goes first: a cycle may run between two sends, and
    # 1500 MB this hour then means every datapoint was there when it was read.
    send(stack, reporting, 700, START - timedelta(hours=2))
    send(stack, reporting, 300, START - timedelta(minutes=1))
    send(stack, inventory, 1200.4, START - timedelta(minutes=5))
    status = used_out(stack, 1500)
    assert status["used"]["dailyBytes"] == 2200 * MB
    assert status["hard"]["dailyBytes"] == 20_000 * MB  # 5 GB x (3 licenses + 1 pack)
    assert status["limits"]["PrivateConnectOutboundCalloutHourlyLimitMB"] == {
        "max": LIMIT_MB,
        "remaining": LIMIT_MB - 1500,
    }
    assert status["limits"]["PrivateConnectDailyDataAllocationMB"] == {
        "max": 20_000,
        "remaining": 17_800,
    }
    assert status["resetsAt"] == {"hour": REOPEN, "day": "2026-11-29T00:00:00Z"}
    assert status["lastMeteredTime"] == "2026-11-28T14:10:00Z"
    assert condition(status, "Metered")["status"] == "True"
    assert condition(status, "OutboundBlocked")["status"] == "False"
    assert quota(stack, "globex")["used"]["dailyBytes"] == 0

    stack.aws.reset_call_counts()
    eventually(
        lambda: stack.aws.call_counts().get("GetMetricData", 0) >= 3, what="three more cycles"
    )
    calls = stack.aws.call_counts()["GetMetricData"]
    assert stack.aws.metrics_requested() in (2 * calls, 2 * calls + 2)  # one per endpoint


def test_the_hourly_limit_blocks_until_the_top_of_the_hour(
    stack: SandboxStack, clock: SandboxClock
) -> None:
    inventory = ready_outbound(stack, "inventory")
    stack.kube.apply(
        {
            "apiVersion": "causeway.dev/v1alpha1",
            "kind": "NamedCredential",
            "metadata": {"name": "inventory-api", "namespace": "acme"},
            "spec": {
                "url": "https://inventory.acme.internal/v1",
                "outboundConnection": "inventory",
                "publishSecret": "inventory-callout",
            },
        }
    )
    wait_phase(stack, "acme", "inventory-api", "Ready", kind="namedcredentials")
    send(stack, inventory, 56_000, START - timedelta(minutes=8))
    used_out(stack, 56_000)
    assert lets_in(stack, inventory[0])
    assert eventually(
        lambda: events(stack, "OutboundHourlyLimit80Percent"),
        what="the OutboundHourlyLimit80Percent Event",
    )

    send(stack, inventory, LIMIT_MB - 56_000, START - timedelta(minutes=2))  # exactly the limit
    wait_blocked(stack, inventory[0])
    # The block is recorded on the tenant group (a restart keeps it), not on the endpoint.
    tags = stack.aws.resource_tags(tenant_group(stack, inventory[0]))
    assert tags["causeway.dev/blocked-until"] == REOPEN
    assert "causeway.dev/blocked-until" not in stack.aws.endpoint_tags(inventory[0])
    connection = eventually(
        lambda: (s := status_of(stack, "acme", "inventory")).get("blockedUntil") and s,
        what="the connection to say it is blocked",
    )
    assert connection["phase"] == "Ready" and connection["blockedUntil"] == REOPEN
    assert condition(connection, "Blocked")["reason"] == "HourlyLimitReached"
    credential = eventually(
        lambda: (
            (s := status_of(stack, "acme", "inventory-api", "namedcredentials")).get("blockedUntil")
            and s
        ),
        what="the credential to say it is blocked",
    )
    assert f"blocked until {REOPEN}" in credential["message"]
    assert condition(credential, "Blocked")["reason"] == "HourlyLimitReached"
    secret = stack.kube.get("secrets", "acme", "inventory-callout") or {}
    assert base64.b64decode(secret["data"]["blockedUntil"]).decode() == REOPEN
    status = eventually(
        lambda: condition(q := quota(stack), "OutboundBlocked").get("status") == "True" and q,
        what="the quota to say outbound is blocked",
    )
    assert status["blockedUntil"] == REOPEN
    assert status["limits"]["PrivateConnectOutboundCalloutHourlyLimitMB"]["remaining"] == 0
    assert eventually(
        lambda: events(stack, "HourlyLimitReached"), what="the HourlyLimitReached Event"
    )

    # A connection created while the tenant is blocked starts blocked.
    service = stack.aws.create_tenant_service(acceptance_required=True)
    stack.kube.apply(outbound("billing", service.service_name))
    billing = wait_phase(stack, "acme", "billing", "PendingAcceptance")["vpcEndpointId"]
    assert not lets_in(stack, billing)
    assert tenant_group(stack, billing) == tenant_group(stack, inventory[0])

    clock.jump_to(datetime(2026, 11, 28, 15, 0, 1, tzinfo=UTC))
    wait_reopened(stack, inventory[0])
    wait_reopened(stack, billing)
    eventually(
        lambda: (
            not status_of(stack, "acme", "inventory").get("blockedUntil")
            and condition(status_of(stack, "acme", "inventory"), "Blocked")["status"] == "False"
        ),
        what="the connection to say it is open",
    )
    eventually(
        lambda: (
            condition(status_of(stack, "acme", "inventory-api", "namedcredentials"), "Blocked").get(
                "status"
            )
            == "False"
        ),
        what="the credential to say it is open",
    )
    after = eventually(
        lambda: (q := quota(stack))["resetsAt"]["hour"] == "2026-11-28T16:00:00Z" and q,
        what="the quota to show the new hour",
    )
    assert condition(after, "OutboundBlocked")["status"] == "False"
    assert after["used"]["hourlyOutboundBytes"] == 0
    assert after["used"]["dailyBytes"] == LIMIT_MB * MB


def test_a_restart_mid_hour_keeps_the_count_and_the_block(
    stack: SandboxStack, clock: SandboxClock
) -> None:
    inventory = ready_outbound(stack, "inventory")
    send(stack, inventory, LIMIT_MB + 10, START - timedelta(minutes=3))
    wait_blocked(stack, inventory[0])
    used_out(stack, LIMIT_MB + 10)

    # CloudWatch is down when the new operator starts: the block must hold anyway.
    stack.stop_operator(stack.operators[0])
    stack.aws.break_api("GetMetricData")
    stack.start_operator()
    failing = eventually(
        lambda: condition(q := quota(stack), "Metered").get("status") == "False" and q,
        what="the quota to say it cannot be metered",
    )
    assert "none read since the operator started" in condition(failing, "Metered")["message"]
    assert failing["used"]["hourlyOutboundBytes"] == (LIMIT_MB + 10) * MB
    # Blocked is claimed once the new operator's listing shows the swap (its first region
    # pass may come after that status write): until then it says BlockInProgress.
    eventually(
        lambda: condition(quota(stack), "OutboundBlocked").get("status") == "True",
        what="the block confirmed from AWS after the restart",
    )
    polls = stack.aws.call_counts().get("DescribeVpcEndpoints", 0)
    eventually(
        lambda: stack.aws.call_counts().get("DescribeVpcEndpoints", 0) > polls + 2,
        what="a few region passes",
    )
    assert not lets_in(stack, inventory[0])

    stack.aws.heal_api("GetMetricData")
    healed = eventually(
        lambda: condition(q := quota(stack), "Metered").get("status") == "True" and q,
        what="metering to recover",
    )
    assert healed["used"]["hourlyOutboundBytes"] == (LIMIT_MB + 10) * MB  # not doubled
    assert not lets_in(stack, inventory[0])

    clock.jump_to(datetime(2026, 11, 28, 15, 0, 1, tzinfo=UTC))
    wait_reopened(stack, inventory[0])


def test_cloudwatch_failing_keeps_the_block_and_never_blocks_on_a_guess(
    stack: SandboxStack, clock: SandboxClock
) -> None:
    inventory = ready_outbound(stack, "inventory")
    send(stack, inventory, 50_000, START - timedelta(minutes=9))
    used_out(stack, 50_000)

    stack.aws.break_api("GetMetricData")
    send(stack, inventory, 10_000, START - timedelta(minutes=1))  # over, but unseen
    failing = eventually(
        lambda: condition(q := quota(stack), "Metered").get("status") == "False" and q,
        what="the quota to say it cannot be metered",
    )
    assert condition(failing, "Metered")["reason"] == "AwsUnavailable"
    assert "the figures are from 2026-11-28T14:10:00Z" in condition(failing, "Metered")["message"]
    assert failing["used"]["hourlyOutboundBytes"] == 50_000 * MB
    assert lets_in(stack, inventory[0])

    stack.aws.heal_api("GetMetricData")
    wait_blocked(stack, inventory[0])
    stack.aws.break_api("GetMetricData")
    eventually(
        lambda: condition(quota(stack), "Metered").get("status") == "False",
        what="metering to fail again",
    )
    assert not lets_in(stack, inventory[0])

    clock.jump_to(datetime(2026, 11, 28, 15, 0, 1, tzinfo=UTC))  # the block ends on time
    wait_reopened(stack, inventory[0])
    stack.aws.heal_api("GetMetricData")


def test_a_connection_deleted_mid_hour_still_counts_after_a_restart(
    stack: SandboxStack, clock: SandboxClock
) -> None:
    inventory = ready_outbound(stack, "inventory")
    reporting = ready_outbound(stack, "reporting")
    send(stack, reporting, 1000, START - timedelta(minutes=4))
    used_out(stack, 1000)

    stack.kube.delete("outboundconnections", "acme", "reporting")
    eventually(lambda: stack.kube.get("outboundconnections", "acme", "reporting") is None)
    send(stack, inventory, 500, START - timedelta(minutes=1))
    kept = used_out(stack, 1500)
    eventually(
        lambda: [e["id"] for e in quota(stack).get("retiredEndpoints", [])] == [reporting[0]],
        what="the deleted connection's endpoint to be kept for the day",
    )
    assert kept["used"]["dailyBytes"] == 1500 * MB

    stack.stop_operator(stack.operators[0])
    stack.start_operator()
    stack.aws.reset_call_counts()
    eventually(lambda: stack.aws.call_counts().get("GetMetricData", 0) >= 3, what="cycles")
    assert quota(stack)["used"]["hourlyOutboundBytes"] == 1500 * MB

    clock.jump_to(datetime(2026, 11, 29, 0, 0, 30, tzinfo=UTC))  # a new UTC day
    day = eventually(
        lambda: (q := quota(stack))["resetsAt"]["day"] == "2026-11-30T00:00:00Z" and q,
        what="the new day",
    )
    assert day["used"]["dailyBytes"] == 0
    eventually(lambda: quota(stack).get("retiredEndpoints") in (None, []), what="nothing kept")


def test_soft_limits_are_reported_not_enforced(stack: SandboxStack) -> None:
    vpce = stack.aws.create_tenant_endpoint(ACME_ACCOUNT)
    stack.kube.apply(
        {
            "apiVersion": "causeway.dev/v1alpha1",
            "kind": "InboundConnection",
            "metadata": {"name": "loader", "namespace": "acme"},
            "spec": {"region": stack.region, "vpcEndpointId": vpce},
        }
    )
    wait_phase(stack, "acme", "loader", "Ready", kind="inboundconnections")
    service_id = stack.aws.inbound_services[stack.region].service_id
    stack.aws.put_service_bytes(service_id, vpce, (LIMIT_MB + 1) * MB, START)
    status = eventually(
        lambda: (
            condition(q := quota(stack), "InboundHourlyLimitExceeded").get("status") == "True" and q
        ),
        what="the inbound hourly limit to be reported",
    )
    assert status["used"]["hourlyInboundBytes"] == (LIMIT_MB + 1) * MB
    assert condition(status, "DailyAllocationExceeded")["status"] == "True"  # 20,000 MB/day
    assert condition(status, "OutboundBlocked")["status"] == "False"
    # The Events follow the status write that announced them: wait for them, not race.
    daily = eventually(lambda: events(stack, "DailyAllocationExceeded"), what="the daily Event")
    assert daily[0]["type"] == "Warning"
    assert eventually(
        lambda: events(stack, "InboundHourlyLimitExceeded"), what="the inbound hourly Event"
    )
    assert status_of(stack, "acme", "loader", "inboundconnections")["phase"] == "Ready"
    assert uid_of(stack, "loader", kind="inboundconnections")
