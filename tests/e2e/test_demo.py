"""`causeway demo`, the README's main command, runs to its end state and exits 0; a
demo that runs out of time says so in one line, without the operator's logs."""

from __future__ import annotations

import pytest

from causeway.cli import main


def test_demo_walks_the_seed_tenant_to_ready(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--timeout", "60"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("causeway demo: starting the embedded sandbox")
    assert "acme/inventory     PendingAcceptance  Accept the connection request vpce-" in out
    assert "tenant: accepts connection request vpce-" in out
    assert "acme/inventory     Ready              Connected: vpce-" in out
    assert "acme/reporting     Unprovisioned" in out
    assert "acme/payroll       Unprovisioned      All 2 outbound licenses are in use" in out
    assert "tenant: endpoint vpce-0f1e2d3c4b5a69781 in its account 222222222222" in out
    assert (
        "acme/loader        Ready              Connected: your endpoint vpce-0f1e2d3c4b5a69781"
        in out
    )
    assert (
        "loader   Ready  True   10.200.0.0/28  acme.platform.example.com A (alias) -> vpce-" in out
    )
    assert "acme/inventory-api Ready              Calls reach inventory through vpce-" in out
    assert (
        "  connectAddress: vpce-" in out and "  (and apiKey: the auth material, not shown)" in out
    )
    assert "replace-me-with-the-real-key" not in out
    assert "tenant: created Secret inventory-api-key (apiKey: random, not shown)" in out
    assert "done: every connection reached its end state" in out
    assert "metering: acme used 39000 MB of its hourly outbound limit of 56480 MB" in out
    assert "Outbound traffic is blocked until " in out
    assert "They are blocked until " in out  # the credential says when it reopens
    assert "has no ingress rule left, so vpce-" in out
    assert "has its rules back (those of sg-" in out
    assert "done: blocked at the hourly limit, reopened at the top of the hour" in out
    assert "PrivateConnectOutboundCalloutHourlyLimitMB: max 56480, remaining 56480" in out
    # The block and the reopen: one call each on the tenant group (and one authorize when
    # the group was made), no endpoint modified.
    assert "RevokeSecurityGroupIngress 1" in out and "AuthorizeSecurityGroupIngress 2" in out
    assert "ModifyVpcEndpoint" not in out and "PutMetricData" not in out
    assert "AWS calls by the tenant: 2 accept calls\n" in out
    assert "AcceptVpcEndpointConnections 1," in out  # the operator's, for the inbound one
    assert "arn:aws:iam::111111111111:role/causeway-outbound" in out  # the example config's


def test_demo_that_runs_out_of_time_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--timeout", "0.2"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "causeway: the demo did not finish within 0.2s (run with -v to see the operator's logs)"
    ]
