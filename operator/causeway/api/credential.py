"""The NamedCredential kind: a callout target (URL + authentication) bound to one
OutboundConnection of the same namespace."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, cast

from pydantic import Field, StringConstraints, model_validator

from causeway.api.common import K8S_NAME_PATTERN, ApiModel, Condition, conditions_field
from causeway.api.kinds import Column, KindInfo

URL_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?$"
HEADER_PATTERN = r"^[A-Za-z0-9-]+$"


class AuthType(StrEnum):
    """How the callout authenticates. SECRET_KEYS below says which keys of the source
    Secret each type reads."""

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
    scopes: list[Annotated[str, StringConstraints(max_length=256)]] | None = Field(
        default=None, max_length=50, description="OAuth2 scopes, OAuth2ClientCredentials only."
    )
    service: str | None = Field(
        default=None, description="AWS service name to sign for, AwsSigV4 only."
    )

    @model_validator(mode="after")
    def _fields_fit_type(self) -> Authentication:
        for rule in AUTH_RULES:
            if not rule.holds(self):
                raise ValueError(rule.message)
        return self


@dataclass(frozen=True)
class _AuthRule:
    """One rule of which authentication fields a type takes: checked by the API server
    (as CEL, in the CRD) and again here for objects that slipped past an older CRD."""

    cel: str
    message: str
    holds: Callable[[Authentication], bool]

    def crd_rule(self) -> dict[str, str]:
        return {"rule": self.cel, "message": self.message}


AUTH_RULES: tuple[_AuthRule, ...] = (
    _AuthRule(
        "(self.type == 'None') == !has(self.secretRef)",
        "secretRef is required for every type but None, and None takes none",
        lambda a: (a.type is AuthType.NONE) == (a.secretRef is None),
    ),
    _AuthRule(
        "(self.type == 'ApiKey') == has(self.header)",
        "header is required for ApiKey and only allowed there",
        lambda a: (a.type is AuthType.API_KEY) == (a.header is not None),
    ),
    _AuthRule(
        "(self.type == 'OAuth2ClientCredentials') == has(self.tokenUrl)",
        "tokenUrl is required for OAuth2ClientCredentials and only allowed there",
        lambda a: (a.type is AuthType.OAUTH2_CLIENT_CREDENTIALS) == (a.tokenUrl is not None),
    ),
    _AuthRule(
        "!has(self.scopes) || self.type == 'OAuth2ClientCredentials'",
        "scopes are only allowed for OAuth2ClientCredentials",
        lambda a: a.scopes is None or a.type is AuthType.OAUTH2_CLIENT_CREDENTIALS,
    ),
    _AuthRule(
        "(self.type == 'AwsSigV4') == has(self.service)",
        "service is required for AwsSigV4 and only allowed there",
        lambda a: (a.type is AuthType.AWS_SIGV4) == (a.service is not None),
    ),
)

# The keys each type reads from the source Secret (its `data`/`stringData`).
SECRET_KEYS: dict[AuthType, tuple[str, ...]] = {
    AuthType.NONE: (),
    AuthType.BASIC: ("username", "password"),
    AuthType.BEARER_TOKEN: ("token",),
    AuthType.API_KEY: ("apiKey",),
    AuthType.OAUTH2_CLIENT_CREDENTIALS: ("clientId", "clientSecret"),
    AuthType.AWS_SIGV4: ("accessKeyId", "secretAccessKey"),
}
OPTIONAL_SECRET_KEYS: dict[AuthType, tuple[str, ...]] = {AuthType.AWS_SIGV4: ("sessionToken",)}


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
        default_factory=Authentication,
        description="How the callout authenticates.",
        json_schema_extra={
            "x-kubernetes-validations": cast(Any, [r.crd_rule() for r in AUTH_RULES])
        },
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
    address: str = Field(description="host:port, as the callout addresses it.")
    dnsNames: list[str] = Field(
        default_factory=list,
        description="The connection's endpoint DNS names: where to connect (empty unless Ready).",
    )


class NamedCredentialStatus(ApiModel):
    """What Causeway resolved."""

    phase: Literal["Ready", "Pending", "Invalid"] | None = Field(
        default=None, description="Ready only while its connection is Ready."
    )
    endpoint: ResolvedEndpoint | None = Field(default=None, description="Resolved endpoint.")
    message: str | None = Field(default=None, description="What the tenant must do next.")
    observedGeneration: int | None = Field(default=None, description="Generation observed.")
    lastSyncTime: datetime | None = Field(
        default=None, description="When Causeway last looked at this credential on request."
    )
    blockedUntil: datetime | None = Field(
        default=None,
        description="Calls through its connection are blocked until then (the namespace "
        "reached its hourly outbound limit).",
    )
    conditions: list[Condition] = conditions_field("kstatus conditions, and Blocked.")


NAMED_CREDENTIAL = KindInfo(
    kind="NamedCredential",
    plural="namedcredentials",
    short_names=("cwnc",),
    description="A callout target bound to one OutboundConnection.",
    spec=NamedCredentialSpec,
    status=NamedCredentialStatus,
    columns=(
        Column("Connection", ".spec.outboundConnection"),
        Column("Phase", ".status.phase"),
        Column("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        Column("Target", ".status.endpoint.address"),
        Column("Connect", ".status.endpoint.dnsNames[0]", priority=1),
        Column("BlockedUntil", ".status.blockedUntil", priority=1),
        Column("URL", ".spec.url", priority=1),
    ),
)
