"""Property-based tests (hypothesis): the manifest parser, the appc name rules, the archive
extractor, and the parsers of `ps auxf`, `systemd-cgls` and `machinectl list` output.

Example counts stay modest so that `nox -s tests` stays fast; hypothesis shrinks any
failure to a small example worth turning into a corpus case (tests/test_bad_input.py).
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rkt_ref import archive
from rkt_ref.errors import RktError
from rkt_ref.schema import (
    ImageManifest,
    ManifestError,
    PodManifest,
    acidentifier,
    acname,
    parse_labels,
)
from steps.parse import parse_cgls, parse_machinectl_list, parse_ps_auxf, parse_ps_eo

# No example database: the tests leave no .hypothesis/ behind in the working tree.
FAST = settings(max_examples=80, deadline=None, database=None)
SLOW = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- the manifest parser --------------------------------------------------------------

json_scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
                | st.floats(allow_nan=False) | st.text(max_size=12))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=20,
)

VALID: dict[str, Any] = {
    "acKind": "ImageManifest", "acVersion": "0.8.11", "name": "coreos.com/etcd",
    "labels": [{"name": "version", "value": "v2.2.5"}, {"name": "os", "value": "linux"},
               {"name": "arch", "value": "amd64"}],
    "annotations": [{"name": "authors", "value": "x"}],
    "app": {
        "exec": ["/etcd"], "user": "0", "group": "0", "workingDirectory": "/",
        "environment": [{"name": "A", "value": "1"}],
        "mountPoints": [{"name": "data", "path": "/var/lib/etcd"}],
        "ports": [{"name": "client", "protocol": "tcp", "port": 2379, "count": 1}],
        "isolators": [{"name": "resource/memory", "value": {"limit": "1G"}},
                      {"name": "resource/cpu", "value": {"limit": "500m"}},
                      {"name": "os/linux/cpu-shares", "value": 512},
                      {"name": "os/linux/oom-score-adj", "value": 100},
                      {"name": "os/linux/capabilities-retain-set",
                       "value": {"set": ["CAP_KILL"]}},
                      {"name": "os/linux/no-new-privileges", "value": True}],
        "supplementaryGIDs": [1, 2],
    },
}


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(VALID)[1:]


@st.composite
def near_valid_manifests(draw: st.DrawFn) -> Any:
    """A valid manifest with a few of its values replaced by arbitrary JSON."""
    doc = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        target: Any = doc
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = draw(json_values)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier replacement changed the shape; keep what we have
    return doc


def _parses_or_says_why(raw: Any) -> None:
    for parse in (ImageManifest.from_json, PodManifest.from_json):
        try:
            parse(raw)
        except ManifestError as e:
            assert str(e) and "\n" not in str(e)


def test_the_valid_manifest_parses() -> None:
    m = ImageManifest.from_json(VALID)
    assert ImageManifest.from_json(m.to_json()) == m


@FAST
@given(near_valid_manifests())
def test_manifest_parser_only_raises_its_own_error(doc: Any) -> None:
    _parses_or_says_why(doc)
    try:
        m = ImageManifest.from_json(doc)
    except ManifestError:
        return
    # whatever it accepts round-trips through its own JSON
    assert ImageManifest.from_json(json.loads(json.dumps(m.to_json()))) == m


@FAST
@given(json_values)
def test_manifest_parser_on_arbitrary_json(raw: Any) -> None:
    _parses_or_says_why(raw)


@FAST
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_manifest_bytes_only_raise_its_own_error(data: bytes) -> None:
    for parse in (ImageManifest.from_bytes, PodManifest.from_bytes):
        try:
            parse(data)
        except ManifestError as e:
            assert "\n" not in str(e)


# --- appc name rules against the spec's own regexes -----------------------------------

# appc/spec schema/types/acname.go and acidentifier.go, as written there.
APPC_ACNAME = re.compile(r"^[a-z0-9]+([-][a-z0-9]+)*$")
APPC_ACIDENTIFIER = re.compile(r"^[a-z0-9]+([-._~/][a-z0-9]+)*$")
NAME_CHARS = st.text(alphabet="abcz09-._~/A\n :é", max_size=12)
# mostly valid names: alphanumeric runs joined by separators, sometimes with a flaw
NEAR_NAMES = st.builds(
    lambda words, seps, tail: "".join(w + s for w, s in zip(words, seps, strict=False))
    + words[-1] + tail,
    st.lists(st.text(alphabet="ab09", min_size=1, max_size=3), min_size=1, max_size=4),
    st.lists(st.sampled_from("-._~/"), max_size=3),
    st.sampled_from(["", "", "", "\n", "-", "/", "A"]))


def _accepts(rule: Any, value: str) -> bool:
    try:
        rule(value)
        return True
    except ManifestError:
        return False


def _appc_accepts(regex: re.Pattern[str], value: str) -> bool:
    # Go's regexp `$` (without the m flag) matches only at the very end of the text.
    return regex.fullmatch(value) is not None


@FAST
@given(NAME_CHARS | NEAR_NAMES)
def test_acname_and_acidentifier_agree_with_appc(value: str) -> None:
    assert _accepts(acname, value) == _appc_accepts(APPC_ACNAME, value)
    assert _accepts(acidentifier, value) == _appc_accepts(APPC_ACIDENTIFIER, value)


OS_ARCH = {"linux": {"amd64", "i386", "aarch64", "aarch64_be", "armv6l", "armv7l", "armv7b",
                     "ppc64", "ppc64le", "s390x"},
           "freebsd": {"amd64", "i386", "arm"}, "darwin": {"x86_64", "i386"}}


@FAST
@given(st.lists(st.tuples(st.sampled_from(["os", "arch", "version", "Version", "a/b", "a..b",
                                           "x"]),
                          st.sampled_from(["linux", "darwin", "amd64", "arm", "x86_64",
                                           "plan9", "1.0", ""])), max_size=4))
def test_label_rules(pairs: list[tuple[str, str]]) -> None:
    names = [n for n, _ in pairs]
    values = dict(pairs)
    expect = (len(set(names)) == len(names)
              and all(_appc_accepts(APPC_ACIDENTIFIER, n) for n in names)
              and ("os" not in values or values["os"] in OS_ARCH)
              and ("arch" not in values or ("os" in values and values["os"] in OS_ARCH
                                            and values["arch"] in OS_ARCH[values["os"]])))
    raw = [{"name": n, "value": v} for n, v in pairs]
    assert _accepts(parse_labels, raw) == expect  # type: ignore[arg-type]


# --- the archive extractor ------------------------------------------------------------

PARTS = st.sampled_from(["rootfs", "manifest", "a", "b", "..", ".", "", "etc"])


@st.composite
def member_names(draw: st.DrawFn) -> str:
    parts = draw(st.lists(PARTS, min_size=1, max_size=4))
    # mostly below rootfs/, so that some archives are accepted and really extracted
    lead = draw(st.sampled_from(["rootfs/", "rootfs/", "rootfs/", "./rootfs/", "", "/"]))
    return lead + "/".join(parts)


@dataclass(frozen=True)
class M:
    kind: str
    name: str
    target: str = ""
    mode: int = 0o644


members = st.builds(
    M, st.sampled_from(["file", "file", "dir", "dir", "sym", "hard", "fifo", "chr"]),
    member_names(), member_names() | st.sampled_from(["/etc/passwd", "../../x", "a", "/a"]),
    st.sampled_from([0o644, 0o644, 0o755, 0o4755, 0o4777, 0o2775, 0o1777]))


# and tame ones, so that about half the archives are accepted and really extracted
tame = st.builds(
    M, st.sampled_from(["file", "file", "dir", "sym", "fifo"]),
    st.lists(st.sampled_from(["a", "b", "etc", "."]), min_size=1, max_size=3).map(
        lambda parts: "rootfs/" + "/".join(parts)),
    st.sampled_from(["a", "/a", "../a", "b", "/etc/passwd"]),
    st.sampled_from([0o644, 0o755, 0o4755]))


def _tar(ms: list[M], with_manifest: bool) -> bytes:
    buf = io.BytesIO()
    doc = json.dumps({"acKind": "ImageManifest", "acVersion": "0.8.11",
                      "name": "example.com/x"}).encode()
    kinds = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE,
             "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE}
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        if with_manifest:
            info = tarfile.TarInfo("manifest")
            info.size = len(doc)
            tf.addfile(info, io.BytesIO(doc))
            info = tarfile.TarInfo("rootfs")
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(info)
        for m in ms:
            info = tarfile.TarInfo(m.name)
            info.mode = m.mode
            if m.kind == "file":
                info.size = 1
                tf.addfile(info, io.BytesIO(b"x"))
                continue
            info.type = kinds[m.kind]
            info.linkname = m.target
            tf.addfile(info)
    return buf.getvalue()


def _tree(root: Path) -> set[str]:
    out: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            out.add(os.path.relpath(os.path.join(dirpath, n), root))
    return out


@SLOW
@given(st.lists(members, max_size=6) | st.lists(tame, max_size=5),
       st.sampled_from([True, True, True, False]))
def test_extractor_never_writes_outside_its_target(ms: list[M], with_manifest: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        # the target sits deep, so that '..' chains land inside base where we can see them
        dest = base / "1" / "2" / "3" / "out"
        dest.parent.mkdir(parents=True)
        aci = base / "x.aci"
        aci.write_bytes(_tar(ms, with_manifest))
        before = _tree(base)
        try:
            archive.extract(aci, dest)
        except RktError as e:
            assert "\n" not in str(e)
            assert _tree(base) == before, "a refused archive left something behind"
            return
        event("extracted")
        outside = {p for p in _tree(base) - before if not p.startswith("1/2/3/out")}
        assert not outside
        assert sorted(os.listdir(dest)) == ["manifest", "rootfs"]
        root = os.path.realpath(dest / "rootfs")
        for dirpath, dirnames, filenames in os.walk(dest / "rootfs"):
            for n in dirnames + filenames:
                p = Path(dirpath, n)
                st_ = p.lstat()
                assert not (st_.st_mode & 0o6000 and st_.st_mode & 0o022 and p.is_file())
                if p.is_symlink():
                    link = os.readlink(p)
                    # absolute links resolve inside the container root at run time
                    base_dir = root if link.startswith("/") else os.path.dirname(p)
                    resolved = os.path.normpath(os.path.join(base_dir, link.lstrip("/")))
                    assert resolved == root or resolved.startswith(root + "/"), (p, link)


# --- the output parsers ---------------------------------------------------------------

arbitrary_lines = st.lists(st.text(max_size=60) | st.sampled_from([
    "USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND",
    "root           1  0.0  0.1 167772 11880 ?        Ss   10:00   0:01 /sbin/init",
    "root           2  0.0  0.0      0     0 ?        S    10:00   0:00  \\_ [kthreadd]",
    "Control group /machine.slice:", "├─1 /sbin/init", "│ └─x.service", "  → user.x: 1",
    "MACHINE CLASS SERVICE", "1 machines listed.", "No machines.", "rkt-1 container rkt",
]), max_size=8).map("\n".join)


@FAST
@given(arbitrary_lines)
def test_parsers_never_crash(text: str) -> None:
    for parse in (parse_ps_auxf, parse_ps_eo, parse_cgls, parse_machinectl_list):
        try:
            parse(text)  # type: ignore[operator]
        except ValueError as e:
            assert str(e)


# ps auxf: a forest rendered as ps draws it, then parsed back.

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_/.=:[]", min_size=1,
               max_size=10)
COMMAND = st.lists(WORD, min_size=1, max_size=4).map(" ".join)


@dataclass(frozen=True)
class Proc:
    command: str
    user: str
    stat: str
    children: tuple[Proc, ...]


procs = st.recursive(
    st.builds(Proc, COMMAND, st.sampled_from(["root", "etcd", "nobody"]),
              st.sampled_from(["Ss", "S", "R+", "Sl"]), st.just(())),
    lambda inner: st.builds(Proc, COMMAND, st.sampled_from(["root", "etcd"]),
                            st.sampled_from(["Ss", "S"]),
                            st.lists(inner, max_size=3).map(tuple)),
    max_leaves=12,
)


def _render_ps(roots: list[Proc]) -> tuple[str, list[tuple[int, int | None, str, str, str]]]:
    lines = ["USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND"]
    expect: list[tuple[int, int | None, str, str, str]] = []
    counter = iter(range(1, 10_000))

    def walk(p: Proc, ppid: int | None, prefix: str, depth: int, last: bool) -> None:
        pid = next(counter)
        tree = "" if depth == 0 else prefix + " \\_ "
        lines.append(f"{p.user:<8} {pid:>7}  0.0  0.1  16680  6904 ?        {p.stat:<4} "
                     f"22:16   0:00 {tree}{p.command}")
        expect.append((pid, ppid, p.user, p.stat, p.command))
        below = "" if depth == 0 else prefix + ("    " if last else " |  ")
        for i, c in enumerate(p.children):
            walk(c, pid, below, depth + 1, i == len(p.children) - 1)

    for r in roots:
        walk(r, None, "", 0, True)
    return "\n".join(lines) + "\n", expect


@FAST
@given(st.lists(procs, min_size=1, max_size=3))
def test_ps_auxf_round_trip(roots: list[Proc]) -> None:
    text, expect = _render_ps(roots)
    forest = parse_ps_auxf(text)
    got = [(p.pid, p.ppid, p.user, p.stat, p.command) for p in forest.walk()]
    assert got == expect
    # ps -eo pid,ppid,args of the same processes gives the same forest
    eo = "    PID    PPID COMMAND\n" + "".join(
        f"{pid:>7} {ppid or 0:>7} {cmd}\n" for pid, ppid, _, _, cmd in expect)
    assert [(p.pid, p.command) for p in parse_ps_eo(eo).walk()] == \
        [(pid, cmd) for pid, _, _, _, cmd in expect]


# systemd-cgls: a cgroup tree rendered as systemd 252 draws it (UTF-8 or ASCII glyphs).

CG_NAME = st.from_regex(r"[a-z][a-z0-9@-]{0,8}\.(slice|scope|service)", fullmatch=True) | \
    st.sampled_from(["payload", "supervisor"])


@dataclass(frozen=True)
class Cg:
    name: str
    cgroup_id: int | None
    processes: tuple[tuple[int, str], ...]
    children: tuple[Cg, ...]


cgroups = st.recursive(
    st.builds(Cg, CG_NAME, st.none() | st.integers(1, 99999),
              st.lists(st.tuples(st.integers(1, 99999), COMMAND), max_size=2).map(tuple),
              st.just(())),
    lambda inner: st.builds(Cg, CG_NAME, st.none() | st.integers(1, 99999),
                            st.lists(st.tuples(st.integers(1, 99999), COMMAND),
                                     max_size=2).map(tuple),
                            st.lists(inner, max_size=3,
                                     unique_by=lambda c: c.name).map(tuple)),
    max_leaves=10,
)


def _render_cgls(root: Cg, ascii_glyphs: bool) -> str:
    mid, end, bar = ("|-", "`-", "| ") if ascii_glyphs else ("├─", "└─", "│ ")
    lines = ["Control group /machine.slice:"]

    def items(cg: Cg, indent: str) -> None:
        entries: list[tuple[str, Cg | None]] = [(f"{pid} {cmd}", None)
                                                for pid, cmd in cg.processes]
        for c in cg.children:
            label = c.name + (f" (#{c.cgroup_id})" if c.cgroup_id is not None else "")
            entries.append((label, c))
        for i, (text, child) in enumerate(entries):
            last = i == len(entries) - 1
            lines.append(indent + (end if last else mid) + text)
            if child is not None:
                items(child, indent + ("  " if last else bar))

    items(root, "")
    return "\n".join(lines) + "\n"


def _shape(cg: Cg, path: str) -> list[tuple[str, int | None, tuple[tuple[int, str], ...]]]:
    out = [(path, cg.cgroup_id, cg.processes)]
    for c in cg.children:
        out += _shape(c, path.rstrip("/") + "/" + c.name)
    return out


@SLOW
@given(st.lists(cgroups, max_size=3, unique_by=lambda c: c.name),
       st.lists(st.tuples(st.integers(1, 99999), COMMAND), max_size=2), st.booleans())
def test_cgls_round_trip(children: list[Cg], procs_: list[tuple[int, str]],
                         ascii_glyphs: bool) -> None:
    root = Cg("machine.slice", None, tuple(procs_), tuple(children))
    tree = parse_cgls(_render_cgls(root, ascii_glyphs))
    got = [(n.path, n.cgroup_id, tuple((p.pid, p.cmdline) for p in n.processes))
           for n in tree.root.walk()]
    assert got == _shape(root, "/machine.slice")


# machinectl list: rows rendered in columns, with the header and footer of either era.

TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.:", min_size=1, max_size=12)
rows = st.lists(st.tuples(TOKEN, TOKEN, TOKEN, TOKEN, TOKEN, TOKEN), max_size=5)


@FAST
@given(rows, st.booleans())
def test_machinectl_round_trip(table: list[tuple[str, ...]], old_format: bool) -> None:
    cols = 3 if old_format else 6
    header = ("MACHINE", "CLASS", "SERVICE", "OS", "VERSION", "ADDRESSES")[:cols]
    cells = [header, *(r[:cols] for r in table)]
    widths = [max(len(c[i]) for c in cells) for i in range(cols)]
    lines = [" ".join(c[i].ljust(widths[i]) for i in range(cols)).rstrip() for c in cells]
    footer = f"{len(table)} machines listed." if table or old_format else "No machines."
    text = "\n".join([*lines, "", footer]) + "\n"
    parsed = parse_machinectl_list(text)
    assert parsed.footer == footer
    got = [(r.machine, r.machine_class, r.service, r.os, r.version, r.addresses)
           for r in parsed.rows]
    want = [(*r[:3], *(r[3:] if not old_format else (None, None, None))) for r in table]
    assert got == want
