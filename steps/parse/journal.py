"""journalctl's default (short) output as entries, and the myapp stand-in's env block."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_ENTRY = re.compile(
    r"^(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?) (?P<host>\S+) "
    r"(?P<ident>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$"
)
# A line the pod's console forwarded into the unit's journal: "[  695.11] myapp-1-3-4[7]: x".
_CONSOLE = re.compile(r"^\[\s*\d+\.\d+\] (?P<ident>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$")
_ENV = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$")


@dataclass(frozen=True)
class JournalEntry:
    timestamp: str
    host: str
    identifier: str
    pid: int | None
    message: str

    def console_inner(self) -> JournalEntry | None:
        """The in-pod entry carried by a console-forwarded line, if this is one."""
        m = _CONSOLE.match(self.message)
        if m is None:
            return None
        pid = int(m["pid"]) if m["pid"] else None
        return JournalEntry(self.timestamp, self.host, m["ident"], pid, m["msg"])


def parse_journal(text: str) -> tuple[JournalEntry, ...]:
    """Parse ``journalctl`` short / short-precise output.

    ``-- …`` marker lines are skipped; an indented line continues the previous message.
    """
    entries: list[JournalEntry] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("-- "):
            continue
        m = _ENTRY.match(line)
        if m is None:
            if entries and line[:1].isspace():
                last = entries.pop()
                entries.append(
                    JournalEntry(
                        last.timestamp,
                        last.host,
                        last.identifier,
                        last.pid,
                        last.message + "\n" + line.strip(),
                    )
                )
                continue
            raise ValueError(f"not a journal line: {line!r}")
        pid = int(m["pid"]) if m["pid"] else None
        entries.append(JournalEntry(m["ts"], m["host"], m["ident"], pid, m["msg"]))
    return tuple(entries)


def env_block(messages: Iterable[str], begin: str, end: str) -> dict[str, str] | None:
    """``KEY=VALUE`` messages between the first complete ``begin`` … ``end`` pair.

    None while the block is absent or not finished, so a poller can wait on it.
    """
    env: dict[str, str] | None = None
    for msg in messages:
        text = msg.strip()
        if text == begin:
            env = {}
        elif text == end and env is not None:
            return env
        elif env is not None:
            m = _ENV.match(text)
            if m:
                env[m["key"]] = m["value"]
    return None
