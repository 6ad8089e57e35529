"""The transit VPC pool in the operator config: the `transitVpcs` list, the single-VPC
keys read as a pool of one, and the mistakes an admin makes when listing VPCs."""

from __future__ import annotations

from typing import Any

import pytest

from causeway.config import POOL_FORM, SINGLE_VPC_FORM, ConfigError, parse_config
from fakes import REGION_CONFIG

PRINCIPAL = REGION_CONFIG["platformPrincipal"]


def vpc(n: int, **changes: Any) -> dict[str, Any]:
    """A transit VPC entry whose ids all end in the digit `n`."""
    return {
        "vpcId": f"vpc-0000000{n}",
        "subnetIds": [f"subnet-0000000{n}", f"subnet-0000001{n}"],
        "securityGroupIds": [f"sg-0000000{n}"],
        **changes,
    }


def pool(*entries: dict[str, Any], **region: Any) -> dict[str, Any]:
    """A config whose only region (us-east-1) is a pool of these entries."""
    entry = {"platformPrincipal": PRINCIPAL, "transitVpcs": list(entries), **region}
    return {"regions": {"us-east-1": entry}}


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    _, *lines = str(caught.value).splitlines()
    return dict(line.strip().split(": ", 1) for line in lines)


def test_the_pool_form_keeps_config_order_and_each_entry_settings() -> None:
    config = parse_config(pool(vpc(1), vpc(2, maxEndpoints=5, draining=True)))
    region = config.regions["us-east-1"]
    assert region.form == POOL_FORM
    assert [v.vpcId for v in region.pool] == ["vpc-00000001", "vpc-00000002"]
    assert (region.pool[0].maxEndpoints, region.pool[0].draining) == (None, False)
    assert (region.pool[1].maxEndpoints, region.pool[1].draining) == (5, True)
    assert region.pool_summary() == (
        "2 transit VPCs from transitVpcs: vpc-00000001, vpc-00000002 (max 5 endpoints, draining)"
    )


def test_the_single_vpc_keys_load_as_a_pool_of_one() -> None:
    region = parse_config({"regions": {"us-east-1": REGION_CONFIG}}).regions["us-east-1"]
    assert region.form == SINGLE_VPC_FORM
    (only,) = region.pool
    assert only.vpcId == REGION_CONFIG["transitVpcId"]
    assert only.subnetIds == REGION_CONFIG["subnetIds"]
    assert only.securityGroupIds == REGION_CONFIG["securityGroupIds"]
    assert only.blockedSecurityGroupId == REGION_CONFIG["blockedSecurityGroupId"]
    assert (only.maxEndpoints, only.draining) == (None, False)
    assert region.pool_summary().startswith("1 transit VPC from the single-VPC keys")


@pytest.mark.parametrize(
    ("data", "path", "fragment"),
    [
        (
            pool(vpc(1), vpc(2), {**vpc(3), "vpcId": "vpc-00000001"}),
            "regions.us-east-1.transitVpcs.2.vpcId",
            "vpc-00000001 is listed in transitVpcs entries 0 and 2",
        ),
        (
            pool(vpc(1), {**vpc(2), "subnetIds": ["subnet-00000011"]}),
            "regions.us-east-1.transitVpcs.1.subnetIds",
            "subnet-00000011 is listed in transitVpcs entries 0 and 1",
        ),
        (
            pool(vpc(1, blockedSecurityGroupId="sg-00000001")),
            "regions.us-east-1.transitVpcs.0.blockedSecurityGroupId",
            "sg-00000001 is also in securityGroupIds",
        ),
        (
            pool(vpc(1, blockedSecurityGroupId="sg-00000091"), vpc(2)),
            "regions.us-east-1",
            "blockedSecurityGroupId is set on some transit VPCs but not on vpc-00000002",
        ),
        (
            pool(vpc(1), transitVpcId="vpc-00000009"),
            "regions.us-east-1.transitVpcId",
            "cannot be used together with transitVpcs",
        ),
        (pool(vpc(1, maxEndpoints=0)), "regions.us-east-1.transitVpcs.0.maxEndpoints", "too small"),
        (
            pool(vpc(1, draining="yes")),
            "regions.us-east-1.transitVpcs.0.draining",
            "'yes' is a string, not true or false",
        ),
        (
            pool(vpc(1, drainng=True)),
            "regions.us-east-1.transitVpcs.0.drainng",
            "unknown key (did you mean 'draining'?)",
        ),
        (pool(), "regions.us-east-1.transitVpcs", "the list is empty"),
        (
            {"regions": {"us-east-1": {"platformPrincipal": PRINCIPAL}}},
            "regions.us-east-1.transitVpcId",
            "required, not set (expected vpc- followed by",
        ),
    ],
)
def test_pool_mistakes_name_the_entry(data: dict[str, Any], path: str, fragment: str) -> None:
    found = problems(data)
    assert path in found, found
    assert fragment in found[path]


def test_the_single_vpc_form_also_refuses_a_blocked_group_that_is_open() -> None:
    open_group = REGION_CONFIG["securityGroupIds"][0]
    data = {"regions": {"us-east-1": {**REGION_CONFIG, "blockedSecurityGroupId": open_group}}}
    found = problems(data)
    assert "is also in securityGroupIds" in found["regions.us-east-1.blockedSecurityGroupId"]
