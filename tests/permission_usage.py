"""Over the whole end-to-end suite, the operator's permissions are held to what it
really does: every Kubernetes request it makes must be granted by the chart's
operator ClusterRole (bound cluster-wide) or its Secrets ClusterRole (bound in tenant
namespaces only: a Secrets request across all namespaces is refused), and every AWS
call by the IAM policy (checked after any run). When the whole suite ran and passed,
every permission granted must also have been used (a grant nothing needs is a grant
to remove).

The suite runs in pytest-xdist workers, each seeing only its share of the requests:
a worker hands what it saw to the controller (`workeroutput`), which judges the
union once every worker is done. Without workers (`-n 0`) the one
process judges what it saw itself. A failing judgement fails the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from causeway.aws.policy import actions_of, policy_document
from causeway.config import load_config
from causeway.sandbox import usage
from causeway.sandbox.usage import KubeAccess

ROOT = Path(__file__).parents[1]
E2E = ROOT / "tests" / "e2e"
INSTALL = ROOT / "deploy" / "install.yaml"
EXAMPLE_CONFIG = ROOT / "seeds" / "config.example.yaml"
OPERATOR_ROLE = "causeway-causeway-system-operator"  # a ClusterRole bound cluster-wide
SECRETS_ROLE = "causeway-causeway-system-secrets"  # a ClusterRole bound per tenant namespace
# The Role for the leader-election Lease, in the release namespace only (the sandbox does
# not model namespaces in RBAC: its Lease requests are held to the Role's rules).
LEASE_ROLE = "causeway-leader-election"
# Needs no permission: AWS answers GetCallerIdentity for every principal.
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}
WORKER_OUTPUT_KEY = "causeway_permission_usage"

_seen_by_workers: dict[str, set[Any]] = {"kube": set(), "aws": set()}
_problems: list[str] = []


def role_grants(kind: str, name: str, *, everywhere: bool) -> set[KubeAccess]:
    """A role's rules (as installed by deploy/install.yaml, which a test keeps equal to
    the chart), one permission per group, resource, verb, and scope: in one namespace,
    and (`everywhere`: bound cluster-wide) across all of them."""
    documents = [d for d in yaml.safe_load_all(INSTALL.read_text()) if d]
    roles = [d for d in documents if (d["kind"], d["metadata"]["name"]) == (kind, name)]
    assert roles, f"{kind} {name} is missing from install.yaml"
    grants: set[KubeAccess] = set()
    for rule in (rule for role in roles for rule in role["rules"]):
        assert "*" not in (*rule["apiGroups"], *rule["resources"], *rule["verbs"]), rule
        grants |= {
            KubeAccess(group, resource, verb, scope)
            for group in rule["apiGroups"]
            for resource in rule["resources"]
            for verb in rule["verbs"]
            for scope in ((False, True) if everywhere else (False,))
        }
    return grants


def operator_role_grants() -> set[KubeAccess]:
    return (
        role_grants("ClusterRole", OPERATOR_ROLE, everywhere=True)
        | role_grants("ClusterRole", SECRETS_ROLE, everywhere=False)
        | role_grants("Role", LEASE_ROLE, everywhere=False)
    )


def policy_actions() -> set[str]:
    return actions_of(policy_document(load_config(str(EXAMPLE_CONFIG))))


def whole_suite_ran(session: pytest.Session) -> bool:
    """Every e2e test was selected (no -k, -m, node ids or files) and all passed."""
    config = session.config
    selected_all = not config.option.keyword and not config.option.markexpr
    args = [Path(arg).resolve() for arg in config.args or ["."]]
    by_directory = all(arg.is_dir() for arg in args)
    covers_e2e = any(E2E.is_relative_to(arg) for arg in args)
    return selected_all and by_directory and covers_e2e and session.testsfailed == 0


def explain(kind: str, items: set[Any]) -> str:
    return f"{kind}:\n  " + "\n  ".join(sorted(map(str, items)))


def judge(made: set[KubeAccess], called: set[str], *, whole_suite: bool) -> list[str]:
    """What is wrong with the permissions, given what the operator was seen to do."""
    granted, allowed = operator_role_grants(), policy_actions()
    called = called - NO_PERMISSION_NEEDED
    problems = []
    if made - granted:
        problems.append(
            explain("Kubernetes requests the operator's ClusterRoles lack", made - granted)
        )
    if called - allowed:
        problems.append(explain("AWS calls the IAM policy lacks", called - allowed))
    if whole_suite:
        unused = {g.permission for g in granted} - {m.permission for m in made}
        if unused:
            problems.append(explain("ClusterRole grants the operator never used", unused))
        if allowed - called:
            problems.append(
                explain("IAM policy actions the operator never called", allowed - called)
            )
    return problems


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workeroutput")


def _is_controller(config: pytest.Config) -> bool:
    return config.pluginmanager.hasplugin("dsession")


@pytest.hookimpl(optionalhook=True)  # an xdist hook: absent without xdist
def pytest_testnodedown(node: Any, error: Any) -> None:
    """A worker is done (controller): keep what it saw."""
    seen = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
    if seen:
        _seen_by_workers["kube"] |= {KubeAccess(*access) for access in seen["kube"]}
        _seen_by_workers["aws"] |= set(seen["aws"])


@pytest.hookimpl(trylast=True)  # after the session's fixtures (real clusters' audit logs)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if _is_worker(config):
        config.workeroutput[WORKER_OUTPUT_KEY] = {  # type: ignore[attr-defined]
            "kube": [[a.group, a.resource, a.verb, a.everywhere] for a in usage.kube_accesses()],
            "aws": sorted(usage.aws_actions()),
        }
        return
    if _is_controller(config):
        made, called = _seen_by_workers["kube"], _seen_by_workers["aws"]
    else:
        made, called = usage.kube_accesses(), usage.aws_actions()
    _problems[:] = judge(made, called, whole_suite=whole_suite_ran(session))
    if _problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _problems:
        terminalreporter.section("operator permissions", red=True)
        for problem in _problems:
            terminalreporter.write_line(problem)
