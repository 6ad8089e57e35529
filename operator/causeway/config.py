"""Operator configuration: the regions catalog and intervals, read from the YAML
file named by CAUSEWAY_CONFIG and validated once at start-up.

A bad file stops the operator before it touches anything, with one line per
problem naming the offending key (never a traceback).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
)

from causeway.api.common import REGION_PATTERN

CONFIG_ENV = "CAUSEWAY_CONFIG"
_DURATION = re.compile(r"^\s*(?P<value>\d+(\.\d+)?)\s*(?P<unit>ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class ConfigError(Exception):
    """The operator config is missing or invalid; the message lists every problem."""


def parse_duration(raw: object) -> timedelta:
    """'30s', '5m', '1h', '250ms' or a plain number of seconds."""
    if isinstance(raw, timedelta):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return timedelta(seconds=float(raw))
    match = _DURATION.match(str(raw))
    if match is None:
        raise ValueError(f"{raw!r} is not a duration like 30s, 5m or 1h")
    return timedelta(seconds=float(match["value"]) * _UNIT_SECONDS[match["unit"]])


def format_duration(value: timedelta) -> str:
    """The config file's spelling of a duration: '30s', '1.5s'."""
    return f"{value.total_seconds():g}s"


# Written back as the file spells it, so a dumped config loads again unchanged.
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionConfig(_Strict):
    """The platform's footprint in one AWS region."""

    transitVpcId: str = Field(pattern=r"^vpc-[0-9a-f]{8,17}$")
    subnetIds: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(min_length=1)
    securityGroupIds: list[Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")]] = Field(
        min_length=1
    )
    platformPrincipal: str = Field(pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:[A-Za-z0-9+=,.@_/-]+$")
    inboundServiceId: str = Field(pattern=r"^vpce-svc-[0-9a-f]{8,17}$")
    sourceIpPool: str
    blockedSecurityGroupId: str = Field(pattern=r"^sg-[0-9a-f]{8,17}$")

    @field_validator("sourceIpPool")
    @classmethod
    def _pool_fits_28s(cls, value: str) -> str:
        network = ipaddress.ip_network(value, strict=True)
        if network.version != 4 or network.prefixlen > 28:
            raise ValueError("sourceIpPool must be an IPv4 network of /28 or larger")
        return value


class MeteringConfig(_Strict):
    """Quota metering (used by the metering controller)."""

    interval: Duration = timedelta(seconds=60)
    hourlyLimitMB: int = Field(default=56480, gt=0)
    gbPerUnitPerDay: int = Field(default=5, gt=0)


class OperatorConfig(_Strict):
    """The whole operator config file."""

    regions: dict[Annotated[str, Field(pattern=REGION_PATTERN)], RegionConfig] = Field(min_length=1)
    pollInterval: Duration = timedelta(seconds=30)
    metering: MeteringConfig = MeteringConfig()

    @field_validator("pollInterval")
    @classmethod
    def _poll_not_too_fast(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("pollInterval must be at least 1s (describe calls are rate-limited)")
        return value


def parse_config(data: Mapping[str, Any], *, source: str = "config") -> OperatorConfig:
    """Validate already-loaded YAML; ConfigError lists every problem by key path."""
    try:
        return OperatorConfig.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"  {'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ConfigError(f"{source} is invalid:\n" + "\n".join(problems)) from None


def load_config(path: str | os.PathLike[str] | None = None) -> OperatorConfig:
    """Load the config from `path`, or from the file named by CAUSEWAY_CONFIG."""
    location = path or os.environ.get(CONFIG_ENV)
    if not location:
        raise ConfigError(f"no operator config: set {CONFIG_ENV} to the config file's path")
    file = Path(location)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read operator config {file}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"operator config {file} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"operator config {file} must be a YAML mapping")
    return parse_config(data, source=str(file))
