"""`causeway demo`: the whole product on one machine with no cluster and no AWS
account. It starts the embedded sandbox, plays the platform admin (config, the
tenant's namespace and quota) and the tenant (its endpoint services, its manifests,
accepting the requests), runs the real operator, and prints each connection walking
through its phases to its end state. It ends with the tenant's traffic tripping the
hourly outbound limit (the endpoint blocked, the credential saying when it reopens)
and the injected clock rolling over to the next hour (reopened)."""

from __future__ import annotations

import base64
import logging
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from causeway.api.credential import SECRET_KEYS, AuthType
from causeway.sandbox.clock import SandboxClock
from causeway.sandbox.seeds import (
    ADMIN,
    CONFIG_EXAMPLE,
    TENANT,
    TENANT_NAMESPACE,
    load_manifests,
    missing_parts,
    seeds_dir,
)
from causeway.sandbox.stack import SandboxStack

OUTBOUND = "outboundconnections"
INBOUND = "inboundconnections"
QUOTAS = "connectionquotas"
CREDENTIALS = "namedcredentials"
# The published Secret's keys that are not secret (the route), shown by the demo.
PUBLIC_KEYS = (
    "status",
    "scheme",
    "host",
    "port",
    "connectAddress",
    "url",
    "authType",
    "apiKeyHeader",
)
WATCH_STEP = 0.1
MB = 10**6
METERING_SECONDS = 1.0  # the sandbox's CloudWatch answers at once
NAME_WIDTH = 18
PHASE_WIDTH = 18  # the longest phase, PendingActivation, plus a space
_OPERATOR_LOGGERS = ("kopf", "causeway", "aiohttp")


@dataclass
class Progress:
    """Prints one line per observed change, with the time since the demo started."""

    write: Callable[[str], Any]
    started: float = field(default_factory=time.monotonic)
    seen: dict[str, tuple[str, str]] = field(default_factory=dict)

    def say(self, text: str) -> None:
        self.write(f"{time.monotonic() - self.started:6.1f}s  {text}\n")

    def observe(self, body: dict[str, Any]) -> None:
        name = f"{body['metadata']['namespace']}/{body['metadata']['name']}"
        status = body.get("status") or {}
        phase, message = str(status.get("phase", "-")), str(status.get("message", ""))
        if phase != "-" and self.seen.get(name) != (phase, message):
            self.seen[name] = (phase, message)
            self.say(f"{name:<{NAME_WIDTH}} {phase:<{PHASE_WIDTH}} {message}")


def run_demo(*, timeout: float = 90.0, verbose: bool = False, seeds: str | None = None) -> int:
    """Run the demo; 0 when every seed connection reached its end state in time."""
    root = Path(seeds) if seeds else seeds_dir()
    missing = missing_parts(root)
    if missing:
        sys.stderr.write(f"causeway: seed manifests not found: {', '.join(missing)}\n")
        return 2
    with _operator_logs_shown(verbose):
        ok = _run(root, timeout, sys.stdout.write)
    if not ok:
        hint = "" if verbose else " (run with -v to see the operator's logs)"
        sys.stderr.write(f"causeway: the demo did not finish within {timeout:g}s{hint}\n")
        return 1
    return 0


@contextmanager
def _operator_logs_shown(verbose: bool) -> Iterator[None]:
    """Without -v, the operator's own log lines are hidden so the story stands out
    (even the errors of a shutdown after a timeout); -v shows them."""
    if verbose:
        yield
        return
    loggers = [logging.getLogger(name) for name in _OPERATOR_LOGGERS]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, before, strict=True):
            logger.setLevel(level)


def _run(root: Path, timeout: float, out: Callable[[str], Any]) -> bool:
    admin, tenant = load_manifests(root / ADMIN), load_manifests(root / TENANT)
    example = _example_region(root / CONFIG_EXAMPLE)
    progress = Progress(out)
    clock = SandboxClock()
    with SandboxStack(
        poll_interval="1s",
        activation_seconds=1.5,
        platform_principal=example["platformPrincipal"],
        inbound_service_id=example.get("inboundServiceId"),
        clock=clock,
        metering_seconds=METERING_SECONDS,
    ) as stack:
        inbound_service = stack.aws.inbound_services[stack.region].service_name
        progress.say(
            f"platform: region {stack.region} ready; tenants allow-list "
            f"{example['platformPrincipal']} and connect in to {inbound_service}"
        )
        _prepare_tenant_aws(stack, admin, tenant, progress)
        stack.aws.reset_call_counts()  # from here on, count only what the operator does
        stack.start_operator()
        progress.say("operator running (kopf handlers + one reconciler per region)")
        stack.apply_all(admin)
        progress.say(f"admin: applied {_describe(admin)} from {root / ADMIN}")
        _create_credential_secrets(stack, tenant, progress)
        stack.apply_all(tenant)
        progress.say(f"tenant: applied {_describe(tenant)} from {root / TENANT}")
        accepted: set[str] = set()  # the tenant's accepts of the platform's requests
        deadline = time.monotonic() + timeout
        done = _walk_to_end_state(stack, progress, accepted, deadline=deadline)
        if done:
            progress.say("done: every connection reached its end state")
            done = HourlyLimit(stack, clock, progress, deadline).play()
        _print_summary(stack, out, tenant_accepts=len(accepted))
    return done


def _create_credential_secrets(
    stack: SandboxStack, tenant: list[dict[str, Any]], progress: Progress
) -> None:
    """As the tenant: the Secrets its credentials read, with random values (the seeds
    hold no secret material; a real tenant runs `kubectl create secret`)."""
    for manifest in tenant:
        auth = (manifest.get("spec") or {}).get("authentication") or {}
        ref = (auth.get("secretRef") or {}).get("name")
        if manifest.get("kind") != "NamedCredential" or not ref:
            continue
        keys = SECRET_KEYS[AuthType(auth["type"])]
        stack.kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": ref, "namespace": manifest["metadata"]["namespace"]},
                "type": "Opaque",
                "stringData": {key: secrets.token_urlsafe(24) for key in keys},
            }
        )
        progress.say(f"tenant: created Secret {ref} ({', '.join(keys)}: random, not shown)")


def _example_region(path: Path) -> dict[str, Any]:
    """The first region of the example config, so the demo matches the docs."""
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    regions = config["regions"]
    return dict(regions[sorted(regions)[0]])


def _describe(manifests: Sequence[dict[str, Any]]) -> str:
    return ", ".join(f"{m['kind']} {m['metadata']['name']}" for m in manifests)


def _prepare_tenant_aws(
    stack: SandboxStack,
    admin: list[dict[str, Any]],
    tenant: list[dict[str, Any]],
    progress: Progress,
) -> None:
    """In the tenant's AWS account: the endpoint services its outbound connections point
    at, and the endpoints its inbound connections name."""
    account = next(
        str(m["spec"]["awsAccountIds"][0])
        for m in admin
        if m.get("kind") == "ConnectionQuota" and m["spec"].get("awsAccountIds")
    )
    for manifest in tenant:
        if manifest.get("kind") == "OutboundConnection":
            service_id = str(manifest["spec"]["serviceName"]).rsplit(".", 1)[-1]
            stack.aws.create_tenant_service(service_id=service_id, acceptance_required=True)
            progress.say(f"tenant: endpoint service {service_id} allow-lists the platform")
        elif manifest.get("kind") == "InboundConnection":
            vpce = str(manifest["spec"]["vpcEndpointId"])
            stack.aws.create_tenant_endpoint(account, endpoint_id=vpce)
            progress.say(
                f"tenant: endpoint {vpce} in its account {account} requests a connection "
                "to the platform"
            )


def _walk_to_end_state(
    stack: SandboxStack, progress: Progress, accepted: set[str], *, deadline: float
) -> bool:
    """Watch the tenant's connections, accepting requests as the tenant, until settled."""
    while time.monotonic() < deadline:
        outbound = stack.kube.list(OUTBOUND, TENANT_NAMESPACE)
        inbound = stack.kube.list(INBOUND, TENANT_NAMESPACE)
        credentials = stack.kube.list(CREDENTIALS, TENANT_NAMESPACE)
        for body in outbound + inbound + credentials:
            progress.observe(body)
        for body in outbound:
            _accept_if_pending(stack, body, accepted, progress)
        bodies = outbound + inbound + credentials
        if bodies and all(_settled(body) for body in bodies):
            return True
        time.sleep(WATCH_STEP)
    return False


def _accept_if_pending(
    stack: SandboxStack, body: dict[str, Any], accepted: set[str], progress: Progress
) -> None:
    status = body.get("status") or {}
    vpce = status.get("vpcEndpointId")
    if status.get("phase") != "PendingAcceptance" or not vpce or vpce in accepted:
        return
    service_id = str(body["spec"]["serviceName"]).rsplit(".", 1)[-1]
    progress.say(f"tenant: accepts connection request {vpce} on {service_id}")
    stack.aws.accept(service_id, vpce)
    accepted.add(vpce)


def _settled(body: dict[str, Any]) -> bool:
    """Ready; or Unprovisioned as a placeholder, or waiting for a license."""
    status = body.get("status") or {}
    if body.get("kind") == "NamedCredential":
        return bool(status.get("phase") == "Ready")
    if not body["spec"].get("provisioned", True):
        return bool(status.get("phase") == "Unprovisioned")
    if status.get("phase") == "Unprovisioned":
        return bool(_condition(status, "Stalled").get("reason") == "LicenseLimitReached")
    return bool(status.get("phase") == "Ready")


@dataclass
class HourlyLimit:
    """The last act: the tenant's traffic through its credential's connection reaches the
    hourly outbound limit, then the clock rolls over to the next hour."""

    stack: SandboxStack
    clock: SandboxClock
    progress: Progress
    deadline: float

    def play(self) -> bool:
        credential = next(iter(self.stack.kube.list(CREDENTIALS, TENANT_NAMESPACE)), None)
        if credential is None:
            return True  # the seeds have no credential: nothing to show
        name = str(credential["spec"]["outboundConnection"])
        connection = self.stack.kube.get(OUTBOUND, TENANT_NAMESPACE, name) or {}
        vpce = str((connection.get("status") or {}).get("vpcEndpointId"))
        service = str(connection["spec"]["serviceName"])
        limit = self._quota()["limits"]["PrivateConnectOutboundCalloutHourlyLimitMB"]["max"]
        first = limit * 7 // 10 // 1000 * 1000
        self._send(vpce, service, first, f"{name}'s workload")
        if not self._until(lambda: self._used() >= first):
            return False
        self.progress.say(
            f"metering: {TENANT_NAMESPACE} used {self._used()} MB of its hourly outbound "
            f"limit of {limit} MB (CloudWatch BytesProcessed, one metric per endpoint)"
        )
        self._send(vpce, service, limit - first, "the same workload")
        if not self._until(lambda: not self.stack.aws.endpoint_lets_traffic_in(vpce)):
            return False
        group = self._tenant_group(vpce)
        until = self.stack.aws.resource_tags(group).get("causeway.dev/blocked-until")
        self.progress.say(
            f"AWS: {TENANT_NAMESPACE}'s security group {group} has no ingress rule left, so "
            f"{vpce} lets nothing in (tag causeway.dev/blocked-until={until}; one call, "
            "however many endpoints the tenant has)"
        )
        if not self._until(lambda: bool(self._status(CREDENTIALS, credential).get("blockedUntil"))):
            return False
        self._watch()
        next_hour = self.clock().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        self.progress.say(f"clock: jumps to {next_hour:%H:%M}Z, the top of the next UTC hour")
        self.clock.jump_to(next_hour + timedelta(seconds=1))
        if not self._until(lambda: self.stack.aws.endpoint_lets_traffic_in(vpce)):
            return False
        self.progress.say(
            f"AWS: {TENANT_NAMESPACE}'s security group {group} has its rules back (those of "
            f"{', '.join(self._open_groups())}): {vpce} lets traffic in again"
        )
        new_window = _timestamp(next_hour + timedelta(hours=1))
        if not self._until(
            lambda: (
                not self._status(CREDENTIALS, credential).get("blockedUntil")
                and self._quota().get("resetsAt", {}).get("hour") == new_window
            )
        ):
            return False
        self._watch()
        self.progress.say("done: blocked at the hourly limit, reopened at the top of the hour")
        return True

    def _send(self, vpce: str, service: str, mb: int, who: str) -> None:
        assert self.stack.config is not None
        vpc = self.stack.config.regions[self.stack.region].pool[0].vpcId
        self.progress.say(f"tenant: {who} sends {mb} MB through {vpce} this hour")
        self.stack.aws.put_endpoint_bytes(vpce, service, vpc, mb * MB, self.clock())

    def _until(self, done: Callable[[], bool]) -> bool:
        while time.monotonic() < self.deadline:
            self._watch()
            if done():
                return True
            time.sleep(WATCH_STEP)
        return False

    def _watch(self) -> None:
        for plural in (OUTBOUND, CREDENTIALS):
            for body in self.stack.kube.list(plural, TENANT_NAMESPACE):
                self.progress.observe(body)

    def _quota(self) -> dict[str, Any]:
        body = self.stack.kube.get(QUOTAS, TENANT_NAMESPACE, TENANT_NAMESPACE) or {}
        return dict(body.get("status") or {})

    def _used(self) -> int:
        return int(self._quota().get("used", {}).get("hourlyOutboundBytes", 0)) // MB

    def _status(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        found = self.stack.kube.get(plural, TENANT_NAMESPACE, body["metadata"]["name"]) or {}
        return dict(found.get("status") or {})

    def _tenant_group(self, vpce: str) -> str:
        """The endpoint's one group: its tenant's own, made by Causeway."""
        return self.stack.aws.endpoint_security_groups(vpce)[0]

    def _open_groups(self) -> list[str]:
        assert self.stack.config is not None
        return sorted(self.stack.config.regions[self.stack.region].pool[0].securityGroupIds)


def _print_summary(stack: SandboxStack, out: Callable[[str], Any], *, tenant_accepts: int) -> None:
    outbound = [("OUTBOUND", "PHASE", "READY", "ENDPOINT / REASON")]
    for body in stack.kube.list(OUTBOUND, TENANT_NAMESPACE):
        status = body.get("status") or {}
        stalled = _condition(status, "Stalled")
        waits = stalled.get("reason") if stalled.get("status") == "True" else None
        placeholder = "placeholder" if not body["spec"].get("provisioned", True) else "-"
        detail = status.get("vpcEndpointId") or waits or placeholder
        outbound.append((body["metadata"]["name"], *_phase_ready(status), str(detail)))
    inbound = [("INBOUND", "PHASE", "READY", "SOURCE RANGE", "DNS RECORD")]
    for body in stack.kube.list(INBOUND, TENANT_NAMESPACE):
        status = body.get("status") or {}
        record = status.get("dnsRecord") or {}
        dns = f"{record['name']} A (alias) -> {record['target']}" if record else "-"
        ranges = ", ".join(status.get("sourceIpRanges") or []) or "-"
        inbound.append((body["metadata"]["name"], *_phase_ready(status), ranges, dns))
    out("\n" + table(outbound) + "\n" + table(inbound))
    out(_published(stack))
    quota = (stack.kube.get(QUOTAS, TENANT_NAMESPACE, TENANT_NAMESPACE) or {}).get("status") or {}
    if quota.get("message"):
        out(f"\nConnectionQuota {TENANT_NAMESPACE}: {quota['message']}\n")
    for limit, figures in sorted((quota.get("limits") or {}).items()):
        out(f"  {limit}: max {figures['max']}, remaining {figures['remaining']}\n")
    counts = stack.aws.call_counts()
    counts["AcceptVpcEndpointConnections"] = (
        counts.get("AcceptVpcEndpointConnections", 0) - tenant_accepts
    )
    counts.pop("PutMetricData", None)  # the tenant's traffic, as AWS itself records it
    calls = ", ".join(f"{op} {n}" for op, n in sorted(counts.items()) if n)
    out(f"\nAWS calls by the operator: {calls}\n")
    out(f"AWS calls by the tenant: {_plural(tenant_accepts, 'accept call')}\n")


def _published(stack: SandboxStack) -> str:
    """Each credential's published Secret, its non-secret keys only."""
    lines = []
    for body in stack.kube.list(CREDENTIALS, TENANT_NAMESPACE):
        name = body["spec"].get("publishSecret")
        secret = stack.kube.get("secrets", TENANT_NAMESPACE, name) if name else None
        if not secret:
            continue
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        shown = {k: data[k] for k in PUBLIC_KEYS if k in data}
        hidden = sorted(set(data) - set(shown) - {"message"})
        lines.append(
            f"\nSecret {name} (published for NamedCredential {body['metadata']['name']}):\n"
        )
        lines += [f"  {key}: {value}\n" for key, value in shown.items()]
        lines.append(f"  (and {', '.join(hidden)}: the auth material, not shown)\n")
    return "".join(lines)


def _timestamp(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _phase_ready(status: dict[str, Any]) -> tuple[str, str]:
    return str(status.get("phase", "-")), str(_condition(status, "Ready").get("status", "-"))


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == kind), {})


def table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as aligned columns, each as wide as its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        + "\n"
        for row in rows
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
