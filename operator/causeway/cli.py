"""The `causeway` command (also installed as the kubectl plugin `kubectl causeway`):
run the operator, run the self-contained demo, generate or check the CRDs, validate an
operator config file, list the regions tenants can use, and show a namespace's status.

Every problem a user can cause ends as one line on stderr starting `causeway:`
(`kubectl causeway:` for the plugin) and an exit code: 2 for bad input (arguments,
config, kubeconfig, missing CRDs), 1 when something needed did not answer, 130 when
interrupted."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, TypeAlias

from causeway import __version__
from causeway.config import CONFIG_ENV, OperatorConfig, load_config
from causeway.crdgen import check_crds, write_crds
from causeway.logs import configure
from causeway.problems import UnavailableError, UserError

PROG = "causeway"
KUBECTL_PROG = "kubectl causeway"
EXIT_BAD_INPUT = UserError.exit_code
EXIT_INTERRUPTED = 130
DEMO_TIMEOUT_MAX = 3600.0
STARTUP_TIMEOUT_MAX = 3600.0
STATUS_TIMEOUT = 5.0


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """Run one command; `prog` is how the user invoked it (error lines start with it)."""
    args = _parser(prog).parse_args(argv)
    configure(getattr(args, "verbose", 0), json_lines=getattr(args, "log_format", "") == "json")
    try:
        return int(args.command(args))
    except (UserError, UnavailableError) as exc:
        sys.stderr.write(f"{prog}: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse prints the usage block too)."""

    def error(self, message: str) -> NoReturn:
        tool = KUBECTL_PROG if self.prog.startswith(KUBECTL_PROG) else PROG
        self.exit(EXIT_BAD_INPUT, f"{tool}: {message} (see `{self.prog} --help`)\n")


_Commands: TypeAlias = "argparse._SubParsersAction[_Parser]"


def _parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog,
        description="Managed AWS PrivateLink connections for multi-tenant Kubernetes platforms.",
    )
    parser.add_argument("--version", action="version", version=f"causeway {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    _add_run(commands)
    _add_demo(commands)
    _add_crds(commands)
    check = commands.add_parser("check-config", help="validate an operator config file")
    check.add_argument("path", nargs="?", help=f"config file (default: ${CONFIG_ENV})")
    check.add_argument(
        "--aws",
        action="store_true",
        help="also ask AWS (the SDK's usual credentials) whether each transit subnet and "
        "security group is in its entry's VPC, and each subnet of a VPC in an Availability "
        "Zone of its own (what the operator checks at start)",
    )
    check.set_defaults(command=_check_config)
    _add_regions(commands)
    _add_status(commands)
    _add_iam_policy(commands)
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
        "--metrics-address",
        metavar="HOST:PORT",
        help="serve Prometheus metrics, e.g. 0.0.0.0:9090 (default: not served)",
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
    _add_leader_election(run)
    _add_verbosity(run)
    run.set_defaults(command=_run)


def _add_leader_election(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--leader-elect",
        type=_boolean("--leader-elect"),
        nargs="?",
        const=True,
        default=True,
        metavar="true|false",
        help="elect one acting replica on a coordination.k8s.io Lease; the others stand by "
        "warm and take over when it stops (default true; false for a single replica)",
    )
    run.add_argument(
        "--leader-election-lease",
        default="causeway-leader",
        metavar="NAME",
        help="the Lease's name (default causeway-leader)",
    )
    run.add_argument(
        "--leader-election-namespace",
        metavar="NAMESPACE",
        help="the Lease's namespace (default: $POD_NAMESPACE, else the current namespace)",
    )


def _boolean(option: str) -> argparse._ActionType:
    def parse(text: str) -> bool:
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise argparse.ArgumentTypeError(f"{option} {text!r}: expected true or false")

    return parse


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

    return run(
        RunOptions(
            args.config,
            args.liveness,
            args.startup_timeout,
            args.metrics_address,
            leader_elect=args.leader_elect,
            lease_name=args.leader_election_lease,
            lease_namespace=args.leader_election_namespace,
        )
    )


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
    for name, region in sorted(config.regions.items()):
        sys.stdout.write(f"  {name}: {region.pool_summary()}\n")
    if not args.aws:
        return 0
    lines, notes = _pool_problems(config)
    for line in lines:
        sys.stderr.write(f"causeway: {line}\n")
    for note in notes:
        sys.stderr.write(f"causeway: warning: {note}\n")
    if not lines:
        sys.stdout.write(
            "  AWS: every transit subnet and group is where the config says, and each "
            "VPC's open rules fit in a tenant security group\n"
        )
    return 1 if lines else 0


def _pool_problems(config: OperatorConfig) -> tuple[list[str], list[str]]:
    """What AWS says is wrong with each region's transit pool (the operator's start-up
    check, asked from the command line): one line per problem, keyed by config path,
    and the warnings (little room for security groups, a move that may not fit)."""
    from causeway.aws.network import TransitNetwork  # noqa: PLC0415
    from causeway.aws.quotas import group_quotas  # noqa: PLC0415
    from causeway.aws.session import ClientFactory  # noqa: PLC0415
    from causeway.errors import AwsCallError  # noqa: PLC0415
    from causeway.reconcile.group_quotas import rule_problems, warnings  # noqa: PLC0415
    from causeway.reconcile.network import every_group, every_subnet  # noqa: PLC0415
    from causeway.reconcile.zones import pool_problems  # noqa: PLC0415

    clients, lines, notes = ClientFactory(), [], []
    for name, region in sorted(config.regions.items()):
        network = TransitNetwork(clients.client("ec2", name))
        try:
            facts = network.subnets(every_subnet(region))
            groups = network.group_vpcs(every_group(region))
            quotas = group_quotas(clients.client("service-quotas", name))
            in_region = network.region_groups()
        except AwsCallError as exc:
            lines.append(f"regions.{name}: could not ask AWS ({exc.code}: {exc.message})")
            continue
        subnets = {subnet: (fact.vpc_id, fact.zone_id) for subnet, fact in facts.items()}
        lines += [f"regions.{name}.{p}" for p in pool_problems(region, subnets, groups)]
        rules_of = {g: s.rules for g, s in in_region.items()}
        lines += [f"regions.{name}.{p}" for p in rule_problems(region, rules_of, quotas)]
        notes += [f"regions.{name}: {w}" for w in warnings(region, len(in_region), quotas)]
    return lines, notes


def _add_regions(commands: _Commands) -> None:
    regions = commands.add_parser(
        "regions",
        help="list the regions tenants can connect in, with what they allow-list and connect to",
    )
    regions.add_argument("--config", help=f"operator config file (default: ${CONFIG_ENV})")
    regions.add_argument(
        "-o", "--output", choices=("table", "json"), default="table", help="output format"
    )
    regions.add_argument(
        "--transit",
        action="store_true",
        help="for platform admins: each region's transit VPCs with their capacity "
        "(maxEndpoints, else the account's quota) and whether they are draining "
        "(`causeway status -A --config FILE` adds how many endpoints each holds)",
    )
    regions.set_defaults(command=_regions)


def _regions(args: argparse.Namespace) -> int:
    from causeway.report.regions import regions_json, regions_table  # noqa: PLC0415
    from causeway.report.transit import transit_json, transit_rows, transit_table  # noqa: PLC0415

    config = load_config(args.config)
    if args.transit:
        rows = transit_rows(config)
        text = json.dumps(transit_json(rows), indent=2) if args.output == "json" else None
        sys.stdout.write(text + "\n" if text else transit_table(rows))
        return 0
    if args.output == "json":
        sys.stdout.write(json.dumps(regions_json(config), indent=2) + "\n")
    else:
        sys.stdout.write(regions_table(config))
    return 0


def _add_iam_policy(commands: _Commands) -> None:
    policy = commands.add_parser(
        "iam-policy",
        help="print the IAM policy the operator's AWS role needs for a config",
        description="Exactly the EC2 and CloudWatch actions the operator calls, scoped to "
        "the config's transit VPCs, subnets, security groups and inbound services, and to "
        "endpoints carrying Causeway's owner tag.",
    )
    policy.add_argument("--config", help=f"operator config file (default: ${CONFIG_ENV})")
    policy.set_defaults(command=_iam_policy)


def _iam_policy(args: argparse.Namespace) -> int:
    from causeway.aws.policy import policy_document  # noqa: PLC0415 - keep --help fast

    sys.stdout.write(json.dumps(policy_document(load_config(args.config)), indent=2) + "\n")
    return 0


def _add_status(commands: _Commands) -> None:
    status = commands.add_parser(
        "status",
        help="show a namespace's connections and credentials, next steps and quota usage",
        description="Reads the cluster the way kubectl does (in-cluster service account, "
        "else KUBECONFIG or ~/.kube/config and its current context).",
    )
    where = status.add_mutually_exclusive_group()
    where.add_argument(
        "-n",
        "--namespace",
        help="the tenant namespace (default: the current context's namespace, else default)",
    )
    where.add_argument(
        "-A", "--all-namespaces", action="store_true", help="every namespace, with its name"
    )
    status.add_argument(
        "-o",
        "--output",
        choices=("table", "json"),
        default="table",
        help="output format (json: one document for scripts, described in the docs: operations)",
    )
    status.add_argument(
        "--request-timeout",
        type=_seconds("--request-timeout", STARTUP_TIMEOUT_MAX),
        default=STATUS_TIMEOUT,
        metavar="SECONDS",
        help=f"give up when the Kubernetes API does not answer within this (default "
        f"{STATUS_TIMEOUT:g})",
    )
    status.add_argument(
        "--config",
        help="for platform admins, with -A: the operator config, to add each transit VPC's "
        "endpoints held, capacity and draining",
    )
    status.set_defaults(command=_status)


def _status(args: argparse.Namespace) -> int:
    # Imported here: the kubernetes client is slow to import, and --help should not wait.
    from causeway.clock import utc_now  # noqa: PLC0415
    from causeway.kube import check_cluster, load_cluster  # noqa: PLC0415
    from causeway.kube.reader import (  # noqa: PLC0415
        current_namespace,
        list_leader_leases,
        list_objects,
        list_operator_pods,
    )
    from causeway.report.document import status_document  # noqa: PLC0415
    from causeway.report.leader import (  # noqa: PLC0415
        leader_entries,
        leader_lines,
        replica_entries,
        replica_lines,
    )
    from causeway.report.status import STATUS_KINDS, render_status  # noqa: PLC0415

    connection = load_cluster()
    check_cluster(
        connection, kinds=STATUS_KINDS, timeout=args.request_timeout, on_retry=lambda _: None
    )
    from causeway.api import OUTBOUND  # noqa: PLC0415
    from causeway.report.transit import transit_json, transit_rows, transit_table  # noqa: PLC0415

    if args.config and not args.all_namespaces:
        raise UserError("--config needs -A: transit capacity is counted over every namespace")
    config = load_config(args.config) if args.config else None
    namespace = None if args.all_namespaces else args.namespace or current_namespace()
    found = list_objects(connection, STATUS_KINDS, namespace, timeout=args.request_timeout)
    leases = list_leader_leases(connection, timeout=args.request_timeout)
    lease_namespaces = [str((lease.get("metadata") or {}).get("namespace", "")) for lease in leases]
    pods = list_operator_pods(connection, lease_namespaces, timeout=args.request_timeout)
    rows = transit_rows(config, found.get(OUTBOUND.plural, ())) if config else None
    if args.output == "json":
        document = status_document(found, namespace) | {
            "operator": leader_entries(leases),
            "replicas": replica_entries(leases, pods),
        }
        if rows is not None:
            document["transitVpcs"] = transit_json(rows)
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        now = utc_now()
        lines = leader_lines(leases, now) + replica_lines(leases, pods, now)
        sys.stdout.write(render_status(found, namespace, now))
        if lines:  # which replica acts, and which are synced (if this user may read them)
            sys.stdout.write("\n" + "\n".join(lines) + "\n")
        if rows is not None:
            sys.stdout.write("\nTransit VPCs\n" + transit_table(rows))
    return 0


def kubectl_plugin() -> int:
    """The `kubectl-causeway` script: kubectl runs it for `kubectl causeway ...`."""
    return main(prog=KUBECTL_PROG)
