"""Benchmark: leader election with two real operator processes (`causeway run`) against
the embedded sandbox, holding N Ready OutboundConnections.

Reports, over R runs of each way the leader goes away (kill -9, SIGTERM): the time from
the signal until the standby holds the Lease, and until a connection applied at the
moment of the signal is Ready (service restored), as median and max; the standby's
memory next to the leader's; and that no endpoint was ever created twice.
The figures are written to a JSON file; nothing here asserts on timing.

    uv run python bench/failover.py                    # N = 50, 10 runs each (~8 min)
    uv run python bench/failover.py --runs 3 --output /tmp/failover.json
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from causeway.sandbox.stack import SandboxStack
from common import REGION, connect, wait_until

NAMESPACE = "bench"
OUTBOUND = "outboundconnections"
LEASE = ("leases", NAMESPACE, "causeway-leader")


class Pair:
    """The replicas of the run: the current leader and its standby, by name."""

    def __init__(self, stack: SandboxStack, workdir: Path) -> None:
        self.stack = stack
        self.workdir = workdir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._count = 0

    def start(self) -> str:
        self._count += 1
        name = f"pod-{self._count}"
        self.processes[name] = self.stack.start_operator_process(
            self.workdir / name, replica=name, poll_interval="2s"
        )
        return name

    def holder(self) -> str:
        lease = self.stack.kube.get(*LEASE) or {}
        identity = str((lease.get("spec") or {}).get("holderIdentity") or "")
        return identity.rpartition("_")[0]

    def standing_by(self, name: str) -> bool:
        log = (self.workdir / name / "operator.log").read_text(errors="replace")
        return "standing by" in log

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(10)


def rss_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def is_ready(stack: SandboxStack, name: str) -> bool:
    body = stack.kube.get(OUTBOUND, NAMESPACE, name) or {}
    return (body.get("status") or {}).get("phase") == "Ready"


def one_run(pair: Pair, how: signal.Signals, label: str) -> dict[str, float]:
    """Go from a (leader, standby) pair to the standby leading; start a fresh standby."""
    leader = pair.holder()
    standby = next(n for n, p in pair.processes.items() if n != leader and p.poll() is None)
    wait_until(lambda: pair.standing_by(standby), 60, f"{standby} to stand by")
    process = pair.processes[leader]
    started = time.monotonic()
    process.send_signal(how)
    connect(pair.stack, NAMESPACE, label)
    wait_until(lambda: pair.holder() == standby, 60, f"{standby} to lead", step=0.02)
    acquired = time.monotonic() - started
    wait_until(lambda: is_ready(pair.stack, label), 60, f"{label} to be Ready", step=0.02)
    restored = time.monotonic() - started
    process.wait(60)
    pair.start()  # the next run's standby
    return {"lease_acquired_s": round(acquired, 2), "new_connection_ready_s": round(restored, 2)}


def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    return {
        key: {
            "median": round(statistics.median(r[key] for r in runs), 2),
            "max": round(max(r[key] for r in runs), 2),
        }
        for key in runs[0]
    } | {"runs": runs}


def run(n: int, runs: int) -> dict[str, Any]:
    with (
        SandboxStack(region=REGION, poll_interval="2s", namespaces=[NAMESPACE]) as stack,
        tempfile.TemporaryDirectory() as tmp,
    ):
        stack.grant_quota(NAMESPACE, licenses=n + 2 * runs + 10)
        pair = Pair(stack, Path(tmp))
        try:
            first = pair.start()
            wait_until(lambda: pair.holder() == first, 30, "the first replica to lead")
            second = pair.start()
            names = [f"steady-{i:04d}" for i in range(n)]
            for name in names:
                connect(stack, NAMESPACE, name)
            wait_until(lambda: all(is_ready(stack, x) for x in names), 600, "all Ready", 0.5)
            wait_until(lambda: pair.standing_by(second), 60, "the standby")
            time.sleep(10)  # a few polls of steady state before measuring memory
            memory = {
                "leader_rss_mib": round(rss_mib(pair.processes[first].pid, "VmRSS"), 1),
                "standby_rss_mib": round(rss_mib(pair.processes[second].pid, "VmRSS"), 1),
                "standby_peak_rss_mib": round(rss_mib(pair.processes[second].pid, "VmHWM"), 1),
            }
            crash = [one_run(pair, signal.SIGKILL, f"after-kill-{i}") for i in range(runs)]
            graceful = [one_run(pair, signal.SIGTERM, f"after-term-{i}") for i in range(runs)]
        finally:
            pair.stop_all()
        creates = stack.aws.call_counts().get("CreateVpcEndpoint", 0)
    return {
        "connections": n,
        "runs": runs,
        "memory": memory,
        "kill_9": summary(crash),
        "sigterm": summary(graceful),
        "create_calls": creates,
        "connections_applied": n + 2 * runs,
        "measured": time.strftime("%Y-%m-%d"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--output", type=Path, default=Path("bench/results-failover.json"))
    args = parser.parse_args()
    result = run(args.connections, args.runs)
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
