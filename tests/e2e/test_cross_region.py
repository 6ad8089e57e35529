"""End to end, cross-Region PrivateLink with the sandbox enforcing what AWS documents:
a connection to a service in another Region that offers itself to the platform's
Region becomes Ready (the endpoint made with ServiceRegion); one that does not is told
which Region to add to its supported Regions, with no create; and nothing is created
for a Region the platform's config does not allow."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import OUTBOUND, condition, live_endpoints_of, outbound, uid_of, wait_phase

REMOTE = "eu-west-1"
ELSEWHERE = "ap-southeast-2"


@pytest.fixture
def stack(kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s", namespaces=["acme"], transit_vpcs=1, kube_backend=kube_backend
    ) as running:
        running.grant_quota("acme", licenses=5)
        running.change_region(lambda region: {**region, "remoteServiceRegions": [REMOTE]})
        yield running


def cross(name: str, service_name: str, service_region: str) -> dict[str, object]:
    body = outbound(name, service_name)
    body["spec"] = {**body["spec"], "serviceRegion": service_region}  # type: ignore[dict-item]
    return body


def test_a_service_in_another_region_offered_here_becomes_ready(stack: SandboxStack) -> None:
    service = stack.aws.create_tenant_service(
        region=REMOTE, acceptance_required=False, supported_regions=[stack.region]
    )
    stack.start_operator()
    stack.kube.apply(cross("remote", service.service_name, REMOTE))
    ready = wait_phase(stack, "acme", "remote", "Ready")
    (endpoint,) = live_endpoints_of(stack, uid_of(stack, "remote"))
    assert endpoint["ServiceRegion"] == REMOTE
    assert ready["vpcEndpointId"] == endpoint["VpcEndpointId"]


def test_a_service_not_offered_here_is_told_which_region_to_add(stack: SandboxStack) -> None:
    service = stack.aws.create_tenant_service(region=REMOTE, acceptance_required=False)
    stack.start_operator()
    stack.kube.apply(cross("not-offered", service.service_name, REMOTE))
    waiting = wait_phase(stack, "acme", "not-offered", "Unprovisioned")
    assert condition(waiting, "Stalled")["reason"] == "RemoteServiceNotOffered"
    assert f"--add-supported-regions {stack.region}" in waiting["message"]
    assert stack.aws.call_counts().get("CreateVpcEndpoint", 0) == 0
    # The tenant adds the Region and syncs: the connection is made.
    stack.aws.set_supported_regions(service.service_id, [stack.region])
    sync = {"metadata": {"annotations": {"causeway.dev/sync": "1"}}}
    stack.kube.patch(OUTBOUND, "acme", "not-offered", sync)
    wait_phase(stack, "acme", "not-offered", "Ready")


def test_nothing_is_created_for_a_region_the_platform_does_not_allow(stack: SandboxStack) -> None:
    service = stack.aws.create_tenant_service(
        region=ELSEWHERE, acceptance_required=False, supported_regions=[stack.region]
    )
    stack.start_operator()
    stack.kube.apply(cross("elsewhere", service.service_name, ELSEWHERE))
    waiting = wait_phase(stack, "acme", "elsewhere", "Unprovisioned")
    assert condition(waiting, "Stalled")["reason"] == "RemoteRegionNotAllowed"
    assert stack.aws.call_counts().get("CreateVpcEndpoint", 0) == 0
    assert stack.aws.call_counts().get("DescribeVpcEndpointServices", 0) == 0
