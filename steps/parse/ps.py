"""``ps auxf`` (and ``ps -eo pid,ppid,args``) as a process forest.

``ps auxf`` draws the forest inside the COMMAND column: each level is four columns,
``"    "`` or ``" |  "``, and the process itself is introduced by ``" \\_ "``. The first ten
columns are whitespace separated; COMMAND starts after exactly one blank.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

_AUXF = re.compile(
    r"^(?P<user>\S+)\s+(?P<pid>\d+)\s+(?P<cpu>[\d.]+)\s+(?P<mem>[\d.]+)\s+(?P<vsz>\d+)\s+"
    r"(?P<rss>\d+)\s+(?P<tty>\S+)\s+(?P<stat>\S+)\s+(?P<start>\S+)\s+(?P<time>\S+) (?P<cmd>.*)$"
)
_FOREST = re.compile(r"^(?P<levels>(?:    | \|  )*)(?P<branch> \\_ )?(?P<command>.*)$")
_EO = re.compile(r"^\s*(?P<pid>\d+)\s+(?P<ppid>\d+)\s?(?P<cmd>.*)$")


@dataclass(frozen=True)
class PsProcess:
    """One process and the processes ps printed below it."""

    pid: int
    command: str
    user: str | None = None
    ppid: int | None = None
    stat: str | None = None
    children: tuple[PsProcess, ...] = ()

    @property
    def argv(self) -> tuple[str, ...]:
        # ps joins argv with blanks; no argument the spec inspects contains one.
        return tuple(self.command.split())

    @property
    def program(self) -> str:
        """Basename of argv[0] (``systemd-nspawn`` for ``/usr/bin/systemd-nspawn``)."""
        return posixpath.basename(self.argv[0]) if self.argv else ""

    def walk(self) -> Iterator[PsProcess]:
        yield self
        for c in self.children:
            yield from c.walk()

    def descendants(self) -> tuple[PsProcess, ...]:
        return tuple(p for p in self.walk() if p is not self)


@dataclass(frozen=True)
class PsForest:
    roots: tuple[PsProcess, ...]

    def walk(self) -> Iterator[PsProcess]:
        for r in self.roots:
            yield from r.walk()

    def by_pid(self, pid: int) -> PsProcess | None:
        return next((p for p in self.walk() if p.pid == pid), None)

    def where(self, pred: Callable[[PsProcess], bool]) -> tuple[PsProcess, ...]:
        return tuple(p for p in self.walk() if pred(p))

    def parent_of(self, pid: int) -> PsProcess | None:
        return next((p for p in self.walk() if any(c.pid == pid for c in p.children)), None)


@dataclass
class _Draft:
    pid: int
    command: str
    user: str | None
    ppid: int | None
    stat: str | None
    children: list[_Draft] = field(default_factory=list)

    def freeze(self) -> PsProcess:
        return PsProcess(
            self.pid,
            self.command,
            self.user,
            self.ppid,
            self.stat,
            tuple(c.freeze() for c in self.children),
        )


def parse_ps_auxf(text: str) -> PsForest:
    """Parse ``ps auxf``; the header line is optional. Raises ValueError on other lines."""
    roots: list[_Draft] = []
    stack: list[_Draft] = []  # stack[d] = the last process printed at depth d
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("USER "):
            continue
        m = _AUXF.match(line)
        if m is None:
            raise ValueError(f"not a ps auxf line: {line!r}")
        f = _FOREST.match(m["cmd"])
        assert f is not None  # the pattern matches any string
        depth = len(f["levels"]) // 4 + (1 if f["branch"] else 0)
        if depth > len(stack):
            raise ValueError(f"ps auxf line deeper than its parent: {line!r}")
        parent = stack[depth - 1] if depth else None
        proc = _Draft(
            int(m["pid"]),
            f["command"],
            m["user"],
            parent.pid if parent else None,
            m["stat"],
        )
        (parent.children if parent else roots).append(proc)
        del stack[depth:]
        stack.append(proc)
    return PsForest(tuple(r.freeze() for r in roots))


def parse_ps_eo(text: str) -> PsForest:
    """Parse ``ps -eo pid,ppid,args`` into the same forest, linked by PPID."""
    drafts: dict[int, _Draft] = {}
    order: list[_Draft] = []
    for line in text.splitlines():
        if not line.strip() or line.split()[0] == "PID":
            continue
        m = _EO.match(line)
        if m is None:
            raise ValueError(f"not a 'ps -eo pid,ppid,args' line: {line!r}")
        d = _Draft(int(m["pid"]), m["cmd"].strip(), None, int(m["ppid"]), None)
        drafts[d.pid] = d
        order.append(d)
    roots: list[_Draft] = []
    for d in order:
        parent = drafts.get(d.ppid) if d.ppid is not None else None
        (parent.children if parent is not None and parent is not d else roots).append(d)
    return PsForest(tuple(r.freeze() for r in roots))


def is_nspawn(proc: PsProcess) -> bool:
    """systemd-nspawn, run directly (host flavor) or through stage1's ld.so (the document)."""
    return is_nspawn_argv(proc.argv)


def is_nspawn_argv(argv: tuple[str, ...]) -> bool:
    """:func:`is_nspawn` for an argv (from /proc/PID/cmdline, say)."""
    if not argv:
        return False
    if posixpath.basename(argv[0]) == "systemd-nspawn":
        return True
    return (
        posixpath.basename(argv[0]).startswith("ld-linux")
        and len(argv) > 1
        and posixpath.basename(argv[1]) == "systemd-nspawn"
    )


_INTERPRETERS = re.compile(r"^(python[\d.]*|sh|bash|dash|busybox|env)$")


def is_rkt(proc: PsProcess) -> bool:
    """A process that is rkt itself: argv[0] is rkt, or an interpreter runs a file named rkt.

    An implementation written in a script language shows as ``python3 /usr/bin/rkt run …``;
    that still is rkt lingering instead of having exec'd nspawn. ``sh -c "…; rkt run …"`` is
    a shell (argv[1] is ``-c``), not rkt.
    """
    return is_rkt_argv(proc.argv)


def is_rkt_argv(argv: tuple[str, ...]) -> bool:
    """:func:`is_rkt` for an argv."""
    if not argv:
        return False
    if posixpath.basename(argv[0]) == "rkt":
        return True
    if _INTERPRETERS.match(posixpath.basename(argv[0])):
        if "-m" in argv[1:-1]:  # python3 -m rkt_ref …
            return argv[argv.index("-m") + 1].startswith("rkt")
        script = next((a for a in argv[1:] if not a.startswith("-")), None)
        return script is not None and posixpath.basename(script) == "rkt"
    return False
