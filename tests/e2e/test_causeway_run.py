"""`causeway run` as its own process, configured only through CAUSEWAY_CONFIG, a
kubeconfig and the AWS SDK environment: it serves its liveness probe (the sandbox
waits for it), reconciles, and exits cleanly on SIGTERM."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from causeway import __version__
from causeway.sandbox import faults
from causeway.sandbox.faults import FaultPlan
from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import eventually, outbound, wait_phase


@pytest.fixture
def stack(kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s", namespaces=["acme"], kube_backend=kube_backend
    ) as running:
        running.grant_quota("acme", licenses=10)
        yield running


def test_causeway_run_reconciles_and_stops_on_sigterm(stack: SandboxStack, tmp_path: Path) -> None:
    operator = stack.start_operator_process(tmp_path)  # returns once its liveness probe answers
    try:
        service = stack.aws.create_tenant_service()
        stack.kube.apply(outbound("from-cli", service.service_name))
        vpce = wait_phase(stack, "acme", "from-cli", "PendingAcceptance", timeout=30)[
            "vpcEndpointId"
        ]
        stack.aws.accept(service.service_id, vpce)
        wait_phase(stack, "acme", "from-cli", "Ready", timeout=10)
    finally:
        operator.send_signal(signal.SIGTERM)
        code = operator.wait(30)
    assert code == 0, (tmp_path / "operator.log").read_text()


def test_causeway_run_says_what_it_starts(stack: SandboxStack, tmp_path: Path) -> None:
    operator = stack.start_operator_process(tmp_path)
    operator.send_signal(signal.SIGTERM)
    assert operator.wait(30) == 0
    log = (tmp_path / "operator.log").read_text()
    startup = next(line for line in log.splitlines() if "starting:" in line)
    assert f"causeway {__version__} starting: config {tmp_path / 'config.yaml'}" in startup
    assert f"cluster {stack.kube.url} (Kubernetes v" in startup
    assert "AWS identity arn:aws:" in startup
    assert "Region us-east-1: outbound on, inbound on" in log


@pytest.fixture
def hanging_creates() -> Iterator[None]:
    """Every CreateVpcEndpoint of the operator takes effect and then hangs its answer
    (a read timeout): a graceful stop then waits for that call's thread."""
    faults.install(
        FaultPlan.only(
            aws_weights={"aws.timeout-applied": 1.0},
            aws_action_rates={"CreateVpcEndpoint": 1.0},
            hang_seconds=10.0,
        )
    )
    yield
    faults.install(None)


def test_a_second_sigint_exits_at_once_and_quietly(
    stack: SandboxStack, tmp_path: Path, hanging_creates: None
) -> None:
    operator = stack.start_operator_process(tmp_path)
    service = stack.aws.create_tenant_service()
    stack.kube.apply(outbound("stuck", service.service_name))
    # A stop that cannot end at once: its AWS call is still waiting for an answer.
    eventually(lambda: stack.aws.call_counts().get("CreateVpcEndpoint"), what="a create sent")
    operator.send_signal(signal.SIGINT)
    time.sleep(0.05)  # two signals sent together may reach the process as one
    operator.send_signal(signal.SIGINT)
    code = operator.wait(5)
    log = (tmp_path / "operator.log").read_text()
    assert code == 128 + signal.SIGINT, log
    assert "Traceback" not in log and "InvalidStateError" not in log
    assert log.rstrip().endswith("causeway: second SIGINT: exiting now")
