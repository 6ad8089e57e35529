"""The fence on every AWS call (leader election): a replica that may not act sends
nothing. Asked when the call starts and again as each attempt leaves, so a call let
through just before the renew deadline is not sent after it, whatever came between
(credentials fetched, the request signed, a retry's backoff)."""

from __future__ import annotations

from typing import Any

import pytest

from aws.test_call_records import REGION, sandbox, session
from causeway.aws.session import CallRecord, ClientFactory
from causeway.fence import FencedError
from causeway.sandbox.aws import AwsSandbox

__all__ = ["sandbox"]  # the module's AWS sandbox fixture, shared with the call records'


def groups_named(sandbox: AwsSandbox, name: str) -> list[Any]:
    ec2 = sandbox.client("ec2", REGION)
    found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])
    return list(found["SecurityGroups"])


def create_group(factory: ClientFactory, sandbox: AwsSandbox, name: str) -> None:
    vpc = sandbox.create_transit_vpc()["vpcId"]
    factory.client("ec2", REGION).create_security_group(
        GroupName=name, Description="fenced", VpcId=vpc
    )


def test_a_replica_that_may_not_act_sends_nothing(sandbox: AwsSandbox) -> None:
    factory = ClientFactory(session, endpoint_url=sandbox.endpoint_url)
    factory.fence.follow(lambda: False)
    with pytest.raises(FencedError, match="ec2:CreateSecurityGroup refused"):
        create_group(factory, sandbox, "fenced-at-start")
    assert groups_named(sandbox, "fenced-at-start") == []


def test_a_call_whose_deadline_passes_before_it_leaves_is_not_sent(sandbox: AwsSandbox) -> None:
    """The deadline passes while the request is being signed (here: the fence closes in
    botocore's before-sign step): the call started in time but is never sent."""
    factory = ClientFactory(session, endpoint_url=sandbox.endpoint_url)
    leading = [True]
    factory.fence.follow(lambda: leading[0])
    seen: list[CallRecord] = []
    factory.listen(seen.append)
    ec2 = factory.client("ec2", REGION)
    vpc = sandbox.create_transit_vpc()["vpcId"]

    def deadline_passes(**_: Any) -> None:
        leading[0] = False

    ec2.meta.events.register("before-sign.ec2.CreateSecurityGroup", deadline_passes)
    with pytest.raises(FencedError, match="ec2:CreateSecurityGroup refused"):
        ec2.create_security_group(GroupName="fenced-mid-call", Description="x", VpcId=vpc)
    assert groups_named(sandbox, "fenced-mid-call") == []
    assert [(r.operation, r.answered) for r in seen] == [("CreateSecurityGroup", False)]
