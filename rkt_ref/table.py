"""Output helpers: Go-tabwriter-like tables, humanized times and sizes, JSON."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

TYPE_CHECKING = False  # typing is not imported at run time (see record.py)
if TYPE_CHECKING:
    from typing import Any

TABWIDTH = 8


def tabwrite(rows: Sequence[Sequence[str]], padding: int = 1) -> str:
    """Align cells with tabs as Go's tabwriter does with padchar '\\t' (as rkt prints).

    Each column is as wide as its widest cell plus padding, rounded up to a tab stop;
    a cell is followed by as many tabs as it takes to reach its column's end. The last
    cell of a row is not padded.
    """
    if not rows:
        return ""
    ncols = max(len(r) for r in rows)
    widths = [0] * ncols
    for r in rows:
        for i, cell in enumerate(r[:-1]):
            widths[i] = max(widths[i], len(cell))
    stops = [-(-(w + padding) // TABWIDTH) * TABWIDTH for w in widths]
    lines = []
    for r in rows:
        parts = []
        for i, cell in enumerate(r):
            if i == len(r) - 1:
                parts.append(cell)
            else:
                parts.append(cell + "\t" * max(1, -(-(stops[i] - len(cell)) // TABWIDTH)))
        lines.append("".join(parts))
    return "\n".join(lines) + "\n"


def ago(ns: int, now: float | None = None) -> str:
    """'31 seconds ago', '1 minute ago', ... like rkt's listings."""
    if ns <= 0:
        return ""
    now = time.time() if now is None else now
    secs = max(0.0, now - ns / 1e9)
    for unit, size in (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400),
                       ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if secs >= size:
            n = int(secs // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "now"


def timestamp(ns: int) -> str:
    """'2026-11-28 22:16:18.116 +0000 UTC' (milliseconds, trailing zeros trimmed)."""
    if ns <= 0:
        return ""
    from datetime import UTC, datetime

    dt = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    ms = (ns // 1_000_000) % 1000
    frac = f".{ms:03d}".rstrip("0").rstrip(".")
    return dt.strftime("%Y-%m-%d %H:%M:%S") + frac + " +0000 UTC"


def size(n: int) -> str:
    """'45MiB', '3.8MiB', '512B'."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            if unit == "B":
                return f"{int(value)}B"
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
        value /= 1024
    return f"{n}B"


def dump_json(data: Any, pretty: bool) -> str:
    if pretty:
        return json.dumps(data, indent="\t")
    return json.dumps(data, separators=(",", ":"))
