"""The NamedCredential controller: event-driven, no polling and no scan of the cluster.
A credential is looked at again when it changes, when the OutboundConnection it names
changes, or when the Secret it reads (or the one it publishes) changes; only the
credentials that name what changed are looked at. Each look reads the named Secret
(only that one, only in the credential's namespace), computes the status (pure,
reconcile/credential.py), publishes the Secret for workloads when what it says
changed, and writes the status when it changed. No secret value is ever logged.

Secrets are watched only in the namespaces that hold credentials (`follow`). A
namespace where the operator has no Secrets role makes its credentials say so
(SecretAccessDenied) and is logged once, until the role is bound there."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from causeway.api import API_VERSION, NAMED_CREDENTIAL, OUTBOUND
from causeway.api.credential import NamedCredentialSpec
from causeway.controllers.waiting import until
from causeway.controllers.writer import STALE_WRITE_RETRY_SECONDS, StatusWriter, Written
from causeway.index import ObjectSnapshot
from causeway.kube import SecretAccessDeniedError, SecretApiError, SecretContent
from causeway.logs import object_logger
from causeway.metrics import Result
from causeway.reconcile import credential as rules
from causeway.reconcile.credential import Connection, Standing, Target
from causeway.runtime import Runtime

logger = logging.getLogger("causeway.credentials")
HASH_ANNOTATION = "causeway.dev/content-sha256"
CREDENTIAL_LABEL = "causeway.dev/credential"
CONCURRENCY = 8
# A credential whose evaluation failed on the way (its status write, its Secret's read or
# publish answered 500, say) is evaluated again this soon: nothing else may change to
# trigger it (the campaign's find: a credential left without any status).
RETRY_SECONDS = 5.0

Key = tuple[str, str]  # namespace, name
Follow = Callable[[set[str]], None]  # the namespaces whose Secrets to watch


@dataclass
class _SecretCache:
    """Secret values read for credentials, by (namespace, name), with the resource
    version they were read at; reread only when the watch reports a newer one."""

    content: dict[Key, SecretContent | None] = field(default_factory=dict)
    latest: dict[Key, str] = field(default_factory=dict)  # from the metadata watch

    def fresh(self, key: Key) -> bool:
        if key not in self.content:
            return False
        cached = self.content[key]
        seen = self.latest.get(key)
        return seen is None or (cached is not None and cached.resource_version == seen)


@dataclass(frozen=True)
class _Seen:
    """Everything one evaluation of a credential found."""

    snapshot: ObjectSnapshot
    spec: NamedCredentialSpec
    target: Target
    connection: Connection | None
    secret: SecretContent | None


class CredentialController:
    """Re-evaluates the credentials that name whatever changed."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._writer = StatusWriter(runtime.kube, runtime.index, runtime.clock)
        self._pending: set[Key] = set()
        self._wake = asyncio.Event()
        self._secrets = _SecretCache()
        self._touch: set[Key] = set()
        self._denied: set[str] = set()  # namespaces refusing the operator Secrets
        # How often each namespace's watch has said its Secrets are usable again: an
        # evaluation refused by a read that began before the last such word must not
        # mark the namespace refused again (the watch would not say it twice).
        self._allowed_count: dict[str, int] = {}
        self._follow: Follow | None = None

    def watch_secrets_with(self, follow: Follow) -> None:
        """Who starts and stops the Secret watches: told the namespaces holding
        credentials whenever a credential changes."""
        self._follow = follow

    # -- what changed ----------------------------------------------------------------------

    def credential_changed(self, namespace: str, name: str, *, touch: bool = True) -> None:
        if touch:
            self._touch.add((namespace, name))
        self._enqueue([(namespace, name)])
        if self._follow is not None:
            held = {c.namespace for c in self._runtime.index[NAMED_CREDENTIAL].all()}
            self._follow(held | {namespace})

    def secret_access(self, namespace: str, allowed: bool) -> None:
        """A namespace's Secret watch found it refuses the operator, or allows it again
        (from the watch thread, run on the loop)."""
        if allowed == (namespace not in self._denied):
            return
        if allowed:
            self._denied.discard(namespace)
            self._allowed_count[namespace] = self._allowed_count.get(namespace, 0) + 1
            logger.info("Secrets in namespace %s are usable again", namespace)
        else:
            self._denied_in(namespace)
        self._enqueue(c.key for c in self._credentials(namespace))

    def _denied_in(self, namespace: str) -> None:
        if namespace not in self._denied:
            self._denied.add(namespace)
            logger.warning(
                "Causeway may not use Secrets in namespace %s (HTTP 403): bind its Secrets "
                "ClusterRole there (chart value rbac.secrets.namespaces); the credentials "
                "there wait until then",
                namespace,
            )

    def connection_changed(self, namespace: str, connection: str) -> None:
        self._enqueue(
            c.key
            for c in self._credentials(namespace)
            if c.spec.get("outboundConnection") == connection
        )

    def secret_changed(self, namespace: str, name: str, version: str, deleted: bool) -> None:
        """From the metadata watch (another thread's callback, run on the loop)."""
        key = (namespace, name)
        if deleted:
            self._secrets.latest[key] = "deleted"
        else:
            self._secrets.latest[key] = version
        if self._secrets.fresh(key):
            return
        self._enqueue(
            c.key
            for c in self._credentials(namespace)
            if _source(c) == name or c.spec.get("publishSecret") == name
        )

    def _credentials(self, namespace: str) -> list[ObjectSnapshot]:
        return self._runtime.index[NAMED_CREDENTIAL].in_namespace(namespace)

    def _retry_later(self, key: Key, *, touch: bool, seconds: float = RETRY_SECONDS) -> None:
        if touch:
            self._touch.add(key)
        asyncio.get_running_loop().call_later(seconds, self._enqueue, [key])

    def _enqueue(self, keys: Any) -> None:
        before = len(self._pending)
        self._pending.update(keys)
        if len(self._pending) != before:
            self._wake.set()

    # -- the loop ------------------------------------------------------------------------

    async def run(self, stopped: asyncio.Event) -> None:
        slots = asyncio.Semaphore(CONCURRENCY)
        await until(stopped, self._runtime.index.ready.wait())
        # Acting starts with every credential: the index holds them all by now.
        held = self._runtime.index[NAMED_CREDENTIAL].all()
        self._enqueue(c.key for c in held)
        if self._follow is not None:
            self._follow({c.namespace for c in held})
        while not stopped.is_set():
            await until(stopped, self._wake.wait())
            self._wake.clear()
            batch, self._pending = self._pending, set()
            await asyncio.gather(*(self._guarded(key, slots) for key in batch))

    async def _guarded(self, key: Key, slots: asyncio.Semaphore) -> None:
        async with slots:
            started = self._runtime.monotonic()
            try:
                result = await self.evaluate(*key)
            except Exception:  # one credential's trouble must not stop the others
                log = object_logger(logger, kind="NamedCredential", namespace=key[0], name=key[1])
                log.warning("Could not evaluate the credential; trying again in %gs", RETRY_SECONDS)
                self._retry_later(key, touch=True)
                result = Result.ERROR
            if result is not None:
                elapsed = self._runtime.monotonic() - started
                self._runtime.metrics.reconciled(NAMED_CREDENTIAL, result, elapsed)

    async def evaluate(self, namespace: str, name: str) -> Result | None:
        """Look at one credential; None if it is gone (nothing was reconciled)."""
        snapshot = self._runtime.index[NAMED_CREDENTIAL].get(namespace, name)
        if snapshot is None or snapshot.deleting:
            return None  # gone: its published Secret goes with it (owner reference)
        touch = (namespace, name) in self._touch
        self._touch.discard((namespace, name))
        try:
            spec = NamedCredentialSpec.model_validate(snapshot.spec)
            target = rules.parse_url(spec.url)
        except (ValidationError, rules.InvalidUrlError) as exc:
            await self._invalid(snapshot, _problems(exc), touch)
            return Result.ERROR  # only a spec change can help
        connection = self._connection(namespace, spec.outboundConnection)
        uses_secrets = spec.authentication.secretRef is not None or bool(spec.publishSecret)
        allowed_count = self._allowed_count.get(namespace, 0)
        try:
            if uses_secrets and namespace in self._denied:
                raise SecretAccessDeniedError(f"Secrets of {namespace}: refused before")
            secret = await self._secret(namespace, spec)
            keys = None if secret is None else frozenset(secret.values)
            result = rules.standing(spec, connection, keys)
            if spec.publishSecret:
                seen = _Seen(snapshot, spec, target, connection, secret)
                result = await self._publish(seen, result)
        except SecretAccessDeniedError:
            if self._allowed_count.get(namespace, 0) != allowed_count:
                # Refused by a read made before the namespace became usable again.
                if touch:
                    self._touch.add((namespace, name))
                self._enqueue([(namespace, name)])
                return Result.REQUEUE
            self._denied_in(namespace)
            denied = rules.secret_access_denied(namespace)
            await self._write(snapshot, denied, target, connection, touch=touch)
            return Result.REQUEUE  # tried again when the namespace allows it
        await self._write(snapshot, result, target, connection, touch=touch)
        return Result.SUCCESS

    async def _write(
        self,
        snapshot: ObjectSnapshot,
        result: Standing,
        target: Target | None,
        connection: Connection | None,
        *,
        touch: bool,
    ) -> None:
        patch = rules.render_status(
            snapshot.generation,
            result,
            target=target,
            connection=connection,
            previous=snapshot.status,
            now=self._runtime.clock(),
            touch=touch,
        )
        if not patch:
            return
        outcome = await self._writer.write_outcome(NAMED_CREDENTIAL, snapshot, patch)
        if outcome is Written.STALE:
            # Changed since it was read (kopf's bookkeeping on a new credential, a spec
            # change): decided again on the newer object once the watch brings it.
            self._retry_later(snapshot.key, touch=touch, seconds=STALE_WRITE_RETRY_SECONDS)
        elif outcome is Written.FAILED:
            self._retry_later(snapshot.key, touch=touch)

    def _connection(self, namespace: str, name: str) -> Connection | None:
        found = self._runtime.index[OUTBOUND].get(namespace, name)
        if found is None:
            return None
        status = found.status
        return Connection(
            name=name,
            region=found.region,
            phase=status.get("phase"),
            message=str(status.get("message") or ""),
            dns_names=tuple(status.get("dnsNames") or ()),
            blocked_until=status.get("blockedUntil") or None,
        )

    async def _secret(self, namespace: str, spec: NamedCredentialSpec) -> SecretContent | None:
        ref = spec.authentication.secretRef
        if ref is None:
            return SecretContent({}, "")
        key = (namespace, ref.name)
        if not self._secrets.fresh(key):
            self._secrets.content[key] = await asyncio.to_thread(
                self._runtime.kube.secrets.read, namespace, ref.name
            )
        return self._secrets.content[key]

    async def _publish(self, seen: _Seen, result: Standing) -> Standing:
        """Publish (or refresh) the Secret for workloads; a Secret at that name that this
        credential does not own is never touched, and makes the credential Invalid."""
        snapshot, name = seen.snapshot, str(seen.spec.publishSecret)
        values = seen.secret.values if seen.secret is not None else {}
        data = rules.published_data(seen.spec, seen.target, result, seen.connection, values)
        digest = rules.content_hash(data)
        api = self._runtime.kube.secrets
        try:
            existing = await asyncio.to_thread(
                api.published, snapshot.namespace, name, HASH_ANNOTATION
            )
            if existing is not None and snapshot.uid not in existing.owner_uids:
                return rules.publish_conflict(name)
            if existing is not None and existing.content_hash == digest:
                return result
            body = _published_body(snapshot, name, data, digest)
            if await asyncio.to_thread(api.publish, snapshot.namespace, body, existing):
                self._log(snapshot).info("Published Secret %s (%s)", name, data["status"])
            else:
                self.credential_changed(snapshot.namespace, snapshot.name, touch=False)
        except SecretAccessDeniedError:
            raise
        except SecretApiError as exc:  # its message holds no value
            self._log(snapshot).warning("%s; trying again in %gs", exc, RETRY_SECONDS)
            self._retry_later((snapshot.namespace, snapshot.name), touch=False)
        return result

    async def _invalid(self, snapshot: ObjectSnapshot, detail: str, touch: bool) -> None:
        result = rules.invalid("InvalidSpec", f"The spec is invalid: {detail}. Fix the spec.")
        await self._write(snapshot, result, None, None, touch=touch)

    def _log(self, snapshot: ObjectSnapshot) -> logging.LoggerAdapter[logging.Logger]:
        return object_logger(
            logger, kind="NamedCredential", namespace=snapshot.namespace, name=snapshot.name
        )


def _source(snapshot: ObjectSnapshot) -> str | None:
    auth = snapshot.spec.get("authentication") or {}
    ref = auth.get("secretRef") or {}
    return ref.get("name")


def _problems(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"spec.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return str(exc)


def _published_body(
    snapshot: ObjectSnapshot, name: str, data: Mapping[str, str], digest: str
) -> dict[str, Any]:
    """The Secret for workloads: owned by the credential (garbage-collected with it),
    labelled so it can be found."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": snapshot.namespace,
            "labels": {CREDENTIAL_LABEL: snapshot.name, "app.kubernetes.io/managed-by": "causeway"},
            "annotations": {HASH_ANNOTATION: digest},
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": NAMED_CREDENTIAL.kind,
                    "name": snapshot.name,
                    "uid": snapshot.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
