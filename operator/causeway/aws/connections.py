"""The platform's endpoint service in one region, as its owner: the connection requests
tenants' endpoints make to it (listed in pages, filtered by service id), accepted or
rejected in batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from causeway.aws.session import aws_call
from causeway.compact import shared, utc
from causeway.domain import ConnectionRequest

PAGE_SIZE = 1000  # the largest page DescribeVpcEndpointConnections returns
# AWS documents no limit on VpcEndpointIds per call; this keeps each request modest.
BATCH_SIZE = 100


class ServiceConnections:
    """Connection requests to one endpoint service (the region's inboundServiceId)."""

    def __init__(self, ec2: Any, service_id: str) -> None:
        self._ec2 = ec2
        self.service_id = service_id

    def all(self) -> list[ConnectionRequest]:
        """Every connection request to the service, ceil(N/1000) calls."""
        requests, token = self.page()
        while token:
            more, token = self.page(token)
            requests.extend(more)
        return requests

    def page(self, token: str | None = None) -> tuple[list[ConnectionRequest], str | None]:
        """One page of the requests and the token of the next (None: last), so a caller
        can pace each call."""
        kwargs: dict[str, Any] = {
            "Filters": [{"Name": "service-id", "Values": [self.service_id]}],
            "MaxResults": PAGE_SIZE,
        } | ({"NextToken": token} if token else {})
        with aws_call("DescribeVpcEndpointConnections"):
            page = self._ec2.describe_vpc_endpoint_connections(**kwargs)
        items = page.get("VpcEndpointConnections", [])
        return [to_request(item) for item in items], page.get("NextToken")

    def accept(self, endpoint_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Accept these requests (at most BATCH_SIZE: one call); returns the ones AWS did
        not accept (id → code, message)."""
        with aws_call("AcceptVpcEndpointConnections"):
            reply = self._ec2.accept_vpc_endpoint_connections(
                ServiceId=self.service_id, VpcEndpointIds=_one_batch(endpoint_ids)
            )
        return _unsuccessful(reply)

    def reject(self, endpoint_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Reject these requests (at most BATCH_SIZE: one call); returns the ones AWS did
        not reject (id → code, message)."""
        with aws_call("RejectVpcEndpointConnections"):
            reply = self._ec2.reject_vpc_endpoint_connections(
                ServiceId=self.service_id, VpcEndpointIds=_one_batch(endpoint_ids)
            )
        return _unsuccessful(reply)


def batches(endpoint_ids: Sequence[str]) -> list[list[str]]:
    """The ids cut into calls of at most BATCH_SIZE."""
    ids = list(endpoint_ids)
    return [ids[start : start + BATCH_SIZE] for start in range(0, len(ids), BATCH_SIZE)]


def _one_batch(endpoint_ids: Sequence[str]) -> list[str]:
    ids = list(endpoint_ids)
    if len(ids) > BATCH_SIZE:
        raise ValueError(f"{len(ids)} endpoints in one call; at most {BATCH_SIZE}")
    return ids


def _unsuccessful(reply: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        str(item["ResourceId"]): (
            str(item.get("Error", {}).get("Code", "Unknown")),
            str(item.get("Error", {}).get("Message", "")),
        )
        for item in reply.get("Unsuccessful") or []
    }


def to_request(item: Mapping[str, Any]) -> ConnectionRequest:
    """Our view of one VpcEndpointConnection record (kept for every request to the
    service: what repeats across requests is shared, see causeway.compact)."""
    created = item.get("CreationTimestamp")
    return ConnectionRequest(
        endpoint_id=str(item["VpcEndpointId"]),
        owner_account=shared(str(item.get("VpcEndpointOwner", ""))),
        state=shared(str(item.get("VpcEndpointState", ""))),
        dns_names=tuple(d["DnsName"] for d in item.get("DnsEntries", []) if d.get("DnsName")),
        created=utc(created) if isinstance(created, datetime) else None,
    )
