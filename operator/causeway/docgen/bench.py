"""The measured figures, as Markdown tables generated from bench/results-*.json (written
by the benchmarks under bench/), so the performance page cannot drift from what was
measured. Each table is a snippet under docs/generated/ that the hand-written page
includes."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from causeway.docgen.markdown import code, header, table

Results = Mapping[str, Any]


def _measured(results: Results) -> str:
    when = str(results.get("measured_at") or results.get("measured") or "")[:10]
    machine = results.get("machine")
    poll = results.get("poll_interval_seconds")
    text = f"Measured {when}" if when else "Measured"
    text += f" on {machine}" if machine else ""
    text += f"; poll interval {poll:g} s" if poll is not None else ""
    return text + "."


def _n(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _outbound(results: Results) -> str:
    rows = []
    for run in results["results"]:
        calls = run["aws_calls_to_converge"]
        floor = max(run["objects"] - 50, 0) / 5
        rows.append(
            [
                _n(run["objects"]),
                _n(run["transit_vpcs"]),
                f"{_n(run['apply_to_all_ready_seconds'])} s ({_n(floor)} s)",
                f"{_n(run['apply_seconds'])} s",
                ", ".join(f"{name} {_n(count)}" for name, count in calls.items()),
                f"{_n(run['describe_calls_per_pass']['DescribeVpcEndpoints'])} "
                f"({run['describe_calls_per_listing_target']})",
                _n(run["kubernetes_writes_per_noop_pass"]),
                f"{_n(run['operator_peak_rss_mib'])} MiB",
                f"{_n(run['restart_to_all_resumed_seconds'])} s "
                f"({sum(run['restart_aws_calls'].values())} calls, "
                f"{run['restart_kubernetes_writes']} writes)",
                run.get("measured_on", ""),
            ]
        )
    columns = (
        "N",
        "transit VPCs",
        "apply → all Ready (budget floor)",
        "applying the objects",
        "AWS calls to converge",
        "describe calls / poll (target)",
        "k8s writes / no-op poll",
        "peak RSS",
        "restart: resume all",
        "code",
    )
    return table(columns, rows) + _measured(results) + "\n"


def _throttled(results: Results) -> str:
    rows = []
    for run in results["results"]:
        tenants = run["connections"]
        waits = run["wait_seconds"]
        rows.append(
            [
                " + ".join(f"{count} ({name})" for name, count in tenants.items()),
                f"{run['bucket']['burst']}, {run['bucket']['rate_per_second']:g}/s",
                f"{_n(run['floor_seconds'])} s",
                f"{_n(run['apply_to_all_ready_seconds'])} s",
                _n(run["request_limit_exceeded"]),
                "; ".join(
                    f"{name} {wait['p50']:g} / {wait['p99']:g} s" for name, wait in waits.items()
                ),
            ]
        )
    columns = (
        "connections (tenant)",
        "bucket: burst, rate",
        "floor (N - burst) / rate",
        "apply → all Ready",
        "RequestLimitExceeded",
        "wait p50 / p99",
    )
    return table(columns, rows) + _measured(results) + "\n"


def _inbound(results: Results) -> str:
    rows = [
        [
            _n(run["objects"]),
            f"{_n(run['apply_to_all_ready_seconds'])} s",
            _n(run["accept_calls"]),
            _n(run["describe_calls_per_pass"]["DescribeVpcEndpointConnections"]),
            _n(run["source_ranges_allocated"]),
            f"{_n(run['operator_peak_rss_mib'])} MiB",
        ]
        for run in results["results"]
    ]
    columns = (
        "N",
        "apply → all Ready",
        "AcceptVpcEndpointConnections calls",
        "listings / poll",
        "source ranges",
        "peak RSS",
    )
    return table(columns, rows) + _measured(results) + "\n"


def _metering(results: Results) -> str:
    rows = [
        [
            _n(run["endpoints"]),
            f"{run['get_metric_data_calls']} ({run['get_metric_data_calls_limit']})",
            _n(run["metrics_requested"]),
            f"{run['first_cycle_seconds']:g} s",
            f"{_n(run['peak_rss_mib_after_cycles'])} MiB",
            f"{run['cycle_python_allocations_peak_mib']:g} MiB",
        ]
        for run in results["results"]
    ]
    columns = (
        "metered endpoints",
        "GetMetricData calls (limit ceil(N/500))",
        "metrics requested",
        "cycle wall time",
        "peak RSS",
        "one cycle's allocations peak",
    )
    return table(columns, rows) + _measured(results) + "\n"


def _failover(results: Results) -> str:
    rows = []
    for label, key in (("kill -9", "kill_9"), ("SIGTERM (Lease released)", "sigterm")):
        way = results[key]
        lease, ready = way["lease_acquired_s"], way["new_connection_ready_s"]
        rows.append(
            [
                label,
                f"{lease['median']:g} s / {lease['max']:g} s",
                f"{ready['median']:g} s / {ready['max']:g} s",
            ]
        )
    memory = results["memory"]
    return (
        table(
            ("leader goes away by", "Lease taken: median / max", "new connection Ready"),
            rows,
        )
        + f"{results['runs']} runs each way, {results['connections']} Ready connections; "
        f"{results['create_calls']} `CreateVpcEndpoint` calls for "
        f"{results['connections_applied']} connections over every handover. Leader RSS "
        f"{memory['leader_rss_mib']:g} MiB, warm standby {memory['standby_rss_mib']:g} MiB. "
        + _measured(results)
        + "\n"
    )


def _restart(results: Results) -> str:
    restarts, updates = [], []
    for run in results["results"]:
        restart, update = run["restart"], run["rolling_update"]
        objects = _n(run["objects"])
        restarts.append(
            [
                objects,
                f"{restart['start_to_ready_seconds']:g} s",
                f"{restart['start_to_create_sent_seconds']:g} s",
                f"{restart['peak_rss_mib']:g} MiB",
            ]
        )
        updates.append(
            [
                objects,
                f"{update['standby_start_to_ready_seconds']:g} s",
                f"{update['sigterm_to_lease_acquired_seconds']:g} s",
                f"{update['sigterm_to_first_create_seconds']:g} s",
                f"{update['new_leader_peak_rss_mib']:g} MiB",
            ]
        )
    return (
        "Restart (kill -9; the operator starts again and takes the Lease at once):\n"
        + table(("objects", "start → Ready", "start → first create", "peak RSS"), restarts)
        + "Rolling update (a new pod, Ready, then SIGTERM to the leader):\n"
        + table(
            (
                "objects",
                "new pod start → Ready",
                "SIGTERM → Lease taken",
                "SIGTERM → new leader's create",
                "new leader's peak RSS",
            ),
            updates,
        )
        + _measured(results)
        + "\n"
    )


def _placement(results: Results) -> str:
    rows = [
        [
            _n(run["endpoints_listed"]),
            _n(run["transit_vpcs"]),
            _n(run["placed_in_the_pass"]),
            f"{run['placement_ms_per_pass_median']:g} ms",
            f"{run['placement_ms_per_pass_max']:g} ms",
        ]
        for run in results["results"]
    ]
    columns = ("endpoints listed", "transit VPCs", "placed in the pass", "median", "max")
    return table(columns, rows) + _measured(results) + "\n"


def _campaign(results: Results) -> str:
    seeds = results["seeds"]
    converge = results["converge_seconds"]
    row = [
        f"{seeds[0]} to {seeds[-1]} ({len(seeds)})",
        _n(results["steps"]),
        _n(results["kills_survived"]),
        _n(results["faults_injected"]),
        f"{_n(results['invariant_checks_passed'])} ({results['quiet_periods']} quiet periods, "
        f"{len(results['invariants'])} invariants each)",
        f"{converge['median']:g} s / {converge['max']:g} s",
        f"{round(results['wall_seconds'] / 60)} min",
        "none" if results.get("failure") is None else code(results["failure"]),
    ]
    columns = (
        "seeds",
        "steps",
        "kills survived",
        "faults injected",
        "invariant checks passed",
        "converge after faults stop (median / max)",
        "wall time",
        "failure",
    )
    faults = table(
        ("fault", "injected"),
        [[code(name), _n(count)] for name, count in results["faults_by_kind"].items()],
    )
    invariants = ", ".join(code(name) for name in results["invariants"])
    return (
        table(columns, [row])
        + f"Invariants checked: {invariants}. "
        + _measured(results)
        + "\n\nFaults by kind:\n"
        + faults
    )


def _calls(calls: Mapping[str, Any]) -> str:
    made = ", ".join(f"{n} {code(a)}" for a, n in calls["by_action"].items() if "Describe" not in a)
    throttled = sum(calls["throttled"].values())
    return (made or "none") + (f" ({throttled} throttled, sent again)" if throttled else "")


def _enforcement(results: Results) -> str:
    rows = [
        [
            _n(run["tenants"]),
            _n(run["endpoints"]),
            _n(run["transit_vpcs"]),
            f"{run['crossing_to_all_closed_seconds']:g} s",
            f"{run['crossing_to_quota_blocked_seconds']:g} s",
            _calls(run["block_aws_calls"]),
            f"{run['hour_to_all_reopened_seconds']:g} s",
            _calls(run["reopen_aws_calls"]),
        ]
        for run in results["results"]
    ]
    columns = (
        "tenants",
        "endpoints",
        "transit VPCs",
        "crossing → every endpoint closed",
        "→ quota says blocked",
        "block's calls",
        "top of the hour → every endpoint open",
        "reopen's calls",
    )
    metering = results["results"][0]["metering_interval_seconds"] if results["results"] else 0
    return (
        table(columns, rows)
        + f"Under EC2's documented request buckets (enforced by the sandbox); metering "
        f"interval {metering:g} s. " + _measured(results) + "\n"
    )


_RENDERERS: dict[str, tuple[str, Callable[[Results], str]]] = {
    "enforcement.md": ("results-enforcement.json", _enforcement),
    "outbound.md": ("results-outbound.json", _outbound),
    "throttled.md": ("results-throttled.json", _throttled),
    "inbound.md": ("results-inbound.json", _inbound),
    "metering.md": ("results-metering.json", _metering),
    "failover.md": ("results-failover.json", _failover),
    "restart.md": ("results-restart.json", _restart),
    "placement.md": ("results-placement.json", _placement),
    "campaign.md": ("results-campaign.json", _campaign),
}
SNIPPETS = tuple(_RENDERERS)


def renderer(name: str) -> Callable[[Path], str]:
    """How to render one snippet from the repository root."""
    source, render = _RENDERERS[name]

    def from_root(root: Path) -> str:
        results = json.loads((root / "bench" / source).read_text(encoding="utf-8"))
        return header(f"bench/{source}") + render(results)

    return from_root
