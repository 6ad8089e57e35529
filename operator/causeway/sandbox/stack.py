"""The whole embedded sandbox in one object: the moto-based AWS sandbox, the kmock
Kubernetes API with Causeway's CRDs, and the real operator running in a thread
against both. The demo, the end-to-end tests and the benchmark all use this, so
they exercise exactly the code `causeway run` runs, minus real endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import boto3
import kopf
import yaml

from causeway.api import ALL_KINDS, API_VERSION
from causeway.aws.session import ClientFactory
from causeway.clock import Clock, utc_now
from causeway.config import OperatorConfig, parse_config
from causeway.crdgen import crd_for
from causeway.health import readiness_url
from causeway.kube import KubeApi
from causeway.operator import run_operator
from causeway.runtime import Runtime
from causeway.sandbox import usage
from causeway.sandbox.aws import DEFAULT_PLATFORM_PRINCIPAL, AwsSandbox, documented_buckets
from causeway.sandbox.kube import ThreadedKubeSandbox, kinds_from_crds
from causeway.sandbox.kube.backend import KubeBackend, KubeBackendFactory

OPERATOR_START_TIMEOUT = 30.0


class OperatorThread:
    """The real operator (kopf + region pollers) in its own thread and event loop."""

    def __init__(self, runtime: Runtime, login: Callable[..., Any]) -> None:
        self.runtime = runtime
        self._login = login
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="causeway-operator", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(OPERATOR_START_TIMEOUT):
            raise RuntimeError(f"the operator did not start within {OPERATOR_START_TIMEOUT}s")

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("the operator did not stop in time")
        if self._failure is not None:
            raise RuntimeError("the operator crashed") from self._failure

    def _main(self) -> None:
        try:
            with asyncio.Runner(loop_factory=_ConnectionTrackingLoop) as runner:
                runner.run(self._operate())
        except BaseException as exc:
            self._failure = exc
            self._ready.set()

    async def _operate(self) -> None:
        try:
            await run_operator(
                self.runtime, login=self._login, stop_flag=self._stop, ready_flag=self._ready
            )
        finally:
            loop = asyncio.get_running_loop()
            if isinstance(loop, _ConnectionTrackingLoop):
                await loop.close_connections()


class _ConnectionTrackingLoop(asyncio.SelectorEventLoop):
    """An event loop that can close every connection it opened before it closes.

    Why: closing an aiohttp session closes a TLS connection gracefully (close_notify,
    then wait for the peer), which takes further loop turns. A thread's loop that
    closes first leaves the socket open until garbage collection, and Python then
    reports an unclosed socket in whatever runs next (a test elsewhere, under
    `filterwarnings = error`). A process exits and the kernel closes its sockets; an
    operator stopped and started many times in one process must not leak them."""

    def __init__(self) -> None:
        super().__init__()
        self._opened_connections: weakref.WeakSet[asyncio.BaseTransport] = weakref.WeakSet()

    async def create_connection(self, *args: Any, **kwargs: Any) -> Any:
        transport, protocol = await super().create_connection(*args, **kwargs)
        self._opened_connections.add(transport)
        return transport, protocol

    async def close_connections(self) -> None:
        """Abort what is still open; the sockets close on the next loop turn."""
        # A transport already closing gracefully still holds its socket: abort it too.
        for transport in list(self._opened_connections):
            if isinstance(transport, asyncio.WriteTransport):
                transport.abort()
        await asyncio.sleep(0)


# The operator's budget where the sandbox throttles nothing (it answers at once unless a
# test asks for throttling): every budgeted call gets a bucket this generous, so a test
# or demo that is not about pacing is not slowed by AWS's documented buckets (4 endpoint
# creates at once, then one each 3.3 s).
UNPACED_BUDGET: Mapping[str, tuple[int, float]] = {
    api: (1000, 1000.0) for api in documented_buckets()
}


def budget_config(budget: Mapping[str, tuple[int, float]]) -> dict[str, dict[str, float]]:
    """A budget (burst, rate by AWS call) as the config file's awsBudget spells it."""
    return {api: {"burst": burst, "rate": rate} for api, (burst, rate) in budget.items()}


class SandboxStack:
    """AWS + Kubernetes sandboxes for one region, and operators started on demand."""

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        poll_interval: str = "1s",
        namespaces: Iterable[str] = (),
        clock: Clock = utc_now,
        activation_seconds: float = 0.0,
        platform_principal: str = DEFAULT_PLATFORM_PRINCIPAL,
        inbound_service_id: str | None = None,
        aws_budget: Mapping[str, tuple[int, float]] | None = None,
        throttle_as_documented: bool = False,
        metering_seconds: float | None = None,
        kube_backend: KubeBackendFactory = ThreadedKubeSandbox,
        transit_vpcs: int = 0,
        max_endpoints: int | None = None,
    ) -> None:
        """`throttle_as_documented`: the sandbox throttles every call the operator budgets
        with AWS's documented bucket (`documented_buckets`, RequestLimitExceeded as EC2
        answers), from once the platform is made; the operator keeps its defaults, the
        same table. Otherwise the sandbox throttles only what a test limits, and the
        operator's budget is generous (UNPACED_BUDGET), for tests not about pacing.
        `aws_budget`: the operator's bucket (burst, rate) per AWS call, as the config's
        awsBudget sets it, over either of those. `metering_seconds`: the
        metering interval, below the config's 10 s floor if asked (the sandbox's
        CloudWatch answers at once; real CloudWatch has data each minute). `kube_backend`:
        the Kubernetes API (the embedded sandbox unless the tests bring a real one).
        `transit_vpcs`: configure a pool of that many transit VPCs (`transitVpcs`, each
        with `max_endpoints` if given) instead of the single-VPC keys (0)."""
        self._metering_seconds = metering_seconds
        self._transit_vpcs = transit_vpcs
        self._max_endpoints = max_endpoints
        self.region = region
        self._inbound_service_id = inbound_service_id
        self._throttle_as_documented = throttle_as_documented
        self._aws_budget = {
            **({} if throttle_as_documented else UNPACED_BUDGET),
            **(aws_budget or {}),
        }
        self.aws = AwsSandbox(
            region=region,
            activation_seconds=activation_seconds,
            platform_principal=platform_principal,
        )
        self.kube: KubeBackend = kube_backend(
            kinds_from_crds(crd_for(kind) for kind in ALL_KINDS),
            namespaces=tuple(namespaces),
            record_usage=True,  # the tests hold the operator's ClusterRole to its requests
        )
        self._poll_interval = poll_interval
        self._clock = clock
        self.config: OperatorConfig | None = None
        self.operators: list[OperatorThread] = []
        self._running = contextlib.ExitStack()

    def __enter__(self) -> Self:
        with contextlib.ExitStack() as started:
            started.enter_context(self.aws)
            started.enter_context(self.kube)
            platform = self.aws.create_platform(
                self.region, inbound_service_id=self._inbound_service_id
            )
            if self._transit_vpcs:
                platform = self._as_pool(platform)
            if self._throttle_as_documented:  # the platform's set-up is not throttled
                self.aws.limit_as_documented()
            self.config = parse_config(
                {
                    "regions": {self.region: platform},
                    "pollInterval": self._poll_interval,
                    "awsBudget": budget_config(self._aws_budget),
                },
                source="sandbox config",
            )
            if self._metering_seconds is not None:
                interval = timedelta(seconds=self._metering_seconds)
                metering = self.config.metering.model_copy(update={"interval": interval})
                self.config = self.config.model_copy(update={"metering": metering})
            started.callback(self._stop_operators)  # runs first on exit: operators, then APIs
            self._running = started.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._running.close()

    def _as_pool(self, platform: dict[str, Any]) -> dict[str, Any]:
        """The platform's region entry with a pool of transit VPCs (the first is the one
        create_platform made) instead of the single-VPC keys."""
        first = {
            "vpcId": platform.pop("transitVpcId"),
            "subnetIds": platform.pop("subnetIds"),
            "securityGroupIds": platform.pop("securityGroupIds"),
            "blockedSecurityGroupId": platform.pop("blockedSecurityGroupId"),
        }
        more = [self.aws.create_transit_vpc(self.region) for _ in range(self._transit_vpcs - 1)]
        limit = {"maxEndpoints": self._max_endpoints} if self._max_endpoints else {}
        return {**platform, "transitVpcs": [{**vpc, **limit} for vpc in [first, *more]]}

    def change_pool(self, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
        """Edit the region's transitVpcs as an admin edits the config file; operators
        started from now on read the new config (a restart, as a ConfigMap change rolls
        the pod). `change` gets the entries as the file spells them."""
        self.change_region(
            lambda region: {**region, "transitVpcs": change(list(region["transitVpcs"]))}
        )

    def change_region(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Edit the region's config entry (as the file spells it), as `change_pool` does."""
        if self.config is None:
            raise RuntimeError("the sandbox is not started")
        data = self.config.model_dump(mode="json", exclude_none=True)
        data["regions"][self.region] = change(dict(data["regions"][self.region]))
        data.pop("metering")  # may hold an interval below the file's floor (see __init__)
        changed = parse_config(data, source="sandbox config")
        self.config = changed.model_copy(update={"metering": self.config.metering})

    def _stop_operators(self) -> None:
        """Stop every operator still running, even if stopping one of them fails."""
        with contextlib.ExitStack() as stopping:
            while self.operators:
                stopping.callback(self.operators.pop().stop)

    def runtime(self) -> Runtime:
        """A fresh Runtime (as after a process restart) wired to both sandboxes."""
        if self.config is None:
            raise RuntimeError("the sandbox is not started")

        def session() -> boto3.Session:
            return boto3.Session(
                aws_access_key_id="sandbox",
                aws_secret_access_key="sandbox",
                region_name=self.region,
            )

        clients = ClientFactory(session, endpoint_url=self.aws.endpoint_url)
        clients.listen(usage.record_aws)  # the tests hold the IAM policy to these calls
        return Runtime(
            config=self.config,
            clients=clients,
            kube=KubeApi(self.kube.kube_configuration()),
            clock=self._clock,
        )

    def start_operator(self, runtime: Runtime | None = None) -> OperatorThread:
        """Start a new operator process-equivalent (fresh memory, fresh clients)."""
        connection = self.kube.kopf_connection()

        async def login(**_: Any) -> kopf.ConnectionInfo:
            return connection

        operator = OperatorThread(runtime or self.runtime(), login)
        self.operators.append(operator)
        operator.start()
        return operator

    def stop_operator(self, operator: OperatorThread, *, expect_crash: bool = False) -> None:
        self.operators.remove(operator)
        try:
            operator.stop()
        except RuntimeError:
            if not expect_crash:
                raise

    def start_operator_process(
        self,
        workdir: Path,
        *,
        poll_interval: str | None = None,
        ready_timeout: float = OPERATOR_START_TIMEOUT,
        without_aws_credentials: bool = False,
        extra_args: Iterable[str] = (),
        replica: str | None = None,
    ) -> subprocess.Popen[bytes]:
        """`causeway run` as its own process, configured only the way a cluster deployment
        is: a config file (CAUSEWAY_CONFIG), a kubeconfig and the AWS SDK's environment.
        Returns once its readiness probe answers (its index is synced); its output goes
        to workdir/operator.log.
        `without_aws_credentials`: the SDK finds none (no keys, profile or metadata).
        `replica`: one of several replicas electing a leader (on the Lease in the
        backend's operator namespace): its pod name, Kubernetes token and AWS access key id, which
        `kube.requests_by` and `aws.calls_by_key` count by. Without it, a single replica
        (--leader-elect=false)."""
        if self.config is None:
            raise RuntimeError("the sandbox is not started")
        workdir.mkdir(parents=True, exist_ok=True)
        config = self.config.model_dump(mode="json", exclude_none=True)
        if poll_interval:
            config["pollInterval"] = poll_interval
        (workdir / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        self.kube.write_kubeconfig(workdir / "kubeconfig", replica=replica)
        env = {
            **os.environ,
            **self.aws.env(),
            "CAUSEWAY_CONFIG": str(workdir / "config.yaml"),
            "KUBECONFIG": str(workdir / "kubeconfig"),
        }
        if replica is None:
            extra_args = ["--leader-elect=false", *extra_args]
        else:
            env |= {
                "POD_NAME": replica,
                "POD_NAMESPACE": self.kube.operator_namespace,
                "AWS_ACCESS_KEY_ID": replica_access_key(replica),
            }
        if without_aws_credentials:
            for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
                env.pop(key, None)
            missing = str(workdir / "no-such-aws-file")
            env |= {
                "AWS_SHARED_CREDENTIALS_FILE": missing,
                "AWS_CONFIG_FILE": missing,
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        liveness = f"http://127.0.0.1:{_free_port()}/healthz"
        command = [sys.executable, "-m", "causeway", "run", "--liveness", liveness, *extra_args]
        with (workdir / "operator.log").open("wb") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        _wait_until_ready(process, liveness, ready_timeout, workdir / "operator.log")
        return process

    def apply_all(self, manifests: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [self.kube.apply(m) for m in manifests]

    def grant_quota(
        self,
        namespace: str,
        licenses: int,
        *,
        accounts: Iterable[str] = (),
        data_packs: int = 0,
        name: str | None = None,
    ) -> dict[str, Any]:
        """As the platform admin: give a tenant namespace its ConnectionQuota."""
        return self.kube.apply(
            {
                "apiVersion": API_VERSION,
                "kind": "ConnectionQuota",
                "metadata": {"name": name or namespace, "namespace": namespace},
                "spec": {
                    "licenses": licenses,
                    "dataPacks": data_packs,
                    "awsAccountIds": list(accounts),
                },
            }
        )


def replica_access_key(replica: str) -> str:
    """The AWS access key id a replica process signs with (the sandbox counts by it)."""
    return "AKIA" + "".join(c for c in replica.upper() if c.isalnum())[:16]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_ready(
    process: subprocess.Popen[bytes], liveness: str, timeout: float, log: Path
) -> None:
    """Block until the operator's readiness probe answers 200 (its index is synced)."""
    url = readiness_url(liveness)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"causeway run exited with {process.returncode}: see {log}")
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass  # not listening yet
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"causeway run was not ready within {timeout:g}s: see {log}")
