"""``systemctl status`` header fields, ``systemctl show`` and systemd-run's announcement.

``systemctl status`` prints a title line (``● unit - description``), then ``Key: value``
fields whose colons share one column, continuation lines indented past that column (the
CGroup: tree, Drop-In files, Listen: addresses), a blank line and journal lines. Only the
part before the blank line is parsed.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from steps.parse.cgls import CgroupTree, parse_cgls

_TITLE = re.compile(r"^(?:(?P<bullet>[^\w\s/.-])\s+)?(?P<unit>\S+)(?: - (?P<desc>.*))?$")
_FIELD = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Z][A-Za-z-]*(?: [A-Z][A-Za-z-]*)*): (?P<val>.*)$")
_LOADED = re.compile(r"^(?P<state>\S+)(?: \((?P<inner>.*)\))?")
_ACTIVE = re.compile(r"^(?P<state>\S+)(?: \((?P<sub>[^)]*)\))?(?: since (?P<since>[^;]*))?")
_MAIN_PID = re.compile(r"^(?P<pid>\d+)(?: \((?P<paren>[^)]*)\))?")
_RUNNING_AS = re.compile(r"^Running as unit(?P<colon>:)? (?P<unit>\S+?)\.?$")


@dataclass(frozen=True)
class LoadedField:
    state: str
    path: str | None = None
    enablement: str | None = None  # static / enabled / disabled / transient
    preset: str | None = None


@dataclass(frozen=True)
class ActiveField:
    state: str  # active / inactive / failed / activating …
    substate: str | None = None  # running / dead / listening / "Result: exit-code"
    since: str | None = None


@dataclass(frozen=True)
class MainPidField:
    pid: int
    comm: str | None = None  # the process name while it runs
    exit_info: str | None = None  # "code=exited, status=31" once it has exited


@dataclass(frozen=True)
class UnitStatus:
    unit: str
    description: str | None
    bullet: str | None
    fields: tuple[tuple[str, tuple[str, ...]], ...]  # (key, (first line, continuations…))
    loaded: LoadedField | None
    active: ActiveField | None
    main_pid: MainPidField | None
    cgroup_path: str | None
    cgroup: CgroupTree | None

    def field(self, key: str) -> str | None:
        """First line of the first field named ``key``."""
        return next((v[0] for k, v in self.fields if k == key), None)

    def field_lines(self, key: str) -> tuple[str, ...]:
        """All lines of all fields named ``key`` (``Process:`` may repeat)."""
        return tuple(line.strip() for k, v in self.fields if k == key for line in v)


def _loaded(value: str) -> LoadedField:
    m = _LOADED.match(value)
    if m is None:
        raise ValueError(f"not a Loaded: value: {value!r}")
    parts = [p.strip() for p in (m["inner"] or "").split(";") if p.strip()]
    path = parts[0] if parts and parts[0].startswith("/") else None
    rest = parts[1:] if path else parts
    preset = next((p.split(":", 1)[1].strip() for p in rest if "preset:" in p), None)
    enablement = next((p for p in rest if "preset:" not in p), None)
    return LoadedField(m["state"], path, enablement, preset)


def _active(value: str) -> ActiveField:
    m = _ACTIVE.match(value)
    if m is None:
        raise ValueError(f"not an Active: value: {value!r}")
    return ActiveField(m["state"], m["sub"], m["since"].strip() if m["since"] else None)


def _main_pid(value: str) -> MainPidField:
    m = _MAIN_PID.match(value)
    if m is None:
        raise ValueError(f"not a Main PID: value: {value!r}")
    paren = m["paren"]
    if paren and "=" in paren:
        return MainPidField(int(m["pid"]), None, paren)
    return MainPidField(int(m["pid"]), paren, None)


def parse_systemctl_status(text: str) -> UnitStatus:
    """Parse the title and header fields of ``systemctl status UNIT`` for one unit."""
    lines = text.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise ValueError("empty systemctl status output")
    title = _TITLE.match(lines[0].strip())
    if title is None:
        raise ValueError(f"not a systemctl status title: {lines[0]!r}")
    fields: list[tuple[str, list[str]]] = []
    colon_col: int | None = None
    for line in lines[1:]:
        if not line.strip():
            break  # the journal excerpt follows
        m = _FIELD.match(line)
        col = len(m["indent"]) + len(m["key"]) if m else None
        if m and (colon_col is None or col == colon_col):
            colon_col = col
            fields.append((m["key"], [m["val"]]))
        elif fields:
            fields[-1][1].append(line)
        else:
            raise ValueError(f"systemctl status line before any field: {line!r}")
    frozen = tuple((k, tuple(v)) for k, v in fields)

    def first(key: str) -> str | None:
        return next((v[0] for k, v in frozen if k == key), None)

    cg_path = first("CGroup")
    tree = None
    if cg_path is not None:
        cont = next(v[1:] for k, v in frozen if k == "CGroup")
        tree = parse_cgls(textwrap.dedent("\n".join(cont)), root_path=cg_path.strip())
    loaded, active, main_pid = first("Loaded"), first("Active"), first("Main PID")
    return UnitStatus(
        unit=title["unit"],
        description=title["desc"],
        bullet=title["bullet"],
        fields=frozen,
        loaded=_loaded(loaded) if loaded else None,
        active=_active(active) if active else None,
        main_pid=_main_pid(main_pid) if main_pid else None,
        cgroup_path=cg_path.strip() if cg_path else None,
        cgroup=tree,
    )


def parse_systemctl_show(text: str) -> dict[str, str]:
    """``systemctl show [-p …] UNIT`` as a mapping (``KEY=VALUE`` lines; the last one wins)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
    return out


@dataclass(frozen=True)
class RunningAs:
    unit: str
    with_colon: bool  # True for systemd >= 2xx ("Running as unit: x"), False as in the document


def parse_systemd_run(text: str) -> RunningAs:
    """The unit systemd-run announces, in either form. Raises ValueError when none."""
    for line in text.splitlines():
        m = _RUNNING_AS.match(line.strip())
        if m:
            return RunningAs(m["unit"], bool(m["colon"]))
    raise ValueError(f"systemd-run did not announce a unit in {text!r}")


_EXEC = re.compile(r"\{ (?P<body>.*?) \}")


def parse_exec_status(text: str) -> tuple[dict[str, str], ...]:
    """``systemctl show -P ExecStartPre UNIT``: one ``{ path=… ; … ; status=0/0 }`` per command."""
    runs = []
    for m in _EXEC.finditer(text):
        fields = (part.split("=", 1) for part in m["body"].split(" ; ") if "=" in part)
        runs.append({k.strip(): v.strip() for k, v in fields})
    return tuple(runs)
