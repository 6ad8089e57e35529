"""`causeway demo`: the whole product on one machine with no cluster and no AWS
account. It starts the embedded sandbox, plays the platform admin (config, the
tenant's namespace and quota) and the tenant (its endpoint services, its manifests,
accepting the requests), runs the real operator, and prints each connection walking
through its phases to its end state."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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
WATCH_STEP = 0.1
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
    principal = _example_principal(root / CONFIG_EXAMPLE)
    progress = Progress(out)
    with SandboxStack(
        poll_interval="1s", activation_seconds=1.5, platform_principal=principal
    ) as stack:
        progress.say(f"platform: region {stack.region} ready; tenants allow-list {principal}")
        _prepare_tenant_services(stack, tenant, progress)
        stack.aws.reset_call_counts()  # from here on, count only what the operator does
        stack.start_operator()
        progress.say("operator running (kopf handlers + one batched poller per region)")
        stack.apply_all(admin)
        progress.say(f"admin: applied {_describe(admin)} from {root / ADMIN}")
        stack.apply_all(tenant)
        progress.say(f"tenant: applied {_describe(tenant)} from {root / TENANT}")
        done = _walk_to_end_state(stack, progress, deadline=time.monotonic() + timeout)
        if done:
            progress.say("done: every connection reached its end state")
        _print_summary(stack, out)
    return done


def _example_principal(path: Path) -> str:
    """The platform principal of the example config, so the demo matches the docs."""
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    regions = config["regions"]
    return str(regions[sorted(regions)[0]]["platformPrincipal"])


def _describe(manifests: Sequence[dict[str, Any]]) -> str:
    return ", ".join(f"{m['kind']} {m['metadata']['name']}" for m in manifests)


def _prepare_tenant_services(
    stack: SandboxStack, manifests: list[dict[str, Any]], progress: Progress
) -> None:
    """Create, in the tenant's 'account', the endpoint services the seeds point at."""
    for manifest in manifests:
        if manifest.get("kind") != "OutboundConnection":
            continue
        service_id = str(manifest["spec"]["serviceName"]).rsplit(".", 1)[-1]
        stack.aws.create_tenant_service(service_id=service_id, acceptance_required=True)
        progress.say(f"tenant: endpoint service {service_id} allow-lists the platform principal")


def _walk_to_end_state(stack: SandboxStack, progress: Progress, *, deadline: float) -> bool:
    """Watch the tenant's connections, accepting requests as the tenant, until settled."""
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
    rows = [("NAME", "REGION", "PHASE", "READY", "ENDPOINT")]
    for body in stack.kube.list(OUTBOUND, TENANT_NAMESPACE):
        status = body.get("status") or {}
        ready = next(
            (c["status"] for c in status.get("conditions", []) if c["type"] == "Ready"), "-"
        )
        rows.append(
            (
                body["metadata"]["name"],
                body["spec"]["region"],
                str(status.get("phase", "-")),
                ready,
                status.get("vpcEndpointId") or "-",
            )
        )
    out("\n" + table(rows))
    counts = stack.aws.call_counts()
    tenant_accepts = counts.pop("AcceptVpcEndpointConnections", 0)
    calls = ", ".join(f"{op} {n}" for op, n in sorted(counts.items()))
    out(f"\nAWS calls by the operator: {calls}\n")
    out(f"AWS calls by the tenant: {_plural(tenant_accepts, 'accept call')}\n")


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
