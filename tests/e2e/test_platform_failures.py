"""When the platform itself cannot talk to AWS (here: no credentials at all), what a
tenant sees about its connections stays as last observed: the phase, Ready, a Stalled
message. A separate Synced condition says why the state cannot be checked, the
operator says so once, and the log stays quiet."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import condition, eventually, outbound, sandbox_only, status_of, wait_phase

QUIET_SECONDS = 20.0


@pytest.fixture
def stack(kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s", namespaces=["acme"], kube_backend=kube_backend
    ) as running:
        running.grant_quota("acme", licenses=10)
        yield running


def test_no_aws_credentials_leave_tenant_statuses_alone_and_the_log_quiet(
    stack: SandboxStack, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    sandbox_only(request, "AWS credentials only, and 20 s of watching a quiet log")
    service = stack.aws.create_tenant_service(acceptance_required=False)
    hidden = stack.aws.create_tenant_service(allow_platform=False)
    operator = stack.start_operator()
    stack.kube.apply(outbound("ready", service.service_name))
    stack.kube.apply(outbound("stalled", hidden.service_name))
    before = {
        "ready": wait_phase(stack, "acme", "ready", "Ready"),
        "stalled": wait_phase(stack, "acme", "stalled", "Unprovisioned"),
    }
    stack.stop_operator(operator)

    process = stack.start_operator_process(tmp_path, without_aws_credentials=True)
    try:
        after = {
            name: eventually(
                lambda name=name: (
                    (s := status_of(stack, "acme", name))
                    and condition(s, "Synced").get("status") == "False"
                    and s
                ),
                what=f"{name} to say it is not synced",
            )
            for name in before
        }
        settled_lines = len((tmp_path / "operator.log").read_text().splitlines())
        time.sleep(QUIET_SECONDS)
        lines = (tmp_path / "operator.log").read_text().splitlines()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)

    for name, seen in before.items():
        for kept in ("phase", "message", "vpcEndpointId", "dnsNames"):
            assert after[name].get(kept) == seen.get(kept), (name, kept)
        for kind in ("Ready", "Reconciling", "Stalled"):
            assert condition(after[name], kind) == condition(seen, kind), (name, kind)
        synced = condition(after[name], "Synced")
        assert synced["reason"] == "PlatformCredentialsMissing"
        assert "credentials" in synced["message"]
    assert condition(after["stalled"], "Stalled")["reason"] == "ServiceNotAllowed"
    log = "\n".join(lines)
    assert "Cannot verify the operator's AWS identity (PlatformCredentialsMissing" in log
    assert log.count("PlatformCredentialsMissing (") <= 2  # at start, then once per region
    assert len(lines) - settled_lines < 10 * QUIET_SECONDS / 60, log
    assert "Traceback" not in log
