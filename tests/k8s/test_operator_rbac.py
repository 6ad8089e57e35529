"""The operator's ServiceAccount, authenticated with a real token, is held by the real
API server to the roles deploy/install.yaml grants: no Secret outside the tenant
namespaces an admin bound it in, no cluster-wide Secret list, and none of the
admin-owned objects a tenant's quota or another operator's state would need."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from causeway.sandbox.kube import KubeSandboxError
from realkube.cluster import HttpClient
from realkube.session import RealCluster, onboard_tenant

TENANT, STRANGER = "rbac-tenant", "rbac-stranger"


@pytest.fixture(scope="module")
def cluster(real_cluster: RealCluster) -> Iterator[RealCluster]:
    admin = HttpClient(real_cluster.admin)
    for name in (TENANT, STRANGER):
        admin.call(
            "POST",
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        )
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}}
        admin.call("POST", f"/api/v1/namespaces/{name}/secrets", secret)
    onboard_tenant(real_cluster.backend([], [TENANT], record_usage=False), TENANT)
    yield real_cluster
    for name in (TENANT, STRANGER):
        admin.call("DELETE", f"/api/v1/namespaces/{name}", missing_ok=True)


def operator(cluster: RealCluster) -> HttpClient:
    assert cluster.operator is not None
    return HttpClient(cluster.operator)


def status_of(client: HttpClient, path: str, method: str = "GET") -> int:
    try:
        client.call(method, path, {} if method == "POST" else None)
    except KubeSandboxError as refused:
        return refused.status
    return 200


def test_the_operator_reads_secrets_only_where_a_tenant_was_onboarded(
    cluster: RealCluster,
) -> None:
    client = operator(cluster)
    assert status_of(client, f"/api/v1/namespaces/{TENANT}/secrets/creds") == 200
    assert status_of(client, f"/api/v1/namespaces/{STRANGER}/secrets/creds") == 403
    assert status_of(client, "/api/v1/namespaces/kube-system/secrets") == 403
    assert status_of(client, "/api/v1/secrets") == 403  # no cluster-wide list or watch


def test_the_operator_cannot_touch_what_admins_own(cluster: RealCluster) -> None:
    client = operator(cluster)
    quota = f"/apis/causeway.dev/v1alpha1/namespaces/{TENANT}/connectionquotas"
    assert status_of(client, quota, "POST") == 403  # reads quotas, never writes them
    assert status_of(client, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions") == 403
    assert status_of(client, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{TENANT}/roles") == 403
