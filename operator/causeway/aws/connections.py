"""The platform's endpoint service in one region, as its owner: the connection requests
tenants' endpoints make to it (listed in pages, filtered by service id), accepted or
rejected in batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from causeway.aws.session import aws_call
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
        requests: list[ConnectionRequest] = []
        kwargs: dict[str, Any] = {
            "Filters": [{"Name": "service-id", "Values": [self.service_id]}],
            "MaxResults": PAGE_SIZE,
        }
        while True:
            with aws_call("DescribeVpcEndpointConnections"):
                page = self._ec2.describe_vpc_endpoint_connections(**kwargs)
            requests.extend(to_request(item) for item in page.get("VpcEndpointConnections", []))
            token = page.get("NextToken")
            if not token:
                return requests
            kwargs["NextToken"] = token

    def accept(self, endpoint_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Accept these requests; returns the ones AWS did not accept (id → code, message)."""
        return self._in_batches("AcceptVpcEndpointConnections", endpoint_ids)

    def reject(self, endpoint_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Reject these requests; returns the ones AWS did not reject (id → code, message)."""
        return self._in_batches("RejectVpcEndpointConnections", endpoint_ids)

    def _in_batches(
        self, operation: str, endpoint_ids: Sequence[str]
    ) -> dict[str, tuple[str, str]]:
        call = {
            "AcceptVpcEndpointConnections": self._ec2.accept_vpc_endpoint_connections,
            "RejectVpcEndpointConnections": self._ec2.reject_vpc_endpoint_connections,
        }[operation]
        failed: dict[str, tuple[str, str]] = {}
        ids = list(endpoint_ids)
        for start in range(0, len(ids), BATCH_SIZE):
            with aws_call(operation):
                reply = call(
                    ServiceId=self.service_id, VpcEndpointIds=ids[start : start + BATCH_SIZE]
                )
            failed |= _unsuccessful(reply)
        return failed


def _unsuccessful(reply: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        str(item["ResourceId"]): (
            str(item.get("Error", {}).get("Code", "Unknown")),
            str(item.get("Error", {}).get("Message", "")),
        )
        for item in reply.get("Unsuccessful") or []
    }


def to_request(item: Mapping[str, Any]) -> ConnectionRequest:
    """Our view of one VpcEndpointConnection record."""
    created = item.get("CreationTimestamp")
    return ConnectionRequest(
        endpoint_id=str(item["VpcEndpointId"]),
        owner_account=str(item.get("VpcEndpointOwner", "")),
        state=str(item.get("VpcEndpointState", "")),
        dns_names=tuple(d["DnsName"] for d in item.get("DnsEntries", []) if d.get("DnsName")),
        created=created if isinstance(created, datetime) else None,
    )
