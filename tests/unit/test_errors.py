"""The one error table: every expected AWS code is terminal or recoverable, and the
messages tell the reader what to do."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from causeway.aws.session import aws_call
from causeway.errors import (
    ERROR_TABLE,
    OUTCOME_UNKNOWN,
    AwsCallError,
    ErrorContext,
    ErrorKind,
    backoff_seconds,
    classify,
    describe,
    may_have_applied,
)

CONTEXT = ErrorContext(
    region="us-east-1",
    service_name="com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
    platform_principal="arn:aws:iam::111111111111:role/causeway-outbound",
)

TERMINAL = [
    "InvalidServiceName",
    "InvalidVpcEndpointServiceId.NotFound",
    "InvalidParameter",
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "ValidationError",
    "IdempotentParameterMismatch",
    "InvalidVpcId.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidSubnet",
    "DuplicateSubnetsInSameZone",
    "InvalidGroup.NotFound",
    "InvalidSecurityGroupID.NotFound",
]
RECOVERABLE = [
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "Unavailable",
    "UnauthorizedOperation",
    "AccessDenied",
    "AccessDeniedException",
    "AuthFailure",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "VpcEndpointLimitExceeded",
    "InsufficientFreeAddressesInSubnet",
    "IncorrectState",
    "OpenRulesUnknown",
    "RulesPerSecurityGroupLimitExceeded",
    "SecurityGroupLimitExceeded",
    "SecurityGroupsPerInterfaceLimitExceeded",
    "DependencyViolation",
    "InvalidGroup.Duplicate",
    "InvalidPermission.Duplicate",
    "InvalidPermission.NotFound",
    # CloudWatch's spellings
    "InternalServiceFault",
    "InternalServiceError",
    "LimitExceeded",
    "LimitExceededException",
    "InvalidNextToken",
    # botocore's own failures, by class name
    "NoCredentialsError",
    "PartialCredentialsError",
    "CredentialRetrievalError",
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "ProxyConnectionError",
    "SSLError",
    "HTTPClientError",
    "ReadTimeoutError",
    "ResponseParserError",
    "500",
    "502",
    "503",
    "504",
    "429",
]


def test_the_table_is_exactly_these_codes() -> None:
    assert set(ERROR_TABLE) == set(TERMINAL) | set(RECOVERABLE)


@pytest.mark.parametrize("code", TERMINAL)
def test_terminal_codes(code: str) -> None:
    assert classify(AwsCallError("CreateVpcEndpoint", code, "x")).kind is ErrorKind.TERMINAL


@pytest.mark.parametrize("code", RECOVERABLE)
def test_recoverable_codes(code: str) -> None:
    assert classify(AwsCallError("CreateVpcEndpoint", code, "x")).kind is ErrorKind.RECOVERABLE


@pytest.mark.parametrize(
    "failure",
    [
        ResponseParserError("Unable to parse response (syntax error), invalid XML: <html>"),
        EndpointConnectionError(endpoint_url="https://ec2.us-east-1.amazonaws.com"),
        ConnectTimeoutError(endpoint_url="https://ec2.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://ec2.us-east-1.amazonaws.com"),
        NoCredentialsError(),
    ],
    ids=lambda failure: type(failure).__name__,
)
def test_every_failure_of_a_call_goes_through_the_table(failure: Exception) -> None:
    with pytest.raises(AwsCallError) as caught, aws_call("DescribeVpcEndpoints"):
        raise failure
    assert caught.value.code in ERROR_TABLE
    assert "\n" not in caught.value.message and len(caught.value.message) <= 200


def test_platform_failures_are_marked_as_such() -> None:
    platform = {code for code, rule in ERROR_TABLE.items() if rule.platform}
    assert {"NoCredentialsError", "UnauthorizedOperation", "EndpointConnectionError"} <= platform
    assert not {"InvalidServiceName", "IdempotentParameterMismatch", "IncorrectState"} & platform


def test_every_code_whose_outcome_is_unknown_is_in_the_table() -> None:
    assert set(ERROR_TABLE) >= OUTCOME_UNKNOWN


@pytest.mark.parametrize(
    ("code", "applied"),
    [
        ("ConnectionClosedError", True),  # the request went out; the reply never came
        ("ReadTimeoutError", True),
        ("InternalError", True),
        ("503", True),
        ("SomethingNew", True),  # unknown: the safe side
        ("EndpointConnectionError", False),  # never connected
        ("ConnectTimeoutError", False),
        ("RequestLimitExceeded", False),  # throttled requests are not processed
        ("InvalidServiceName", False),
        ("VpcEndpointLimitExceeded", False),
        ("UnauthorizedOperation", False),
    ],
)
def test_whether_a_failed_call_may_still_have_taken_effect(code: str, applied: bool) -> None:
    assert may_have_applied(AwsCallError("CreateVpcEndpoint", code, "")) is applied


def test_unknown_codes_are_recoverable() -> None:
    rule = classify(AwsCallError("CreateVpcEndpoint", "SomethingNew", "?"))
    assert (rule.kind, rule.reason) == (ErrorKind.RECOVERABLE, "AwsError")


def test_invalid_service_name_names_the_principal_to_allow_list() -> None:
    message = describe(
        AwsCallError("CreateVpcEndpoint", "InvalidServiceName", "does not exist"), CONTEXT
    )
    assert "arn:aws:iam::111111111111:role/causeway-outbound" in message
    assert "vpce-svc-0123456789abcdef0" in message and "causeway.dev/sync" in message
    assert (
        classify(AwsCallError("CreateVpcEndpoint", "InvalidServiceName", "")).reason
        == "ServiceNotAllowed"
    )


def test_every_hint_formats() -> None:
    for code in ERROR_TABLE:
        assert "{" not in describe(AwsCallError("Op", code, "detail"), CONTEXT)


@pytest.mark.parametrize(
    ("attempt", "delay"), [(0, 2.0), (1, 4.0), (3, 16.0), (7, 256.0), (8, 300.0), (50, 300.0)]
)
def test_backoff_doubles_and_caps_at_five_minutes(attempt: int, delay: float) -> None:
    assert backoff_seconds(attempt) == delay
