"""What the operator asked of the sandbox's two APIs, recorded for the whole process:
its Kubernetes requests as RBAC sees them (verb, API group, resource[/subresource])
and its AWS calls as IAM sees them (service:Operation). The tests hold the chart's
ClusterRole and the IAM policy to exactly these.

The operator is told apart from the test harness by its User-Agent: kopf's own, and
the one Causeway's Kubernetes clients send. On a real cluster the ServiceAccount is
what RBAC checks; here there is no authentication, so the agent stands in for it."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from causeway.aws.session import CallRecord
from causeway.kube.client import USER_AGENT

OPERATOR_AGENTS = ("kopf/", USER_AGENT.split("/")[0] + "/")


@dataclass(frozen=True, order=True)
class KubeAccess:
    """One RBAC permission a request needs. `everywhere`: the request spans namespaces
    (a list or watch of all of them), which only a ClusterRoleBinding grants; a request
    in one namespace is also granted by a RoleBinding there."""

    group: str
    resource: str  # plural, or plural/subresource
    verb: str
    everywhere: bool = False

    def __str__(self) -> str:
        scope = " in all namespaces" if self.everywhere else ""
        return f"{self.verb} {self.resource}.{self.group or 'core'}{scope}"

    @property
    def permission(self) -> KubeAccess:
        """The same permission, whatever the scope."""
        return KubeAccess(self.group, self.resource, self.verb)


_lock = threading.Lock()
_kube: set[KubeAccess] = set()
_aws: set[str] = set()


def rbac_verb(method: str, params: Mapping[str, str], named: bool) -> str:
    """The RBAC verb the API server checks for an HTTP request on a resource."""
    if method == "GET":
        if params.get("watch") in ("true", "1"):
            return "watch"
        return "get" if named else "list"
    if method == "DELETE":
        return "delete" if named else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}[method]


def record_kube(
    agent: str,
    method: str,
    params: Mapping[str, str],
    *,
    group: str,
    resource: str,
    named: bool,
    everywhere: bool = False,
) -> None:
    if agent.startswith(OPERATOR_AGENTS):
        access = KubeAccess(group, resource, rbac_verb(method, params, named), everywhere)
        with _lock:
            _kube.add(access)


def record_accesses(accesses: set[KubeAccess]) -> None:
    """Requests seen elsewhere: a real API server's audit log of the operator's
    ServiceAccount (the tests' real-cluster backend)."""
    with _lock:
        _kube.update(accesses)


# boto3 service names whose IAM prefix differs.
_IAM_PREFIX = {"service-quotas": "servicequotas"}


def record_aws(record: CallRecord) -> None:
    """A ClientFactory listener for the operator's clients."""
    with _lock:
        _aws.add(f"{_IAM_PREFIX.get(record.service, record.service)}:{record.operation}")


def kube_accesses() -> set[KubeAccess]:
    with _lock:
        return set(_kube)


def aws_actions() -> set[str]:
    with _lock:
        return set(_aws)
