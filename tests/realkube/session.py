"""One real control plane for the whole test session, set up the way an admin installs
Causeway: `kubectl apply -f deploy/install.yaml` (namespace, ServiceAccount, CRDs, the
operator's and tenants' roles; the Deployment is stored but never runs, as there are
no nodes), then a token for the operator's ServiceAccount from the TokenRequest API.
Tests get backends (one per SandboxStack), kubectl as the admin or as a test user."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from causeway.sandbox.kube import KubeSandboxError, ResourceKind
from realkube.cluster import HttpClient, RealKube
from realkube.controlplane import ClusterAccess, ControlPlane, write_kubeconfig

ROOT = Path(__file__).parents[2]
INSTALL = ROOT / "deploy" / "install.yaml"
OPERATOR_NAMESPACE = "causeway-system"
OPERATOR_ACCOUNT = "causeway"
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_ACCOUNT}"
# The chart's Secrets ClusterRole (release "causeway" in causeway-system), bound in each
# tenant namespace as docs/admin/onboarding.md says.
SECRETS_ROLE = "causeway-causeway-system-secrets"
SECRETS_BINDING = "causeway-secrets"
TOKEN_SECONDS = 6 * 3600


class RealCluster:
    """The session's control plane with Causeway installed."""

    def __init__(self, plane: ControlPlane) -> None:
        assert plane.admin is not None
        self.plane = plane
        self.admin = plane.admin
        self.admin_kubeconfig = plane.workdir / "admin.kubeconfig"
        write_kubeconfig(self.admin_kubeconfig, self.admin, "default")
        self.operator: ClusterAccess | None = None

    @property
    def kubectl_path(self) -> Path:
        return self.plane.assets / "kubectl"

    def kubectl(
        self, *args: str, kubeconfig: Path | None = None, check: bool = True, stdin: str = ""
    ) -> subprocess.CompletedProcess[str]:
        """kubectl as the admin (or with another kubeconfig); output captured as text."""
        env = {**os.environ, "KUBECONFIG": str(kubeconfig or self.admin_kubeconfig)}
        result = subprocess.run(
            [str(self.kubectl_path), *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result

    def install(self) -> None:
        """What the docs (admin/install.md) tell an admin to do without Helm, then a token for the
        operator's ServiceAccount (what the kubelet would mount in its pod)."""
        self.kubectl("apply", "--server-side", "-f", str(INSTALL))
        self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        self.operator = ClusterAccess(
            self.plane.server,
            self.plane.ca.pair.cert,
            token=self.token_for(OPERATOR_NAMESPACE, OPERATOR_ACCOUNT),
        )

    def token_for(self, namespace: str, account: str) -> str:
        """A bound token from the TokenRequest API."""
        reply = HttpClient(self.admin).call(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": TOKEN_SECONDS},
            },
        )
        assert reply is not None
        return str(reply["status"]["token"])

    def backend(
        self, kinds: Sequence[ResourceKind], namespaces: Sequence[str], *, record_usage: bool
    ) -> RealKube:
        """A SandboxStack's Kubernetes backend (KubeBackendFactory)."""
        assert self.operator is not None
        del record_usage  # always: the audit log records every request anyway
        return RealKube(
            kinds,
            namespaces,
            admin=self.admin,
            operator=self.operator,
            operator_user=OPERATOR_USER,
            audit_log=self.plane.audit_log,
            operator_namespace=OPERATOR_NAMESPACE,
            mint_token=lambda: self.token_for(OPERATOR_NAMESPACE, OPERATOR_ACCOUNT),
            on_namespace=onboard_tenant,
        )

    def user(self, name: str, groups: tuple[str, ...] = ()) -> HttpClient:
        """A client authenticated as a test user (authorised by RBAC bindings only)."""
        return HttpClient(self.plane.access_for(name, groups))

    def user_kubeconfig(self, name: str, namespace: str, path: Path) -> Path:
        write_kubeconfig(path, self.plane.access_for(name), namespace)
        return path


def onboard_tenant(kube: RealKube, namespace: str) -> None:
    """The admin's onboarding step for a tenant namespace: let the operator handle the
    Secrets there (docs/admin/onboarding.md's `kubectl create rolebinding causeway-secrets ...`)."""
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": SECRETS_BINDING, "namespace": namespace},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": SECRETS_ROLE,
        },
        "subjects": [
            {"kind": "ServiceAccount", "name": OPERATOR_ACCOUNT, "namespace": OPERATOR_NAMESPACE}
        ],
    }
    path = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings"
    try:
        kube.admin.call("POST", path, binding)
    except KubeSandboxError as exc:
        if exc.status != 409:  # bound when an earlier test used the namespace
            raise
