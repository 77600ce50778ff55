"""rkt's own tables: ``rkt list``, ``rkt image list``, ``rkt status``.

rkt pads columns with tabs (Go's tabwriter); cells themselves hold single blanks
("exited garbage", "4 minutes ago"). Cells are therefore split at tab runs or at two and
more blanks, and mapped to columns by the header line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEP = re.compile(r"\t+|\s{2,}")


def _table(text: str, first_header: str) -> list[dict[str, str]]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return []
    header = _SEP.split(lines[0].strip())
    if header[0] != first_header:
        raise ValueError(f"expected a header starting with {first_header}: {lines[0]!r}")
    rows = []
    for line in lines[1:]:
        cells = _SEP.split(line.strip())
        if len(cells) > len(header):
            raise ValueError(f"row has more cells than the header: {line!r}")
        rows.append(dict(zip(header, cells, strict=False)))
    return rows


@dataclass(frozen=True)
class PodRow:
    uuid: str  # 8 characters, or the full UUID with --full
    app: str
    image_name: str
    state: str
    networks: str | None = None

    def matches(self, uuid: str) -> bool:
        return uuid.startswith(self.uuid) or self.uuid.startswith(uuid)


def parse_rkt_list(text: str) -> tuple[PodRow, ...]:
    """Parse ``rkt list`` / ``rkt list --full`` with its legend."""
    return tuple(
        PodRow(r["UUID"], r.get("APP", ""), r.get("IMAGE NAME", ""), r.get("STATE", ""),
               r.get("NETWORKS"))
        for r in _table(text, "UUID")
    )


@dataclass(frozen=True)
class ImageRow:
    image_id: str
    name: str


def parse_rkt_image_list(text: str) -> tuple[ImageRow, ...]:
    """Parse ``rkt image list`` with its legend."""
    return tuple(ImageRow(r["ID"], r.get("NAME", "")) for r in _table(text, "ID"))


def parse_rkt_status(text: str) -> dict[str, str]:
    """``rkt status UUID``: ``key=value`` lines (``state=``, ``pid=``, ``app-<name>=``)."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
