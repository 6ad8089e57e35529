"""Outbound endpoints where the tenant's service runs, through the region reconciler with
fake AWS and Kubernetes edges: the subnets of the service's Availability Zones (by AZ
ID) only; a pool VPC covering the service's zones preferred; no zone in common means
Stalled and no create at all; an endpoint extended when its service adds a zone; and
the create path sending one and the same request for as long as it is unanswered."""

from __future__ import annotations

from typing import Any

from causeway.api import CONNECTION_QUOTA, FINALIZER, OUTBOUND
from causeway.config import parse_config
from causeway.controllers.region import RegionReconciler
from causeway.domain import Endpoint
from causeway.errors import AwsCallError
from causeway.reconcile.outbound import (
    NO_COMMON_AVAILABILITY_ZONE,
    REMOTE_REGION_NOT_ALLOWED,
    REMOTE_SERVICE_NOT_OFFERED,
    CreateEndpoint,
    pending_create,
    pending_record,
)
from fakes import REGION_CONFIG, SERVICE_NAME, FakeKube, FakeRuntime, FakeTransit, quota

REGION = "us-east-1"
A, B = "vpc-0000000a", "vpc-0000000b"
# Each transit VPC has a subnet in three zones; A lacks az4, B lacks az1.
ZONES = {
    "subnet-000000a1": "use1-az1",
    "subnet-000000a2": "use1-az2",
    "subnet-000000a3": "use1-az3",
    "subnet-000000b2": "use1-az2",
    "subnet-000000b3": "use1-az3",
    "subnet-000000b4": "use1-az4",
}


def entry(vpc: str, **more: Any) -> dict[str, Any]:
    tail = vpc[-1]
    return {
        "vpcId": vpc,
        "subnetIds": sorted(s for s in ZONES if s[-2] == tail),
        "securityGroupIds": [f"sg-0000001{tail}"],
        "blockedSecurityGroupId": f"sg-0000009{tail}",
        **more,
    }


def runtime_with(
    service_zones: set[str], *vpcs: dict[str, Any], remote: tuple[str, ...] = ()
) -> FakeRuntime:
    runtime = FakeRuntime(FakeTransit(), FakeKube())
    region = {
        "platformPrincipal": REGION_CONFIG["platformPrincipal"],
        "transitVpcs": list(vpcs),
        "remoteServiceRegions": list(remote),
    }
    runtime.config = parse_config({"regions": {REGION: region}})
    runtime.network.owners = {
        item: v["vpcId"]
        for v in vpcs
        for item in (*v["subnetIds"], *v["securityGroupIds"], v["blockedSecurityGroupId"])
    }
    runtime.network.zones = dict(ZONES)
    runtime.services.zones_by_name = {SERVICE_NAME: frozenset(service_zones)}
    runtime.index[CONNECTION_QUOTA].observe(None, quota())
    return runtime


def connection(
    name: str = "conn", spec: dict[str, Any] | None = None, **status: Any
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "acme",
            "uid": f"uid-{name}",
            "generation": 1,
            "creationTimestamp": "2026-11-22T09:00:00Z",
            "finalizers": [FINALIZER],
        },
        "spec": spec or {"region": REGION, "serviceName": SERVICE_NAME},
        "status": status,
    }


async def passes(runtime: FakeRuntime, count: int = 1, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        runtime.index[OUTBOUND].observe(None, body)
    reconciler = RegionReconciler(runtime, REGION)
    for _ in range(count):
        await reconciler.pass_once()
        await reconciler.drain()
        runtime.now += 400  # past the zones' keep time: each pass asks AWS again


def creates(runtime: FakeRuntime) -> list[dict[str, Any]]:
    transit = runtime.transit
    assert isinstance(transit, FakeTransit)
    return transit.requests


def tenant_group(runtime: FakeRuntime, vpc: str, tenant: str = "acme") -> str:
    """The id of the tenant's security group in the VPC (made by the operator)."""
    (found,) = [
        g.id for g in runtime.groups.groups.values() if (g.tenant, g.vpc_id) == (tenant, vpc)
    ]
    return found


async def test_an_endpoint_goes_only_in_the_subnets_of_its_services_zones() -> None:
    runtime = runtime_with({"use1-az1", "use1-az2"}, entry(A), entry(B))
    await passes(runtime, 1, connection())
    (request,) = creates(runtime)
    assert (request["vpc"], request["subnets"]) == (A, ("subnet-000000a1", "subnet-000000a2"))
    assert request["groups"] == (tenant_group(runtime, A),)
    status = runtime.kube.last("conn")
    assert status["availabilityZoneIds"] == ["use1-az1", "use1-az2"]


async def test_a_vpc_covering_the_services_zones_is_preferred_to_the_first_with_room() -> None:
    # Only B has a subnet in az4: it covers both of the service's zones, A only one.
    runtime = runtime_with({"use1-az3", "use1-az4"}, entry(A), entry(B))
    await passes(runtime, 1, connection())
    (request,) = creates(runtime)
    assert (request["vpc"], request["subnets"]) == (B, ("subnet-000000b3", "subnet-000000b4"))


async def test_a_service_in_no_zone_of_the_platform_waits_without_any_create() -> None:
    runtime = runtime_with({"use1-az5", "use1-az6"}, entry(A), entry(B))
    await passes(runtime, 10, connection())
    assert creates(runtime) == []
    status = runtime.kube.last("conn")
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == NO_COMMON_AVAILABILITY_ZONE
    assert "use1-az5, use1-az6" in status["message"]
    assert "use1-az1, use1-az2, use1-az3 or use1-az4" in status["message"]
    # The service adds a zone the platform serves: asked again, it is created.
    runtime.services.zones_by_name[SERVICE_NAME] = frozenset({"use1-az4", "use1-az5"})
    await passes(runtime, 1)
    (request,) = creates(runtime)
    assert (request["vpc"], request["subnets"]) == (B, ("subnet-000000b4",))


async def test_an_endpoint_is_extended_when_its_service_adds_a_zone() -> None:
    runtime = runtime_with({"use1-az1", "use1-az2"}, entry(A))
    await passes(runtime, 1, connection())
    transit = runtime.transit
    assert isinstance(transit, FakeTransit)
    created = transit.endpoints[0]
    runtime.services.zones_by_name[SERVICE_NAME] = frozenset({"use1-az1", "use1-az2", "use1-az3"})
    await passes(runtime, 2)
    assert transit.calls.count("ModifyVpcEndpoint") == 1
    (extended,) = transit.endpoints
    assert extended.id == created.id
    assert extended.subnet_ids == ("subnet-000000a1", "subnet-000000a2", "subnet-000000a3")
    # A zone the service drops is reported, the endpoint left as it is.
    runtime.services.zones_by_name[SERVICE_NAME] = frozenset({"use1-az1", "use1-az2"})
    transit.endpoints = [Endpoint(**{**_fields(extended), "state": "available"})]
    await passes(runtime, 1)
    assert transit.calls.count("ModifyVpcEndpoint") == 1
    assert "no longer lists use1-az3" in runtime.kube.last("conn")["message"]


def _fields(endpoint: Endpoint) -> dict[str, Any]:
    return {name: getattr(endpoint, name) for name in Endpoint.__slots__}


async def test_a_recorded_create_is_sent_again_exactly_after_the_config_changed() -> None:
    # Issue 22: the record kept no subnets, and a resend took the groups of the config
    # of the day: after a config change the resend was another request (AWS then answers
    # IdempotentParameterMismatch), and the record was dropped as if nothing was made.
    runtime = runtime_with({"use1-az1", "use1-az2"}, entry(A))
    await passes(runtime, 1, connection())
    (first,) = creates(runtime)
    record = runtime.kube.last("conn")  # the pendingCreate written before the call
    recorded = next(
        p for who, p in runtime.kube.patches if who == "conn" and p.get("pendingCreate")
    )
    assert recorded["pendingCreate"]["subnetIds"] == ["subnet-000000a1", "subnet-000000a2"]
    assert recorded["pendingCreate"]["securityGroupIds"] == [tenant_group(runtime, A)]
    assert record  # the create's answer then cleared it

    # A restart after the answer was lost, with other groups and subnets configured.
    later = runtime_with({"use1-az1", "use1-az2"}, entry(A, securityGroupIds=["sg-0000005a"]))
    body = connection(pendingCreate=recorded["pendingCreate"])
    await passes(later, 1, body)
    (resent,) = creates(later)
    assert resent == first


async def test_a_recorded_create_aws_knows_with_other_parameters_is_not_forgotten() -> None:
    runtime = runtime_with({"use1-az1"}, entry(A))
    transit = runtime.transit
    assert isinstance(transit, FakeTransit)
    transit.fail["CreateVpcEndpoint"] = "IdempotentParameterMismatch"
    pending = {
        "clientToken": "causeway-0123",
        "serviceName": SERVICE_NAME,
        "vpcId": A,
        "subnetIds": ["subnet-000000a1"],
        "securityGroupIds": ["sg-0000001a"],
        "tags": {"causeway.dev/owner-uid": "uid-conn"},
    }
    await passes(runtime, 1, connection(pendingCreate=pending))
    assert not any(
        "pendingCreate" in p and p["pendingCreate"] is None for _, p in runtime.kube.patches
    )
    # The listing shows the endpoint the first request made, by its token's tag: resolved.
    del transit.fail["CreateVpcEndpoint"]
    transit.endpoints.append(
        Endpoint(
            "vpce-0000000000000abcd",
            "pendingAcceptance",
            SERVICE_NAME,
            (),
            "uid-conn",
            vpc_id=A,
            subnet_ids=("subnet-000000a1",),
            client_token="causeway-0123",
        )
    )
    runtime.memories["uid-conn"].retry_at = 0.0
    runtime.memories["uid-conn"].stalled_generation = None
    calls = len(transit.calls)
    await passes(runtime, 1)
    assert "CreateVpcEndpoint" not in transit.calls[calls:]
    status = runtime.kube.last("conn")
    assert status["pendingCreate"] is None and status["vpcEndpointId"] == "vpce-0000000000000abcd"


async def test_a_create_moved_to_another_vpc_is_a_request_of_its_own() -> None:
    # Issue 22: the same ClientToken (and, issue 23, the first VPC's groups and its
    # open-groups tag) went with a create moved after VpcEndpointLimitExceeded.
    runtime = runtime_with({"use1-az2"}, entry(A), entry(B))
    transit = runtime.transit
    assert isinstance(transit, FakeTransit)
    original = transit.create

    def full_a(*args: Any, **kwargs: Any) -> Endpoint:
        vpc = kwargs.get("vpc_id")
        if vpc == A:
            transit.requests.append(
                {"vpc": A, "token": args[1], "groups": kwargs["security_groups"]}
            )
            raise AwsCallError("CreateVpcEndpoint", "VpcEndpointLimitExceeded", "full")
        return original(*args, **kwargs)

    transit.create = full_a  # type: ignore[method-assign]
    await passes(runtime, 1, connection())
    refused, made = creates(runtime)
    assert refused["vpc"] == A and made["vpc"] == B
    assert made["token"] != refused["token"]
    # The tenant's own group in B, made for it (never A's group on an endpoint in B).
    assert made["groups"] == (tenant_group(runtime, B),) and made["subnets"] == ("subnet-000000b2",)
    assert refused["groups"] == (tenant_group(runtime, A),)
    assert made["tags"]["causeway.dev/client-token"] == made["token"]


def test_the_status_record_holds_the_whole_request() -> None:
    create = CreateEndpoint(SERVICE_NAME, "t", {"k": "v"}, ("sg-1",), A, ("subnet-1", "subnet-2"))
    assert pending_create({"pendingCreate": pending_record(create)}) == create


REMOTE = "eu-west-1"
REMOTE_SERVICE = SERVICE_NAME.replace(REGION, REMOTE)
CROSS = {"region": REGION, "serviceName": REMOTE_SERVICE, "serviceRegion": REMOTE}


def reason(runtime: FakeRuntime) -> str:
    status = runtime.kube.last("conn")
    return str(next(c for c in status["conditions"] if c["type"] == "Ready")["reason"])


async def test_a_service_in_a_region_the_platform_does_not_reach_waits_without_calls() -> None:
    runtime = runtime_with({"use1-az1"}, entry(A), remote=("us-west-2",))
    await passes(runtime, 3, connection(spec=CROSS))
    assert creates(runtime) == [] and runtime.services.calls == []
    assert reason(runtime) == REMOTE_REGION_NOT_ALLOWED
    assert "ask the platform to allow eu-west-1" in runtime.kube.last("conn")["message"]


async def test_a_remote_service_aws_does_not_offer_here_tells_the_tenant_what_to_add() -> None:
    runtime = runtime_with(set(), entry(A), remote=(REMOTE,))
    runtime.services.zones_by_name = {}  # AWS does not show it to the platform here
    await passes(runtime, 3, connection(spec=CROSS))
    assert creates(runtime) == []
    assert runtime.services.calls[0] == [REMOTE_SERVICE, f"@{REMOTE}"]
    assert reason(runtime) == REMOTE_SERVICE_NOT_OFFERED
    message = runtime.kube.last("conn")["message"]
    assert f"--region {REMOTE}" in message and f"--add-supported-regions {REGION}" in message


async def test_a_remote_service_offered_here_gets_an_endpoint_with_its_region() -> None:
    runtime = runtime_with(set(), entry(A), remote=(REMOTE,))
    runtime.services.zones_by_name = {REMOTE_SERVICE: frozenset({"euw1-az1"})}
    await passes(runtime, 1, connection(spec=CROSS))
    (request,) = creates(runtime)
    assert request["service_region"] == REMOTE
    assert request["subnets"] == tuple(entry(A)["subnetIds"])  # its zones are eu-west-1's
    recorded = next(
        p for who, p in runtime.kube.patches if who == "conn" and p.get("pendingCreate")
    )
    assert recorded["pendingCreate"]["serviceRegion"] == REMOTE


async def test_a_recorded_create_in_a_vpc_no_longer_configured_is_resolved_and_torn_down() -> None:
    # Issue 22: such a record replaced the teardown with a resolve that sent nothing, and
    # was cleared as if answered; the endpoint its create made was left behind.
    runtime = runtime_with({"use1-az2"}, entry(A))  # B was removed from the config
    pending = {
        "clientToken": "causeway-0456",
        "serviceName": SERVICE_NAME,
        "vpcId": B,
        "subnetIds": ["subnet-000000b2"],
        "securityGroupIds": ["sg-0000001b"],
        "tags": {
            "causeway.dev/owner-uid": "uid-conn",
            "causeway.dev/client-token": "causeway-0456",
        },
    }
    body = connection(pendingCreate=pending)
    body["metadata"]["deletionTimestamp"] = "2026-11-22T09:30:00Z"
    await passes(runtime, 3, body)
    (resent,) = creates(runtime)
    assert (resent["vpc"], resent["token"], resent["subnets"]) == (
        B,
        "causeway-0456",
        ("subnet-000000b2",),
    )
    transit = runtime.transit
    assert isinstance(transit, FakeTransit)
    assert "DeleteVpcEndpoints" in transit.calls
    assert [e.state for e in transit.endpoints] == ["deleting"]
