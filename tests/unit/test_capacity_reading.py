"""The endpoints-per-VPC quota read from Service Quotas: at start, then hourly, only
when a transit VPC has no maxEndpoints; AWS's default of 50 (said once) when Service
Quotas refuses."""

from __future__ import annotations

import logging

import pytest

from causeway.controllers.capacity import READING_SECONDS, QuotaReader
from fakes import FakeRuntime, FakeServiceQuotas, FakeTransit, one_vpc_pool

REGION = "us-east-1"


async def test_the_quota_is_read_at_start_then_hourly() -> None:
    runtime = FakeRuntime(FakeTransit())
    runtime.quotas_client = FakeServiceQuotas(value=120)
    reader = QuotaReader(runtime, REGION)
    await reader.refresh_if_due()
    assert runtime.endpoints_per_vpc(REGION) == 120
    assert runtime.capacity_read_at[REGION] == runtime.now
    runtime.now += READING_SECONDS - 1
    await reader.refresh_if_due()
    assert runtime.quotas_client.calls == 1
    runtime.now += 1
    runtime.quotas_client.value = 80
    await reader.refresh_if_due()
    assert (runtime.quotas_client.calls, runtime.endpoints_per_vpc(REGION)) == (2, 80)


async def test_a_refused_reading_falls_back_to_aws_default_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = FakeRuntime(FakeTransit())
    runtime.quotas_client = FakeServiceQuotas(fail="AccessDeniedException")
    reader = QuotaReader(runtime, REGION)
    with caplog.at_level(logging.WARNING, logger="causeway.capacity"):
        for _ in range(3):
            await reader.refresh_if_due()
            runtime.now += READING_SECONDS
    assert runtime.endpoints_per_vpc(REGION) == 50
    assert runtime.quotas_client.calls == 3
    (warning,) = caplog.records
    assert "AccessDeniedException" in warning.getMessage()
    assert "AWS's default of 50" in warning.getMessage()


async def test_no_reading_when_every_vpc_sets_max_endpoints() -> None:
    runtime = FakeRuntime(FakeTransit())
    runtime.config = one_vpc_pool(max_endpoints=10)
    await QuotaReader(runtime, REGION).refresh_if_due()
    assert runtime.quotas_client.calls == 0
