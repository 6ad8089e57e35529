"""End to end: NamedCredential with the real operator against the sandbox. Ready only
while its connection is, a published Secret that carries no route while not Ready,
rotation within seconds, a Secret Causeway does not own left untouched, references
to other namespaces never followed, only named Secrets read, garbage collection with
the credential, and no secret value anywhere in what the operator says."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from causeway.kube import SecretAccessDeniedError, SecretsApi
from causeway.kube import secrets as secrets_module
from causeway.sandbox.aws import TenantService
from causeway.sandbox.kube import KubeSandboxError
from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import OUTBOUND, condition, eventually, outbound, status_of, wait_phase

CREDENTIALS = "namedcredentials"
SECRET_VALUE = "s3cr3t-Value-93f1a7"
ROTATED_VALUE = "r0tated-Value-5c2e88"


@pytest.fixture(scope="module")
def stack(kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s", namespaces=["acme", "globex"], kube_backend=kube_backend
    ) as running:
        running.grant_quota("acme", licenses=20)
        running.grant_quota("globex", licenses=20)
        running.start_operator()
        yield running


@pytest.fixture(scope="module")
def service(stack: SandboxStack) -> TenantService:
    return stack.aws.create_tenant_service(acceptance_required=True)


def secret(name: str, namespace: str = "acme", **values: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "stringData": values,
    }


def credential(name: str, connection: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "causeway.dev/v1alpha1",
        "kind": "NamedCredential",
        "metadata": {"name": name, "namespace": spec.pop("namespace", "acme")},
        "spec": {
            "url": "https://api.acme.internal:8443/v1",
            "outboundConnection": connection,
            **spec,
        },
    }


def api_key(secret_name: str) -> dict[str, Any]:
    return {"type": "ApiKey", "secretRef": {"name": secret_name}, "header": "X-Api-Key"}


def cred_status(stack: SandboxStack, name: str, namespace: str = "acme") -> dict[str, Any]:
    return status_of(stack, namespace, name, CREDENTIALS)


def wait_cred(
    stack: SandboxStack, name: str, phase: str, namespace: str = "acme"
) -> dict[str, Any]:
    return wait_phase(stack, namespace, name, phase, kind=CREDENTIALS)


def published(stack: SandboxStack, name: str, namespace: str = "acme") -> dict[str, str]:
    body = stack.kube.get("secrets", namespace, name) or {}
    return {k: base64.b64decode(v).decode() for k, v in (body.get("data") or {}).items()}


def test_ready_only_after_its_connection_and_back_to_pending_when_it_goes(
    stack: SandboxStack, service: TenantService
) -> None:
    stack.kube.apply(secret("inv-key", apiKey=SECRET_VALUE))
    stack.kube.apply(outbound("inventory", service.service_name))
    stack.kube.apply(
        credential(
            "inventory-api",
            "inventory",
            authentication=api_key("inv-key"),
            publishSecret="inventory-callout",
        )
    )
    wait_cred(stack, "inventory-api", "Pending")
    vpce = wait_phase(stack, "acme", "inventory", "PendingAcceptance")["vpcEndpointId"]
    pending = eventually(
        lambda: (
            (s := cred_status(stack, "inventory-api"))["phase"] == "Pending"
            and "inventory is PendingAcceptance: Accept the connection request" in s["message"]
            and s
        ),
        what="the credential to relay its connection's PendingAcceptance",
    )
    assert vpce in pending["message"]
    assert "connectAddress" not in published(stack, "inventory-callout")

    stack.aws.accept(service.service_id, vpce)
    ready = wait_cred(stack, "inventory-api", "Ready")
    dns = status_of(stack, "acme", "inventory")["dnsNames"]
    assert ready["endpoint"] == {
        "host": "api.acme.internal",
        "port": 8443,
        "address": "api.acme.internal:8443",
        "dnsNames": dns,
    }
    data = eventually(
        lambda: (d := published(stack, "inventory-callout")).get("status") == "Ready" and d,
        what="published Ready",
    )
    assert data["connectAddress"] == dns[0]
    assert data["url"] == f"https://{dns[0]}:8443/v1"
    assert (data["host"], data["apiKey"], data["apiKeyHeader"]) == (
        "api.acme.internal",
        SECRET_VALUE,
        "X-Api-Key",
    )

    stack.kube.patch(OUTBOUND, "acme", "inventory", {"spec": {"provisioned": False}})
    eventually(
        lambda: "is Unprovisioned" in cred_status(stack, "inventory-api").get("message", ""),
        what="the credential to say its connection is unprovisioned",
    )
    after = eventually(
        lambda: (d := published(stack, "inventory-callout")).get("status") == "Pending" and d,
        what="published Pending",
    )
    assert "connectAddress" not in after and "url" not in after
    assert not any(dns[0] in value for value in after.values())

    stack.kube.patch(OUTBOUND, "acme", "inventory", {"spec": {"provisioned": True}})
    vpce = wait_phase(stack, "acme", "inventory", "PendingAcceptance")["vpcEndpointId"]
    stack.aws.accept(service.service_id, vpce)
    wait_cred(stack, "inventory-api", "Ready")


def test_a_rotated_secret_reaches_the_published_secret_within_seconds(
    stack: SandboxStack, service: TenantService
) -> None:
    stack.kube.apply(secret("rot-key", apiKey=SECRET_VALUE))
    stack.kube.apply(
        credential(
            "rotating", "inventory", authentication=api_key("rot-key"), publishSecret="rotating-out"
        )
    )
    eventually(
        lambda: published(stack, "rotating-out").get("apiKey") == SECRET_VALUE, what="first publish"
    )
    stack.kube.apply(secret("rot-key", apiKey=ROTATED_VALUE))
    eventually(
        lambda: published(stack, "rotating-out").get("apiKey") == ROTATED_VALUE,
        timeout=5,
        what="the rotation",
    )


def test_a_secret_causeway_does_not_own_is_refused_and_untouched(stack: SandboxStack) -> None:
    stack.kube.apply(secret("theirs", note="someone else's"))
    stack.kube.apply(credential("grabby", "inventory", publishSecret="theirs"))
    status = wait_cred(stack, "grabby", "Invalid")
    assert condition(status, "Stalled")["reason"] == "PublishSecretConflict"
    assert published(stack, "theirs") == {"note": "someone else's"}


def test_a_reference_to_another_namespace_is_refused_by_the_api_server(
    stack: SandboxStack,
) -> None:
    # The CRD's name pattern has no room for "namespace/name": the API server refuses it
    # (the sandbox as a real one), so the operator never sees a cross-namespace reference.
    with pytest.raises(KubeSandboxError) as refused:
        stack.kube.apply(credential("sneaky", "globex/inventory"))
    assert refused.value.status == 422
    assert "spec.outboundConnection" in refused.value.body["message"]
    assert stack.kube.get("namedcredentials", "acme", "sneaky") is None


def test_a_missing_secret_and_missing_keys_are_named(stack: SandboxStack) -> None:
    stack.kube.apply(credential("no-secret", "inventory", authentication=api_key("absent")))
    assert "Secret absent does not exist" in wait_cred(stack, "no-secret", "Invalid")["message"]
    stack.kube.apply(secret("absent", wrong="x"))
    assert (
        "lacks the key(s) apiKey"
        in eventually(
            lambda: (
                (s := cred_status(stack, "no-secret")).get("message", "").find("lacks") >= 0 and s
            ),
            what="keys missing",
        )["message"]
    )
    stack.kube.apply(secret("absent", apiKey=SECRET_VALUE))
    wait_cred(stack, "no-secret", "Ready")


def test_deleting_the_connection_leaves_the_credential_pending(
    stack: SandboxStack, service: TenantService
) -> None:
    stack.kube.apply(outbound("short", service.service_name))
    stack.kube.apply(credential("short-api", "short"))
    wait_cred(stack, "short-api", "Pending")
    stack.kube.delete(OUTBOUND, "acme", "short")
    status = eventually(
        lambda: (
            (s := cred_status(stack, "short-api"))
            and condition(s, "Reconciling").get("reason") == "ConnectionNotFound"
            and s
        ),
        what="ConnectionNotFound",
    )
    assert "OutboundConnection short does not exist in this namespace" in status["message"]


def test_deleting_the_credential_removes_its_published_secret(stack: SandboxStack) -> None:
    stack.kube.apply(credential("doomed-api", "inventory", publishSecret="doomed-out"))
    eventually(lambda: published(stack, "doomed-out"), what="the published Secret")
    stack.kube.delete(CREDENTIALS, "acme", "doomed-api")
    eventually(
        lambda: stack.kube.get("secrets", "acme", "doomed-out") is None, what="garbage collection"
    )


def test_only_named_secrets_are_read(stack: SandboxStack) -> None:
    stack.kube.apply(secret("unrelated", password="not-for-causeway"))
    stack.kube.apply(credential("reader", "inventory", authentication=api_key("inv-key")))
    wait_cred(stack, "reader", "Ready")
    assert stack.kube.reads_of("secrets", "acme", "unrelated") == 0
    assert stack.kube.reads_of("secrets", "acme", "inv-key") >= 1


def test_a_namespace_that_refuses_secrets_is_named_in_status_and_logged_once(
    stack: SandboxStack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The operator holds Secrets rights per tenant namespace. Where none is bound, the
    API server answers 403 (the sandbox has no RBAC: the refusal is made at the
    client's edge, as the API server would send it); the credentials there say what an
    admin must do, one log line says it, and all recovers once the role is bound."""
    caplog.set_level(logging.INFO, logger="causeway.credentials")
    refused = "/api/v1/namespaces/globex/secrets"
    real_get, real_object = SecretsApi._get, SecretsApi._object

    def get(api: SecretsApi, path: str, *args: Any, **kwargs: Any) -> Any:
        if path.startswith(refused):
            raise SecretAccessDeniedError("listing Secrets: HTTP 403 Forbidden")
        return real_get(api, path, *args, **kwargs)

    def object_(api: SecretsApi, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if path.startswith(refused):
            raise SecretAccessDeniedError("could not read Secret: HTTP 403 Forbidden")
        return real_object(api, method, path, *args, **kwargs)

    monkeypatch.setattr(secrets_module, "DENIED_RETRY_SECONDS", 0.2)
    monkeypatch.setattr(SecretsApi, "_get", get)
    monkeypatch.setattr(SecretsApi, "_object", object_)
    stack.kube.apply(secret("walled-key", namespace="globex", apiKey=SECRET_VALUE))
    walled = credential(
        "walled", "nowhere", namespace="globex", authentication=api_key("walled-key")
    )
    stack.kube.apply(walled)
    status = eventually(
        lambda: (
            (s := cred_status(stack, "walled", "globex")).get("phase") == "Pending"
            and condition(s, "Ready").get("reason") == "SecretAccessDenied"
            and s
        ),
        what="the refusal in status",
    )
    assert "namespace globex" in status["message"]
    assert "rbac.secrets.namespaces" in status["message"]
    refusals = [r for r in caplog.records if "may not use Secrets in namespace globex" in r.message]
    assert len(refusals) == 1

    monkeypatch.setattr(SecretsApi, "_get", real_get)  # an admin binds the role
    monkeypatch.setattr(SecretsApi, "_object", real_object)
    eventually(
        lambda: (
            condition(cred_status(stack, "walled", "globex"), "Ready").get("reason")
            not in (None, "SecretAccessDenied")
        ),
        what="the credential looked at again once Secrets are usable",
    )


def test_no_secret_value_appears_in_logs_events_statuses_or_exceptions(
    stack: SandboxStack, caplog: pytest.LogCaptureFixture
) -> None:
    # Runs last: everything the module did is in the cluster; this run's logs are captured.
    caplog.set_level(logging.DEBUG)
    stack.kube.apply(secret("inv-key", apiKey=ROTATED_VALUE))
    eventually(
        lambda: published(stack, "inventory-callout").get("apiKey") == ROTATED_VALUE,
        what="a rotation",
    )
    captured = [caplog.text]
    captured += [str(r.exc_info) + str(r.args) for r in caplog.records]
    for plural in (OUTBOUND, "inboundconnections", CREDENTIALS, "connectionquotas"):
        for namespace in ("acme", "globex"):
            captured += [str(o.get("status")) for o in stack.kube.list(plural, namespace)]
    for namespace in ("acme", "globex"):
        captured += [str(e) for e in stack.kube.list("events.events.k8s.io", namespace)]
    everything = "\n".join(captured)
    for value in (SECRET_VALUE, ROTATED_VALUE):
        assert value not in everything
        assert base64.b64encode(value.encode()).decode() not in everything
