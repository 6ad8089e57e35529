"""The fault campaign: a seeded random workload over every kind for several tenants,
run against the real operator process while the sandbox injects AWS and Kubernetes
faults and the operator is SIGKILLed and restarted, with invariants checked after
every quiet period. Used by tests/campaign (short, fixed seeds) and bench/campaign.py
(long); `python -m causeway.sandbox.campaign --seed N` replays one seed."""

from causeway.sandbox.campaign.runner import Campaign, InvariantViolationError, Report, Settings

__all__ = ["Campaign", "InvariantViolationError", "Report", "Settings"]
