"""Benchmark: restart and rolling update with N OutboundConnections in the cluster, the
real operator (`causeway run`, its own processes, electing on the Lease) against the
embedded sandbox (kmock API server, moto-based AWS).

Per size N:
- setup: N connections that need nothing from AWS (spec.provisioned false), so the
  figures are the operator's own cost of a restart (start, list and index N objects,
  take the Lease, a first pass over N), not the AWS budget; a first replica settles
  every one of them (Unprovisioned written), then it is killed (kill -9, as an OOM).
- restart → first action: one new connection is applied while no operator runs; its
  container restarts (same pod name: the Lease is taken at once); measured from the
  process start until its CreateVpcEndpoint is sent, and until its status names the
  endpoint; with the time to Ready (/readyz) and the restarted process's peak RSS.
- rolling update: a second replica starts and is Ready (a warm standby); the leader
  gets SIGTERM, and a connection is applied at that moment: the time with no leader
  acting is measured from the signal (the old leader takes no AWS token after it) to
  the new leader's create for that connection; also when the Lease changed hands.
The figures are written to a JSON file; nothing here asserts on timing.

    uv run python bench/restart.py                            # N = 1000, 5000, 10000
    uv run python bench/restart.py --sizes 1000 --output /tmp/restart.json
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from causeway.sandbox.stack import SandboxStack
from common import REGION, connect, outbound, peak_rss_mib, run_all, stop, wait_until

NAMESPACE = "bench"
OUTBOUND = "outboundconnections"
LEASE = "causeway-leader"
SERVICE = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"


def idle(i: int) -> dict[str, Any]:
    """A connection with nothing to do in AWS (not provisioned)."""
    return outbound(NAMESPACE, f"conn-{i:05}", SERVICE, provisioned=False)


def creates(stack: SandboxStack) -> int:
    return stack.aws.call_counts().get("CreateVpcEndpoint", 0)


def endpoint_named(stack: SandboxStack, name: str) -> bool:
    body = stack.kube.get(OUTBOUND, NAMESPACE, name) or {}
    return bool((body.get("status") or {}).get("vpcEndpointId"))


def settled(stack: SandboxStack, n: int) -> bool:
    listed = stack.kube.list(OUTBOUND, NAMESPACE)
    return sum(1 for b in listed if (b.get("status") or {}).get("phase")) >= n


def holder(stack: SandboxStack) -> str:
    lease = stack.kube.get("leases", stack.kube.operator_namespace, LEASE) or {}
    identity = str((lease.get("spec") or {}).get("holderIdentity") or "")
    return identity.rpartition("_")[0]


class Starting:
    """`start_operator_process` (which returns once the process is Ready) on a thread of
    its own, so the measurement runs while the process starts."""

    def __init__(self, stack: SandboxStack, workdir: Path, replica: str, timeout: float) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_at: float | None = None
        self.error: BaseException | None = None
        self.started_at = time.monotonic()

        def run() -> None:
            try:
                self.process = stack.start_operator_process(
                    workdir, replica=replica, poll_interval="2s", ready_timeout=timeout
                )
                self.ready_at = time.monotonic()
            except BaseException as exc:  # reported by wait()
                self.error = exc

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def wait(self) -> subprocess.Popen[bytes]:
        self._thread.join()
        if self.error is not None:
            raise self.error
        assert self.process is not None
        return self.process


def measure(n: int) -> dict[str, Any]:
    timeout = 120 + n * 0.05
    with (
        SandboxStack(region=REGION, poll_interval="2s", namespaces=[NAMESPACE]) as stack,
        tempfile.TemporaryDirectory() as tmp,
    ):
        workdir = Path(tmp)
        stack.grant_quota(NAMESPACE, licenses=10)
        applied = time.monotonic()
        for i in range(n):
            stack.kube.apply(idle(i))
        apply_seconds = time.monotonic() - applied
        processes: list[subprocess.Popen[bytes]] = []
        try:
            # The replica that ran before: it settles every object, then dies (kill -9).
            first = Starting(stack, workdir / "pod-1", "pod-1", timeout).wait()
            processes.append(first)
            wait_until(lambda: settled(stack, n), 120 + n * 0.2, f"{n} objects settled", 0.5)
            first_peak = peak_rss_mib(first.pid)
            first.send_signal(signal.SIGKILL)
            first.wait(30)

            # Restart → first action on a new object.
            connect(stack, NAMESPACE, "new-after-restart")
            before = creates(stack)
            starting = Starting(stack, workdir / "pod-1b", "pod-1", timeout)
            wait_until(lambda: creates(stack) > before, timeout, "the new object's create", 0.02)
            create_s = time.monotonic() - starting.started_at
            wait_until(lambda: endpoint_named(stack, "new-after-restart"), 60, "its status", 0.02)
            status_s = time.monotonic() - starting.started_at
            leader = starting.wait()
            processes.append(leader)
            assert starting.ready_at is not None
            ready_s = starting.ready_at - starting.started_at

            # Rolling update: a warm standby, then SIGTERM to the leader.
            standby_start = Starting(stack, workdir / "pod-2", "pod-2", timeout)
            standby = standby_start.wait()
            processes.append(standby)
            assert standby_start.ready_at is not None
            standby_ready_s = standby_start.ready_at - standby_start.started_at
            log = workdir / "pod-2" / "operator.log"
            wait_until(lambda: "standing by" in log.read_text(errors="replace"), 60, "standby")
            restart_peak = peak_rss_mib(leader.pid)
            before = creates(stack)
            signalled = time.monotonic()
            leader.send_signal(signal.SIGTERM)
            connect(stack, NAMESPACE, "new-during-update")
            wait_until(lambda: holder(stack) == "pod-2", 60, "pod-2 to lead", 0.02)
            lease_s = time.monotonic() - signalled
            wait_until(lambda: creates(stack) > before, 60, "the new leader's create", 0.02)
            no_leader_s = time.monotonic() - signalled
            leader.wait(60)
            old_exit_s = time.monotonic() - signalled
            standby_peak = peak_rss_mib(standby.pid)
        finally:
            for process in processes:
                stop(process)
    return {
        "objects": n,
        "restart": {
            "start_to_ready_seconds": round(ready_s, 2),
            "start_to_create_sent_seconds": round(create_s, 2),
            "start_to_status_written_seconds": round(status_s, 2),
            "peak_rss_mib": round(restart_peak, 1),
        },
        "rolling_update": {
            "standby_start_to_ready_seconds": round(standby_ready_s, 2),
            "sigterm_to_lease_acquired_seconds": round(lease_s, 2),
            "sigterm_to_first_create_seconds": round(no_leader_s, 2),
            "sigterm_to_old_leader_exit_seconds": round(old_exit_s, 2),
            "new_leader_peak_rss_mib": round(standby_peak, 1),
        },
        "first_replica_peak_rss_mib": round(first_peak, 1),
        "apply_seconds": round(apply_seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--output", type=Path, default=Path("bench/results-restart.json"))
    args = parser.parse_args()
    return run_all(args.sizes, measure, args.output)


if __name__ == "__main__":
    raise SystemExit(main())
