"""Where the region's tenant endpoint services run, as AWS last told the platform: a
cache of DescribeVpcEndpointServices answers by service name, each kept for a while
(a service gains or loses zones rarely; a sync asks again at once). The region pass
refreshes what its connections need before deciding, in batched calls paced by the
AWS budget; a failed refresh leaves the names unknown (creates then use every subnet
of their transit VPC, as before zones were known) and says so once per failure kind."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from causeway.aws.services import NOT_SHOWN, EndpointServices, batches, home_region
from causeway.controllers.budget import Budget
from causeway.domain import ServiceZones
from causeway.errors import AwsCallError

logger = logging.getLogger("causeway.services")
KEEP_SECONDS = 300.0  # how long an answer stands before it is asked again


@dataclass(frozen=True, slots=True)
class _Answer:
    zones: ServiceZones | None  # None: AWS does not show the platform that service
    at: float


@dataclass
class ServiceCatalog:
    """The answers of one region, by service name."""

    region: str
    monotonic: Callable[[], float]
    _answers: dict[str, _Answer] = field(default_factory=dict)
    _failing: str | None = None

    def known(self, name: str) -> bool:
        return name in self._answers

    def zones(self, name: str) -> ServiceZones | None:
        """The service's zones (None: not known, or AWS does not show it)."""
        answer = self._answers.get(name)
        return answer.zones if answer is not None else None

    def due(self, names: Iterable[str], *, forced: Iterable[str] = ()) -> list[str]:
        """The names never asked about, asked too long ago, or to ask again now."""
        now, again = self.monotonic(), set(forced)
        return sorted(
            {
                n
                for n in names
                if n in again or n not in self._answers or now - self._answers[n].at > KEEP_SECONDS
            }
        )

    def learned(self, found: dict[str, ServiceZones | None]) -> None:
        now = self.monotonic()
        for name, zones in found.items():
            self._answers[name] = _Answer(zones, now)

    async def refresh(self, names: list[str], services: EndpointServices, budget: Budget) -> None:
        """Ask AWS about `names`, a batch per call (per Region of the services: those of
        another Region are asked about with ServiceRegions), each within the budget."""
        by_home: dict[str, list[str]] = {}
        for name in names:
            home = home_region(name)
            by_home.setdefault("" if home == self.region else home, []).append(name)
        for home, named in sorted(by_home.items()):
            for batch in batches(named):
                try:
                    self.learned(await self._ask(batch, home, services, budget))
                except AwsCallError as exc:
                    self._failed(exc)
                    return
        self._failing = None

    async def _ask(
        self, batch: list[str], home: str, services: EndpointServices, budget: Budget
    ) -> dict[str, ServiceZones | None]:
        api = "DescribeVpcEndpointServices"
        try:
            call = partial(asyncio.to_thread, services.zones, batch, home)
            return await budget.call(self.region, api, call)
        except AwsCallError as exc:
            if exc.code != NOT_SHOWN:
                raise
        found: dict[str, ServiceZones | None] = {}
        for name in batch:  # one of them is not shown: which one, AWS does not say
            one = partial(asyncio.to_thread, services.zones, [name], home)
            found.update(await budget.call(self.region, api, one))
        return found

    def _failed(self, error: AwsCallError) -> None:
        if self._failing != error.code:
            logger.warning(
                "Could not learn where endpoint services run in %s (%s: %s); new endpoints "
                "use every subnet of their transit VPC until AWS answers",
                self.region,
                error.code,
                error.message,
            )
        self._failing = error.code
