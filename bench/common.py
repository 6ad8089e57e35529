"""Shared pieces of the benchmarks: waiting without fixed sleeps, stopping the operator
process, reading its peak RSS and counting its region passes from its own log."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REGION = "us-east-1"
POLL_INTERVAL_S = 2.0
STEADY_POLLS = 5


def outbound(
    namespace: str, name: str, service: str, *, provisioned: bool = True
) -> dict[str, Any]:
    """An OutboundConnection in REGION to `service`."""
    spec: dict[str, Any] = {"region": REGION, "serviceName": service}
    if not provisioned:
        spec["provisioned"] = False
    return {
        "apiVersion": "causeway.dev/v1alpha1",
        "kind": "OutboundConnection",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def connect(stack: Any, namespace: str, name: str) -> None:
    """A new OutboundConnection to a new, instantly-available endpoint service."""
    service = stack.aws.create_tenant_service(acceptance_required=False)
    stack.kube.apply(outbound(namespace, name, service.service_name))


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


def peak_rss_mib(pid: int) -> float:
    return _status_mib(pid, "VmHWM:")


def rss_mib(pid: int) -> float:
    """The process's resident memory now (peak_rss_mib: the most it ever held)."""
    return _status_mib(pid, "VmRSS:")


def cpu_seconds(pid: int) -> float:
    """The CPU time the process has used (user and system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, timeout: float, busy_below: float = 0.5, window: float = 2.0) -> None:
    """Until the process used less than `busy_below` of a core over each of two
    consecutive windows: an operator done with what its start brought, back to its
    polls (at 10,000 objects a pass takes about a second every few)."""
    quiet, deadline = 0, time.monotonic() + timeout
    used = cpu_seconds(pid)
    while quiet < 2:
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} still busy after {timeout:g} s")
        time.sleep(window)
        now = cpu_seconds(pid)
        quiet = quiet + 1 if now - used < busy_below * window else 0
        used = now


def _status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


class LogCounter:
    """Counts a phrase in a growing log, reading only what was appended since the last
    look: with thousands of objects the operator's log runs to hundreds of MB, and
    re-reading it all several times a second took the CPU the operator was measured on."""

    def __init__(self, log: Path, phrase: str) -> None:
        self._log, self._phrase = log, phrase.encode()
        self._offset, self._count, self._tail = 0, 0, b""

    def count(self) -> int:
        with self._log.open("rb") as stream:
            if stream.seek(0, os.SEEK_END) < self._offset:  # a new log: start again
                self._offset, self._count, self._tail = 0, 0, b""
            stream.seek(self._offset)
            fresh = stream.read()
        self._offset += len(fresh)
        text = self._tail + fresh
        self._count += text.count(self._phrase)
        # Keep what could be the start of a phrase cut off at the end of this read.
        keep = len(self._phrase) - 1
        self._tail = text[-keep:] if keep else b""
        return self._count


_COUNTERS: dict[tuple[Path, str], LogCounter] = {}


def _counted(log: Path, phrase: str) -> int:
    counter = _COUNTERS.setdefault((log, phrase), LogCounter(log, phrase))
    return counter.count()


def passes(log: Path) -> int:
    """Region passes the operator has completed, from its own log (run with -v: each
    pass logs one line, at DEBUG when it changed nothing)."""
    return _counted(log, f"Pass of {REGION}:")


def next_pass(log: Path, timeout: float = 120.0) -> None:
    """Wait for the operator's next region pass (with thousands of objects a pass takes
    seconds and rests twice as long after it: the wait allows for that)."""
    before = passes(log)
    wait_until(lambda: passes(log) > before, timeout, "a pass", step=0.1)


def resumed(log: Path) -> int:
    """Objects kopf has finished resuming, from the operator's own log."""
    return _counted(log, "Resuming is processed")


def report(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "poll_interval_seconds": POLL_INTERVAL_S,
        "results": results,
    }


def run_all(sizes: Iterable[int], run: Callable[[int], dict[str, Any]], output: Path) -> int:
    """Run each size, print its figures as they come, and write them all to `output`."""
    results = []
    for n in sizes:
        result = run(n)
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        results.append(result)
    output.write_text(json.dumps(report(results), indent=2) + "\n")
    return 0
