"""Benchmark: the real operator (`causeway run`, its own process) against the embedded
sandbox with N InboundConnections, each naming its own tenant endpoint (in the
tenant's AWS account) to the platform's inbound service.

Reports, per N: time from apply to all Ready; AWS calls to converge, by operation
(AcceptVpcEndpointConnections is batched: far fewer calls than connections); AWS
describe calls per pass in steady state; Kubernetes writes per no-op pass; source
ranges allocated; the operator process's peak RSS.
The figures are written to a JSON file; nothing here asserts on timing.

    uv run python bench/inbound.py                  # N = 100 and 1000 (~4 min)
    uv run python bench/inbound.py --sizes 50 --output /tmp/inbound.json
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from causeway.sandbox.stack import SandboxStack
from common import (
    POLL_INTERVAL_S,
    REGION,
    STEADY_POLLS,
    next_pass,
    peak_rss_mib,
    run_all,
    stop,
    wait_until,
)

NAMESPACE = "bench"
TENANT_ACCOUNT = "222222222222"
INBOUND = "inboundconnections"
DESCRIBES = ("DescribeVpcEndpoints", "DescribeVpcEndpointConnections")


def ready_count(stack: SandboxStack) -> int:
    return sum(
        1
        for body in stack.kube.list(INBOUND, NAMESPACE)
        if (body.get("status") or {}).get("phase") == "Ready"
    )


def run_size(n: int) -> dict[str, Any]:
    with (
        SandboxStack(
            region=REGION, poll_interval=f"{POLL_INTERVAL_S}s", namespaces=[NAMESPACE]
        ) as stack,
        tempfile.TemporaryDirectory() as tmp,
    ):
        endpoints = stack.aws.create_tenant_endpoints(TENANT_ACCOUNT, n)
        stack.grant_quota(NAMESPACE, licenses=n, accounts=[TENANT_ACCOUNT])
        workdir = Path(tmp)
        operator = stack.start_operator_process(workdir, extra_args=["-v"])
        try:
            stack.aws.reset_call_counts()
            started = time.monotonic()
            for i, vpce in enumerate(endpoints):
                stack.kube.apply(
                    {
                        "apiVersion": "causeway.dev/v1alpha1",
                        "kind": "InboundConnection",
                        "metadata": {"name": f"in-{i:05d}", "namespace": NAMESPACE},
                        "spec": {"region": stack.region, "vpcEndpointId": vpce},
                    }
                )
            applied = time.monotonic() - started
            wait_until(lambda: ready_count(stack) == n, 60 + n * 0.5, f"{n} Ready")
            to_ready = time.monotonic() - started
            converge_calls = stack.aws.call_counts()

            log = workdir / "operator.log"
            next_pass(log)
            next_pass(log)
            counts = stack.aws.call_counts()
            before = {op: counts.get(op, 0) for op in DESCRIBES}
            kube_before = stack.kube.write_count()
            for _ in range(STEADY_POLLS):
                next_pass(log)
            counts = stack.aws.call_counts()
            per_pass = {op: (counts.get(op, 0) - before[op]) / STEADY_POLLS for op in DESCRIBES}
            steady_writes = stack.kube.write_count() - kube_before
            ranges = len(stack.kube.list("sourcerangeallocations"))
            rss = peak_rss_mib(operator.pid)
        finally:
            stop(operator)
    return {
        "objects": n,
        "apply_seconds": round(applied, 2),
        "apply_to_all_ready_seconds": round(to_ready, 2),
        "aws_calls_to_converge": dict(sorted(converge_calls.items())),
        "accept_calls": converge_calls.get("AcceptVpcEndpointConnections", 0),
        "steady_state_passes": STEADY_POLLS,
        "describe_calls_per_pass": per_pass,
        "describe_calls_per_listing_target": math.ceil(n / 1000),
        "kubernetes_writes_per_noop_pass": steady_writes / STEADY_POLLS,
        "source_ranges_allocated": ranges,
        "operator_peak_rss_mib": round(rss, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--output", type=Path, default=Path("bench/results-inbound.json"))
    args = parser.parse_args()
    return run_all(args.sizes, run_size, args.output)


if __name__ == "__main__":
    raise SystemExit(main())
