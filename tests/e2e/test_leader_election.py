"""Two `causeway run` processes electing a leader on a Lease in the sandbox: only the
leader acts (the standby's Kubernetes writes and AWS calls are counted by its own
token and access key, and are zero); a killed single replica is replaced by a new pod
that acts within the Lease plus 10 s; a killed leader's restarted container (the same
pod) takes its Lease at once; a standby started beside a few hundred objects is Ready
only once synced and acts within 5 s of the leader's SIGTERM; and a leader paused past
its Lease acts no more when it resumes."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import ANY

import pytest

from causeway.cli import main
from causeway.operator import KOPF_PREFIX
from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack, replica_access_key
from e2e.helpers import OUTBOUND, eventually, live_endpoints_of, outbound, uid_of, wait_phase

LEASE = "causeway-leader"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
TAKEOVER = 15 + 2 + 20  # lease duration + retry period, plus room for a loaded machine
IDLE_OBJECTS = 300  # what a standby started late lists first (the benchmark: 10,000)


@pytest.fixture
def stack(kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s", namespaces=["acme"], kube_backend=kube_backend
    ) as running:
        running.grant_quota("acme", licenses=40)
        yield running


class Replicas:
    """The operator processes of one test, stopped at its end whatever happened."""

    def __init__(self, stack: SandboxStack, workdir: Path) -> None:
        self.stack = stack
        self.workdir = workdir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> subprocess.Popen[bytes]:
        process = self.stack.start_operator_process(self.workdir / name, replica=name)
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.workdir / name / "operator.log").read_text()

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait(10)


@pytest.fixture
def replicas(stack: SandboxStack, tmp_path: Path) -> Iterator[Replicas]:
    running = Replicas(stack, tmp_path)
    try:
        yield running
    finally:
        running.stop_all()


def lease_of(stack: SandboxStack) -> str:
    """The Lease as the operator names it: in the backend's operator namespace."""
    return f"{stack.kube.operator_namespace}/{LEASE}"


def holder(stack: SandboxStack) -> str:
    lease = stack.kube.get("leases", stack.kube.operator_namespace, LEASE) or {}
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


def wait_leader(stack: SandboxStack, replica: str, timeout: float = TAKEOVER) -> str:
    return eventually(
        lambda: holder(stack) if holder(stack).startswith(f"{replica}_") else None,
        timeout=timeout,
        what=f"{replica} to hold the Lease",
    )


def writes_of(stack: SandboxStack, replica: str) -> dict[tuple[str, str], int]:
    return {k: n for k, n in stack.kube.requests_by(replica).items() if k[0] in WRITES}


def wait_writes_landed(stack: SandboxStack, replica: str, quiet: float = 1.0) -> None:
    """Until the replica's writes beyond its Lease have not changed for `quiet` seconds:
    what it decided has landed (a phase's Event follows its status write)."""

    def writes() -> dict[tuple[str, str], int]:
        return {k: n for k, n in writes_of(stack, replica).items() if k[1] != "leases"}

    last, since, deadline = writes(), time.monotonic(), time.monotonic() + 30
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, f"{replica} kept writing: {last}"
        time.sleep(0.1)
        if writes() != last:
            last, since = writes(), time.monotonic()


def aws_calls_of(stack: SandboxStack, replica: str) -> dict[str, int]:
    return stack.aws.calls_by_key(replica_access_key(replica))


def wait_polls(stack: SandboxStack, count: int) -> None:
    polls = stack.aws.call_counts().get("DescribeVpcEndpoints", 0)
    eventually(
        lambda: stack.aws.call_counts().get("DescribeVpcEndpoints", 0) >= polls + count,
        what=f"{count} more polls",
    )


def connect(stack: SandboxStack, names: list[str]) -> None:
    for name in names:
        service = stack.aws.create_tenant_service(acceptance_required=False)
        stack.kube.apply(outbound(name, service.service_name))


KOPF_HANDLED = f"{KOPF_PREFIX}/last-handled-configuration"


def settled(stack: SandboxStack) -> int:
    """How many OutboundConnections in acme carry a phase (the leader wrote them) and
    kopf's record of having handled them: a leader back to its polls, as a rolling
    update meets one that has run a while (kopf, stopped while it works through new
    objects, first lets its workers finish, which holds the Lease's release)."""
    listed = stack.kube.list("outboundconnections", "acme")
    return sum(
        1
        for body in listed
        if (body.get("status") or {}).get("phase")
        and KOPF_HANDLED in (body["metadata"].get("annotations") or {})
    )


def wait_ready(stack: SandboxStack, names: list[str], timeout: float = 60) -> None:
    for name in names:
        wait_phase(stack, "acme", name, "Ready", timeout=timeout)


def test_only_the_leader_acts(stack: SandboxStack, replicas: Replicas) -> None:
    replicas.start("pod-a")
    wait_leader(stack, "pod-a")
    replicas.start("pod-b")
    names = [f"conn-{i:02d}" for i in range(20)]
    connect(stack, names)
    wait_ready(stack, names)

    assert stack.aws.call_counts().get("CreateVpcEndpoint") == 20
    for name in names:
        assert len(live_endpoints_of(stack, uid_of(stack, name))) == 1
    assert writes_of(stack, "pod-b") == {}, replicas.log("pod-b")
    assert aws_calls_of(stack, "pod-b") == {}, replicas.log("pod-a") + replicas.log("pod-b")
    assert stack.kube.requests_by("pod-b").get(("WATCH", OUTBOUND)), "the standby watches"
    assert writes_of(stack, "pod-a").get(("PATCH", f"{OUTBOUND}/status"))

    # Steady state: once a pass has nothing left to say (the first one after a burst of
    # creations may still refresh lastSyncTime), a few polls write no status at all.
    wait_polls(stack, 2)
    before = writes_of(stack, "pod-a").get(("PATCH", f"{OUTBOUND}/status"))
    wait_polls(stack, 3)
    assert writes_of(stack, "pod-a").get(("PATCH", f"{OUTBOUND}/status")) == before
    assert writes_of(stack, "pod-b") == {}
    assert "standing by" in replicas.log("pod-b")


def test_a_new_pod_acts_within_the_lease_and_ten_seconds_of_a_kill_9(
    stack: SandboxStack, replicas: Replicas
) -> None:
    # A single replica lost with its node: the Deployment's replacement has a new pod
    # name, so it waits out the dead holder's Lease (15 s) and then acts at once.
    leader = replicas.start("pod-a")
    wait_leader(stack, "pod-a")
    first = [f"before-{i}" for i in range(3)]
    connect(stack, first)
    wait_ready(stack, first)

    leader.kill()  # kill -9: no release, the Lease must expire
    leader.wait(10)
    killed = time.monotonic()
    later = [f"after-{i}" for i in range(5)]
    connect(stack, later)
    replicas.start("pod-b")
    eventually(
        lambda: aws_calls_of(stack, "pod-b").get("CreateVpcEndpoint"),
        timeout=max(0.0, killed + 15 + 10 - time.monotonic()),
        what="pod-b's first create, within the Lease (15 s) + 10 s of the kill",
    )
    wait_leader(stack, "pod-b", timeout=1)
    wait_ready(stack, later, timeout=TAKEOVER)

    assert stack.aws.call_counts().get("CreateVpcEndpoint") == 8  # none twice
    for name in first + later:
        assert len(live_endpoints_of(stack, uid_of(stack, name))) == 1
    assert f"Acquired Lease {lease_of(stack)}: pod-b_" in replicas.log("pod-b")


def test_a_restarted_container_of_the_leaders_pod_takes_the_lease_at_once(
    stack: SandboxStack, replicas: Replicas
) -> None:
    leader = replicas.start("pod-a")
    killed = wait_leader(stack, "pod-a")
    leader.kill()  # kill -9 (an OOM kill): no release, the Lease is still held
    leader.wait(10)
    restarted = time.monotonic()
    replicas.start("pod-a")  # the kubelet restarts the container: the same pod name
    # Within the 15 s the Lease would otherwise be waited out (the start included).
    taken = eventually(
        lambda: holder(stack) if holder(stack) not in ("", killed) else None,
        timeout=12,
        what="the restarted pod-a to take its Lease",
    )
    assert taken.startswith("pod-a_") and time.monotonic() - restarted < 15
    connect(stack, ["after-restart"])
    wait_ready(stack, ["after-restart"], timeout=30)


def test_a_standby_started_late_is_ready_once_synced_and_acts_within_5s_of_sigterm(
    stack: SandboxStack,
    replicas: Replicas,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A rolling update: the new pod starts beside a leader that already holds a few
    # hundred objects, is Ready only once its index holds them, and the leader's
    # SIGTERM hands over to it.
    leader = replicas.start("pod-a")
    holder_a = wait_leader(stack, "pod-a")
    service = stack.aws.create_tenant_service(acceptance_required=False)
    for i in range(IDLE_OBJECTS):
        stack.kube.apply(outbound(f"idle-{i:03d}", service.service_name, provisioned=False))
    eventually(lambda: settled(stack) >= IDLE_OBJECTS, timeout=60, what="pod-a to settle all")
    replicas.start("pod-b")  # returns once its readiness probe answers
    synced = re.search(r"Cluster index synced: (\d+) objects", replicas.log("pod-b"))
    assert synced and int(synced.group(1)) > IDLE_OBJECTS, replicas.log("pod-b")
    eventually(lambda: "standing by" in replicas.log("pod-b"), what="pod-b to stand by")
    stack.kube.write_admin_kubeconfig(tmp_path / "admin")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "admin"))
    assert main(["status", "-n", "acme"]) == 0
    assert f"Operator: {holder_a} leads (Lease {lease_of(stack)}, renewed" in (
        capsys.readouterr().out
    )

    leader.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    stack.kube.apply(outbound("after-handover", service.service_name))
    try:
        eventually(
            lambda: aws_calls_of(stack, "pod-b").get("CreateVpcEndpoint"),
            timeout=max(0.0, signalled + 5 - time.monotonic()),
            what="pod-b's create for a connection applied at the SIGTERM, within 5 s of it",
        )
    except AssertionError as exc:
        tails = {name: replicas.log(name)[-3000:] for name in ("pod-a", "pod-b")}
        raise AssertionError(f"{exc}\n{tails['pod-a']}\n---\n{tails['pod-b']}") from None
    assert leader.wait(30) == 0, replicas.log("pod-a")
    assert f"Released Lease {lease_of(stack)}" in replicas.log("pod-a")
    holder_b = wait_leader(stack, "pod-b", timeout=1)
    assert main(["status", "-n", "acme", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["operator"] == [
        {"lease": lease_of(stack), "holder": holder_b, "renewTime": ANY}
    ]
    wait_ready(stack, ["after-handover"], timeout=30)
    assert stack.aws.call_counts().get("CreateVpcEndpoint") == 1


def test_a_leader_paused_past_its_lease_does_nothing_when_it_resumes(
    stack: SandboxStack, replicas: Replicas
) -> None:
    leader = replicas.start("pod-a")
    wait_leader(stack, "pod-a")
    replicas.start("pod-b")
    connect(stack, ["before-pause"])
    wait_ready(stack, ["before-pause"])
    # Paused with nothing decided but unsent: a write that passed the fence before the
    # pause may still leave after it (the window the README states).
    wait_writes_landed(stack, "pod-a")

    leader.send_signal(signal.SIGSTOP)
    wait_leader(stack, "pod-b")
    during = [f"during-pause-{i}" for i in range(3)]
    connect(stack, during)
    wait_ready(stack, during, timeout=30)
    writes, calls = writes_of(stack, "pod-a"), aws_calls_of(stack, "pod-a")

    leader.send_signal(signal.SIGCONT)
    code = leader.wait(30)  # it finds it lost the Lease and exits, to restart as a standby
    log = replicas.log("pod-a")
    assert code == 1, log
    assert f"Lost Lease {lease_of(stack)}" in log
    assert writes_of(stack, "pod-a") == writes, log
    assert aws_calls_of(stack, "pod-a") == calls, log
    assert holder(stack).startswith("pod-b_")
    assert stack.aws.call_counts().get("CreateVpcEndpoint") == 4
