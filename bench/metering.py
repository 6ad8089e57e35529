"""Benchmark: one metering cycle at N metered endpoints (the real MeteringController,
its CloudWatch reads and per-tenant sums) against the sandbox's CloudWatch, which
runs in a child process so this process's memory is the operator side's alone.

The region's view is filled with N available endpoints of `--tenants` tenants (as a
region listing would leave it), CloudWatch holds a few hours of BytesProcessed for
each, and one cycle runs, then a second one (steady state).

Reports, per N: GetMetricData calls (must be at most ceil(N/500)), metrics requested
(what CloudWatch bills), the calls the sandbox received, wall time of each cycle,
peak RSS of this process (before the cycles and after), and the monthly list-price
cost of metering that many endpoints at the default interval, and the peak of what
one cycle allocates (tracemalloc, a third cycle). The figures are written to a JSON
file; nothing here asserts on timing.

    uv run python bench/metering.py                 # N = 1000 and 10000 (~1 min)
                                                    # (from the repository's root)
    uv run python bench/metering.py --sizes 500 --output /tmp/metering.json
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import resource
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import boto3
import kubernetes

from causeway.aws.metrics import BATCH
from causeway.aws.session import ClientFactory
from causeway.config import parse_config
from causeway.controllers.metering import MeteringController
from causeway.controllers.observation import RegionObservation
from causeway.domain import Endpoint
from causeway.kube import KubeApi
from causeway.runtime import Runtime
from common import REGION, run_all

SERVICE = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
HOURS_OF_DATA = 3
PRICE_PER_1000_METRICS = 0.01  # GetMetricData, USD, us-east-1 list price
SECONDS_PER_MONTH = 30 * 24 * 3600
NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)


def endpoint_id(i: int) -> str:
    return f"vpce-{i:017x}"


def serve_cloudwatch(n: int, pipe: Connection) -> None:
    """The child: a sandbox whose CloudWatch holds each endpoint's bytes; answers the
    parent's questions until told to stop."""
    # Imported here: moto stays out of the parent, whose memory is what is measured.
    from causeway.sandbox.aws import AwsSandbox  # noqa: PLC0415

    with AwsSandbox(region=REGION) as sandbox:
        platform = sandbox.create_platform(REGION)
        cloudwatch = sandbox.client("cloudwatch", REGION)
        data = []
        for i in range(n):
            for hour in range(HOURS_OF_DATA):
                data.append(
                    {
                        "MetricName": "BytesProcessed",
                        "Dimensions": [
                            {"Name": "Endpoint Type", "Value": "Interface"},
                            {"Name": "Service Name", "Value": SERVICE},
                            {"Name": "VPC Endpoint Id", "Value": endpoint_id(i)},
                            {"Name": "VPC Id", "Value": platform["transitVpcId"]},
                        ],
                        "Timestamp": NOW - timedelta(hours=hour),
                        "Value": float(1_000_000 * (i % 7 + 1)),
                        "Unit": "Bytes",
                    }
                )
        for start in range(0, len(data), 1000):
            cloudwatch.put_metric_data(
                Namespace="AWS/PrivateLinkEndpoints", MetricData=data[start : start + 1000]
            )
        sandbox.reset_call_counts()
        pipe.send((sandbox.endpoint_url, platform))
        while (question := pipe.recv()) != "stop":
            if question == "counts":
                pipe.send((sandbox.call_counts(), sandbox.metrics_requested()))
                sandbox.reset_call_counts()


def runtime_for(n: int, tenants: int, endpoint_url: str, platform: dict[str, Any]) -> Runtime:
    config = parse_config({"regions": {REGION: platform}}, source="bench config")

    def session() -> boto3.Session:
        return boto3.Session(
            aws_access_key_id="bench", aws_secret_access_key="bench", region_name=REGION
        )

    kube = kubernetes.client.Configuration()
    kube.host = "http://127.0.0.1:9"  # never called: no ConnectionQuota, nothing to write
    runtime = Runtime(
        config=config,
        clients=ClientFactory(session, endpoint_url=endpoint_url),
        kube=KubeApi(kube),
        clock=lambda: NOW,
    )
    endpoints = tuple(
        Endpoint(
            endpoint_id(i),
            "available",
            SERVICE,
            owner_uid=f"uid-{i}",
            owner_namespace=f"tenant-{i % tenants:04d}",
        )
        for i in range(n)
    )
    runtime.views[REGION].listed(RegionObservation(runtime.monotonic(), endpoints, None))
    runtime.index.ready.set()
    return runtime


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_size(n: int, tenants: int) -> dict[str, Any]:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve_cloudwatch, args=(n, child), daemon=True
    )
    server.start()
    try:
        endpoint_url, platform = parent.recv()
        runtime = runtime_for(n, tenants, endpoint_url, platform)
        controller = MeteringController(runtime)
        rss_before = peak_rss_mib()
        cycles = []
        for _ in range(2):
            started = time.monotonic()
            cycle = asyncio.run(controller.cycle())
            seconds = time.monotonic() - started
            parent.send("counts")
            counts, metrics = parent.recv()
            cycles.append((cycle, seconds, counts, metrics))
        rss_after = peak_rss_mib()
        tracemalloc.start()  # a third cycle, traced: what one cycle allocates at its peak
        asyncio.run(controller.cycle())
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        parent.send("counts")
        parent.recv()
        used = runtime.meter.reading("tenant-0000", NOW).usage
    finally:
        parent.send("stop")
        server.join(30)
    first, _, counts, metrics = cycles[0]
    interval = runtime.config.metering.interval.total_seconds()
    monthly_metrics = first.metrics * SECONDS_PER_MONTH / interval
    return {
        "endpoints": n,
        "tenants": tenants,
        "get_metric_data_calls": first.calls,
        "get_metric_data_calls_limit": math.ceil(n / BATCH),
        "metrics_requested": first.metrics,
        "sandbox_saw": {"calls": counts, "metrics_requested": metrics},
        "first_cycle_seconds": round(cycles[0][1], 2),
        "second_cycle_seconds": round(cycles[1][1], 2),
        "peak_rss_mib_before_cycles": round(rss_before, 1),
        "peak_rss_mib_after_cycles": round(rss_after, 1),
        "cycle_python_allocations_peak_mib": round(traced_peak / 2**20, 1),
        "tenant_0000_bytes_today": used.day if used else None,
        "metering_interval_seconds": interval,
        "monthly_metrics_requested": round(monthly_metrics),
        "monthly_cost_usd_at_list_price": round(monthly_metrics / 1000 * PRICE_PER_1000_METRICS, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--output", type=Path, default=Path("bench/results-metering.json"))
    args = parser.parse_args()
    return run_all(args.sizes, lambda n: run_size(n, args.tenants), args.output)


if __name__ == "__main__":
    raise SystemExit(main())
