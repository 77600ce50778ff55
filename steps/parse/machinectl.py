"""``machinectl list`` as rows.

The document (systemd ~219) prints ``MACHINE CLASS SERVICE`` and ``N machines listed.``;
systemd 252 adds ``OS VERSION ADDRESSES`` and prints ``No machines.`` when empty. Both
footers of an empty list mean the same: no rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FOOTER = re.compile(r"^(?P<n>\d+) machines? listed\.$")
_EMPTY = "No machines."
_COLUMNS = ("MACHINE", "CLASS", "SERVICE", "OS", "VERSION", "ADDRESSES")


@dataclass(frozen=True)
class MachineRow:
    machine: str
    machine_class: str
    service: str
    os: str | None = None
    version: str | None = None
    addresses: str | None = None


@dataclass(frozen=True)
class MachineList:
    rows: tuple[MachineRow, ...]
    footer: str  # as printed, so a scenario can name which form it saw

    def names(self) -> tuple[str, ...]:
        return tuple(r.machine for r in self.rows)

    def get(self, name: str) -> MachineRow | None:
        return next((r for r in self.rows if r.machine == name), None)


def parse_machinectl_list(text: str) -> MachineList:
    """Parse ``machinectl list`` (with or without legend). Raises ValueError on a bad count."""
    rows: list[MachineRow] = []
    footer = ""
    for line in (ln.strip() for ln in text.splitlines()):
        if not line:
            continue
        if line == _EMPTY:
            footer = line
            continue
        m = _FOOTER.match(line)
        if m:
            footer = line
            if int(m["n"]) != len(rows):
                raise ValueError(f"footer says {m['n']} machines, table has {len(rows)}")
            continue
        cells = line.split()
        if tuple(cells) == _COLUMNS[: len(cells)]:
            continue  # header; an empty table in the document prints it alone
        if len(cells) < 3:
            raise ValueError(f"not a machinectl list row: {line!r}")
        extra: list[str | None] = [*cells[3:6], None, None, None]
        # ADDRESSES may hold several words only when machinectl wraps; keep the first.
        rows.append(MachineRow(cells[0], cells[1], cells[2], extra[0], extra[1], extra[2]))
    return MachineList(tuple(rows), footer)
