"""`causeway status -o json` against the real API server: each operator replica (a pod
in the namespace of a leader-election Lease) with whether it leads and whether its
index is synced (its Ready condition, which its readiness probe answers only then).
No kubelet runs here, so the pods' status is written as a kubelet would."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from causeway.cli import main
from realkube.cluster import HttpClient
from realkube.session import RealCluster

NAMESPACE = "causeway-replicas"
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"


@pytest.fixture(scope="module")
def admin(real_cluster: RealCluster) -> Iterator[HttpClient]:
    client = HttpClient(real_cluster.admin)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    client.call("POST", "/api/v1/namespaces", namespace)
    # A pod needs its service account, which the controller-manager makes in its time.
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "operator"}}
    client.call("POST", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts", account)
    yield client
    client.call("DELETE", f"/api/v1/namespaces/{NAMESPACE}", missing_ok=True)


def operator_pod(admin: HttpClient, name: str, ready: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "causeway"}},
        "spec": {
            "serviceAccountName": "operator",
            "automountServiceAccountToken": False,
            "containers": [{"name": "operator", "image": "causeway:test"}],
        },
    }
    admin.call("POST", PODS, pod)
    status = {
        "status": {
            "startTime": "2026-12-06T10:00:00Z",
            "conditions": [
                {"type": "Ready", "status": ready, "lastTransitionTime": "2026-12-06T10:00:05Z"}
            ],
        }
    }
    admin.call(
        "PATCH",
        f"{PODS}/{name}/status",
        status,
        content_type="application/strategic-merge-patch+json",
    )


def test_status_lists_each_replica_with_its_role_and_sync_state(
    real_cluster: RealCluster,
    admin: HttpClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "causeway-leader", "labels": {"causeway.dev/role": "leader-election"}},
        "spec": {
            "holderIdentity": "causeway-a_0a1b2c3d",
            "leaseDurationSeconds": 15,
            "renewTime": "2026-12-06T10:00:06.000000Z",
        },
    }
    admin.call("POST", f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases", lease)
    operator_pod(admin, "causeway-a", "True")
    operator_pod(admin, "causeway-b", "False")

    monkeypatch.setenv("KUBECONFIG", str(real_cluster.admin_kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert main(["status", "-A", "-o", "json"]) == 0
    replicas = json.loads(capsys.readouterr().out)["replicas"]
    assert [(r["pod"], r["leads"], r["synced"], r["syncedSince"]) for r in replicas] == [
        (f"{NAMESPACE}/causeway-a", True, True, "2026-12-06T10:00:05Z"),
        (f"{NAMESPACE}/causeway-b", False, False, None),
    ]

    assert main(["status", "-A"]) == 0
    out = capsys.readouterr().out
    assert f"Replica {NAMESPACE}/causeway-a: leads, index synced" in out
    assert f"Replica {NAMESPACE}/causeway-b: stands by, index not synced yet (started" in out
