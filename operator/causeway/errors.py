"""The one table that decides what an AWS error means for a connection.

Every AWS error code Causeway expects is listed here as *terminal* (only a spec
change, or a fix on the tenant's/admin's side followed by a sync, can help: the
object goes Stalled and is not retried hot) or *recoverable* (retried with
exponential backoff). Codes not in the table are treated as recoverable, since a
retry with backoff is the safe default for something we do not understand.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorKind(StrEnum):
    TERMINAL = "Terminal"
    RECOVERABLE = "Recoverable"


@dataclass  # not frozen: Python sets __traceback__ on exceptions as they propagate
class AwsCallError(Exception):
    """An AWS API call failed; `code` is the AWS error code (e.g. InvalidServiceName)."""

    operation: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.operation} failed: {self.code}: {self.message}"


@dataclass(frozen=True)
class ErrorRule:
    """How to treat one AWS error code: its kind, the condition reason and a hint.
    `platform` marks failures of the platform's own side (credentials, IAM, config,
    network, AWS itself) rather than of the object: they hit every object of a region
    alike, so they are logged once per change, and an admin fixing them makes the
    operator retry without the tenant doing anything."""

    kind: ErrorKind
    reason: str
    hint: str
    platform: bool = False


@dataclass(frozen=True)
class ErrorContext:
    """Facts the hints may mention."""

    region: str
    service_name: str = ""
    platform_principal: str = ""


def _terminal(reason: str, hint: str) -> ErrorRule:
    return ErrorRule(ErrorKind.TERMINAL, reason, hint, platform=reason.startswith("Platform"))


def _recoverable(reason: str, hint: str) -> ErrorRule:
    platform = reason.startswith(("Platform", "Aws")) and reason != "AwsBusy"
    return ErrorRule(ErrorKind.RECOVERABLE, reason, hint, platform=platform)


_ALLOW_LIST = (
    "AWS does not let the platform use endpoint service {service_name}: it does not exist in "
    "{region}, or the platform is not allowed on it. Add {platform_principal} to the service's "
    "allowed principals, then set the annotation causeway.dev/sync to a new value."
)
_ADMIN = (
    "The platform's configuration for {region} is wrong ({detail}); "
    "a platform admin must fix the operator config."
)
_RETRY = "AWS is busy or unavailable ({detail}); retrying with backoff."
_DENIED = "The operator's AWS role may not do this ({detail}); a platform admin must fix IAM."
_REFUSED = "AWS refused the operator's credentials ({detail}); a platform admin must fix them."
_NO_CREDENTIALS = (
    "The operator has no AWS credentials ({detail}); a platform admin must provide them "
    "(IRSA, Pod Identity, or the SDK's environment variables or profile)."
)
_UNREACHABLE = "The operator cannot reach AWS ({detail}); retrying with backoff."

ERROR_TABLE: dict[str, ErrorRule] = {
    # The tenant's side: nothing changes until the tenant acts (then syncs) or edits the spec.
    "InvalidServiceName": _terminal("ServiceNotAllowed", _ALLOW_LIST),
    "InvalidVpcEndpointServiceId.NotFound": _terminal("ServiceNotAllowed", _ALLOW_LIST),
    "InvalidParameter": _terminal("InvalidRequest", "AWS refused the request: {detail}."),
    "InvalidParameterValue": _terminal("InvalidRequest", "AWS refused the request: {detail}."),
    "InvalidParameterCombination": _terminal("InvalidRequest", "AWS refused: {detail}."),
    "ValidationError": _terminal("InvalidRequest", "AWS refused the request: {detail}."),
    "IdempotentParameterMismatch": _terminal(
        "IdempotencyConflict",
        "AWS saw this request before with other parameters ({detail}); "
        "set causeway.dev/sync to a new value to make a fresh request.",
    ),
    # The platform's side: an admin must fix config or IAM; retried slowly meanwhile.
    "InvalidVpcId.NotFound": _terminal("PlatformMisconfigured", _ADMIN),
    "InvalidSubnetID.NotFound": _terminal("PlatformMisconfigured", _ADMIN),
    "InvalidSubnet": _terminal("PlatformMisconfigured", _ADMIN),
    # Two configured subnets of one transit VPC in one Availability Zone (also found by
    # check-config and at start, which keep that VPC from taking new endpoints).
    "DuplicateSubnetsInSameZone": _terminal("PlatformMisconfigured", _ADMIN),
    "InvalidGroup.NotFound": _terminal("PlatformMisconfigured", _ADMIN),
    "InvalidSecurityGroupID.NotFound": _terminal("PlatformMisconfigured", _ADMIN),
    # Tenant security groups (the hourly block): the platform's quotas and open groups.
    "OpenRulesUnknown": _recoverable("PlatformMisconfigured", _ADMIN),
    "RulesPerSecurityGroupLimitExceeded": _recoverable("PlatformMisconfigured", _ADMIN),
    "SecurityGroupLimitExceeded": _recoverable("PlatformMisconfigured", _ADMIN),
    "SecurityGroupsPerInterfaceLimitExceeded": _recoverable("PlatformMisconfigured", _ADMIN),
    "UnauthorizedOperation": _recoverable("PlatformAccessDenied", _DENIED),
    "AccessDenied": _recoverable("PlatformAccessDenied", _DENIED),
    "AccessDeniedException": _recoverable("PlatformAccessDenied", _DENIED),
    "AuthFailure": _recoverable("PlatformCredentialsInvalid", _REFUSED),
    "InvalidClientTokenId": _recoverable("PlatformCredentialsInvalid", _REFUSED),
    "SignatureDoesNotMatch": _recoverable("PlatformCredentialsInvalid", _REFUSED),
    "UnrecognizedClientException": _recoverable("PlatformCredentialsInvalid", _REFUSED),
    "ExpiredToken": _recoverable("PlatformCredentialsInvalid", _REFUSED),
    "ExpiredTokenException": _recoverable("PlatformCredentialsInvalid", _REFUSED),
    # botocore's own failures, by class name (see aws/session.py): no credentials at all…
    "NoCredentialsError": _recoverable("PlatformCredentialsMissing", _NO_CREDENTIALS),
    "PartialCredentialsError": _recoverable("PlatformCredentialsMissing", _NO_CREDENTIALS),
    "CredentialRetrievalError": _recoverable("PlatformCredentialsMissing", _NO_CREDENTIALS),
    # …AWS not reachable over the network…
    "EndpointConnectionError": _recoverable("AwsUnreachable", _UNREACHABLE),
    "ConnectTimeoutError": _recoverable("AwsUnreachable", _UNREACHABLE),
    "ConnectionClosedError": _recoverable("AwsUnreachable", _UNREACHABLE),
    "ProxyConnectionError": _recoverable("AwsUnreachable", _UNREACHABLE),
    "SSLError": _recoverable("AwsUnreachable", _UNREACHABLE),
    "HTTPClientError": _recoverable("AwsUnreachable", _UNREACHABLE),
    # …or answering, but not with an API response (an overloaded endpoint, a proxy page).
    "ReadTimeoutError": _recoverable("AwsUnavailable", _RETRY),
    "ResponseParserError": _recoverable("AwsUnavailable", _RETRY),
    # An HTTP error whose body is no API error (botocore then names it by its status).
    "500": _recoverable("AwsUnavailable", _RETRY),
    "502": _recoverable("AwsUnavailable", _RETRY),
    "503": _recoverable("AwsUnavailable", _RETRY),
    "504": _recoverable("AwsUnavailable", _RETRY),
    "429": _recoverable("AwsThrottled", _RETRY),
    "VpcEndpointLimitExceeded": _recoverable(
        "PlatformLimitReached", "The platform hit its AWS endpoint limit in {region}; retrying."
    ),
    # AWS itself: transient.
    "RequestLimitExceeded": _recoverable("AwsThrottled", _RETRY),
    "Throttling": _recoverable("AwsThrottled", _RETRY),
    "ThrottlingException": _recoverable("AwsThrottled", _RETRY),
    "RequestThrottled": _recoverable("AwsThrottled", _RETRY),
    "InternalError": _recoverable("AwsUnavailable", _RETRY),
    "InternalFailure": _recoverable("AwsUnavailable", _RETRY),
    "ServiceUnavailable": _recoverable("AwsUnavailable", _RETRY),
    "Unavailable": _recoverable("AwsUnavailable", _RETRY),
    "InsufficientFreeAddressesInSubnet": _recoverable(
        "PlatformLimitReached", "The transit subnets in {region} have no free addresses."
    ),
    "IncorrectState": _recoverable("AwsBusy", "The endpoint is changing state; retrying."),
    # A tenant group still held by an endpoint being deleted, or a retried call whose
    # first try was applied (answered as done where the call is made).
    "DependencyViolation": _recoverable("AwsBusy", "A resource is still in use; retrying."),
    "InvalidGroup.Duplicate": _recoverable("AwsBusy", _RETRY),
    "InvalidPermission.Duplicate": _recoverable("AwsBusy", _RETRY),
    "InvalidPermission.NotFound": _recoverable("AwsBusy", _RETRY),
    # CloudWatch (metering): its own spellings of the above.
    "InternalServiceFault": _recoverable("AwsUnavailable", _RETRY),
    "InternalServiceError": _recoverable("AwsUnavailable", _RETRY),
    "LimitExceeded": _recoverable("AwsThrottled", _RETRY),
    "LimitExceededException": _recoverable("AwsThrottled", _RETRY),
    "InvalidNextToken": _recoverable(
        "AwsError", "CloudWatch lost the paging ({detail}); retrying."
    ),
}

_UNKNOWN = _recoverable("AwsError", "AWS returned an unexpected error ({detail}); retrying.")


# Failures only the tenant can fix (then sync or edit the spec): remembered in status,
# so not even a restart retries them.
TENANT_TERMINAL_REASONS = frozenset(
    rule.reason
    for rule in ERROR_TABLE.values()
    if rule.kind is ErrorKind.TERMINAL and not rule.platform
)


# Failures after which a call that changes something may still have taken effect: the
# request may have reached AWS and only the answer was lost (a dropped connection, a
# timeout, an unreadable reply, AWS failing internally). Every other code in the table
# is AWS refusing the request (or never receiving it): nothing was done. Unknown codes
# count as "may have applied", the safe side for a create that must not be orphaned.
OUTCOME_UNKNOWN = frozenset(
    {
        "ConnectionClosedError",
        "HTTPClientError",
        "SSLError",
        "ReadTimeoutError",
        "ResponseParserError",
        "500",
        "502",
        "503",
        "504",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "Unavailable",
        "InternalServiceFault",
        "InternalServiceError",
    }
)


def may_have_applied(error: AwsCallError) -> bool:
    """Whether the failed call may have done what it asked (its answer lost)."""
    return error.code in OUTCOME_UNKNOWN or error.code not in ERROR_TABLE


def classify(error: AwsCallError) -> ErrorRule:
    """The table entry for this error (unknown codes are recoverable)."""
    return ERROR_TABLE.get(error.code, _UNKNOWN)


def describe(error: AwsCallError, context: ErrorContext) -> str:
    """The human message for a failed call, with the next step where there is one."""
    rule = classify(error)
    return rule.hint.format(
        region=context.region,
        service_name=context.service_name or "(unknown)",
        platform_principal=context.platform_principal or "the platform principal",
        detail=f"{error.code}: {error.message}" if error.message else error.code,
    )


def backoff_seconds(attempt: int, *, base: float = 2.0, cap: float = 300.0) -> float:
    """Exponential backoff for recoverable errors: 2, 4, 8 … seconds, capped at 5 minutes."""
    return float(min(cap, base * 2 ** max(0, attempt)))
