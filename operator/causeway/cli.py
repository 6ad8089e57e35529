"""The `causeway` command: run the operator, run the self-contained demo, generate
or check the CRDs, and validate an operator config file.

Every problem a user can cause ends as one line on stderr starting `causeway:`
and an exit code: 2 for bad input (arguments, config, kubeconfig, missing CRDs),
1 when something needed did not answer, 130 when interrupted."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, TypeAlias

from causeway import __version__
from causeway.config import CONFIG_ENV, load_config
from causeway.crdgen import check_crds, write_crds
from causeway.logs import configure
from causeway.problems import UnavailableError, UserError

EXIT_BAD_INPUT = UserError.exit_code
EXIT_INTERRUPTED = 130
DEMO_TIMEOUT_MAX = 3600.0
STARTUP_TIMEOUT_MAX = 3600.0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure(getattr(args, "verbose", 0), json_lines=getattr(args, "log_format", "") == "json")
    try:
        return int(args.command(args))
    except (UserError, UnavailableError) as exc:
        sys.stderr.write(f"causeway: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse prints the usage block too)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"causeway: {message} (see `{self.prog} --help`)\n")


_Commands: TypeAlias = "argparse._SubParsersAction[_Parser]"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="causeway",
        description="Managed AWS PrivateLink connections for multi-tenant Kubernetes platforms.",
    )
    parser.add_argument("--version", action="version", version=f"causeway {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    _add_run(commands)
    _add_demo(commands)
    _add_crds(commands)
    check = commands.add_parser("check-config", help="validate an operator config file")
    check.add_argument("path", nargs="?", help=f"config file (default: ${CONFIG_ENV})")
    check.set_defaults(command=_check_config)
    return parser


def _add_verbosity(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v: Causeway's debug lines; -vv: every library's too (very noisy)",
    )


def _add_run(commands: _Commands) -> None:
    run = commands.add_parser("run", help="run the operator against the current cluster")
    run.add_argument("--config", help=f"operator config file (default: ${CONFIG_ENV})")
    run.add_argument(
        "--liveness", metavar="URL", help="serve a liveness probe, e.g. http://0.0.0.0:8080/healthz"
    )
    run.add_argument(
        "--startup-timeout",
        type=_seconds("--startup-timeout", STARTUP_TIMEOUT_MAX),
        default=60.0,
        metavar="SECONDS",
        help="how long to wait for the Kubernetes API at start before giving up (default 60)",
    )
    run.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="log line format"
    )
    _add_verbosity(run)
    run.set_defaults(command=_run)


def _add_demo(commands: _Commands) -> None:
    demo = commands.add_parser(
        "demo", help="run the operator in an embedded sandbox (no cluster or AWS account needed)"
    )
    demo.add_argument(
        "--timeout",
        type=_seconds("--timeout", DEMO_TIMEOUT_MAX),
        default=90.0,
        metavar="SECONDS",
        help="give up after this many seconds (default 90)",
    )
    demo.add_argument("--seeds", metavar="DIR", help="seed manifests (default: the bundled ones)")
    _add_verbosity(demo)
    demo.set_defaults(command=_demo)


def _add_crds(commands: _Commands) -> None:
    crds = commands.add_parser("crds", help="write the CRDs generated from the API models")
    crds.add_argument(
        "--output", metavar="DIR", help="directory to write (default: ./crds, which must exist)"
    )
    crds.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 on any difference"
    )
    crds.set_defaults(command=_crds)


def _seconds(option: str, maximum: float) -> argparse._ActionType:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= maximum):
            raise argparse.ArgumentTypeError(
                f"{option} {text!r}: expected a number of seconds between 0 and {maximum:g}"
            )
        return value

    return parse


def _run(args: argparse.Namespace) -> int:
    from causeway.startup import RunOptions, run  # noqa: PLC0415 - keep --help fast

    return run(RunOptions(args.config, args.liveness, args.startup_timeout))


def _demo(args: argparse.Namespace) -> int:
    sys.stdout.write("causeway demo: starting the embedded sandbox (Kubernetes API + AWS)…\n")
    sys.stdout.flush()
    try:
        from causeway.sandbox.demo import run_demo  # noqa: PLC0415 - heavy imports
    except ImportError as exc:
        sys.stderr.write(
            f"causeway: the demo needs the sandbox extra ({exc.name} is missing): "
            "pip install 'causeway[sandbox]'\n"
        )
        return EXIT_BAD_INPUT
    return run_demo(timeout=args.timeout, verbose=args.verbose > 0, seeds=args.seeds)


def _crds(args: argparse.Namespace) -> int:
    if args.check:
        problems = check_crds(args.output)
        for problem in problems:
            sys.stderr.write(f"causeway: {problem}\n")
        return 1 if problems else 0
    sys.stdout.write(write_crds(args.output) + "\n")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    config = load_config(args.path)
    source = args.path or os.environ.get(CONFIG_ENV, "")
    sys.stdout.write(f"config OK: {source}; poll every {config.pollInterval.total_seconds():g}s\n")
    for line in config.capabilities_summary():
        sys.stdout.write(f"  {line}\n")
    return 0
