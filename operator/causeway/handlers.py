"""kopf registration only. kopf holds each connection's finalizer until its teardown
is done and tells the region reconciler that an object changed (a created, changed or
resumed object is touched: its next pass writes its sync time); the reconciler makes
every decision. kopf's bodies never go into the cluster index: its informers
(causeway.index.informer) alone keep it, from their own watch, so two streams never
race in it; they also kick a region when one of its objects changes.

The one exception is an object no region reconciler will ever see (its region is not
served): its Stalled status is written here, since no AWS is involved.

Every handler is async: kopf runs sync handlers in worker threads, while the index's
readers, the operator's memory and the reconcilers' wake-ups belong to the event loop."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from causeway.api import (
    CONNECTION_QUOTA,
    GROUP,
    INBOUND,
    NAMED_CREDENTIAL,
    OUTBOUND,
    VERSION,
    KindInfo,
)
from causeway.conditions import Progress, kstatus, merge, timestamp
from causeway.controllers import retired
from causeway.controllers.credentials import CredentialController
from causeway.reconcile.outbound import SYNC_ANNOTATION
from causeway.runtime import Runtime


def register(
    registry: kopf.OperatorRegistry, runtime: Runtime, credentials: CredentialController
) -> None:
    """Register the handlers of every kind on `registry` (the acting operator's)."""
    _register_connection(registry, runtime, OUTBOUND)
    _register_connection(registry, runtime, INBOUND)
    _register_quota(registry, runtime)
    _register_credential(registry, credentials)


def _register_connection(registry: kopf.OperatorRegistry, runtime: Runtime, kind: KindInfo) -> None:
    resource = (GROUP, VERSION, kind.plural)

    async def changed(
        *, body: kopf.Body, patch: kopf.Patch, reason: str, old: Any, new: Any, **_: Any
    ) -> None:
        region = str((body.get("spec") or {}).get("region", ""))
        if not runtime.serves(region):
            patch.status.update(_unknown_region(runtime, body, region))
            return
        memory = runtime.memories[str(body["metadata"]["uid"])]
        memory.touch = reason != kopf.Reason.RESUME.value  # a restart rewrites nothing
        if old is not None and _sync_value(old) != _sync_value(new):
            memory.sync_requested = True
        runtime.kick(region)

    async def teardown(*, body: kopf.Body, **_: Any) -> None:
        region = str((body.get("spec") or {}).get("region", ""))
        if not runtime.serves(region):
            # A Region removed from the config: what was made there still goes first.
            if kind is OUTBOUND and not await retired.tear_down(runtime, region, body):
                raise kopf.TemporaryError("endpoints left in an unconfigured Region", delay=10)
            return
        done = runtime.memories.teardown_future(str(body["metadata"]["uid"]))
        runtime.kick(region)
        await done  # the reconciler resolves it once nothing is left in AWS

    for on in (kopf.on.create, kopf.on.update, kopf.on.resume):
        on(*resource, registry=registry, id="reconcile")(changed)
    kopf.on.delete(*resource, registry=registry, id="teardown")(teardown)


def _register_credential(
    registry: kopf.OperatorRegistry, credentials: CredentialController
) -> None:
    """A credential is looked at again when it changes (its published Secret goes with
    it through its owner reference: no finalizer)."""
    resource = (GROUP, VERSION, NAMED_CREDENTIAL.plural)

    async def changed(*, body: kopf.Body, reason: str, **_: Any) -> None:
        credentials.credential_changed(*_key(body), touch=reason != kopf.Reason.RESUME.value)

    for on in (kopf.on.create, kopf.on.update, kopf.on.resume):
        on(*resource, registry=registry, id="credential")(changed)


def _key(body: Mapping[str, Any]) -> tuple[str, str]:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def _register_quota(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    """Licenses are judged cluster-wide: a quota's change may provision a waiting
    connection in any region, so every region gets an early pass."""
    resource = (GROUP, VERSION, CONNECTION_QUOTA.plural)

    async def changed(**_: Any) -> None:
        runtime.kick_all()

    for on in (kopf.on.create, kopf.on.update, kopf.on.resume):
        on(*resource, registry=registry, id="quota")(changed)


def _sync_value(essence: Any) -> str | None:
    """The causeway.dev/sync annotation in a kopf essence (old or new), if any."""
    annotations = ((essence or {}).get("metadata") or {}).get("annotations") or {}
    value = annotations.get(SYNC_ANNOTATION)
    return None if value is None else str(value)


def _unknown_region(runtime: Runtime, body: Mapping[str, Any], region: str) -> dict[str, Any]:
    offered = ", ".join(sorted(runtime.config.regions)) or "none"
    message = (
        f"Region {region or '(none)'} is not served by this platform (regions offered: "
        f"{offered}). Recreate the connection in an offered region."
    )
    previous = body.get("status") or {}
    endpoint = previous.get("vpcEndpointId")
    if endpoint:
        message += (
            f" Its endpoint {endpoint}, made while the platform served {region}, is "
            "deleted when this object is deleted."
        )
    generation = int((body.get("metadata") or {}).get("generation") or 1)
    now = runtime.clock()
    return {
        "phase": "Unprovisioned",
        "message": message,
        "observedGeneration": generation,
        "lastSyncTime": timestamp(now),
        "conditions": merge(
            previous.get("conditions") or [],
            kstatus(Progress.STALLED, "UnknownRegion", message),
            generation=generation,
            now=now,
        ),
    }
