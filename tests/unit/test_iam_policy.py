"""The IAM policy `causeway iam-policy` prints for a config: every action scoped as
tightly as AWS allows, and the committed example equal to what the code renders.
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

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "seeds" / "config.example.yaml"
COMMITTED = ROOT / "deploy" / "aws" / "iam-policy.json"
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


@pytest.mark.parametrize(
    "action", ["ec2:DeleteVpcEndpoints", "ec2:ModifyVpcEndpoint", "ec2:DeleteTags"]
)
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
    block = next(c for c in conditions if OWNER_TAG in c.get("StringLike", {}))
    assert block["ForAllValues:StringEquals"] == {"aws:TagKeys": ["causeway.dev/blocked-until"]}


def test_endpoints_are_created_tagged_and_only_in_the_transit_vpc() -> None:
    config = load_config(str(EXAMPLE))
    region = config.regions["us-east-1"]
    document = policy_document(config)
    creates = statements_for(document, "ec2:CreateVpcEndpoint")
    tagged = next(s for s in creates if s.get("Condition"))
    assert tagged["Condition"] == {"StringLike": {"aws:RequestTag/causeway.dev/owner-uid": "?*"}}
    network = next(s for s in creates if not s.get("Condition"))["Resource"]
    assert f"arn:aws:ec2:us-east-1:*:vpc/{region.transitVpcId}" in network
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
    swapped = statements_for(document, "ec2:ModifyVpcEndpoint")[-1]["Resource"]
    for n in (1, 2):
        assert f"arn:aws:ec2:us-east-1:*:vpc/vpc-0000000{n}" in network
        for subnet in (f"subnet-0000000{n}", f"subnet-0000001{n}"):
            assert f"arn:aws:ec2:us-east-1:*:subnet/{subnet}" in network
        for group in (f"sg-0000000{n}", f"sg-0000009{n}"):
            assert f"arn:aws:ec2:us-east-1:*:security-group/{group}" in swapped
    (quota,) = statements_for(document, "servicequotas:GetServiceQuota")
    assert quota["Resource"] == ["arn:aws:servicequotas:us-east-1:*:vpc/L-29B6F2EB"]

    capped = parse_config({"regions": {"us-east-1": region(entry(1, maxEndpoints=40))}})
    assert "servicequotas:GetServiceQuota" not in actions_of(policy_document(capped))
