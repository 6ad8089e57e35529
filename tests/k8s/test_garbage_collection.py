"""A NamedCredential's published Secret is garbage-collected with it by the real garbage
collector (kube-controller-manager), given the Secret exactly as the operator writes it
(causeway.controllers.credentials: ownerReference with controller and
blockOwnerDeletion). Each propagation policy a user may pick is covered, and an owner
recreated under the same name (a new uid) does not adopt the old Secret."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from causeway.controllers.credentials import _published_body
from causeway.index import ObjectSnapshot
from causeway.sandbox.kube import KubeSandboxError
from realkube.cluster import HttpClient
from realkube.examples import example
from realkube.rbac import RBAC_API, bind_user, wait_until_allowed
from realkube.session import INSTALL, OPERATOR_ACCOUNT, OPERATOR_NAMESPACE, RealCluster

NAMESPACE = "garbage-collection"
CREDENTIALS = f"/apis/causeway.dev/v1alpha1/namespaces/{NAMESPACE}/namedcredentials"
SECRETS = f"/api/v1/namespaces/{NAMESPACE}/secrets"
GC_TIMEOUT = 60.0
_POLL = 0.1


@pytest.fixture(scope="module")
def admin(real_cluster: RealCluster) -> Iterator[HttpClient]:
    client = HttpClient(real_cluster.admin)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    client.call("POST", "/api/v1/namespaces", namespace)
    yield client
    client.call("DELETE", f"/api/v1/namespaces/{NAMESPACE}", missing_ok=True)


def publish(admin: HttpClient, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A NamedCredential and its published Secret, as the operator writes it."""
    credential = admin.call("POST", CREDENTIALS, example("NamedCredential", name, NAMESPACE))
    assert credential is not None
    body = _published_body(
        ObjectSnapshot(credential),
        f"{name}-callout",
        {"host": "inventory.acme.internal", "port": "8443"},
        "0" * 64,
    )
    secret = admin.call("POST", SECRETS, body)
    assert secret is not None
    return credential, secret


def eventually(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + GC_TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {GC_TIMEOUT:g}s: {what}")
        time.sleep(_POLL)


def gone(admin: HttpClient, path: str) -> Callable[[], bool]:
    return lambda: admin.call("GET", path, missing_ok=True) is None


def test_the_published_secret_is_owned_as_the_operator_writes_it(admin: HttpClient) -> None:
    credential, secret = publish(admin, "shape")
    (owner,) = secret["metadata"]["ownerReferences"]
    assert owner == {
        "apiVersion": "causeway.dev/v1alpha1",
        "kind": "NamedCredential",
        "name": "shape",
        "uid": credential["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    admin.call("DELETE", f"{CREDENTIALS}/shape")
    eventually("the Secret is collected", gone(admin, f"{SECRETS}/shape-callout"))


def test_deleting_the_credential_deletes_its_secret(admin: HttpClient) -> None:
    publish(admin, "background")
    admin.call("DELETE", f"{CREDENTIALS}/background")  # the default: background
    eventually("the Secret is collected", gone(admin, f"{SECRETS}/background-callout"))


def test_foreground_deletion_waits_for_the_secret(admin: HttpClient) -> None:
    publish(admin, "foreground")
    options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"}
    admin.call("DELETE", f"{CREDENTIALS}/foreground", options)
    # blockOwnerDeletion: the credential stays (being deleted) until its Secret is gone.
    pending = admin.call("GET", f"{CREDENTIALS}/foreground", missing_ok=True)
    secret_left = admin.call("GET", f"{SECRETS}/foreground-callout", missing_ok=True)
    if pending is not None:
        assert pending["metadata"].get("deletionTimestamp")
        assert "foregroundDeletion" in pending["metadata"]["finalizers"]
    else:
        assert secret_left is None, "the owner went before a dependent that blocks it"
    eventually("the Secret is collected", gone(admin, f"{SECRETS}/foreground-callout"))
    eventually("the credential is deleted", gone(admin, f"{CREDENTIALS}/foreground"))


def test_orphaning_keeps_the_secret_without_its_owner(admin: HttpClient) -> None:
    publish(admin, "orphan")
    options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan"}
    admin.call("DELETE", f"{CREDENTIALS}/orphan", options)
    eventually("the credential is deleted", gone(admin, f"{CREDENTIALS}/orphan"))

    def orphaned() -> bool:
        secret = admin.call("GET", f"{SECRETS}/orphan-callout")
        return secret is not None and not secret["metadata"].get("ownerReferences")

    eventually("the Secret loses its ownerReference", orphaned)
    admin.call("DELETE", f"{SECRETS}/orphan-callout")


def _operator_may_write_secrets_in(admin: HttpClient) -> None:
    """Bind, in NAMESPACE, each operator ClusterRole of deploy/install.yaml that grants
    Secrets but no ClusterRoleBinding binds (meant for a RoleBinding per tenant
    namespace, the way an admin onboards one); nothing to do when the Secrets rule is
    cluster-wide."""
    manifests = [m for m in yaml.safe_load_all(INSTALL.read_text()) if m]
    bound = {m["roleRef"]["name"] for m in manifests if m["kind"] == "ClusterRoleBinding"}
    for role in manifests:
        grants_secrets = any(
            "secrets" in rule.get("resources", []) and "create" in rule.get("verbs", [])
            for rule in role.get("rules") or []
        )
        if role["kind"] != "ClusterRole" or not grants_secrets or role["metadata"]["name"] in bound:
            continue
        name = role["metadata"]["name"]
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [
                {
                    "kind": "ServiceAccount",
                    "name": OPERATOR_ACCOUNT,
                    "namespace": OPERATOR_NAMESPACE,
                }
            ],
        }
        admin.call(
            "POST",
            f"{RBAC_API}/namespaces/{NAMESPACE}/rolebindings",
            binding,
        )


def test_only_who_may_finalize_the_credential_may_block_its_deletion(
    real_cluster: RealCluster, admin: HttpClient
) -> None:
    # OwnerReferencesPermissionEnforcement: the operator's roles carry what it takes to
    # publish the Secret as it does; a tenant's editor, who may write Secrets, may not.
    assert real_cluster.operator is not None
    operator = HttpClient(real_cluster.operator)
    _operator_may_write_secrets_in(admin)
    wait_until_allowed(operator, "create", "", "secrets", NAMESPACE)
    credential = admin.call("POST", CREDENTIALS, example("NamedCredential", "guarded", NAMESPACE))
    assert credential is not None
    body = _published_body(ObjectSnapshot(credential), "guarded-callout", {"host": "h"}, "2" * 64)
    published = operator.call("POST", SECRETS, body)
    assert published is not None
    bind_user(admin, NAMESPACE, "gc-editor", "edit")
    editor = real_cluster.user("gc-editor")
    wait_until_allowed(editor, "create", "", "secrets", NAMESPACE)
    copied = {**body, "metadata": {**body["metadata"], "name": "copied-callout"}}
    with pytest.raises(KubeSandboxError) as refused:
        editor.call("POST", SECRETS, copied)
    assert refused.value.status == 403
    assert "cannot set blockOwnerDeletion" in refused.value.body["message"]
    admin.call("DELETE", f"{CREDENTIALS}/guarded")
    eventually("the Secret is collected", gone(admin, f"{SECRETS}/guarded-callout"))


def test_a_credential_recreated_under_the_same_name_does_not_keep_the_old_secret(
    admin: HttpClient,
) -> None:
    old, _ = publish(admin, "recreated")
    admin.call(
        "DELETE",
        f"{CREDENTIALS}/recreated",
        {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan"},
    )
    eventually("the credential is deleted", gone(admin, f"{CREDENTIALS}/recreated"))
    # The Secret may already be orphaned; point it at the old uid again, as a Secret
    # written just before the credential was recreated would be.
    stale = _published_body(ObjectSnapshot(old), "recreated-callout", {"host": "h"}, "1" * 64)
    admin.call("PUT", f"{SECRETS}/recreated-callout", stale)
    new = admin.call("POST", CREDENTIALS, example("NamedCredential", "recreated", NAMESPACE))
    assert new is not None and new["metadata"]["uid"] != old["metadata"]["uid"]
    eventually("the stale Secret is collected", gone(admin, f"{SECRETS}/recreated-callout"))
    assert admin.call("GET", f"{CREDENTIALS}/recreated") is not None
    admin.call("DELETE", f"{CREDENTIALS}/recreated")
