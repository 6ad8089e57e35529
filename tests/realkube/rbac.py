"""RBAC helpers for tests on the real API server: bind a user to a ClusterRole in one
namespace, and wait until the authorizer acts on a new binding (its informer caches
lag a write by a moment, and the aggregation controller folds aggregated rules into
`edit`/`view` on its own schedule), so a test never reads a 403 that is only a race."""

from __future__ import annotations

import time

from realkube.cluster import HttpClient

RBAC_API = "/apis/rbac.authorization.k8s.io/v1"
ALLOWED_TIMEOUT = 60.0


def bind_user(admin: HttpClient, namespace: str, user: str, cluster_role: str) -> None:
    """A RoleBinding of `user` to `cluster_role` in `namespace`."""
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": f"{user}-{cluster_role}", "namespace": namespace},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": cluster_role,
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }
    admin.call("POST", f"{RBAC_API}/namespaces/{namespace}/rolebindings", binding)


def allowed(client: HttpClient, verb: str, group: str, resource: str, namespace: str) -> bool:
    """Whether the API server would let `client` do this now (SelfSubjectAccessReview)."""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {
                "verb": verb,
                "group": group,
                "resource": resource,
                "namespace": namespace,
            }
        },
    }
    answer = client.call("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
    return bool((answer or {}).get("status", {}).get("allowed"))


def wait_until_allowed(
    client: HttpClient, verb: str, group: str, resource: str, namespace: str
) -> None:
    deadline = time.monotonic() + ALLOWED_TIMEOUT
    while not allowed(client, verb, group, resource, namespace):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{verb} {resource} in {namespace} was still not allowed after {ALLOWED_TIMEOUT:g}s"
            )
        time.sleep(0.1)
