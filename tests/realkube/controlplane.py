"""A real Kubernetes control plane on 127.0.0.1 for the tests, the way controller-runtime's
envtest runs one: etcd, kube-apiserver (RBAC, real admission, an audit log) and
kube-controller-manager (garbage collector, namespace controller, token signing) started
from binaries found through CAUSEWAY_KUBE_ASSETS or KUBEBUILDER_ASSETS, with random free
ports, a temporary data directory and a throwaway CA. There are no nodes: pods never run,
but every object is stored, validated, authorised and garbage-collected for real."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import yaml

from realkube.pki import CertificateAuthority, KeyPair, service_account_key

BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl")
ASSET_VARIABLES = ("CAUSEWAY_KUBE_ASSETS", "KUBEBUILDER_ASSETS")
START_TIMEOUT = 90.0
_GRACE_SECONDS = 2.0
ADMIN_USER = "causeway-test-admin"
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    # Only what the tests hold the operator to: who asked for what (no bodies, so no
    # Secret value is ever written to disk): a request when its answer is complete, a
    # watch as soon as it starts streaming (it completes only when it ends).
    "omitStages": ["RequestReceived", "Panic"],
    "rules": [{"level": "Metadata"}],
}


def asset_directory(environ: Mapping[str, str] | None = None) -> Path | None:
    """The directory holding the control-plane binaries, or None with no setting."""
    env = os.environ if environ is None else environ
    for variable in ASSET_VARIABLES:
        if env.get(variable):
            return Path(env[variable])
    return None


def missing_assets(directory: Path | None) -> str | None:
    """Why a control plane cannot start from `directory`, or None if it can."""
    if directory is None:
        return (
            "no real Kubernetes API server: set CAUSEWAY_KUBE_ASSETS (or KUBEBUILDER_ASSETS) "
            "to a directory with etcd, kube-apiserver, kube-controller-manager and kubectl "
            "(tools/kube_assets.py unpacks them)"
        )
    absent = [b for b in BINARIES if not os.access(directory / b, os.X_OK)]
    if absent:
        return f"{directory} lacks executable {', '.join(absent)}"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class ClusterAccess:
    """How a client reaches the API server as one user."""

    server: str
    ca: Path
    client: KeyPair | None = None
    token: str | None = None

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        if self.client is not None:
            context.load_cert_chain(str(self.client.cert), str(self.client.key))
        return context


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager as child processes."""

    def __init__(self, assets: Path, workdir: Path | None = None) -> None:
        self.assets = assets
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="causeway-controlplane-"))
        self._processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.ca = CertificateAuthority(self.workdir / "pki")
        self.audit_log = self.workdir / "audit.log"
        self.server = ""
        self.admin: ClusterAccess | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def _start(self) -> None:
        etcd_url = self._start_etcd()
        port = free_port()
        self.server = f"https://127.0.0.1:{port}"
        self.admin = ClusterAccess(
            self.server,
            self.ca.pair.cert,
            client=self.ca.client("admin", ADMIN_USER, ("system:masters",)),
        )
        self._start_apiserver(etcd_url, port)
        self._wait_ready("kube-apiserver", f"{self.server}/readyz", self.admin)
        self._start_controller_manager()

    def _stop(self) -> None:
        for _, process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
        for _, process in reversed(self._processes):
            try:
                process.wait(_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()  # nothing to keep: the data dir goes too
                process.wait(10)
        self._processes.clear()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [str(self.assets / name), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C meant for pytest reaches us first
        )
        log.close()
        self._processes.append((name, process))
        return process

    def _start_etcd(self) -> str:
        client, peer = free_port(), free_port()
        url = f"http://127.0.0.1:{client}"
        self._spawn(
            "etcd",
            [
                "--data-dir",
                str(self.workdir / "etcd"),
                "--client-url",
                url,
                "--peer-url",
                f"http://127.0.0.1:{peer}",
            ],
        )
        self._wait_ready("etcd", f"{url}/health", None)
        return url

    def _start_apiserver(self, etcd_url: str, port: int) -> None:
        serving = self.ca.serving("apiserver")
        sa_key = service_account_key(self.workdir / "pki" / "service-account.key")
        policy = self.workdir / "audit-policy.yaml"
        policy.write_text(yaml.safe_dump(AUDIT_POLICY))
        self._spawn(
            "kube-apiserver",
            [
                f"--etcd-servers={etcd_url}",
                f"--secure-port={port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={self.ca.pair.cert}",
                "--authorization-mode=Node,RBAC",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={sa_key}",
                f"--service-account-signing-key-file={sa_key}",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--endpoint-reconciler-type=none",
                # OwnerReferencesPermissionEnforcement as OpenShift enables it (and the
                # sandbox models it): setting blockOwnerDeletion needs `update` on the
                # owner's finalizers, which the operator's published Secrets do.
                "--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,ResourceQuota,"
                "LimitRanger,NodeRestriction,PodSecurity,OwnerReferencesPermissionEnforcement",
                f"--audit-policy-file={policy}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-mode=blocking",
                "--audit-log-format=json",
                "--audit-log-maxbackup=0",
            ],
        )

    def _start_controller_manager(self) -> None:
        client = self.ca.client("controller-manager", "system:kube-controller-manager")
        kubeconfig = self.workdir / "controller-manager.kubeconfig"
        write_kubeconfig(
            kubeconfig, ClusterAccess(self.server, self.ca.pair.cert, client=client), "default"
        )
        sa_key = self.workdir / "pki" / "service-account.key"
        self._spawn(
            "kube-controller-manager",
            [
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={sa_key}",
                f"--root-ca-file={self.ca.pair.cert}",
                f"--cluster-signing-cert-file={self.ca.pair.cert}",
                f"--cluster-signing-key-file={self.ca.pair.key}",
                "--controllers=*,-nodeipam,-cloud-node-lifecycle",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
            ],
        )

    def _wait_ready(self, name: str, url: str, access: ClusterAccess | None) -> None:
        context = access.ssl_context() if access else None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self._fail_if_exited()
            try:
                with urllib.request.urlopen(url, timeout=2, context=context) as reply:
                    if reply.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass  # not serving yet
            time.sleep(0.2)
        raise RuntimeError(f"{name} was not ready within {START_TIMEOUT:g}s: see {self.workdir}")

    def _fail_if_exited(self) -> None:
        for name, process in self._processes:
            if process.poll() is not None:
                log = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{log}")

    def access_for(self, user: str, groups: tuple[str, ...] = ()) -> ClusterAccess:
        """A client certificate for a (test) user, authorised only by RBAC bindings."""
        stem = "user-" + "".join(c if c.isalnum() else "-" for c in user)
        return ClusterAccess(
            self.server, self.ca.pair.cert, client=self.ca.client(stem, user, groups)
        )


def write_kubeconfig(path: Path, access: ClusterAccess, namespace: str) -> None:
    """A kubeconfig file for one user (file paths for certificates, like kubeadm's)."""
    user: dict[str, str] = {}
    if access.client is not None:
        user = {
            "client-certificate": str(access.client.cert),
            "client-key": str(access.client.key),
        }
    if access.token is not None:
        user["token"] = access.token
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "causeway-test",
        "clusters": [
            {
                "name": "causeway-test",
                "cluster": {"server": access.server, "certificate-authority": str(access.ca)},
            }
        ],
        "users": [{"name": "causeway-test", "user": user}],
        "contexts": [
            {
                "name": "causeway-test",
                "context": {
                    "cluster": "causeway-test",
                    "user": "causeway-test",
                    "namespace": namespace,
                },
            }
        ],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
