"""Benchmark: the long fault campaign. Seeds run one after another (each a fresh
sandbox and the real operator process), with fault rates above the CI campaign's,
until at least --min-kills SIGKILLs and --min-faults injected faults are reached
(or --max-seeds, or --max-minutes). An invariant failing stops the run; the figures
of the seeds that passed are written with the failure (seed, step, what broke).

Reports kills survived, faults by kind, invariant checks passed, and the time to
converge after the faults stop (median / max over every quiet period), per seed and
in all. The figures are written to a JSON file; nothing here asserts on timing.

    uv run python bench/campaign.py                 # about an hour on 2 cores
    uv run python bench/campaign.py --parallel 2    # two seeds at a time
    uv run python bench/campaign.py --first-seed 100 --min-kills 20 --min-faults 500

With --parallel N, N seeds run at once, each in its own process (the sandbox's fault
plan is process-wide): the operator spends most of a run waiting (restarts, polls,
pauses), so a second seed uses CPU the first leaves idle.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
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


def one_seed(seed: int, steps: int) -> Report | str:
    """Run one seed (in a worker process): its report, or the invariant failure."""
    workdir = Path(tempfile.mkdtemp(prefix=f"causeway-campaign-{seed}-"))
    try:
        return Campaign(settings(seed, steps), workdir, say=print).run()
    except InvariantViolationError as failure:
        return str(failure)


def run_seeds(args: argparse.Namespace) -> tuple[list[Report], str | None, float]:
    """Seeds in order, `args.parallel` at a time, until the targets are reached, the
    time is up, or an invariant fails (then no new seed starts; those running finish)."""
    reports: list[Report] = []
    failed: str | None = None
    started = time.monotonic()
    seeds = iter(range(args.first_seed, args.first_seed + args.max_seeds))
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(args.parallel, mp_context=context) as pool:
        running: set[concurrent.futures.Future[Report | str]] = set()

        def more_wanted() -> bool:
            in_time = time.monotonic() - started < args.max_minutes * 60
            return failed is None and not targets_reached(reports, args) and in_time

        while True:
            while len(running) < args.parallel and more_wanted():
                seed = next(seeds, None)
                if seed is None:
                    break
                running.add(pool.submit(one_seed, seed, args.steps))
            if not running:
                break
            finished, running = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in finished:
                outcome = future.result()
                if isinstance(outcome, str):
                    sys.stderr.write(f"{outcome}\n")
                    failed = failed or outcome
                else:
                    reports.append(outcome)
    if failed is None and not targets_reached(reports, args):
        sys.stdout.write("time is up before the targets were reached\n")
    reports.sort(key=lambda one: one.seed)
    return reports, failed, time.monotonic() - started


def targets_reached(reports: list[Report], args: argparse.Namespace) -> bool:
    kills = sum(one.kills for one in reports)
    faults = sum(one.faults_total for one in reports)
    return kills >= args.min_kills and faults >= args.min_faults


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
    parser.add_argument("--parallel", type=int, default=1, help="seeds at a time")
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).with_name("results-campaign.json")
    )
    args = parser.parse_args()
    reports, failed, seconds = run_seeds(args)
    result = totals(reports, seconds)
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
