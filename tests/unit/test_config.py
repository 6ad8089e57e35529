"""Operator config: valid files load, bad ones fail at start with every problem named
by key path, with the offending value and the expected shape in words."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from causeway.aws.regions import known_regions, nearest_region
from causeway.config import ConfigError, load_config, parse_config, parse_duration
from fakes import REGION_CONFIG

ROOT = Path(__file__).resolve().parents[2]
REGION = REGION_CONFIG
OUTBOUND_ONLY = {
    key: value
    for key, value in REGION.items()
    if key not in {"inboundServiceId", "sourceIpPool", "blockedSecurityGroupId"}
}
DROP = object()  # marks a key to leave out of the region entry
PYDANTIC_WORDING = (
    "Value error",
    "[key]",
    "Input should",
    "String should",
    "should match pattern",
    "Field required",
    "Extra inputs",
    "Dictionary should",
    "Traceback",
)
REGEX_CHARACTERS = set("^$[]{}\\|")


def region(**changes: Any) -> dict[str, Any]:
    """A config whose only region (us-east-1) is REGION with `changes` applied."""
    entry = {**REGION, **changes}
    return {"regions": {"us-east-1": {k: v for k, v in entry.items() if v is not DROP}}}


def with_region(**top_level: Any) -> dict[str, Any]:
    return {"regions": {"us-east-1": REGION}, **top_level}


def problems(data: Any) -> dict[str, str]:
    """The ConfigError's problem lines as {dotted key path: message}."""
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    header, *lines = str(caught.value).splitlines()
    assert header == "config is invalid:"
    assert all(line.startswith("  ") for line in lines), lines
    return dict(line.strip().split(": ", 1) for line in lines)


def assert_plain_words(message: str, echo: str) -> None:
    """No pydantic artefacts, and no regex once the echoed value is taken out."""
    for artefact in PYDANTIC_WORDING:
        assert artefact not in message, message
    assert not REGEX_CHARACTERS & set(message.replace(echo, "")), message


def test_example_config_in_seeds_is_valid() -> None:
    config = load_config(ROOT / "seeds" / "config.example.yaml")
    assert "us-east-1" in config.regions
    assert config.pollInterval == timedelta(seconds=30)


def test_defaults() -> None:
    config = parse_config({"regions": {"us-east-1": REGION}})
    assert config.pollInterval == timedelta(seconds=30)
    assert config.metering.interval == timedelta(seconds=60)
    assert (config.metering.hourlyLimitMB, config.metering.gbPerUnitPerDay) == (56480, 5)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("250ms", 0.25), (15, 15), ("2", 2)],
)
def test_durations(raw: Any, seconds: float) -> None:
    assert parse_duration(raw).total_seconds() == seconds


# (data, dotted key path, fragment of that key's message, how the value is echoed)
BAD_CONFIGS: list[tuple[Any, str, str, str]] = [
    # the regions catalog
    ({}, "regions", "required, not set (expected a mapping from each AWS region name", ""),
    ({"regions": {}}, "regions", "no regions listed", ""),
    ({"regions": None}, "regions", "no value given (expected a mapping", ""),
    ({"regions": ["us-east-1"]}, "regions", "is a list, not a mapping", "['us-east-1']"),
    (
        {"regions": {"us-fake-9": REGION}},
        "regions.us-fake-9",
        "is not an AWS region botocore knows (did you mean 'us-east-1'?)",
        "'us-fake-9'",
    ),
    (
        {"regions": {"xx-nowhere-1": REGION}},
        "regions.xx-nowhere-1",
        "is not an AWS region botocore knows (expected a region name such as us-east-1",
        "'xx-nowhere-1'",
    ),
    ({"regions": {5: REGION}}, "regions.5", "is not a region name", "5"),
    (
        {"regions": {"us-east-1": None}},
        "regions.us-east-1",
        "no value given (expected a mapping with keys transitVpcId, subnetIds,",
        "",
    ),
    ({"regions": {"us-east-1": ["x"]}}, "regions.us-east-1", "is a list, not a mapping", "['x']"),
    # AWS ids and ARNs: the shape in words, never the pattern
    (
        region(transitVpcId="vpc-xyz"),
        "regions.us-east-1.transitVpcId",
        "is not a VPC id (expected vpc- followed by 8 or 17 hex digits, "
        "e.g. vpc-0a1b2c3d4e5f60718)",
        "'vpc-xyz'",
    ),
    (
        region(transitVpcId="vpc-0a1b2c3d4e5f"),
        "regions.us-east-1.transitVpcId",
        "is not a VPC id",
        "'vpc-0a1b2c3d4e5f'",
    ),
    (
        region(transitVpcId=None),
        "regions.us-east-1.transitVpcId",
        "no value given (expected vpc- followed by 8 or 17 hex digits",
        "",
    ),
    (region(subnetIds=[]), "regions.us-east-1.subnetIds", "the list is empty", ""),
    (
        region(subnetIds="subnet-0a1b2c3d"),
        "regions.us-east-1.subnetIds",
        "is a string, not a list (expected a YAML list of one or more subnet ids)",
        "'subnet-0a1b2c3d'",
    ),
    (
        region(subnetIds=["subnet-0a1b2c3d", "subnet-xyz"]),
        "regions.us-east-1.subnetIds.1",
        "is not a subnet id (expected subnet- followed by 8 or 17 hex digits",
        "'subnet-xyz'",
    ),
    (
        region(securityGroupIds=["sg-1"]),
        "regions.us-east-1.securityGroupIds.0",
        "is not a security group id (expected sg- followed by 8 or 17 hex digits",
        "'sg-1'",
    ),
    (
        region(platformPrincipal="arn:aws:iam::111111111111:user/alice"),
        "regions.us-east-1.platformPrincipal",
        "is not an IAM role ARN (expected arn:aws:iam::<12-digit account id>:role/<name>, "
        "e.g. arn:aws:iam::111111111111:role/causeway-outbound)",
        "'arn:aws:iam::111111111111:user/alice'",
    ),
    (
        region(inboundServiceId="vpce-0a1b2c3d"),
        "regions.us-east-1.inboundServiceId",
        "is not an endpoint service id (expected vpce-svc- followed by 8 or 17 hex digits",
        "'vpce-0a1b2c3d'",
    ),
    (
        region(blockedSecurityGroupId=5),
        "regions.us-east-1.blockedSecurityGroupId",
        "is not a security group id",
        "5",
    ),
    # the source IP pool: which way it is wrong
    (
        region(sourceIpPool="10.0.0.0/30"),
        "regions.us-east-1.sourceIpPool",
        "is smaller than /28 (expected an IPv4 network of /28 or larger, e.g. 10.200.0.0/16)",
        "'10.0.0.0/30'",
    ),
    (
        region(sourceIpPool="10.200.0.1/16"),
        "regions.us-east-1.sourceIpPool",
        "has host bits set (did you mean 10.200.0.0/16?)",
        "'10.200.0.1/16'",
    ),
    (
        region(sourceIpPool="fd00::/64"),
        "regions.us-east-1.sourceIpPool",
        "is an IPv6 network",
        "'fd00::/64'",
    ),
    (
        region(sourceIpPool="banana"),
        "regions.us-east-1.sourceIpPool",
        "is not an IPv4 network",
        "'banana'",
    ),
    (
        region(sourceIpPool="10.0.0.1"),
        "regions.us-east-1.sourceIpPool",
        "is a single address, not a network",
        "'10.0.0.1'",
    ),
    # required keys, and the inbound pair
    (region(subnetIds=DROP), "regions.us-east-1.subnetIds", "required, not set", ""),
    (
        region(platformPrincipal=DROP),
        "regions.us-east-1.platformPrincipal",
        "required, not set (expected arn:aws:iam::",
        "",
    ),
    (
        region(sourceIpPool=DROP),
        "regions.us-east-1.sourceIpPool",
        "required when inboundServiceId is set",
        "",
    ),
    (
        region(inboundServiceId=DROP),
        "regions.us-east-1.inboundServiceId",
        "required when sourceIpPool is set",
        "",
    ),
    # unknown keys at every level, with the nearest valid key
    (
        with_region(pollIntervall="3s"),
        "pollIntervall",
        "unknown key (did you mean 'pollInterval'?)",
        "",
    ),
    (
        region(transitVpcID="vpc-0a1b2c3d"),
        "regions.us-east-1.transitVpcID",
        "unknown key (did you mean 'transitVpcId'?)",
        "",
    ),
    (
        with_region(metering={"intervall": "60s"}),
        "metering.intervall",
        "unknown key (did you mean 'interval'?)",
        "",
    ),
    (
        with_region(typo=1),
        "typo",
        "unknown key (valid keys here: regions, pollInterval, metering, awsBudget)",
        "",
    ),
    # metering
    (
        with_region(metering=None),
        "metering",
        "no value given (expected a mapping with keys interval, hourlyLimitMB, gbPerUnitPerDay)",
        "",
    ),
    (with_region(metering=[1]), "metering", "is a list, not a mapping", "[1]"),
    (
        with_region(metering={"hourlyLimitMB": 0}),
        "metering.hourlyLimitMB",
        "is too small (expected a whole number of megabytes, at least 1)",
        "0",
    ),
    (
        with_region(metering={"gbPerUnitPerDay": "5"}),
        "metering.gbPerUnitPerDay",
        "is a string, not a whole number",
        "'5'",
    ),
    (
        with_region(metering={"hourlyLimitMB": 1.5}),
        "metering.hourlyLimitMB",
        "is not a whole number",
        "1.5",
    ),
    (
        with_region(metering={"hourlyLimitMB": True}),
        "metering.hourlyLimitMB",
        "is a boolean, not a whole number",
        "true",
    ),
    # durations: the value and the bounds
    (with_region(pollInterval="soon"), "pollInterval", "is not a duration", "'soon'"),
    (with_region(pollInterval="100ms"), "pollInterval", "is too short", "'100ms'"),
    (with_region(pollInterval="100ms"), "pollInterval", "at least 1s and at most 1h", "'100ms'"),
    (with_region(pollInterval="0s"), "pollInterval", "is too short", "'0s'"),
    (with_region(pollInterval="100000h"), "pollInterval", "is too long", "'100000h'"),
    (with_region(pollInterval=-5), "pollInterval", "is negative", "-5"),
    (with_region(pollInterval="-5s"), "pollInterval", "at least 1s and at most 1h", "'-5s'"),
    (with_region(pollInterval=float("inf")), "pollInterval", "is too long", "inf"),
    (
        with_region(metering={"interval": "5s"}),
        "metering.interval",
        "is too short (expected a duration of at least 10s and at most 1h",
        "'5s'",
    ),
    (with_region(metering={"interval": "2h"}), "metering.interval", "is too long", "'2h'"),
]


@pytest.mark.parametrize(("data", "path", "fragment", "echo"), BAD_CONFIGS)
def test_invalid_configs_name_the_key_the_value_and_the_shape(
    data: Any, path: str, fragment: str, echo: str
) -> None:
    found = problems(data)
    assert path in found, found
    message = found[path]
    assert fragment in message
    assert echo in message
    assert_plain_words(message, echo)


def test_every_problem_is_listed_at_once() -> None:
    found = problems(
        {
            "regions": {"us-fake-9": {**REGION, "transitVpcId": "vpc-xyz"}},
            "pollInterval": "soon",
            "pollIntervall": "1s",
        }
    )
    assert set(found) == {
        "regions.us-fake-9",
        "regions.us-fake-9.transitVpcId",
        "pollInterval",
        "pollIntervall",
    }


def test_a_long_list_of_problems_is_cut_short() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"regions": {f"xx-nowhere-{i}": REGION for i in range(40)}})
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 + 25 + 1
    assert lines[-1] == "  ... and 15 more"


# --- regions botocore knows ---------------------------------------------------------


def test_known_regions_cover_every_partition() -> None:
    regions = known_regions()
    assert {"us-east-1", "cn-north-1", "us-gov-west-1", "eusc-de-east-1"} <= regions
    assert not {"us-fake-9", "xx-nowhere-1"} & regions


def test_a_real_region_outside_the_old_pattern_is_accepted() -> None:
    assert "eusc-de-east-1" in parse_config({"regions": {"eusc-de-east-1": REGION}}).regions


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("us-fake-9", "us-east-1"),
        ("useast1", "us-east-1"),
        ("US-EAST-1", "us-east-1"),
        ("eu-west1", "eu-west-1"),
        ("us-gov-east1", "us-gov-east-1"),
        ("xx-nowhere-1", None),
        ("mars-1", None),
    ],
)
def test_region_typos_suggest_the_nearest_known_region(typo: str, meant: str | None) -> None:
    assert nearest_region(typo) == meant


# --- durations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "raw", "seconds"),
    [
        ("pollInterval", "1s", 1),
        ("pollInterval", "1h", 3600),
        ("pollInterval", 90, 90),
        ("pollInterval", "1.5s", 1.5),
        ("interval", "10s", 10),
        ("interval", "60m", 3600),
    ],
)
def test_durations_at_their_bounds_are_accepted(key: str, raw: Any, seconds: float) -> None:
    data = (
        with_region(pollInterval=raw) if key == "pollInterval" else with_region(metering={key: raw})
    )
    config = parse_config(data)
    value = config.pollInterval if key == "pollInterval" else config.metering.interval
    assert value.total_seconds() == seconds


# --- capabilities per region --------------------------------------------------------


def test_a_region_with_every_capability() -> None:
    config = parse_config({"regions": {"us-east-1": REGION}})
    settings = config.regions["us-east-1"]
    assert settings.inbound_enabled
    assert config.capabilities_summary() == [
        "us-east-1: outbound on, "
        "inbound on (service com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d4e5f60718, "
        "pool 10.200.0.0/16), "
        "hourly-limit blocking on (tenant security groups)"
    ]


def test_an_outbound_only_region() -> None:
    config = parse_config({"regions": {"us-east-1": REGION, "eu-west-1": OUTBOUND_ONLY}})
    settings = config.regions["eu-west-1"]
    assert not settings.inbound_enabled
    assert settings.inboundServiceId is None and settings.blockedSecurityGroupId is None
    assert config.capabilities_summary()[0] == (
        "eu-west-1: outbound on, inbound off (no inboundServiceId/sourceIpPool), "
        "hourly-limit blocking on (tenant security groups)"
    )


# --- the file itself ----------------------------------------------------------------


def test_missing_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAUSEWAY_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="set CAUSEWAY_CONFIG") as caught:
        load_config()
    assert "pass --config FILE" in str(caught.value)
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert str(caught.value) == f"cannot read operator config {missing}: No such file or directory"


def test_a_missing_file_named_by_the_env_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAUSEWAY_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match=r"\(named by CAUSEWAY_CONFIG\): No such file"):
        load_config()


def test_non_mapping_and_bad_yaml(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text("- a\n")
    (tmp_path / "bad.yaml").write_text("regions: [\n")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_config(tmp_path / "list.yaml")
    with pytest.raises(ConfigError, match="not valid YAML: line 2, column 1"):
        load_config(tmp_path / "bad.yaml")


# (file content, fragment of the one-line message that follows the file name)
BAD_FILES: list[tuple[bytes, str]] = [
    (b"", " is empty: expected a YAML mapping with a 'regions' key"),
    (b"# only a comment\n", " is empty: expected a YAML mapping with a 'regions' key"),
    (b"- a\n- b\n", " must be a YAML mapping with a 'regions' key, but it holds a list"),
    (b"hello\n", " must be a YAML mapping with a 'regions' key, but it holds a string: 'hello'"),
    (b"regions: caf\xe9\n", " is not UTF-8 text: byte 0xe9 at offset 12"),
    (b"regions: [\n", " is not valid YAML: line 2, column 1: while parsing a flow node"),
    (
        b"regions:\n  us-east-1: x\n y: 1\n",
        " is not valid YAML: line 3, column 2: while parsing a block mapping "
        "(from line 1, column 1), expected <block end>",
    ),
    (b"a: 1\n---\nb: 2\n", " is not valid YAML: line 2, column 1: expected a single document"),
    (b"regions: \x01\n", " is not valid YAML: character U+0001 at character offset 9"),
    (
        b"regions: {}\npollInterval: 30s\nmetering: {}\npollInterval: 5s\n",
        ": duplicate key 'pollInterval' (line 4; first at line 2)",
    ),
    (
        b"regions:\n  us-east-1:\n    transitVpcId: vpc-0a1b2c3d\n"
        b"    subnetIds: [subnet-0a1b2c3d]\n    transitVpcId: vpc-0a1b2c3e\n",
        ": duplicate key 'transitVpcId' (line 5; first at line 3)",
    ),
    (
        b"regions:\n  us-east-1: {}\n  eu-west-1: {}\n  us-east-1: {}\n",
        ": duplicate key 'us-east-1' (line 4; first at line 2)",
    ),
]


@pytest.mark.parametrize(("content", "fragment"), BAD_FILES)
def test_file_level_problems_are_one_line_naming_the_file(
    tmp_path: Path, content: bytes, fragment: str
) -> None:
    path = tmp_path / "causeway.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}{fragment}"), message
    assert "\n" not in message and "<unicode string>" not in message


def test_a_merge_key_may_be_overridden_without_counting_as_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text(
        "regions:\n"
        "  us-east-1: &base\n"
        + "".join(f"    {key}: {value}\n" for key, value in REGION.items())
        + "  eu-west-1:\n    <<: *base\n    transitVpcId: vpc-0a1b2c3e\n"
    )
    config = load_config(path)
    assert config.regions["eu-west-1"].transitVpcId == "vpc-0a1b2c3e"
    assert config.regions["eu-west-1"].subnetIds == REGION["subnetIds"]


def test_a_directory_is_not_a_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert str(caught.value) == f"cannot read operator config {tmp_path}: it is a directory"


def test_invalid_values_in_a_file_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"regions": {"us-east-1": {**REGION, "transitVpcId": "x"}}}))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    header, line = str(caught.value).splitlines()
    assert header == f"{path} is invalid:"
    assert re.match(r"  regions\.us-east-1\.transitVpcId: 'x' is not a VPC id", line)


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


def test_an_outbound_only_config_dumps_and_loads_back_unchanged() -> None:
    config = parse_config({"regions": {"eu-west-1": OUTBOUND_ONLY}, "pollInterval": "1.5s"})
    assert parse_config(config.model_dump(mode="json")) == config
