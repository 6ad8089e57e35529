"""The IAM policy `causeway iam-policy` prints for a config: every action scoped as
tightly as AWS allows, and the committed example equal to what the code renders.
Requests are evaluated against the policy (tests/iam_evaluation.py), and each
statement's resource types and condition keys are checked against a dated copy of the
Service Authorization Reference's data (tests/data/service-authorization-ec2.json).
(That the actions are exactly the calls the operator makes is checked over the
end-to-end suite: tests/e2e/conftest.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from causeway.aws.policy import UNSCOPED_READS, actions_of, policy_document
from causeway.cli import main
from causeway.config import load_config, parse_config
from fakes import REGION_CONFIG
from iam_evaluation import Access, allowed, authorized

ROOT = Path(__file__).parents[2]
REFERENCE = json.loads((ROOT / "tests" / "data" / "service-authorization-ec2.json").read_text())
EXAMPLE = ROOT / "seeds" / "config.example.yaml"
COMMITTED = ROOT / "deploy" / "aws" / "iam-policy.json"
KIND_TAG = "aws:ResourceTag/causeway.dev/kind"
OWNER_TAG = "aws:ResourceTag/causeway.dev/owner-uid"


def statements_for(document: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in document["Statement"] if action in s["Action"]]


def test_the_committed_example_policy_is_what_the_code_renders(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["iam-policy", "--config", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out == COMMITTED.read_text(), (
        "deploy/aws/iam-policy.json is stale: run "
        "`causeway iam-policy --config seeds/config.example.yaml > deploy/aws/iam-policy.json`"
    )


def test_only_reads_aws_cannot_scope_get_every_resource() -> None:
    document = policy_document(load_config(str(EXAMPLE)))
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        if statement["Resource"] == ["*"]:
            assert set(statement["Action"]) <= set(UNSCOPED_READS), statement["Sid"]
    assert not any(a.endswith(":*") or a == "*" for a in actions_of(document))


@pytest.mark.parametrize("action", ["ec2:DeleteVpcEndpoints", "ec2:ModifyVpcEndpoint"])
def test_changes_to_endpoints_need_causeways_owner_tag(action: str) -> None:
    document = policy_document(load_config(str(EXAMPLE)))
    on_endpoints = [
        s
        for s in statements_for(document, action)
        if any(":vpc-endpoint/" in r for r in s["Resource"])
    ]
    assert on_endpoints
    for statement in on_endpoints:
        assert statement["Condition"]["StringLike"][OWNER_TAG] == "?*"


def test_tags_are_only_set_at_creation_or_as_the_block_record() -> None:
    document = policy_document(load_config(str(EXAMPLE)))
    conditions = [s["Condition"] for s in statements_for(document, "ec2:CreateTags")]
    assert {"StringEquals": {"ec2:CreateAction": "CreateVpcEndpoint"}} in conditions
    assert {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}} in conditions
    block = next(c for c in conditions if KIND_TAG in c.get("StringEquals", {}))
    assert block["ForAllValues:StringEquals"] == {"aws:TagKeys": ["causeway.dev/blocked-until"]}
    assert "ec2:DeleteTags" not in actions_of(document)  # a block's tag is only overwritten


def test_endpoints_are_created_tagged_and_only_in_the_transit_vpc() -> None:
    config = load_config(str(EXAMPLE))
    region = config.regions["us-east-1"]
    document = policy_document(config)
    creates = statements_for(document, "ec2:CreateVpcEndpoint")
    tagged = next(s for s in creates if s.get("Condition"))
    assert tagged["Condition"]["StringLike"]["aws:RequestTag/causeway.dev/owner-uid"] == "?*"
    network = next(s for s in creates if not s.get("Condition"))["Resource"]
    assert f"arn:aws:ec2:us-east-1:*:vpc/{region.transitVpcId}" in network
    assert not any(":vpc-endpoint-service/" in r for r in network)  # no resource of a create
    assert not any(r.endswith(":vpc/*") for r in network)
    for subnet in region.subnetIds:
        assert f"arn:aws:ec2:us-east-1:*:subnet/{subnet}" in network
    assert f"arn:aws:ec2:us-east-1:*:security-group/{region.blockedSecurityGroupId}" in network


def test_connection_requests_are_answered_only_on_the_platform_service() -> None:
    config = load_config(str(EXAMPLE))
    service = config.regions["us-east-1"].inboundServiceId
    document = policy_document(config)
    for action in ("ec2:AcceptVpcEndpointConnections", "ec2:RejectVpcEndpointConnections"):
        (statement,) = statements_for(document, action)
        assert statement["Resource"] == [f"arn:aws:ec2:us-east-1:*:vpc-endpoint-service/{service}"]


def test_regions_without_inbound_grant_no_answers_and_partitions_are_respected() -> None:
    outbound_only = {
        k: v for k, v in REGION_CONFIG.items() if k not in ("inboundServiceId", "sourceIpPool")
    }
    config = parse_config({"regions": {"cn-north-1": outbound_only}})
    document = policy_document(config)
    assert "ec2:AcceptVpcEndpointConnections" not in actions_of(document)
    resources = [r for s in document["Statement"] for r in s["Resource"] if r != "*"]
    assert resources and all(r.startswith("arn:aws-cn:") for r in resources)
    assert all(r.split(":")[3] == "cn-north-1" for r in resources)
    json.dumps(document)  # JSON-ready


# --- requests evaluated against the policy ---------------------------------------------

UID_TAG = "causeway.dev/owner-uid"
BLOCK_TAG = "causeway.dev/blocked-until"
TENANT_GROUP_ARN = "arn:aws:ec2:us-east-1:111111111111:security-group/sg-0123456789abcdef0"
TENANT_GROUP_CONTEXT = {"aws:ResourceTag/causeway.dev/kind": "TenantSecurityGroup"}
OWNED_ENDPOINT = "arn:aws:ec2:us-east-1:111111111111:vpc-endpoint/vpce-0123456789abcdef0"
OWNED_CONTEXT = {f"aws:ResourceTag/{UID_TAG}": "0b9f6f3e-uid"}


def example_policy() -> dict[str, Any]:
    return policy_document(load_config(str(EXAMPLE)))


@pytest.mark.parametrize(
    ("tag_keys", "expected"),
    [
        ([BLOCK_TAG], True),  # the block's record: the one tag Causeway changes
        (None, False),  # DeleteTags naming no tag deletes every tag, the owner tag too
        ([], False),
        ([UID_TAG], False),
        ([BLOCK_TAG, UID_TAG], False),
    ],
)
@pytest.mark.parametrize("tenant_group", [True, False])
def test_tag_changes_name_only_the_block_tag_on_tenant_groups(
    tag_keys: list[str] | None, expected: bool, tenant_group: bool
) -> None:
    policy = example_policy()
    targets = ((TENANT_GROUP_ARN, TENANT_GROUP_CONTEXT), (OWNED_ENDPOINT, OWNED_CONTEXT))
    for resource, owned in targets:
        context: dict[str, Any] = dict(owned if tenant_group else {})
        if tag_keys is not None:
            context["aws:TagKeys"] = tag_keys
        want = expected and tenant_group and resource == TENANT_GROUP_ARN
        assert allowed(policy, Access("ec2:CreateTags", resource, context)) is want
        assert allowed(policy, Access("ec2:DeleteTags", resource, context)) is False


@pytest.mark.parametrize(
    "action",
    [
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:DeleteSecurityGroup",
        "ec2:CreateVpcEndpoint",
    ],
)
def test_only_tenant_groups_are_opened_closed_deleted_or_given_to_new_endpoints(
    action: str,
) -> None:
    policy = example_policy()
    assert allowed(policy, Access(action, TENANT_GROUP_ARN, TENANT_GROUP_CONTEXT)) is True
    assert allowed(policy, Access(action, TENANT_GROUP_ARN, {})) is False  # a group not ours


def _create_request(
    service_name: str, owner: str, groups: tuple[str, ...] = ("sg-0a1b2c3d4e5f60718",)
) -> list[Access]:
    """What one CreateVpcEndpoint authorizes: the new endpoint (with the keys the
    reference lists for it), the VPC, each subnet and each security group."""
    region = load_config(str(EXAMPLE)).regions["us-east-1"]
    arn = "arn:aws:ec2:us-east-1:111111111111:"
    endpoint_context = {
        f"aws:RequestTag/{UID_TAG}": "0b9f6f3e-uid",
        "aws:TagKeys": [UID_TAG, "causeway.dev/owner-namespace"],
        "ec2:VpceServiceName": service_name,
        "ec2:VpceServiceOwner": owner,
    }
    return [
        Access("ec2:CreateVpcEndpoint", f"{arn}vpc-endpoint/*", endpoint_context),
        Access("ec2:CreateVpcEndpoint", f"{arn}vpc/{region.transitVpcId}"),
        *(Access("ec2:CreateVpcEndpoint", f"{arn}subnet/{s}") for s in region.subnetIds),
        *(Access("ec2:CreateVpcEndpoint", f"{arn}security-group/{g}") for g in groups),
    ]


TENANT_SERVICE = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"


@pytest.mark.parametrize(
    ("service_name", "owner", "expected"),
    [
        (TENANT_SERVICE, "222222222222", True),
        ("com.amazonaws.us-east-1.s3", "amazon", False),  # an AWS service
        (TENANT_SERVICE, "amazon", False),
        (TENANT_SERVICE, "aws-marketplace", False),  # a Marketplace listing
        ("com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0", "222222222222", False),
    ],
)
def test_endpoints_reach_only_tenant_services_in_their_region(
    service_name: str, owner: str, expected: bool
) -> None:
    request = _create_request(service_name, owner)
    assert authorized(example_policy(), request) is expected


def test_endpoints_are_not_created_in_another_vpc_or_with_other_groups() -> None:
    document = example_policy()
    assert authorized(document, _create_request(TENANT_SERVICE, "222222222222"))
    other_group = _create_request(TENANT_SERVICE, "222222222222", ("sg-0ffffffffffffffff",))
    assert not authorized(document, other_group)


def _swap(vpc: str, group: str) -> list[Access]:
    """ModifyVpcEndpoint adding/removing `group`: the endpoint and the group."""
    vpc_arn = f"arn:aws:ec2:us-east-1:111111111111:vpc/{vpc}"
    return [
        Access("ec2:ModifyVpcEndpoint", OWNED_ENDPOINT, OWNED_CONTEXT),
        Access(
            "ec2:ModifyVpcEndpoint",
            f"arn:aws:ec2:us-east-1:111111111111:security-group/{group}",
            {"ec2:Vpc": vpc_arn, "ec2:SecurityGroupID": group},
        ),
    ]


def test_groups_an_earlier_config_put_on_endpoints_can_still_be_swapped() -> None:
    """After an admin replaces securityGroupIds, block and reopen still remove or
    restore the groups the endpoints were created with (all in the transit VPC), and
    no group of another VPC."""
    config = load_config(str(EXAMPLE))
    region = config.regions["us-east-1"]
    changed = parse_config(
        {
            "regions": {
                "us-east-1": {
                    **REGION_CONFIG,
                    "transitVpcId": region.transitVpcId,
                    "securityGroupIds": ["sg-0ccccccccccccccc1"],
                }
            }
        }
    )
    document = policy_document(changed)
    earlier_group = region.securityGroupIds[0]
    assert authorized(document, _swap(region.transitVpcId, earlier_group))
    assert authorized(document, _swap(region.transitVpcId, "sg-0ccccccccccccccc1"))
    assert not authorized(document, _swap("vpc-0ddddddddddddddd1", "sg-0eeeeeeeeeeeeeee1"))
    unowned = [Access("ec2:ModifyVpcEndpoint", OWNED_ENDPOINT, {})]
    assert not authorized(document, unowned)


# --- every statement against the Service Authorization Reference -----------------------


def _generic(key: str) -> str:
    """aws:ResourceTag/causeway.dev/owner-uid → aws:ResourceTag/${TagKey}, as the
    reference names keys with a variable part."""
    name, slash, _ = key.partition("/")
    if not slash:
        return key
    return f"{name}/${{AttributeName}}" if name == "ec2:Attribute" else f"{name}/${{TagKey}}"


def _resource_type(arn: str) -> str:
    return arn.split(":", 5)[5].split("/", 1)[0]


def test_every_resource_type_and_condition_key_is_one_the_reference_lists() -> None:
    """A resource type an action does not authorize against restricts nothing (the old
    vpc-endpoint-service/* of CreateVpcEndpoint); a condition key AWS never sets for an
    action makes the statement deny, or allow, regardless."""
    document = example_policy()
    actions = REFERENCE["actions"]
    problems = []
    for statement in document["Statement"]:
        keys = [k for conditions in (statement.get("Condition") or {}).values() for k in conditions]
        for action in statement["Action"]:
            service, _, name = action.partition(":")
            if service != "ec2":
                continue
            assert name in actions, f"{action} is not in the reference copy: add it"
            entry = actions[name]
            for resource in statement["Resource"]:
                if resource == "*":
                    if entry["resources"]:
                        problems.append(f"{statement['Sid']}: {action} on * (it has types)")
                    continue
                kind = _resource_type(resource)
                if kind not in entry["resources"]:
                    problems.append(f"{statement['Sid']}: {action} has no {kind} resource")
                    continue
                usable = set(entry["resources"][kind]["conditionKeys"])
                usable |= set(entry["actionConditionKeys"])
                problems += [
                    f"{statement['Sid']}: {action} on {kind} has no key {key}"
                    for key in keys
                    if _generic(key) not in usable
                ]
    assert problems == []


def test_every_required_resource_type_of_an_action_is_granted() -> None:
    """An action whose required resource type no statement names can never succeed."""
    document = example_policy()
    for action in sorted(actions_of(document)):
        service, _, name = action.partition(":")
        if service != "ec2":
            continue
        granted = {
            _resource_type(r)
            for s in statements_for(document, action)
            for r in s["Resource"]
            if r != "*"
        }
        required = {t for t, r in REFERENCE["actions"][name]["resources"].items() if r["required"]}
        assert required <= granted, (action, required - granted)


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
        ("eusc-de-east-1", "aws-eusc"),
    ],
)
def test_arns_are_in_the_partition_botocore_puts_the_region_in(region: str, partition: str) -> None:
    config = parse_config({"regions": {region: REGION_CONFIG}})
    resources = [r for s in policy_document(config)["Statement"] for r in s["Resource"]]
    assert all(
        r == "*"
        or r.startswith(
            (f"arn:{partition}:ec2:{region}:", f"arn:{partition}:servicequotas:{region}:")
        )
        for r in resources
    )


def test_a_pool_grants_every_vpc_subnet_and_group_and_reads_the_quota_only_when_used() -> None:
    def entry(n: int, **more: object) -> dict[str, object]:
        return {
            "vpcId": f"vpc-0000000{n}",
            "subnetIds": [f"subnet-0000000{n}", f"subnet-0000001{n}"],
            "securityGroupIds": [f"sg-0000000{n}"],
            "blockedSecurityGroupId": f"sg-0000009{n}",
            **more,
        }

    def region(*entries: dict[str, object]) -> dict[str, object]:
        return {"platformPrincipal": REGION_CONFIG["platformPrincipal"], "transitVpcs": entries}

    document = policy_document(parse_config({"regions": {"us-east-1": region(entry(1), entry(2))}}))
    network = next(
        s for s in statements_for(document, "ec2:CreateVpcEndpoint") if not s.get("Condition")
    )["Resource"]
    (swap,) = [
        s
        for s in statements_for(document, "ec2:ModifyVpcEndpoint")
        if s["Sid"] == "SwapSecurityGroupsOfTheTransitVpc"
    ]
    swappable_in = swap["Condition"]["ArnLike"]["ec2:Vpc"]
    for n in (1, 2):
        assert f"arn:aws:ec2:us-east-1:*:vpc/vpc-0000000{n}" in network
        assert f"arn:aws:ec2:us-east-1:*:vpc/vpc-0000000{n}" in swappable_in
        for subnet in (f"subnet-0000000{n}", f"subnet-0000001{n}"):
            assert f"arn:aws:ec2:us-east-1:*:subnet/{subnet}" in network
        for group in (f"sg-0000000{n}", f"sg-0000009{n}"):
            assert f"arn:aws:ec2:us-east-1:*:security-group/{group}" in network
    group_quotas = [
        f"arn:aws:servicequotas:us-east-1:*:vpc/{code}"
        for code in ("L-0EA8095F", "L-2AFB9258", "L-E79EC296")
    ]
    (quota,) = statements_for(document, "servicequotas:GetServiceQuota")
    assert quota["Resource"] == ["arn:aws:servicequotas:us-east-1:*:vpc/L-29B6F2EB", *group_quotas]

    # Capacity from the config: only the security-group quotas are read.
    capped = parse_config({"regions": {"us-east-1": region(entry(1, maxEndpoints=40))}})
    (quota,) = statements_for(policy_document(capped), "servicequotas:GetServiceQuota")
    assert quota["Resource"] == group_quotas
