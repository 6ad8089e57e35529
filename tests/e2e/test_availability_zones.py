"""End to end, with the sandbox refusing what AWS refuses (an endpoint subnet in a zone
its service does not run in): a service in 2 of the transit VPC's 3 zones becomes
Ready with an endpoint in exactly those 2; a service in a zone the transit VPC lacks
is Stalled with NoCommonAvailabilityZone and the tenant's message, with no create
call however many polls go by; in a pool where only the second VPC covers the
service's zone, the endpoint goes there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import condition, eventually, live_endpoints_of, outbound, uid_of, wait_phase

POLLS = 10


@pytest.fixture
def stack(kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s", namespaces=["acme"], transit_vpcs=2, kube_backend=kube_backend
    ) as running:
        running.grant_quota("acme", licenses=5)
        yield running


def zone_ids(stack: SandboxStack, *names: str) -> list[str]:
    return sorted(stack.aws.zone_id(f"{stack.region}{n}") for n in names)


def test_an_endpoint_is_made_in_exactly_the_zones_its_service_runs_in(
    stack: SandboxStack,
) -> None:
    service = stack.aws.create_tenant_service(
        acceptance_required=False, zones=[f"{stack.region}a", f"{stack.region}b"]
    )
    stack.start_operator()
    stack.kube.apply(outbound("two-zones", service.service_name))
    ready = wait_phase(stack, "acme", "two-zones", "Ready")
    assert ready["availabilityZoneIds"] == zone_ids(stack, "a", "b")
    (endpoint,) = live_endpoints_of(stack, uid_of(stack, "two-zones"))
    assert stack.config is not None
    first = stack.config.regions[stack.region].pool[0]
    assert sorted(endpoint["SubnetIds"]) == sorted(first.subnetIds[:2])  # a and b
    assert stack.aws.call_counts()["CreateVpcEndpoint"] == 1


def test_a_service_in_no_zone_of_the_platform_waits_without_creates(stack: SandboxStack) -> None:
    service = stack.aws.create_tenant_service(acceptance_required=False, zones=[f"{stack.region}d"])
    stack.start_operator()
    stack.kube.apply(outbound("elsewhere", service.service_name))
    waiting = wait_phase(stack, "acme", "elsewhere", "Unprovisioned")
    assert condition(waiting, "Stalled")["reason"] == "NoCommonAvailabilityZone"
    theirs, ours = zone_ids(stack, "d"), zone_ids(stack, "a", "b", "c")
    assert f"Your endpoint service runs in {theirs[0]}" in waiting["message"]
    assert ", ".join(ours) in waiting["message"]
    listings = stack.aws.call_counts().get("DescribeVpcEndpoints", 0)
    eventually(
        lambda: stack.aws.call_counts().get("DescribeVpcEndpoints", 0) >= listings + POLLS,
        timeout=5 * POLLS,
        what=f"{POLLS} polls",
    )
    assert stack.aws.call_counts().get("CreateVpcEndpoint", 0) == 0


def test_in_a_pool_the_vpc_that_covers_the_service_takes_it(stack: SandboxStack) -> None:
    covering = stack.aws.create_transit_vpc(zones=[f"{stack.region}d", f"{stack.region}e"])
    stack.change_pool(lambda vpcs: [vpcs[0], covering])
    service = stack.aws.create_tenant_service(
        acceptance_required=False, zones=[f"{stack.region}a", f"{stack.region}e"]
    )
    stack.start_operator()
    stack.kube.apply(outbound("placed", service.service_name))
    ready = wait_phase(stack, "acme", "placed", "Ready")
    # The first VPC covers a, the second e: neither both, so fill-first keeps the first…
    assert ready["transitVpcId"] == stack.config.regions[stack.region].pool[0].vpcId  # type: ignore[union-attr]
    assert ready["availabilityZoneIds"] == zone_ids(stack, "a")
    only_e = stack.aws.create_tenant_service(acceptance_required=False, zones=[f"{stack.region}e"])
    stack.kube.apply(outbound("only-e", only_e.service_name))
    ready = wait_phase(stack, "acme", "only-e", "Ready")
    # …and a service only the second VPC serves goes there.
    assert ready["transitVpcId"] == covering["vpcId"]
    assert ready["availabilityZoneIds"] == zone_ids(stack, "e")
    assert stack.aws.call_counts()["CreateVpcEndpoint"] == 2
