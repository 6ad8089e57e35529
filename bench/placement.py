"""Benchmark: the pure placement of a pass at scale (reconcile/placement.py), as the
region pass runs it: count every listed endpoint by VPC, then place each waiting
connection, oldest first. Pool of 200 VPCs of capacity 50 (10,000 endpoints); per
size N, the pass holds N-`waiting` endpoints and places `waiting` new ones.
The figures are written to a JSON file; nothing here asserts on timing.

    uv run python bench/placement.py
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from causeway.domain import Endpoint
from causeway.reconcile.placement import Placements, TransitVpc, usage

VPCS = 200
CAPACITY = 50
REPEATS = 5


def one_pass(pool: list[TransitVpc], listed: list[Endpoint], waiting: int) -> float:
    started = time.perf_counter()
    placements = Placements(usage(pool, listed))
    for _ in range(waiting):
        placements.take()
    return time.perf_counter() - started


def run_size(n: int, waiting: int) -> dict[str, Any]:
    pool = [TransitVpc(f"vpc-{i:08x}", CAPACITY) for i in range(VPCS)]
    held = n - waiting
    listed = [
        Endpoint(
            f"vpce-{i:017x}",
            "available",
            "svc",
            owner_uid=f"uid-{i}",
            vpc_id=pool[i // CAPACITY].vpc_id,
        )
        for i in range(held)
    ]
    times = [one_pass(pool, listed, waiting) for _ in range(REPEATS)]
    return {
        "connections": n,
        "endpoints_listed": held,
        "placed_in_the_pass": waiting,
        "transit_vpcs": VPCS,
        "placement_ms_per_pass_median": round(statistics.median(times) * 1000, 2),
        "placement_ms_per_pass_max": round(max(times) * 1000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=Path("bench/results-placement.json"))
    args = parser.parse_args()
    results = [run_size(n, waiting) for n in (1_000, 5_000, 10_000) for waiting in (0, 100, n // 2)]
    document = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "results": results,
    }
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    for result in results:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
