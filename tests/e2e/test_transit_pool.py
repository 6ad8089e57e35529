"""End to end: a pool of transit VPCs. With 2 VPCs of capacity 5 and 12 connections, the
10 oldest are provisioned and the 2 youngest wait (TransitCapacityExhausted, no AWS
call of their own); a teardown provisions the next within one poll; a third VPC added
to the config provisions the rest after a restart; a draining VPC gets nothing new;
AWS's own quota (lower than configured) sends a connection to the next VPC; a VPC
removed from the config keeps its endpoints managed; the hourly block swaps to the
blocked group of each endpoint's own VPC; a subnet of another VPC is named at start
and its VPC skipped."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from causeway.sandbox.clock import SandboxClock
from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import (
    OUTBOUND,
    condition,
    eventually,
    live_endpoints_of,
    outbound,
    status_of,
    uid_of,
    wait_phase,
)

NAMES = [f"conn-{i:02d}" for i in range(1, 13)]
POLL_SECONDS = 1.0


@pytest.fixture
def stack(kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s",
        namespaces=["acme"],
        transit_vpcs=2,
        max_endpoints=5,
        kube_backend=kube_backend,
    ) as running:
        running.grant_quota("acme", licenses=20)
        yield running


def pool_ids(stack: SandboxStack) -> list[str]:
    assert stack.config is not None
    return [vpc.vpcId for vpc in stack.config.regions[stack.region].pool]


def vpc_of(stack: SandboxStack, name: str) -> str:
    (endpoint,) = live_endpoints_of(stack, uid_of(stack, name))
    return str(endpoint["VpcId"])


def restart(stack: SandboxStack) -> None:
    for running in list(stack.operators):
        stack.stop_operator(running)
    stack.start_operator()


def test_a_full_pool_waits_oldest_first_and_fills_as_room_appears(stack: SandboxStack) -> None:
    first, second = pool_ids(stack)
    service = stack.aws.create_tenant_service(acceptance_required=False)
    stack.start_operator()
    for name in NAMES:  # same-second creation ties go by name: conn-01 is the oldest
        stack.kube.apply(outbound(name, service.service_name))
    for name in NAMES[:10]:
        ready = wait_phase(stack, "acme", name, "Ready")
        assert ready["transitVpcId"] == vpc_of(stack, name)
    assert Counter(vpc_of(stack, name) for name in NAMES[:10]) == {first: 5, second: 5}
    assert [vpc_of(stack, name) for name in NAMES[:5]] == [first] * 5  # fill-first
    for name in NAMES[10:]:
        waiting = wait_phase(stack, "acme", name, "Unprovisioned")
        stalled = condition(waiting, "Stalled")
        assert stalled["reason"] == "TransitCapacityExhausted"
        assert "adding capacity in us-east-1; nothing to do on your side" in waiting["message"]
        assert waiting.get("vpcEndpointId") is None
    # Waiting costs no AWS call: 10 creates, none refused, whatever the passes since.
    creates = stack.aws.call_counts()["CreateVpcEndpoint"]
    assert creates == 10
    written = status_of(stack, "acme", "conn-11")
    eventually(lambda: _passes_went_by(stack, 3), what="three more polls")
    assert stack.aws.call_counts()["CreateVpcEndpoint"] == creates
    assert status_of(stack, "acme", "conn-11") == written  # nor a status write per poll
    events = stack.kube.list("events.events.k8s.io", "acme")
    assert any(
        e.get("type") == "Warning" and e.get("regarding", {}).get("name") == "conn-11"
        for e in events
    ), "a connection waiting for capacity gets a Warning event"

    stack.kube.delete(OUTBOUND, "acme", "conn-03")  # a teardown frees a slot in the first VPC
    ready = wait_phase(stack, "acme", "conn-11", "Ready", timeout=10 * POLL_SECONDS)
    assert ready["transitVpcId"] == first
    assert status_of(stack, "acme", "conn-12")["phase"] == "Unprovisioned"

    third = stack.aws.create_transit_vpc()
    stack.change_pool(lambda vpcs: [*vpcs, {**third, "maxEndpoints": 5}])
    restart(stack)
    assert wait_phase(stack, "acme", "conn-12", "Ready")["transitVpcId"] == third["vpcId"]
    for name in NAMES[:2] + NAMES[3:]:  # nothing moved, nothing recreated
        assert len(live_endpoints_of(stack, uid_of(stack, name))) == 1


def _passes_went_by(stack: SandboxStack, count: int) -> bool:
    before = stack.aws.call_counts().get("DescribeVpcEndpoints", 0)
    return eventually(
        lambda: stack.aws.call_counts().get("DescribeVpcEndpoints", 0) >= before + count,
        timeout=10,
        what=f"{count} listings",
    )


def test_a_draining_vpc_gets_nothing_new_and_keeps_what_it_has(stack: SandboxStack) -> None:
    first, second = pool_ids(stack)
    service = stack.aws.create_tenant_service(acceptance_required=False)
    stack.start_operator()
    stack.kube.apply(outbound("kept", service.service_name))
    assert wait_phase(stack, "acme", "kept", "Ready")["transitVpcId"] == first

    stack.change_pool(lambda vpcs: [{**vpcs[0], "draining": True}, vpcs[1]])
    restart(stack)
    for name in ("new-1", "new-2"):
        stack.kube.apply(outbound(name, service.service_name))
        assert wait_phase(stack, "acme", name, "Ready")["transitVpcId"] == second
    assert wait_phase(stack, "acme", "kept", "Ready")["transitVpcId"] == first


def test_aws_refusing_a_vpc_places_the_connection_in_the_next(stack: SandboxStack) -> None:
    first, second = pool_ids(stack)
    stack.aws.set_endpoint_quota(1, vpc_id=first)  # lower than maxEndpoints believes
    service = stack.aws.create_tenant_service(acceptance_required=False)
    stack.start_operator()
    stack.kube.apply(outbound("one", service.service_name))
    assert wait_phase(stack, "acme", "one", "Ready")["transitVpcId"] == first
    for name in ("two", "three"):
        stack.kube.apply(outbound(name, service.service_name))
        assert wait_phase(stack, "acme", name, "Ready")["transitVpcId"] == second
    # The first refusal counted the VPC as full: the next create went straight elsewhere.
    assert stack.aws.call_counts()["CreateVpcEndpoint"] == 4


def test_a_vpc_removed_from_the_config_keeps_its_endpoints_until_teardown(
    stack: SandboxStack,
) -> None:
    first, second = pool_ids(stack)
    service = stack.aws.create_tenant_service(acceptance_required=False)
    stack.start_operator()
    stack.kube.apply(outbound("old", service.service_name))
    assert wait_phase(stack, "acme", "old", "Ready")["transitVpcId"] == first

    stack.change_pool(lambda vpcs: vpcs[1:])
    restart(stack)
    stack.kube.apply(outbound("new", service.service_name))
    assert wait_phase(stack, "acme", "new", "Ready")["transitVpcId"] == second
    old_uid = uid_of(stack, "old")
    assert wait_phase(stack, "acme", "old", "Ready")["transitVpcId"] == first
    assert len(live_endpoints_of(stack, old_uid)) == 1

    stack.kube.delete(OUTBOUND, "acme", "old")
    eventually(lambda: not live_endpoints_of(stack, old_uid), what="the old endpoint deleted")


def test_the_single_vpc_config_still_works(kube_backend: KubeBackendFactory) -> None:
    with SandboxStack(poll_interval="1s", namespaces=["acme"], kube_backend=kube_backend) as single:
        single.grant_quota("acme", licenses=1)
        assert single.config is not None
        region: Any = single.config.regions[single.region]
        assert region.transitVpcs is None and len(region.pool) == 1
        service = single.aws.create_tenant_service(acceptance_required=False)
        single.start_operator()
        single.kube.apply(outbound("only", service.service_name))
        ready = wait_phase(single, "acme", "only", "Ready")
        assert ready["transitVpcId"] == region.transitVpcId


def test_the_hourly_block_uses_each_endpoints_own_vpc_groups(
    kube_backend: KubeBackendFactory,
) -> None:
    """Security groups belong to one VPC: each endpoint carries its tenant's group of
    its own VPC (one per tenant and VPC), a block closes every one of them, and a
    connection created while its tenant is blocked starts closed in the VPC it is
    placed in; at the top of the hour every one reopens."""
    start = datetime(2026, 11, 28, 14, 10, tzinfo=UTC)
    clock = SandboxClock(start, frozen=True)
    with SandboxStack(
        poll_interval="1s",
        namespaces=["acme"],
        clock=clock,
        metering_seconds=0.3,
        transit_vpcs=3,
        max_endpoints=1,
        kube_backend=kube_backend,
    ) as stack:
        stack.grant_quota("acme", licenses=3)
        stack.start_operator()
        service = stack.aws.create_tenant_service(acceptance_required=False)
        endpoints = {}
        for name in ("first", "second"):
            stack.kube.apply(outbound(name, service.service_name))
            ready = wait_phase(stack, "acme", name, "Ready")
            endpoints[ready["vpcEndpointId"]] = ready["transitVpcId"]
        assert len(set(endpoints.values())) == 2
        for vpce, vpc_id in endpoints.items():
            stack.aws.put_endpoint_bytes(
                vpce, service.service_name, vpc_id, 30_000 * 10**6, start - timedelta(minutes=1)
            )

        def closed(vpce: str) -> bool:
            return not stack.aws.endpoint_lets_traffic_in(vpce)

        def opened(vpce: str) -> bool:
            return stack.aws.endpoint_lets_traffic_in(vpce)

        for vpce, vpc_id in endpoints.items():
            eventually(partial(closed, vpce), what=f"{vpce} blocked in {vpc_id}")
        stack.kube.apply(outbound("third", service.service_name))  # placed in the third VPC
        third = wait_phase(stack, "acme", "third", "Ready")
        assert closed(third["vpcEndpointId"])

        clock.jump_to(datetime(2026, 11, 28, 15, 0, 1, tzinfo=UTC))
        endpoints[third["vpcEndpointId"]] = third["transitVpcId"]
        for vpce, vpc_id in endpoints.items():
            eventually(partial(opened, vpce), what=f"{vpce} reopened in {vpc_id}")
        tenant_groups = {stack.aws.endpoint_security_groups(v)[0] for v in endpoints}
        assert len(tenant_groups) == 3  # one per VPC: a group is of one VPC only


def test_a_subnet_of_another_vpc_is_named_at_start_and_that_vpc_is_skipped(
    stack: SandboxStack, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = pool_ids(stack)
    stranger = stack.aws.create_transit_vpc()
    wrong_subnet = stranger["subnetIds"][0]
    stack.change_pool(lambda vpcs: [{**vpcs[0], "subnetIds": [wrong_subnet]}, vpcs[1]])
    service = stack.aws.create_tenant_service(acceptance_required=False)
    with caplog.at_level(logging.ERROR, logger="causeway.startup"):
        stack.start_operator()
        stack.kube.apply(outbound("placed", service.service_name))
        assert wait_phase(stack, "acme", "placed", "Ready")["transitVpcId"] == second
    assert (
        f"regions.us-east-1.transitVpcs.0.subnetIds: {wrong_subnet} belongs to "
        f"{stranger['vpcId']}, not {first}"
    ) in caplog.text
