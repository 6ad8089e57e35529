"""NamedCredential rules, as tables: URLs, the Secret's keys per authentication type,
readiness following the connection, the published Secret's key layout per type, and
no connect address while not Ready."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from causeway.api.credential import NamedCredentialSpec, NamedCredentialStatus
from causeway.reconcile import credential as rules
from causeway.reconcile.credential import Connection

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DNS = ("vpce-1.vpce-svc-1.us-east-1.vpce.amazonaws.com", "vpce-1-us-east-1a.example")
READY = Connection("inventory", "us-east-1", "Ready", "Connected.", DNS)


def spec(
    auth: dict[str, Any] | None = None, url: str = "https://api.acme.internal:8443/v1?x=1"
) -> NamedCredentialSpec:
    body: dict[str, Any] = {"url": url, "outboundConnection": "inventory", "publishSecret": "out"}
    if auth is not None:
        body["authentication"] = auth
    return NamedCredentialSpec.model_validate(body)


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("https://api.acme.internal:8443/v1", ("https", "api.acme.internal", 8443, "/v1")),
        ("https://api.acme.internal", ("https", "api.acme.internal", 443, "/")),
        ("http://api.acme.internal/a?b=c", ("http", "api.acme.internal", 80, "/a?b=c")),
    ],
)
def test_urls_default_their_port(url: str, target: tuple[Any, ...]) -> None:
    parsed = rules.parse_url(url)
    assert (parsed.scheme, parsed.host, parsed.port, parsed.path) == target


@pytest.mark.parametrize("url", ["ftp://a.example", "https://a.example:70000/", "https:///x"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(rules.InvalidUrlError):
        rules.parse_url(url)


def test_the_url_is_rewritten_for_the_connect_address() -> None:
    target = rules.parse_url("https://api.acme.internal:8443/v1/items?limit=5")
    assert target.at("vpce-1.example") == "https://vpce-1.example:8443/v1/items?limit=5"


STANDINGS: list[
    tuple[str, dict[str, Any] | None, Connection | None, frozenset[str] | None, str, str]
] = [
    ("no auth, connection ready", None, READY, frozenset(), "Ready", "Ready"),
    ("connection missing", None, None, frozenset(), "Pending", "ConnectionNotFound"),
    (
        "connection waiting for the tenant",
        None,
        Connection("inventory", "us-east-1", "PendingAcceptance", "Accept the request."),
        frozenset(),
        "Pending",
        "ConnectionNotReady",
    ),
    (
        "secret missing",
        {"type": "BearerToken", "secretRef": {"name": "s"}},
        READY,
        None,
        "Invalid",
        "SecretNotFound",
    ),
    (
        "secret without the key",
        {"type": "Basic", "secretRef": {"name": "s"}},
        READY,
        frozenset({"username"}),
        "Invalid",
        "SecretKeysMissing",
    ),
]


@pytest.mark.parametrize(
    ("auth", "connection", "keys", "phase", "reason"),
    [s[1:] for s in STANDINGS],
    ids=[s[0] for s in STANDINGS],
)
def test_standing(
    auth: dict[str, Any] | None,
    connection: Connection | None,
    keys: frozenset[str] | None,
    phase: str,
    reason: str,
) -> None:
    result = rules.standing(spec(auth), connection, keys)
    assert (result.phase, result.reason) == (phase, reason)


def test_a_pending_credential_says_what_the_connection_needs() -> None:
    waiting = Connection(
        "inventory", "us-east-1", "PendingAcceptance", "Accept the request vpce-1."
    )
    message = rules.standing(spec(), waiting, frozenset()).message
    assert (
        message == "OutboundConnection inventory is PendingAcceptance: Accept the request vpce-1."
    )


def test_missing_keys_are_named() -> None:
    result = rules.standing(
        spec({"type": "Basic", "secretRef": {"name": "s"}}), READY, frozenset({"username"})
    )
    assert "password" in result.message and "username" not in result.message.split("lacks")[1]


SECRET = {
    "username": b"ada",
    "password": b"pw-1",
    "token": b"tok-1",
    "apiKey": b"key-1",
    "clientId": b"cid",
    "clientSecret": b"csec",
    "accessKeyId": b"AKIA1",
    "secretAccessKey": b"sak",
    "sessionToken": b"st",
}
LAYOUTS: list[tuple[dict[str, Any], dict[str, str]]] = [
    ({"type": "None"}, {}),
    (
        {"type": "Basic", "secretRef": {"name": "s"}},
        {"username": "ada", "password": "pw-1", "authorization": "Basic YWRhOnB3LTE="},
    ),
    (
        {"type": "BearerToken", "secretRef": {"name": "s"}},
        {"token": "tok-1", "authorization": "Bearer tok-1"},
    ),
    (
        {"type": "ApiKey", "secretRef": {"name": "s"}, "header": "X-Api-Key"},
        {"apiKey": "key-1", "apiKeyHeader": "X-Api-Key"},
    ),
    (
        {
            "type": "OAuth2ClientCredentials",
            "secretRef": {"name": "s"},
            "tokenUrl": "https://login.acme.internal/token",
            "scopes": ["read", "write"],
        },
        {
            "clientId": "cid",
            "clientSecret": "csec",
            "tokenUrl": "https://login.acme.internal/token",
            "scopes": "read write",
        },
    ),
    (
        {"type": "AwsSigV4", "secretRef": {"name": "s"}, "service": "execute-api"},
        {
            "accessKeyId": "AKIA1",
            "secretAccessKey": "sak",
            "sessionToken": "st",
            "awsService": "execute-api",
            "awsRegion": "us-east-1",
        },
    ),
]
ROUTE = {"scheme": "https", "host": "api.acme.internal", "port": "8443"}


@pytest.mark.parametrize(("auth", "material"), LAYOUTS, ids=[a["type"] for a, _ in LAYOUTS])
def test_each_type_publishes_its_key_layout(auth: dict[str, Any], material: dict[str, str]) -> None:
    the_spec = spec(auth)
    target = rules.parse_url(the_spec.url)
    result = rules.standing(the_spec, READY, frozenset(SECRET))
    data = rules.published_data(the_spec, target, result, READY, SECRET)
    assert data == {
        **ROUTE,
        "authType": auth["type"],
        "status": "Ready",
        "message": result.message,
        "connectAddress": DNS[0],
        "url": f"https://{DNS[0]}:8443/v1?x=1",
        **material,
    }


def test_no_connect_address_while_not_ready() -> None:
    the_spec = spec({"type": "BearerToken", "secretRef": {"name": "s"}})
    target = rules.parse_url(the_spec.url)
    down = Connection("inventory", "us-east-1", "Unprovisioned", "Not provisioned.")
    result = rules.standing(the_spec, down, frozenset(SECRET))
    data = rules.published_data(the_spec, target, result, down, SECRET)
    assert data["status"] == "Pending" and "Unprovisioned" in data["message"]
    assert "connectAddress" not in data and "url" not in data
    assert not any("vpce" in value for value in data.values())


def test_an_invalid_credential_publishes_no_auth_material() -> None:
    the_spec = spec({"type": "Basic", "secretRef": {"name": "s"}})
    result = rules.standing(the_spec, READY, frozenset({"username"}))
    data = rules.published_data(
        the_spec, rules.parse_url(the_spec.url), result, READY, {"username": b"ada"}
    )
    assert "username" not in data and data["status"] == "Invalid"


def test_status_shows_the_route_and_no_secret() -> None:
    the_spec = spec({"type": "ApiKey", "secretRef": {"name": "s"}, "header": "X-Key"})
    target = rules.parse_url(the_spec.url)
    result = rules.standing(the_spec, READY, frozenset(SECRET))
    status = rules.render_status(
        2, result, target=target, connection=READY, previous={}, now=T0, touch=False
    )
    assert status is not None
    assert status["endpoint"] == {
        "host": "api.acme.internal",
        "port": 8443,
        "address": "api.acme.internal:8443",
        "dnsNames": list(DNS),
    }
    assert NamedCredentialStatus.model_validate(status).phase == "Ready"
    assert "key-1" not in str(status)


def test_the_content_hash_changes_with_any_key() -> None:
    assert rules.content_hash({"a": "1"}) != rules.content_hash({"a": "2"})
    assert rules.content_hash({"a": "1", "b": "2"}) == rules.content_hash({"b": "2", "a": "1"})


def test_a_blocked_connection_leaves_the_credential_ready_and_saying_until_when() -> None:
    the_spec = spec({"type": "ApiKey", "secretRef": {"name": "s"}, "header": "X-Key"})
    target = rules.parse_url(the_spec.url)
    blocked = Connection(
        "inventory", "us-east-1", "Ready", "Connected.", DNS, "2026-11-22T13:00:00Z"
    )
    result = rules.standing(the_spec, blocked, frozenset(SECRET))
    assert result.phase == "Ready"
    assert "blocked until 2026-11-22T13:00:00Z" in result.message
    status = rules.render_status(
        2, result, target=target, connection=blocked, previous={}, now=T0, touch=False
    )
    assert status is not None and status["blockedUntil"] == "2026-11-22T13:00:00Z"
    found = {c["type"]: c for c in status["conditions"]}
    assert (found["Blocked"]["status"], found["Blocked"]["reason"]) == (
        "True",
        "HourlyLimitReached",
    )
    assert found["Ready"]["status"] == "True"
    NamedCredentialStatus.model_validate(status)
    data = rules.published_data(the_spec, target, result, blocked, SECRET)
    assert data["blockedUntil"] == "2026-11-22T13:00:00Z" and data["status"] == "Ready"
    reopened = rules.standing(the_spec, READY, frozenset(SECRET))
    after = rules.render_status(
        2, reopened, target=target, connection=READY, previous=status, now=T0, touch=False
    )
    assert after is not None and after["blockedUntil"] is None
    assert {c["type"]: c["status"] for c in after["conditions"]}["Blocked"] == "False"
    assert "blockedUntil" not in rules.published_data(the_spec, target, reopened, READY, SECRET)
