"""Reconciles one OutboundConnection: observe its endpoints in AWS, plan (pure),
apply the plan, and compute the status patch. Also the status-only refresh the
region poller uses, so handler and poller compute status the same way."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from causeway.api import OutboundConnectionSpec
from causeway.aws.endpoints import TransitEndpoints
from causeway.conditions import STALLED
from causeway.domain import Endpoint, Owner
from causeway.errors import (
    AwsCallError,
    ErrorContext,
    ErrorKind,
    backoff_seconds,
    classify,
    describe,
)
from causeway.kube import ObjectRef
from causeway.reconcile import outbound as planner
from causeway.reconcile.outbound import (
    SYNC_ANNOTATION,
    CreateEndpoint,
    DeleteEndpoints,
    OutboundPlan,
    OutboundRequest,
    Problem,
)
from causeway.runtime import Runtime

KIND = "OutboundConnection"
Logger = logging.Logger | logging.LoggerAdapter[Any]
TEARDOWN_RECHECK_SECONDS = 2.0


@dataclass(frozen=True)
class ReconcileResult:
    """The status patch to write and, if not done, when to run again."""

    status_patch: dict[str, Any] | None
    retry_after: float | None = None
    retry_reason: str = ""


class InvalidObjectError(Exception):
    """The object cannot be parsed (the CRD schema should have prevented it)."""


def request_from(body: Mapping[str, Any], *, sync_requested: bool = False) -> OutboundRequest:
    """Parse a kopf body into the planner's view of the object."""
    meta = body.get("metadata", {})
    try:
        spec = OutboundConnectionSpec.model_validate(body.get("spec", {}))
    except ValidationError as exc:
        problems = [f"spec.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise InvalidObjectError("; ".join(problems)) from None
    return OutboundRequest(
        owner=Owner(KIND, meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", "")),
        generation=int(meta.get("generation") or 1),
        spec=spec,
        tracked_id=(body.get("status") or {}).get("vpcEndpointId"),
        sync=str((meta.get("annotations") or {}).get(SYNC_ANNOTATION, "")),
        sync_requested=sync_requested,
        deleting=bool(meta.get("deletionTimestamp")),
    )


class OutboundController:
    """The reconcile loop for OutboundConnection objects."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def reconcile(
        self,
        body: Mapping[str, Any],
        *,
        sync_requested: bool,
        attempt: int,
        logger: Logger,
        shared_listing: bool = False,
        quiet: bool = False,
    ) -> ReconcileResult:
        """One full pass for one object: observe, plan, apply, status. With
        `shared_listing`, observe through the region's shared listing (see listings.py);
        with `quiet`, write status only if more than lastSyncTime changed (a restart
        should not rewrite every object)."""
        result = await self._reconcile(
            body, sync_requested, attempt, logger, shared_listing=shared_listing, touch=not quiet
        )
        await self.announce(body, result.status_patch, logger)
        return result

    async def _reconcile(
        self,
        body: Mapping[str, Any],
        sync_requested: bool,
        attempt: int,
        logger: Logger,
        *,
        shared_listing: bool,
        touch: bool,
    ) -> ReconcileResult:
        previous = body.get("status") or {}
        try:
            request = request_from(body, sync_requested=sync_requested)
        except InvalidObjectError as exc:
            return self._invalid(body, previous, str(exc))
        if request.spec.region not in self._runtime.config.regions:
            return self._stalled(request, previous, self._unknown_region(request), touch=touch)
        endpoints = self._runtime.transit_endpoints(request.spec.region)
        try:
            owned = await self._observe(request, endpoints, shared_listing=shared_listing)
        except AwsCallError as exc:
            return self._failed(request, previous, exc, attempt, logger, observed=None, touch=touch)
        the_plan = planner.plan(request, owned)
        try:
            owned = await self._apply(endpoints, the_plan, owned, logger)
        except AwsCallError as exc:
            return self._failed(
                request, previous, exc, attempt, logger, observed=owned, touch=touch
            )
        result = planner.outcome(request, owned)
        patch = self._patch(request, result, previous, touch=touch)
        if not the_plan.settled:
            return ReconcileResult(patch, TEARDOWN_RECHECK_SECONDS, "AWS is deleting the endpoint")
        return ReconcileResult(patch)

    async def _observe(
        self, request: OutboundRequest, endpoints: TransitEndpoints, *, shared_listing: bool
    ) -> list[Endpoint]:
        if shared_listing:
            return await self._runtime.listings.owned_by(request.spec.region, request.owner.uid)
        return await asyncio.to_thread(
            endpoints.owned_by, request.owner.uid, _ids(request.tracked_id)
        )

    async def announce(
        self, body: Mapping[str, Any], patch: Mapping[str, Any] | None, logger: Logger
    ) -> None:
        """Record an Event when the phase changes, so `kubectl describe` shows the history.
        Best effort: a failed Event never fails the reconcile."""
        if not patch or "phase" not in patch:
            return
        meta = body.get("metadata", {})
        ref = ObjectRef(KIND, meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", ""))
        stalled = any(
            c["type"] == STALLED and c["status"] == "True" for c in patch.get("conditions", [])
        )
        try:
            await asyncio.to_thread(
                self._runtime.kube.record_event,
                ref,
                reason=str(patch["phase"]),
                message=str(patch.get("message", "")),
                warning=stalled,
                now=self._runtime.clock(),
            )
        except Exception as exc:  # Events are informational: never fail a reconcile
            logger.debug("Could not record an Event for %s/%s: %s", ref.namespace, ref.name, exc)

    def refresh(self, body: Mapping[str, Any], owned: Sequence[Endpoint]) -> dict[str, Any] | None:
        """Status patch from a poll of AWS, or None when nothing the tenant sees changed."""
        request = request_from(body)
        return self._patch(request, planner.outcome(request, owned), body.get("status") or {})

    def _patch(
        self,
        request: OutboundRequest,
        result: planner.Outcome,
        previous: Mapping[str, Any],
        *,
        touch: bool = False,
    ) -> dict[str, Any] | None:
        status = planner.render_status(request, result, previous, self._runtime.clock())
        return planner.status_changes(previous, status, touch=touch)

    async def _apply(
        self,
        endpoints: TransitEndpoints,
        the_plan: OutboundPlan,
        owned: list[Endpoint],
        logger: Logger,
    ) -> list[Endpoint]:
        for action in the_plan.actions:
            if isinstance(action, DeleteEndpoints):
                deleted = await asyncio.to_thread(endpoints.delete, action.ids)
                logger.info("Deleted endpoints %s", ", ".join(deleted))
                owned = planner.after_deletion(owned, deleted)
            elif isinstance(action, CreateEndpoint):
                created = await asyncio.to_thread(
                    endpoints.create, action.service_name, action.client_token, action.tags
                )
                logger.info(
                    "Created endpoint %s to %s (%s)", created.id, action.service_name, created.state
                )
                owned = [*(e for e in owned if e.id != created.id), created]
        return owned

    def _failed(
        self,
        request: OutboundRequest,
        previous: Mapping[str, Any],
        error: AwsCallError,
        attempt: int,
        logger: Logger,
        *,
        observed: Sequence[Endpoint] | None,
        touch: bool,
    ) -> ReconcileResult:
        rule = classify(error)
        context = ErrorContext(
            region=request.spec.region,
            service_name=request.spec.serviceName,
            platform_principal=self._runtime.config.regions[request.spec.region].platformPrincipal,
        )
        problem = Problem(rule.reason, describe(error, context), rule.kind is ErrorKind.TERMINAL)
        logger.warning("%s (%s, %s)", error, rule.kind.value, rule.reason)
        if observed is None:
            result = planner.outcome_unobserved(request, previous, problem)
        else:
            result = planner.outcome(request, observed, problem)
        patch = self._patch(request, result, previous, touch=touch)
        if problem.terminal and not request.deleting:
            return ReconcileResult(patch)
        # While the object is being deleted every failure is retried: releasing the
        # finalizer now could leave an endpoint behind that nobody tracks any more.
        return ReconcileResult(patch, backoff_seconds(attempt), problem.message)

    def _stalled(
        self,
        request: OutboundRequest,
        previous: Mapping[str, Any],
        problem: Problem,
        *,
        touch: bool,
    ) -> ReconcileResult:
        result = planner.outcome_unobserved(request, previous, problem)
        return ReconcileResult(self._patch(request, result, previous, touch=touch))

    def _unknown_region(self, request: OutboundRequest) -> Problem:
        offered = ", ".join(sorted(self._runtime.config.regions)) or "none"
        message = (
            f"Region {request.spec.region} is not served by this platform "
            f"(regions offered: {offered}). Recreate the connection in an offered region."
        )
        return Problem("UnknownRegion", message, terminal=True)

    def _invalid(
        self, body: Mapping[str, Any], previous: Mapping[str, Any], detail: str
    ) -> ReconcileResult:
        generation = int(body.get("metadata", {}).get("generation") or 1)
        message = f"The spec is invalid: {detail}. Fix the spec."
        return ReconcileResult(
            planner.invalid_status(previous, generation, message, self._runtime.clock())
        )


def _ids(tracked_id: str | None) -> tuple[str, ...]:
    return (tracked_id,) if tracked_id else ()
