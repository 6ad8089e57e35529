"""Where the cluster is and whether it answers, checked before the operator starts.

`load_cluster` reads the in-cluster service account or the kubeconfig and turns
every way that can fail into one line naming what was tried. `check_cluster`
waits (with backoff, one report per failed attempt) until the API server answers
and then checks that Causeway's CRDs are served, so a new user meets one clear
sentence instead of a watch loop failing for a minute."""

from __future__ import annotations

import copy
import json
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import kubernetes
import urllib3
import yaml

from causeway.api import GROUP, VERSION, KindInfo
from causeway.problems import UnavailableError, UserError

PROBE_TIMEOUT = 5.0
_BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0)
_ERRNO_TEXT = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


class KubeConfigError(UserError):
    """No usable cluster settings, or the cluster refuses them: the user must fix
    something before starting again. The message is one line."""


class KubeUnavailableError(UnavailableError):
    """The API server did not answer in time. The message is one line."""


@dataclass(frozen=True)
class ClusterConnection:
    """The client settings for one cluster and where they came from."""

    configuration: kubernetes.client.Configuration
    source: str  # e.g. "kubeconfig /home/me/.kube/config (context dev)"

    @property
    def server(self) -> str:
        return str(self.configuration.host)


def load_cluster(environ: Mapping[str, str] | None = None) -> ClusterConnection:
    """The in-cluster service account inside a pod, else the kubeconfig (KUBECONFIG or
    ~/.kube/config, current context)."""
    env = os.environ if environ is None else environ
    if env.get("KUBERNETES_SERVICE_HOST"):
        return _in_cluster()
    return _from_kubeconfig(kubeconfig_paths(env))


def kubeconfig_paths(environ: Mapping[str, str]) -> list[Path]:
    """The kubeconfig files kubectl would read, in order."""
    listed = environ.get("KUBECONFIG", "")
    raw = [p for p in listed.split(os.pathsep) if p] if listed else ["~/.kube/config"]
    return [Path(p).expanduser() for p in raw]


def _in_cluster() -> ClusterConnection:
    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
    except kubernetes.config.ConfigException as exc:
        raise KubeConfigError(
            f"running in a pod, but its service account cannot be used: {_one_line(exc)}"
        ) from None
    return ClusterConnection(configuration, "in-cluster service account")


def _from_kubeconfig(paths: Sequence[Path]) -> ClusterConnection:
    named = ", ".join(str(p) for p in paths)
    present = [p for p in paths if p.exists()]
    if not present:
        raise KubeConfigError(
            f"no cluster to connect to: not running in a pod, and no kubeconfig at {named}; "
            "set KUBECONFIG to your kubeconfig file"
        )
    documents = [_read_kubeconfig(p) for p in present]
    if not any(doc.get("current-context") for doc in documents):
        raise KubeConfigError(
            f"kubeconfig {named} sets no current-context; pick one with "
            f"`kubectl config use-context NAME` (contexts: {_context_names(documents)})"
        )
    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=os.pathsep.join(str(p) for p in present),
            client_configuration=configuration,
            persist_config=False,
        )
    except Exception as exc:  # the loader raises ConfigException, KeyError, ValueError…
        raise KubeConfigError(f"kubeconfig {named} cannot be used: {_one_line(exc)}") from None
    # The client library lets a later file's current-context win.
    context = [doc["current-context"] for doc in documents if doc.get("current-context")][-1]
    return ClusterConnection(configuration, f"kubeconfig {named} (context {context})")


def _read_kubeconfig(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise KubeConfigError(f"kubeconfig {path} is a directory, not a file")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KubeConfigError(f"cannot read kubeconfig {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise KubeConfigError(f"kubeconfig {path} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise KubeConfigError(
            f"kubeconfig {path} is not valid YAML: {_yaml_problem(exc)}"
        ) from None
    if not isinstance(document, dict):
        raise KubeConfigError(f"kubeconfig {path} is not a kubeconfig (expected a YAML mapping)")
    return document


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "cannot parse"
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


def _context_names(documents: Sequence[Mapping[str, Any]]) -> str:
    names = [
        str(c.get("name"))
        for doc in documents
        for c in doc.get("contexts") or []
        if isinstance(c, Mapping)
    ]
    return ", ".join(names) or "none defined"


def check_cluster(
    connection: ClusterConnection,
    *,
    kinds: Sequence[KindInfo],
    timeout: float,
    on_retry: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Wait for the API server to answer (calling `on_retry` with one line per failed
    attempt), then check that every Causeway kind is served. Returns the server's
    version (e.g. "v1.31.2")."""
    client = _probe_client(connection)
    deadline = clock() + timeout
    for attempt in range(1_000_000):
        try:
            version = _server_version(client, connection)
            break
        except KubeUnavailableError as exc:
            delay = _BACKOFF[min(attempt, len(_BACKOFF) - 1)]
            if clock() + delay > deadline:
                raise KubeUnavailableError(
                    f"the Kubernetes API at {connection.server} did not answer within "
                    f"{timeout:g}s ({exc}); check the server address in {connection.source}"
                ) from None
            on_retry(
                f"the Kubernetes API at {connection.server} is not answering ({exc}); "
                f"retrying in {delay:g}s"
            )
            sleep(delay)
    _require_kinds(client, connection, kinds)
    return version


def _probe_client(connection: ClusterConnection) -> kubernetes.client.ApiClient:
    configuration = copy.copy(connection.configuration)
    configuration.retries = False  # one answer per attempt; the backoff above is ours
    return kubernetes.client.ApiClient(configuration)


def _server_version(client: kubernetes.client.ApiClient, connection: ClusterConnection) -> str:
    info = _get(client, connection, "/version", doing="answer")
    return str(info.get("gitVersion") or "(unknown version)")


def _get(
    client: kubernetes.client.ApiClient, connection: ClusterConnection, path: str, *, doing: str
) -> dict[str, Any]:
    request = client.param_serialize(
        method="GET",
        resource_path=path,
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    try:
        response = client.call_api(*request, _request_timeout=PROBE_TIMEOUT)
        response.read()  # type: ignore[no-untyped-call]
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise KubeUnavailableError(network_reason(exc)) from None
    if not 200 <= response.status < 300:
        _raise_for_status(response.status, response.reason, connection, doing)
    try:
        reply = json.loads(response.data or b"{}")
    except ValueError:
        raise _NotFoundError(
            f"{connection.server} did not answer {path} with JSON: is it a Kubernetes API server?"
        ) from None
    return reply if isinstance(reply, dict) else {}


def _require_kinds(
    client: kubernetes.client.ApiClient, connection: ClusterConnection, kinds: Sequence[KindInfo]
) -> None:
    path = f"/apis/{GROUP}/{VERSION}"
    try:
        served = _get(client, connection, path, doing=f"list the {GROUP} API")
    except _NotFoundError:
        served = {}
    except KubeUnavailableError as exc:
        raise KubeUnavailableError(
            f"the Kubernetes API at {connection.server} stopped answering ({exc})"
        ) from None
    plurals = {str(r.get("name")) for r in served.get("resources", [])}
    missing = [kind.kind for kind in kinds if kind.plural not in plurals]
    if missing:
        raise KubeConfigError(
            f"the cluster at {connection.server} does not serve {', '.join(missing)} "
            f"({GROUP}/{VERSION}): install the CRDs first (kubectl apply -f crds/)"
        )


class _NotFoundError(KubeConfigError):
    """The server answered 404."""


def refused(
    status: int, reason: str | None, connection: ClusterConnection, doing: str
) -> KubeConfigError:
    """The API server said no: to these credentials (401/403), or to the request."""
    if status in (401, 403):
        return KubeConfigError(
            f"the Kubernetes API at {connection.server} refused to {doing} for the credentials "
            f"from {connection.source} ({status} {reason})"
        )
    return KubeConfigError(
        f"the Kubernetes API at {connection.server} refused to {doing} ({status} {reason})"
    )


def _raise_for_status(
    status: int, reason: str | None, connection: ClusterConnection, doing: str
) -> NoReturn:
    if status == 404:
        raise _NotFoundError(
            f"{connection.server} answered 404 Not Found when asked to {doing}: "
            "is it a Kubernetes API server?"
        ) from None
    if status == 429 or status >= 500:
        raise KubeUnavailableError(f"HTTP {status} {reason}") from None
    raise refused(status, reason, connection, doing) from None


def network_reason(exc: BaseException) -> str:
    """'connection refused', 'certificate verify failed'… rather than urllib3's reprs."""
    reason = getattr(exc, "reason", None)
    inner = reason if isinstance(reason, BaseException) else exc
    text = str(inner)
    found = _ERRNO_TEXT.search(text)
    if found:
        return found.group(1).strip().lower()
    if isinstance(inner, urllib3.exceptions.SSLError) or "CERTIFICATE" in text.upper():
        return f"TLS failed: {_one_line(inner)}"
    if isinstance(inner, urllib3.exceptions.TimeoutError | TimeoutError):
        return f"no answer within {PROBE_TIMEOUT:g}s"
    return _one_line(inner) or type(inner).__name__


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
