"""The config reference page: every key of the operator config file, with its type,
default and what its value must look like, read from the config model
(causeway/config.py), and what it is for, from MEANINGS below (a test fails when the
model has a key this table does not explain, or the other way round)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from causeway.config import OperatorConfig
from causeway.docgen.markdown import code, header, table

# Key path (lists as [], maps as <name>) → what it is for.
MEANINGS: dict[str, str] = {
    "regions": "the regions Causeway serves; each name is checked against botocore's list",
    "regions.<region>.transitVpcId": "single-VPC form: the transit VPC (read as a pool of one)",
    "regions.<region>.subnetIds": "single-VPC form: its subnets for the endpoints' interfaces",
    "regions.<region>.securityGroupIds": "single-VPC form: its open groups, whose ingress "
    "rules each tenant's own security group there holds (the rules that let the platform's "
    "clients in)",
    "regions.<region>.platformPrincipal": "the IAM role ARN tenants allow-list on their "
    "endpoint services (`causeway regions` shows it)",
    "regions.<region>.inboundServiceId": "the platform's endpoint service tenants connect "
    "to; with sourceIpPool it turns inbound on in the region",
    "regions.<region>.sourceIpPool": "the network each inbound connection gets its own /28 from",
    "regions.<region>.blockedSecurityGroupId": "single-VPC form, optional: the rule-less "
    "group an earlier version swapped onto blocked endpoints; only used to move such "
    "endpoints onto their tenant group",
    "regions.<region>.transitVpcs": "the region's pool of transit VPCs, filled in order "
    "(instead of the single-VPC keys, never with them)",
    "regions.<region>.transitVpcs[].vpcId": "a transit VPC (each VPC once per region)",
    "regions.<region>.transitVpcs[].subnetIds": "its subnets; each endpoint takes one address "
    "in each",
    "regions.<region>.transitVpcs[].securityGroupIds": "its open groups, whose ingress rules "
    "each tenant's own security group there holds",
    "regions.<region>.transitVpcs[].blockedSecurityGroupId": "optional: the rule-less group "
    "an earlier version swapped onto blocked endpoints (on every entry or none; never one "
    "of its open groups); only used to move such endpoints onto their tenant group",
    "regions.<region>.transitVpcs[].maxEndpoints": "endpoints Causeway places in it "
    "(unset: the account's per-VPC endpoint quota, 50 by default)",
    "regions.<region>.transitVpcs[].draining": "true: nothing new goes there; what is there stays",
    "regions.<region>.remoteServiceRegions": "Regions whose endpoint services tenants may "
    "reach from this one (cross-Region PrivateLink, an OutboundConnection's serviceRegion); "
    "none by default",
    "pollInterval": "how often each region is listed in AWS (changes also trigger a pass)",
    "metering": "quota metering",
    "metering.interval": "how often usage is read from CloudWatch (cost and overshoot "
    "grow with it, see the admin guide)",
    "metering.hourlyLimitMB": "the per-tenant hourly limit in MB, each direction (outbound "
    "hard, inbound soft)",
    "metering.gbPerUnitPerDay": "daily allocation in GB per license and per data pack",
    "awsBudget": "overrides of the operator's pace per AWS API (every region gets its own "
    "bucket with these settings)",
    "awsBudget.<Api>.burst": "tokens the bucket holds",
    "awsBudget.<Api>.rate": "tokens added per second",
}


def page() -> str:
    return (
        header("operator/causeway/config.py") + "# Operator config reference\n\n"
        "One YAML file, named by `--config FILE` or the `CAUSEWAY_CONFIG` environment "
        "variable (the chart's `config:` value). `causeway check-config FILE` checks it; a "
        "bad file stops the operator at start with one line per problem. Durations are "
        "written `500ms`, `30s`, `5m`, `1h` or as plain seconds. How to choose the values: "
        "the [configuration guide](../admin/configuration.md).\n"
        + table(("Key", "Type", "Default", "Value", "Meaning"), list(rows()))
        + "The single-VPC keys and `transitVpcs` are optional one by one, but a region needs "
        "one of the two forms; `inboundServiceId` and `sourceIpPool` go together.\n"
    )


def rows() -> Iterator[list[str]]:
    for path, field in keys(OperatorConfig, ""):
        default = "required" if field.is_required() else _default(field)
        meaning = MEANINGS.get(path, "")  # a test names any key left unexplained
        yield [code(path), _type(field.annotation), default, _expected(field), meaning]


def keys(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, FieldInfo]]:
    """Every key path of a model, nested models and lists of models included."""
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        yield path, field
        inner, shape = _inner_model(field.annotation)
        if inner is not None:
            yield from keys(inner, f"{path}{shape}.")


def _inner_model(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """The model a field holds (directly, in a list or as map values), and how its keys
    are written under it."""
    origin, args = get_origin(annotation), get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    if origin is dict and args:
        inner, _ = _inner_model(args[1])
        return inner, ".<region>" if _is_region_map(args[0]) else ".<Api>"
    if origin is list and args:
        inner, _ = _inner_model(args[0])
        return inner, "[]"
    for arg in args:  # Optional[...] and Annotated[...]
        inner, shape = _inner_model(arg)
        if inner is not None:
            return inner, shape
    return None, ""


def _is_region_map(key: Any) -> bool:
    return "region" in str(_expected_of(key)).lower()


def _expected(field: FieldInfo) -> str:
    words = [_expected_of(meta) for meta in field.metadata]
    words += [_expected_of(field.annotation)]
    return next((word for word in words if word), "")


def _expected_of(annotation: Any) -> str:
    expected = getattr(annotation, "expected", None)
    if isinstance(expected, str):
        return expected
    for arg in getattr(annotation, "__metadata__", ()) or get_args(annotation):
        found = _expected_of(arg)
        if found:
            return found
    return ""


def _type(annotation: Any) -> str:
    inner, shape = _inner_model(annotation)
    if inner is not None:
        return {"": "mapping", "[]": "list of mappings"}.get(shape, "mapping of mappings")
    text = _plain(annotation)
    return text


def _plain(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if hasattr(annotation, "__metadata__"):
        return _plain(args[0])
    if origin is list:
        return f"list of {_plain(args[0])}"
    if args and type(None) in args:
        return " or ".join(_plain(arg) for arg in args if arg is not type(None))
    names = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
    name = getattr(annotation, "__name__", str(annotation))
    return {"timedelta": "duration"}.get(name, names.get(name, name))


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None or isinstance(value, BaseModel) or value in ({}, []):
        return ""
    if isinstance(value, bool):
        return code("true" if value else "false")
    seconds = getattr(value, "total_seconds", None)
    return code(f"{seconds():g}s") if seconds else code(value)
