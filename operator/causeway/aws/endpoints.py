"""Interface endpoints in a region's pool of transit VPCs: create in a given VPC of the
pool (idempotent, tagged with the owner), find by owner tag or id, list every managed
endpoint of the region in pages (whatever the number of VPCs, including VPCs removed
from the config that still hold endpoints), delete, extend into more subnets, and swap
security groups (moving an endpoint made before tenant groups onto its tenant's; the
block tag such an endpoint may carry is still read)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from causeway.aws.session import aws_call
from causeway.compact import shared, utc
from causeway.config import RegionConfig, TransitVpcConfig
from causeway.domain import (
    TAG_BLOCKED_UNTIL,
    TAG_CLIENT_TOKEN,
    TAG_NAMESPACE,
    TAG_OPEN_GROUPS,
    TAG_UID,
    Endpoint,
)
from causeway.errors import AwsCallError

LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)
PAGE_SIZE = 1000  # the largest page DescribeVpcEndpoints returns
_ALREADY_GONE = frozenset({"InvalidVpcEndpointId.NotFound", "InvalidVpcEndpoint.NotFound"})


class TransitEndpoints:
    """The endpoints Causeway manages in one region's transit VPCs."""

    def __init__(self, ec2: Any, region: RegionConfig | None) -> None:
        """`region` None: a Region the config no longer serves (nothing is created
        there; what Causeway made there is still found and deleted)."""
        self._ec2 = ec2
        self._region = region

    def owned_by(self, uid: str, also_ids: Iterable[str] = ()) -> list[Endpoint]:
        """Every endpoint tagged with this owner uid, plus the given ids if still listed."""
        found = {e.id: e for e in self._describe(Filters=self._filters({f"tag:{TAG_UID}": uid}))}
        missing = [i for i in also_ids if i not in found]
        for endpoint in self.by_ids(missing):
            found[endpoint.id] = endpoint
        return list(found.values())

    def by_ids(self, ids: Sequence[str]) -> list[Endpoint]:
        """The endpoints with these ids; ids AWS no longer knows are left out."""
        result: list[Endpoint] = []
        for vpce_id in ids:  # one at a time: AWS fails the whole call for one unknown id
            try:
                result.extend(self._describe(VpcEndpointIds=[vpce_id]))
            except AwsCallError as exc:
                if exc.code != "InvalidVpcEndpointId.NotFound":
                    raise
        return result

    def all_managed(self) -> list[Endpoint]:
        """Every Causeway-tagged endpoint of the region, ceil(N/1000) calls. Filtered by the
        tag only, not by VPC: one listing covers the whole pool, and endpoints of a VPC
        removed from the config stay visible until their connections are torn down."""
        return self._describe(**self._managed())

    def managed_page(self, token: str | None = None) -> tuple[list[Endpoint], str | None]:
        """One page of the managed endpoints and the token of the next (None: last), so
        a caller can pace each call."""
        kwargs = self._managed() | ({"NextToken": token} if token else {})
        with aws_call("DescribeVpcEndpoints"):
            page = self._ec2.describe_vpc_endpoints(**kwargs)
        return [to_endpoint(i) for i in page.get("VpcEndpoints", [])], page.get("NextToken")

    def _managed(self) -> dict[str, Any]:
        return {"Filters": self._filters({"tag-key": TAG_UID}), "MaxResults": PAGE_SIZE}

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
        """Create (or, for a token AWS has seen, return) the endpoint to `service_name` in
        the pool's VPC `vpc_id` (default: the first), in the subnets given (default: all
        of that VPC's), with the security groups given (default: that VPC's). A request
        given whole is sent as it is, whatever the config says now (a recorded create
        sent again must be the very same request). `service_region`: the service's
        Region when it is another one (cross-Region PrivateLink)."""
        whole = vpc_id and subnet_ids and security_groups
        vpc = None if whole else self._vpc(vpc_id)
        remote = {"ServiceRegion": service_region} if service_region else {}
        with aws_call("CreateVpcEndpoint"):
            response = self._ec2.create_vpc_endpoint(
                **remote,
                VpcEndpointType="Interface",
                VpcId=vpc.vpcId if vpc else vpc_id,
                ServiceName=service_name,
                SubnetIds=list(subnet_ids or (vpc.subnetIds if vpc else ())),
                SecurityGroupIds=list(security_groups or (vpc.securityGroupIds if vpc else ())),
                PrivateDnsEnabled=False,
                ClientToken=client_token,
                TagSpecifications=[
                    {
                        "ResourceType": "vpc-endpoint",
                        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
                    }
                ],
            )
        return to_endpoint(response["VpcEndpoint"])

    def _vpc(self, vpc_id: str) -> TransitVpcConfig:
        if self._region is None:
            raise ValueError("nothing is created in a Region the config does not serve")
        if not vpc_id:
            return self._region.pool[0]
        vpc = self._region.transit_vpc(vpc_id)
        if vpc is None:  # placement only chooses configured VPCs
            raise ValueError(f"{vpc_id} is not a transit VPC of this region")
        return vpc

    def delete(self, ids: Sequence[str]) -> list[str]:
        """Delete these endpoints; returns the ids deleted or already gone."""
        if not ids:
            return []
        try:
            with aws_call("DeleteVpcEndpoints"):
                response = self._ec2.delete_vpc_endpoints(VpcEndpointIds=list(ids))
        except AwsCallError as exc:
            if exc.code in _ALREADY_GONE:
                return list(ids)
            raise
        failures = {
            item["ResourceId"]: item.get("Error", {})
            for item in response.get("Unsuccessful", [])
            if item.get("Error", {}).get("Code") not in _ALREADY_GONE
        }
        if failures:
            vpce_id, error = next(iter(failures.items()))
            raise AwsCallError(
                "DeleteVpcEndpoints",
                str(error.get("Code", "Unknown")),
                f"{vpce_id}: {error.get('Message', '')}",
            )
        return list(ids)

    def swap_groups(self, vpce_id: str, add: Sequence[str], remove: Sequence[str]) -> None:
        """Replace security groups of the endpoint in one call (an endpoint made before
        tenant groups moves onto its tenant's: the groups change together)."""
        with aws_call("ModifyVpcEndpoint"):
            self._ec2.modify_vpc_endpoint(
                VpcEndpointId=vpce_id,
                AddSecurityGroupIds=list(add),
                RemoveSecurityGroupIds=list(remove),
            )

    def add_subnets(self, vpce_id: str, subnet_ids: Sequence[str]) -> None:
        """Extend the endpoint into more Availability Zones (its service now runs there)."""
        with aws_call("ModifyVpcEndpoint"):
            self._ec2.modify_vpc_endpoint(VpcEndpointId=vpce_id, AddSubnetIds=list(subnet_ids))

    def _filters(self, extra: Mapping[str, str]) -> list[dict[str, Any]]:
        return [{"Name": name, "Values": [value]} for name, value in extra.items()]

    def _describe(self, **kwargs: Any) -> list[Endpoint]:
        endpoints: list[Endpoint] = []
        while True:
            with aws_call("DescribeVpcEndpoints"):
                page = self._ec2.describe_vpc_endpoints(**kwargs)
            endpoints.extend(to_endpoint(item) for item in page.get("VpcEndpoints", []))
            token = page.get("NextToken")
            if not token:
                return endpoints
            kwargs["NextToken"] = token


def to_endpoint(item: Mapping[str, Any]) -> Endpoint:
    """Our view of one VpcEndpoint record from the EC2 API (kept for every endpoint of
    the region: what repeats across endpoints is shared, see causeway.compact)."""
    tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
    created = item.get("CreationTimestamp")
    namespace = tags.get(TAG_NAMESPACE)
    groups = (shared(g["GroupId"]) for g in item.get("Groups", []) if g.get("GroupId"))
    return Endpoint(
        id=item["VpcEndpointId"],
        state=shared(str(item.get("State", ""))),
        service_name=shared(str(item.get("ServiceName", ""))),
        dns_names=tuple(d["DnsName"] for d in item.get("DnsEntries", []) if d.get("DnsName")),
        owner_uid=tags.get(TAG_UID),
        created=utc(created) if isinstance(created, datetime) else None,
        owner_namespace=shared(namespace) if namespace is not None else None,
        security_groups=tuple(groups),
        blocked_until=parse_tag_time(tags.get(TAG_BLOCKED_UNTIL)),
        open_groups=tuple(tags[TAG_OPEN_GROUPS].split()) if TAG_OPEN_GROUPS in tags else None,
        vpc_id=shared(str(item.get("VpcId", ""))),
        subnet_ids=tuple(shared(s) for s in item.get("SubnetIds", [])),
        client_token=tags.get(TAG_CLIENT_TOKEN),
    )


def tag_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_tag_time(value: str | None) -> datetime | None:
    """A time Causeway wrote in a tag (None: no tag). A value that is not a time (edited
    by hand) reads as long past, so the block it marks is lifted, never kept forever."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return LONG_AGO
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
