"""NamedCredential (pure): whether a callout target is usable, and the Secret published
for workloads. A credential is Ready only while its OutboundConnection is Ready; its
status names the route (host, port, where to connect), never a secret value; the
published Secret holds the route and the auth material in a fixed key layout per
authentication type, and no connect address unless the credential is Ready. While
its namespace is over the hourly outbound limit it stays Ready (the route is there)
and says it is blocked, and until when."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from causeway.api.credential import (
    OPTIONAL_SECRET_KEYS,
    SECRET_KEYS,
    AuthType,
    NamedCredentialSpec,
)
from causeway.conditions import ConditionState, Progress, kstatus, merge, timestamp
from causeway.reconcile.outbound import BLOCKED, HOURLY_LIMIT_REACHED
from causeway.reconcile.status import status_changes

CredentialPhase = Literal["Ready", "Pending", "Invalid"]
_PROGRESS: dict[CredentialPhase, Progress] = {
    "Ready": Progress.READY,
    "Pending": Progress.RECONCILING,
    "Invalid": Progress.STALLED,
}


@dataclass(frozen=True)
class Target:
    """What the callout's URL says: where the workload thinks it calls."""

    scheme: str
    host: str
    port: int
    path: str  # path, query and fragment, as written

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def at(self, connect_address: str) -> str:
        """The URL rewritten to reach the same path through the connect address."""
        path, _, query = self.path.partition("?")
        return urlunsplit((self.scheme, f"{connect_address}:{self.port}", path, query, ""))


class InvalidUrlError(ValueError):
    """The URL is not an http(s) URL with a host and a valid port."""


def parse_url(url: str) -> Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidUrlError(f"spec.url {url!r} is not an http or https URL with a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise InvalidUrlError(f"spec.url {url!r}: the port must be between 1 and 65535")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, path or "/")


@dataclass(frozen=True)
class Connection:
    """The OutboundConnection a credential names, as the cluster shows it (None: absent)."""

    name: str
    region: str
    phase: str | None
    message: str
    dns_names: tuple[str, ...] = ()
    blocked_until: str | None = None  # its status.blockedUntil (the hourly limit)


@dataclass(frozen=True)
class Standing:
    """Where a credential stands. A Ready one may be blocked for a while: the route
    exists and comes back by itself at `blocked_until`."""

    phase: CredentialPhase
    reason: str
    message: str
    blocked_until: str | None = None


def secret_access_denied(namespace: str) -> Standing:
    """The namespace does not let Causeway use Secrets (no role bound there): nothing
    the tenant can fix; the credential waits for the platform admin."""
    return Standing(
        "Pending",
        "SecretAccessDenied",
        f"Causeway may not read or write Secrets in namespace {namespace}: a platform "
        "admin must bind Causeway's Secrets ClusterRole here (chart value "
        "rbac.secrets.namespaces, or a RoleBinding). This credential is looked at again "
        "as soon as it may.",
    )


def standing(
    spec: NamedCredentialSpec,
    connection: Connection | None,
    secret_keys: frozenset[str] | None,
) -> Standing:
    """`secret_keys`: the keys of the named Secret (None: it does not exist)."""
    auth = spec.authentication
    if auth.secretRef is not None:
        needed = SECRET_KEYS[auth.type]
        if secret_keys is None:
            return Standing(
                "Invalid",
                "SecretNotFound",
                f"Secret {auth.secretRef.name} does not exist in this namespace: create it "
                f"with the key(s) {', '.join(needed)} that {auth.type} authentication reads.",
            )
        missing = [key for key in needed if key not in secret_keys]
        if missing:
            return Standing(
                "Invalid",
                "SecretKeysMissing",
                f"Secret {auth.secretRef.name} lacks the key(s) {', '.join(missing)} that "
                f"{auth.type} authentication reads.",
            )
    return _route(spec.outboundConnection, connection)


def _route(name: str, connection: Connection | None) -> Standing:
    if connection is None:
        return Standing(
            "Pending",
            "ConnectionNotFound",
            f"OutboundConnection {name} does not exist in this namespace: create it, or fix "
            "spec.outboundConnection.",
        )
    if connection.phase != "Ready":
        phase = connection.phase or "not yet reconciled"
        return Standing(
            "Pending",
            "ConnectionNotReady",
            f"OutboundConnection {name} is {phase}: {connection.message or 'wait for it.'}",
        )
    reach = f"Calls reach {name} through {connection.dns_names[0]}."
    if connection.blocked_until:
        blocked = (
            f"{reach} They are blocked until {connection.blocked_until}: this namespace "
            "reached its hourly outbound limit (see its ConnectionQuota); they pass again then."
        )
        return Standing("Ready", "Ready", blocked, connection.blocked_until)
    return Standing("Ready", "Ready", reach)


def invalid(reason: str, message: str) -> Standing:
    return Standing("Invalid", reason, message)


def publish_conflict(name: str) -> Standing:
    return invalid(
        "PublishSecretConflict",
        f"Secret {name} exists and is not owned by this NamedCredential; Causeway never "
        "overwrites it. Choose another spec.publishSecret, or delete that Secret.",
    )


def render_status(
    generation: int,
    result: Standing,
    *,
    target: Target | None,
    connection: Connection | None,
    previous: Mapping[str, Any],
    now: datetime,
    touch: bool,
) -> dict[str, Any] | None:
    """The status patch (or None when nothing changed). dnsNames only while Ready."""
    endpoint = None
    if target is not None:
        ready = result.phase == "Ready" and connection is not None
        endpoint = {
            "host": target.host,
            "port": target.port,
            "address": target.address,
            "dnsNames": list(connection.dns_names) if ready and connection else [],
        }
    conditions = kstatus(_PROGRESS[result.phase], result.reason, result.message)
    if result.phase == "Ready":
        conditions.append(_blocked(result))
    status = {
        "phase": result.phase,
        "endpoint": endpoint,
        "blockedUntil": result.blocked_until,
        "message": result.message,
        "observedGeneration": generation,
        "lastSyncTime": timestamp(now),
        "conditions": merge(
            previous.get("conditions") or [], conditions, generation=generation, now=now
        ),
    }
    return status_changes(previous, status, touch=touch)


def _blocked(result: Standing) -> ConditionState:
    if result.blocked_until is None:
        return ConditionState(BLOCKED, False, "NotBlocked", "Calls pass.")
    return ConditionState(BLOCKED, True, HOURLY_LIMIT_REACHED, result.message)


def published_data(
    spec: NamedCredentialSpec,
    target: Target,
    result: Standing,
    connection: Connection | None,
    secret: Mapping[str, bytes],
) -> dict[str, str]:
    """The published Secret's keys (plain strings; the caller base64-encodes them). The
    connect address and the rewritten URL only while Ready, so no workload calls a
    dead route; `status` and `message` say why otherwise."""
    data = {
        "scheme": target.scheme,
        "host": target.host,
        "port": str(target.port),
        "authType": str(spec.authentication.type),
        "status": result.phase,
        "message": result.message,
    }
    if result.phase == "Ready" and connection is not None:
        data["connectAddress"] = connection.dns_names[0]
        data["url"] = target.at(connection.dns_names[0])
        if result.blocked_until:
            data["blockedUntil"] = result.blocked_until
    if result.phase != "Invalid":
        data |= _auth_material(spec, connection, secret)
    return data


def _auth_material(
    spec: NamedCredentialSpec, connection: Connection | None, secret: Mapping[str, bytes]
) -> dict[str, str]:
    auth = spec.authentication
    text = {k: v.decode("utf-8", "replace") for k, v in secret.items()}
    keys = SECRET_KEYS[auth.type] + OPTIONAL_SECRET_KEYS.get(auth.type, ())
    material = {key: text[key] for key in keys if key in text}
    if auth.type is AuthType.BASIC:
        pair = f"{text['username']}:{text['password']}".encode()
        material["authorization"] = "Basic " + base64.b64encode(pair).decode()
    elif auth.type is AuthType.BEARER_TOKEN:
        material["authorization"] = f"Bearer {text['token']}"
    elif auth.type is AuthType.API_KEY:
        material["apiKeyHeader"] = str(auth.header)
    elif auth.type is AuthType.OAUTH2_CLIENT_CREDENTIALS:
        material["tokenUrl"] = str(auth.tokenUrl)
        material["scopes"] = " ".join(auth.scopes or [])
    elif auth.type is AuthType.AWS_SIGV4:
        material["awsService"] = str(auth.service)
        if connection is not None:
            material["awsRegion"] = connection.region
    return material


def content_hash(data: Mapping[str, str]) -> str:
    """A fingerprint of the published keys, kept as an annotation: a Secret is rewritten
    only when what it says changed."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]
