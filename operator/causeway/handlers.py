"""kopf registration only. kopf holds each connection's finalizer until its teardown
is done and tells the region reconciler that an object was created or changed (a
changed one is touched: its next pass writes its sync time); the reconciler makes
every decision.
kopf's bodies never go into the cluster index: its informers (causeway.index.informer)
alone keep it, from their own watch, so two streams never race in it; they also kick
a region when one of its objects changes.

No resume handlers: at a start every object is in the index before anything acts and
the first passes look at all of them, so a resume handler only cost one kopf handler
run (and two log lines) per object before kopf reached a new one: some 10,000 at
scale. kopf still adds finalizers, sees what changed while no operator ran (its
last-handled state) and runs deletion handlers.

The one exception is an object no region reconciler will ever see (its region is not
served): its Stalled status is written here (and, for those already there at a
start, by causeway.controllers.unserved), since no AWS is involved.

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
from causeway.controllers import retired
from causeway.controllers.credentials import CredentialController
from causeway.controllers.unserved import unserved_status
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
            patch.status.update(unserved_status(runtime, body, region))
            return
        memory = runtime.memories[str(body["metadata"]["uid"])]
        # A change is answered with a sync time even when nothing else moved. Not a
        # creation: kopf may reach an object long after the passes settled it (its
        # first start on a cluster, or one killed before kopf got to every object), and
        # a new object's first status is written anyway.
        memory.touch = reason == kopf.Reason.UPDATE.value
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

    for on in (kopf.on.create, kopf.on.update):
        on(*resource, registry=registry, id="reconcile")(changed)
    kopf.on.delete(*resource, registry=registry, id="teardown")(teardown)


def _register_credential(
    registry: kopf.OperatorRegistry, credentials: CredentialController
) -> None:
    """A credential is looked at again when it changes (its published Secret goes with
    it through its owner reference: no finalizer)."""
    resource = (GROUP, VERSION, NAMED_CREDENTIAL.plural)

    async def changed(*, body: kopf.Body, reason: str, **_: Any) -> None:
        credentials.credential_changed(*_key(body), touch=reason == kopf.Reason.UPDATE.value)

    for on in (kopf.on.create, kopf.on.update):
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

    for on in (kopf.on.create, kopf.on.update):
        on(*resource, registry=registry, id="quota")(changed)


def _sync_value(essence: Any) -> str | None:
    """The causeway.dev/sync annotation in a kopf essence (old or new), if any."""
    annotations = ((essence or {}).get("metadata") or {}).get("annotations") or {}
    value = annotations.get(SYNC_ANNOTATION)
    return None if value is None else str(value)
