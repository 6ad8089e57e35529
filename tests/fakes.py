"""Shared test data: one valid region entry of the operator config and a tenant
service name, for tests that need a config without the sandbox."""

from __future__ import annotations

SERVICE_NAME = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"

REGION_CONFIG = {
    "transitVpcId": "vpc-0a1b2c3d4e5f60718",
    "subnetIds": ["subnet-0a1b2c3d4e5f60718"],
    "securityGroupIds": ["sg-0a1b2c3d4e5f60718"],
    "platformPrincipal": "arn:aws:iam::111111111111:role/causeway-outbound",
    "inboundServiceId": "vpce-svc-0a1b2c3d4e5f60718",
    "sourceIpPool": "10.200.0.0/16",
    "blockedSecurityGroupId": "sg-0f1e2d3c4b5a69788",
}
