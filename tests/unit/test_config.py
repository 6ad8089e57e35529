"""Operator config: valid files load, bad ones fail at start with every problem named."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from causeway.config import ConfigError, load_config, parse_config, parse_duration
from fakes import REGION_CONFIG

ROOT = Path(__file__).resolve().parents[2]
REGION = REGION_CONFIG


def test_example_config_in_seeds_is_valid() -> None:
    config = load_config(ROOT / "seeds" / "config.example.yaml")
    assert "us-east-1" in config.regions
    assert config.pollInterval == timedelta(seconds=30)


def test_defaults() -> None:
    config = parse_config({"regions": {"us-east-1": REGION}})
    assert config.pollInterval == timedelta(seconds=30)
    assert (config.metering.hourlyLimitMB, config.metering.gbPerUnitPerDay) == (56480, 5)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("250ms", 0.25), (15, 15), ("2", 2)],
)
def test_durations(raw: Any, seconds: float) -> None:
    assert parse_duration(raw).total_seconds() == seconds


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({}, "regions: Field required"),
        ({"regions": {}}, "regions: Dictionary should have at least 1 item"),
        ({"regions": {"us-east-1": {**REGION, "subnetIds": []}}}, "regions.us-east-1.subnetIds"),
        ({"regions": {"us-east-1": {**REGION, "sourceIpPool": "10.0.0.0/30"}}}, "/28 or larger"),
        (
            {"regions": {"us-east-1": {**REGION, "transitVpcId": "vpc-xyz"}}},
            "regions.us-east-1.transitVpcId",
        ),
        ({"regions": {"us-east-1": REGION}, "pollInterval": "soon"}, "not a duration"),
        ({"regions": {"us-east-1": REGION}, "pollInterval": "100ms"}, "at least 1s"),
        ({"regions": {"us-east-1": REGION}, "typo": 1}, "typo: Extra inputs are not permitted"),
    ],
)
def test_invalid_configs_name_the_key(data: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert fragment in str(caught.value)


def test_missing_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAUSEWAY_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="set CAUSEWAY_CONFIG"):
        load_config()
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_non_mapping_and_bad_yaml(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text("- a\n")
    (tmp_path / "bad.yaml").write_text("regions: [\n")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_config(tmp_path / "list.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml")


def test_config_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"regions": {"eu-west-1": REGION}, "pollInterval": "10s"}))
    monkeypatch.setenv("CAUSEWAY_CONFIG", str(path))
    assert load_config().pollInterval == timedelta(seconds=10)


def test_a_dumped_config_loads_back_unchanged() -> None:
    config = load_config(ROOT / "seeds" / "config.example.yaml")
    dumped = config.model_dump(mode="json")
    assert (dumped["pollInterval"], dumped["metering"]["interval"]) == ("30s", "60s")
    assert parse_config(dumped) == config
