"""The AWS region names this operator accepts, read from the partition data botocore
ships (no network call), and the nearest known name for a mistyped one; the partition
a region belongs to, and the pattern of every partition's region names (the chart's
values schema carries it: tools/sync_region_pattern.py writes it there)."""

from __future__ import annotations

import difflib
from functools import cache

import botocore.loaders
import botocore.session

# Causeway only calls EC2 (VPC endpoints), so a region EC2 is not offered in is of no use.
_SERVICE = "ec2"


@cache
def known_regions() -> frozenset[str]:
    """Every region of every partition (aws, aws-cn, aws-us-gov, ...) botocore knows."""
    session = botocore.session.get_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions(_SERVICE, partition_name=partition)
    )


@cache
def partition_of(region: str) -> str:
    """The partition (aws, aws-cn, aws-us-gov, aws-iso*, aws-eusc, ...) of `region`, as
    botocore's endpoint data places it (a name no partition claims falls in aws)."""
    return str(botocore.session.get_session().get_partition_for_region(region))


@cache
def region_name_pattern() -> str:
    """One regular expression matching the region names of every partition: each
    partition's own `regionRegex` from botocore's endpoint data, as alternatives."""
    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    alternatives = [_unanchored(p["regionRegex"]) for p in endpoints["partitions"]]
    return f"^(?:{'|'.join(alternatives)})$"


def _unanchored(regex: str) -> str:
    return f"(?:{regex.removeprefix('^').removesuffix('$')})"


def nearest_region(name: str) -> str | None:
    """The known region `name` most likely meant, or None when no region is close.

    Ranked by edit distance ('us-fake-9' -> 'us-east-1'); ties go to the name sharing
    more of its characters in order, then to the alphabetically first.
    """
    wanted = name.strip().lower()
    if not wanted:
        return None
    # Beyond about a third of the name changed, a suggestion is a guess, not a typo fix.
    allowed_edits = len(wanted) // 3 + 1
    distance, _, best = min(
        (_edit_distance(wanted, region), -_similarity(wanted, region), region)
        for region in known_regions()
    )
    return best if distance <= allowed_edits else None


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: the fewest single-character edits turning `a` into `b`."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            substitution = previous[j - 1] + (char_a != char_b)
            current.append(min(previous[j] + 1, current[j - 1] + 1, substitution))
        previous = current
    return previous[-1]
