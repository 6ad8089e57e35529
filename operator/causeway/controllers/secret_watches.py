"""Which namespaces' Secrets the operator watches: exactly those holding a
NamedCredential, one metadata-only watch each. Never all Secrets of the cluster: the
operator is granted Secrets per tenant namespace, and a namespace without credentials
has nothing it needs. Each watch runs in its own thread (the Kubernetes client is
synchronous) and reports to the credential controller: Secrets that changed, and
whether its namespace lets the operator use Secrets at all."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import Protocol

from causeway.kube.secrets import OnAccess, OnChange

AccessChanged = Callable[[str, bool], None]  # namespace, allowed


class MetadataWatcher(Protocol):
    def watch_metadata(
        self,
        on_change: OnChange,
        stopped: threading.Event,
        namespace: str,
        on_access: OnAccess | None = None,
    ) -> None: ...


class SecretWatches:
    """One watch per followed namespace; `follow` starts and stops them."""

    def __init__(
        self, secrets: MetadataWatcher, on_change: OnChange, on_access: AccessChanged
    ) -> None:
        self._secrets = secrets
        self._on_change = on_change
        self._on_access = on_access
        self._running: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def follow(self, namespaces: Iterable[str]) -> None:
        """Watch exactly these namespaces from now on."""
        wanted = {n for n in namespaces if n}
        with self._lock:
            for namespace in sorted(wanted - self._running.keys()):
                self._running[namespace] = self._start(namespace)
            for namespace in sorted(self._running.keys() - wanted):
                self._running.pop(namespace).set()

    @property
    def namespaces(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._running)

    def stop(self) -> None:
        with self._lock:
            for stopped in self._running.values():
                stopped.set()
            self._running.clear()

    def _start(self, namespace: str) -> threading.Event:
        stopped = threading.Event()
        threading.Thread(
            target=self._secrets.watch_metadata,
            args=(self._on_change, stopped, namespace, partial(self._on_access, namespace)),
            name=f"secret-metadata-watch/{namespace}",
            daemon=True,
        ).start()
        return stopped
