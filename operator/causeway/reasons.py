"""The registry of every condition and Event reason Causeway writes: what each one means
and who has to act on it. The reference page docs/reference/reasons.md is generated
from it (tools/render_docs.py), and a test scans the package for reason literals and
fails on one that is missing here, so a new reason cannot ship undocumented.

The call sites keep their own literals (the error table in errors.py, the planners
under reconcile/); this module only describes them. Besides these, a connection's
condition reason is often its phase itself (`PendingAcceptance`, `Ready`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Actor(StrEnum):
    """Who must do something for the object to move on."""

    TENANT = "tenant"
    ADMIN = "platform admin"
    TENANT_OR_ADMIN = "tenant or platform admin"
    NOBODY = "nobody"


@dataclass(frozen=True)
class ReasonInfo:
    """One reason: where it shows, what it means, who acts and how."""

    name: str
    where: str  # the condition(s) or Event that carry it
    meaning: str
    actor: Actor
    action: str


_SYNCED_FALSE = "Synced=False (connection); Metered=False (quota)"
_TRANSIENT = "retried with backoff; nothing to do unless it lasts"

REASONS: tuple[ReasonInfo, ...] = (
    # --- the error table (errors.py): AWS answers, by what they mean -------------------
    ReasonInfo(
        "ServiceNotAllowed",
        "Stalled",
        "AWS does not let the platform use the endpoint service: it does not exist in the "
        "region, or the platform principal is not on its allow list",
        Actor.TENANT,
        "allow-list the principal named in the message on the service, then sync",
    ),
    ReasonInfo(
        "InvalidRequest",
        "Stalled",
        "AWS refused the request's parameters",
        Actor.TENANT,
        "read the message and fix the spec",
    ),
    ReasonInfo(
        "IdempotencyConflict",
        "Stalled",
        "AWS already saw the request's ClientToken with other parameters",
        Actor.TENANT,
        "sync (annotation causeway.dev/sync) to make a fresh request",
    ),
    ReasonInfo(
        "PlatformMisconfigured",
        "Stalled",
        "a transit VPC, subnet or security group of the operator config does not exist",
        Actor.ADMIN,
        "fix the operator config and restart the operator",
    ),
    ReasonInfo(
        "PlatformCredentialsMissing",
        _SYNCED_FALSE,
        "the operator found no AWS credentials",
        Actor.ADMIN,
        "provide them (IRSA, Pod Identity, the SDK environment); retried meanwhile",
    ),
    ReasonInfo(
        "PlatformCredentialsInvalid",
        _SYNCED_FALSE,
        "AWS refused the operator's credentials (invalid or expired)",
        Actor.ADMIN,
        "fix the credentials; retried meanwhile",
    ),
    ReasonInfo(
        "PlatformAccessDenied",
        _SYNCED_FALSE,
        "the operator's IAM role may not make the call",
        Actor.ADMIN,
        "compare the role's policy with `causeway iam-policy`; retried meanwhile",
    ),
    ReasonInfo(
        "PlatformLimitReached",
        "Synced=False",
        "a transit VPC's endpoint quota or a subnet's free addresses ran out; the create "
        "moves on to the next VPC of the pool, so this is rarely seen",
        Actor.ADMIN,
        "add transit capacity (see the admin guide's capacity planning)",
    ),
    ReasonInfo("AwsThrottled", _SYNCED_FALSE, "AWS throttled the call", Actor.NOBODY, _TRANSIENT),
    ReasonInfo(
        "AwsUnavailable",
        _SYNCED_FALSE,
        "AWS failed internally or answered with something that is not an API response",
        Actor.NOBODY,
        _TRANSIENT,
    ),
    ReasonInfo(
        "AwsBusy",
        "Synced=False",
        "the endpoint is changing state in AWS",
        Actor.NOBODY,
        _TRANSIENT,
    ),
    ReasonInfo(
        "AwsUnreachable",
        _SYNCED_FALSE,
        "no answer from AWS (network, DNS, TLS, timeout)",
        Actor.NOBODY,
        _TRANSIENT + " (then the operator's network)",
    ),
    ReasonInfo(
        "AwsError",
        _SYNCED_FALSE,
        "an AWS error code the error table does not know",
        Actor.NOBODY,
        _TRANSIENT + " (then read the message)",
    ),
    # --- the spec and the operator config -------------------------------------------
    ReasonInfo(
        "UnknownRegion",
        "Stalled",
        "spec.region is not a region of the operator config",
        Actor.TENANT,
        "recreate the connection in a region `causeway regions` lists",
    ),
    ReasonInfo(
        "InvalidSpec",
        "Stalled (connection, quota); Ready (credential, Invalid)",
        "the spec does not parse (CRDs older than the operator, or rules the CRD cannot say)",
        Actor.TENANT_OR_ADMIN,
        "fix the spec; if it looks right, upgrade the CRDs",
    ),
    ReasonInfo(
        "InboundNotOffered",
        "Stalled",
        "the region's config has no platform endpoint service for inbound connections",
        Actor.TENANT_OR_ADMIN,
        "use a region that offers inbound, or the admin configures it",
    ),
    ReasonInfo(
        "TransitCapacityExhausted",
        "Stalled",
        "every transit VPC of the region is full or draining; the connection waits without "
        "any AWS call and is created oldest first as room appears",
        Actor.ADMIN,
        "add a transit VPC, raise maxEndpoints or the AWS quota, or stop draining one",
    ),
    ReasonInfo(
        "NoCommonAvailabilityZone",
        "Stalled",
        "the tenant's endpoint service runs in no Availability Zone (by AZ ID) where the "
        "region's transit VPCs have a subnet, so AWS would refuse the endpoint; it waits "
        "without any create call, and AWS is asked again every few minutes and on a sync",
        Actor.TENANT_OR_ADMIN,
        "add a subnet of the service's load balancer in one of the zones the message names "
        "(or ask the platform to add a subnet in one of yours), then sync",
    ),
    ReasonInfo(
        "RemoteRegionNotAllowed",
        "Stalled",
        "the connection's serviceRegion is a Region the platform does not reach from its "
        "region (the region's remoteServiceRegions); no AWS call is made",
        Actor.TENANT_OR_ADMIN,
        "use a service in an allowed Region, or the platform adds the Region to "
        "remoteServiceRegions",
    ),
    ReasonInfo(
        "RemoteServiceNotOffered",
        "Stalled",
        "AWS does not show the platform the tenant's service of another Region for use from "
        "the connection's region: the service does not list that Region among its supported "
        "Regions, or does not allow the platform's principal; no create is sent",
        Actor.TENANT,
        "add the region to the service's supported Regions and allow the platform "
        "principal, then sync",
    ),
    ReasonInfo(
        "EndpointNotListedYet",
        "Synced=False (outbound)",
        "AWS's listing does not show the endpoint the status names, which it showed less "
        "than 10 s ago (EC2 lists a new endpoint after a few seconds; a restarted operator "
        "or a new leader may list before it does): the phase stays as last seen, and the "
        "connection is reported DeletedRemotely only if the endpoint is still not listed "
        "after that",
        Actor.NOBODY,
        "nothing; it clears on a listing that shows the endpoint",
    ),
    # --- licenses and admission (reconcile/admission.py) -------------------------------
    ReasonInfo(
        "NoConnectionQuota",
        "Stalled",
        "the namespace has no ConnectionQuota, so no licenses",
        Actor.ADMIN,
        "create the tenant's ConnectionQuota",
    ),
    ReasonInfo(
        "LicenseLimitReached",
        "Stalled",
        "every license of this direction is held by older connections",
        Actor.TENANT_OR_ADMIN,
        "wait, free a license (delete or unprovision a connection), or raise licenses",
    ),
    ReasonInfo(
        "AccountNotAllowed",
        "Stalled",
        "the tenant endpoint's AWS account is not in the quota's awsAccountIds",
        Actor.TENANT_OR_ADMIN,
        "use an endpoint of a listed account, or the admin adds the account",
    ),
    ReasonInfo(
        "EndpointClaimed",
        "Stalled",
        "another InboundConnection claimed the same endpoint first",
        Actor.TENANT,
        "check spec.vpcEndpointId, or delete the duplicate",
    ),
    ReasonInfo(
        "EndpointNotFound",
        "Reconciling",
        "the platform service has no connection request from the endpoint (yet)",
        Actor.TENANT,
        "create the endpoint to the platform service named in the message",
    ),
    ReasonInfo(
        "SourceRangesExhausted",
        "Stalled",
        "the region's sourceIpPool has no free /28 left",
        Actor.ADMIN,
        "enlarge sourceIpPool (or free ranges)",
    ),
    ReasonInfo(
        "AllocationFailed",
        "Synced=False (inbound)",
        "the source range could not be recorded (the API server refused, or every candidate "
        "was taken meanwhile)",
        Actor.NOBODY,
        "retried on the next pass",
    ),
    ReasonInfo(
        "ReleaseFailed",
        "Synced=False (inbound)",
        "a released connection's source range could not be freed",
        Actor.NOBODY,
        "retried on the next pass",
    ),
    # --- the ConnectionQuota ----------------------------------------------------------
    ReasonInfo(
        "InEffect",
        "Ready (quota)",
        "the quota is the namespace's one quota and is applied",
        Actor.NOBODY,
        "nothing",
    ),
    ReasonInfo(
        "DuplicateQuota",
        "Stalled (quota)",
        "the namespace has an older ConnectionQuota, which is the one that counts",
        Actor.ADMIN,
        "delete the newer one",
    ),
    ReasonInfo(
        "OverLicensed",
        "OverLicensed (quota); Warning Event",
        "more connections hold licenses than the quota grants (nothing is torn down)",
        Actor.TENANT_OR_ADMIN,
        "delete or unprovision connections, or raise licenses",
    ),
    ReasonInfo(
        "WithinLicenses",
        "OverLicensed=False (quota)",
        "no more licenses held than granted",
        Actor.NOBODY,
        "nothing",
    ),
    # --- metering and the hourly limit (reconcile/usage.py) ----------------------------
    ReasonInfo(
        "Metered",
        "Metered (quota)",
        "usage is read from CloudWatch",
        Actor.NOBODY,
        "nothing",
    ),
    ReasonInfo(
        "HourlyLimitReached",
        "Blocked (connection, credential); OutboundBlocked (quota); Warning Event",
        "the tenant's outbound bytes this UTC hour reached the hard hourly limit",
        Actor.NOBODY,
        "traffic passes again at the top of the hour (blockedUntil); or send less",
    ),
    ReasonInfo(
        "BlockInProgress",
        "Blocked=False (connection); OutboundBlocked=False (quota)",
        "the limit was reached but AWS does not yet list every endpoint of the tenant "
        "without ingress rules on its security groups",
        Actor.NOBODY,
        "next pass; if it stays, a security group added by hand keeps the endpoint open",
    ),
    ReasonInfo(
        "ReopenPending",
        "Blocked=True (connection)",
        "the hourly block is over but AWS still lists the endpoint's tenant security group "
        "without its rules",
        Actor.NOBODY,
        "next pass; if its transit VPC was removed from the config, the platform configures "
        "it again or the tenant recreates the connection",
    ),
    ReasonInfo(
        "NotBlocked",
        "Blocked=False (connection, credential)",
        "traffic passes",
        Actor.NOBODY,
        "nothing",
    ),
    ReasonInfo(
        "WithinHourlyLimit",
        "OutboundBlocked=False, InboundHourlyLimitExceeded=False (quota)",
        "this hour's bytes are under the limit",
        Actor.NOBODY,
        "nothing",
    ),
    ReasonInfo(
        "WithinDailyAllocation",
        "DailyAllocationExceeded=False (quota)",
        "today's bytes are under the daily allocation",
        Actor.NOBODY,
        "nothing",
    ),
    ReasonInfo(
        "DailyAllocationExceeded",
        "DailyAllocationExceeded (quota); Warning Event",
        "today's bytes reached the daily allocation (soft: reported, not enforced)",
        Actor.TENANT,
        "buy data packs or licenses, or send less",
    ),
    ReasonInfo(
        "InboundHourlyLimitExceeded",
        "InboundHourlyLimitExceeded (quota); Warning Event",
        "this hour's inbound bytes reached the hourly limit (soft: reported, not enforced)",
        Actor.TENANT,
        "send less, or nothing: it resets at the top of the hour",
    ),
    ReasonInfo(
        "DailyAllocation80Percent",
        "Event (quota)",
        "today's bytes reached 80% of the daily allocation",
        Actor.TENANT,
        "nothing yet; plan data packs if it happens often",
    ),
    ReasonInfo(
        "OutboundHourlyLimit80Percent",
        "Event (quota)",
        "this hour's outbound bytes reached 80% of the hard limit",
        Actor.TENANT,
        "send less this hour, or be blocked at 100%",
    ),
    ReasonInfo(
        "InboundHourlyLimit80Percent",
        "Event (quota)",
        "this hour's inbound bytes reached 80% of the hourly limit",
        Actor.TENANT,
        "nothing (the inbound limit is soft)",
    ),
    # --- NamedCredential (reconcile/credential.py) -----------------------------------
    ReasonInfo(
        "ConnectionNotFound",
        "Reconciling (credential, Pending)",
        "the OutboundConnection the credential names does not exist",
        Actor.TENANT,
        "create it, or fix spec.outboundConnection",
    ),
    ReasonInfo(
        "ConnectionNotReady",
        "Reconciling (credential, Pending)",
        "the credential's OutboundConnection is not Ready; the message relays its own",
        Actor.TENANT,
        "as the connection's message says",
    ),
    ReasonInfo(
        "SecretNotFound",
        "Stalled (credential, Invalid)",
        "the Secret named in authentication.secretRef does not exist",
        Actor.TENANT,
        "create the Secret",
    ),
    ReasonInfo(
        "SecretKeysMissing",
        "Stalled (credential, Invalid)",
        "the Secret lacks keys its authentication type reads",
        Actor.TENANT,
        "add the keys the message names",
    ),
    ReasonInfo(
        "PublishSecretConflict",
        "Stalled (credential, Invalid)",
        "a Secret Causeway does not own already has the publishSecret name",
        Actor.TENANT,
        "pick another publishSecret name, or delete that Secret",
    ),
    ReasonInfo(
        "SecretAccessDenied",
        "Reconciling (credential, Pending)",
        "the operator has no Secrets role in the namespace",
        Actor.ADMIN,
        "bind the Secrets ClusterRole there (rbac.secrets.namespaces)",
    ),
)

BY_NAME: dict[str, ReasonInfo] = {reason.name: reason for reason in REASONS}
