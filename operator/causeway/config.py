"""Operator configuration: the regions catalog and intervals, read from the YAML
file named by CAUSEWAY_CONFIG (or --config) and validated once at start-up.

A bad file stops the operator before it touches anything, with one line per
problem naming the offending key and value in words (never a traceback, a regex
or pydantic's wording). What each value must look like is written once, next to
the field it belongs to, and is used both to check the value and to explain it.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import os
import re
import reprlib
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    PlainSerializer,
    PrivateAttr,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError, core_schema

from causeway.aws.regions import known_regions, nearest_region
from causeway.controllers.budget import DEFAULTS as BUDGET_DEFAULTS
from causeway.domain import endpoint_service_name
from causeway.problems import UserError

CONFIG_ENV = "CAUSEWAY_CONFIG"
BUDGETED_APIS = sorted(BUDGET_DEFAULTS)
_DURATION = re.compile(r"^\s*(?P<value>\d+(\.\d+)?)\s*(?P<unit>ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_MAX_PROBLEMS_SHOWN = 25  # past this, more lines bury the first (usually the cause)


class ConfigError(UserError):
    """The operator config is missing or invalid; the message lists every problem."""


# --- how values are shown and rejected -------------------------------------------------

_echo = reprlib.Repr()
_echo.maxstring = 80
_echo.maxother = 80
_echo.maxlist = _echo.maxdict = 4


def _show(value: object) -> str:
    """The offending value as the user can find it in the file, shortened if huge."""
    if isinstance(value, bool):
        return "true" if value else "false"  # as YAML spells it, not Python
    return _echo.repr(value)


def _kind(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _problem(message: str, **context: str) -> PydanticCustomError:
    """A validation failure shown to the user exactly as written (no pydantic prefix).

    `key` in the context names a sub-key the problem belongs to (see `_path`)."""
    return PydanticCustomError("causeway_config", "{message}", {"message": message, **context})


def _rejected(value: object, complaint: str, expected: str) -> PydanticCustomError:
    """'<value> <complaint> (expected <expected>)', or 'no value ...' for an empty key."""
    if value is None:
        return _problem(f"no value given (expected {expected})")
    return _problem(f"{_show(value)} {complaint} (expected {expected})")


@dataclass(frozen=True)
class _Rule:
    """What one config value must be, in words, and the check that enforces it.

    Used as Annotated metadata: the check runs before pydantic's own validation, so a
    bad value is explained in these words; a missing key quotes `expected` too."""

    expected: str
    check: Callable[[Any, str], Any]  # (raw value, expected) -> accepted value, or raises

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self._validate, handler(source))

    def _validate(self, value: Any) -> Any:
        if isinstance(value, _NotSet):
            if value.empty:
                return self.check(None, self.expected)
            raise _problem(f"required, not set (expected {self.expected})")
        return self.check(value, self.expected)


# --- value shapes ----------------------------------------------------------------------


def _aws_id(prefix: str, noun: str, example: str) -> _Rule:
    """An EC2 resource id: the prefix, then 8 (older resources) or 17 hex digits."""
    shape = re.compile(re.escape(prefix) + r"(?:[0-9a-f]{8}|[0-9a-f]{17})")

    def check(value: object, expected: str) -> object:
        if isinstance(value, str) and shape.fullmatch(value):
            return value
        raise _rejected(value, f"is not {noun}", expected)

    return _Rule(f"{prefix} followed by 8 or 17 hex digits, e.g. {example}", check)


def _id_list(item_noun: str) -> _Rule:
    """A non-empty YAML list; its items are checked by the item type's own rule."""

    def check(value: object, expected: str) -> object:
        if not isinstance(value, list | tuple):
            raise _rejected(value, f"is {_kind(value)}, not a list", expected)
        if not value:
            raise _problem(f"the list is empty (expected {expected})")
        return value

    return _Rule(f"a YAML list of one or more {item_noun}", check)


def _role_arn(value: object, expected: str) -> object:
    if isinstance(value, str) and _ROLE_ARN.fullmatch(value):
        return value
    raise _rejected(value, "is not an IAM role ARN", expected)


_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+")

# Each inbound connection takes one /28 of the pool, so the pool must hold at least one.
_SMALLEST_POOL_PREFIX = 28


def _ipv4_pool(value: object, expected: str) -> object:
    if not isinstance(value, str):
        raise _rejected(value, f"is {_kind(value)}, not an IPv4 network", expected)
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise _rejected(value, "is not an IPv4 network", expected) from None
    if network.version != 4:
        raise _rejected(value, "is an IPv6 network", expected)
    if "/" not in value:
        raise _rejected(value, "is a single address, not a network with a /prefix", expected)
    if str(network) != value.strip():
        raise _problem(f"{_show(value)} has host bits set (did you mean {network}?)")
    if network.prefixlen > _SMALLEST_POOL_PREFIX:
        raise _rejected(value, f"is smaller than /{_SMALLEST_POOL_PREFIX}", expected)
    return value


def _whole_number(at_least: int, unit: str) -> _Rule:
    def check(value: object, expected: str) -> object:
        if isinstance(value, float):
            raise _rejected(value, "is not a whole number", expected)
        if not isinstance(value, int) or isinstance(value, bool):
            raise _rejected(value, f"is {_kind(value)}, not a whole number", expected)
        if value < at_least:
            raise _rejected(value, "is too small", expected)
        return value

    return _Rule(f"a whole number of {unit}, at least {at_least}", check)


def _rate(value: object, expected: str) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _rejected(value, f"is {_kind(value)}, not a number", expected)
    if not 0 < value <= _MAX_RATE:
        raise _rejected(value, "is out of range", expected)
    return float(value)


def _api_name(value: object, expected: str) -> object:
    if isinstance(value, str) and value in BUDGETED_APIS:
        return value
    close = difflib.get_close_matches(str(value), BUDGETED_APIS, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"expected {expected}"
    raise _problem(f"{_show(value)} is not an AWS call Causeway makes ({hint})")


_MAX_RATE = 10_000.0


def _duration_between(shortest: timedelta, longest: timedelta) -> _Rule:
    def check(value: object, expected: str) -> timedelta:
        try:
            duration = parse_duration(value)
        except ValueError:
            raise _rejected(value, "is not a duration", expected) from None
        except OverflowError:  # e.g. 1e20h: beyond what timedelta holds, either way
            duration = timedelta.min if _is_negative_number(value) else timedelta.max
        if duration < timedelta(0):
            raise _rejected(value, "is negative", expected)
        if not shortest <= duration <= longest:
            raise _rejected(
                value, "is too short" if duration < shortest else "is too long", expected
            )
        return duration

    bounds = f"at least {_spoken(shortest)} and at most {_spoken(longest)}"
    return _Rule(f"a duration of {bounds}, like 30s, 5m, 1h, 250ms or plain seconds", check)


def _is_negative_number(value: object) -> bool:
    return isinstance(value, int | float) and value < 0


def _region_name(value: object, expected: str) -> object:
    if not isinstance(value, str):
        raise _rejected(value, "is not a region name", expected)
    if value in known_regions():
        return value
    suggestion = nearest_region(value)
    hint = f"did you mean {suggestion!r}?" if suggestion else f"expected {expected}"
    raise _problem(f"{_show(value)} is not an AWS region botocore knows ({hint})")


def _region_catalog(value: object, expected: str) -> object:
    if not isinstance(value, Mapping):
        raise _rejected(value, f"is {_kind(value)}, not a mapping", expected)
    if not value:
        raise _problem(f"no regions listed (expected {expected})")
    return value


# --- durations -------------------------------------------------------------------------


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


def _spoken(value: timedelta) -> str:
    """A bound as a person writes it: '10s', '1h' (not '3600s')."""
    seconds = value.total_seconds()
    for unit in ("h", "m"):
        if seconds >= _UNIT_SECONDS[unit] and seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds / _UNIT_SECONDS[unit]:g}{unit}"
    return f"{seconds:g}s"


# Written back as the file spells it, so a dumped config loads again unchanged.
_AS_WRITTEN = PlainSerializer(format_duration, return_type=str, when_used="json")
Duration = Annotated[timedelta, BeforeValidator(parse_duration), _AS_WRITTEN]


# --- the models ------------------------------------------------------------------------

RegionName = Annotated[str, _Rule("a region name such as us-east-1 or eu-west-1", _region_name)]
VpcId = Annotated[str, _aws_id("vpc-", "a VPC id", "vpc-0a1b2c3d4e5f60718")]
SubnetId = Annotated[str, _aws_id("subnet-", "a subnet id", "subnet-0a1b2c3d4e5f60711")]
SecurityGroupId = Annotated[str, _aws_id("sg-", "a security group id", "sg-0a1b2c3d4e5f60718")]
EndpointServiceId = Annotated[
    str, _aws_id("vpce-svc-", "an endpoint service id", "vpce-svc-0a1b2c3d4e5f60718")
]
RoleArn = Annotated[
    str,
    _Rule(
        "arn:aws:iam::<12-digit account id>:role/<name>, "
        "e.g. arn:aws:iam::111111111111:role/causeway-outbound",
        _role_arn,
    ),
]
SourceIpPool = Annotated[
    str,
    _Rule(f"an IPv4 network of /{_SMALLEST_POOL_PREFIX} or larger, e.g. 10.200.0.0/16", _ipv4_pool),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# AWS's default for the quota "Interface and Gateway Load Balancer endpoints per VPC"
# (Service Quotas code L-29B6F2EB), used when neither maxEndpoints nor the account's
# quota is known.
DEFAULT_ENDPOINTS_PER_VPC = 50
SINGLE_VPC_FORM = "the single-VPC keys (transitVpcId, subnetIds, securityGroupIds)"
POOL_FORM = "transitVpcs"
_SINGLE_VPC_KEYS = ("transitVpcId", "subnetIds", "securityGroupIds", "blockedSecurityGroupId")
_REQUIRED_SINGLE_VPC_KEYS = _SINGLE_VPC_KEYS[:3]


@dataclass(frozen=True)
class _NotSet:
    """Stands for a key the single-VPC form requires but the file leaves out (or leaves
    empty), so the key's own rule reports it next to every other problem of the entry
    (the key itself is optional: the pool form does without it)."""

    empty: bool = False


_NOT_SET = _NotSet()
_EMPTY = _NotSet(empty=True)


def _bool(value: object, expected: str) -> object:
    if isinstance(value, bool):
        return value
    raise _rejected(value, f"is {_kind(value)}, not true or false", expected)


class TransitVpcConfig(_Strict):
    """One transit VPC of a region's pool: where outbound endpoints are created.

    Security groups belong to one VPC, so each VPC names its own (and its own blocked
    group). `maxEndpoints` caps what Causeway places there (default: the account's
    quota for the VPC); `draining` stops new placements and leaves existing ones."""

    vpcId: VpcId
    subnetIds: Annotated[list[SubnetId], _id_list("subnet ids")]
    securityGroupIds: Annotated[list[SecurityGroupId], _id_list("security group ids")]
    blockedSecurityGroupId: SecurityGroupId | None = None
    maxEndpoints: Annotated[int, _whole_number(1, "endpoints")] | None = None
    draining: Annotated[bool, _Rule("true or false", _bool)] = False

    @model_validator(mode="after")
    def _blocked_group_is_not_open(self) -> TransitVpcConfig:
        if self.blockedSecurityGroupId in self.securityGroupIds:
            raise _problem(
                f"{self.blockedSecurityGroupId} is also in securityGroupIds: the blocked "
                "group must be a separate group with no rules, or blocking would let "
                "traffic through",
                key="blockedSecurityGroupId",
            )
        return self

    def describe(self) -> str:
        """'vpc-… (max 40 endpoints, draining)' for check-config."""
        notes = [f"max {self.maxEndpoints} endpoints"] if self.maxEndpoints else []
        notes += ["draining"] if self.draining else []
        return self.vpcId + (f" ({', '.join(notes)})" if notes else "")


class RegionConfig(_Strict):
    """The platform's footprint in one AWS region.

    Outbound is always on, in a pool of transit VPCs: `transitVpcs`, or the single-VPC
    keys (transitVpcId, subnetIds, securityGroupIds, blockedSecurityGroupId), read as a
    pool of one. Inbound needs inboundServiceId and sourceIpPool together; hourly-limit
    blocking needs a blockedSecurityGroupId on every transit VPC."""

    transitVpcId: VpcId | None = None
    subnetIds: Annotated[list[SubnetId], _id_list("subnet ids")] | None = None
    securityGroupIds: Annotated[list[SecurityGroupId], _id_list("security group ids")] | None = None
    platformPrincipal: RoleArn
    inboundServiceId: EndpointServiceId | None = None
    sourceIpPool: SourceIpPool | None = None
    blockedSecurityGroupId: SecurityGroupId | None = None
    transitVpcs: (
        Annotated[list[TransitVpcConfig], _id_list("transit VPC entries (vpcId, subnetIds, ...)")]
        | None
    ) = None
    # Regions whose endpoint services tenants may reach from this one (cross-Region
    # PrivateLink, OutboundConnection.spec.serviceRegion); none by default.
    remoteServiceRegions: list[RegionName] = []
    _pool: tuple[TransitVpcConfig, ...] = PrivateAttr(default=())
    _by_vpc: dict[str, TransitVpcConfig] = PrivateAttr(default_factory=dict)

    @property
    def pool(self) -> tuple[TransitVpcConfig, ...]:
        """The region's transit VPCs in config order (one for the single-VPC form)."""
        return self._pool

    @property
    def form(self) -> str:
        """Which form of the outbound keys the file used, in words."""
        return POOL_FORM if self.transitVpcs is not None else SINGLE_VPC_FORM

    def transit_vpc(self, vpc_id: str | None) -> TransitVpcConfig | None:
        """The configured entry of this VPC (None: not, or no longer, configured)."""
        return self._by_vpc.get(vpc_id or "")

    @property
    def inbound_enabled(self) -> bool:
        return self.inboundServiceId is not None and self.sourceIpPool is not None

    @model_validator(mode="before")
    @classmethod
    def _single_vpc_keys_are_required_without_a_pool(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or data.get("transitVpcs") is not None:
            return data
        missing = {
            key: _NOT_SET if key not in data else _EMPTY
            for key in _REQUIRED_SINGLE_VPC_KEYS
            if data.get(key) is None
        }
        return {**data, **missing} if missing else data

    @model_validator(mode="after")
    def _inbound_keys_come_together(self) -> RegionConfig:
        pair = {"inboundServiceId": self.inboundServiceId, "sourceIpPool": self.sourceIpPool}
        missing = [key for key, value in pair.items() if value is None]
        if len(missing) == 1:
            (absent,) = missing
            (present,) = set(pair) - {absent}
            raise _problem(
                f"required when {present} is set (inbound needs both; leave out both to "
                "turn inbound off in this region)",
                key=absent,
            )
        return self

    @model_validator(mode="after")
    def _remote_regions_are_other_regions(self) -> RegionConfig:
        seen: set[str] = set()
        for index, name in enumerate(self.remoteServiceRegions):
            if name in seen:
                raise _problem(f"{name} is listed twice", key=f"remoteServiceRegions.{index}")
            seen.add(name)
        return self

    @model_validator(mode="after")
    def _one_pool(self) -> RegionConfig:
        if self.transitVpcs is None:
            assert self.transitVpcId and self.subnetIds and self.securityGroupIds
            single = TransitVpcConfig(
                vpcId=self.transitVpcId,
                subnetIds=self.subnetIds,
                securityGroupIds=self.securityGroupIds,
                blockedSecurityGroupId=self.blockedSecurityGroupId,
            )
            self._pool = (single,)
            self._by_vpc = {single.vpcId: single}
            return self
        mixed = [key for key in _SINGLE_VPC_KEYS if getattr(self, key) is not None]
        if mixed:
            raise _problem(
                f"{', '.join(mixed)} cannot be used together with transitVpcs (give each "
                "VPC's subnets and groups in its transitVpcs entry)",
                key=mixed[0],
            )
        _check_distinct(self.transitVpcs)
        self._pool = tuple(self.transitVpcs)
        self._by_vpc = {vpc.vpcId: vpc for vpc in self._pool}
        return self

    def capabilities(self, name: str) -> str:
        """What this region can do, in words: 'outbound on, inbound off (...), ...'. The
        inbound service is named in full: tenants point their endpoints at it."""
        if self.inboundServiceId is not None and self.sourceIpPool is not None:
            service = endpoint_service_name(name, self.inboundServiceId)
            inbound = f"inbound on (service {service}, pool {self.sourceIpPool})"
        else:
            inbound = "inbound off (no inboundServiceId/sourceIpPool)"
        # Every region enforces the hourly limit: through tenant security groups that
        # Causeway makes itself (a blockedSecurityGroupId only helps endpoints made by
        # an earlier version move onto them).
        return f"outbound on, {inbound}, hourly-limit blocking on (tenant security groups)"

    def pool_summary(self) -> str:
        """The transit VPCs and which form of the config named them."""
        vpcs = ", ".join(vpc.describe() for vpc in self._pool)
        count = len(self._pool)
        return f"{count} transit VPC{'s' if count != 1 else ''} from {self.form}: {vpcs}"


def _check_distinct(entries: Sequence[TransitVpcConfig]) -> None:
    """Each VPC, subnet and security group of a region belongs to one entry only (a
    subnet or group belongs to exactly one VPC in AWS)."""
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        groups = [*entry.securityGroupIds, *filter(None, [entry.blockedSecurityGroupId])]
        for key, ids in (("vpcId", [entry.vpcId]), ("subnetIds", entry.subnetIds)):
            _note_once(seen, index, key, ids)
        _note_once(seen, index, "securityGroupIds", groups)
    blocked = [e.blockedSecurityGroupId is not None for e in entries]
    if any(blocked) and not all(blocked):
        without = [e.vpcId for e in entries if e.blockedSecurityGroupId is None]
        raise _problem(
            f"blockedSecurityGroupId is set on some transit VPCs but not on {', '.join(without)}"
            ": hourly-limit blocking needs one on every VPC of the region (or on none)"
        )


def _note_once(seen: dict[str, int], index: int, key: str, ids: Sequence[str]) -> None:
    for resource in ids:
        first = seen.setdefault(resource, index)
        if first != index:
            raise _problem(
                f"{resource} is listed in transitVpcs entries {first} and {index}: each "
                "VPC, subnet and security group belongs to one entry",
                key=f"transitVpcs.{index}.{key}",
            )


class BucketConfig(_Strict):
    """The operator's own token bucket for one AWS call (per region)."""

    burst: Annotated[int, _whole_number(1, "tokens")]
    rate: Annotated[
        float, _Rule(f"tokens per second, more than 0 and at most {_MAX_RATE:g}", _rate)
    ]


ApiName = Annotated[
    str, _Rule("an AWS call Causeway makes, such as " + ", ".join(BUDGETED_APIS), _api_name)
]


class MeteringConfig(_Strict):
    """Quota metering (used by the metering controller)."""

    interval: Annotated[
        timedelta, _duration_between(timedelta(seconds=10), timedelta(hours=1)), _AS_WRITTEN
    ] = timedelta(seconds=60)
    hourlyLimitMB: Annotated[int, _whole_number(1, "megabytes")] = 56480
    gbPerUnitPerDay: Annotated[int, _whole_number(1, "gigabytes")] = 5


class OperatorConfig(_Strict):
    """The whole operator config file."""

    regions: Annotated[
        dict[RegionName, RegionConfig],
        _Rule(
            "a mapping from each AWS region name, such as us-east-1, to that region's settings",
            _region_catalog,
        ),
    ]
    # Describe calls are rate-limited per account: polling faster than 1s only gets throttled.
    pollInterval: Annotated[
        timedelta, _duration_between(timedelta(seconds=1), timedelta(hours=1)), _AS_WRITTEN
    ] = timedelta(seconds=30)
    metering: MeteringConfig = MeteringConfig()
    # Overrides of the AWS budget's buckets (EC2's documented limits by default), for
    # accounts whose limits AWS raised.
    awsBudget: dict[ApiName, BucketConfig] = {}

    def fingerprint(self) -> str:
        """A short hash of the whole config (the leader writes it on its Lease, so a
        standby with a different config during a rollout can say so)."""
        canonical = self.model_dump_json(by_alias=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def capabilities_summary(self) -> list[str]:
        """One line per region saying which capabilities its config turns on."""
        return [
            f"{name}: {region.capabilities(name)}" for name, region in sorted(self.regions.items())
        ]


# --- turning pydantic's errors into the file's words -----------------------------------


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model that validates the mapping at `loc` (None if that is not a model)."""
    node: Any = OperatorConfig
    for step in loc:
        node = _unwrapped(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(str(step))
            node = field.annotation if field else None
        elif get_origin(node) is dict:
            node = get_args(node)[1]
        elif get_origin(node) is list:
            node = get_args(node)[0]
        else:
            return None
    node = _unwrapped(node)
    return node if isinstance(node, type) and issubclass(node, BaseModel) else None


def _unwrapped(node: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` as plain X."""
    while True:
        if get_origin(node) is Annotated:
            node = get_args(node)[0]
        elif get_origin(node) in {Union, UnionType}:
            node = next(arg for arg in get_args(node) if arg is not type(None))
        else:
            return node


def _expected_for(loc: tuple[int | str, ...]) -> str | None:
    model = _model_at(loc[:-1])
    field = model.model_fields.get(str(loc[-1])) if model and loc else None
    rules = [rule for rule in field.metadata if isinstance(rule, _Rule)] if field else []
    return rules[0].expected if rules else None


def _key_list(model: type[BaseModel]) -> str:
    return ", ".join(model.model_fields)


def _sentence(error: ErrorDetails) -> str:
    """One problem in words, whatever part of pydantic raised it."""
    kind, loc, value = error["type"], error["loc"], error.get("input")
    if kind == "causeway_config":
        return error["msg"]
    if kind == "missing":
        expected = _expected_for(loc)
        return "required, not set" + (f" (expected {expected})" if expected else "")
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        model = _model_at(loc)
        keys = f" with keys {_key_list(model)}" if model else ""
        return _rejected(value, f"is {_kind(value)}, not a mapping", f"a mapping{keys}").message()
    # Every field has a _Rule, so this is a rule we forgot; still say what was rejected.
    return f"{_show(value)} is not accepted here ({error['msg']})"


def _unknown_key(loc: tuple[int | str, ...]) -> str:
    model = _model_at(loc[:-1])
    valid = list(model.model_fields) if model else []
    by_lowercase = {key.lower(): key for key in valid}
    close = difflib.get_close_matches(str(loc[-1]).lower(), by_lowercase, n=1)
    if close:
        return f"unknown key (did you mean {by_lowercase[close[0]]!r}?)"
    return f"unknown key (valid keys here: {', '.join(valid)})" if valid else "unknown key"


def _path(error: ErrorDetails) -> str:
    """The dotted key path, as the user would walk the YAML to find the problem."""
    steps = [str(step) for step in error["loc"] if step != "[key]"]  # pydantic's key marker
    named_key = (error.get("ctx") or {}).get("key")
    if named_key:
        steps.append(str(named_key))
    return ".".join(steps) or "(top level)"


def parse_config(data: Mapping[str, Any], *, source: str = "config") -> OperatorConfig:
    """Validate already-loaded YAML; ConfigError lists every problem by key path."""
    try:
        return OperatorConfig.model_validate(data)
    except ValidationError as exc:
        problems = [f"  {_path(err)}: {_sentence(err)}" for err in exc.errors()]
        if len(problems) > _MAX_PROBLEMS_SHOWN:
            hidden = len(problems) - _MAX_PROBLEMS_SHOWN
            problems = [*problems[:_MAX_PROBLEMS_SHOWN], f"  ... and {hidden} more"]
        raise ConfigError(f"{source} is invalid:\n" + "\n".join(problems)) from None


# --- reading the file ------------------------------------------------------------------


class _DuplicateKeyError(yaml.YAMLError):
    """A mapping in the file names the same key twice."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a repeated key in a mapping is an error.

    PyYAML silently keeps the last value, so a pasted-twice block would quietly
    override the first with no hint to the operator."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        first_seen: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # the base class reports unhashable keys
            line = key_node.start_mark.line + 1
            if key in first_seen:
                raise _DuplicateKeyError(
                    f"duplicate key {key!r} (line {line}; first at line {first_seen[key]})"
                )
            first_seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    """The parser's complaint on one line, with line and column counted from 1:
    'line 2, column 1: while parsing X (from line 1, column 9), expected Y, but found Z'."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        what = _one_line(exc.problem or "")
        if exc.context:
            context = _one_line(exc.context)
            started = exc.context_mark
            if started is not None and started.line != exc.problem_mark.line:
                context += f" (from {_at(started)})"
            what = f"{context}, {what}"
        return f"{_at(exc.problem_mark)}: {what}"
    if isinstance(exc, yaml.reader.ReaderError):
        return (
            f"character U+{exc.character:04X} at character offset {exc.position} is not "
            f"allowed in YAML ({exc.reason})"
        )
    return _one_line(str(exc).replace('in "<unicode string>"', ""))


def _at(mark: yaml.Mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _read_text(file: Path, named_by: str) -> str:
    if file.is_dir():
        raise ConfigError(f"cannot read operator config {file}{named_by}: it is a directory")
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read operator config {file}{named_by}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start]
        raise ConfigError(
            f"{file} is not UTF-8 text: byte 0x{byte:02x} at offset {exc.start} "
            "cannot be decoded (save the file as UTF-8)"
        ) from None


def _parse_yaml(text: str, file: Path) -> Mapping[str, Any]:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # safe: a SafeLoader subclass
    except _DuplicateKeyError as exc:
        raise ConfigError(f"{file}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {_describe_yaml_error(exc)}") from None
    if data is None:
        raise ConfigError(f"{file} is empty: expected a YAML mapping with a 'regions' key")
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{file} must be a YAML mapping with a 'regions' key, "
            f"but it holds {_kind(data)}: {_show(data)}"
        )
    return data


def load_config(path: str | os.PathLike[str] | None = None) -> OperatorConfig:
    """Load the config from `path`, or from the file named by CAUSEWAY_CONFIG."""
    from_env = os.environ.get(CONFIG_ENV)
    location = path or from_env
    if not location:
        raise ConfigError(
            "no operator config: pass --config FILE (or the path argument of check-config) "
            f"or set {CONFIG_ENV} to the config file's path"
        )
    file = Path(location)
    named_by = "" if path else f" (named by {CONFIG_ENV})"
    data = _parse_yaml(_read_text(file, named_by), file)
    return parse_config(data, source=str(file))
