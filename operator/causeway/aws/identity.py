"""Who the operator is in AWS: STS GetCallerIdentity, asked once at start so the
first log lines say which role the operator runs as (or why it has none)."""

from __future__ import annotations

from dataclasses import dataclass

from causeway.aws.session import ClientFactory, aws_call


@dataclass(frozen=True)
class AwsIdentity:
    arn: str
    account: str


def caller_identity(clients: ClientFactory, region: str) -> AwsIdentity:
    """The caller's identity; raises AwsCallError when there are no usable credentials
    or AWS cannot be reached."""
    sts = clients.probe_client("sts", region)
    with aws_call("GetCallerIdentity"):
        reply = sts.get_caller_identity()
    return AwsIdentity(arn=str(reply["Arn"]), account=str(reply["Account"]))
