"""Every condition and Event reason the package writes is in the registry
(causeway/reasons.py), so the generated reasons page documents it: the package's
source is scanned for CamelCase string literals, and each one must be a registered
reason or something known not to be one (an AWS name, a kind, a class, a phase, or one
of the few other words listed below). A new reason fails here until it is registered
with its meaning and who acts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from causeway.api import ALL_KINDS, Phase
from causeway.controllers.budget import DEFAULTS as BUDGETED_APIS
from causeway.errors import ERROR_TABLE
from causeway.reasons import BY_NAME, REASONS
from causeway.reconcile.admission import Reason

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "causeway"
REASONS_PAGE = PACKAGE.parents[1] / "docs" / "reference" / "reasons.md"
# AWS's own request and response vocabulary lives under aws/; the sandbox imitates it.
NOT_SCANNED = ("aws/", "sandbox/", "docgen/")
CAMEL_CASE = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+$")
# CamelCase words in the package that are not reasons, and what they are.
NOT_REASONS = {
    "AuthorizeSecurityGroupIngress",  # AWS API actions (budget lanes)
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "DescribeSecurityGroups",
    "RevokeSecurityGroupIngress",
    "TenantSecurityGroup",  # the kind tag of a tenant group
    "ApiKey",  # NamedCredential authentication types
    "AwsSigV4",
    "BearerToken",
    "BlockedUntil",  # printer column names
    "DataPacks",
    "TransitVpc",
    "OutboundBlocked",  # a condition type (its reasons: HourlyLimitReached, ...)
    "VpcEndpointConnections",  # an AWS response key (controllers/inbound.py)
    "CustomResourceDefinition",  # a Kubernetes kind
    "InvalidState",  # an AWS error code answered to a reject (controllers/inbound.py)
    "PrivateConnectOutboundCalloutHourlyLimitMB",  # names of the quota's limits
    "PrivateConnectInboundHourlyLimitMB",
    "PrivateConnectDailyDataAllocationMB",
    "ClientConnectorCertificateError",  # exception class names the logs recognise
    "ConnectionRefusedError",
    "ServerDisconnectedError",
    "TimeoutError",
}


def literals(package: Path = PACKAGE) -> dict[str, set[str]]:
    """CamelCase string literals of the scanned modules → where they occur."""
    found: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        relative = str(path.relative_to(package))
        if relative.startswith(NOT_SCANNED) or relative == "reasons.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            word = node.value if isinstance(node, ast.Constant) else None
            if isinstance(word, str) and CAMEL_CASE.match(word):
                found.setdefault(word, set()).add(relative)
    return found


def class_names() -> set[str]:
    return {
        node.name
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef)
    }


def known_not_reasons() -> set[str]:
    return (
        NOT_REASONS
        | set(ERROR_TABLE)
        | set(BUDGETED_APIS)
        | {kind.kind for kind in ALL_KINDS}
        | {phase.value for phase in Phase}
        | class_names()
    )


def test_every_reason_literal_is_registered() -> None:
    known = set(BY_NAME) | known_not_reasons()
    unknown = {word: sorted(places) for word, places in literals().items() if word not in known}
    assert unknown == {}, (
        "add each to REASONS in operator/causeway/reasons.py (meaning, who acts) and run "
        "tools/render_docs.py; or, if it is not a reason, to NOT_REASONS here"
    )


def test_a_new_reason_literal_is_caught(tmp_path: Path) -> None:
    (tmp_path / "reconcile").mkdir()
    (tmp_path / "reconcile" / "zones.py").write_text(
        'STALLED = kstatus(Progress.STALLED, "NoCommonAvailabilityZone", message)\n'
    )
    (tmp_path / "aws").mkdir()
    (tmp_path / "aws" / "ec2.py").write_text('FIELD = "AvailabilityZoneId"\n')
    assert literals(tmp_path) == {"NoCommonAvailabilityZone": {"reconcile/zones.py"}}


def test_the_error_table_and_admission_reasons_are_registered() -> None:
    expected = {rule.reason for rule in ERROR_TABLE.values()} | {r.value for r in Reason}
    assert sorted(expected - set(BY_NAME)) == []


def test_reasons_are_registered_once_and_are_camel_case() -> None:
    names = [reason.name for reason in REASONS]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9]+", name) for name in names)


def test_the_reasons_page_documents_every_reason() -> None:
    """Moved from the README: every reason an operator may show, in the page that lists
    them (the same set the README test named, now all from the registry)."""
    page = REASONS_PAGE.read_text(encoding="utf-8")
    reasons = (
        {rule.reason for rule in ERROR_TABLE.values()}
        | {reason.value for reason in Reason}
        | {"AwsError", "UnknownRegion", "InvalidSpec", "SourceRangesExhausted"}
        | {"InboundNotOffered", "DuplicateQuota", "OverLicensed"}
        | {"BlockInProgress", "SecretAccessDenied"}
        | set(BY_NAME)
    )
    assert [r for r in sorted(reasons) if f"`{r}`" not in page] == []
