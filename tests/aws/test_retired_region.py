"""A Region removed from the config keeps serving teardown: a deleted
OutboundConnection's endpoint there (found by its owner tag, or the id its status
names) is deleted, and the finalizer may go only once AWS shows none left. Found by
review (issue 22): the connection was released at once and its endpoint stayed
connected into the tenant's VPC with nothing listing it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import boto3
import pytest

from causeway.aws.endpoints import TransitEndpoints
from causeway.aws.session import ClientFactory
from causeway.config import parse_config
from causeway.controllers.retired import tear_down
from causeway.domain import Owner, client_token
from causeway.runtime import Runtime
from causeway.sandbox.aws import AwsSandbox
from fakes import REGION_CONFIG, FakeKube

RETIRED = "us-east-1"  # where the endpoint was made
SERVED = "us-west-2"  # the only Region the config names now


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AwsSandbox]:
    with AwsSandbox(region=RETIRED) as box:
        yield box


def test_a_deleted_connection_in_a_removed_region_has_its_endpoint_deleted_first(
    sandbox: AwsSandbox,
) -> None:
    def session() -> boto3.Session:
        return boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=RETIRED
        )

    clients = ClientFactory(session, endpoint_url=sandbox.endpoint_url)
    platform = sandbox.create_platform()
    service = sandbox.create_tenant_service(acceptance_required=False)
    old_config = parse_config({"regions": {RETIRED: platform}})
    who = Owner("OutboundConnection", "acme", "kept", "uid-kept")
    transit = TransitEndpoints(clients.client("ec2", RETIRED), old_config.regions[RETIRED])
    made = transit.create(service.service_name, client_token(who, 1, ""), who.tags())

    config = parse_config({"regions": {SERVED: {**REGION_CONFIG}}})
    runtime = Runtime(config=config, clients=clients, kube=FakeKube())
    body = {
        "metadata": {"namespace": "acme", "name": "kept", "uid": "uid-kept"},
        "status": {"vpcEndpointId": made.id},
    }

    async def run() -> tuple[bool, bool]:
        return await tear_down(runtime, RETIRED, body), await tear_down(runtime, RETIRED, body)

    first, later = asyncio.run(run())
    assert first is False  # deleted now: the finalizer waits for AWS to show it
    (gone,) = transit.by_ids([made.id])
    assert gone.state == "deleted"
    assert later is True
