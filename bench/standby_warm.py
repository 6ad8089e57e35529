"""Benchmark: how soon a new replica is warm (Ready: its cluster index listed and
watched) with N OutboundConnections in the cluster. The real operator (`causeway run`,
its own process) starts as a standby against the embedded sandbox, whose leader Lease
another (absent) replica holds for an hour, so it acts on nothing and only fills its
index; the figure is the wall time from starting the process to its /readyz answering
200 (imports, start-up checks and the AWS identity included), and its peak RSS.

    uv run python bench/standby_warm.py                      # N = 1000 and 10000
    uv run python bench/standby_warm.py --sizes 100 --output /tmp/warm.json
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from causeway.sandbox.stack import SandboxStack
from common import peak_rss_mib, run_all, stop

NAMESPACE = "bench"
LEASE = "causeway-leader"


def hold_the_lease(stack: SandboxStack) -> None:
    """A leader that is not this process, with an hour-long Lease: the replica stands by."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stack.kube.apply(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": LEASE, "namespace": stack.kube.operator_namespace},
            "spec": {
                "holderIdentity": "elsewhere_00000000",
                "leaseDurationSeconds": 3600,
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": 0,
            },
        }
    )


def connection(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "causeway.dev/v1alpha1",
        "kind": "OutboundConnection",
        "metadata": {"name": f"conn-{i:05}", "namespace": NAMESPACE},
        "spec": {
            "region": "us-east-1",
            "serviceName": "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
        },
    }


def measure(n: int) -> dict[str, Any]:
    with SandboxStack(namespaces=[NAMESPACE]) as stack, tempfile.TemporaryDirectory() as tmp:
        hold_the_lease(stack)
        applied = time.monotonic()
        for i in range(n):
            stack.kube.apply(connection(i))
        apply_seconds = time.monotonic() - applied
        started = time.monotonic()
        operator = stack.start_operator_process(
            Path(tmp), replica="standby-0", ready_timeout=120 + n * 0.05
        )
        warm_seconds = time.monotonic() - started
        peak = peak_rss_mib(operator.pid)
        stop(operator)
        log = (Path(tmp) / "operator.log").read_text()
        synced = re.search(r"Cluster index synced: (\d+) objects", log)
        return {
            "objects": n,
            "indexed_objects": int(synced.group(1)) if synced else None,
            "start_to_ready_seconds": round(warm_seconds, 2),
            "peak_rss_mib": round(peak, 1),
            "apply_seconds": round(apply_seconds, 1),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--output", type=Path, default=Path("bench/results-standby-warm.json"))
    args = parser.parse_args()
    return run_all(args.sizes, measure, args.output)


if __name__ == "__main__":
    raise SystemExit(main())
