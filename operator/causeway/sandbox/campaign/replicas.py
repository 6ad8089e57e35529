"""The operator processes of one campaign: a single replica (`--leader-elect=false`), or
two replicas electing a leader on the sandbox's Lease. A disruption lands on the one
that acts (the leader): SIGKILL, or SIGTERM as the kubelet sends it, and the replica
comes back as the same pod (a container restart) or a new one (rescheduled)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from causeway.election import pod_of
from causeway.sandbox.stack import SandboxStack

LEASE = "causeway-leader"
GRACE_SECONDS = 30.0  # the chart's terminationGracePeriodSeconds
STOP_WITHIN = 15.0  # a graceful stop must end this soon (some 13 s at worst)


class OperatorProcess:
    """`causeway run` in its own process, killed with SIGKILL (or stopped with SIGTERM)
    and started again. `replica`: its pod name when replicas elect a leader (a restart
    as a new pod takes another name: `renamed`)."""

    def __init__(self, stack: SandboxStack, workdir: Path, replica: str | None = None) -> None:
        self._stack = stack
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None
        self.replica = replica
        self.starts = 0
        self.logs: list[Path] = []

    def start(self) -> None:
        self.starts += 1
        folder = self._workdir / f"operator-{self.replica or 'single'}-{self.starts}"
        self.logs.append(folder / "operator.log")
        self._process = self._stack.start_operator_process(
            folder, ready_timeout=60, replica=self.replica
        )

    def renamed(self) -> None:
        """The next start is a new pod (a rescheduled replica), not a container restart."""
        if self.replica is not None:
            self.replica = f"{self.replica.split('-r')[0]}-r{self.starts + 1}"

    def kill(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(30)
            self._process = None

    def terminate(self) -> tuple[float, int | None]:
        """SIGTERM, as the kubelet sends it: (seconds until the process exited, its exit
        code); SIGKILL at the grace period, as the kubelet does (code None then)."""
        began = time.monotonic()
        if self._process is None:
            return 0.0, 0
        self._process.send_signal(signal.SIGTERM)
        try:
            code: int | None = self._process.wait(GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)
            code = None
        self._process = None
        return time.monotonic() - began, code

    def exited(self) -> int | None:
        """The exit code of an operator that ended by itself, else None."""
        return None if self._process is None else self._process.poll()

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)


class Replicas:
    """Every operator process of the campaign."""

    def __init__(self, stack: SandboxStack, workdir: Path, *, standby: bool) -> None:
        self._stack = stack
        names: list[str | None] = ["op-a", "op-b"] if standby else [None]
        self.processes = [OperatorProcess(stack, workdir, name) for name in names]

    @property
    def logs(self) -> list[Path]:
        return [log for process in self.processes for log in process.logs]

    def start(self) -> None:
        for process in self.processes:  # in order: the first one leads
            process.start()

    def stop(self) -> None:
        for process in self.processes:
            process.stop()

    def exited(self) -> list[str]:
        """Each replica that ended by itself, with its exit code."""
        return [
            f"the operator {p.replica or ''} exited by itself with {code}".replace("  ", " ")
            for p in self.processes
            if (code := p.exited()) is not None
        ]

    def holder(self) -> str:
        """The pod the Lease names ("" when none)."""
        lease = self._stack.kube.get("leases", self._stack.kube.operator_namespace, LEASE)
        return pod_of(str(((lease or {}).get("spec") or {}).get("holderIdentity") or ""))

    def acting(self) -> OperatorProcess:
        """The replica that acts: the Lease's holder (the first replica if none holds it)."""
        holder = self.holder()
        return next((p for p in self.processes if p.replica == holder), self.processes[0])

    def lease_problems(self) -> list[str]:
        """With replicas: the Lease is held, by a replica that runs."""
        if self.processes[0].replica is None:
            return []
        holder = self.holder()
        running = {p.replica for p in self.processes}
        return [] if holder in running else [f"the Lease is held by {holder!r}, not a replica"]
