"""The pydantic models enforce the same contract at run time as the CRDs do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from causeway.api.credential import Authentication, NamedCredentialSpec
from causeway.api.outbound import OutboundConnectionSpec
from causeway.api.quota import ConnectionQuotaSpec
from crd_validation import validate

SERVICE = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"


def test_outbound_defaults_to_provisioned() -> None:
    spec = OutboundConnectionSpec.model_validate({"region": "us-east-1", "serviceName": SERVICE})
    assert spec.provisioned is True


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"region": "us-east-1", "serviceName": "vpce-svc-0123"}, "should match pattern"),
        ({"region": "useast1", "serviceName": SERVICE}, "should match pattern"),
        (
            {"region": "eu-west-1", "serviceName": SERVICE.replace("us-east-1", "eu-west-2")},
            "not in region",
        ),
        ({"region": "us-east-1", "serviceName": SERVICE, "extra": 1}, "Extra inputs"),
    ],
)
def test_outbound_spec_rejects(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OutboundConnectionSpec.model_validate(data)


AUTH_CASES = [
    ({"type": "Basic"}, "secretRef is required"),
    ({"type": "None", "secretRef": {"name": "k"}}, "None takes none"),
    ({"type": "ApiKey", "secretRef": {"name": "k"}}, "header is required"),
    ({"type": "BearerToken", "secretRef": {"name": "k"}, "header": "X-Key"}, "header is required"),
    ({"type": "OAuth2ClientCredentials", "secretRef": {"name": "k"}}, "tokenUrl is required"),
    ({"type": "Basic", "secretRef": {"name": "k"}, "scopes": ["read"]}, "scopes are only"),
    ({"type": "AwsSigV4", "secretRef": {"name": "k"}}, "service is required"),
    ({"type": "ApiKey", "secretRef": {"name": "k"}, "header": "X-K", "service": "s3"}, "service"),
]


@pytest.mark.parametrize(("auth", "message"), AUTH_CASES)
def test_authentication_fields_must_fit_the_type_in_the_crd_and_in_code(
    auth: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Authentication.model_validate(auth)
    crd = yaml.safe_load((ROOT / "crds" / "namedcredential.yaml").read_text())
    body = {
        "apiVersion": "causeway.dev/v1alpha1",
        "kind": "NamedCredential",
        "metadata": {"name": "c", "namespace": "acme"},
        "spec": {"url": "https://a.example", "outboundConnection": "x", "authentication": auth},
    }
    assert any(message in error for error in validate(crd, body))


def test_named_credential_accepts_a_complete_api_key_spec() -> None:
    spec = NamedCredentialSpec.model_validate(
        {
            "url": "https://inventory.acme.internal:8443/v1",
            "outboundConnection": "inventory",
            "authentication": {
                "type": "ApiKey",
                "secretRef": {"name": "inv"},
                "header": "X-Api-Key",
            },
        }
    )
    assert spec.authentication.header == "X-Api-Key"


def test_quota_account_ids_are_twelve_digits() -> None:
    with pytest.raises(ValidationError):
        ConnectionQuotaSpec.model_validate({"awsAccountIds": ["12345"]})
    assert (
        ConnectionQuotaSpec.model_validate(
            {"licenses": 2, "awsAccountIds": ["222222222222"]}
        ).licenses
        == 2
    )
