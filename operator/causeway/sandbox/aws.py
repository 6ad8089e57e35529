"""Local AWS PrivateLink simulation on top of moto's EC2 backend.

This module owns the sandbox's AWS side: a moto server running in a thread, the
extensions that make moto's EC2 backend behave like PrivateLink as the Amazon EC2
API reference describes it, fixture builders that create the platform and tenant
sides with real boto3 calls, and test controls (forced states, injected errors,
call counts).

It extends moto rather than replacing it. ``install()`` patches moto's classes in
place (idempotently; nothing happens at import time):

* ``VPCServiceConfiguration`` → ``SandboxServiceConfiguration``: AWS-shaped ids
  (``vpce-svc-`` + 17 hex digits; moto uses 8).
* ``VPCEndPoint`` → ``SandboxVpcEndpoint``: AWS-shaped DNS entries and the
  ``vpc-endpoint-id`` / ``service-name`` / ``vpc-id`` filters.
* ``VPCBackend.create_vpc_endpoint``: service visibility (``InvalidServiceName``),
  ``ClientToken`` idempotency, and ``pendingAcceptance`` when the service requires
  acceptance.
* ``VPCServiceConfigurationBackend`` gains the service-owner side
  (Describe/Accept/RejectVpcEndpointConnections), which moto lacks.
* ``EC2Response`` gains those three actions, MaxResults/NextToken pagination for
  DescribeVpcEndpoints, and a ``call_action`` wrapper for call counting and error
  injection.

Never used by ``causeway run``: the operator talks to real AWS there.
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import json
import logging
import threading
import time
import urllib.request
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Self

import boto3
import botocore.session
from botocore.config import Config
from moto import backends as moto_backends
from moto.core.common_types import TYPE_RESPONSE
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult, BaseResponse
from moto.ec2.exceptions import EC2ClientError, InvalidServiceName
from moto.ec2.models import ec2_backends
from moto.ec2.models import vpc_service_configuration as moto_service_configs
from moto.ec2.models import vpcs as moto_vpcs
from moto.ec2.models.vpc_service_configuration import (
    VPCServiceConfiguration,
    VPCServiceConfigurationBackend,
)
from moto.ec2.models.vpcs import VPCBackend, VPCEndPoint
from moto.ec2.responses import EC2Response
from moto.ec2.responses._base_response import EC2BaseResponse
from moto.ec2.utils import random_resource_id
from moto.server import ThreadedMotoServer

__all__ = [
    "DEFAULT_PLATFORM_PRINCIPAL",
    "ENDPOINT_STATES",
    "AwsSandbox",
    "SandboxServiceConfiguration",
    "SandboxVpcEndpoint",
    "TenantService",
    "install",
]

DEFAULT_PLATFORM_PRINCIPAL: Final = "arn:aws:iam::210987654321:role/causeway-platform"
"""The operator's identity. Its account differs from moto's single account on purpose:
the platform is "another account" from the point of view of tenant services."""

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

# DescribeVpcEndpoints and DescribeVpcEndpointConnections return at most 1000 items.
_MAX_PAGE: Final = 1000
_DUMMY_KEY: Final = "testing"


# --------------------------------------------------------------------------- control


@dataclass
class _Failure:
    code: str
    message: str
    after_effect: bool
    status: int


@dataclass
class _Control:
    """Process-wide sandbox state: moto's backends are process-wide too."""

    platform_principal: str | None = None
    activation_seconds: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)
    failures: dict[str, deque[_Failure]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_service_id: str | None = None

    def record(self, action: str) -> _Failure | None:
        """Count one received call and pop the failure queued for it, if any."""
        with self.lock:
            self.counts[action] += 1
            queue = self.failures.get(action)
            return queue.popleft() if queue else None

    def take_service_id(self) -> str | None:
        """The id the next endpoint service must get, if a fixture asked for one."""
        with self.lock:
            chosen, self.next_service_id = self.next_service_id, None
            return chosen

    def clear(self) -> None:
        with self.lock:
            self.counts.clear()
            self.failures.clear()
            self.next_service_id = None


_CONTROL = _Control()
_INSTALL_LOCK = threading.Lock()
_installed = False


# ---------------------------------------------------------------------------- models


class SandboxServiceConfiguration(VPCServiceConfiguration):
    """moto's endpoint service with AWS-shaped identifiers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        region = self.service_name.split(".")[3]
        # AWS service ids carry 17 hex digits; operator code validates that shape. A
        # fixture may ask for a known id (the demo's seed manifests name one).
        self.id = _CONTROL.take_service_id() or f"vpce-svc-{random_resource_id(17)}"
        self.service_name = f"com.amazonaws.vpce.{region}.{self.id}"
        self.endpoint_dns_name = f"{self.id}.{region}.vpce.amazonaws.com"


class SandboxVpcEndpoint(VPCEndPoint):
    """moto's VPC endpoint plus what PrivateLink needs: owning service, connection id,
    the ClientToken fingerprint, and the filters DescribeVpcEndpoints documents."""

    service_id: str | None = None
    connection_id: str | None = None
    fingerprint: str | None = None
    activate_at: float | None = None  # monotonic time an accepted endpoint becomes available

    @property
    def vpc_endpoint_id(self) -> str:
        return self.id

    def get_tags(self) -> list[dict[str, str]]:
        # moto's version asks the tag backend to regex-match every tag of every resource
        # for this one id, so describing or tag-filtering N endpoints cost O(N x all tags)
        # and made 1,000 endpoints take minutes; the backend keeps tags by id, so look up.
        tags: dict[str, str] = self.ec2_backend.tags.get(self.id, {})
        return [
            {"resource_id": self.id, "key": key, "value": value, "resource_type": "vpc-endpoint"}
            for key, value in tags.items()
        ]

    def get_filter_value(self, filter_name: str, method_name: str | None = None) -> Any:
        if filter_name == "vpc-endpoint-id":
            return self.id
        if filter_name == "service-name":
            return self.service_name
        if filter_name == "vpc-id":
            return self.vpc_id
        return super().get_filter_value(filter_name, method_name)


def _interface_dns_entries(
    endpoint_id: str, service: VPCServiceConfiguration, zones: Sequence[str]
) -> list[dict[str, str]]:
    """Regional name first, then one name per AZ, as AWS lists them."""
    region = service.service_name.split(".")[3]
    suffix = f"{endpoint_id}-{random_resource_id(8)}"
    zone_id = random_resource_id(13).upper()
    names = [f"{suffix}.{service.id}.{region}.vpce.amazonaws.com"]
    names += [f"{suffix}-{zone}.{service.id}.{region}.vpce.amazonaws.com" for zone in zones]
    return [{"DnsName": name, "HostedZoneId": zone_id} for name in names]


# --------------------------------------------------------------------------- backend


def _find_service_by_name(backend: Any, service_name: str) -> VPCServiceConfiguration | None:
    configs: dict[str, VPCServiceConfiguration] = backend.configurations
    return next((c for c in configs.values() if c.service_name == service_name), None)


def _is_customer_service_name(service_name: str) -> bool:
    """AWS-managed names (com.amazonaws.<region>.s3) stay with moto's defaults."""
    return service_name.startswith("com.amazonaws.vpce.") or not service_name.startswith(
        "com.amazonaws."
    )


def _caller_may_see(service: VPCServiceConfiguration) -> bool:
    """Whether the configured platform principal is allow-listed on the service.

    With no principal configured the caller is moto's own account, i.e. the service
    owner, who always sees its services. Otherwise AWS's rules for another account:
    the exact ARN, "*", or the principal account's root ARN; no permissions at all
    means not visible.
    """
    principal = _CONTROL.platform_principal
    if principal is None:
        return True
    account = principal.split(":")[4]
    accepted = {principal, "*", f"arn:aws:iam::{account}:root"}
    return bool(accepted.intersection(service.principals))


def _canonical(value: Any) -> Any:
    """Order-insensitive form of request parameters, for ClientToken comparison."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple | set):
        return sorted((_canonical(v) for v in value), key=repr)
    return value


def _fingerprint(kwargs: dict[str, Any]) -> str:
    params = {k: v for k, v in kwargs.items() if k != "client_token"}
    return json.dumps(_canonical(params), sort_keys=True, default=str)


def _find_by_client_token(backend: Any, token: str) -> SandboxVpcEndpoint | None:
    endpoints: dict[str, VPCEndPoint] = backend.vpc_end_points
    for endpoint in endpoints.values():
        if isinstance(endpoint, SandboxVpcEndpoint) and endpoint.client_token == token:
            return endpoint
    return None


_original_create_vpc_endpoint = VPCBackend.create_vpc_endpoint


def _create_vpc_endpoint(backend: Any, **kwargs: Any) -> VPCEndPoint:
    """CreateVpcEndpoint as AWS documents it, wrapped around moto's implementation."""
    service_name: str = kwargs["service_name"]
    endpoint_type: str = kwargs.get("endpoint_type") or "Gateway"
    if endpoint_type.lower() != "interface" or not _is_customer_service_name(service_name):
        return _original_create_vpc_endpoint(backend, **kwargs)

    service = _find_service_by_name(backend, service_name)
    if service is None or not _caller_may_see(service):
        # AWS does not distinguish "missing" from "not allowed" here.
        raise InvalidServiceName(service_name)

    token: str | None = kwargs.get("client_token")
    fingerprint = _fingerprint(kwargs)
    if token:
        existing = _find_by_client_token(backend, token)
        if existing is not None:
            if existing.fingerprint != fingerprint:
                raise EC2ClientError(
                    "IdempotentParameterMismatch",
                    "The request uses the same client token as a previous, "
                    "but non-identical request.",
                )
            return existing

    endpoint = _original_create_vpc_endpoint(backend, **kwargs)
    assert isinstance(endpoint, SandboxVpcEndpoint)  # install() swapped the class
    zones = [backend.get_subnet(s).availability_zone for s in endpoint.subnet_ids or []]
    endpoint.dns_entries = _interface_dns_entries(endpoint.id, service, zones)
    endpoint.service_id = service.id
    endpoint.connection_id = f"vpce-con-{random_resource_id(17)}"
    endpoint.fingerprint = fingerprint
    endpoint.state = "pendingAcceptance" if service.acceptance_required else "available"
    return endpoint


def _service_endpoints(backend: Any, service_id: str) -> list[SandboxVpcEndpoint]:
    endpoints: dict[str, VPCEndPoint] = backend.vpc_end_points
    return [
        e
        for e in endpoints.values()
        if isinstance(e, SandboxVpcEndpoint) and e.service_id == service_id
    ]


def _connection(backend: Any, endpoint: SandboxVpcEndpoint) -> dict[str, Any]:
    """One VpcEndpointConnection as the service owner sees it."""
    service = backend.configurations.get(endpoint.service_id)
    return {
        "ServiceId": endpoint.service_id,
        "VpcEndpointId": endpoint.id,
        "VpcEndpointOwner": endpoint.owner_id,
        "VpcEndpointState": endpoint.state,
        "CreationTimestamp": endpoint.creation_timestamp,
        "DnsEntries": endpoint.dns_entries,
        "NetworkLoadBalancerArns": list(service.network_load_balancer_arns) if service else [],
        "IpAddressType": "ipv4",
        "VpcEndpointConnectionId": endpoint.connection_id,
        "VpcEndpointRegion": backend.region_name,
    }


_CONNECTION_FILTERS: Final = {
    "service-id": "ServiceId",
    "vpc-endpoint-id": "VpcEndpointId",
    "vpc-endpoint-owner": "VpcEndpointOwner",
    "vpc-endpoint-state": "VpcEndpointState",
}


def _describe_vpc_endpoint_connections(
    backend: Any, filters: dict[str, Any]
) -> list[dict[str, Any]]:
    unknown = set(filters) - set(_CONNECTION_FILTERS)
    if unknown:
        raise EC2ClientError(
            "InvalidParameterValue", f"The filter '{sorted(unknown)[0]}' is invalid"
        )
    configs: dict[str, VPCServiceConfiguration] = backend.configurations
    connections = [
        _connection(backend, e) for sid in configs for e in _service_endpoints(backend, sid)
    ]
    return [
        c
        for c in connections
        if all(str(c[_CONNECTION_FILTERS[name]]) in values for name, values in filters.items())
    ]


def _unsuccessful(resource_id: str, code: str, message: str) -> dict[str, Any]:
    return {"ResourceId": resource_id, "Error": {"Code": code, "Message": message}}


def _transition_connections(
    backend: Any, service_id: str, endpoint_ids: list[str], target: str, allowed_from: set[str]
) -> list[dict[str, Any]]:
    """Move endpoints of one service to ``target``; return AWS-style Unsuccessful items."""
    backend.describe_vpc_endpoint_service_configurations([service_id])  # NotFound if unknown
    mine = {e.id: e for e in _service_endpoints(backend, service_id)}
    failures = []
    for endpoint_id in endpoint_ids:
        endpoint = mine.get(endpoint_id)
        if endpoint is None:
            failures.append(
                _unsuccessful(
                    endpoint_id,
                    "InvalidVpcEndpointId.NotFound",
                    f"The Vpc Endpoint Id '{endpoint_id}' does not exist",
                )
            )
        elif endpoint.state not in allowed_from:
            failures.append(
                _unsuccessful(
                    endpoint_id,
                    "InvalidState",
                    f"Vpc Endpoint {endpoint_id} is in state {endpoint.state}",
                )
            )
        else:
            endpoint.state = target
            if target == "pending":
                endpoint.activate_at = time.monotonic() + _CONTROL.activation_seconds
    return failures


def _activate_due(backend: Any) -> None:
    """Accepted endpoints become available once their activation time has passed (AWS
    shows them as pending for a while after the service owner accepts)."""
    now = time.monotonic()
    for endpoint in list(backend.vpc_end_points.values()):
        due = getattr(endpoint, "activate_at", None)
        if due is not None and endpoint.state == "pending" and now >= due:
            endpoint.state = "available"
            endpoint.activate_at = None


def _accept_vpc_endpoint_connections(
    backend: Any, service_id: str, endpoint_ids: list[str]
) -> list[dict[str, Any]]:
    # AWS passes through a short "pending" before "available"; the sandbox skips it.
    return _transition_connections(
        backend, service_id, endpoint_ids, "pending", {"pendingAcceptance"}
    )


def _reject_vpc_endpoint_connections(
    backend: Any, service_id: str, endpoint_ids: list[str]
) -> list[dict[str, Any]]:
    # Service owners may reject pending and already accepted connections alike.
    return _transition_connections(
        backend, service_id, endpoint_ids, "rejected", {"pendingAcceptance", "available"}
    )


# ------------------------------------------------------------------------- responses


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str) -> int:
    try:
        prefix, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if prefix == "offset" and offset.isdigit():
            return int(offset)
    except (binascii.Error, UnicodeDecodeError):
        pass
    raise EC2ClientError("InvalidPaginationToken", f"Invalid pagination token: {token}")


def _paginate(
    items: Sequence[Any], max_results: int | None, next_token: str | None
) -> tuple[list[Any], str | None]:
    """AWS-style paging: at most 1000 per page, opaque NextToken while more remain."""
    start = _decode_token(next_token) if next_token else 0
    size = min(max_results or _MAX_PAGE, _MAX_PAGE)
    if size < 1:
        raise EC2ClientError("InvalidParameterValue", "MaxResults must be at least 1")
    end = start + size
    return list(items[start:end]), (_encode_token(end) if end < len(items) else None)


class PrivateLinkResponses(EC2BaseResponse):
    """EC2 actions the sandbox adds or replaces; installed onto moto's EC2Response."""

    def describe_vpc_endpoints(self) -> ActionResult:
        _activate_due(self.ec2_backend)
        endpoints = self.ec2_backend.describe_vpc_endpoints(
            vpc_end_point_ids=self._get_param("VpcEndpointIds", []),
            filters=self._filters_from_querystring(),
        )
        page, token = _paginate(
            endpoints, self._get_int_param("MaxResults"), self._get_param("NextToken")
        )
        return ActionResult({"VpcEndpoints": page, "NextToken": token})

    def describe_vpc_endpoint_connections(self) -> ActionResult:
        _activate_due(self.ec2_backend)
        connections = _describe_vpc_endpoint_connections(
            self.ec2_backend, self._filters_from_querystring()
        )
        page, token = _paginate(
            connections, self._get_int_param("MaxResults"), self._get_param("NextToken")
        )
        return ActionResult({"VpcEndpointConnections": page, "NextToken": token})

    def accept_vpc_endpoint_connections(self) -> ActionResult:
        failures = _accept_vpc_endpoint_connections(
            self.ec2_backend, self._get_param("ServiceId"), self._get_param("VpcEndpointIds", [])
        )
        return ActionResult({"Unsuccessful": failures})

    def reject_vpc_endpoint_connections(self) -> ActionResult:
        failures = _reject_vpc_endpoint_connections(
            self.ec2_backend, self._get_param("ServiceId"), self._get_param("VpcEndpointIds", [])
        )
        return ActionResult({"Unsuccessful": failures})


_original_call_action = BaseResponse.call_action


# moto's server handles requests on parallel threads but its EC2 backend is not
# thread-safe (dicts mutate while another request iterates them, and a ClientToken
# check-then-create could race). Each EC2 action runs alone, as AWS makes each one atomic.
_EC2_ACTION_LOCK = threading.Lock()


def _controlled_call_action(self: BaseResponse) -> TYPE_RESPONSE:
    """Count every EC2 call and serve injected failures before or after the real work."""
    failure = _CONTROL.record(self._get_action())
    if failure is None:
        with _EC2_ACTION_LOCK:
            return _original_call_action(self)
    if failure.after_effect:
        with _EC2_ACTION_LOCK:
            _original_call_action(self)  # the effect happens; only the response is lost
    error = EC2ClientError(failure.code, failure.message)
    _, headers, body = self.serialized(ActionResult(error))
    return failure.status, headers, body


# --------------------------------------------------------------------------- install


_list_of_moto_modules = moto_backends.list_of_moto_modules


def install() -> None:
    """Patch moto's EC2 backend and responses with the PrivateLink behaviour.

    Idempotent and process-wide. Safe to call with moto's in-process mock too.
    """
    global _installed  # noqa: PLW0603 - one-shot patch guard for process-wide classes
    with _INSTALL_LOCK:
        if _installed:
            return
        # moto constructs these by their module-global names; swapping the names makes
        # moto's own create_* code build the sandbox subclasses.
        moto_service_configs.VPCServiceConfiguration = SandboxServiceConfiguration  # type: ignore[misc]
        moto_vpcs.VPCEndPoint = SandboxVpcEndpoint  # type: ignore[misc]
        VPCBackend.create_vpc_endpoint = _create_vpc_endpoint  # type: ignore[assignment,method-assign]
        backend_methods = {
            "describe_vpc_endpoint_connections": _describe_vpc_endpoint_connections,
            "accept_vpc_endpoint_connections": _accept_vpc_endpoint_connections,
            "reject_vpc_endpoint_connections": _reject_vpc_endpoint_connections,
        }
        for name, function in backend_methods.items():
            setattr(VPCServiceConfigurationBackend, name, function)
        # moto dispatches an action to the EC2Response method of the same snake_case name.
        for name, member in vars(PrivateLinkResponses).items():
            if callable(member) and not name.startswith("_"):
                setattr(EC2Response, name, member)
        EC2Response.call_action = _controlled_call_action  # type: ignore[method-assign]
        # moto's server lists its package directory on disk for every request to route it
        # (listdir + isdir per service); the answer never changes, so compute it once.
        moto_backends.list_of_moto_modules = functools.cache(lambda: tuple(_list_of_moto_modules()))
        _installed = True


# --------------------------------------------------------------------------- sandbox


@dataclass(frozen=True)
class TenantService:
    """A tenant's endpoint service, as a tenant would hand it to the platform."""

    service_id: str
    service_name: str


_active_lock = threading.Lock()
_active: AwsSandbox | None = None
_names = itertools.count(1)


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

    def create_platform(self, region: str | None = None) -> dict[str, Any]:
        """Platform side of one region, shaped like a region entry of the operator config."""
        region = region or self.region
        ec2 = self.client("ec2", region)
        vpc_id = _create_vpc(ec2, "10.100.0.0/16", "causeway-transit")
        subnet_ids = _create_subnets(ec2, vpc_id, region, "10.100")
        sg_id = ec2.create_security_group(
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
        blocked_id = _create_blocked_group(ec2, vpc_id)
        service = self._create_service(region, vpc_id, subnet_ids, acceptance_required=True)
        return {
            "transitVpcId": vpc_id,
            "subnetIds": subnet_ids,
            "securityGroupIds": [sg_id],
            "platformPrincipal": self.platform_principal,
            "inboundServiceId": service.service_id,
            "sourceIpPool": "10.200.0.0/16",
            "blockedSecurityGroupId": blocked_id,
        }

    def create_tenant_service(
        self,
        region: str | None = None,
        acceptance_required: bool = True,
        allow_platform: bool = True,
        service_id: str | None = None,
    ) -> TenantService:
        """A tenant endpoint service in its own VPC, optionally allow-listing the platform.
        `service_id` gives it a known id (e.g. the one a seed manifest names)."""
        region = region or self.region
        ec2 = self.client("ec2", region)
        vpc_id = _create_vpc(ec2, "172.16.0.0/16", "tenant")
        subnet_ids = _create_subnets(ec2, vpc_id, region, "172.16")
        with _CONTROL.lock:
            _CONTROL.next_service_id = service_id
        service = self._create_service(region, vpc_id, subnet_ids, acceptance_required)
        if allow_platform:
            ec2.modify_vpc_endpoint_service_permissions(
                ServiceId=service.service_id, AddAllowedPrincipals=[self.platform_principal]
            )
        return service

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
        """Make the next ``operation`` call (an EC2 action name) return an AWS error.

        With ``after_effect`` the call is executed first and only its response is
        replaced, simulating a lost reply. Queued failures are served in order. Use a
        5xx ``status`` for server-side errors; note botocore retries those by itself.
        """
        if operation not in _ec2_operations():
            raise ValueError(f"{operation!r} is not an EC2 action name (e.g. 'CreateVpcEndpoint')")
        failure = _Failure(code, message or f"Injected {code}", after_effect, status)
        with _CONTROL.lock:
            _CONTROL.failures.setdefault(operation, deque()).append(failure)

    def call_counts(self) -> dict[str, int]:
        """EC2 API calls the server received, by action name."""
        with _CONTROL.lock:
            return dict(_CONTROL.counts)

    def reset_call_counts(self) -> None:
        with _CONTROL.lock:
            _CONTROL.counts.clear()

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
def _ec2_operations() -> frozenset[str]:
    return frozenset(botocore.session.get_session().get_service_model("ec2").operation_names)


def _create_vpc(ec2: Any, cidr: str, name: str) -> str:
    vpc_id: str = ec2.create_vpc(
        CidrBlock=cidr,
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}]}],
    )["Vpc"]["VpcId"]
    return vpc_id


def _create_subnets(ec2: Any, vpc_id: str, region: str, prefix: str) -> list[str]:
    """Three subnets in three AZs, as PrivateLink deployments usually spread."""
    return [
        ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=f"{prefix}.{index}.0/24", AvailabilityZone=f"{region}{zone}"
        )["Subnet"]["SubnetId"]
        for index, zone in enumerate("abc", start=1)
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
