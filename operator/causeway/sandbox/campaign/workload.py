"""The campaign's seeded workload: what tenants and admins do, one step at a time, as
they would through kubectl and their own AWS accounts (the harness's requests are
never faulted). Each step returns a line saying what it did, for the replay log.

Steps: outbound connections created, deleted, provisioned on and off; tenants
accepting and rejecting them on their services; inbound connections created (now and
then from an account no quota lists), deleted, provisioned on and off; tenants
deleting their endpoints; licenses raised and lowered; accounts added and removed;
credentials created, rotated and deleted; traffic pushed on ready endpoints, some of
it past the hourly limit; the admin changing the transit VPC's open security groups in
the config, which the operator reads when restarted (SIGKILLed at once, so a create
recorded but unanswered under the old config is sent again under the new one); and an
endpoint put back on the shared groups as the version before tenant security groups
left it. A step whose work the operator must survive a kill in (a crossing of the
limit, such a move) asks the runner for a SIGKILL soon after."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from botocore.exceptions import ClientError

from causeway.api import API_VERSION
from causeway.sandbox.campaign.world import (
    HOURLY_LIMIT_BYTES,
    MB,
    Credential,
    Inbound,
    Outbound,
    Tenant,
    World,
)
from causeway.sandbox.kube import KubeSandboxError
from causeway.sandbox.stack import SandboxStack

OUTBOUND: Final = "outboundconnections"
INBOUND: Final = "inboundconnections"
CREDENTIALS: Final = "namedcredentials"
QUOTAS: Final = "connectionquotas"

TENANTS: Final = ("acme", "globex", "initech")
SERVICES_PER_TENANT: Final = 2
HOURLY_LIMIT_MB: Final = HOURLY_LIMIT_BYTES // MB

Step = Callable[["Workload", random.Random], str]


class Workload:
    """Applies seeded steps to a running SandboxStack and records them in a World."""

    def __init__(self, stack: SandboxStack, world: World) -> None:
        self.stack = stack
        self.world = world
        self._names = itertools.count(1)
        self.restart_wanted = False  # a config change: the runner restarts the operator
        self.kill_wanted = False  # a step whose work the operator must survive a kill in
        self.moves = 0  # endpoints put back on shared groups (the upgrade path, again)
        self._original_groups: list[str] | None = None

    # setup -------------------------------------------------------------------------

    def set_up(self, rng: random.Random) -> None:
        """Each tenant: a quota with 3-5 licenses listing its main account, and services
        (one accepting requests itself, one waiting for the tenant to answer)."""
        for index, namespace in enumerate(TENANTS):
            tenant = Tenant(
                namespace=namespace,
                licenses=rng.randint(3, 5),
                main_account=f"2000000000{index}1",
                spare_account=f"2000000000{index}2",
            )
            tenant.accounts = {tenant.main_account}
            tenant.ever_listed = set(tenant.accounts)
            # One service accepts every request itself, so connections turn Ready (and
            # carry traffic to the hourly limit) without waiting for a tenant's step.
            tenant.services = [
                self.stack.aws.create_tenant_service(acceptance_required=index_ > 0)
                for index_ in range(SERVICES_PER_TENANT)
            ]
            self.world.tenants[namespace] = tenant
            self._write_quota(tenant)

    def _write_quota(self, tenant: Tenant) -> None:
        self.stack.grant_quota(tenant.namespace, tenant.licenses, accounts=sorted(tenant.accounts))

    def _name(self, prefix: str) -> str:
        return f"{prefix}-{next(self._names)}"

    # steps -------------------------------------------------------------------------

    def step(self, rng: random.Random) -> str:
        steps, weights = zip(*_STEPS, strict=True)
        chosen: Step = rng.choices(steps, weights)[0]
        return chosen(self, rng)

    def create_outbound(self, rng: random.Random) -> str:
        tenant = rng.choice(list(self.world.tenants.values()))
        service = rng.choice(tenant.services)
        provisioned = rng.random() < 0.85
        name = self._name("out")
        self.stack.kube.apply(
            _manifest(
                "OutboundConnection",
                tenant.namespace,
                name,
                {
                    "region": self.stack.region,
                    "serviceName": service.service_name,
                    "provisioned": provisioned,
                },
            )
        )
        self.world.outbound[(tenant.namespace, name)] = Outbound(
            tenant.namespace, name, service, provisioned, cycles=int(provisioned)
        )
        return f"create OutboundConnection {tenant.namespace}/{name} provisioned={provisioned}"

    def delete_outbound(self, rng: random.Random) -> str:
        live = self.world.live_outbound()
        if not live:
            return "delete OutboundConnection: none"
        target = rng.choice(live)
        self._delete(OUTBOUND, target.namespace, target.name)
        target.deleted = True
        return f"delete OutboundConnection {target.namespace}/{target.name}"

    def toggle_outbound(self, rng: random.Random) -> str:
        live = self.world.live_outbound()
        if not live:
            return "toggle OutboundConnection: none"
        target = rng.choice(live)
        target.provisioned = not target.provisioned
        target.cycles += int(target.provisioned)
        self._patch(OUTBOUND, target.namespace, target.name, provisioned=target.provisioned)
        return f"set {target.namespace}/{target.name} provisioned={target.provisioned}"

    def change_open_groups(self, rng: random.Random) -> str:
        """The admin gives the transit VPC another open security group (or back its first
        one) and the operator restarts with that config."""
        stack = self.stack
        assert stack.config is not None
        (vpc,) = stack.config.regions[stack.region].pool
        if self._original_groups is None:
            self._original_groups = list(vpc.securityGroupIds)
        if list(vpc.securityGroupIds) != self._original_groups and rng.random() < 0.5:
            groups = self._original_groups
        else:
            groups = [stack.aws.create_open_group(vpc.vpcId)]
        stack.change_pool(lambda vpcs: [{**vpcs[0], "securityGroupIds": groups}])
        self.restart_wanted = True
        return f"config: transit VPC {vpc.vpcId} opens with {', '.join(groups)}; restart"

    def as_an_earlier_version_left_it(self, rng: random.Random) -> str:
        """An endpoint put back on the shared groups, as the version before tenant groups
        left it (the open groups, or the blocked group and its tag for a tenant at its
        limit): the operator must move it onto its tenant's group without letting a
        blocked tenant's traffic in, and is SIGKILLed soon after, mid-move."""
        stack = self.stack
        assert stack.config is not None
        (vpc,) = stack.config.regions[stack.region].pool
        ready = [
            (o, vpce)
            for o in self.world.live_outbound()
            if (vpce := self._status(OUTBOUND, o.namespace, o.name).get("vpcEndpointId"))
        ]
        if not ready:
            return "as an earlier version left it: no endpoint"
        target, vpce = rng.choice(ready)
        blocked = self.world.blocked(target.namespace, datetime.now(UTC))
        if blocked and vpc.blockedSecurityGroupId is None:
            return "as an earlier version left it: no blocked group configured"
        shared = [str(vpc.blockedSecurityGroupId)] if blocked else list(vpc.securityGroupIds)
        ec2 = stack.aws.client()
        try:
            (endpoint,) = ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"]
            held = [g["GroupId"] for g in endpoint.get("Groups", [])]
            ec2.modify_vpc_endpoint(
                VpcEndpointId=vpce,
                AddSecurityGroupIds=shared,
                RemoveSecurityGroupIds=[g for g in held if g not in shared],
            )
            if blocked:
                until = _hour(datetime.now(UTC)) + timedelta(hours=1)
                value = until.strftime("%Y-%m-%dT%H:%M:%SZ")
                ec2.create_tags(
                    Resources=[vpce], Tags=[{"Key": "causeway.dev/blocked-until", "Value": value}]
                )
        except ClientError as error:  # deleted meanwhile: nothing to put back
            return f"as an earlier version left it: {vpce} {error.response['Error']['Code']}"
        self.kill_wanted = True
        self.moves += 1
        return f"{vpce} of {target.namespace}/{target.name} back on shared groups {shared}"

    def tenant_answers_outbound(self, rng: random.Random) -> str:
        """A tenant accepts (mostly) or rejects a request waiting on one of its services."""
        tenant = rng.choice(list(self.world.tenants.values()))
        service = rng.choice(tenant.services)
        waiting = self.stack.aws.pending_connections(service.service_id)
        if not waiting:
            return f"{tenant.namespace} answers on {service.service_id}: nothing waiting"
        vpce = rng.choice(sorted(waiting))
        if rng.random() < 0.85:
            self.stack.aws.accept(service.service_id, vpce)
            return f"{tenant.namespace} accepts {vpce}"
        self.stack.aws.reject(service.service_id, vpce)
        return f"{tenant.namespace} rejects {vpce}"

    def create_inbound(self, rng: random.Random) -> str:
        tenant = rng.choice(list(self.world.tenants.values()))
        roll = rng.random()
        account = (
            self.world.stranger_account
            if roll < 0.1
            else tenant.spare_account
            if roll < 0.3
            else tenant.main_account
        )
        vpce = self.stack.aws.create_tenant_endpoint(account)
        provisioned = rng.random() < 0.9
        name = self._name("in")
        self.stack.kube.apply(
            _manifest(
                "InboundConnection",
                tenant.namespace,
                name,
                {"region": self.stack.region, "vpcEndpointId": vpce, "provisioned": provisioned},
            )
        )
        self.world.inbound[(tenant.namespace, name)] = Inbound(
            tenant.namespace, name, vpce, account, provisioned
        )
        return f"create InboundConnection {tenant.namespace}/{name} for {vpce} of {account}"

    def delete_inbound(self, rng: random.Random) -> str:
        live = self.world.live_inbound()
        if not live:
            return "delete InboundConnection: none"
        target = rng.choice(live)
        self._delete(INBOUND, target.namespace, target.name)
        target.deleted = True
        return f"delete InboundConnection {target.namespace}/{target.name}"

    def toggle_inbound(self, rng: random.Random) -> str:
        live = self.world.live_inbound()
        if not live:
            return "toggle InboundConnection: none"
        target = rng.choice(live)
        target.provisioned = not target.provisioned
        self._patch(INBOUND, target.namespace, target.name, provisioned=target.provisioned)
        return f"set {target.namespace}/{target.name} provisioned={target.provisioned}"

    def tenant_deletes_endpoint(self, rng: random.Random) -> str:
        candidates = [i for i in self.world.inbound.values() if not i.endpoint_deleted]
        if not candidates:
            return "tenant deletes its endpoint: none"
        target = rng.choice(candidates)
        self.stack.aws.delete_tenant_endpoint(target.account, target.vpce)
        target.endpoint_deleted = True
        return f"{target.namespace}'s account {target.account} deletes {target.vpce}"

    def change_licenses(self, rng: random.Random) -> str:
        tenant = rng.choice(list(self.world.tenants.values()))
        tenant.licenses = max(0, min(6, tenant.licenses + rng.choice((-1, 1))))
        self._write_quota(tenant)
        return f"{tenant.namespace} licenses={tenant.licenses}"

    def change_accounts(self, rng: random.Random) -> str:
        tenant = rng.choice(list(self.world.tenants.values()))
        if tenant.spare_account in tenant.accounts:
            tenant.accounts.discard(tenant.spare_account)
            verb = "removes"
        else:
            tenant.accounts.add(tenant.spare_account)
            tenant.ever_listed.add(tenant.spare_account)
            verb = "adds"
        self._write_quota(tenant)
        return f"{tenant.namespace}'s quota {verb} account {tenant.spare_account}"

    def create_credential(self, rng: random.Random) -> str:
        live = self.world.live_outbound()
        if not live:
            return "create NamedCredential: no connection"
        connection = rng.choice(live)
        name = self._name("cred")
        value = _secret_value(rng)
        credential = Credential(
            connection.namespace, name, connection.name, f"{name}-key", f"{name}-out", value
        )
        self._write_source(credential)
        self.stack.kube.apply(
            _manifest(
                "NamedCredential",
                credential.namespace,
                name,
                {
                    "url": "https://api.tenant.internal:8443/v1",
                    "outboundConnection": connection.name,
                    "authentication": {
                        "type": "ApiKey",
                        "secretRef": {"name": credential.source},
                        "header": "X-Api-Key",
                    },
                    "publishSecret": credential.publish,
                },
            )
        )
        self.world.credentials[(credential.namespace, name)] = credential
        return f"create NamedCredential {credential.namespace}/{name} for {connection.name}"

    def rotate_credential(self, rng: random.Random) -> str:
        live = self.world.live_credentials()
        if not live:
            return "rotate NamedCredential: none"
        target = rng.choice(live)
        target.value = _secret_value(rng)
        self._write_source(target)
        return f"rotate the key of {target.namespace}/{target.name}"

    def delete_credential(self, rng: random.Random) -> str:
        live = self.world.live_credentials()
        if not live:
            return "delete NamedCredential: none"
        target = rng.choice(live)
        self._delete(CREDENTIALS, target.namespace, target.name)
        target.deleted = True
        return f"delete NamedCredential {target.namespace}/{target.name}"

    def push_traffic(self, rng: random.Random) -> str:
        """Bytes through a Ready outbound endpoint, as CloudWatch records them: mostly
        small amounts, now and then enough to pass the tenant's hourly limit."""
        ready = [
            (o, status)
            for o in self.world.live_outbound()
            if (status := self._status(OUTBOUND, o.namespace, o.name)).get("phase") == "Ready"
        ]
        if not ready:
            return "push traffic: no Ready connection"
        target, status = rng.choice(ready)
        megabytes = rng.choice((100, 2_000, 30_000)) if rng.random() < 0.65 else HOURLY_LIMIT_MB
        now = datetime.now(UTC)
        vpc = str(status["transitVpcId"])  # CloudWatch's "VPC Id": the endpoint's own VPC
        vpce = str(status["vpcEndpointId"])
        self.stack.aws.put_endpoint_bytes(
            vpce, target.service.service_name, vpc, megabytes * MB, now
        )
        before = self.world.used_this_hour(target.namespace, now)
        self.world.traffic[(target.namespace, _hour(now))] += megabytes * MB
        if before < HOURLY_LIMIT_MB * MB <= before + megabytes * MB:
            self.world.blocks[target.namespace] += 1
            self.kill_wanted = True  # a kill while the block is under way
        return f"{megabytes} MB through {vpce} of {target.namespace}/{target.name}"

    # helpers -----------------------------------------------------------------------

    def _status(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        body = self.stack.kube.get(plural, namespace, name) or {}
        return dict(body.get("status") or {})

    def _patch(self, plural: str, namespace: str, name: str, **spec: Any) -> None:
        self.stack.kube.patch(plural, namespace, name, {"spec": spec})

    def _delete(self, plural: str, namespace: str, name: str) -> None:
        try:
            self.stack.kube.delete(plural, namespace, name)
        except KubeSandboxError as error:
            if error.status != 404:
                raise

    def _write_source(self, credential: Credential) -> None:
        self.world.secret_values.add(credential.value)
        self.stack.kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": credential.source, "namespace": credential.namespace},
                "type": "Opaque",
                "stringData": {"apiKey": credential.value},
            }
        )


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _secret_value(rng: random.Random) -> str:
    return f"campaign-secret-{rng.getrandbits(64):016x}"


def _manifest(kind: str, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


# What a step does, and how often, relative to the others.
_STEPS: Final[tuple[tuple[Step, float], ...]] = (
    (Workload.create_outbound, 6),
    (Workload.delete_outbound, 4),
    (Workload.toggle_outbound, 4),
    (Workload.tenant_answers_outbound, 5),
    (Workload.create_inbound, 4),
    (Workload.delete_inbound, 1.5),
    (Workload.toggle_inbound, 1.5),
    (Workload.tenant_deletes_endpoint, 0.5),
    (Workload.change_licenses, 1.5),
    (Workload.change_accounts, 1),
    (Workload.create_credential, 2),
    (Workload.rotate_credential, 1.5),
    (Workload.delete_credential, 1),
    (Workload.push_traffic, 4),  # often enough that most runs block a tenant
    (Workload.change_open_groups, 1.5),
    (Workload.as_an_earlier_version_left_it, 2),
)
