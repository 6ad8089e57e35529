"""The AWS sandbox as something to start: a moto server on 127.0.0.1 with the
PrivateLink and CloudWatch extensions, fixture builders for the platform and tenant
sides and for PrivateLink's CloudWatch metrics (real boto3 calls), the tenant's
accept/reject, and test controls."""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Self

import boto3
import botocore.session
from botocore.config import Config
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.ec2.models.vpcs import VPCEndPoint
from moto.server import ThreadedMotoServer

from causeway.controllers.budget import DEFAULTS as BUDGET_DEFAULTS
from causeway.sandbox.aws.control import _CONTROL, _Bucket, _Failure, _Outage
from causeway.sandbox.aws.install import install
from causeway.sandbox.aws.models import SandboxVpcEndpoint, zone_id_of

# The operator's identity. Its account differs from moto's single account on purpose:
# the platform is "another account" from the point of view of tenant services.
DEFAULT_PLATFORM_PRINCIPAL: Final = "arn:aws:iam::210987654321:role/causeway-platform"

# VpcEndpoint.State values from the EC2 API reference.
ENDPOINT_STATES: Final = frozenset(
    {
        "pendingAcceptance",
        "pending",
        "available",
        "deleting",
        "deleted",
        "rejected",
        "failed",
        "expired",
    }
)

_DUMMY_KEY: Final = "testing"

# Where AWS PrivateLink publishes BytesProcessed, and the dimensions of each side.
ENDPOINTS_NAMESPACE: Final = "AWS/PrivateLinkEndpoints"
SERVICES_NAMESPACE: Final = "AWS/PrivateLinkServices"
BYTES_PROCESSED: Final = "BytesProcessed"


@dataclass(frozen=True)
class TenantService:
    """A tenant's endpoint service, as a tenant would hand it to the platform."""

    service_id: str
    service_name: str


_active_lock = threading.Lock()
_active: AwsSandbox | None = None
_names = itertools.count(1)
# Second octet of each transit VPC's 10.x.0.0/16 (tenant VPCs use 172.16.0.0/16).
_transit_octets = itertools.cycle(range(100, 256))


def documented_buckets() -> dict[str, tuple[float, float]]:
    """AWS's documented throttling bucket, (burst, refill rate per second), of every
    action the operator budgets: the operator's own default budget (budget.DEFAULTS,
    from the EC2 API reference's "Request throttling" and CloudWatch's quotas), so the
    sandbox and the operator read one table."""
    return {api: (bucket.burst, bucket.rate) for api, bucket in BUDGET_DEFAULTS.items()}


class AwsSandbox:
    """A moto server on a free local port, with PrivateLink behaviour installed.

    One sandbox may be active per process, because moto keeps its state in
    process-wide backends.
    """

    def __init__(
        self,
        region: str = "us-east-1",
        platform_principal: str = DEFAULT_PLATFORM_PRINCIPAL,
        activation_seconds: float = 0.0,
    ) -> None:
        """`activation_seconds`: how long an accepted endpoint stays `pending` before it
        is `available` (0: it is available at the next describe)."""
        self.activation_seconds = activation_seconds
        self.region = region
        self.platform_principal = platform_principal
        self._server: ThreadedMotoServer | None = None
        self._endpoint_url: str | None = None
        # One session: it caches the service models that every new client would reload.
        self._session = boto3.session.Session()
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()
        self.inbound_services: dict[str, TenantService] = {}  # the platform's, by region

    # lifecycle -------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        global _active  # noqa: PLW0603 - guards the process-wide moto state
        with _active_lock:
            if _active is not None:
                raise RuntimeError("another AwsSandbox is already running in this process")
            _active = self
        try:
            self._start_server()
        except BaseException:
            self.stop()
            raise
        _CONTROL.clear()
        _CONTROL.platform_principal = self.platform_principal
        _CONTROL.activation_seconds = self.activation_seconds

    def _start_server(self) -> None:
        install()
        # werkzeug logs every request at INFO to stderr; the demo and tests don't want it.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # Port 0: the OS picks a free port, with no window for another process to take it.
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self._endpoint_url = f"http://{host}:{port}"
        self._reset_moto()

    def stop(self) -> None:
        global _active  # noqa: PLW0603 - guards the process-wide moto state
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._clients.clear()
        self._endpoint_url = None
        _CONTROL.clear()
        _CONTROL.platform_principal = None
        with _active_lock:
            if _active is self:
                _active = None

    def _reset_moto(self) -> None:
        # The server shares moto's in-process backends; start from an empty account.
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as reply:
            reply.read()

    # clients ---------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        if self._endpoint_url is None:
            raise RuntimeError("AwsSandbox is not running")
        return self._endpoint_url

    def client(
        self, service: str = "ec2", region: str | None = None, config: Config | None = None
    ) -> Any:
        """A boto3 client for the sandbox that ignores the environment's AWS config.

        Default-config clients are cached: building one costs far more than a call.
        """
        key = (service, region or self.region)
        with self._clients_lock:
            if config is None and key in self._clients:
                return self._clients[key]
            client = self._session.client(
                service,  # type: ignore[call-overload]
                region_name=key[1],
                endpoint_url=self.endpoint_url,
                aws_access_key_id=_DUMMY_KEY,
                aws_secret_access_key=_DUMMY_KEY,
                config=config,
            )
            if config is None:
                self._clients[key] = client
            return client

    def env(self) -> dict[str, str]:
        """Variables that point the standard SDK credential/endpoint chain here."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": _DUMMY_KEY,
            "AWS_SECRET_ACCESS_KEY": _DUMMY_KEY,
            "AWS_DEFAULT_REGION": self.region,
        }

    # fixtures --------------------------------------------------------------------

    def create_platform(
        self, region: str | None = None, *, inbound_service_id: str | None = None
    ) -> dict[str, Any]:
        """Platform side of one region, shaped like a region entry of the operator config.
        The inbound service requires acceptance and is visible to every account, as a
        platform runs it: who gets in is decided by accepting, not by visibility.
        `inbound_service_id` gives it a known id (e.g. the one an example config names)."""
        region = region or self.region
        ec2 = self.client("ec2", region)
        transit = self.create_transit_vpc(region)
        vpc_id, subnet_ids = transit["vpcId"], transit["subnetIds"]
        with _CONTROL.lock:
            _CONTROL.next_service_id = inbound_service_id
        service = self._create_service(region, vpc_id, subnet_ids, acceptance_required=True)
        ec2.modify_vpc_endpoint_service_permissions(
            ServiceId=service.service_id, AddAllowedPrincipals=["*"]
        )
        self.inbound_services[region] = service
        return {
            "transitVpcId": vpc_id,
            "subnetIds": subnet_ids,
            "securityGroupIds": transit["securityGroupIds"],
            "platformPrincipal": self.platform_principal,
            "inboundServiceId": service.service_id,
            "sourceIpPool": "10.200.0.0/16",
            "blockedSecurityGroupId": transit["blockedSecurityGroupId"],
        }

    def create_transit_vpc(
        self,
        region: str | None = None,
        *,
        subnet_prefix: int = 24,
        zones: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """A transit VPC shaped like an entry of a region's transitVpcs: one subnet (of
        /`subnet_prefix`; a small one fills up) in each AZ of `zones` (AZ names of the
        region, in that order; default <region>a, b and c), an open security group and
        an empty blocked one. Each call makes a new VPC with its own address range."""
        region = region or self.region
        ec2 = self.client("ec2", region)
        octet = next(_transit_octets)
        vpc_id = _create_vpc(ec2, f"10.{octet}.0.0/16", "causeway-transit")
        subnet_ids = _create_subnets(
            ec2, vpc_id, region, f"10.{octet}", subnet_prefix, zones=_zone_names(region, zones)
        )
        sg_id = self.create_open_group(vpc_id, region)
        return {
            "vpcId": vpc_id,
            "subnetIds": subnet_ids,
            "securityGroupIds": [sg_id],
            "blockedSecurityGroupId": _create_blocked_group(ec2, vpc_id),
        }

    def zone_id(self, zone_name: str, region: str | None = None) -> str:
        """The AZ ID (e.g. use1-az6) of an AZ name of the region (default: the
        sandbox's), as DescribeAvailabilityZones and a subnet's AvailabilityZoneId give
        it. A lookup, not an API call (nothing shows in `call_counts`). ValueError for
        a name that is not an AZ of the region."""
        return zone_id_of(region or self.region, zone_name)

    def create_open_group(self, vpc_id: str, region: str | None = None) -> str:
        """A security group letting the platform's clients (10.0.0.0/8) reach endpoints."""
        ec2 = self.client("ec2", region or self.region)
        sg_id: str = ec2.create_security_group(
            GroupName=f"causeway-endpoints-{next(_names)}",
            Description="Causeway interface endpoints",
            VpcId=vpc_id,
        )["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=sg_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 0,
                    "ToPort": 65535,
                    "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
                }
            ],
        )
        return sg_id

    def set_endpoint_quota(self, limit: int, vpc_id: str | None = None) -> None:
        """The account's "Interface and Gateway Load Balancer endpoints per VPC" quota, for
        every VPC (AWS's default is 50) or for one VPC (as if raised or lowered there)."""
        with _CONTROL.lock:
            if vpc_id is None:
                _CONTROL.endpoints_per_vpc = limit
            else:
                _CONTROL.endpoint_quotas[vpc_id] = limit

    def create_tenant_service(  # noqa: PLR0917 - every option has a default; callers name them
        self,
        region: str | None = None,
        acceptance_required: bool = True,
        allow_platform: bool = True,
        service_id: str | None = None,
        zones: Sequence[str] | None = None,
        supported_regions: Sequence[str] = (),
    ) -> TenantService:
        """A tenant endpoint service in its own VPC, optionally allow-listing the platform.
        `service_id` gives it a known id (e.g. the one a seed manifest names). `zones`:
        the AZ names of the region its Network Load Balancer has a subnet in, and so the
        only AZs the service runs in (default <region>a, b and c); an endpoint to it may
        have subnets only there, as in AWS. `supported_regions`: other Regions it is
        offered to (SupportedRegions; its home `region` always is), so that an endpoint
        there may connect with CreateVpcEndpoint ServiceRegion."""
        region = region or self.region
        ec2 = self.client("ec2", region)
        vpc_id = _create_vpc(ec2, "172.16.0.0/16", "tenant")
        subnet_ids = _create_subnets(
            ec2, vpc_id, region, "172.16", zones=_zone_names(region, zones)
        )
        with _CONTROL.lock:
            _CONTROL.next_service_id = service_id
        service = self._create_service(region, vpc_id, subnet_ids, acceptance_required)
        if allow_platform:
            ec2.modify_vpc_endpoint_service_permissions(
                ServiceId=service.service_id, AddAllowedPrincipals=[self.platform_principal]
            )
        if supported_regions:
            self.set_supported_regions(service.service_id, supported_regions)
        return service

    def set_supported_regions(self, service_id: str, regions: Sequence[str]) -> None:
        """As the service's owner: offer it to exactly these Regions besides its home
        (ModifyVpcEndpointServiceConfiguration AddSupportedRegions/RemoveSupportedRegions,
        a real API call in the service's Region)."""
        home = self._service_region(service_id)
        ec2 = self.client("ec2", home)
        config = ec2.describe_vpc_endpoint_service_configurations(ServiceIds=[service_id])
        current = {r["Region"] for r in config["ServiceConfigurations"][0]["SupportedRegions"]}
        current.discard(home)
        wanted = {r for r in regions if r != home}
        add, remove = sorted(wanted - current), sorted(current - wanted)
        if add or remove:
            ec2.modify_vpc_endpoint_service_configuration(
                ServiceId=service_id, AddSupportedRegions=add, RemoveSupportedRegions=remove
            )

    def _create_service(
        self, region: str, vpc_id: str, subnet_ids: list[str], acceptance_required: bool
    ) -> TenantService:
        # PrivateLink services front a Network Load Balancer; moto insists on a real one.
        elbv2 = self.client("elbv2", region)
        nlb_arn = elbv2.create_load_balancer(
            Name=f"causeway-nlb-{next(_names)}",
            Subnets=subnet_ids,
            Type="network",
            Scheme="internal",
        )["LoadBalancers"][0]["LoadBalancerArn"]
        config = self.client("ec2", region).create_vpc_endpoint_service_configuration(
            NetworkLoadBalancerArns=[nlb_arn], AcceptanceRequired=acceptance_required
        )["ServiceConfiguration"]
        return TenantService(service_id=config["ServiceId"], service_name=config["ServiceName"])

    # metrics (real API calls) ----------------------------------------------------

    def put_endpoint_bytes(  # noqa: PLR0917 - the fixture reads like the dimensions
        self,
        vpce_id: str,
        service_name: str,
        vpc_id: str,
        byte_count: float,
        at: datetime,
        region: str | None = None,
    ) -> None:
        """BytesProcessed of an interface endpoint, as PrivateLink publishes it for the
        endpoint's owner. A naive `at` is taken as UTC."""
        self._put_bytes(
            ENDPOINTS_NAMESPACE,
            {
                "Endpoint Type": "Interface",
                "Service Name": service_name,
                "VPC Endpoint Id": vpce_id,
                "VPC Id": vpc_id,
            },
            byte_count,
            at,
            region,
        )

    def put_service_bytes(
        self,
        service_id: str,
        vpce_id: str,
        byte_count: float,
        at: datetime,
        region: str | None = None,
    ) -> None:
        """BytesProcessed of one endpoint connected to a service, as PrivateLink publishes
        it for the service's owner. A naive `at` is taken as UTC."""
        self._put_bytes(
            SERVICES_NAMESPACE,
            {"Service Id": service_id, "VPC Endpoint Id": vpce_id},
            byte_count,
            at,
            region,
        )

    def _put_bytes(
        self,
        namespace: str,
        dimensions: dict[str, str],
        byte_count: float,
        at: datetime,
        region: str | None,
    ) -> None:
        self.client("cloudwatch", region).put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": BYTES_PROCESSED,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    "Timestamp": at,
                    "Value": byte_count,
                    "Unit": "Bytes",
                }
            ],
        )

    # endpoints as a client sees them (real API calls) ----------------------------

    def endpoint_security_groups(self, vpce_id: str) -> list[str]:
        """The security group ids the endpoint has now, read from the backend (an
        inspection: no API call, so nothing shows in `call_counts`)."""
        return list(self._endpoint_record(vpce_id).security_group_ids)

    def endpoint_lets_traffic_in(self, vpce_id: str) -> bool:
        """Whether one of the endpoint's security groups has an ingress rule now (an
        interface endpoint lets in only what its groups' ingress rules allow), read from
        the backend (no API call)."""
        return any(self.group_ingress_rules(g) for g in self.endpoint_security_groups(vpce_id))

    def group_ingress_rules(self, group_id: str) -> int:
        """How many ingress rules the security group has now (no API call)."""
        for _, _, backend in ec2_backends.iter_backends():
            for groups in getattr(backend, "groups", {}).values():
                if group_id in groups:
                    return len(groups[group_id].ingress_rules)
        raise KeyError(f"no security group {group_id} in the sandbox")

    def resource_tags(self, resource_id: str) -> dict[str, str]:
        """Any EC2 resource's tags, read from the backend (no API call)."""
        for _, _, backend in ec2_backends.iter_backends():
            tags: dict[str, dict[str, str]] = getattr(backend, "tags", {})
            if resource_id in tags:
                return dict(tags[resource_id])
        return {}

    def endpoint_tags(self, vpce_id: str) -> dict[str, str]:
        """The endpoint's tags, read from the backend (no API call)."""
        for _, _, backend in ec2_backends.iter_backends():
            if vpce_id in getattr(backend, "vpc_end_points", {}):
                tags: dict[str, dict[str, str]] = getattr(backend, "tags", {})
                return dict(tags.get(vpce_id, {}))
        raise KeyError(f"no VPC endpoint {vpce_id} in the sandbox")

    def _endpoint_record(self, vpce_id: str) -> VPCEndPoint:
        for _, _, backend in ec2_backends.iter_backends():
            endpoint = getattr(backend, "vpc_end_points", {}).get(vpce_id)
            if endpoint is not None:
                return endpoint  # type: ignore[no-any-return]
        raise KeyError(f"no VPC endpoint {vpce_id} in the sandbox")

    # tenant side (real API calls) ------------------------------------------------

    def accept(self, service_id: str, vpce_id: str) -> None:
        """Accept a connection as the service owner; raises if AWS reports it unsuccessful."""
        ec2 = self.client("ec2", self._service_region(service_id))
        reply = ec2.accept_vpc_endpoint_connections(ServiceId=service_id, VpcEndpointIds=[vpce_id])
        _raise_unsuccessful("accept", reply)

    def reject(self, service_id: str, vpce_id: str) -> None:
        """Reject a connection as the service owner; raises if AWS reports it unsuccessful."""
        ec2 = self.client("ec2", self._service_region(service_id))
        reply = ec2.reject_vpc_endpoint_connections(ServiceId=service_id, VpcEndpointIds=[vpce_id])
        _raise_unsuccessful("reject", reply)

    def pending_connections(self, service_id: str) -> list[str]:
        """Endpoint ids waiting for the service owner's acceptance."""
        ec2 = self.client("ec2", self._service_region(service_id))
        paginator = ec2.get_paginator("describe_vpc_endpoint_connections")
        pages = paginator.paginate(
            Filters=[
                {"Name": "service-id", "Values": [service_id]},
                {"Name": "vpc-endpoint-state", "Values": ["pendingAcceptance"]},
            ]
        )
        return [c["VpcEndpointId"] for page in pages for c in page["VpcEndpointConnections"]]

    def tenant_client(self, account_id: str, region: str | None = None) -> Any:
        """An EC2 client acting as another AWS account (a tenant's own account): moto
        keeps one backend per account, picked by the x-moto-account-id header."""

        def as_account(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = account_id

        client = self.client("ec2", region, config=Config())
        client.meta.events.register("before-sign.ec2.*", as_account)
        return client

    def create_tenant_endpoint(
        self,
        account_id: str,
        *,
        region: str | None = None,
        service_name: str | None = None,
        endpoint_id: str | None = None,
    ) -> str:
        """As the tenant, in its own account: a VPC and an interface endpoint to the
        platform's inbound service (or `service_name`). Returns the endpoint id;
        `endpoint_id` gives it a known one (a seed manifest names it)."""
        region = region or self.region
        ec2 = self.tenant_client(account_id, region)
        vpc_id = _create_vpc(ec2, "192.168.0.0/16", f"tenant-{account_id}")
        subnet_ids = _create_subnets(ec2, vpc_id, region, "192.168")
        target = service_name or self.inbound_services[region].service_name
        with _CONTROL.lock:
            _CONTROL.next_endpoint_id = endpoint_id
        reply = ec2.create_vpc_endpoint(
            VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=target, SubnetIds=subnet_ids
        )
        return str(reply["VpcEndpoint"]["VpcEndpointId"])

    def create_tenant_endpoints(self, account_id: str, count: int) -> list[str]:
        """As the tenant: `count` endpoints to the platform's inbound service from one VPC
        of its account (for benchmarks; one VPC spares thousands of fixture calls)."""
        region = self.region
        ec2 = self.tenant_client(account_id, region)
        vpc_id = _create_vpc(ec2, "192.168.0.0/16", f"tenant-{account_id}")
        subnet_ids = _create_subnets(ec2, vpc_id, region, "192.168")
        target = self.inbound_services[region].service_name
        return [
            str(
                ec2.create_vpc_endpoint(
                    VpcEndpointType="Interface",
                    VpcId=vpc_id,
                    ServiceName=target,
                    SubnetIds=subnet_ids,
                )["VpcEndpoint"]["VpcEndpointId"]
            )
            for _ in range(count)
        ]

    def tenant_endpoint_state(
        self, account_id: str, vpce_id: str, region: str | None = None
    ) -> str:
        """The endpoint's state as its owner (the tenant) sees it."""
        ec2 = self.tenant_client(account_id, region)
        reply = ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce_id])
        return str(reply["VpcEndpoints"][0]["State"])

    def delete_tenant_endpoint(
        self, account_id: str, vpce_id: str, region: str | None = None
    ) -> None:
        """As the tenant: delete its own endpoint."""
        self.tenant_client(account_id, region).delete_vpc_endpoints(VpcEndpointIds=[vpce_id])

    # test controls (not AWS APIs) ------------------------------------------------

    def force_endpoint_state(self, vpce_id: str, state: str) -> None:
        """Put an endpoint into any documented state, e.g. to simulate AWS-side failures."""
        if state not in ENDPOINT_STATES:
            raise ValueError(f"unknown endpoint state {state!r}; one of {sorted(ENDPOINT_STATES)}")
        _, endpoint = self._find_endpoint(vpce_id)
        endpoint.state = state
        if isinstance(endpoint, SandboxVpcEndpoint):
            endpoint.activate_at = None  # a forced state stays until forced again

    def remove_endpoint(self, vpce_id: str) -> None:
        """Forget an endpoint entirely, as AWS does some time after deletion."""
        backend, endpoint = self._find_endpoint(vpce_id)
        for eni_id in endpoint.network_interface_ids:
            backend.enis.pop(eni_id, None)
        del backend.vpc_end_points[vpce_id]

    def fail_next(
        self,
        operation: str,
        code: str,
        message: str = "",
        after_effect: bool = False,
        status: int = 400,
    ) -> None:
        """Make the next ``operation`` call (an EC2 or CloudWatch action name) return an
        AWS error.

        With ``after_effect`` the call is executed first and only its response is
        replaced, simulating a lost reply. Queued failures are served in order. Use a
        5xx ``status`` for server-side errors; note botocore retries those by itself.
        CloudWatch answers in its own protocol and, being query-compatible, names a
        modelled error by its query code: ``InternalServiceFault`` reaches a client as
        ``InternalServiceError`` (``Error.QueryErrorCode`` keeps the shape name).
        """
        _check_operation(operation)
        failure = _Failure(code, message or f"Injected {code}", after_effect, status)
        with _CONTROL.lock:
            _CONTROL.failures.setdefault(operation, deque()).append(failure)

    def break_api(
        self,
        operation: str,
        status: int = 500,
        body: str = "<html><body><h1>502 Bad Gateway</h1></body></html>",
    ) -> None:
        """Make every ``operation`` call (EC2 or CloudWatch) answer a raw HTTP response
        that is not an API answer (an overloaded endpoint or proxy), until
        :meth:`heal_api`."""
        _check_operation(operation)
        with _CONTROL.lock:
            _CONTROL.outages[operation] = _Outage(status, body)

    def limit(self, operation: str, burst: float, rate: float) -> None:
        """Throttle ``operation`` with a token bucket (`burst` tokens, refilled at `rate`
        per second): a call without a token is refused as its service refuses it, an EC2
        action with RequestLimitExceeded (HTTP 503), a CloudWatch one with Throttling
        (HTTP 400)."""
        _check_operation(operation)
        with _CONTROL.lock:
            _CONTROL.limits[operation] = _Bucket(burst, rate, burst, time.monotonic())

    def limit_as_documented(self) -> None:
        """Throttle every action of :func:`documented_buckets` as AWS documents it (a
        bucket per action, each starting full), answering as :meth:`limit` does."""
        for operation, (burst, rate) in documented_buckets().items():
            self.limit(operation, burst, rate)

    def throttled_counts(self) -> dict[str, int]:
        """Throttle answers given (RequestLimitExceeded, Throttling), by action name."""
        with _CONTROL.lock:
            return dict(_CONTROL.throttled)

    def heal_api(self, operation: str) -> None:
        _check_operation(operation)
        with _CONTROL.lock:
            _CONTROL.outages.pop(operation, None)

    def call_counts(self) -> dict[str, int]:
        """EC2 and CloudWatch API calls the server received, by action name."""
        with _CONTROL.lock:
            return dict(_CONTROL.counts)

    def calls_by_key(self, access_key: str) -> dict[str, int]:
        """The calls made with one access key id, by action name."""
        with _CONTROL.lock:
            return {
                action: count
                for (key, action), count in _CONTROL.counts_by_key.items()
                if key == access_key
            }

    def metrics_requested(self) -> int:
        """Metrics requested from CloudWatch (what it bills GetMetricData by): the
        MetricDataQueries of every GetMetricData call received, failed ones included."""
        with _CONTROL.lock:
            return _CONTROL.metrics_requested

    def reset_call_counts(self) -> None:
        """Forget the call counts and the metrics requested."""
        with _CONTROL.lock:
            _CONTROL.counts.clear()
            _CONTROL.counts_by_key.clear()
            _CONTROL.metrics_requested = 0

    # internals -------------------------------------------------------------------

    def _backends(self) -> Iterator[Any]:
        yield from ec2_backends[DEFAULT_ACCOUNT_ID].values()

    def _find_endpoint(self, vpce_id: str) -> tuple[Any, VPCEndPoint]:
        for backend in self._backends():
            endpoint = backend.vpc_end_points.get(vpce_id)
            if endpoint is not None:
                return backend, endpoint
        raise KeyError(f"no VPC endpoint {vpce_id} in the sandbox")

    def _service_region(self, service_id: str) -> str:
        for backend in self._backends():
            if service_id in backend.configurations:
                return str(backend.region_name)
        raise KeyError(f"no endpoint service {service_id} in the sandbox")


@functools.cache
def _operations() -> frozenset[str]:
    """The action names the controls accept: EC2's and CloudWatch's (they never clash)."""
    session = botocore.session.get_session()
    return frozenset(
        name
        for service in ("ec2", "cloudwatch")
        for name in session.get_service_model(service).operation_names
    )


def _check_operation(operation: str) -> None:
    if operation not in _operations():
        raise ValueError(
            f"{operation!r} is not an EC2 action name nor a CloudWatch one "
            "(e.g. 'CreateVpcEndpoint', 'GetMetricData')"
        )


def _create_vpc(ec2: Any, cidr: str, name: str) -> str:
    vpc_id: str = ec2.create_vpc(
        CidrBlock=cidr,
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}]}],
    )["Vpc"]["VpcId"]
    return vpc_id


def _zone_names(region: str, zones: Sequence[str] | None) -> list[str]:
    """The AZ names given (checked: AZs of the region, at least one, no repeats), or the
    default three, as PrivateLink deployments usually spread: <region>a, b and c."""
    if zones is None:
        return [f"{region}{letter}" for letter in "abc"]
    names = list(zones)
    if not names or len(set(names)) != len(names):
        raise ValueError(f"zones must name at least one AZ, each once: {names}")
    for name in names:
        zone_id_of(region, name)  # ValueError if not an AZ of the region
    return names


def _create_subnets(
    ec2: Any,
    vpc_id: str,
    region: str,
    prefix: str,
    size: int = 24,
    *,
    zones: Sequence[str] | None = None,
) -> list[str]:
    """One subnet in each AZ (by name; default <region>a, b and c), in that order."""
    return [
        ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=f"{prefix}.{index}.0/{size}",
            AvailabilityZone=zone,
        )["Subnet"]["SubnetId"]
        for index, zone in enumerate(_zone_names(region, zones), start=1)
    ]


def _create_blocked_group(ec2: Any, vpc_id: str) -> str:
    """A security group with no rules at all (AWS adds allow-all egress by default)."""
    group_id: str = ec2.create_security_group(
        GroupName=f"causeway-blocked-{next(_names)}",
        Description="Causeway quarantine: no traffic",
        VpcId=vpc_id,
    )["GroupId"]
    ec2.revoke_security_group_egress(
        GroupId=group_id,
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    return group_id


def _raise_unsuccessful(verb: str, reply: dict[str, Any]) -> None:
    failures = reply.get("Unsuccessful") or []
    if failures:
        first = failures[0]
        raise RuntimeError(
            f"{verb} failed for {first['ResourceId']}: "
            f"{first['Error']['Code']}: {first['Error']['Message']}"
        )
