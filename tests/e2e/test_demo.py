"""`causeway demo`, the README's main command, runs to Ready and exits 0."""

from __future__ import annotations

import pytest

from causeway.cli import main


def test_demo_walks_the_seed_tenant_to_ready(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--timeout", "60"]) == 0
    out = capsys.readouterr().out
    assert "acme/inventory     PendingAcceptance  Accept the connection request vpce-" in out
    assert "tenant: accepts connection request vpce-" in out
    assert "acme/inventory     Ready              Connected: vpce-" in out
    assert "acme/reporting     Unprovisioned" in out
    assert "done: every provisioned connection is Ready" in out


def test_demo_that_runs_out_of_time_says_so_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--timeout", "0"]) == 1
    assert "did not become Ready within 0s" in capsys.readouterr().err
