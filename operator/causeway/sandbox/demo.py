"""`causeway demo`: the whole product on one machine with no cluster and no AWS
account. It starts the embedded sandbox, plays the platform admin (config) and the
tenant (its endpoint service, the seed manifests, accepting the request), runs the
real operator, and prints each connection walking through its phases to Ready."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from causeway.sandbox.stack import SEEDS, SandboxStack, load_manifests

TENANT_NAMESPACE = "acme"
TENANT_FOLDER = "tenant-acme"
OUTBOUND = "outboundconnections"
WATCH_STEP = 0.1


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
            self.say(f"{name:<18} {phase:<18} {message}")


def run_demo(*, timeout: float = 90.0, verbose: bool = False, seeds: Path = SEEDS) -> int:
    """Run the demo; 0 when every provisioned seed connection reached Ready in time."""
    out = sys.stdout.write
    if not (seeds / TENANT_FOLDER).is_dir():
        sys.stderr.write(f"causeway: seed manifests not found in {seeds / TENANT_FOLDER}\n")
        return 2
    quieted = {} if verbose else _quiet_loggers("kopf", "causeway", "aiohttp.access")
    try:
        return _run(seeds, timeout, out)
    finally:
        for name, level in quieted.items():
            logging.getLogger(name).setLevel(level)


def _quiet_loggers(*names: str) -> dict[str, int]:
    """Silence the operator's own logs so the progress lines stand out; returns old levels."""
    old = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.ERROR)
    return old


def _run(seeds: Path, timeout: float, out: Callable[[str], Any]) -> int:
    manifests = load_manifests(seeds / TENANT_FOLDER)
    progress = Progress(out)
    progress.say("starting the embedded sandbox: Kubernetes API (kmock) + AWS (moto, PrivateLink)")
    # AWS keeps an accepted endpoint "pending" for a while; show that phase too.
    with SandboxStack(poll_interval="1s", activation_seconds=1.5) as stack:
        _prepare_tenant(stack, manifests, progress)
        stack.aws.reset_call_counts()  # from here on, count only what the operator does
        stack.start_operator()
        progress.say("operator running (kopf handlers + one batched poller per region)")
        for manifest in manifests:
            stack.kube.apply(manifest)
        progress.say(f"applied {len(manifests)} manifests from {seeds / TENANT_FOLDER}")
        ready = _walk_to_ready(stack, progress, deadline=time.monotonic() + timeout)
        if ready:
            progress.say("done: every provisioned connection is Ready")
        _print_summary(stack, out)
    if not ready:
        sys.stderr.write(f"causeway: connections did not become Ready within {timeout:g}s\n")
        return 1
    return 0


def _prepare_tenant(
    stack: SandboxStack, manifests: list[dict[str, Any]], progress: Progress
) -> None:
    """Create, in the tenant's 'account', the endpoint services the seeds point at."""
    for manifest in manifests:
        if manifest.get("kind") != "OutboundConnection":
            continue
        service_id = str(manifest["spec"]["serviceName"]).rsplit(".", 1)[-1]
        stack.aws.create_tenant_service(service_id=service_id, acceptance_required=True)
        progress.say(
            f"tenant: endpoint service {service_id} allow-lists {stack.aws.platform_principal}"
        )


def _walk_to_ready(stack: SandboxStack, progress: Progress, *, deadline: float) -> bool:
    """Watch the tenant's connections, accepting requests as the tenant, until all Ready."""
    accepted: set[str] = set()
    while time.monotonic() < deadline:
        bodies = stack.kube.list(OUTBOUND, TENANT_NAMESPACE)
        for body in bodies:
            progress.observe(body)
            _accept_if_pending(stack, body, accepted, progress)
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
    phase = (body.get("status") or {}).get("phase")
    wanted = "Ready" if body["spec"].get("provisioned", True) else "Unprovisioned"
    return bool(phase == wanted)


def _print_summary(stack: SandboxStack, out: Callable[[str], Any]) -> None:
    out("\nNAME         REGION      PHASE           READY  ENDPOINT\n")
    for body in stack.kube.list(OUTBOUND, TENANT_NAMESPACE):
        status = body.get("status") or {}
        ready = next(
            (c["status"] for c in status.get("conditions", []) if c["type"] == "Ready"), "-"
        )
        out(
            f"{body['metadata']['name']:<12} {body['spec']['region']:<11} "
            f"{status.get('phase', '-'):<15} {ready:<6} {status.get('vpcEndpointId') or '-'}\n"
        )
    counts = stack.aws.call_counts()
    tenant_calls = counts.pop("AcceptVpcEndpointConnections", 0)
    calls = ", ".join(f"{op} {n}" for op, n in sorted(counts.items()))
    out(f"\nAWS calls by the operator: {calls} (the tenant made {tenant_calls} accept call)\n")
