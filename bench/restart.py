"""Benchmark: restart and rolling update with N OutboundConnections in the cluster, the
real operator (`causeway run`, its own processes, electing on the Lease) against the
embedded sandbox (kmock API server, moto-based AWS).

Per size N:
- setup: N connections that need nothing from AWS (spec.provisioned false), so the
  figures are the operator's own cost of a restart (start, list and index N objects,
  take the Lease, a first pass over N), not the AWS budget; a first operator settles
  the first 1,000 (Unprovisioned written, kopf's finalizer and its record of having
  handled each), then it is killed (kill -9, as an OOM); the others are written as it
  left those.
- restart → first action: one new connection is applied while no operator runs; the
  operator starts again, electing (no live holder: the Lease is taken at once, as by
  a restarted container of the holder's own pod); measured from the
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
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

from causeway.sandbox.stack import SandboxStack
from common import (
    REGION,
    connect,
    outbound,
    peak_rss_mib,
    run_all,
    stop,
    wait_idle,
    wait_until,
)

NAMESPACE = "bench"
OUTBOUND = "outboundconnections"
LEASE = "causeway-leader"
SETUP_CHUNK = 1000
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
    """Every object has its status and kopf's record of having handled it (what a
    replica that ran for a while leaves)."""
    listed = stack.kube.list(OUTBOUND, NAMESPACE)
    return sum(1 for b in listed if (b.get("status") or {}).get("phase") and _handled(b)) >= n


def _write_as_left(stack: SandboxStack, manifest: dict[str, Any], as_left: dict[str, Any]) -> None:
    """Create the object with the finalizer, annotations and status an operator left on
    another idle connection (none of them names the object)."""
    meta = as_left.get("metadata") or {}
    manifest["metadata"]["finalizers"] = list(meta.get("finalizers") or [])
    manifest["metadata"]["annotations"] = dict(meta.get("annotations") or {})
    stack.kube.apply(manifest)
    stack.kube.patch_status(OUTBOUND, NAMESPACE, manifest["metadata"]["name"], as_left["status"])


def logged_settled(log: Path, n: int) -> bool:
    """The operator's log says every object has its status and kopf handled each."""
    text = log.read_text(errors="replace")
    return text.count("Phase now Unprovisioned") >= n and text.count("Creation is processed") >= n


def _handled(body: dict[str, Any]) -> bool:
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    return "kopf.causeway.dev/last-handled-configuration" in annotations


def holder(stack: SandboxStack) -> str:
    lease = stack.kube.get("leases", stack.kube.operator_namespace, LEASE) or {}
    identity = str((lease.get("spec") or {}).get("holderIdentity") or "")
    return identity.rpartition("_")[0]


class Starting:
    """`start_operator_process` (which returns once the process is Ready) on a thread of
    its own, so the measurement runs while the process starts."""

    def __init__(
        self, stack: SandboxStack, workdir: Path, replica: str | None, timeout: float
    ) -> None:
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


def measure(n: int, logs: Path | None = None) -> dict[str, Any]:
    timeout = 120 + n * 0.05
    with (
        SandboxStack(region=REGION, poll_interval="2s", namespaces=[NAMESPACE]) as stack,
        tempfile.TemporaryDirectory() as tmp,
    ):
        workdir = Path(tmp)
        try:
            return _measure(n, stack, workdir, timeout)
        finally:
            if logs is not None:
                for log in workdir.glob("*/operator.log"):
                    target = logs / str(n) / f"{log.parent.name}.log"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(log, target)


def _set_up(
    n: int,
    stack: SandboxStack,
    workdir: Path,
    timeout: float,
    processes: list[subprocess.Popen[bytes]],
) -> tuple[float, float]:
    """N idle connections as an operator that ran before left them; its peak RSS and
    how long the set-up took."""
    # What ran before: an operator settles the first SETUP_CHUNK objects (their
    # status, kopf's finalizer and its record of having handled them), then dies
    # (kill -9). The rest are written exactly as it left those: settling all N
    # through it would have kopf send N patches at once, more than the in-process
    # sandbox API server answers in time (set-up only, so without election).
    first = Starting(stack, workdir / "pod-0", None, timeout).wait()
    processes.append(first)
    log = workdir / "pod-0" / "operator.log"
    applied = time.monotonic()
    settled_by_operator = min(n, SETUP_CHUNK)
    for i in range(settled_by_operator):
        stack.kube.apply(idle(i))
    wait_until(partial(logged_settled, log, settled_by_operator), 300, "settled", 1)
    wait_until(lambda: settled(stack, settled_by_operator), 120, "settled, listed", 1)
    first_peak = peak_rss_mib(first.pid)
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    as_left = stack.kube.get(OUTBOUND, NAMESPACE, "conn-00000") or {}
    for i in range(settled_by_operator, n):
        _write_as_left(stack, idle(i), as_left)
    apply_seconds = time.monotonic() - applied
    wait_until(lambda: settled(stack, n), 120, f"{n} objects settled, listed", 5)
    return first_peak, apply_seconds


def _measure(n: int, stack: SandboxStack, workdir: Path, timeout: float) -> dict[str, Any]:
    stack.grant_quota(NAMESPACE, licenses=10)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        first_peak, apply_seconds = _set_up(n, stack, workdir, timeout, processes)

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
        # A rolling update meets a leader that has run a while, not one still busy with
        # what its start brought (kopf's first look at every object, a first pass).
        wait_idle(leader.pid, 120 + n * 0.02)
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
        "setup_seconds": round(apply_seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--output", type=Path, default=Path("bench/results-restart.json"))
    parser.add_argument("--logs", type=Path, help="keep each replica's log here, by size")
    args = parser.parse_args()
    return run_all(args.sizes, lambda n: measure(n, args.logs), args.output)


if __name__ == "__main__":
    raise SystemExit(main())
