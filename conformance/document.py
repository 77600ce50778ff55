"""The source document, split into the sections the features follow.

The document is kept as rendered text (headings are plain lines, shell excerpts and unit
files are not fenced), so sections are found by their heading lines, and each section's
text is cut into blocks: prose, list items, or verbatim excerpts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

SOURCE = Path(__file__).with_name("using-rkt-with-systemd.md")
TITLE = "Using rkt with systemd"


@dataclass(frozen=True)
class SectionSpec:
    """Where a section starts and which feature tags belong to it."""

    title: str
    starts: str  # the heading line, or the first words of the paragraph it starts with
    level: int
    tags: tuple[str, ...] = ()
    heading: bool = True  # False: a part of the section above, without a heading of its own


# In document order. A feature belongs to the section whose tags include its feature tag.
SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec(TITLE, f"# {TITLE}", 1),
    SectionSpec("systemd-run", "systemd-run", 2, ("systemd-run",)),
    SectionSpec("systemd-run: machinectl and journalctl -M",
                "Since every pod is registered with machined", 2, ("machinectl",), heading=False),
    SectionSpec("Managing pods as systemd services", "Managing pods as systemd services", 2),
    SectionSpec("Simple Unit File", "Simple Unit File", 3, ("simple-unit",)),
    SectionSpec("Advanced Unit File", "Advanced Unit File", 3, ("advanced-unit",)),
    SectionSpec("Advanced Unit File: rkt as the main process",
                "rkt must be the main process of the service", 3, ("main-process",),
                heading=False),
    SectionSpec("Socket-activated service", "Socket-activated service", 3,
                ("socket-activation",)),
    SectionSpec("Bidirectionally proxy local sockets to another (possibly remote) socket.",
                "Bidirectionally proxy local sockets to another (possibly remote) socket.", 3,
                ("socket-proxyd",)),
    SectionSpec("Other tools for managing pods", "Other tools for managing pods", 2),
    SectionSpec("ps auxf", "ps auxf", 3, ("ps",)),
    SectionSpec("systemd-cgls", "systemd-cgls", 3, ("cgls",)),
    SectionSpec("systemd-cgls --all", "systemd-cgls --all", 3, ("cgls-all",)),
)


class BlockKind(StrEnum):
    PROSE = "prose"
    LIST = "list"
    VERBATIM = "verbatim"


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class Section:
    spec: SectionSpec
    blocks: tuple[Block, ...]

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.spec.title.lower()).strip("-")


# A block is a verbatim excerpt when it starts like a shell prompt, a unit file, JSON,
# command output or a unit-file assignment; the document's prose never does.
_VERBATIM = re.compile(
    r"^(#|\$ |\[|\{|\.\.\.|[●├│└]|USER |MACHINE |\d+ machines|[A-Za-z]+=|"
    r"[A-Z][a-z]{2} \d\d \d\d:)")
_LIST_ITEM = re.compile(r"^\s+\d+\.\s")


def _blocks(lines: list[str]) -> tuple[Block, ...]:
    out: list[Block] = []
    chunk: list[str] = []

    def flush() -> None:
        if not chunk:
            return
        if _VERBATIM.match(chunk[0]):
            kind = BlockKind.VERBATIM
        elif _LIST_ITEM.match(chunk[0]):
            kind = BlockKind.LIST
        else:
            kind = BlockKind.PROSE
        # A verbatim excerpt runs on across blank lines (unit files have them) as long
        # as the next chunk is verbatim too.
        if out and kind is BlockKind.VERBATIM and out[-1].kind is BlockKind.VERBATIM:
            out[-1] = Block(kind, (*out[-1].lines, "", *chunk))
        else:
            out.append(Block(kind, tuple(chunk)))
        chunk.clear()

    for line in lines:
        if chunk and _VERBATIM.match(line) and not _VERBATIM.match(chunk[0]):
            flush()  # an excerpt right below a list, without a blank line
        if line.strip():
            chunk.append(line.rstrip())
        else:
            flush()
    flush()
    return tuple(out)


def _strip_comments(text: str) -> str:
    return re.sub(r"<!--.*?-->\s*", "", text, flags=re.DOTALL)


def _starts(line: str, spec: SectionSpec) -> bool:
    if spec.heading:
        return line.strip() == spec.starts
    return line.startswith(spec.starts)


def sections(text: str | None = None) -> tuple[Section, ...]:
    """The document cut at each section's start, in order; headings are not in the blocks."""
    lines = _strip_comments(SOURCE.read_text() if text is None else text).splitlines()
    starts: list[tuple[int, SectionSpec]] = []
    position = 0
    for spec in SECTIONS:
        for index in range(position, len(lines)):
            if _starts(lines[index], spec):
                starts.append((index, spec))
                position = index + 1
                break
    out: list[Section] = []
    for n, (index, spec) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        body = lines[index + 1 if spec.heading else index:end]
        out.append(Section(spec, _blocks(body)))
    return tuple(out)


def section_for(tags: frozenset[str] | set[str]) -> SectionSpec | None:
    """The section a scenario belongs to, by its tags; None for harness-only scenarios."""
    for spec in SECTIONS:
        if set(spec.tags) & set(tags):
            return spec
    return None
