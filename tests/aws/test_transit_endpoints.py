"""The AWS layer against moto (extended by the sandbox): idempotent tagged create,
adoption by owner tag, batched listing, deletion and error translation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from causeway.aws.endpoints import TransitEndpoints
from causeway.aws.session import ClientFactory
from causeway.config import RegionConfig
from causeway.domain import Owner, client_token
from causeway.errors import AwsCallError
from causeway.sandbox.aws import AwsSandbox, TenantService

REGION = "us-east-1"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AwsSandbox]:
    with AwsSandbox(region=REGION) as box:
        yield box


@pytest.fixture(scope="module")
def region_config(sandbox: AwsSandbox) -> RegionConfig:
    return RegionConfig.model_validate(sandbox.create_platform(REGION))


@pytest.fixture(scope="module")
def service(sandbox: AwsSandbox, region_config: RegionConfig) -> TenantService:
    return sandbox.create_tenant_service(REGION, acceptance_required=True)


@pytest.fixture
def transit(sandbox: AwsSandbox, region_config: RegionConfig) -> TransitEndpoints:
    sandbox.reset_call_counts()
    session = lambda: __import__("boto3").Session(  # noqa: E731
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    factory = ClientFactory(session, endpoint_url=sandbox.endpoint_url)
    return TransitEndpoints(factory.client("ec2", REGION), region_config)


def owner(name: str) -> Owner:
    return Owner("OutboundConnection", "acme", name, f"uid-{name}")


def create(
    transit: TransitEndpoints, service: TenantService, who: Owner, generation: int = 1
) -> Any:
    return transit.create(service.service_name, client_token(who, generation, ""), who.tags())


def test_create_puts_the_endpoint_in_the_transit_vpc_tagged_with_its_owner(
    sandbox: AwsSandbox,
    transit: TransitEndpoints,
    service: TenantService,
    region_config: RegionConfig,
) -> None:
    who = owner("tagged")
    endpoint = create(transit, service, who)
    assert endpoint.state == "pendingAcceptance" and endpoint.owner_uid == who.uid
    record = sandbox.client().describe_vpc_endpoints(VpcEndpointIds=[endpoint.id])["VpcEndpoints"][
        0
    ]
    tags = {t["Key"]: t["Value"] for t in record["Tags"]}
    assert (
        tags["causeway.dev/owner-namespace"] == "acme"
        and tags["causeway.dev/owner-name"] == "tagged"
    )
    assert record["VpcId"] == region_config.transitVpcId
    assert sorted(record["SubnetIds"]) == sorted(region_config.subnetIds)
    assert [g["GroupId"] for g in record["Groups"]] == region_config.securityGroupIds


def test_retried_create_with_the_same_token_returns_the_same_endpoint(
    transit: TransitEndpoints, service: TenantService
) -> None:
    who = owner("retried")
    first, second = create(transit, service, who), create(transit, service, who)
    assert first.id == second.id
    assert [e.id for e in transit.owned_by(who.uid)] == [first.id]


def test_lost_create_response_is_retried_into_the_same_endpoint(
    sandbox: AwsSandbox, transit: TransitEndpoints, service: TenantService
) -> None:
    who = owner("lost")
    sandbox.fail_next(
        "CreateVpcEndpoint", "ServiceUnavailable", "reply lost", after_effect=True, status=503
    )
    with pytest.raises(AwsCallError):  # one attempt: the budget and error table retry
        create(transit, service, who)
    endpoint = create(transit, service, who)  # the retry, with the same ClientToken
    assert sandbox.call_counts()["CreateVpcEndpoint"] == 2
    assert [e.id for e in transit.owned_by(who.uid)] == [endpoint.id]


def test_failed_create_that_did_happen_is_found_again_by_owner_tag(
    sandbox: AwsSandbox, transit: TransitEndpoints, service: TenantService
) -> None:
    who = owner("crashed")
    sandbox.fail_next(
        "CreateVpcEndpoint", "InternalError", "crashed after create", after_effect=True
    )
    with pytest.raises(AwsCallError) as caught:
        create(transit, service, who)
    assert caught.value.code == "InternalError"
    adopted = transit.owned_by(who.uid)
    assert len(adopted) == 1 and adopted[0].owner_uid == who.uid


def test_owned_by_includes_a_tracked_id_and_skips_unknown_ones(
    sandbox: AwsSandbox, transit: TransitEndpoints, service: TenantService
) -> None:
    who = owner("tracked")
    endpoint = create(transit, service, who)
    sandbox.remove_endpoint(endpoint.id)
    assert transit.owned_by(who.uid, [endpoint.id]) == []


def test_all_managed_lists_every_owner_in_one_call(
    sandbox: AwsSandbox, transit: TransitEndpoints, service: TenantService
) -> None:
    ids = {create(transit, service, owner(f"many-{i}")).id for i in range(5)}
    sandbox.reset_call_counts()
    listed = {e.id for e in transit.all_managed()}
    assert ids <= listed
    assert sandbox.call_counts() == {"DescribeVpcEndpoints": 1}


def test_all_managed_follows_pages(
    monkeypatch: pytest.MonkeyPatch,
    sandbox: AwsSandbox,
    transit: TransitEndpoints,
    service: TenantService,
) -> None:
    for i in range(3):
        create(transit, service, owner(f"paged-{i}"))
    expected = {e.id for e in transit.all_managed()}
    monkeypatch.setattr("causeway.aws.endpoints.PAGE_SIZE", 5)
    sandbox.reset_call_counts()
    assert {e.id for e in transit.all_managed()} == expected
    assert sandbox.call_counts()["DescribeVpcEndpoints"] == -(-len(expected) // 5)


def test_delete_tolerates_already_gone_and_reports_deleted(
    sandbox: AwsSandbox, transit: TransitEndpoints, service: TenantService
) -> None:
    who = owner("deleted")
    endpoint = create(transit, service, who)
    assert transit.delete([endpoint.id]) == [endpoint.id]
    assert [e.state for e in transit.owned_by(who.uid)] == ["deleted"]
    assert transit.delete([]) == []


def test_delete_of_an_endpoint_aws_no_longer_knows_succeeds(
    sandbox: AwsSandbox, transit: TransitEndpoints, service: TenantService
) -> None:
    endpoint = create(transit, service, owner("forgotten"))
    sandbox.remove_endpoint(endpoint.id)
    assert transit.delete([endpoint.id]) == [endpoint.id]
    sandbox.fail_next("DeleteVpcEndpoints", "InvalidVpcEndpointId.NotFound", "no such endpoint")
    assert transit.delete([endpoint.id]) == [endpoint.id]


def test_unknown_service_is_invalid_service_name(transit: TransitEndpoints) -> None:
    with pytest.raises(AwsCallError) as caught:
        transit.create(
            "com.amazonaws.vpce.us-east-1.vpce-svc-0000000000000dead",
            "t-unknown",
            owner("x").tags(),
        )
    assert (caught.value.operation, caught.value.code) == (
        "CreateVpcEndpoint",
        "InvalidServiceName",
    )


def test_throttling_is_translated(sandbox: AwsSandbox, transit: TransitEndpoints) -> None:
    # One attempt per call (the AWS budget paces and requeues): one failure is enough.
    sandbox.fail_next("DescribeVpcEndpoints", "RequestLimitExceeded", "slow down")
    with pytest.raises(AwsCallError) as caught:
        transit.all_managed()
    assert caught.value.code == "RequestLimitExceeded"


def test_an_endpoint_blocked_by_an_earlier_version_is_read_and_moved_by_one_swap(
    sandbox: AwsSandbox,
    transit: TransitEndpoints,
    service: TenantService,
    region_config: RegionConfig,
) -> None:
    """Before tenant groups a block tagged the endpoint and swapped its groups: the tag is
    still read (the block stands until its time) and one swap moves the groups."""
    endpoint = create(transit, service, owner("blocked"))
    assert endpoint.security_groups == tuple(region_config.securityGroupIds)
    assert endpoint.owner_namespace == "acme" and endpoint.blocked_until is None
    blocked = str(region_config.blockedSecurityGroupId)
    until = datetime(2026, 11, 28, 15, tzinfo=UTC)
    ec2 = boto3.client(
        "ec2",
        region_name=REGION,
        endpoint_url=sandbox.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ec2.create_tags(
        Resources=[endpoint.id],
        Tags=[{"Key": "causeway.dev/blocked-until", "Value": "2026-11-28T15:00:00Z"}],
    )
    transit.swap_groups(endpoint.id, [blocked], endpoint.security_groups)
    (seen,) = transit.by_ids([endpoint.id])
    assert seen.security_groups == (blocked,) and seen.blocked_until == until
    assert (
        sandbox.endpoint_tags(endpoint.id)["causeway.dev/blocked-until"] == "2026-11-28T15:00:00Z"
    )
    transit.swap_groups(endpoint.id, region_config.securityGroupIds, [blocked])
    ec2.delete_tags(Resources=[endpoint.id], Tags=[{"Key": "causeway.dev/blocked-until"}])
    (reopened,) = transit.by_ids([endpoint.id])
    assert reopened.security_groups == tuple(region_config.securityGroupIds)
    assert reopened.blocked_until is None


def test_a_blocked_tenants_endpoint_is_created_with_the_blocked_group(
    transit: TransitEndpoints, service: TenantService, region_config: RegionConfig
) -> None:
    who = owner("born-blocked")
    blocked = str(region_config.blockedSecurityGroupId)
    tags = {**who.tags(), "causeway.dev/blocked-until": "2026-11-28T15:00:00Z"}
    created = transit.create(
        service.service_name, client_token(who, 1, "/b"), tags, security_groups=(blocked,)
    )
    assert created.security_groups == (blocked,)
    assert created.blocked_until == datetime(2026, 11, 28, 15, tzinfo=UTC)


def test_a_block_tag_edited_by_hand_reads_as_long_past(
    sandbox: AwsSandbox, transit: TransitEndpoints, service: TenantService
) -> None:
    endpoint = create(transit, service, owner("edited"))
    sandbox.client().create_tags(
        Resources=[endpoint.id], Tags=[{"Key": "causeway.dev/blocked-until", "Value": "soon"}]
    )
    (seen,) = transit.by_ids([endpoint.id])
    assert seen.blocked_until is not None and seen.blocked_until.year == 1970


def test_a_pool_creates_in_the_vpc_asked_and_one_listing_covers_every_vpc(
    sandbox: AwsSandbox, service: TenantService, region_config: RegionConfig
) -> None:
    """Each VPC's own subnets and groups; the listing is by tag, not by VPC, so it also
    shows endpoints of a VPC no longer in the config."""
    vpcs = [sandbox.create_transit_vpc(REGION) for _ in range(3)]
    pool = RegionConfig.model_validate(
        {"platformPrincipal": region_config.platformPrincipal, "transitVpcs": vpcs[:2]}
    )
    session = lambda: __import__("boto3").Session(  # noqa: E731
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    ec2 = ClientFactory(session, endpoint_url=sandbox.endpoint_url).client("ec2", REGION)
    transit = TransitEndpoints(ec2, pool)
    first, second = owner("pool-a"), owner("pool-b")
    made = [
        transit.create(service.service_name, client_token(who, 1, ""), who.tags(), vpc_id=vpc)
        for who, vpc in ((first, vpcs[0]["vpcId"]), (second, vpcs[1]["vpcId"]))
    ]
    assert [e.vpc_id for e in made] == [vpcs[0]["vpcId"], vpcs[1]["vpcId"]]
    record = ec2.describe_vpc_endpoints(VpcEndpointIds=[made[1].id])["VpcEndpoints"][0]
    assert sorted(record["SubnetIds"]) == sorted(vpcs[1]["subnetIds"])
    assert [g["GroupId"] for g in record["Groups"]] == vpcs[1]["securityGroupIds"]

    smaller = TransitEndpoints(
        ec2,
        RegionConfig.model_validate(
            {"platformPrincipal": region_config.platformPrincipal, "transitVpcs": vpcs[1:]}
        ),
    )  # the first VPC removed from the config
    sandbox.reset_call_counts()
    listed = {e.id: e.vpc_id for e in smaller.all_managed()}
    assert sandbox.call_counts() == {"DescribeVpcEndpoints": 1}
    assert listed[made[0].id] == vpcs[0]["vpcId"] and listed[made[1].id] == vpcs[1]["vpcId"]
    with pytest.raises(ValueError, match="is not a transit VPC of this region"):
        smaller.create(service.service_name, "token", first.tags(), vpc_id=vpcs[0]["vpcId"])
