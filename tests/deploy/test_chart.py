"""The Helm chart, rendered by the real helm binary: it lints clean, every manifest is
valid Kubernetes, the CRDs are the generated ones, the pod runs as the operator needs
(one writer, restricted security, probes, config), RBAC holds the tenants' trust model,
and the values schema turns bad values away naming the key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from deploy_testlib import (
    CHART,
    NAMESPACE,
    RELEASE,
    ROOT,
    Helm,
    Manifests,
    of_kind,
    only,
    parse,
    validate_k8s,
)

import causeway
from causeway.aws.regions import region_name_pattern
from causeway.cli import _parser
from causeway.config import (
    BUDGETED_APIS,
    ConfigError,
    MeteringConfig,
    OperatorConfig,
    RegionConfig,
    TransitVpcConfig,
    load_config,
    parse_config,
)
from causeway.crdgen import CHART_COPY, check_crds, crd_files, write_crds
from fakes import REGION_CONFIG

Render = Callable[..., Manifests]
CLUSTER_NAME = f"{RELEASE}-{NAMESPACE}"  # cluster-scoped objects: unique per namespace
TENANTS = ["acme", "beta"]
WITH_TENANTS = {"rbac": {"secrets": {"namespaces": TENANTS}}}

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
DEFAULTS = yaml.safe_load((CHART / "values.yaml").read_text())
EXAMPLE_CONFIG = yaml.safe_load((ROOT / "seeds" / "config.example.yaml").read_text())
ROLE_ARN = "arn:aws:iam::123456789012:role/causeway-operator"
REGION = EXAMPLE_CONFIG["regions"]["us-east-1"]
OUTBOUND_ONLY = {
    k: REGION[k] for k in ("transitVpcId", "subnetIds", "securityGroupIds", "platformPrincipal")
}
POOL_REGION = {
    "platformPrincipal": REGION["platformPrincipal"],
    "transitVpcs": [
        {
            "vpcId": REGION["transitVpcId"],
            "subnetIds": REGION["subnetIds"],
            "securityGroupIds": REGION["securityGroupIds"],
        },
        {
            "vpcId": "vpc-22222222",
            "subnetIds": ["subnet-22222222"],
            "securityGroupIds": ["sg-22222222"],
            "maxEndpoints": 40,
            "draining": True,
        },
    ],
}

# Every optional feature on, with values of every shape the schema allows.
ALL_FEATURES: dict[str, Any] = {
    "image": {"repository": "registry.example.com/platform/causeway", "pullPolicy": "Always"},
    "imagePullSecrets": [{"name": "registry"}],
    "serviceAccount": {"awsRoleArn": ROLE_ARN, "annotations": {"example.com/owner": "platform"}},
    "extraArgs": ["-v"],
    "extraEnv": [
        {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ],
    "podAnnotations": {"example.com/team": "platform"},
    "podLabels": {"example.com/tier": "control"},
    "priorityClassName": "system-cluster-critical",
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}
    ],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "arch", "operator": "In", "values": ["amd64"]}]}
                ]
            }
        }
    },
    "metrics": {
        "serviceMonitor": {
            "enabled": True,
            "interval": "15s",
            "scrapeTimeout": "10s",
            "labels": {"release": "kube-prometheus-stack"},
        },
        "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    },
    "grafana": {
        "dashboards": {"namespace": "monitoring", "annotations": {"grafana_folder": "Causeway"}}
    },
    "argocd": {"healthChecks": {"enabled": True}},
    "config": {"awsBudget": {"DescribeVpcEndpoints": {"burst": 50, "rate": 10}}},
}


def _no_findings(result: Any) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "0 chart(s) failed" in output
    assert "[WARNING]" not in output and "[ERROR]" not in output, output


# --- lint and validity -----------------------------------------------------------------


def test_lint_strict_is_clean_with_defaults(helm: Helm) -> None:
    _no_findings(helm.lint())


def test_lint_strict_is_clean_with_every_feature_on(helm: Helm) -> None:
    _no_findings(helm.lint(ALL_FEATURES))


@pytest.mark.parametrize("values", [None, ALL_FEATURES], ids=["defaults", "all-features"])
def test_every_rendered_manifest_is_valid_kubernetes(render: Render, values: Any) -> None:
    manifests = render(values)
    kinds = {m["kind"] for m in manifests}
    assert {"Deployment", "ServiceAccount", "ConfigMap", "CustomResourceDefinition"} <= kinds
    for manifest in manifests:
        if manifest["apiVersion"] == "monitoring.coreos.com/v1":
            # kubernetes-validate knows only built-in kinds; the ServiceMonitor is checked
            # field by field in test_service_monitor_scrapes_the_metrics_service, the
            # PrometheusRule in test_alerts.py.
            continue
        validate_k8s(manifest)


@pytest.mark.parametrize("values", [None, ALL_FEATURES], ids=["defaults", "all-features"])
def test_every_object_carries_the_standard_labels(render: Render, values: Any) -> None:
    expected = {
        "app.kubernetes.io/name": "causeway",
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/version": causeway.__version__,
        "app.kubernetes.io/managed-by": "Helm",
        "helm.sh/chart": f"causeway-{yaml.safe_load((CHART / 'Chart.yaml').read_text())['version']}",
    }
    for manifest in render(values):
        labels = manifest["metadata"].get("labels", {})
        name = f"{manifest['kind']}/{manifest['metadata']['name']}"
        assert expected.items() <= labels.items(), f"{name} labels: {labels}"


def test_namespaced_objects_go_to_the_release_namespace(render: Render) -> None:
    """Everything but the Secrets RoleBindings, which go to the tenants' namespaces (the
    leader-election Role and its binding stay in the release namespace)."""
    cluster_scoped = {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
    for manifest in render(WITH_TENANTS):
        namespace = manifest["metadata"].get("namespace")
        if manifest["kind"] in cluster_scoped:
            assert namespace is None, manifest["metadata"]["name"]
        elif manifest["kind"] == "RoleBinding" and manifest["roleRef"]["kind"] == "ClusterRole":
            assert namespace in TENANTS, manifest["metadata"]["name"]  # the Secrets role
        else:
            assert namespace == NAMESPACE, manifest["metadata"]["name"]


def test_chart_app_version_is_the_operator_version(render: Render) -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == causeway.__version__
    container = _container(render())
    assert container["image"] == f"causeway:{causeway.__version__}"


def test_image_reference_uses_tag_or_digest(render: Render) -> None:
    digest = "sha256:" + "a" * 64
    by_tag = _container(render({"image": {"repository": "r.example/c", "tag": "0.2.0"}}))
    assert by_tag["image"] == "r.example/c:0.2.0"
    by_digest = _container(render({"image": {"repository": "r.example/c", "digest": digest}}))
    assert by_digest["image"] == f"r.example/c@{digest}"


# --- CRDs --------------------------------------------------------------------------------


def test_rendered_crds_are_the_generated_crds_kept_on_uninstall(render: Render) -> None:
    crds = of_kind(render(), "CustomResourceDefinition")
    generated = {
        yaml.safe_load(text)["metadata"]["name"]: yaml.safe_load(text)
        for text in crd_files().values()
    }
    assert {crd["metadata"]["name"] for crd in crds} == set(generated)
    for crd in crds:
        name = crd["metadata"]["name"]
        metadata = dict(crd["metadata"])
        assert metadata.pop("annotations") == {"helm.sh/resource-policy": "keep"}, name
        assert metadata.pop("labels")["app.kubernetes.io/part-of"] == "causeway"
        assert {**crd, "metadata": metadata} == generated[name], f"{name} differs from crds/"


def test_crds_install_false_renders_no_crd(render: Render) -> None:
    manifests = render({"crds": {"install": False}})
    assert of_kind(manifests, "CustomResourceDefinition") == []
    assert of_kind(manifests, "Deployment")


def test_chart_copy_of_the_crds_is_byte_exact() -> None:
    copy = (CHART / "files" / "crds.yaml").read_text()
    documents = copy.split("---\n")
    assert documents[0] == "", "charts/causeway/files/crds.yaml starts with a document marker"
    source = {p.name: p.read_text() for p in (ROOT / "crds").glob("*.yaml")}
    assert documents[1:] == [source[name] for name in sorted(source)], (
        "charts/causeway/files/crds.yaml drifted from crds/: run `causeway crds`"
    )


def test_causeway_crds_check_covers_the_chart_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert check_crds(None) == []
    # In a scratch checkout: `causeway crds` writes both; --check finds drift in the copy.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "crds").mkdir()
    (tmp_path / "charts" / "causeway").mkdir(parents=True)
    assert "charts/causeway/files/crds.yaml (changed)" in write_crds(None)
    assert "charts/causeway/files/crds.yaml (unchanged)" in write_crds(None)
    assert check_crds(None) == []
    CHART_COPY.write_text(CHART_COPY.read_text().replace("OutboundConnection", "Outbound"))
    problems = "\n".join(check_crds(None))
    assert "charts/causeway/files/crds.yaml is out of date" in problems
    assert "crds/inboundconnection.yaml" not in problems
    CHART_COPY.unlink()
    assert "charts/causeway/files/crds.yaml is missing" in "\n".join(check_crds(None))
    # An explicit --output directory is checked alone, as before.
    assert check_crds(str(tmp_path / "crds")) == []


# --- the operator's pod --------------------------------------------------------------


def _deployment(manifests: Manifests) -> dict[str, Any]:
    deployment: dict[str, Any] = only(manifests, "Deployment")
    return deployment


def _container(manifests: Manifests) -> dict[str, Any]:
    (container,) = _deployment(manifests)["spec"]["template"]["spec"]["containers"]
    return dict(container)


def test_two_replicas_elect_a_leader_and_roll_one_at_a_time(render: Render) -> None:
    manifests = render()
    spec = _deployment(manifests)["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    args = _parser().parse_args(_container(manifests)["args"])
    assert (args.leader_elect, args.leader_election_lease) == (True, "causeway-leader")
    env = {e["name"]: e.get("valueFrom") for e in _container(manifests)["env"]}
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    # Room for the graceful stop (budget closed, 5 s in flight, Lease handed back).
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 30
    budget = only(manifests, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"] == spec["selector"]
    terms = spec["template"]["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert [t["podAffinityTerm"]["topologyKey"] for t in terms] == [
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    ]
    assert all(
        t["podAffinityTerm"]["labelSelector"]["matchLabels"] == spec["selector"]["matchLabels"]
        for t in terms
    )


def test_lease_access_is_a_role_in_the_release_namespace_only(render: Render) -> None:
    manifests = render()
    role = only(manifests, "Role")
    assert role["metadata"]["namespace"] == "causeway-system"
    assert role["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "create", "update"],
        }
    ]
    binding = only(manifests, "RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["name"] == only(manifests, "ServiceAccount")["metadata"]["name"]
    for cluster_role in (m for m in manifests if m["kind"] == "ClusterRole"):
        assert all("leases" not in rule["resources"] for rule in cluster_role["rules"])


def test_single_replica_install_turns_leader_election_off(render: Render) -> None:
    manifests = render({"leaderElection": {"enabled": False}, "replicaCount": 3})
    spec = _deployment(manifests)["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    assert _parser().parse_args(_container(manifests)["args"]).leader_elect is False
    kinds = {m["kind"] for m in manifests}
    assert not kinds & {"Role", "RoleBinding", "PodDisruptionBudget"}


def test_own_affinity_replaces_the_default_spread(render: Render) -> None:
    mine = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["system"]}]}
                ]
            }
        }
    }
    spec = _deployment(render({"affinity": mine}))["spec"]
    assert spec["template"]["spec"]["affinity"] == mine


def test_pod_meets_the_restricted_pod_security_standard(render: Render) -> None:
    pod = _deployment(render())["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["runAsGroup"] == 65532
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    security = _container(render())["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in _container(render())["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert {"configMap", "emptyDir"} >= {
        key for v in volumes.values() for key in v if key != "name"
    }


def test_container_runs_the_operator_with_probes_on_its_liveness_endpoint(render: Render) -> None:
    container = _container(render())
    command = container["command"] + container["args"]
    assert command == [
        "causeway",
        "run",
        "--log-format",
        "json",
        "--liveness",
        "http://0.0.0.0:8080/healthz",
        "--metrics-address",
        "0.0.0.0:9090",
        "--leader-election-lease",
        "causeway-leader",
    ]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"health": 8080, "metrics": 9090}
    for probe, path in (
        ("livenessProbe", "/healthz"),
        ("startupProbe", "/healthz"),
        ("readinessProbe", "/readyz"),  # the index is synced: a rolling update waits for it
    ):
        get = container[probe]["httpGet"]
        assert (get["path"], ports[get["port"]]) == (path, 8080), probe
    assert container["resources"] == DEFAULTS["resources"]


def test_the_operator_cli_accepts_the_charts_arguments(render: Render) -> None:
    container = _container(render(ALL_FEATURES))
    assert container["command"] == ["causeway"]
    args = _parser().parse_args(container["args"])
    assert args.log_format == "json"
    assert args.liveness == "http://0.0.0.0:8080/healthz"
    assert args.metrics_address == "0.0.0.0:9090"
    assert args.verbose == 1  # extraArgs: ["-v"]


def test_config_is_mounted_where_causeway_config_points(render: Render) -> None:
    manifests = render()
    container = _container(manifests)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CAUSEWAY_CONFIG"] == "/etc/causeway/config.yaml"
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/etc/causeway")
    assert mount["readOnly"] is True
    pod = _deployment(manifests)["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    config_map = only(manifests, "ConfigMap", volume["configMap"]["name"])
    assert "config.yaml" in config_map["data"]


def _config_text(manifests: Manifests) -> str:
    return str(only(manifests, "ConfigMap", f"{RELEASE}-config")["data"]["config.yaml"])


def test_rendered_config_loads_with_the_operators_own_loader(
    render: Render, tmp_path: Path
) -> None:
    file = tmp_path / "config.yaml"
    file.write_text(_config_text(render()))
    loaded = load_config(file)
    assert loaded == parse_config(EXAMPLE_CONFIG)
    assert DEFAULTS["config"] == EXAMPLE_CONFIG  # the defaults are the documented example


def test_config_checksum_follows_the_config_and_nothing_else(render: Render) -> None:
    def checksum(values: dict[str, Any] | None) -> str:
        annotations = _deployment(render(values))["spec"]["template"]["metadata"]["annotations"]
        return str(annotations["checksum/config"])

    default = checksum(None)
    assert default == hashlib.sha256(_config_text(render()).rstrip("\n").encode()).hexdigest()
    assert checksum({"config": {"pollInterval": "45s"}}) != default
    assert checksum({"podAnnotations": {"a": "b"}, "extraArgs": ["-v"]}) == default


def test_service_account_carries_the_irsa_role(render: Render) -> None:
    manifests = render(ALL_FEATURES)
    account = only(manifests, "ServiceAccount")
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": ROLE_ARN,
        "example.com/owner": "platform",
    }
    pod = _deployment(manifests)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert "annotations" not in only(render(), "ServiceAccount")["metadata"]


def test_existing_service_account_is_used_by_name(render: Render, helm: Helm) -> None:
    manifests = render({"serviceAccount": {"create": False, "name": "platform-causeway"}})
    assert of_kind(manifests, "ServiceAccount") == []
    assert _deployment(manifests)["spec"]["template"]["spec"]["serviceAccountName"] == (
        "platform-causeway"
    )
    binding = only(manifests, "ClusterRoleBinding")
    assert binding["subjects"][0]["name"] == "platform-causeway"
    unnamed = helm.template({"serviceAccount": {"create": False}})
    assert unnamed.returncode != 0
    assert "serviceAccount.name is required" in unnamed.stderr


# --- RBAC: the trust model -------------------------------------------------------------

STATUS = [f"{r}/status" for r in ("outboundconnections", "inboundconnections", "namedcredentials")]
TENANT_KINDS = ["outboundconnections", "inboundconnections", "namedcredentials"]
WRITE_VERBS = ["create", "update", "patch", "delete", "deletecollection"]
READ_VERBS = ["get", "list", "watch"]


def allows(role: dict[str, Any], group: str, resource: str, verb: str) -> bool:
    return any(
        (group in rule.get("apiGroups", []) or "*" in rule.get("apiGroups", []))
        and (resource in rule.get("resources", []) or "*" in rule.get("resources", []))
        and (verb in rule.get("verbs", []) or "*" in rule.get("verbs", []))
        for rule in role.get("rules", [])
    )


def _roles(manifests: Manifests) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in of_kind(manifests, "ClusterRole")}


def test_tenant_edit_role_manages_connections_and_only_reads_quotas(render: Render) -> None:
    edit = _roles(render())[f"{CLUSTER_NAME}-tenant-edit"]
    labels = edit["metadata"]["labels"]
    assert labels["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert labels["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert "rbac.authorization.k8s.io/aggregate-to-view" not in labels
    for resource in TENANT_KINDS:
        for verb in [*READ_VERBS, *WRITE_VERBS]:
            assert allows(edit, "causeway.dev", resource, verb), (resource, verb)
    for verb in READ_VERBS:
        assert allows(edit, "causeway.dev", "connectionquotas", verb)
    for verb in WRITE_VERBS:
        assert not allows(edit, "causeway.dev", "connectionquotas", verb), verb


def test_tenant_roles_grant_no_status_no_internal_kinds_no_wildcards(render: Render) -> None:
    roles = _roles(render())
    tenant = [roles[f"{CLUSTER_NAME}-tenant-edit"], roles[f"{CLUSTER_NAME}-tenant-view"]]
    for role in tenant:
        for rule in role["rules"]:
            assert rule["apiGroups"] == ["causeway.dev"]
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], (role["metadata"]["name"], rule)
            assert not [r for r in rule["resources"] if "/" in r], "no subresource for tenants"
            assert "sourcerangeallocations" not in rule["resources"]
        for resource in [*STATUS, "connectionquotas/status"]:
            for verb in ["update", "patch"]:
                assert not allows(role, "causeway.dev", resource, verb)


def test_tenant_view_role_only_reads(render: Render) -> None:
    view = _roles(render())[f"{CLUSTER_NAME}-tenant-view"]
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    for resource in [*TENANT_KINDS, "connectionquotas"]:
        for verb in READ_VERBS:
            assert allows(view, "causeway.dev", resource, verb)
        for verb in WRITE_VERBS:
            assert not allows(view, "causeway.dev", resource, verb)


def test_tenant_roles_can_be_turned_off(render: Render) -> None:
    roles = _roles(render({"rbac": {"tenantRoles": False}}))
    assert set(roles) == {f"{CLUSTER_NAME}-operator", f"{CLUSTER_NAME}-secrets"}


def test_operator_role_is_bound_to_its_service_account(render: Render) -> None:
    manifests = render()
    operator = _roles(manifests)[f"{CLUSTER_NAME}-operator"]
    for resource in [*STATUS, "connectionquotas/status"]:
        assert allows(operator, "causeway.dev", resource, "patch"), resource
    for verb in ["create", "delete"]:
        assert allows(operator, "causeway.dev", "sourcerangeallocations", verb)
    assert allows(operator, "causeway.dev", "namedcredentials/finalizers", "update")
    for verb in [*READ_VERBS, *WRITE_VERBS]:  # Secrets only by the per-namespace role
        assert not allows(operator, "", "secrets", verb), verb
    assert allows(operator, "events.k8s.io", "events", "create")
    assert not any(
        verb in rule["verbs"] for rule in operator["rules"] for verb in ("*", "deletecollection")
    )
    binding = only(manifests, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": operator["metadata"]["name"],
    }
    account = only(manifests, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": NAMESPACE}
    ]


# --- metrics and dashboards ----------------------------------------------------------


def test_metrics_service_selects_the_operator_pod(render: Render) -> None:
    manifests = render()
    service = only(manifests, "Service")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
    ]
    pod_labels = _deployment(manifests)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert of_kind(manifests, "ServiceMonitor") == []
    assert of_kind(render({"metrics": {"service": {"enabled": False}}}), "Service") == []


def test_service_monitor_scrapes_the_metrics_service(render: Render, helm: Helm) -> None:
    manifests = render(ALL_FEATURES)
    monitor = only(manifests, "ServiceMonitor")
    service = only(manifests, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    spec = monitor["spec"]
    assert set(spec) == {"selector", "namespaceSelector", "endpoints"}
    assert spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert spec["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}
    ]
    assert spec["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    orphan = helm.template(
        {"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}}
    )
    assert orphan.returncode != 0
    assert "metrics.serviceMonitor.enabled needs metrics.service.enabled" in orphan.stderr


def _dashboard_maps(helm: Helm, chart: Path, values: dict[str, Any] | None = None) -> Manifests:
    result = helm.template(values, chart=chart)
    assert result.returncode == 0, result.stderr
    return [
        m
        for m in yaml.safe_load_all(result.stdout)
        if m and m["kind"] == "ConfigMap" and m["metadata"]["name"].endswith("-dashboards")
    ]


def test_dashboards_ship_as_a_sidecar_configmap(helm: Helm, chart_copy: Path) -> None:
    folder = chart_copy / "dashboards"
    if folder.exists():
        for file in folder.iterdir():
            file.unlink()
    assert _dashboard_maps(helm, chart_copy) == []  # no dashboard: nothing rendered
    folder.mkdir(exist_ok=True)
    text = json.dumps({"title": "Causeway test", "panels": []}, indent=2) + "\n"
    (folder / "test.json").write_text(text)
    (config_map,) = _dashboard_maps(helm, chart_copy)
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == NAMESPACE
    assert config_map["data"] == {"test.json": text}
    custom = {"label": "dash", "labelValue": "yes", "namespace": "monitoring"}
    (moved,) = _dashboard_maps(helm, chart_copy, {"grafana": {"dashboards": custom}})
    assert moved["metadata"]["labels"]["dash"] == "yes"
    assert moved["metadata"]["namespace"] == "monitoring"
    off = {"grafana": {"dashboards": {"enabled": False}}}
    assert _dashboard_maps(helm, chart_copy, off) == []


def test_the_charts_own_dashboards_are_shipped_verbatim(render: Render) -> None:
    files = sorted((CHART / "dashboards").glob("*.json"))
    if not files:
        pytest.skip("the chart holds no dashboard yet (charts/causeway/dashboards/*.json)")
    config_map = only(render(), "ConfigMap", f"{RELEASE}-dashboards")
    assert config_map["data"] == {f.name: f.read_text() for f in files}
    for file in files:
        json.loads(file.read_text())


# --- NOTES.txt -----------------------------------------------------------------------


def _notes(helm: Helm, chart: Path, values: dict[str, Any] | None = None) -> str:
    """NOTES.txt as `helm install` prints it. `helm template` never renders NOTES and
    `helm install --dry-run` needs a cluster, so a scratch copy of the chart renders the
    file through `tpl` inside a ConfigMap."""
    (chart / "notes").mkdir()
    (chart / "notes" / "NOTES.txt").write_text((chart / "templates" / "NOTES.txt").read_text())
    (chart / "templates" / "zz-notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n"
        'data: {notes: {{ tpl (.Files.Get "notes/NOTES.txt") . | toJson }}}\n'
    )
    result = helm.run(
        "template",
        RELEASE,
        chart,
        "-n",
        NAMESPACE,
        "--show-only",
        "templates/zz-notes.yaml",
        *helm.values_args(values),
    )
    assert result.returncode == 0, result.stderr
    (chart / "templates" / "zz-notes.yaml").unlink()
    (chart / "notes" / "NOTES.txt").unlink()
    (chart / "notes").rmdir()
    return str(yaml.safe_load(result.stdout)["data"]["notes"])


def test_notes_tell_the_admin_to_replace_placeholder_ids(helm: Helm, chart_copy: Path) -> None:
    notes = _notes(helm, chart_copy)
    assert "placeholder ids" in notes and "vpc-0a1b2c3d4e5f60718" in notes
    assert "No IRSA role is set" in notes
    assert f"rollout status deployment/{RELEASE}" in notes
    # Secrets are bound per tenant namespace: the notes say how, with the role's name.
    assert f"--clusterrole={CLUSTER_NAME}-secrets" in notes
    real_region = {
        "transitVpcId": "vpc-11111111",
        "subnetIds": ["subnet-22222222"],
        "securityGroupIds": ["sg-33333333"],
        "platformPrincipal": "arn:aws:iam::222222222222:role/outbound",
        "inboundServiceId": None,
        "sourceIpPool": None,
        "blockedSecurityGroupId": None,
    }
    configured = {
        "config": {"regions": {"us-east-1": real_region}},
        "serviceAccount": {"awsRoleArn": ROLE_ARN},
        "crds": {"install": False},
    }
    notes = _notes(helm, chart_copy, configured)
    assert "placeholder" not in notes and "No IRSA role" not in notes
    assert "kubectl apply -f crds/" in notes


# --- the values schema -----------------------------------------------------------------


def test_region_pattern_is_botocores_partitions() -> None:
    """The schema accepts exactly the region names of botocore's partitions, as the
    operator does (tools/sync_region_pattern.py writes it)."""
    names = SCHEMA["properties"]["config"]["properties"]["regions"]["propertyNames"]
    assert names["pattern"] == region_name_pattern(), (
        "charts/causeway/values.schema.json is stale: run "
        "`sh tools/uv run --frozen python tools/sync_region_pattern.py`"
    )


@pytest.mark.parametrize("region", ["eusc-de-east-1", "us-isob-east-1", "cn-northwest-1"])
def test_regions_of_every_partition_pass_the_schema(helm: Helm, region: str) -> None:
    result = helm.template({"config": {"regions": {"us-east-1": None, region: REGION_CONFIG}}})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "values", "complaint"),
    [
        ("tag is a number", {"image": {"tag": 5}}, "image.tag"),
        ("unknown top-level key", {"replicas": 2}, "replicas"),
        ("unknown nested key", {"serviceAccount": {"roleArn": ROLE_ARN}}, "roleArn"),
        (
            "resources garbage",
            {"resources": {"requests": {"memory": "lots"}}},
            "resources.requests.memory",
        ),
        ("resources not a mapping", {"resources": "big"}, "resources"),
        (
            "role is not an IAM role ARN",
            {"serviceAccount": {"awsRoleArn": "my-role"}},
            "serviceAccount.awsRoleArn",
        ),
        ("config without regions", {"config": {"regions": None}}, "regions is required"),
        (
            "region without subnets",
            {"config": {"regions": {"us-east-1": {"subnetIds": None}}}},
            "subnetIds is required",
        ),
        (
            "region name",
            {"config": {"regions": {"US_EAST": OUTBOUND_ONLY}}},
            'Property name of "US_EAST"',
        ),
        (
            "bad VPC id",
            {"config": {"regions": {"us-east-1": {"transitVpcId": "vpc-1"}}}},
            "config.regions.us-east-1.transitVpcId",
        ),
        ("unknown config key", {"config": {"pollIntervall": "30s"}}, "pollIntervall"),
        (
            "inbound half set",
            {"config": {"regions": {"us-east-1": {"sourceIpPool": None}}}},
            "sourceIpPool",
        ),
        ("pull policy", {"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy"),
        ("crds.install a string", {"crds": {"install": "yes"}}, "crds.install"),
        (
            "a grace period shorter than a graceful stop",
            {"terminationGracePeriodSeconds": 5},
            "terminationGracePeriodSeconds",
        ),
        (
            "argocd flag a string",
            {"argocd": {"healthChecks": {"enabled": "no"}}},
            "argocd.healthChecks.enabled",
        ),
        (
            "alert rules flag a string",
            {"metrics": {"prometheusRule": {"enabled": "yes"}}},
            "metrics.prometheusRule.enabled",
        ),
        (
            "scrape interval",
            {"metrics": {"serviceMonitor": {"interval": "often"}}},
            "metrics.serviceMonitor.interval",
        ),
    ],
)
def test_bad_values_fail_naming_the_key(
    helm: Helm, name: str, values: dict[str, Any], complaint: str
) -> None:
    result = helm.template(values)
    assert result.returncode != 0, f"{name}: rendered anyway"
    assert "values don't meet the specifications of the schema" in result.stderr
    assert complaint in result.stderr, result.stderr


def test_lint_reports_bad_values_too(helm: Helm) -> None:
    result = helm.lint({"image": {"tag": 5}})
    assert result.returncode != 0
    assert "image.tag" in result.stdout + result.stderr


def _objects_with_properties(node: Any, path: str = "$") -> list[tuple[str, Any]]:
    found = []
    if isinstance(node, dict):
        if "properties" in node:
            found.append((path, node))
        for key, value in node.items():
            found += _objects_with_properties(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _objects_with_properties(value, f"{path}[{index}]")
    return found


def test_schema_closes_every_object_it_defines() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    for path, node in _objects_with_properties(SCHEMA):
        assert node.get("additionalProperties") is False, f"{path} accepts unknown keys"
    jsonschema.validate(DEFAULTS, SCHEMA)
    assert DEFAULTS["argocd"] == {"healthChecks": {"enabled": False}}


def test_config_schema_has_exactly_the_operators_keys() -> None:
    config = SCHEMA["properties"]["config"]
    assert set(config["properties"]) == set(OperatorConfig.model_fields)
    assert set(config["properties"]["metering"]["properties"]) == set(MeteringConfig.model_fields)
    assert set(SCHEMA["definitions"]["region"]["properties"]) == set(RegionConfig.model_fields)
    required = {k for k, f in RegionConfig.model_fields.items() if f.is_required()}
    assert set(SCHEMA["definitions"]["region"]["required"]) == required
    pool_entry = SCHEMA["definitions"]["transitVpc"]
    assert set(pool_entry["properties"]) == set(TransitVpcConfig.model_fields)
    assert set(pool_entry["required"]) == {
        k for k, f in TransitVpcConfig.model_fields.items() if f.is_required()
    }
    assert config["properties"]["awsBudget"]["propertyNames"]["enum"] == BUDGETED_APIS


def _config_validator() -> jsonschema.Draft7Validator:
    schema = {**SCHEMA["properties"]["config"], "definitions": SCHEMA["definitions"]}
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize(
    ("config", "valid"),
    [
        (EXAMPLE_CONFIG, True),
        ({"regions": {"eu-west-1": OUTBOUND_ONLY}}, True),
        ({"regions": {"us-east-1": OUTBOUND_ONLY}, "pollInterval": 5}, True),
        ({"regions": {"us-east-1": OUTBOUND_ONLY}, "pollInterval": "250ms"}, False),  # < 1s
        ({"regions": {"us-east-1": OUTBOUND_ONLY}, "metering": {"hourlyLimitMB": 100}}, True),
        (
            {
                "regions": {"us-east-1": OUTBOUND_ONLY},
                "awsBudget": {"CreateVpcEndpoint": {"burst": 5, "rate": 0.5}},
            },
            True,
        ),
        ({"regions": {"us-east-1": {**OUTBOUND_ONLY, "subnetIds": []}}}, False),
        ({"regions": {"us-east-1": {**OUTBOUND_ONLY, "transitVpcId": "vpc-XYZ"}}}, False),
        ({"regions": {"us-east-1": {**OUTBOUND_ONLY, "sourceIpPool": "10.0.0.0/16"}}}, False),
        ({"regions": {"us-east-1": {**OUTBOUND_ONLY, "platformPrincipal": "role"}}}, False),
        ({"regions": {"us-east-1": {**OUTBOUND_ONLY, "sourceIpPool": "10.0.0.0/29"}}}, False),
        ({"regions": {"us-east-1": OUTBOUND_ONLY}, "metering": {"hourlyLimitMB": 0}}, False),
        (
            {
                "regions": {"us-east-1": OUTBOUND_ONLY},
                "awsBudget": {"DescribeThings": {"burst": 1, "rate": 1}},
            },
            False,
        ),
        ({"regions": {"US_EAST": OUTBOUND_ONLY}}, False),
        ({"regions": {"us-east-1": POOL_REGION}}, True),
        ({"regions": {"us-east-1": {**POOL_REGION, "transitVpcId": "vpc-11111111"}}}, False),
        (
            {"regions": {"us-east-1": {"platformPrincipal": POOL_REGION["platformPrincipal"]}}},
            False,
        ),
        (
            {
                "regions": {
                    "us-east-1": {
                        **POOL_REGION,
                        "transitVpcs": [{**POOL_REGION["transitVpcs"][0], "maxEndpoints": 0}],
                    }
                }
            },
            False,
        ),
        ({"regions": {}}, False),
    ],
)
def test_schema_never_refuses_a_config_the_operator_accepts(
    config: dict[str, Any], valid: bool
) -> None:
    """The operator's loader is the authority; the schema catches what it can earlier, and
    must never turn away a config the operator would run with."""
    try:
        parse_config(config)
        operator_accepts = True
    except ConfigError:
        operator_accepts = False
    assert operator_accepts is valid
    schema_errors = list(_config_validator().iter_errors(config))
    if operator_accepts:
        assert schema_errors == [], [e.message for e in schema_errors]


# --- Secrets: per tenant namespace, cluster-wide only as an opt-in ----------------------


def _bindings_of(manifests: Manifests, role: str) -> list[dict[str, Any]]:
    return [
        m
        for m in manifests
        if m["kind"] in ("RoleBinding", "ClusterRoleBinding") and m["roleRef"]["name"] == role
    ]


def test_no_secret_is_readable_outside_the_listed_tenant_namespaces(render: Render) -> None:
    """By default nothing grants Secrets; each listed namespace gets a RoleBinding of
    the Secrets ClusterRole, and no ClusterRoleBinding ever names it unless asked."""
    secrets_role = f"{CLUSTER_NAME}-secrets"
    default = render()
    role = _roles(default)[secrets_role]
    for verb in ["get", "list", "watch", "create", "update"]:
        assert allows(role, "", "secrets", verb), verb
    assert not allows(role, "", "secrets", "delete")
    assert _bindings_of(default, secrets_role) == []
    for name, cluster_role in _roles(default).items():
        if name != secrets_role:
            assert not any("secrets" in r.get("resources", []) for r in cluster_role["rules"])

    bindings = _bindings_of(render(WITH_TENANTS), secrets_role)
    assert sorted(b["metadata"]["namespace"] for b in bindings) == TENANTS
    assert {b["kind"] for b in bindings} == {"RoleBinding"}
    account = only(default, "ServiceAccount")["metadata"]["name"]
    for binding in bindings:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
        ]

    (everywhere,) = _bindings_of(render({"rbac": {"secrets": {"clusterWide": True}}}), secrets_role)
    assert everywhere["kind"] == "ClusterRoleBinding"


def test_two_releases_in_two_namespaces_share_no_cluster_scoped_name(helm: Helm) -> None:
    names: list[set[str]] = []
    for namespace in ("platform-a", "platform-b"):
        result = helm.run("template", RELEASE, CHART, "--namespace", namespace)
        assert result.returncode == 0, result.stderr
        names.append(
            {
                f"{m['kind']}/{m['metadata']['name']}"
                for m in parse(result.stdout)
                if m["kind"] in ("ClusterRole", "ClusterRoleBinding")
            }
        )
    assert names[0] and not names[0] & names[1]


def test_security_contexts_can_be_unset_for_openshift(render: Render) -> None:
    """restricted-v2 assigns the UID from the namespace's range: a fixed runAsUser is
    refused. The README's OpenShift values null the fixed ids; the rest stays."""
    openshift = {
        "podSecurityContext": {"runAsUser": None, "runAsGroup": None},
        "containerSecurityContext": {"runAsUser": None, "runAsGroup": None},
    }
    manifests = render(openshift)
    pod = _deployment(manifests)["spec"]["template"]["spec"]["securityContext"]
    container = _container(manifests)["securityContext"]
    for context in (pod, container):
        assert "runAsUser" not in context and "runAsGroup" not in context
        assert context["runAsNonRoot"] is True
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["allowPrivilegeEscalation"] is False


def test_pod_labels_cannot_take_over_the_selector(render: Render, helm: Helm) -> None:
    selector = _deployment(render())["spec"]["selector"]["matchLabels"]
    extra = _deployment(render({"podLabels": {"team": "platform"}}))
    labels = extra["spec"]["template"]["metadata"]["labels"]
    assert labels["team"] == "platform"
    assert labels.items() >= selector.items()
    result = helm.template({"podLabels": {"app.kubernetes.io/instance": "other"}})
    assert result.returncode != 0
    assert "podLabels" in result.stderr
