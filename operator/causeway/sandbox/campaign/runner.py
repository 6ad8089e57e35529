"""One fault campaign: the real operator, as its own process, against the sandbox with
a seeded FaultPlan, a seeded workload, SIGKILLs at random moments (and restarts), and
the invariants checked after every quiet period (faults off, the operator given time
to converge). A seed fixes the workload, the kill schedule and the fault decisions.

A violation raises InvariantViolationError naming the seed, the step and the last steps done;
`Report` holds the figures (kills, faults by kind, checks passed, time to converge)."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from causeway.sandbox import faults
from causeway.sandbox.campaign.enforcement import blocked_means_closed, sample
from causeway.sandbox.campaign.invariants import CHECKS, Memory, snapshot
from causeway.sandbox.campaign.replicas import STOP_WITHIN, OperatorProcess, Replicas
from causeway.sandbox.campaign.workload import QUOTAS, TENANTS, Workload
from causeway.sandbox.campaign.world import World
from causeway.sandbox.faults import FaultPlan
from causeway.sandbox.stack import SandboxStack

METERING_SECONDS = 10.0
# The AWS calls that change something: where a lost answer or a retry can do harm.
MUTATIONS = (
    "CreateVpcEndpoint",
    "DeleteVpcEndpoints",
    "AcceptVpcEndpointConnections",
    "RejectVpcEndpointConnections",
    "ModifyVpcEndpoint",
    "CreateTags",
    "DeleteTags",
    "CreateSecurityGroup",
    "AuthorizeSecurityGroupIngress",
    "RevokeSecurityGroupIngress",
    "DeleteSecurityGroup",
)  # the config's floor: the operator runs as `causeway run` would


# Lost answers weigh more than in the plan's defaults: they are what retries get wrong.
CAMPAIGN_AWS_WEIGHTS = {
    "aws.throttle": 3.0,
    "aws.5xx": 2.0,
    "aws.5xx-applied": 3.0,
    "aws.5xx-bare": 1.0,
    "aws.reset": 1.0,
    "aws.reset-applied": 3.0,
    "aws.timeout-applied": 0.1,
}


@dataclass(frozen=True)
class Settings:
    """How long and how rough one campaign is."""

    seed: int
    steps: int = 40
    quiet_every: int = 10  # steps between quiet periods (and one after the last step)
    kill_rate: float = 0.35  # chance that a step is followed by a SIGKILL
    kill_within: float = 1.5  # seconds after the step the kill falls within
    pause: float = 0.3  # at most this long between steps without a kill
    aws_rate: float = 0.25
    kube_write_rate: float = 0.2
    kube_read_rate: float = 0.08
    watch_rate: float = 0.3
    event_rate: float = 0.06
    mutation_rate: float = 0.5  # AWS calls that change something fail more often
    lag_rate: float = 1.0  # of new endpoints, missing from describes for a few seconds
    lag_seconds: float = 15.0
    hang_seconds: float = faults.DEFAULT_HANG_SECONDS
    converge_timeout: float = 150.0

    rough: bool = False  # the long benchmark's profile (see `roughly`)
    # Two replicas electing a leader: kills land on the leader, as SIGKILL or SIGTERM,
    # and it comes back as the same pod (a container restart) or as a new one.
    standby: bool = False

    def roughly(self) -> Settings:
        """The long benchmark's profile: shorter pauses, faults on a larger share of
        every kind of request."""
        return replace(
            self,
            rough=True,
            pause=0.1,
            aws_rate=0.5,
            mutation_rate=0.6,
            kube_write_rate=0.4,
            kube_read_rate=0.3,
            watch_rate=0.5,
            event_rate=0.15,
        )

    def replay_command(self) -> str:
        return (
            f"python -m causeway.sandbox.campaign --seed {self.seed} --steps {self.steps} "
            f"--quiet-every {self.quiet_every} --kill-rate {self.kill_rate:g}"
            + (" --rough" if self.rough else "")
            + (" --standby" if self.standby else "")
        )

    def plan(self) -> FaultPlan:
        return FaultPlan(
            seed=self.seed,
            aws_rate=self.aws_rate,
            kube_write_rate=self.kube_write_rate,
            kube_read_rate=self.kube_read_rate,
            watch_rate=self.watch_rate,
            event_rate=self.event_rate,
            hang_seconds=self.hang_seconds,
            lag_rate=self.lag_rate,
            lag_seconds=self.lag_seconds,
            aws_weights=CAMPAIGN_AWS_WEIGHTS,
            aws_action_rates=dict.fromkeys(MUTATIONS, self.mutation_rate),
        )


@dataclass
class Report:
    seed: int
    steps: int = 0
    kills: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    quiet_periods: int = 0
    checks_passed: int = 0
    samples: int = 0  # reads at every step of what must hold at every moment
    blocks: int = 0  # tenants pushed past their hourly limit
    moves: int = 0  # endpoints put back on shared groups for the operator to move
    terminations: int = 0  # graceful stops (SIGTERM) of the leader, with a standby
    stop_seconds: list[float] = field(default_factory=list)  # SIGTERM to exit
    converge_seconds: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def faults_total(self) -> int:
        return sum(self.faults.values())

    def summary(self) -> str:
        times = self.converge_seconds or [0.0]
        return (
            f"seed {self.seed}: {self.steps} steps, {self.kills} kills"
            + (f" and {self.terminations} SIGTERMs" if self.terminations else "")
            + " survived, "
            f"{self.faults_total} faults injected, {self.checks_passed} invariant checks "
            f"passed in {self.quiet_periods} quiet periods, {self.samples} samples of the "
            f"block taken between steps ({self.blocks} blocks, {self.moves} endpoints to "
            f"move onto tenant groups); converged in "
            f"{statistics.median(times):.1f} s median, {max(times):.1f} s max; "
            f"{self.seconds:.0f} s in all; faults: {self.faults}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "faults_total": self.faults_total}


class InvariantViolationError(AssertionError):
    """An invariant did not hold after a quiet period (or the operator died by itself)."""


class Campaign:
    def __init__(self, settings: Settings, workdir: Path, say: Callable[[str], None]) -> None:
        self.settings = settings
        self.workdir = workdir
        self.say = say
        self.verbose = False  # say every step too
        self.report = Report(seed=settings.seed)
        self._history: list[str] = []

    def run(self) -> Report:
        settings = self.settings
        self.say(f"campaign seed {settings.seed} ({settings.steps} steps)")
        started = time.monotonic()
        plan = settings.plan()
        plan.active = False  # set-up is not under test
        faults.install(plan)
        try:
            with SandboxStack(
                poll_interval="1s",
                namespaces=TENANTS,
                metering_seconds=METERING_SECONDS,
                transit_vpcs=1,  # the pool form, whose open groups a step changes
            ) as stack:
                replicas = Replicas(stack, self.workdir, standby=settings.standby)
                try:
                    self._run(stack, replicas, plan)
                finally:
                    replicas.stop()
        finally:
            faults.install(None)
            self.report.faults = plan.tally()
            self.report.seconds = time.monotonic() - started
        self.say(self.report.summary())
        return self.report

    def _run(self, stack: SandboxStack, replicas: Replicas, plan: FaultPlan) -> None:
        settings = self.settings
        workload_rng = random.Random(f"{settings.seed}:workload")
        kills = random.Random(f"{settings.seed}:kills")
        world = World()
        workload = Workload(stack, world)
        workload.set_up(workload_rng)
        replicas.start()
        memory = Memory()
        for step in range(1, settings.steps + 1):
            plan.active = True
            line = f"step {step}: {workload.step(workload_rng)}"
            self._history.append(line)
            if self.verbose:
                self.say(line)
            self._sample(stack, step)
            if workload.restart_wanted:  # the config changed: SIGKILL, so nothing drains
                workload.restart_wanted = False
                for process in replicas.processes:
                    self._disrupt(replicas, process, step, "restart with the new config", kills)
            elif workload.kill_wanted or kills.random() < settings.kill_rate:
                workload.kill_wanted = False  # its work (a block, a move) is under way
                time.sleep(kills.uniform(0, settings.kill_within))
                self._sample(stack, step)
                self._disrupt(replicas, replicas.acting(), step, "restart", kills)
            else:
                time.sleep(kills.uniform(0, settings.pause))
                self._sample(stack, step)
            self.report.steps = step
            self.report.blocks = sum(world.blocks.values())
            self.report.moves = workload.moves
            if step % settings.quiet_every == 0 or step == settings.steps:
                memory = self._quiet(stack, replicas, plan, (world, memory), step)

    def _disrupt(
        self,
        replicas: Replicas,
        process: OperatorProcess,
        step: int,
        what: str,
        rng: random.Random,
    ) -> None:
        """SIGKILL the process and start it again; with a standby, half the time a
        SIGTERM instead (a rolling update, a drain), and half the time it comes back as a
        new pod. A graceful stop must end within STOP_WITHIN and exit 0."""
        self._check_alive(replicas, step)
        name = process.replica or "the operator"
        if process.replica is not None and rng.random() < 0.5:
            seconds, code = process.terminate()
            self.report.terminations += 1
            self.report.stop_seconds.append(round(seconds, 2))
            self._history.append(f"step {step}: SIGTERM {name} ({seconds:.1f} s), {what}")
            if code != 0 or seconds > STOP_WITHIN:
                raise self._failure(
                    step,
                    [f"{name} stopped {seconds:.1f} s after SIGTERM with exit code {code}"],
                    during=True,
                )
        else:
            process.kill()
            self.report.kills += 1
            self._history.append(f"step {step}: SIGKILL {name}, {what}")
        if process.replica is not None and rng.random() < 0.5:
            process.renamed()
        process.start()

    def _sample(self, stack: SandboxStack, step: int) -> None:
        """The invariants that hold at every moment, faults or not: a tenant the quota
        says is blocked lets no traffic in; no tenant's group on another's endpoint."""
        problems = blocked_means_closed(sample(stack, QUOTAS))
        self.report.samples += 1
        if problems:
            raise self._failure(step, problems, during=True)

    def _check_alive(self, replicas: Replicas, step: int) -> None:
        problems = replicas.exited()
        if problems:
            raise self._failure(step, problems)

    def _quiet(
        self,
        stack: SandboxStack,
        replicas: Replicas,
        plan: FaultPlan,
        record: tuple[World, Memory],
        step: int,
    ) -> Memory:
        """Faults off; poll every invariant until all hold (then return what this period
        saw) or the time is up (then fail with what still does not hold)."""
        world, memory = record
        plan.active = False
        began = time.monotonic()
        deadline = began + self.settings.converge_timeout
        while True:
            self._check_alive(replicas, step)
            after = Memory()
            snap = snapshot(stack, replicas.logs)
            problems = [
                f"{check.__name__}: {problem}"
                for check in CHECKS
                for problem in check(snap, world, memory, after)
            ] + [f"leadership: {p}" for p in replicas.lease_problems()]
            if not problems:
                break
            if time.monotonic() > deadline:
                raise self._failure(step, problems)
            time.sleep(0.5)
        elapsed = time.monotonic() - began
        self.report.converge_seconds.append(round(elapsed, 2))
        self.report.quiet_periods += 1
        self.report.checks_passed += len(CHECKS)
        self.say(
            f"seed {self.settings.seed} step {step}: all {len(CHECKS)} invariants hold "
            f"after {elapsed:.1f} s ({plan.total()} faults, {self.report.kills} kills so far)"
        )
        return after

    def _failure(
        self, step: int, problems: list[str], *, during: bool = False
    ) -> InvariantViolationError:
        settings = self.settings
        recent = "\n  ".join(self._history[-12:])
        found = "\n  ".join(problems[:20])
        when = (
            "while faults are on"
            if during
            else f"after {settings.converge_timeout:g} s without faults"
        )
        return InvariantViolationError(
            f"seed {settings.seed}, step {step}: invariants do not hold {when}:\n  {found}\n"
            f"last steps:\n  {recent}\n"
            f"replay: {settings.replay_command()}; "
            f"operator logs in {self.workdir}"
        )
