"""Benchmark: the real operator (`causeway run`, its own process) against the embedded
sandbox with N OutboundConnections to an instantly-available endpoint service.

Reports, per N: time from apply to all Ready; AWS calls to converge, by operation;
AWS describe calls per poll in steady state (target <= ceil(N/1000) per region);
Kubernetes writes per no-op poll (target 0); the operator process's peak RSS; and,
after a restart of the operator, the time, AWS calls and Kubernetes writes it takes
to resume every object.
The figures are written to a JSON file; nothing here asserts on timing.

    uv run python bench/outbound.py                 # N = 100, 1000 and 2500 (~7 min)
    uv run python bench/outbound.py --sizes 50 --output /tmp/bench.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from causeway.sandbox.stack import SandboxStack

NAMESPACE = "bench"
REGION = "us-east-1"
POLL_INTERVAL_S = 2.0
STEADY_POLLS = 5
OUTBOUND = "outboundconnections"


def wait_until(probe: Callable[[], bool], timeout: float, what: str, step: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(step)
    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")


def stop(operator: subprocess.Popen[bytes]) -> None:
    if operator.poll() is not None:
        return
    operator.send_signal(signal.SIGTERM)
    try:
        operator.wait(30)
    except subprocess.TimeoutExpired:
        operator.kill()


def resumed(log: Path) -> int:
    """Objects kopf has finished resuming, from the operator's own log."""
    return log.read_text(errors="replace").count("Resuming is processed")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def ready_count(stack: SandboxStack) -> int:
    return sum(
        1
        for body in stack.kube.list(OUTBOUND, NAMESPACE)
        if (body.get("status") or {}).get("phase") == "Ready"
    )


def describe_calls(stack: SandboxStack) -> int:
    return stack.aws.call_counts().get("DescribeVpcEndpoints", 0)


def polls(log: Path) -> int:
    """Polls the operator has completed, from its own log (one line per poll)."""
    return log.read_text(errors="replace").count(f"Polled {REGION}:")


def next_poll(log: Path) -> None:
    before = polls(log)
    wait_until(lambda: polls(log) > before, POLL_INTERVAL_S * 10, "a poll", step=0.02)


def run_size(n: int) -> dict[str, Any]:
    with (
        SandboxStack(
            region=REGION, poll_interval=f"{POLL_INTERVAL_S}s", namespaces=[NAMESPACE]
        ) as stack,
        tempfile.TemporaryDirectory() as tmp,
    ):
        service = stack.aws.create_tenant_service(acceptance_required=False)
        workdir = Path(tmp)
        operator = stack.start_operator_process(workdir, poll_interval=f"{POLL_INTERVAL_S}s")
        try:
            stack.aws.reset_call_counts()
            started = time.monotonic()
            for i in range(n):
                stack.kube.apply(
                    {
                        "apiVersion": "causeway.dev/v1alpha1",
                        "kind": "OutboundConnection",
                        "metadata": {"name": f"conn-{i:05d}", "namespace": NAMESPACE},
                        "spec": {"region": stack.region, "serviceName": service.service_name},
                    }
                )
            applied = time.monotonic() - started
            wait_until(lambda: ready_count(stack) == n, 60 + n * 0.5, f"{n} Ready")
            to_ready = time.monotonic() - started
            converge_calls = stack.aws.call_counts()

            log = workdir / "operator.log"
            next_poll(log)  # the first poll after convergence may still write
            next_poll(log)
            aws_before, kube_before = describe_calls(stack), stack.kube.write_count()
            for _ in range(STEADY_POLLS):
                next_poll(log)
            steady_describes = describe_calls(stack) - aws_before
            steady_writes = stack.kube.write_count() - kube_before
            rss = peak_rss_mib(operator.pid)

            stop(operator)
            stack.aws.reset_call_counts()
            kube_before = stack.kube.write_count()
            restarted = time.monotonic()
            operator = stack.start_operator_process(workdir, poll_interval=f"{POLL_INTERVAL_S}s")
            wait_until(lambda: resumed(log) >= n, 60 + n * 0.2, f"{n} objects resumed")
            restart_seconds = time.monotonic() - restarted
            restart_calls = stack.aws.call_counts()
            restart_writes = stack.kube.write_count() - kube_before
        finally:
            stop(operator)
    return {
        "objects": n,
        "apply_seconds": round(applied, 2),
        "apply_to_all_ready_seconds": round(to_ready, 2),
        "aws_calls_to_converge": dict(sorted(converge_calls.items())),
        "aws_calls_to_converge_per_object": round(sum(converge_calls.values()) / n, 2),
        "steady_state_polls": STEADY_POLLS,
        "describe_calls_per_poll": steady_describes / STEADY_POLLS,
        "describe_calls_per_poll_target": math.ceil(n / 1000),
        "kubernetes_writes_per_noop_poll": steady_writes / STEADY_POLLS,
        "operator_peak_rss_mib": round(rss, 1),
        "restart_to_all_resumed_seconds": round(restart_seconds, 2),
        "restart_aws_calls": dict(sorted(restart_calls.items())),
        "restart_kubernetes_writes": restart_writes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 2500])
    parser.add_argument("--output", type=Path, default=Path("bench/results.json"))
    args = parser.parse_args()
    results = []
    for n in args.sizes:
        result = run_size(n)
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        results.append(result)
    report = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "poll_interval_seconds": POLL_INTERVAL_S,
        "results": results,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
