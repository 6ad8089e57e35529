"""`python -m causeway.sandbox.campaign [--seed N]`: run one fault campaign and print its
seed and figures; exit 1 (with the seed, the step and what broke) if an invariant
fails. Without --seed a random one is drawn, and printed first, so any run replays."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
from pathlib import Path

from causeway.sandbox.campaign.runner import Campaign, InvariantViolationError, Settings


def _say(line: str) -> None:
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m causeway.sandbox.campaign",
        description="Run the fault campaign against the sandbox: seeded workload, AWS and "
        "Kubernetes faults, SIGKILLs, invariants after every quiet period.",
    )
    parser.add_argument("--seed", type=int, help="replay this seed (default: a random one)")
    parser.add_argument("--steps", type=int, default=40, help="workload steps (default 40)")
    parser.add_argument(
        "--quiet-every", type=int, default=10, help="steps between invariant checks (default 10)"
    )
    parser.add_argument(
        "--kill-rate", type=float, default=0.35, help="chance of a SIGKILL after a step"
    )
    parser.add_argument(
        "--rough", action="store_true", help="the long benchmark's profile (more faults)"
    )
    parser.add_argument(
        "--standby",
        action="store_true",
        help="two replicas electing a leader: the leader is SIGKILLed or SIGTERMed",
    )
    parser.add_argument("--workdir", type=Path, help="where operator logs go (default: a temp dir)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every step")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    settings = Settings(
        seed=seed,
        steps=args.steps,
        quiet_every=args.quiet_every,
        kill_rate=args.kill_rate,
        standby=args.standby,
    )
    if args.rough:
        settings = settings.roughly()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix=f"causeway-campaign-{seed}-"))
    try:
        campaign = Campaign(settings, workdir, say=_say)
        campaign.verbose = args.verbose
        report = campaign.run()
    except InvariantViolationError as failure:
        sys.stderr.write(f"{failure}\n")
        return 1
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
