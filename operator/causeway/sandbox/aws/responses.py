"""The EC2 query-API side of the sandbox: the actions moto lacks, paging for
DescribeVpcEndpoints, and the wrapper that counts calls, injects failures and runs
each EC2 action alone."""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Sequence
from typing import Any, Final

from moto.core.common_types import TYPE_RESPONSE
from moto.core.responses import ActionResult, BaseResponse
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses._base_response import EC2BaseResponse
from moto.ec2.utils import add_tag_specification

from causeway.sandbox import faults
from causeway.sandbox.aws.backend import (
    _accept_vpc_endpoint_connections,
    _activate_due,
    _describe_vpc_endpoint_connections,
    _reject_vpc_endpoint_connections,
)
from causeway.sandbox.aws.control import _CONTROL, _THROTTLED, _Outage, access_key_of

# DescribeVpcEndpoints and DescribeVpcEndpointConnections return at most 1000 items.
_MAX_PAGE: Final = 1000


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
        endpoints = faults.visible(
            self.ec2_backend.describe_vpc_endpoints(
                vpc_end_point_ids=self._get_param("VpcEndpointIds", []),
                filters=self._filters_from_querystring(),
            ),
            self.headers.get("User-Agent", ""),
        )
        page, token = _paginate(
            endpoints, self._get_int_param("MaxResults"), self._get_param("NextToken")
        )
        return ActionResult({"VpcEndpoints": page, "NextToken": token})

    def create_vpc_endpoint(self) -> ActionResult:
        """moto's CreateVpcEndpoint plus ServiceRegion (EC2 API reference: the Region of
        the endpoint service, for a cross-Region endpoint; default the caller's)."""
        endpoint = self.ec2_backend.create_vpc_endpoint(
            vpc_id=self._get_param("VpcId"),
            service_name=self._get_param("ServiceName"),
            endpoint_type=self._get_param("VpcEndpointType"),
            policy_document=self._get_param("PolicyDocument"),
            route_table_ids=self._get_param("RouteTableIds", []),
            subnet_ids=self._get_param("SubnetIds", []),
            client_token=self._get_param("ClientToken"),
            security_group_ids=self._get_param("SecurityGroupIds", []),
            tags=add_tag_specification(self._get_param("TagSpecifications", [])),
            private_dns_enabled=self._get_bool_param("PrivateDnsEnabled", if_none=True),
            service_region=self._get_param("ServiceRegion"),
        )
        return ActionResult({"VpcEndpoint": endpoint})

    def describe_vpc_endpoint_services(self) -> ActionResult:
        """moto's DescribeVpcEndpointServices plus ServiceRegions (EC2 API reference)."""
        found = self.ec2_backend.describe_vpc_endpoint_services(
            service_names=self._get_param("ServiceNames", []),
            filters=self._get_param("Filters", []),
            max_results=self._get_int_param("MaxResults"),
            next_token=self._get_param("NextToken"),
            region=self.region,
            service_regions=self._get_param("ServiceRegions", []),
        )
        return ActionResult(
            {
                "ServiceNames": found["serviceNames"],
                "ServiceDetails": found["servicesDetails"],
                "NextToken": found["nextToken"],
            }
        )

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


def _locked_call(self: BaseResponse) -> TYPE_RESPONSE:
    with _EC2_ACTION_LOCK:
        return _original_call_action(self)


def _controlled_call_action(self: BaseResponse) -> TYPE_RESPONSE:
    """Count every EC2 call and serve injected failures before or after the real work."""
    action = self._get_action()
    failure = _CONTROL.record(action, access_key=access_key_of(self.headers)) or faults.aws_fault(
        action, self.headers.get("User-Agent", ""), throttle=_THROTTLED
    )
    if failure is None:
        with _EC2_ACTION_LOCK:
            return _original_call_action(self)
    if isinstance(failure, faults.Drop):
        faults.drop_connection(self, failure, lambda: _locked_call(self))
        return 500, {}, ""  # never reaches the client: its connection is gone
    if isinstance(failure, _Outage):
        return failure.status, {"Content-Type": "text/html"}, failure.body
    if failure.after_effect:
        with _EC2_ACTION_LOCK:
            _original_call_action(self)  # the effect happens; only the response is lost
    error = EC2ClientError(failure.code, failure.message)
    _, headers, body = self.serialized(ActionResult(error))
    return failure.status, headers, body
