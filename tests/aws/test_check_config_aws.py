"""`causeway check-config --aws`: the start-up check of each transit pool, asked from
the command line against the SDK's usual AWS (here the sandbox, through the standard
environment variables): a pool as configured passes; two subnets of one VPC in one
Availability Zone (AWS would answer DuplicateSubnetsInSameZone) or a subnet of another
VPC are named by config path, and the command fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from causeway.cli import main
from causeway.sandbox.aws import AwsSandbox

REGION = "us-east-1"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AwsSandbox]:
    with AwsSandbox(region=REGION) as box:
        yield box


def check(
    sandbox: AwsSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pool: list[dict[str, Any]],
) -> int:
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    region = {"platformPrincipal": sandbox.platform_principal, "transitVpcs": pool}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"regions": {REGION: region}}))
    return main(["check-config", "--aws", str(path)])


def test_a_pool_as_configured_passes(
    sandbox: AwsSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert check(sandbox, tmp_path, monkeypatch, [sandbox.create_transit_vpc()]) == 0
    assert "every transit subnet and group is where the config says" in capsys.readouterr().out


def test_two_subnets_in_one_zone_and_a_foreign_subnet_are_named(
    sandbox: AwsSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second = sandbox.create_transit_vpc(), sandbox.create_transit_vpc()
    elsewhere = sandbox.create_transit_vpc()  # not in the config
    ec2 = sandbox.client("ec2", REGION)
    octet = ec2.describe_subnets(SubnetIds=[first["subnetIds"][0]])["Subnets"][0]["CidrBlock"]
    again = ec2.create_subnet(
        VpcId=first["vpcId"],
        CidrBlock=octet.replace(".1.0/24", ".9.0/24"),
        AvailabilityZone=f"{REGION}a",
    )["Subnet"]["SubnetId"]
    doubled = {**first, "subnetIds": [*first["subnetIds"], again]}
    foreign = {**second, "subnetIds": [*second["subnetIds"][:2], elsewhere["subnetIds"][2]]}
    assert check(sandbox, tmp_path, monkeypatch, [doubled, foreign]) == 1
    errors = capsys.readouterr().err
    zone = sandbox.zone_id(f"{REGION}a")
    assert (
        f"regions.{REGION}.transitVpcs.0.subnetIds: {first['subnetIds'][0]} and {again} are "
        f"both in {zone} (DuplicateSubnetsInSameZone" in errors
    )
    assert (
        f"regions.{REGION}.transitVpcs.1.subnetIds: {elsewhere['subnetIds'][2]} belongs to "
        f"{elsewhere['vpcId']}, not {second['vpcId']}" in errors
    )


def test_open_rules_no_tenant_group_can_hold_are_named(
    sandbox: AwsSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two open groups of 35 rules each: each fits AWS's 60, but a tenant's group holds
    their union, 71 rules (the sandbox's own rule included)."""
    transit = sandbox.create_transit_vpc()
    ec2 = sandbox.client("ec2", REGION)
    groups = [sandbox.create_open_group(transit["vpcId"]) for _ in range(2)]
    for index, group in enumerate(groups):
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "IpRanges": [{"CidrIp": f"172.{16 + index}.{i}.0/24"} for i in range(35)],
                }
            ],
        )
    assert check(sandbox, tmp_path, monkeypatch, [{**transit, "securityGroupIds": groups}]) == 1
    errors = capsys.readouterr().err
    assert (
        f"regions.{REGION}.transitVpcs.0.securityGroupIds: their ingress rules, which each "
        "tenant's security group holds together, are 71 IPv4 and 0 IPv6 rules; the account "
        "allows 60 per group and IP version (Service Quotas vpc L-0EA8095F)"
    ) in errors
