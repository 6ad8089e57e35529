"""Plain-text layout for the CLI's reports: aligned columns, and ages the way
`kubectl get` shows them. Pure: strings in, strings out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

GAP = "  "
EMPTY = "-"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The header and rows as left-aligned columns, each as wide as its widest cell,
    separated by two spaces, without trailing blanks; an empty cell shows as '-'."""
    width = len(headers)
    for row in rows:
        if len(row) != width:
            raise ValueError(f"row {list(row)!r} has {len(row)} cells, the header {width}")
    lines = [list(headers), *([cell or EMPTY for cell in row] for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(width)]
    return "".join(
        GAP.join(cell.ljust(size) for cell, size in zip(line, widths, strict=True)).rstrip() + "\n"
        for line in lines
    )


def age(created: datetime | None, now: datetime) -> str:
    """How long ago, as kubectl prints an AGE: 42s, 5m10s, 17m, 4h30m, 12h, 3d4h, 45d, 2y."""
    if created is None:
        return EMPTY
    seconds = max(0, int((now - created) / timedelta(seconds=1)))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return _pair(minutes, "m", seconds % 60, "s")
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return _pair(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return _pair(days, "d", hours % 24, "h")
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def _pair(major: int, major_unit: str, minor: int, minor_unit: str) -> str:
    return f"{major}{major_unit}" if minor == 0 else f"{major}{major_unit}{minor}{minor_unit}"
