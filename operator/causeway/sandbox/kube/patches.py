"""Pure helpers of the sandbox API server: timestamps, merge/JSON patches,
preconditions and label selectors, as a real API server applies them."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Mapping
from typing import Any

import jsonpatch
import kmock


def _now() -> str:
    # RFC 3339 in UTC with "Z", as the API server renders metav1.Time.
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _api_error(status: int, reason: str, message: str) -> kmock.KubernetesError:
    # details={} keeps kmock from putting a server traceback into every client-visible error.
    return kmock.KubernetesError(status=status, reason=reason, message=message, details={})


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (also used, simplified, for strategic merge patches)."""
    # WORKAROUND: kmock's merge raises ValueError when a dict replaces a scalar or vice versa;
    # RFC 7386 says the patch value simply wins, so we merge with our own ten lines.
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _apply_patch(current: dict[str, Any], data: Any, content_type: str) -> dict[str, Any]:
    if "apply-patch" in content_type:
        raise _api_error(415, "UnsupportedMediaType", "server-side apply is not emulated")
    if isinstance(data, list):  # application/json-patch+json, as kopf sends for finalizers
        try:
            patched: dict[str, Any] = jsonpatch.apply_patch(current, data, in_place=False)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
            # WORKAROUND: kmock lets a failed JSON-patch "test" op escape as HTTP 500; kopf's
            # optimistic concurrency (test on metadata.resourceVersion) needs 422 to retry.
            raise _api_error(422, "Invalid", f"the JSON patch cannot be applied: {e}") from e
        return patched
    if isinstance(data, Mapping):
        merged: dict[str, Any] = _merge_patch(current, data)
        return merged
    raise _api_error(400, "BadRequest", "the patch body must be a JSON object or list")


def _selector_matches(selector: str, values: Mapping[str, Any]) -> bool:
    """Equality-only label/field selectors ("a=b,c!=d"); enough for kopf & the client."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if str(values.get(key.strip())) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if str(values.get(key.strip())) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in values:
                return False
        elif term not in values:
            return False
    return True


def _object_matches(obj: Mapping[str, Any], params: Mapping[str, str]) -> bool:
    meta = obj.get("metadata", {})
    fields = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace")}
    return _selector_matches(
        params.get("labelSelector", ""), meta.get("labels") or {}
    ) and _selector_matches(params.get("fieldSelector", ""), fields)


def _check_precondition(sent: Any, current: Mapping[str, Any]) -> None:
    """A resourceVersion in a replace or merge-patch body is a precondition: the API
    server refuses the write with 409 if the object changed since (optimistic locking)."""
    if not isinstance(sent, Mapping):
        return  # a JSON patch (a list) states its preconditions with `test` operations
    sent_rv = (sent.get("metadata") or {}).get("resourceVersion")
    if sent_rv and str(sent_rv) != current["metadata"].get("resourceVersion"):
        raise _api_error(409, "Conflict", "the object has been modified; please retry")


def _rv_of(obj: Mapping[str, Any]) -> int:
    return int(obj.get("metadata", {}).get("resourceVersion") or 0)


def _without(obj: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if key not in keys}
