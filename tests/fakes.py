"""Shared test data and fakes: a valid region entry of the operator config, a tenant
service name, fake AWS and Kubernetes edges, and a Runtime wired to them with fixed
clocks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from causeway.api import KindInfo
from causeway.aws.network import SubnetFacts
from causeway.aws.session import ClientFactory
from causeway.config import parse_config
from causeway.domain import ConnectionRequest, Endpoint, SecurityGroup, ServiceZones
from causeway.errors import AwsCallError
from causeway.kube import StaleObjectError
from causeway.runtime import Runtime
from causeway.sandbox.stack import UNPACED_BUDGET, budget_config

SERVICE_NAME = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"

REGION_CONFIG = {
    "transitVpcId": "vpc-0a1b2c3d4e5f60718",
    "subnetIds": ["subnet-0a1b2c3d4e5f60718"],
    "securityGroupIds": ["sg-0a1b2c3d4e5f60718"],
    "platformPrincipal": "arn:aws:iam::111111111111:role/causeway-outbound",
    "inboundServiceId": "vpce-svc-0a1b2c3d4e5f60718",
    "sourceIpPool": "10.200.0.0/16",
    "blockedSecurityGroupId": "sg-0f1e2d3c4b5a69788",
}


def one_vpc_pool(max_endpoints: int) -> Any:
    """The config of REGION_CONFIG's region as a pool of its one transit VPC, holding
    at most `max_endpoints`."""
    entry = {
        "vpcId": REGION_CONFIG["transitVpcId"],
        "subnetIds": REGION_CONFIG["subnetIds"],
        "securityGroupIds": REGION_CONFIG["securityGroupIds"],
        "maxEndpoints": max_endpoints,
    }
    region = {"platformPrincipal": REGION_CONFIG["platformPrincipal"], "transitVpcs": [entry]}
    return parse_config({"regions": {"us-east-1": region}})


class FakeTransit:
    """Stands in for TransitEndpoints: a list of endpoints, every call recorded, and
    the named operations failing with the given AWS error code."""

    def __init__(self, endpoints: Iterable[Endpoint] = (), fail: Mapping[str, str] = ()) -> None:
        self.endpoints = list(endpoints)
        self.fail = dict(fail)
        self.calls: list[str] = []
        self.requests: list[dict[str, Any]] = []  # each CreateVpcEndpoint's parameters
        self.created = 0

    def _call(self, operation: str) -> None:
        self.calls.append(operation)
        if operation in self.fail:
            raise AwsCallError(operation, self.fail[operation], "injected")

    def all_managed(self) -> list[Endpoint]:
        self._call("DescribeVpcEndpoints")
        return list(self.endpoints)

    def managed_page(self, token: str | None = None) -> tuple[list[Endpoint], str | None]:
        return self.all_managed(), None

    def create(
        self,
        service_name: str,
        client_token: str,
        tags: Mapping[str, str],
        *,
        security_groups: Sequence[str] = (),
        vpc_id: str = "",
        subnet_ids: Sequence[str] = (),
        service_region: str = "",
    ) -> Endpoint:
        self._call("CreateVpcEndpoint")
        self.requests.append(
            {
                "service_region": service_region,
                "token": client_token,
                "vpc": vpc_id,
                "subnets": tuple(subnet_ids),
                "groups": tuple(security_groups),
                "tags": dict(tags),
            }
        )
        self.created += 1
        endpoint = Endpoint(
            f"vpce-{self.created:017x}",
            "pendingAcceptance",
            service_name,
            ("new.example",),
            tags.get("causeway.dev/owner-uid"),
            security_groups=tuple(security_groups),
            vpc_id=vpc_id or REGION_CONFIG["transitVpcId"],
            subnet_ids=tuple(subnet_ids),
            client_token=tags.get("causeway.dev/client-token"),
        )
        self.endpoints.append(endpoint)
        return endpoint

    def swap_groups(self, vpce_id: str, add: Sequence[str], remove: Sequence[str]) -> None:
        self._call("ModifyVpcEndpoint")
        self.endpoints = [
            replace(e, security_groups=(*(g for g in e.security_groups if g not in remove), *add))
            if e.id == vpce_id
            else e
            for e in self.endpoints
        ]

    def add_subnets(self, vpce_id: str, subnet_ids: Sequence[str]) -> None:
        self._call("ModifyVpcEndpoint")
        self.endpoints = [
            replace(e, subnet_ids=(*e.subnet_ids, *subnet_ids)) if e.id == vpce_id else e
            for e in self.endpoints
        ]

    def delete(self, ids: Iterable[str]) -> list[str]:
        self._call("DeleteVpcEndpoints")
        gone = set(ids)
        self.endpoints = [
            replace(e, state="deleting") if e.id in gone else e for e in self.endpoints
        ]
        return list(gone)


class FakeGroups:
    """Stands in for TransitGroups: the transit VPC's open groups (one rule each) and
    the tenant groups made, every call recorded."""

    RULE = ("tcp", 443, 443, "cidr", "10.0.0.0/8")

    def __init__(self, fail: Mapping[str, str] = ()) -> None:
        vpc = REGION_CONFIG["transitVpcId"]
        self.groups = {
            g: SecurityGroup(g, vpc, frozenset({self.RULE}))
            for g in REGION_CONFIG["securityGroupIds"]
        }
        self.fail = dict(fail)
        self.calls: list[str] = []

    def _call(self, operation: str) -> None:
        self.calls.append(operation)
        if operation in self.fail:
            raise AwsCallError(operation, self.fail[operation], "injected")

    def page(
        self, vpc_ids: Sequence[str], token: str | None = None
    ) -> tuple[list[SecurityGroup], str | None]:
        self._call("DescribeSecurityGroups")
        return [g for g in self.groups.values() if g.vpc_id in vpc_ids], None

    def create(self, tenant: str, vpc_id: str, rules: Any, blocked_until: Any) -> SecurityGroup:
        self._call("CreateSecurityGroup")
        group = SecurityGroup(
            f"sg-{len(self.groups):017x}", vpc_id, frozenset(), tenant, tenant, blocked_until
        )
        self.groups[group.id] = group
        return group

    def _rules(self, group_id: str, rules: frozenset[Any]) -> None:
        self.groups[group_id] = replace(self.groups[group_id], rules=rules)

    def authorize(self, group_id: str, rules: Any) -> None:
        self._call("AuthorizeSecurityGroupIngress")
        self._rules(group_id, self.groups[group_id].rules | frozenset(rules))

    def revoke(self, group_id: str, rules: Any) -> None:
        self._call("RevokeSecurityGroupIngress")
        self._rules(group_id, self.groups[group_id].rules - frozenset(rules))

    def mark_blocked(self, group_id: str, until: Any) -> None:
        self._call("CreateTags")
        self.groups[group_id] = replace(self.groups[group_id], blocked_until=until)

    def delete(self, group_id: str) -> None:
        self._call("DeleteSecurityGroup")
        self.groups.pop(group_id, None)


class FakeConnections:
    """Stands in for ServiceConnections: the platform service's requests, every call
    recorded, accept/reject moving the requests' state as AWS does."""

    def __init__(
        self, requests: Iterable[ConnectionRequest] = (), fail: Mapping[str, str] = ()
    ) -> None:
        self.requests = {r.endpoint_id: r for r in requests}
        self.fail = dict(fail)
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def _call(self, operation: str, ids: Iterable[str] = ()) -> None:
        self.calls.append((operation, tuple(ids)))
        if operation in self.fail:
            raise AwsCallError(operation, self.fail[operation], "injected")

    def all(self) -> list[ConnectionRequest]:
        self._call("DescribeVpcEndpointConnections")
        return list(self.requests.values())

    def page(self, token: str | None = None) -> tuple[list[ConnectionRequest], str | None]:
        return self.all(), None

    def _move(
        self, ids: Iterable[str], allowed: set[str], state: str
    ) -> dict[str, tuple[str, str]]:
        failed = {}
        for vpce in ids:
            request = self.requests.get(vpce)
            if request is None:
                failed[vpce] = ("InvalidVpcEndpointId.NotFound", "no such endpoint")
            elif request.state not in allowed:
                failed[vpce] = ("InvalidState", f"in state {request.state}")
            else:
                self.requests[vpce] = replace(request, state=state)
        return failed

    def accept(self, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        ids = list(ids)
        self._call("AcceptVpcEndpointConnections", ids)
        return self._move(ids, {"pendingAcceptance"}, "pending")

    def reject(self, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        ids = list(ids)
        self._call("RejectVpcEndpointConnections", ids)
        return self._move(ids, {"pendingAcceptance", "pending", "available"}, "rejected")


class FakeKube:
    """Records status patches and finalizers added; the named objects' writes fail."""

    def __init__(self, failing: Iterable[str] = ()) -> None:
        self.patches: list[tuple[str, dict[str, Any]]] = []
        self.events: list[tuple[str, str]] = []
        self.failing = set(failing)
        self.cluster_objects: dict[str, dict[str, Any]] = {}
        self.guarded: list[tuple[str, str, tuple[str, ...]]] = []
        self.stale: set[str] = set()
        self.changed: set[str] = set()  # status writes refused: changed since read
        self.refused: list[tuple[str, str | None]] = []
        self.conditioned: list[tuple[str, str | None]] = []  # each write's resourceVersion

    def patch_status(
        self,
        kind: KindInfo,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        *,
        resource_version: str | None = None,
    ) -> str | None:
        """Recorded in `patches`; refused as changed since (a 409) for the names in
        `changed`, with the version it was conditioned on in `refused`."""
        if name in self.failing:
            raise RuntimeError("API server said no")
        if name in self.changed:
            self.refused.append((name, resource_version))
            raise StaleObjectError(name)
        self.conditioned.append((name, resource_version))
        self.patches.append((name, dict(status)))
        return ""  # no resourceVersion: the index folds the write in without waiting

    def add_finalizer(
        self,
        kind: KindInfo,
        namespace: str,
        name: str,
        *,
        resource_version: str,
        finalizers: Sequence[str],
    ) -> str | None:
        """Recorded in `guarded`; refused (as a 409) for the names in `stale`."""
        self.guarded.append((name, resource_version, tuple(finalizers)))
        if name in self.stale:
            return None
        return f"{resource_version}+finalizer" if resource_version else ""

    def record_event(self, ref: Any, *, reason: str, **_: Any) -> None:
        self.events.append((ref.name, reason))

    def create_cluster_object(
        self, kind: KindInfo, body: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        name = body["metadata"]["name"]
        if name in self.cluster_objects:
            return None
        created = {**body, "metadata": {**body["metadata"], "uid": f"uid-{name}"}}
        self.cluster_objects[name] = created
        return created

    def list_cluster_objects(self, kind: KindInfo, label_selector: str) -> list[dict[str, Any]]:
        wanted = dict(term.split("=", 1) for term in label_selector.split(","))
        return [
            body
            for body in self.cluster_objects.values()
            if wanted.items() <= (body["metadata"].get("labels") or {}).items()
        ]

    def delete_cluster_object(self, kind: KindInfo, name: str) -> bool:
        return self.cluster_objects.pop(name, None) is not None

    def last(self, name: str) -> dict[str, Any]:
        return next(patch for who, patch in reversed(self.patches) if who == name)


class FakeServiceQuotas:
    """Stands in for the Service Quotas client: the endpoints-per-VPC quota `value`, the
    security-group quotas at AWS's defaults (or as `values` says, by code), or the AWS
    error code `fail` (every endpoints-quota call counted in `calls`)."""

    GROUP_DEFAULTS: ClassVar[dict[str, float]] = {
        "L-0EA8095F": 60.0,
        "L-2AFB9258": 5.0,
        "L-E79EC296": 2500.0,
    }

    def __init__(
        self, value: float = 50.0, fail: str | None = None, values: Mapping[str, float] = {}
    ) -> None:
        self.value = value
        self.values = {**self.GROUP_DEFAULTS, **values}
        self.fail = fail
        self.calls = 0

    def get_service_quota(self, ServiceCode: str, QuotaCode: str) -> dict[str, Any]:  # noqa: N803
        self.calls += QuotaCode not in self.values
        if self.fail:
            error = {"Error": {"Code": self.fail, "Message": "injected"}}
            raise ClientError(error, "GetServiceQuota")  # type: ignore[arg-type]
        value = self.values.get(QuotaCode, self.value)
        return {"Quota": {"ServiceCode": ServiceCode, "QuotaCode": QuotaCode, "Value": value}}


class FakeNetwork:
    """Stands in for TransitNetwork: every id belongs to the VPC of `owners` (default:
    the config's transit VPC), each subnet to the zone of `zones` (default: a zone of
    its own, named after it), or the AWS error code `fail`."""

    def __init__(
        self,
        owners: Mapping[str, str] | None = None,
        fail: str | None = None,
        zones: Mapping[str, str] | None = None,
    ) -> None:
        self.owners = dict(owners or {})
        self.zones = dict(zones or {})
        self.fail = fail
        self.calls: list[str] = []
        self.in_region: dict[str, SecurityGroup] = {}

    def _vpcs(self, operation: str, ids: Sequence[str]) -> dict[str, str]:
        self.calls.append(operation)
        if self.fail:
            raise AwsCallError(operation, self.fail, "injected")
        return {i: self.owners.get(i, REGION_CONFIG["transitVpcId"]) for i in ids}

    def subnets(self, subnet_ids: Sequence[str]) -> dict[str, SubnetFacts]:
        vpcs = self._vpcs("DescribeSubnets", subnet_ids)
        return {s: SubnetFacts(vpc, self.zones.get(s, f"zone-{s}")) for s, vpc in vpcs.items()}

    def group_vpcs(self, group_ids: Sequence[str]) -> dict[str, str]:
        return self._vpcs("DescribeSecurityGroups", group_ids)

    def region_groups(self) -> dict[str, SecurityGroup]:
        """The Region's groups as `in_region` sets them (default: none)."""
        self.calls.append("DescribeSecurityGroups")
        return dict(self.in_region)


class FakeServices:
    """Stands in for EndpointServices: where each service runs (`zones` by name), None
    for a name not given (AWS does not show it: new endpoints then use every subnet);
    every call recorded."""

    def __init__(self, zones: Mapping[str, Iterable[str]] | None = None) -> None:
        self.zones_by_name = {name: frozenset(z) for name, z in (zones or {}).items()}
        self.calls: list[list[str]] = []

    def zones(
        self, names: Sequence[str], service_region: str = ""
    ) -> dict[str, ServiceZones | None]:
        self.calls.append([*names, *([f"@{service_region}"] if service_region else [])])
        found = {n: self.zones_by_name.get(n) for n in names}
        return {n: ServiceZones(n, z) if z is not None else None for n, z in found.items()}


class FakeRuntime(Runtime):
    """A Runtime whose AWS edge (`transit`) and Kubernetes edge (`kube`) are fakes, with
    one region (us-east-1), a fixed wall clock and a monotonic clock tests move. Its
    AWS budget is generous (the fakes throttle nothing, and a bucket of AWS's size
    would wait on a clock only the test moves)."""

    def __init__(self, transit: Any, kube: Any = None, connections: Any = None) -> None:
        self.now = 1000.0
        self.connections = connections if connections is not None else FakeConnections()
        super().__init__(
            config=parse_config(
                {
                    "regions": {"us-east-1": REGION_CONFIG},
                    "awsBudget": budget_config(UNPACED_BUDGET),
                }
            ),
            clients=ClientFactory(),  # never asked for a client: the edges are fakes
            kube=kube if kube is not None else FakeKube(),
            clock=lambda: datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
            monotonic=lambda: self.now,
        )
        self.transit = transit
        self.quotas_client = FakeServiceQuotas()
        self.network = FakeNetwork()
        self.services = FakeServices()
        self.groups = FakeGroups()

    def transit_endpoints(self, region: str) -> Any:
        return self.transit

    def transit_groups(self, region: str) -> Any:
        """The open groups of every configured transit VPC exist (one rule each)."""
        for vpc in self.config.regions[region].pool:
            for group in vpc.securityGroupIds:
                if group not in self.groups.groups:
                    rules = frozenset({FakeGroups.RULE})
                    self.groups.groups[group] = SecurityGroup(group, vpc.vpcId, rules)
        return self.groups

    def service_quotas(self, region: str) -> Any:
        return self.quotas_client

    def transit_network(self, region: str) -> Any:
        return self.network

    def service_connections(self, region: str) -> Any:
        return self.connections

    def endpoint_services(self, region: str) -> Any:
        return self.services


def quota(
    namespace: str = "acme", licenses: int = 100, accounts: Iterable[str] = ()
) -> dict[str, Any]:
    """A ConnectionQuota body, as the index holds it."""
    return {
        "metadata": {
            "name": namespace,
            "namespace": namespace,
            "uid": f"quota-{namespace}",
            "generation": 1,
            "creationTimestamp": "2026-11-22T08:00:00Z",
        },
        "spec": {"licenses": licenses, "awsAccountIds": list(accounts)},
    }
