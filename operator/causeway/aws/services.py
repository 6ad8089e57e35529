"""Where tenants' endpoint services run: DescribeVpcEndpointServices for the services
the platform may use, many names per call. A name AWS does not show the platform (no
such service, or the platform is not allowed on it) fails the whole call with
InvalidServiceName, so such a batch is asked again one name at a time to tell which."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from causeway.aws.session import aws_call
from causeway.domain import ServiceZones
from causeway.errors import AwsCallError

NAMES_PER_CALL = 50
NOT_SHOWN = "InvalidServiceName"


class EndpointServices:
    """The region's EC2 client, asked where endpoint services run."""

    def __init__(self, ec2: Any) -> None:
        self._ec2 = ec2

    def zones(
        self, names: Sequence[str], service_region: str = ""
    ) -> dict[str, ServiceZones | None]:
        """Each name's zones (None: AWS does not show the platform that service), in one
        call; `service_region`: the services' Region when it is not the client's (a
        cross-Region service is shown only if it offers itself to the client's Region).
        For several names, InvalidServiceName is raised as AwsCallError (which of them
        is not shown is not said): the caller asks each alone, each call paced."""
        try:
            return self._describe(names, service_region)
        except AwsCallError as exc:
            if exc.code == NOT_SHOWN and len(names) == 1:
                return {names[0]: None}
            raise

    def _describe(
        self, names: Sequence[str], service_region: str
    ) -> dict[str, ServiceZones | None]:
        remote = {"ServiceRegions": [service_region]} if service_region else {}
        with aws_call("DescribeVpcEndpointServices"):
            reply = self._ec2.describe_vpc_endpoint_services(ServiceNames=list(names), **remote)
        found: dict[str, ServiceZones | None] = dict.fromkeys(names)
        for detail in reply.get("ServiceDetails", []):
            name = str(detail.get("ServiceName", ""))
            if name in found:
                found[name] = ServiceZones(name, frozenset(detail.get("AvailabilityZoneIds", [])))
        return found


def home_region(service_name: str) -> str:
    """The Region of an endpoint service, from its name (com.amazonaws.vpce.<region>.…)."""
    parts = service_name.split(".")
    return parts[3] if len(parts) > 4 else ""


def batches(names: Sequence[str]) -> list[list[str]]:
    """The names in calls of at most NAMES_PER_CALL."""
    return [list(names[i : i + NAMES_PER_CALL]) for i in range(0, len(names), NAMES_PER_CALL)]
