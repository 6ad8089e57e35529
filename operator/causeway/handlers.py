"""kopf registration only: each handler turns kopf's arguments into one controller
call and kopf's retry/backoff vocabulary. No decisions are made here."""

from __future__ import annotations

from typing import Any

import kopf

from causeway.api import GROUP, OUTBOUND, VERSION
from causeway.controllers.outbound import OutboundController, ReconcileResult
from causeway.reconcile.outbound import SYNC_ANNOTATION
from causeway.runtime import Runtime

INDEX_HANDLER_ID = "outbound-index"
# New objects and objects resuming after a restart may observe AWS through the shared
# region listing; updates (incl. sync) and teardown read AWS directly. See listings.py.
_SHARED_LISTING_REASONS = frozenset({kopf.Reason.CREATE.value, kopf.Reason.RESUME.value})


def register(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    """Register the OutboundConnection handlers on `registry`."""
    controller = OutboundController(runtime)
    resource = (GROUP, VERSION, OUTBOUND.plural)

    async def reconcile(
        *,
        body: kopf.Body,
        patch: kopf.Patch,
        reason: str,
        retry: int,
        old: Any,
        new: Any,
        logger: Any,
        **_: Any,
    ) -> None:
        sync_requested = old is not None and _sync_value(old) != _sync_value(new)
        result = await controller.reconcile(
            body,
            sync_requested=sync_requested,
            attempt=retry,
            logger=logger,
            shared_listing=reason in _SHARED_LISTING_REASONS,
            quiet=reason == kopf.Reason.RESUME.value,
        )
        _hand_back(result, patch)

    async def teardown(
        *, body: kopf.Body, patch: kopf.Patch, retry: int, logger: Any, **_: Any
    ) -> None:
        result = await controller.reconcile(
            body, sync_requested=False, attempt=retry, logger=logger
        )
        _hand_back(result, patch)

    def remember(*, event: kopf.RawEvent, body: kopf.Body, **_: Any) -> None:
        runtime.outbound_index.observe(event.get("type"), dict(body))

    kopf.on.create(*resource, registry=registry, id="reconcile")(reconcile)
    kopf.on.update(*resource, registry=registry, id="reconcile")(reconcile)
    kopf.on.resume(*resource, registry=registry, id="reconcile")(reconcile)
    kopf.on.delete(*resource, registry=registry, id="teardown")(teardown)
    kopf.on.event(*resource, registry=registry, id=INDEX_HANDLER_ID)(remember)


def _sync_value(essence: Any) -> str | None:
    """The causeway.dev/sync annotation in a kopf essence (old or new), if any."""
    annotations = ((essence or {}).get("metadata") or {}).get("annotations") or {}
    value = annotations.get(SYNC_ANNOTATION)
    return None if value is None else str(value)


def _hand_back(result: ReconcileResult, patch: kopf.Patch) -> None:
    """Put the status into kopf's patch; ask kopf to come back if not done."""
    if result.status_patch:
        patch.status.update(result.status_patch)
    if result.retry_after is not None:
        raise kopf.TemporaryError(result.retry_reason, delay=result.retry_after)
