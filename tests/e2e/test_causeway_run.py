"""`causeway run` as its own process, configured only through CAUSEWAY_CONFIG, a
kubeconfig and the AWS SDK environment: it serves its liveness probe (the sandbox
waits for it), reconciles, and exits cleanly on SIGTERM."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from causeway.sandbox.stack import SandboxStack
from e2e.helpers import outbound, wait_phase


@pytest.fixture
def stack() -> Iterator[SandboxStack]:
    with SandboxStack(poll_interval="1s", namespaces=["acme"]) as running:
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
