"""A local simulation of AWS PrivateLink on top of moto's EC2 backend, extended (not
replaced) to behave as the EC2 API reference describes AWS: for the demo, the e2e
tests and the benchmark; never used by `causeway run`."""

from causeway.sandbox.aws.install import install
from causeway.sandbox.aws.models import SandboxServiceConfiguration, SandboxVpcEndpoint
from causeway.sandbox.aws.responses import PrivateLinkResponses
from causeway.sandbox.aws.sandbox import (
    DEFAULT_PLATFORM_PRINCIPAL,
    ENDPOINT_STATES,
    AwsSandbox,
    TenantService,
    documented_buckets,
)

__all__ = [
    "DEFAULT_PLATFORM_PRINCIPAL",
    "ENDPOINT_STATES",
    "AwsSandbox",
    "PrivateLinkResponses",
    "SandboxServiceConfiguration",
    "SandboxVpcEndpoint",
    "TenantService",
    "documented_buckets",
    "install",
]
