"""The documented ways to install Causeway, done for real against a real API server
(tests/realkube; skipped without the control-plane binaries): `helm install` of the
chart, `helm upgrade` with changed values, `helm uninstall` leaving the CRDs (and so
every tenant's objects) in place, and `kubectl apply -k deploy/` / `kubectl apply -f
deploy/install.yaml`, each on a control plane of its own. There are no nodes, so the
operator's pod never runs, but every object must be accepted and stored as rendered.

The Helm release gets a control plane of its own for the module, so the session's (with
deploy/install.yaml applied, for the end-to-end tests) is never touched."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_testlib import CHART, NAMESPACE, RELEASE, ROOT, Helm

from realkube.controlplane import ControlPlane, asset_directory, missing_assets
from realkube.examples import example
from realkube.session import RealCluster

DEPLOY = ROOT / "deploy"
TENANT = "tenant-keeps-its-objects"
CHANGED_VALUES = {"config": {"pollInterval": "45s"}, "podLabels": {"team": "platform"}}

Manifests = list[dict[str, Any]]


def _assets() -> Path:
    assets = asset_directory()
    reason = missing_assets(assets)
    if reason or assets is None:
        pytest.skip(reason or "no assets")
    return assets


def parse(text: str) -> Manifests:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def identity(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def same_objects(stored_objs: Manifests, rendered: Manifests) -> None:
    """`stored_objs` are `rendered`, each namespaced one in the release namespace."""
    assert sorted(map(identity, stored_objs)) == sorted(map(identity, rendered))
    namespaces = {o["metadata"].get("namespace") for o in stored_objs} - {None}
    assert namespaces <= {NAMESPACE}, namespaces


def stored(cluster: RealCluster, manifests: str, *, ignore_missing: bool = False) -> Manifests:
    """The objects of `manifests` as the API server holds them (absent ones left out
    when `ignore_missing`)."""
    args = ["get", "-f", "-", "-n", NAMESPACE, "-o", "json"]
    if ignore_missing:
        args.append("--ignore-not-found")
    result = cluster.kubectl(*args, stdin=manifests)
    if not result.stdout.strip():
        return []
    listed = json.loads(result.stdout)
    return list(listed.get("items", [listed] if "kind" in listed else []))


@dataclass
class Release:
    cluster: RealCluster
    helm: Helm
    home: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.cluster.admin_kubeconfig),
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        result = subprocess.run(
            [str(self.helm.binary), *args, "--namespace", NAMESPACE],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, f"helm {' '.join(args)}:\n{result.stderr}"
        return result

    def manifest(self) -> str:
        return self.run("get", "manifest", RELEASE).stdout


@pytest.fixture(scope="module")
def release(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    """Causeway installed with `helm install` on a control plane of this module's own; the
    tests below follow the release's life in file order (install, upgrade, uninstall)."""
    with ControlPlane(_assets()) as plane:
        cluster = RealCluster(plane)
        installed = Release(cluster, helm, tmp_path_factory.mktemp("helm"))
        installed.run("install", RELEASE, str(CHART), "--create-namespace")
        cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        cluster.kubectl("create", "namespace", TENANT)
        quota = example("ConnectionQuota", "quota", TENANT)
        cluster.kubectl("apply", "-f", "-", stdin=json.dumps(quota))
        yield installed


def test_helm_install_stores_every_rendered_object(release: Release) -> None:
    manifest = release.manifest()
    rendered = parse(manifest)
    assert rendered, "the release rendered nothing"
    same_objects(stored(release.cluster, manifest), rendered)
    crds = [o["metadata"]["name"] for o in rendered if o["kind"] == "CustomResourceDefinition"]
    committed = [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "crds").glob("*.yaml"))]
    assert sorted(crds) == sorted(c["metadata"]["name"] for c in committed)


def test_helm_upgrade_applies_changed_values(release: Release) -> None:
    before = _deployment(release)
    release.run("upgrade", RELEASE, str(CHART), *release.helm.values_args(CHANGED_VALUES))
    after = _deployment(release)
    template = after["spec"]["template"]["metadata"]
    assert template["labels"]["team"] == "platform"
    annotation = "checksum/config"
    assert (
        template["annotations"][annotation]
        != before["spec"]["template"]["metadata"]["annotations"][annotation]
    ), "a config change must roll the pods"
    (config_map,) = [
        o
        for o in stored(release.cluster, release.manifest())
        if o["kind"] == "ConfigMap" and "config.yaml" in o.get("data", {})
    ]
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    assert config["pollInterval"] == "45s"
    assert config["regions"], "values merge over the defaults: the regions stay"
    history = json.loads(release.run("history", RELEASE, "-o", "json").stdout)
    assert [entry["status"] for entry in history] == ["superseded", "deployed"]
    assert release.cluster.kubectl("get", "connectionquota", "quota", "-n", TENANT).returncode == 0


def _deployment(release: Release) -> dict[str, Any]:
    (deployment,) = [
        o for o in stored(release.cluster, release.manifest()) if o["kind"] == "Deployment"
    ]
    return deployment


def test_helm_uninstall_keeps_the_crds_and_the_tenants_objects(release: Release) -> None:
    manifest = release.manifest()
    rendered = parse(manifest)
    release.run("uninstall", RELEASE)
    left = stored(release.cluster, manifest, ignore_missing=True)
    crds = [o for o in rendered if o["kind"] == "CustomResourceDefinition"]
    assert crds, "the chart renders the CRDs"
    assert sorted(map(identity, left)) == sorted(map(identity, crds))
    for crd in left:
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    quota = release.cluster.kubectl("get", "connectionquota", "quota", "-n", TENANT, "-o", "json")
    assert json.loads(quota.stdout)["spec"] == example("ConnectionQuota", "quota")["spec"]


# -- without Helm ----------------------------------------------------------------------


@pytest.fixture
def fresh_cluster() -> Iterator[RealCluster]:
    """A control plane of the test's own, with nothing installed."""
    with ControlPlane(_assets()) as plane:
        yield RealCluster(plane)


@pytest.mark.parametrize(
    "how",
    [["-k", str(DEPLOY)], ["-f", str(DEPLOY / "install.yaml")]],
    ids=["apply -k deploy/", "apply -f deploy/install.yaml"],
)
def test_kubectl_apply_stores_every_object(fresh_cluster: RealCluster, how: list[str]) -> None:
    applied = fresh_cluster.kubectl("apply", *how)
    if how[0] == "-k":
        manifest = fresh_cluster.kubectl("kustomize", str(DEPLOY)).stdout
    else:
        manifest = Path(how[1]).read_text()
    rendered = parse(manifest)
    assert len(applied.stdout.splitlines()) == len(rendered), applied.stdout
    same_objects(stored(fresh_cluster, manifest), rendered)
    fresh_cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    before = {name: _generation(fresh_cluster, name) for name in _RESENT}
    again = fresh_cluster.kubectl("apply", *how).stdout.splitlines()
    changed = [line for line in again if not line.endswith(" unchanged")]
    # kubectl always re-sends a PodDisruptionBudget: policy/v1 gives spec.selector the
    # "replace" patch strategy, so its patch is never empty ("configured"), though the
    # stored object does not change, which its generation shows.
    assert again and changed == [f"{name} configured" for name in _RESENT], again
    assert {name: _generation(fresh_cluster, name) for name in _RESENT} == before


_RESENT = ["poddisruptionbudget.policy/causeway"]


def _generation(cluster: RealCluster, name: str) -> str:
    got = cluster.kubectl(
        "get", name, "-n", "causeway-system", "-o", "jsonpath={.metadata.generation}"
    )
    return got.stdout
