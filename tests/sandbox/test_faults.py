"""The sandbox's fault injection (causeway.sandbox.faults): each fault kind reaches a
client as AWS or the API server would present it, happens (or not) before the effect
as promised, spares the test harness's own requests, and is a pure function of the
seed."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from causeway.sandbox import faults
from causeway.sandbox.aws import AwsSandbox
from causeway.sandbox.aws.control import _Failure
from causeway.sandbox.faults import AWS_FAULTS, FaultPlan
from causeway.sandbox.kube import ThreadedKubeSandbox

OPERATOR_AGENT = "kopf/1.0"


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsSandbox]:
    with AwsSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def plan() -> Iterator[FaultPlan]:
    plan = FaultPlan(seed=7, aws_rate=0, kube_write_rate=0, kube_read_rate=0, watch_rate=0)
    faults.install(plan)
    yield plan
    faults.install(None)


def operator_ec2(aws: AwsSandbox, read_timeout: float = 5) -> Any:
    """An EC2 client that identifies itself as the operator's clients do."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        user_agent_extra="causeway/test",
        read_timeout=read_timeout,
    )
    return boto3.client(
        "ec2",
        region_name=aws.region,
        endpoint_url=aws.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def only(plan: FaultPlan, kind: str) -> None:
    plan.aws_rate = 1.0
    plan.aws_weights = {kind: 1.0}


def vpc_count(aws: AwsSandbox) -> int:
    return len(aws.client().describe_vpcs()["Vpcs"])


def create_vpc(client: Any) -> None:
    client.create_vpc(CidrBlock="10.9.0.0/16")


@pytest.mark.parametrize(
    ("kind", "answer"),
    [
        ("aws.throttle", ("RequestLimitExceeded", 503, False)),
        ("aws.5xx", ("InternalError", 500, False)),
        ("aws.5xx-applied", ("InternalError", 500, True)),
    ],
)
def test_aws_error_answers(
    aws: AwsSandbox, plan: FaultPlan, kind: str, answer: tuple[str, int, bool]
) -> None:
    code, status, applied = answer
    only(plan, kind)
    before = vpc_count(aws)
    with pytest.raises(botocore.exceptions.ClientError) as failed:
        create_vpc(operator_ec2(aws))
    assert failed.value.response["Error"]["Code"] == code
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert vpc_count(aws) == before + applied
    assert plan.tally() == {kind: 1}


def test_a_bare_5xx_has_no_api_error_body(aws: AwsSandbox, plan: FaultPlan) -> None:
    only(plan, "aws.5xx-bare")
    with pytest.raises(botocore.exceptions.ClientError) as failed:
        create_vpc(operator_ec2(aws))
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert failed.value.response["Error"]["Code"] == "503"  # botocore found no API code


@pytest.mark.parametrize(("kind", "applied"), [("aws.reset", False), ("aws.reset-applied", True)])
def test_a_dropped_connection_gives_no_answer(
    aws: AwsSandbox, plan: FaultPlan, kind: str, applied: bool
) -> None:
    only(plan, kind)
    before = vpc_count(aws)
    with pytest.raises(
        (botocore.exceptions.ConnectionClosedError, botocore.exceptions.HTTPClientError)
    ):
        create_vpc(operator_ec2(aws))
    assert vpc_count(aws) == before + applied


def test_a_read_timeout_applies_the_call_and_never_answers(
    aws: AwsSandbox, plan: FaultPlan
) -> None:
    only(plan, "aws.timeout-applied")
    plan.hang_seconds = 0.6
    before = vpc_count(aws)
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        create_vpc(operator_ec2(aws, read_timeout=0.2))
    assert vpc_count(aws) == before + 1


def test_the_harness_and_a_quiet_plan_get_no_faults(aws: AwsSandbox, plan: FaultPlan) -> None:
    only(plan, "aws.5xx")
    create_vpc(aws.client())  # no causeway/ in its User-Agent: the test harness
    plan.active = False
    create_vpc(operator_ec2(aws))
    assert plan.total() == 0


def test_decisions_are_a_function_of_the_seed() -> None:
    def decisions(seed: int) -> list[Any]:
        plan = FaultPlan(seed=seed, aws_rate=0.3)
        throttle = _Failure("RequestLimitExceeded", "slow down", False, 503)
        return [plan.aws("CreateVpcEndpoint", throttle=throttle) for _ in range(200)]

    assert decisions(1) == decisions(1)
    assert decisions(1) != decisions(2)
    assert 20 < sum(d is not None for d in decisions(3)) < 100
    assert set(AWS_FAULTS) >= set(FaultPlan(seed=1).aws_weights)


# Kubernetes -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kube() -> Iterator[ThreadedKubeSandbox]:
    with ThreadedKubeSandbox([], namespaces=["ns"]) as sandbox:
        yield sandbox


def request(
    kube: ThreadedKubeSandbox, method: str, path: str, body: Any = None, agent: str = OPERATOR_AGENT
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    sent = urllib.request.Request(
        kube.url + path,
        data=data,
        method=method,
        headers={"User-Agent": agent, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(sent, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def secret(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": {}}


SECRETS = "/api/v1/namespaces/ns/secrets"


@pytest.mark.parametrize(
    ("kind", "status", "applied"),
    [("kube.409", 409, False), ("kube.500", 500, False), ("kube.500-applied", 500, True)],
)
def test_kube_write_faults(
    kube: ThreadedKubeSandbox, plan: FaultPlan, kind: str, status: int, applied: bool
) -> None:
    plan.kube_write_rate = 1.0
    name = f"s-{kind.replace('.', '-')}"
    # The plan picks the kind: draw until this one comes up (pure function of the seed).
    for attempt in range(50):
        code, body = request(kube, "POST", SECRETS, secret(f"{name}-{attempt}"))
        if body.get("code") == status and plan.tally().get(kind):
            break
        plan.injected.clear()
    else:
        pytest.fail(f"{kind} never drawn")
    assert code == status
    assert body["kind"] == "Status" and body["code"] == status
    plan.active = False
    exists = request(kube, "GET", f"{SECRETS}/{name}-{attempt}")[0] == 200
    assert exists == applied


def test_kube_harness_requests_get_no_faults(kube: ThreadedKubeSandbox, plan: FaultPlan) -> None:
    plan.kube_write_rate = plan.kube_read_rate = 1.0
    assert request(kube, "POST", SECRETS, secret("harness"), agent="pytest")[0] == 201
    assert plan.total() == 0


def watch_lines(kube: ThreadedKubeSandbox, params: str) -> list[dict[str, Any]]:
    sent = urllib.request.Request(
        f"{kube.url}{SECRETS}?watch=true&timeoutSeconds=1&{params}",
        headers={"User-Agent": OPERATOR_AGENT},
    )
    with urllib.request.urlopen(sent, timeout=10) as reply:
        return [json.loads(line) for line in reply.read().splitlines() if line.strip()]


def test_a_watch_may_open_with_410_gone(kube: ThreadedKubeSandbox, plan: FaultPlan) -> None:
    plan.watch_rate = 1.0
    events = watch_lines(kube, "resourceVersion=1")
    assert [e["type"] for e in events] == ["ERROR"]
    assert events[0]["object"]["code"] == 410
    assert plan.tally() == {"kube.410": 1}


def test_watch_events_may_repeat_or_stop(kube: ThreadedKubeSandbox, plan: FaultPlan) -> None:
    for index in range(3):
        request(kube, "POST", SECRETS, secret(f"w-{index}"), agent="pytest")
    plain = watch_lines(kube, "resourceVersion=0")
    plan.event_rate = 1.0
    plan.delay_seconds = 0.01
    faulty = watch_lines(kube, "resourceVersion=0")
    tally = plan.tally()
    names = [e["object"]["metadata"]["name"] for e in faulty]
    if "kube.watch-drop" in tally:
        assert len(faulty) < len(plain) + tally.get("kube.duplicate", 0)
    else:
        assert len(faulty) == len(plain) + tally.get("kube.duplicate", 0)
    assert set(names) <= {e["object"]["metadata"]["name"] for e in plain}
