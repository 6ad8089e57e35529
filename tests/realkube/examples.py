"""One valid object of each Causeway kind with every schema field filled in (every array
with one item, every map with one entry), spec and status, for the tests that check the
CRDs and the tenant roles on a real API server: a constraint can only be tested where
the example reaches it, so tests/k8s/test_crd_constraints.py fails when a field has no
value here."""

from __future__ import annotations

import copy
from typing import Any

API_VERSION = "causeway.dev/v1alpha1"
SERVICE = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
ENDPOINT = "vpce-0abc1234def567890"
WHEN = "2026-01-01T00:00:00Z"

_CONDITION = {
    "type": "Ready",
    "status": "False",
    "reason": "Waiting",
    "message": "Waiting for the endpoint",
    "observedGeneration": 1,
    "lastTransitionTime": WHEN,
}
_FIGURES = {
    "outboundConnections": 1,
    "inboundConnections": 1,
    "dailyBytes": 10,
    "hourlyOutboundBytes": 5,
    "hourlyInboundBytes": 5,
}

_SPECS_AND_STATUSES: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
    "OutboundConnection": (
        {
            "region": "us-east-1",
            "serviceName": SERVICE,
            "serviceRegion": "us-east-1",
            "description": "Inventory API",
            "provisioned": True,
        },
        {
            "phase": "PendingAcceptance",
            "message": "Accept the connection on your endpoint service",
            "observedGeneration": 1,
            "lastSyncTime": WHEN,
            "conditions": [_CONDITION],
            "vpcEndpointId": ENDPOINT,
            "dnsNames": ["vpce-0abc1234def567890-abcdefgh.vpce-svc.us-east-1.vpce.amazonaws.com"],
            "blockedUntil": WHEN,
            "transitVpcId": "vpc-0123456789abcdef0",
            "availabilityZoneIds": ["use1-az1", "use1-az2"],
            "pendingCreate": {
                "clientToken": "causeway-0123456789abcdef0123456789abcdef0123456789abcdef",
                "serviceName": SERVICE,
                "serviceRegion": "us-east-1",
                "vpcId": "vpc-0123456789abcdef0",
                "subnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
                "securityGroupIds": ["sg-0123456789abcdef0"],
                "tags": {"causeway.dev/owner-uid": "0f0e0d0c-0b0a-4009-8877-665544332211"},
            },
        },
    ),
    "InboundConnection": (
        {
            "region": "us-east-1",
            "vpcEndpointId": ENDPOINT,
            "description": "Nightly lead loader",
            "provisioned": True,
            "privateDns": {"domain": "acme.platform.example.com"},
        },
        {
            "phase": "Ready",
            "message": "Connected",
            "observedGeneration": 1,
            "lastSyncTime": WHEN,
            "conditions": [_CONDITION],
            "sourceIpRanges": ["10.200.0.16/28"],
            "dnsRecord": {
                "zone": "acme.platform.example.com",
                "name": "api.acme.platform.example.com",
                "type": "A",
                "target": "vpce-0abc1234def567890.vpce-svc.us-east-1.vpce.amazonaws.com",
                "note": "Create it in your private hosted zone",
            },
        },
    ),
    "NamedCredential": (
        {
            "url": "https://inventory.acme.internal:8443/v1",
            "outboundConnection": "inventory",
            "authentication": {
                "type": "OAuth2ClientCredentials",
                "secretRef": {"name": "inventory-creds"},
                "tokenUrl": "https://login.acme.internal/token",
                "scopes": ["inventory.read"],
            },
            "publishSecret": "inventory-callout",
        },
        {
            "phase": "Pending",
            "endpoint": {
                "host": "inventory.acme.internal",
                "port": 8443,
                "address": "inventory.acme.internal:8443",
                "dnsNames": ["vpce-0abc1234def567890.vpce-svc.us-east-1.vpce.amazonaws.com"],
            },
            "message": "Waiting for the connection",
            "observedGeneration": 1,
            "lastSyncTime": WHEN,
            "blockedUntil": WHEN,
            "conditions": [_CONDITION],
        },
    ),
    "ConnectionQuota": (
        {"licenses": 2, "dataPacks": 3, "awsAccountIds": ["222222222222"]},
        {
            "hard": dict(_FIGURES),
            "used": dict(_FIGURES),
            "waiting": dict(_FIGURES),
            "message": "Within quota",
            "limits": {
                "PrivateConnectOutboundCalloutHourlyLimitMB": {"max": 56480, "remaining": 1}
            },
            "resetsAt": {"hour": WHEN, "day": WHEN},
            "lastMeteredTime": WHEN,
            "blockedUntil": WHEN,
            "retiredEndpoints": [
                {
                    "id": ENDPOINT,
                    "region": "us-east-1",
                    "direction": "outbound",
                    "service": SERVICE,
                    "vpcId": "vpc-0a1b2c3d4e5f60718",
                    "day": "2026-01-01",
                }
            ],
            "observedGeneration": 1,
            "conditions": [_CONDITION],
        },
    ),
    "SourceRangeAllocation": (
        {
            "region": "us-east-1",
            "cidr": "10.200.0.16/28",
            "vpcEndpointId": ENDPOINT,
            "owner": {"namespace": "acme", "name": "loader", "uid": "0000-1111"},
        },
        None,
    ),
}

KINDS = tuple(_SPECS_AND_STATUSES)

# Other valid authentication blocks, for the fields CEL rules allow only with another type:
# NamedCredential's header goes with ApiKey only, its service with AwsSigV4 only.
_VARIANTS: dict[str, tuple[dict[str, Any], ...]] = {
    "NamedCredential": (
        {"type": "ApiKey", "secretRef": {"name": "inventory-creds"}, "header": "X-Api-Key"},
        {"type": "AwsSigV4", "secretRef": {"name": "inventory-creds"}, "service": "execute-api"},
    ),
}


def example(kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    """A valid `kind` object with every spec field set (no status: a create drops it)."""
    spec, _ = _SPECS_AND_STATUSES[kind]
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": metadata,
        "spec": copy.deepcopy(spec),
    }


def variants(kind: str, name: str, namespace: str | None = None) -> list[dict[str, Any]]:
    """`full_example` and the other valid shapes of its spec, together filling in every
    field at least once."""
    main = full_example(kind, name, namespace)
    found = [main]
    for authentication in _VARIANTS.get(kind, ()):
        other = copy.deepcopy(main)
        other["spec"]["authentication"] = copy.deepcopy(authentication)
        found.append(other)
    return found


def example_status(kind: str) -> dict[str, Any] | None:
    """A valid status for `kind` with every field set, or None for a kind without one."""
    _, status = _SPECS_AND_STATUSES[kind]
    return copy.deepcopy(status)


def full_example(kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    """`example` with its status too (what a status write stores)."""
    obj = example(kind, name, namespace)
    status = example_status(kind)
    if status is not None:
        obj["status"] = status
    return obj
