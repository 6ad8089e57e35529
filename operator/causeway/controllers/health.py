"""Whether the platform can talk to AWS, per region, logged once per change: when the
operator's credentials, IAM role or network fail, every object of the region fails
the same way, and one line saying so (and one when it recovers) beats a line per
object per retry."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from causeway.errors import AwsCallError, ErrorRule

logger = logging.getLogger("causeway.aws")


@dataclass
class PlatformHealth:
    """The last platform-side AWS problem seen per region (None: healthy)."""

    _problems: dict[str, str] = field(default_factory=dict)

    def failed(self, region: str, rule: ErrorRule, error: AwsCallError) -> None:
        """Log a WARNING the first time this kind of problem appears in the region."""
        if self._problems.get(region) == rule.reason:
            logger.debug("AWS in %s still failing: %s (%s)", region, rule.reason, error)
            return
        self._problems[region] = rule.reason
        logger.warning(
            "AWS in %s: %s (%s); connections there keep their last observed state and say "
            "Synced=False until this is fixed",
            region,
            rule.reason,
            error,
        )

    def succeeded(self, region: str) -> None:
        """Log once when a region that was failing answers again."""
        problem = self._problems.pop(region, None)
        if problem is not None:
            logger.info("AWS in %s answers again (after %s)", region, problem)

    def problem(self, region: str) -> str | None:
        return self._problems.get(region)
