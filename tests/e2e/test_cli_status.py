"""`causeway status` and the `kubectl causeway` plugin against the sandbox running the
real operator on the seed tenant: one table per kind with each object's phase and
endpoint, the operator's own next step under the table for whatever is not Ready
(a request waiting for the tenant to accept it, a connection waiting for a license),
and the quota's usage. Without a cluster or without the CRDs it is one line, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml
from kubernetes.client import ApiException

from causeway.api import OUTBOUND as OUTBOUND_KIND
from causeway.api.credential import SECRET_KEYS, AuthType
from causeway.cli import main
from causeway.kube import ClusterConnection, KubeConfigError, KubeUnavailableError
from causeway.kube.reader import _list_kind, current_namespace
from causeway.sandbox.kube import ThreadedKubeSandbox
from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.seeds import ADMIN, TENANT, load_manifests, seeds_dir
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import condition, eventually, outbound, status_of, wait_phase

PLUGIN = Path(sys.executable).parent / "kubectl-causeway"
CREDENTIALS = "namedcredentials"
QUOTAS = "connectionquotas"
METERING_SECONDS = 0.5
MB = 10**6
SENT_MB = 2824  # 5% of the hourly outbound limit
CONNECTION = ClusterConnection(
    kubernetes.client.Configuration(host="http://127.0.0.1:1"), "kubeconfig k (context dev)"
)


@dataclass(frozen=True)
class Cluster:
    stack: SandboxStack
    kubeconfig: Path
    vpce: dict[str, str]  # connection name -> its endpoint id


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, kube_backend: KubeBackendFactory
) -> Iterator[Cluster]:
    """The seed tenant settled: inventory accepted (Ready, with its credential), billing
    still waiting for the tenant to accept, payroll waiting for a license, reporting a
    placeholder, loader (inbound) Ready; plus a second tenant without a quota."""
    admin, tenant = load_manifests(seeds_dir() / ADMIN), load_manifests(seeds_dir() / TENANT)
    with SandboxStack(
        poll_interval="1s",
        namespaces=["acme", "beta"],
        metering_seconds=METERING_SECONDS,
        kube_backend=kube_backend,
    ) as stack:
        services = _tenant_aws(stack, admin, tenant)
        stack.start_operator()
        stack.apply_all(admin)
        _credential_secrets(stack, tenant)
        stack.apply_all(tenant)
        stack.kube.apply(outbound("exports", services["inventory"], namespace="beta"))
        vpce = {}
        for name in ("inventory", "billing"):
            vpce[name] = wait_phase(stack, "acme", name, "PendingAcceptance", timeout=20)[
                "vpcEndpointId"
            ]
        stack.aws.accept(services["inventory"].rsplit(".", 1)[-1], vpce["inventory"])
        wait_phase(stack, "acme", "inventory", "Ready", timeout=10)
        assert stack.config is not None
        stack.aws.put_endpoint_bytes(
            vpce["inventory"],
            services["inventory"],
            stack.config.regions[stack.region].transitVpcId,
            SENT_MB * MB,
            datetime.now(UTC),
        )
        wait_phase(stack, "acme", "loader", "Ready", timeout=10, kind="inboundconnections")
        wait_phase(stack, "acme", "inventory-api", "Ready", timeout=10, kind=CREDENTIALS)
        eventually(
            lambda: (
                condition(status_of(stack, "acme", "payroll"), "Stalled").get("reason")
                == "LicenseLimitReached"
            ),
            what="payroll to wait for a license",
        )
        eventually(
            lambda: (
                (status_of(stack, "acme", "acme", QUOTAS).get("used") or {})
                == {
                    "outboundConnections": 2,
                    "inboundConnections": 1,
                    "dailyBytes": SENT_MB * MB,
                    "hourlyOutboundBytes": SENT_MB * MB,
                    "hourlyInboundBytes": 0,
                }
            ),
            what="the quota to count the licenses in use and the bytes sent",
        )
        eventually(lambda: status_of(stack, "beta", "exports").get("phase"), what="beta status")
        kubeconfig = tmp_path_factory.mktemp("kube") / "config"
        stack.kube.write_admin_kubeconfig(kubeconfig)  # its context's namespace is acme
        yield Cluster(stack, kubeconfig, vpce)


def _tenant_aws(
    stack: SandboxStack, admin: list[dict[str, Any]], tenant: list[dict[str, Any]]
) -> dict[str, str]:
    """As the tenant in its AWS account: the endpoint services its OutboundConnections
    name (by connection name) and the endpoint its InboundConnection names."""
    account = next(m for m in admin if m["kind"] == "ConnectionQuota")["spec"]["awsAccountIds"][0]
    services = {}
    for manifest in tenant:
        if manifest["kind"] == "OutboundConnection":
            name = manifest["spec"]["serviceName"]
            stack.aws.create_tenant_service(service_id=name.rsplit(".", 1)[-1])
            services[manifest["metadata"]["name"]] = name
        elif manifest["kind"] == "InboundConnection":
            stack.aws.create_tenant_endpoint(account, endpoint_id=manifest["spec"]["vpcEndpointId"])
    return services


def _credential_secrets(stack: SandboxStack, tenant: list[dict[str, Any]]) -> None:
    for manifest in tenant:
        if manifest["kind"] != "NamedCredential":
            continue
        auth = manifest["spec"]["authentication"]
        stack.kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": auth["secretRef"]["name"], "namespace": "acme"},
                "stringData": {key: "e2e-value" for key in SECRET_KEYS[AuthType(auth["type"])]},
            }
        )


def _status(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kubeconfig: Path,
    *args: str,
) -> tuple[int, str, str]:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    code = main(["status", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _line(out: str, *starts: str) -> list[str]:
    """The cells of the one line whose first cells are `starts`."""
    found = [line.split() for line in out.splitlines() if line.split()[: len(starts)] == [*starts]]
    assert len(found) == 1, f"expected one line starting {starts} in:\n{out}"
    return found[0]


def test_status_shows_each_kind_next_steps_and_quota(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _status(monkeypatch, capsys, cluster.kubeconfig, "-n", "acme")
    assert (code, err) == (0, "")
    sections = out.split("\n\n")
    assert [s.splitlines()[0] for s in sections] == [
        "OutboundConnections",
        "InboundConnections",
        "NamedCredentials",
        "ConnectionQuota acme: 2 licenses, 3 data packs",
    ]
    outbound_rows = sections[0].splitlines()
    assert outbound_rows[1].split() == ["NAME", "REGION", "PHASE", "READY", "ENDPOINT", "AGE"]
    assert [row.split()[0] for row in outbound_rows[2:6]] == [
        "billing",
        "inventory",
        "payroll",
        "reporting",
    ]
    vpce = cluster.vpce
    assert _line(out, "inventory")[:5] == [
        "inventory", "us-east-1", "Ready", "True", vpce["inventory"],
    ]  # fmt: skip
    assert _line(out, "billing")[:5] == [
        "billing", "us-east-1", "PendingAcceptance", "False", vpce["billing"],
    ]  # fmt: skip
    assert _line(out, "payroll")[:5] == ["payroll", "us-east-1", "Unprovisioned", "False", "-"]
    assert _line(out, "loader")[:6] == [
        "loader", "us-east-1", "Ready", "True", "vpce-0f1e2d3c4b5a69781", "10.200.0.0/28",
    ]  # fmt: skip
    assert _line(out, "inventory-api")[:4] == ["inventory-api", "inventory", "Ready", "True"]
    # Next steps: the operator's words for what is not Ready, and nothing for what is.
    steps = sections[0].split("Next steps:\n")[1]
    assert f"  billing: Accept the connection request {vpce['billing']} on your endpoint " in steps
    assert "(Reconciling: PendingAcceptance)" in steps
    assert "  payroll: All 2 outbound licenses are in use" in steps
    assert "(Stalled: LicenseLimitReached)" in steps
    assert "  reporting: " in steps
    assert "inventory:" not in steps and "Next steps" not in sections[1] + sections[2]
    # The quota: licenses in use of the total (one waiting), and the metered bytes.
    quota = sections[3]
    assert quota.splitlines()[1].split() == ["ALLOWANCE", "USED", "LIMIT", "NOTE"]
    assert _line(quota, "outbound", "connections") == ["outbound", "connections", "2", "2", "1", "waiting", "for", "a", "license"]  # fmt: skip
    assert _line(quota, "inbound", "connections") == ["inbound", "connections", "1", "2", "-"]
    assert " ".join(_line(quota, "data", "today")).startswith(
        "data today 2824 MB (11%) 25000 MB soft: reported, never blocked; resets "
    )
    assert " ".join(_line(quota, "outbound", "this", "hour")).startswith(
        "outbound this hour 2824 MB (5%) 56480 MB hard: outbound stops at the limit; resets "
    )
    assert " ".join(_line(quota, "inbound", "this", "hour")).startswith(
        "inbound this hour 0 MB (0%) 56480 MB soft: reported, never blocked; resets "
    )


def test_status_without_namespace_uses_the_kubeconfig_context(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _status(monkeypatch, capsys, cluster.kubeconfig)
    assert code == 0
    assert _line(out, "billing")[2] == "PendingAcceptance"
    assert "exports" not in out  # namespace beta is not the context's


def test_status_all_namespaces_names_them_and_the_missing_quota(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _status(monkeypatch, capsys, cluster.kubeconfig, "-A")
    assert code == 0
    assert out.splitlines()[1].split()[:2] == ["NAMESPACE", "NAME"]
    names = [line.split()[:2] for line in out.split("\n\n")[0].splitlines()[2:7]]
    assert names == [
        ["acme", "billing"],
        ["acme", "inventory"],
        ["acme", "payroll"],
        ["acme", "reporting"],
        ["beta", "exports"],
    ]
    assert "  beta/exports: " in out and "(Stalled: NoConnectionQuota)" in out
    assert "ConnectionQuota acme/acme: 2 licenses, 3 data packs" in out
    assert "no ConnectionQuota in namespace beta: it has no licenses" in out


def test_status_as_json_holds_the_same_findings(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _status(monkeypatch, capsys, cluster.kubeconfig, "-A", "-o", "json")
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert document["namespace"] is None
    items = {(i["kind"], i["namespace"], i["name"]): i for i in document["items"]}
    inventory = items[("OutboundConnection", "acme", "inventory")]
    assert (inventory["phase"], inventory["ready"], inventory["nextSteps"]) == ("Ready", True, [])
    assert inventory["vpcEndpointId"] == cluster.vpce["inventory"]
    billing = items[("OutboundConnection", "acme", "billing")]
    assert (billing["phase"], billing["ready"]) == ("PendingAcceptance", False)
    assert billing["nextSteps"][0].startswith(
        f"Accept the connection request {cluster.vpce['billing']} on your endpoint "
    )
    loader = items[("InboundConnection", "acme", "loader")]
    assert (loader["phase"], loader["sourceIpRanges"]) == ("Ready", ["10.200.0.0/28"])
    credential = items[("NamedCredential", "acme", "inventory-api")]
    assert (credential["ready"], credential["outboundConnection"]) == (True, "inventory")
    exports = items[("OutboundConnection", "beta", "exports")]
    assert exports["nextSteps"][0].endswith("(Stalled: NoConnectionQuota)")

    [quota] = document["quotas"]
    assert (quota["namespace"], quota["licenses"], quota["dataPacks"]) == ("acme", 2, 3)
    assert quota["used"]["outboundConnections"] == 2
    assert quota["waiting"]["outboundConnections"] == 1
    assert quota["used"]["hourlyOutboundBytes"] == SENT_MB * MB
    assert quota["hard"]["hourlyOutboundBytes"] == 56480 * MB
    assert document["namespacesWithoutQuota"] == ["beta"]

    _, scoped, _ = _status(monkeypatch, capsys, cluster.kubeconfig, "-n", "beta", "-o", "json")
    assert json.loads(scoped) == {
        "namespace": "beta",
        "items": [exports],
        "quotas": [],
        "namespacesWithoutQuota": ["beta"],
        "operator": [],  # the operator here runs in-process, without leader election
        "replicas": [],  # and without pods
    }


def test_status_for_admins_adds_transit_capacity(
    cluster: Cluster,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """With -A and the operator config: each transit VPC's endpoints held (inventory and
    billing hold one each; payroll waits, reporting is a placeholder), its capacity and
    whether it drains. Without -A it is refused: the count spans every namespace."""
    assert cluster.stack.config is not None
    config = tmp_path / "config.yaml"
    data = cluster.stack.config.model_dump(mode="json", exclude_none=True)
    data.pop("metering")  # the sandbox's interval is below the file's floor
    config.write_text(yaml.safe_dump(data))
    vpc = cluster.stack.config.regions[cluster.stack.region].pool[0].vpcId
    code, out, _ = _status(
        monkeypatch, capsys, cluster.kubeconfig, "-A", "-o", "json", "--config", str(config)
    )
    assert code == 0
    assert json.loads(out)["transitVpcs"] == [
        {
            "region": cluster.stack.region,
            "vpcId": vpc,
            "used": 2,
            "maxEndpoints": None,
            "draining": False,
            "configured": True,
        }
    ]
    code, out, _ = _status(monkeypatch, capsys, cluster.kubeconfig, "-A", "--config", str(config))
    assert "Transit VPCs" in out and f"{cluster.stack.region}  {vpc}  2     quota     no" in out
    code, _, err = _status(
        monkeypatch, capsys, cluster.kubeconfig, "-n", "acme", "--config", str(config)
    )
    assert code == 2 and "--config needs -A" in err


def test_status_of_an_empty_namespace_says_so(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _status(monkeypatch, capsys, cluster.kubeconfig, "-n", "nobody") == (
        0,
        "no Causeway objects in namespace nobody\n",
        "",
    )


def test_kubectl_plugin_script_prints_the_same_report(cluster: Cluster) -> None:
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    done = subprocess.run(
        [str(PLUGIN), "status", "-n", "acme"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert f"  billing: Accept the connection request {cluster.vpce['billing']}" in done.stdout
    assert _line(done.stdout, "inventory")[2:4] == ["Ready", "True"]


def test_kubectl_plugin_without_a_cluster_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "missing")}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    done = subprocess.run(
        [str(PLUGIN), "status"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"kubectl causeway: no cluster to connect to: not running in a pod, and no kubeconfig "
        f"at {tmp_path / 'missing'}; set KUBECONFIG to your kubeconfig file"
    ]


def test_status_on_a_cluster_without_the_crds_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with ThreadedKubeSandbox((), namespaces=("acme",)) as bare:
        bare.write_kubeconfig(tmp_path / "config")
        server = bare.url
        code, out, err = _status(monkeypatch, capsys, tmp_path / "config", "-n", "acme")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"causeway: the cluster at {server} does not serve OutboundConnection, "
        "InboundConnection, NamedCredential, ConnectionQuota (causeway.dev/v1alpha1): "
        "install the CRDs first (kubectl apply -f crds/)"
    ]


# --- the reader's edges, without a cluster ---------------------------------------------


def test_namespace_defaults_like_kubectl(tmp_path: Path) -> None:
    account = tmp_path / "namespace"
    account.write_text("tenant-a\n")
    in_pod = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    assert current_namespace(in_pod, service_account_namespace=account) == "tenant-a"
    assert current_namespace(in_pod, service_account_namespace=tmp_path / "none") == "default"
    config = tmp_path / "config"
    config.write_text(
        yaml.safe_dump(
            {
                "current-context": "dev",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "dev", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    assert current_namespace({"KUBECONFIG": str(config)}) == "default"


class _Pages:
    """Stands in for CustomObjectsApi: serves `pages` in turn, or raises `fail`."""

    def __init__(self, pages: list[dict[str, Any]], fail: BaseException | None = None) -> None:
        self.pages, self.fail, self.tokens = pages, fail, []

    def list_namespaced_custom_object(self, *_: Any, **paging: Any) -> dict[str, Any]:
        if self.fail is not None:
            raise self.fail
        self.tokens.append(paging.get("_continue"))
        return self.pages.pop(0)


def test_listing_follows_continue_tokens() -> None:
    api = _Pages(
        [
            {"items": [{"metadata": {"name": "a"}}], "metadata": {"continue": "next"}},
            {"items": [{"metadata": {"name": "b"}}], "metadata": {}},
        ]
    )
    found = _list_kind(api, CONNECTION, OUTBOUND_KIND, "acme", 1.0)
    assert [item["metadata"]["name"] for item in found] == ["a", "b"]
    assert api.tokens == [None, "next"]


@pytest.mark.parametrize(
    ("fail", "error", "text"),
    [
        (ApiException(403, "Forbidden"), KubeConfigError, "refused to list outboundconnections in namespace acme for the credentials from kubeconfig k (context dev) (403 Forbidden)"),
        (ApiException(404, "Not Found"), KubeConfigError, "does not serve causeway.dev/v1alpha1 (asked to list outboundconnections in namespace acme): install the CRDs first"),
        (ApiException(503, "Service Unavailable"), KubeUnavailableError, "could not list outboundconnections in namespace acme (HTTP 503 Service Unavailable)"),
        (ConnectionRefusedError(111, "Connection refused"), KubeUnavailableError, "stopped answering while listing outboundconnections in namespace acme (connection refused)"),
    ],
    ids=["forbidden", "no CRDs", "server error", "network"],
)  # fmt: skip
def test_a_failed_listing_is_one_line(fail: BaseException, error: type, text: str) -> None:
    with pytest.raises(error) as raised:
        _list_kind(_Pages([], fail), CONNECTION, OUTBOUND_KIND, "acme", 1.0)
    assert text in str(raised.value) and "\n" not in str(raised.value)
