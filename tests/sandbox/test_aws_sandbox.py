"""The AWS sandbox behaves like PrivateLink, checked with real boto3 calls over HTTP."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from causeway.controllers.budget import DEFAULTS as BUDGET_DEFAULTS
from causeway.sandbox.aws import AwsSandbox, TenantService, documented_buckets, install
from causeway.sandbox.aws import control as sandbox_control

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AwsSandbox]:
    with AwsSandbox(region=REGION) as box:
        yield box


@pytest.fixture(scope="module")
def platform(sandbox: AwsSandbox) -> dict[str, Any]:
    return sandbox.create_platform(REGION)


@pytest.fixture(scope="module")
def ec2(sandbox: AwsSandbox) -> Any:
    # One attempt only: injected 5xx errors must reach the test, not be retried away.
    return sandbox.client("ec2", config=Config(retries={"total_max_attempts": 1}))


def _endpoint(
    ec2: Any,
    platform: dict[str, Any],
    service: TenantService,
    token: str | None = None,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "VpcEndpointType": "Interface",
        "VpcId": platform["transitVpcId"],
        "ServiceName": service.service_name,
        "SubnetIds": platform["subnetIds"],
        "SecurityGroupIds": platform["securityGroupIds"],
        "PrivateDnsEnabled": False,
    }
    if token:
        kwargs["ClientToken"] = token
    if tags:
        kwargs["TagSpecifications"] = [
            {
                "ResourceType": "vpc-endpoint",
                "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
            }
        ]
    endpoint: dict[str, Any] = ec2.create_vpc_endpoint(**kwargs)["VpcEndpoint"]
    return endpoint


def _state(ec2: Any, vpce_id: str) -> str:
    state: str = ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce_id])["VpcEndpoints"][0]["State"]
    return state


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


# ------------------------------------------------------------------------- fixtures


def test_platform_has_config_shape(sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any) -> None:
    assert set(platform) == {
        "transitVpcId",
        "subnetIds",
        "securityGroupIds",
        "platformPrincipal",
        "inboundServiceId",
        "sourceIpPool",
        "blockedSecurityGroupId",
    }
    assert platform["platformPrincipal"] == sandbox.platform_principal
    assert platform["sourceIpPool"] == "10.200.0.0/16"
    subnets = ec2.describe_subnets(SubnetIds=platform["subnetIds"])["Subnets"]
    assert {s["AvailabilityZone"] for s in subnets} == {f"{REGION}{z}" for z in "abc"}
    blocked = ec2.describe_security_groups(GroupIds=[platform["blockedSecurityGroupId"]])
    group = blocked["SecurityGroups"][0]
    assert group["IpPermissions"] == []
    assert group["IpPermissionsEgress"] == []
    inbound = ec2.describe_vpc_endpoint_service_configurations(
        ServiceIds=[platform["inboundServiceId"]]
    )["ServiceConfigurations"][0]
    assert inbound["AcceptanceRequired"] is True


def test_ids_and_names_look_like_aws(
    sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any
) -> None:
    service = sandbox.create_tenant_service(REGION)
    assert re.fullmatch(r"vpce-svc-[0-9a-f]{17}", service.service_id)
    assert service.service_name == f"com.amazonaws.vpce.{REGION}.{service.service_id}"
    endpoint = _endpoint(ec2, platform, service)
    assert re.fullmatch(r"vpce-[0-9a-f]{17}", endpoint["VpcEndpointId"])
    dns = endpoint["DnsEntries"][0]["DnsName"]
    assert dns.startswith(endpoint["VpcEndpointId"] + "-")
    assert dns.endswith(f".{service.service_id}.{REGION}.vpce.amazonaws.com")
    assert len(endpoint["DnsEntries"]) == 1 + len(platform["subnetIds"])


# -------------------------------------------------------------------- acceptance


@pytest.mark.parametrize(
    ("required", "expected"), [(True, "pendingAcceptance"), (False, "available")]
)
def test_initial_state_follows_acceptance_required(
    sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any, required: bool, expected: str
) -> None:
    service = sandbox.create_tenant_service(REGION, acceptance_required=required)
    endpoint = _endpoint(ec2, platform, service)
    assert endpoint["State"] == expected
    assert _state(ec2, endpoint["VpcEndpointId"]) == expected


def test_accept_makes_endpoint_available(
    sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any
) -> None:
    service = sandbox.create_tenant_service(REGION)
    vpce_id = _endpoint(ec2, platform, service)["VpcEndpointId"]
    assert sandbox.pending_connections(service.service_id) == [vpce_id]
    sandbox.accept(service.service_id, vpce_id)
    assert _state(ec2, vpce_id) == "available"
    assert sandbox.pending_connections(service.service_id) == []


def test_reject_makes_endpoint_rejected(
    sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any
) -> None:
    service = sandbox.create_tenant_service(REGION)
    vpce_id = _endpoint(ec2, platform, service)["VpcEndpointId"]
    sandbox.reject(service.service_id, vpce_id)
    assert _state(ec2, vpce_id) == "rejected"
    with pytest.raises(RuntimeError, match="InvalidState"):
        sandbox.accept(service.service_id, vpce_id)


def test_describe_connections_filters(
    sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any
) -> None:
    service = sandbox.create_tenant_service(REGION)
    first = _endpoint(ec2, platform, service)["VpcEndpointId"]
    second = _endpoint(ec2, platform, service)["VpcEndpointId"]
    sandbox.accept(service.service_id, first)

    def ids(*filters: tuple[str, str]) -> list[str]:
        reply = ec2.describe_vpc_endpoint_connections(
            Filters=[{"Name": name, "Values": [value]} for name, value in filters]
        )
        return sorted(c["VpcEndpointId"] for c in reply["VpcEndpointConnections"])

    assert ids(("service-id", service.service_id)) == sorted([first, second])
    assert ids(("service-id", service.service_id), ("vpc-endpoint-state", "available")) == [first]
    assert ids(("vpc-endpoint-id", second)) == [second]
    connection = ec2.describe_vpc_endpoint_connections(
        Filters=[{"Name": "vpc-endpoint-id", "Values": [second]}]
    )["VpcEndpointConnections"][0]
    assert connection["ServiceId"] == service.service_id
    assert connection["VpcEndpointState"] == "pendingAcceptance"
    assert connection["VpcEndpointOwner"]
    assert connection["DnsEntries"]
    assert connection["CreationTimestamp"]


def test_accept_unknown_endpoint_is_unsuccessful(sandbox: AwsSandbox, ec2: Any) -> None:
    service = sandbox.create_tenant_service(REGION)
    reply = ec2.accept_vpc_endpoint_connections(
        ServiceId=service.service_id, VpcEndpointIds=["vpce-0123456789abcdef0"]
    )
    assert reply["Unsuccessful"] == [
        {
            "ResourceId": "vpce-0123456789abcdef0",
            "Error": {
                "Code": "InvalidVpcEndpointId.NotFound",
                "Message": "The Vpc Endpoint Id 'vpce-0123456789abcdef0' does not exist",
            },
        }
    ]


# ------------------------------------------------------------------ create rules


def test_client_token_is_idempotent(
    sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any
) -> None:
    service = sandbox.create_tenant_service(REGION)
    token = str(uuid.uuid4())
    first = _endpoint(ec2, platform, service, token=token)
    again = _endpoint(ec2, platform, service, token=token)
    assert again["VpcEndpointId"] == first["VpcEndpointId"]
    mine = ec2.describe_vpc_endpoints(
        Filters=[{"Name": "service-name", "Values": [service.service_name]}]
    )["VpcEndpoints"]
    assert [e["VpcEndpointId"] for e in mine] == [first["VpcEndpointId"]]


def test_client_token_with_other_params_is_a_mismatch(
    sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any
) -> None:
    service = sandbox.create_tenant_service(REGION)
    token = str(uuid.uuid4())
    _endpoint(ec2, platform, service, token=token)
    with pytest.raises(ClientError) as exc:
        _endpoint(ec2, platform, service, token=token, tags={"different": "yes"})
    assert _error(exc) == ("IdempotentParameterMismatch", 400)


def test_unknown_service_name_is_invalid(platform: dict[str, Any], ec2: Any) -> None:
    ghost = TenantService("vpce-svc-00000000000000000", f"com.amazonaws.vpce.{REGION}.vpce-svc-0")
    with pytest.raises(ClientError) as exc:
        _endpoint(ec2, platform, ghost)
    assert _error(exc) == ("InvalidServiceName", 400)
    assert ghost.service_name in exc.value.response["Error"]["Message"]


def test_service_without_platform_permission_is_invisible(
    sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any
) -> None:
    service = sandbox.create_tenant_service(REGION, allow_platform=False)
    with pytest.raises(ClientError) as exc:
        _endpoint(ec2, platform, service)
    assert _error(exc) == ("InvalidServiceName", 400)
    # Allow-listing the platform account's root is enough, as in AWS.
    account = sandbox.platform_principal.split(":")[4]
    ec2.modify_vpc_endpoint_service_permissions(
        ServiceId=service.service_id, AddAllowedPrincipals=[f"arn:aws:iam::{account}:root"]
    )
    assert _endpoint(ec2, platform, service)["State"] == "pendingAcceptance"


# ------------------------------------------------------------------ describe


def test_describe_paginates_with_max_results(
    sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any
) -> None:
    service = sandbox.create_tenant_service(REGION, acceptance_required=False)
    created = {_endpoint(ec2, platform, service)["VpcEndpointId"] for _ in range(5)}
    only_mine = [{"Name": "service-name", "Values": [service.service_name]}]
    first = ec2.describe_vpc_endpoints(Filters=only_mine, MaxResults=2)
    assert len(first["VpcEndpoints"]) == 2
    assert first["NextToken"]
    seen = [e["VpcEndpointId"] for e in first["VpcEndpoints"]]
    token = first["NextToken"]
    while token:
        page = ec2.describe_vpc_endpoints(Filters=only_mine, MaxResults=2, NextToken=token)
        assert len(page["VpcEndpoints"]) <= 2
        seen += [e["VpcEndpointId"] for e in page["VpcEndpoints"]]
        token = page.get("NextToken")
    assert sorted(seen) == sorted(created)
    pages = ec2.get_paginator("describe_vpc_endpoints").paginate(
        Filters=only_mine, PaginationConfig={"PageSize": 3}
    )
    assert [len(p["VpcEndpoints"]) for p in pages] == [3, 2]


def test_describe_filters_by_id_tag_and_state(
    sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any
) -> None:
    service = sandbox.create_tenant_service(REGION)
    marker = str(uuid.uuid4())
    tagged = _endpoint(ec2, platform, service, tags={"causeway.io/test": marker})
    other = _endpoint(ec2, platform, service)
    assert tagged["Tags"] == [{"Key": "causeway.io/test", "Value": marker}]

    def ids(name: str, value: str) -> list[str]:
        reply = ec2.describe_vpc_endpoints(Filters=[{"Name": name, "Values": [value]}])
        return [e["VpcEndpointId"] for e in reply["VpcEndpoints"]]

    assert ids("vpc-endpoint-id", other["VpcEndpointId"]) == [other["VpcEndpointId"]]
    assert ids("tag:causeway.io/test", marker) == [tagged["VpcEndpointId"]]
    sandbox.accept(service.service_id, other["VpcEndpointId"])
    pending = ids("vpc-endpoint-state", "pendingAcceptance")
    assert tagged["VpcEndpointId"] in pending
    assert other["VpcEndpointId"] not in pending


def test_deleted_endpoints_stay_listed(
    sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any
) -> None:
    service = sandbox.create_tenant_service(REGION)
    vpce_id = _endpoint(ec2, platform, service)["VpcEndpointId"]
    assert ec2.delete_vpc_endpoints(VpcEndpointIds=[vpce_id])["Unsuccessful"] == []
    assert _state(ec2, vpce_id) == "deleted"


# -------------------------------------------------------------------- controls


def test_force_endpoint_state(sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any) -> None:
    service = sandbox.create_tenant_service(REGION)
    vpce_id = _endpoint(ec2, platform, service)["VpcEndpointId"]
    for state in ("failed", "expired", "pending", "deleting"):
        sandbox.force_endpoint_state(vpce_id, state)
        assert _state(ec2, vpce_id) == state
    with pytest.raises(ValueError, match="unknown endpoint state"):
        sandbox.force_endpoint_state(vpce_id, "bogus")


def test_removed_endpoint_is_not_found(
    sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any
) -> None:
    service = sandbox.create_tenant_service(REGION)
    vpce_id = _endpoint(ec2, platform, service)["VpcEndpointId"]
    sandbox.remove_endpoint(vpce_id)
    with pytest.raises(ClientError) as exc:
        ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce_id])
    assert _error(exc) == ("InvalidVpcEndpointId.NotFound", 400)


def test_fail_next_before_effect(sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any) -> None:
    service = sandbox.create_tenant_service(REGION)
    sandbox.fail_next("CreateVpcEndpoint", "VpcEndpointLimitExceeded", "too many")
    with pytest.raises(ClientError) as exc:
        _endpoint(ec2, platform, service)
    assert _error(exc) == ("VpcEndpointLimitExceeded", 400)
    assert exc.value.response["Error"]["Message"] == "too many"
    assert sandbox.pending_connections(service.service_id) == []
    # Only the next call fails.
    assert _endpoint(ec2, platform, service)["State"] == "pendingAcceptance"


def test_fail_next_after_effect_then_retry_with_token(
    sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any
) -> None:
    service = sandbox.create_tenant_service(REGION)
    token = str(uuid.uuid4())
    sandbox.fail_next("CreateVpcEndpoint", "InternalError", after_effect=True, status=500)
    with pytest.raises(ClientError) as exc:
        _endpoint(ec2, platform, service, token=token)
    assert _error(exc) == ("InternalError", 500)
    created = sandbox.pending_connections(service.service_id)
    assert len(created) == 1
    assert _endpoint(ec2, platform, service, token=token)["VpcEndpointId"] == created[0]


def test_fail_next_rejects_unknown_operation(sandbox: AwsSandbox) -> None:
    with pytest.raises(ValueError, match="not an EC2 action"):
        sandbox.fail_next("create_vpc_endpoint", "Boom")


def test_call_counts(sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any) -> None:
    service = sandbox.create_tenant_service(REGION)
    sandbox.reset_call_counts()
    assert sandbox.call_counts() == {}
    vpce_id = _endpoint(ec2, platform, service)["VpcEndpointId"]
    for _ in range(3):
        _state(ec2, vpce_id)
    assert sandbox.call_counts() == {"CreateVpcEndpoint": 1, "DescribeVpcEndpoints": 3}


def test_a_new_sandbox_forgets_every_count_of_the_last_one() -> None:
    # Calls by access key outlived their sandbox: the next test's replica of the same
    # name seemed to have made the last one's creates.
    control = sandbox_control._Control()
    control.record("CreateVpcEndpoint", access_key="pod-b")
    control.clear()
    assert control.counts == Counter() and control.counts_by_key == Counter()


def test_install_is_idempotent(sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any) -> None:
    install()
    install()
    service = sandbox.create_tenant_service(REGION)
    assert _endpoint(ec2, platform, service)["State"] == "pendingAcceptance"


def test_env_points_the_sdk_chain_at_the_sandbox(sandbox: AwsSandbox) -> None:
    env = sandbox.env()
    assert env["AWS_ENDPOINT_URL"] == sandbox.endpoint_url
    assert env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_ACCESS_KEY_ID"]
    assert env["AWS_SECRET_ACCESS_KEY"]


def test_only_one_sandbox_per_process(sandbox: AwsSandbox) -> None:
    with pytest.raises(RuntimeError, match="already running"), AwsSandbox():
        pass


def test_tenant_service_can_get_a_known_id(sandbox: AwsSandbox, platform: dict[str, Any]) -> None:
    service = sandbox.create_tenant_service(REGION, service_id="vpce-svc-0123456789abcdef0")
    assert service.service_id == "vpce-svc-0123456789abcdef0"
    assert service.service_name == f"com.amazonaws.vpce.{REGION}.vpce-svc-0123456789abcdef0"
    other = sandbox.create_tenant_service(REGION)  # the known id is used once only
    assert other.service_id != service.service_id


def test_accepted_endpoint_is_pending_until_activation_time(
    sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = sandbox.create_tenant_service(REGION)
    vpce = _endpoint(ec2, platform, service)["VpcEndpointId"]
    monkeypatch.setattr(sandbox_control._CONTROL, "activation_seconds", 60.0)
    sandbox.accept(service.service_id, vpce)
    assert _state(ec2, vpce) == "pending"
    monkeypatch.setattr(sandbox_control._CONTROL, "activation_seconds", 0.0)
    sandbox.force_endpoint_state(vpce, "pendingAcceptance")
    sandbox.accept(service.service_id, vpce)
    assert _state(ec2, vpce) == "available"  # due at once: the next describe activates it


def test_documented_buckets_are_the_operator_s_default_budget() -> None:
    """One table: the sandbox throttles as documented exactly what the operator's
    default budget assumes."""
    assert documented_buckets() == {
        api: (bucket.burst, bucket.rate) for api, bucket in BUDGET_DEFAULTS.items()
    }


def test_limit_as_documented_throttles_each_action_in_its_own_bucket(
    sandbox: AwsSandbox, ec2: Any, platform: dict[str, Any]
) -> None:
    before = sandbox.throttled_counts()
    sandbox.limit_as_documented()
    try:
        codes = []
        for _ in range(5):  # DeleteVpcEndpoints: a bucket of 4
            try:
                ec2.delete_vpc_endpoints(VpcEndpointIds=["vpce-0123456789abcdef0"])
                codes.append("ok")
            except ClientError as exc:
                codes.append(exc.response["Error"]["Code"])
        assert "RequestLimitExceeded" not in codes[:4]
        assert codes[4] == "RequestLimitExceeded"
        # another action's bucket is its own: a describe still has its tokens
        ec2.describe_security_groups(GroupIds=platform["securityGroupIds"])
        after = sandbox.throttled_counts()
        assert after["DeleteVpcEndpoints"] == before.get("DeleteVpcEndpoints", 0) + 1
        assert after.get("DescribeSecurityGroups", 0) == before.get("DescribeSecurityGroups", 0)
    finally:
        with sandbox_control._CONTROL.lock:
            sandbox_control._CONTROL.limits.clear()


def test_a_group_an_endpoint_uses_cannot_be_deleted_until_the_endpoint_is(
    sandbox: AwsSandbox, platform: dict[str, Any], ec2: Any
) -> None:
    """DeleteSecurityGroup: DependencyViolation while a network interface (here an
    interface endpoint's) uses the group, as AWS answers; deleted once it does not."""
    group = ec2.create_security_group(
        GroupName="in-use", Description="held by an endpoint", VpcId=platform["transitVpcId"]
    )["GroupId"]
    service = sandbox.create_tenant_service(REGION)
    endpoint = _endpoint(ec2, {**platform, "securityGroupIds": [group]}, service)
    with pytest.raises(ClientError) as refused:
        ec2.delete_security_group(GroupId=group)
    assert _error(refused) == ("DependencyViolation", 400)
    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    ec2.delete_security_group(GroupId=group)
    assert not ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [group]}])[
        "SecurityGroups"
    ]
