"""The NamedCredential kind: a callout target (URL + authentication) bound to one
OutboundConnection of the same namespace."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from causeway.api.common import K8S_NAME_PATTERN, ApiModel, Condition
from causeway.api.kinds import Column, KindInfo

URL_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?$"
HEADER_PATTERN = r"^[A-Za-z0-9-]+$"


class AuthType(StrEnum):
    """How the callout authenticates."""

    NONE = "None"
    BASIC = "Basic"
    BEARER_TOKEN = "BearerToken"
    API_KEY = "ApiKey"
    OAUTH2_CLIENT_CREDENTIALS = "OAuth2ClientCredentials"
    AWS_SIGV4 = "AwsSigV4"


class SecretRef(ApiModel):
    """A Secret in the same namespace."""

    name: str = Field(pattern=K8S_NAME_PATTERN, max_length=253, description="Secret name.")


class Authentication(ApiModel):
    """Authentication settings; secret material stays in the referenced Secret."""

    type: AuthType = Field(default=AuthType.NONE, description="Authentication scheme.")
    secretRef: SecretRef | None = Field(
        default=None, description="Secret with the auth material (never copied to status)."
    )
    header: str | None = Field(
        default=None, pattern=HEADER_PATTERN, description="Header for ApiKey only."
    )
    tokenUrl: str | None = Field(
        default=None, pattern=URL_PATTERN, description="Token endpoint, OAuth2 only."
    )
    scopes: list[str] = Field(default_factory=list, description="OAuth2 scopes.")
    service: str | None = Field(
        default=None, description="AWS service name to sign for, AwsSigV4 only."
    )

    @model_validator(mode="after")
    def _fields_fit_type(self) -> Authentication:
        needs_secret = self.type is not AuthType.NONE
        if needs_secret and self.secretRef is None:
            raise ValueError(f"authentication type {self.type} needs secretRef")
        if (self.header is not None) != (self.type is AuthType.API_KEY):
            raise ValueError("header is required for ApiKey and only allowed there")
        if (self.tokenUrl is not None) != (self.type is AuthType.OAUTH2_CLIENT_CREDENTIALS):
            raise ValueError("tokenUrl is required for OAuth2ClientCredentials and only there")
        if (self.service is not None) != (self.type is AuthType.AWS_SIGV4):
            raise ValueError("service is required for AwsSigV4 and only allowed there")
        return self


class NamedCredentialSpec(ApiModel):
    """A callout target bound to one OutboundConnection."""

    url: str = Field(
        pattern=URL_PATTERN, max_length=2048, description="https or http URL of the target."
    )
    outboundConnection: str = Field(
        pattern=K8S_NAME_PATTERN,
        max_length=253,
        description="Name of an OutboundConnection in the same namespace.",
    )
    authentication: Authentication = Field(
        default_factory=Authentication, description="How the callout authenticates."
    )
    publishSecret: str | None = Field(
        default=None,
        pattern=K8S_NAME_PATTERN,
        max_length=253,
        description="Name of a Secret to write for workloads (owned by this object).",
    )


class ResolvedEndpoint(ApiModel):
    """Where a workload connects for this callout."""

    host: str = Field(description="Host from the URL (Host header / SNI).")
    port: int = Field(ge=1, le=65535, description="Port (defaults 443/80).")
    dnsNames: list[str] = Field(default_factory=list, description="Endpoint DNS names.")


class NamedCredentialStatus(ApiModel):
    """What Causeway resolved."""

    phase: Literal["Ready", "Pending", "Invalid"] | None = Field(
        default=None, description="Ready only while its connection is Ready."
    )
    endpoint: ResolvedEndpoint | None = Field(default=None, description="Resolved endpoint.")
    message: str | None = Field(default=None, description="What the tenant must do next.")
    observedGeneration: int | None = Field(default=None, description="Generation observed.")
    conditions: list[Condition] = Field(default_factory=list, description="kstatus conditions.")


NAMED_CREDENTIAL = KindInfo(
    kind="NamedCredential",
    plural="namedcredentials",
    short_names=("ncred",),
    description="A callout target bound to one OutboundConnection.",
    spec=NamedCredentialSpec,
    status=NamedCredentialStatus,
    columns=(
        Column("Connection", ".spec.outboundConnection"),
        Column("Phase", ".status.phase"),
        Column("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        Column("URL", ".spec.url", priority=1),
    ),
)
