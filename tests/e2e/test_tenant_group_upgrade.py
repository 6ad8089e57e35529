"""End to end: the upgrade path to tenant security groups. An endpoint made by an
earlier version (on the transit VPC's shared open groups, its id in the connection's
status) is moved onto its tenant's group by the running operator in one
ModifyVpcEndpoint, and lets traffic in at every moment of the move (sampled
throughout); a tenant's group is on its own endpoints only, and is deleted once its
tenant's last connection in that VPC is."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from causeway.domain import Owner, client_token
from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import OUTBOUND, eventually, outbound, uid_of, wait_phase

TENANTS = ("acme", "globex")
TENANT_GROUP_TAG = "causeway.dev/kind"


@pytest.fixture
def stack(kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s", namespaces=list(TENANTS), kube_backend=kube_backend
    ) as running:
        for tenant in TENANTS:
            running.grant_quota(tenant, licenses=2)
        yield running


def made_by_an_earlier_version(stack: SandboxStack, namespace: str, service_name: str) -> str:
    """The connection as the version before tenant groups left it: an endpoint on the
    VPC's open groups, tagged with its owner, its id in the status (no operator ran
    since it was applied, so nothing else wrote it)."""
    stack.kube.apply(outbound("legacy", service_name, namespace=namespace))
    uid = uid_of(stack, "legacy", namespace)
    assert stack.config is not None
    vpc = stack.config.regions[stack.region].pool[0]
    owner = Owner("OutboundConnection", namespace, "legacy", uid)
    made = stack.aws.client().create_vpc_endpoint(
        VpcEndpointType="Interface",
        VpcId=vpc.vpcId,
        ServiceName=service_name,
        SubnetIds=list(vpc.subnetIds),
        SecurityGroupIds=list(vpc.securityGroupIds),
        ClientToken=client_token(owner, 1, "/"),
        TagSpecifications=[
            {
                "ResourceType": "vpc-endpoint",
                "Tags": [{"Key": k, "Value": v} for k, v in owner.tags().items()],
            }
        ],
    )
    vpce = str(made["VpcEndpoint"]["VpcEndpointId"])
    stack.kube.patch_status(OUTBOUND, namespace, "legacy", {"vpcEndpointId": vpce})
    return vpce


def test_endpoints_of_an_earlier_version_move_onto_their_tenant_group_keeping_traffic(
    stack: SandboxStack,
) -> None:
    service = stack.aws.create_tenant_service(acceptance_required=False)
    assert stack.config is not None
    shared = set(stack.config.regions[stack.region].pool[0].securityGroupIds)
    legacy = {t: made_by_an_earlier_version(stack, t, service.service_name) for t in TENANTS}
    assert all(stack.aws.endpoint_lets_traffic_in(v) for v in legacy.values())
    stack.aws.reset_call_counts()

    stack.start_operator()
    deadline = time.monotonic() + 30
    while True:
        groups = {t: set(stack.aws.endpoint_security_groups(v)) for t, v in legacy.items()}
        letting_in = {t: stack.aws.endpoint_lets_traffic_in(v) for t, v in legacy.items()}
        assert all(letting_in.values()), f"an endpoint lost its traffic mid-move: {groups}"
        if not any(g & shared for g in groups.values()):
            break
        assert time.monotonic() < deadline, f"still on the shared groups: {groups}"
        time.sleep(0.05)

    tenant_groups = {}
    for tenant, ids in groups.items():
        (group,) = ids  # the tenant's group alone: the shared ones are off
        tags = stack.aws.resource_tags(group)
        assert tags[TENANT_GROUP_TAG] == "TenantSecurityGroup"
        assert tags["causeway.dev/owner-namespace"] == tenant
        tenant_groups[tenant] = group
    assert len(set(tenant_groups.values())) == len(TENANTS)  # never one tenant's on another's
    for tenant in TENANTS:
        status = wait_phase(stack, tenant, "legacy", "Ready")
        assert status["vpcEndpointId"] == legacy[tenant]  # moved, not replaced
    calls = stack.aws.call_counts()
    assert calls.get("ModifyVpcEndpoint") == len(TENANTS)  # one move per endpoint
    assert not calls.get("CreateVpcEndpoint")

    # The tenant's last connection there goes: its endpoint, then its group.
    stack.kube.delete(OUTBOUND, "acme", "legacy")
    eventually(lambda: not group_exists(stack, tenant_groups["acme"]), what="acme's group gone")
    assert group_exists(stack, tenant_groups["globex"])  # the other tenant's stays


def group_exists(stack: SandboxStack, group_id: str) -> bool:
    found = stack.aws.client().describe_security_groups(
        Filters=[{"Name": "group-id", "Values": [group_id]}]
    )
    return bool(found["SecurityGroups"])
