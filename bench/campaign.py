"""Benchmark: the long fault campaign. Seeds run one after another (each a fresh
sandbox and the real operator process), with fault rates above the CI campaign's,
until at least --min-kills SIGKILLs and --min-faults injected faults are reached
(or --max-seeds, or --max-minutes). An invariant failing stops the run; the figures
of the seeds that passed are written with the failure (seed, step, what broke).

Reports kills survived, faults by kind, invariant checks passed, and the time to
converge after the faults stop (median / max over every quiet period), per seed and
in all. The figures are written to a JSON file; nothing here asserts on timing.

    uv run python bench/campaign.py                 # about an hour on 2 cores
    uv run python bench/campaign.py --first-seed 100 --min-kills 20 --min-faults 500
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from causeway.sandbox.campaign import Campaign, InvariantViolationError, Report, Settings
from causeway.sandbox.campaign.invariants import CHECKS


def settings(seed: int, steps: int) -> Settings:
    """Rougher than CI (Settings.roughly): shorter pauses, faults on a larger share of
    every request; replay a seed with `python -m causeway.sandbox.campaign --rough`."""
    return Settings(seed=seed, steps=steps, quiet_every=20, kill_rate=0.35).roughly()


def totals(reports: list[Report], seconds: float) -> dict[str, Any]:
    faults: Counter[str] = Counter()
    for one in reports:
        faults.update(one.faults)
    converge = [s for one in reports for s in one.converge_seconds]
    return {
        "seeds": [one.seed for one in reports],
        "steps": sum(one.steps for one in reports),
        "kills_survived": sum(one.kills for one in reports),
        "faults_injected": sum(faults.values()),
        "faults_by_kind": dict(sorted(faults.items())),
        "invariants": [check.__name__ for check in CHECKS],
        "invariant_checks_passed": sum(one.checks_passed for one in reports),
        "quiet_periods": sum(one.quiet_periods for one in reports),
        "converge_seconds": {
            "median": round(statistics.median(converge), 1) if converge else None,
            "max": max(converge, default=None),
        },
        "wall_seconds": round(seconds),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=120, help="steps per seed")
    parser.add_argument("--min-kills", type=int, default=200)
    parser.add_argument("--min-faults", type=int, default=5000)
    parser.add_argument("--max-seeds", type=int, default=40)
    parser.add_argument(
        "--max-minutes", type=float, default=60, help="start no new seed after this long"
    )
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).with_name("results-campaign.json")
    )
    args = parser.parse_args()
    reports: list[Report] = []
    failed: str | None = None
    started = time.monotonic()
    for seed in range(args.first_seed, args.first_seed + args.max_seeds):
        workdir = Path(tempfile.mkdtemp(prefix=f"causeway-campaign-{seed}-"))
        try:
            reports.append(Campaign(settings(seed, args.steps), workdir, say=print).run())
        except InvariantViolationError as failure:
            sys.stderr.write(f"{failure}\n")
            failed = str(failure)
            break
        done = totals(reports, time.monotonic() - started)
        if done["kills_survived"] >= args.min_kills and done["faults_injected"] >= args.min_faults:
            break
        if time.monotonic() - started > args.max_minutes * 60:
            sys.stdout.write("time is up before the targets were reached\n")
            break
    result = totals(reports, time.monotonic() - started)
    result["per_seed"] = [one.as_dict() for one in reports]
    result["failure"] = failed
    sys.stdout.write(json.dumps({k: v for k, v in result.items() if k != "per_seed"}, indent=2))
    header = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "poll_interval_seconds": 1.0,
    }
    args.output.write_text(json.dumps({**header, **result}, indent=2) + "\n")
    return 0 if failed is None else 1


if __name__ == "__main__":
    sys.exit(main())
