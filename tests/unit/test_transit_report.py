"""Transit capacity for admins (`causeway regions --transit`, `causeway status -A
--config`): each VPC's endpoints held, capacity and draining, from the config and the
OutboundConnections' status.transitVpcId."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from causeway.cli import main
from causeway.config import parse_config
from causeway.report.transit import TransitRow, transit_rows, transit_table
from fakes import REGION_CONFIG

A, B, GONE = "vpc-0000000a", "vpc-0000000b", "vpc-0000000c"
POOL = {
    "platformPrincipal": REGION_CONFIG["platformPrincipal"],
    "transitVpcs": [
        {"vpcId": A, "subnetIds": ["subnet-0000000a"], "securityGroupIds": ["sg-0000000a"]},
        {
            "vpcId": B,
            "subnetIds": ["subnet-0000000b"],
            "securityGroupIds": ["sg-0000000b"],
            "maxEndpoints": 40,
            "draining": True,
        },
    ],
}
CONFIG = parse_config({"regions": {"us-east-1": POOL}})


def connection(phase: str, vpc_id: str | None, region: str = "us-east-1") -> dict[str, Any]:
    return {"spec": {"region": region}, "status": {"phase": phase, "transitVpcId": vpc_id}}


def test_rows_count_connections_holding_an_endpoint_in_each_vpc() -> None:
    bodies = [
        connection("Ready", A),
        connection("PendingAcceptance", A),
        connection("TeardownInProgress", B),
        connection("Unprovisioned", None),  # waiting for capacity: holds nothing
        connection("Ready", GONE),  # in a VPC removed from the config
        connection("Ready", A, region="eu-west-1"),  # another region's VPC of that id
    ]
    assert transit_rows(CONFIG, bodies) == [
        TransitRow("us-east-1", A, 2, None, False),
        TransitRow("us-east-1", B, 1, 40, True),
        TransitRow("us-east-1", GONE, 1, None, True, configured=False),
    ]


def test_the_table_without_the_cluster_has_no_used_column() -> None:
    assert transit_table(transit_rows(CONFIG)).splitlines() == [
        "REGION     TRANSIT VPC   CAPACITY  DRAINING",
        f"us-east-1  {A}  quota     no",
        f"us-east-1  {B}  40        yes",
    ]


def test_regions_transit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"regions": {"us-east-1": POOL}}))
    assert main(["regions", "--config", str(path), "--transit", "-o", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [(r["vpcId"], r["used"], r["maxEndpoints"], r["draining"]) for r in records] == [
        (A, None, None, False),
        (B, None, 40, True),
    ]
    assert main(["regions", "--config", str(path), "--transit"]) == 0
    assert "TRANSIT VPC" in capsys.readouterr().out
