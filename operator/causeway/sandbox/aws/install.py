"""Installs the sandbox's extensions into moto, once per process and only when asked
(nothing is patched at import time)."""

from __future__ import annotations

import functools
import threading

from moto import backends as moto_backends
from moto.cloudwatch.models import CloudWatchBackend
from moto.cloudwatch.responses import CloudWatchResponse
from moto.ec2.models import vpc_service_configuration as moto_service_configs
from moto.ec2.models import vpcs as moto_vpcs
from moto.ec2.models.security_groups import SecurityGroupBackend
from moto.ec2.models.vpc_service_configuration import (
    VPCServiceConfigurationBackend,
)
from moto.ec2.models.vpcs import VPCBackend
from moto.ec2.responses import EC2Response
from moto.servicequotas.models import ServiceQuotasBackend

from causeway.sandbox.aws.backend import (
    _accept_vpc_endpoint_connections,
    _create_vpc_endpoint,
    _delete_security_group,
    _describe_vpc_endpoint_connections,
    _describe_vpc_endpoint_services,
    _get_service_quota,
    _modify_vpc_endpoint,
    _modify_vpc_endpoint_service_configuration,
    _reject_vpc_endpoint_connections,
)
from causeway.sandbox.aws.metrics import (
    _controlled_call_action as _controlled_cloudwatch_call_action,
)
from causeway.sandbox.aws.metrics import _put_metric_data, _serve_get_metric_data
from causeway.sandbox.aws.models import SandboxServiceConfiguration, SandboxVpcEndpoint
from causeway.sandbox.aws.responses import PrivateLinkResponses, _controlled_call_action

_INSTALL_LOCK = threading.Lock()
_installed = False


_list_of_moto_modules = moto_backends.list_of_moto_modules


def install() -> None:
    """Patch moto's EC2 backend and responses with the PrivateLink behaviour (and the
    per-VPC endpoint quota, which Service Quotas then reports), and its CloudWatch
    backend and responses with the indexed GetMetricData and call control.

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
        VPCBackend.modify_vpc_endpoint = _modify_vpc_endpoint  # type: ignore[assignment,method-assign]
        SecurityGroupBackend.delete_security_group = _delete_security_group  # type: ignore[assignment,method-assign]
        VPCBackend.describe_vpc_endpoint_services = _describe_vpc_endpoint_services  # type: ignore[assignment,method-assign]
        ServiceQuotasBackend.get_service_quota = _get_service_quota(  # type: ignore[method-assign]
            ServiceQuotasBackend.get_service_quota
        )
        backend_methods = {
            "describe_vpc_endpoint_connections": _describe_vpc_endpoint_connections,
            "accept_vpc_endpoint_connections": _accept_vpc_endpoint_connections,
            "reject_vpc_endpoint_connections": _reject_vpc_endpoint_connections,
            "modify_vpc_endpoint_service_configuration": (
                _modify_vpc_endpoint_service_configuration
            ),
        }
        for name, function in backend_methods.items():
            setattr(VPCServiceConfigurationBackend, name, function)
        # moto dispatches an action to the EC2Response method of the same snake_case name.
        for name, member in vars(PrivateLinkResponses).items():
            if callable(member) and not name.startswith("_"):
                setattr(EC2Response, name, member)
        EC2Response.call_action = _controlled_call_action  # type: ignore[method-assign]
        # CloudWatch: moto still stores every datum; the index is kept beside its store.
        CloudWatchBackend.put_metric_data = _put_metric_data  # type: ignore[method-assign,assignment]
        CloudWatchResponse.get_metric_data = _serve_get_metric_data  # type: ignore[method-assign]
        CloudWatchResponse.call_action = _controlled_cloudwatch_call_action  # type: ignore[method-assign]
        # moto's server lists its package directory on disk for every request to route it
        # (listdir + isdir per service); the answer never changes, so compute it once.
        moto_backends.list_of_moto_modules = functools.cache(lambda: tuple(_list_of_moto_modules()))
        _installed = True
