"""The `causeway` command: run the operator, run the self-contained demo, generate
or check the CRDs, and validate an operator config file."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from causeway.config import CONFIG_ENV, ConfigError, load_config
from causeway.crdgen import crd_files

DEFAULT_CRD_DIR = Path("crds")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    try:
        return int(args.command(args))
    except ConfigError as exc:
        sys.stderr.write(f"causeway: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="causeway",
        description="Managed AWS PrivateLink connections for multi-tenant Kubernetes platforms.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the operator against the current cluster")
    run.add_argument("--config", help=f"operator config file (default: ${CONFIG_ENV})")
    run.add_argument(
        "--liveness",
        metavar="URL",
        help="serve a liveness probe, e.g. http://0.0.0.0:8080/healthz",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    run.set_defaults(command=_run)

    demo = commands.add_parser(
        "demo", help="run the operator in an embedded sandbox (no cluster or AWS account needed)"
    )
    demo.add_argument("--timeout", type=float, default=90.0, help="give up after this many seconds")
    demo.add_argument("-v", "--verbose", action="store_true", help="show the operator's logs")
    demo.set_defaults(command=_demo)

    crds = commands.add_parser("crds", help="write the CRDs generated from the API models")
    crds.add_argument("--output", type=Path, default=DEFAULT_CRD_DIR, help="directory (crds/)")
    crds.add_argument("--check", action="store_true", help="fail if the files differ")
    crds.set_defaults(command=_crds)

    check = commands.add_parser("check-config", help="validate an operator config file")
    check.add_argument("path", nargs="?", help=f"config file (default: ${CONFIG_ENV})")
    check.set_defaults(command=_check_config)
    return parser


def _run(args: argparse.Namespace) -> int:
    from causeway.aws.session import ClientFactory  # noqa: PLC0415 - keep --help fast
    from causeway.kube import KubeApi, load_configuration  # noqa: PLC0415
    from causeway.operator import run_operator  # noqa: PLC0415
    from causeway.runtime import Runtime  # noqa: PLC0415

    config = load_config(args.config)
    runtime = Runtime(config=config, clients=ClientFactory(), kube=KubeApi(load_configuration()))
    asyncio.run(run_operator(runtime, liveness_endpoint=args.liveness))
    return 0


def _demo(args: argparse.Namespace) -> int:
    try:
        from causeway.sandbox.demo import run_demo  # noqa: PLC0415
    except ImportError as exc:
        sys.stderr.write(
            f"causeway: the demo needs the sandbox extra ({exc.name} is missing): "
            "pip install 'causeway[sandbox]'\n"
        )
        return 2
    return run_demo(timeout=args.timeout, verbose=args.verbose)


def _crds(args: argparse.Namespace) -> int:
    output: Path = args.output
    stale = [name for name, text in crd_files().items() if _read(output / name) != text]
    if args.check:
        for name in stale:
            sys.stderr.write(f"causeway: {output / name} is out of date; run `causeway crds`\n")
        return 1 if stale else 0
    output.mkdir(parents=True, exist_ok=True)
    for name, text in crd_files().items():
        (output / name).write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {len(crd_files())} CRDs to {output}/ ({len(stale)} changed)\n")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    config = load_config(args.path)
    regions = ", ".join(sorted(config.regions))
    sys.stdout.write(
        f"config OK: regions {regions}; poll every {config.pollInterval.total_seconds():g}s\n"
    )
    return 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
