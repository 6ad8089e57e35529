"""The controller's decisions around errors, with a fake AWS edge: terminal errors
stall without a retry, recoverable ones retry with backoff, and nothing releases a
deleting object's finalizer while its endpoint may still exist."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from causeway.controllers.outbound import OutboundController
from causeway.domain import Endpoint
from causeway.errors import AwsCallError
from fakes import REGION_CONFIG, SERVICE_NAME, FakeRuntime

SERVICE = SERVICE_NAME
REGION = REGION_CONFIG
LOG = logging.getLogger("test")


class FakeEndpoints:
    """Stands in for TransitEndpoints; fails the named operation with the given code."""

    def __init__(self, owned: list[Endpoint], fail: dict[str, str]) -> None:
        self.owned, self.fail, self.calls = owned, fail, []  # type: ignore[var-annotated]

    def _maybe_fail(self, operation: str) -> None:
        self.calls.append(operation)
        if operation in self.fail:
            raise AwsCallError(operation, self.fail[operation], "injected")

    def owned_by(self, uid: str, also_ids: Any = ()) -> list[Endpoint]:
        self._maybe_fail("DescribeVpcEndpoints")
        return self.owned

    def create(self, service_name: str, client_token: str, tags: Any) -> Endpoint:
        self._maybe_fail("CreateVpcEndpoint")
        return Endpoint("vpce-new", "pendingAcceptance", service_name)

    def delete(self, ids: Any) -> list[str]:
        self._maybe_fail("DeleteVpcEndpoints")
        return list(ids)


def body(*, deleting: bool = False, tracked: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "inventory", "namespace": "acme", "uid": "u-1", "generation": 1}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-22T10:00:00Z"
    status = {"vpcEndpointId": tracked, "phase": "Ready"} if tracked else {}
    return {
        "metadata": meta,
        "spec": {"region": "us-east-1", "serviceName": SERVICE},
        "status": status,
    }


async def reconcile(fake: FakeEndpoints, the_body: dict[str, Any], attempt: int = 0) -> Any:
    controller = OutboundController(FakeRuntime(fake))
    return await controller.reconcile(the_body, sync_requested=False, attempt=attempt, logger=LOG)


def condition(result: Any, kind: str) -> dict[str, Any]:
    return next(c for c in result.status_patch["conditions"] if c["type"] == kind)


async def test_terminal_create_error_stalls_without_retry() -> None:
    fake = FakeEndpoints([], {"CreateVpcEndpoint": "InvalidServiceName"})
    result = await reconcile(fake, body())
    assert result.retry_after is None
    assert result.status_patch["phase"] == "Unprovisioned"
    assert condition(result, "Stalled")["reason"] == "ServiceNotAllowed"
    assert REGION["platformPrincipal"] in result.status_patch["message"]


@pytest.mark.parametrize(("attempt", "delay"), [(0, 2.0), (3, 16.0)])
async def test_recoverable_error_retries_with_backoff(attempt: int, delay: float) -> None:
    fake = FakeEndpoints([], {"DescribeVpcEndpoints": "RequestLimitExceeded"})
    result = await reconcile(fake, body(), attempt)
    assert result.retry_after == delay
    assert condition(result, "Reconciling")["reason"] == "AwsThrottled"
    assert fake.calls == ["DescribeVpcEndpoints"]  # nothing created without an observation


async def test_recoverable_error_keeps_the_last_known_phase() -> None:
    fake = FakeEndpoints([], {"DescribeVpcEndpoints": "ServiceUnavailable"})
    result = await reconcile(fake, body(tracked="vpce-1"))
    assert "phase" not in result.status_patch  # still Ready, as stored
    assert condition(result, "Reconciling")["status"] == "True"


async def test_terminal_error_during_deletion_still_retries() -> None:
    owned = [Endpoint("vpce-1", "available", SERVICE, owner_uid="u-1")]
    fake = FakeEndpoints(owned, {"DeleteVpcEndpoints": "InvalidParameter"})
    result = await reconcile(fake, body(deleting=True, tracked="vpce-1"))
    assert result.retry_after is not None  # the finalizer stays until the endpoint is gone


async def test_deletion_waits_for_aws_to_finish_deleting() -> None:
    owned = [Endpoint("vpce-1", "available", SERVICE, owner_uid="u-1")]
    result = await reconcile(FakeEndpoints(owned, {}), body(deleting=True, tracked="vpce-1"))
    assert result.retry_after is not None
    assert result.status_patch["phase"] == "TeardownInProgress"
    gone = await reconcile(
        FakeEndpoints([Endpoint("vpce-1", "deleted", SERVICE)], {}),
        body(deleting=True, tracked="vpce-1"),
    )
    assert gone.retry_after is None


async def test_unknown_region_makes_no_aws_call() -> None:
    fake = FakeEndpoints([], {})
    the_body = body()
    the_body["spec"] = {
        "region": "eu-west-3",
        "serviceName": SERVICE.replace("us-east-1", "eu-west-3"),
    }
    result = await reconcile(fake, the_body)
    assert fake.calls == [] and result.retry_after is None
    assert condition(result, "Stalled")["reason"] == "UnknownRegion"
