"""Bad input through the real command line: a table of hostile archives, broken manifests,
bad names, flags, ports and pod UUIDs.

Every case runs `rkt` (rkt_ref.__main__.main, in-process for speed) against a temporary
store and asserts what a user must see: one `rkt: ...` line on stderr (plus at most one
`hint:` line), no traceback, a non-zero exit, and a tree that is as it was before: nothing
written outside the store, nothing half-made inside it. Only empty directories and the
store's lock file may appear. The tarballs are built here, never committed.

test_archive.py checks the extractor and the Store API on their own; this corpus checks
what the CLI makes of the same kind of input, end to end.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rkt_ref import __main__ as entry
from rkt_ref import archive, mounts, proc
from rkt_ref.archive import Limits

# --- archives, built per test ---------------------------------------------------------

Member = Callable[[tarfile.TarFile, Path], None]  # (tar, test's tmp dir)


def manifest_doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/bad",
        "labels": [{"name": "version", "value": "1"}, {"name": "os", "value": "linux"},
                   {"name": "arch", "value": "amd64"}],
        "app": {"exec": ["/bin/true"], "user": "0", "group": "0",
                "ports": [{"name": "http", "protocol": "tcp", "port": 80}]},
    }
    for key, value in changes.items():
        if key.startswith("app_"):
            doc["app"][key[4:]] = value
        else:
            doc[key] = value
    return doc


def _file(name: str | Callable[[Path], str], data: bytes = b"x", mode: int = 0o644) -> Member:
    def add(tf: tarfile.TarFile, tmp: Path) -> None:
        content = data
        info = tarfile.TarInfo(name(tmp) if callable(name) else name)
        info.size, info.mode = len(content), mode
        tf.addfile(info, io.BytesIO(content))
    return add


def _dir(name: str) -> Member:
    def add(tf: tarfile.TarFile, tmp: Path) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tf.addfile(info)
    return add


def _special(name: str, kind: bytes, linkname: str | Callable[[Path], str] = "",
             mode: int = 0o644) -> Member:
    def add(tf: tarfile.TarFile, tmp: Path) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode = kind, mode
        info.linkname = linkname(tmp) if callable(linkname) else linkname
        if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
            info.devmajor, info.devminor = 1, 3
        tf.addfile(info)
    return add


def manifest(doc: dict[str, Any] | bytes | None = None) -> Member:
    data = doc if isinstance(doc, bytes) else json.dumps(doc or manifest_doc()).encode()
    return _file("manifest", data)


def outside(tmp: Path) -> str:
    """Where an escaping member would land: inside the snapshot, outside the store."""
    return str(tmp / "outside" / "evil")


GOOD = [manifest(), _dir("rootfs"), _dir("rootfs/bin"), _file("rootfs/bin/true", b"#!", 0o755)]


def build(tmp: Path, members: list[Member], compression: str = "gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for add in members:
            add(tf, tmp)
    raw = buf.getvalue()
    return {"": raw, "gz": gzip.compress(raw, 1), "xz": lzma.compress(raw)}[compression]


# --- the cases ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """argv for rkt (IMAGE stands for the built archive) and words the error must hold."""

    argv: tuple[str, ...]
    words: str
    members: list[Member] | None = None  # an archive to build as IMAGE
    raw: Callable[[bytes], bytes] | None = None  # mangles the built archive
    compression: str = "gz"
    limits: Limits | None = None  # smaller store limits (bombs)
    store_image: bool = False  # a good image is in the store first
    pods: tuple[str, ...] = ()  # fabricated prepared pods (UUIDs)
    files: dict[str, bytes] = field(default_factory=dict)  # extra files in the tmp dir


def fetch(words: str, members: list[Member], **kw: Any) -> Case:
    return Case(("--insecure-options=image", "fetch", "IMAGE"), words, members, **kw)


def bad_manifest(words: str, **changes: Any) -> Case:
    return fetch(words, [manifest(manifest_doc(**changes)), *GOOD[1:]])


def run(words: str, *argv: str, **kw: Any) -> Case:
    return Case(("--insecure-options=image", *argv), words, store_image=True, **kw)


UUID_A = "0a1b2c3d-0000-4000-8000-00000000000a"
UUID_B = "0a1b2c3d-0000-4000-8000-00000000000b"
SYM, LNK = tarfile.SYMTYPE, tarfile.LNKTYPE
UP = "rootfs/" + "../" * 6  # from cas/tmp/import-*/tree/rootfs up to the test's tmp dir
MB = 1 << 20

CASES: dict[str, Case] = {
    # archives: escaping the rootfs
    "traversal": fetch("'..'", [*GOOD, _file(UP + "outside/evil")]),
    "traversal-top-level": fetch("'..'", [*GOOD, _file("../outside/evil")]),
    "absolute-path": fetch("absolute path", [*GOOD, _file(outside)]),
    "symlink-escape": fetch("points outside rootfs",
                            [*GOOD, _special("rootfs/up", SYM, "../../../../outside")]),
    "symlink-absolute-escape": fetch("points outside rootfs",
                                     [*GOOD, _special("rootfs/up", SYM, "/../../outside")]),
    "symlink-then-write": fetch("through a symlink",
                                [*GOOD, _special("rootfs/etc", SYM, "/etc"),
                                 _file("rootfs/etc/evil")]),
    "hardlink-absolute": fetch("absolute path",
                               [*GOOD, _special("rootfs/pw", LNK, "/etc/passwd")]),
    "hardlink-traversal": fetch("'..'", [*GOOD, _special("rootfs/pw", LNK, UP + "etc/passwd")]),
    "hardlink-to-manifest": fetch("points outside rootfs",
                                  [*GOOD, _special("rootfs/m", LNK, "manifest")]),
    "hardlink-forward": fetch("earlier regular file",
                              [*GOOD, _special("rootfs/a", LNK, "rootfs/b"), _file("rootfs/b")]),
    "symlink-over-a-directory": fetch("earlier members are below it",
                                      [*GOOD, _file("rootfs/a/b"), _special("rootfs/a", SYM, "b")]),
    "file-below-a-file": fetch("not a directory", [*GOOD, _file("rootfs/a"), _file("rootfs/a/b")]),
    "hardlink-to-itself": fetch("earlier regular file",
                                [*GOOD, _special("rootfs/a", LNK, "rootfs/a")]),
    # archives: what a rootfs may hold
    "char-device": fetch("device node", [*GOOD, _special("rootfs/null", tarfile.CHRTYPE)]),
    "block-device": fetch("device node", [*GOOD, _special("rootfs/sda", tarfile.BLKTYPE)]),
    "setuid-world-writable": fetch("setuid", [*GOOD, _file("rootfs/bin/su", b"#!", 0o4777)]),
    "setgid-group-writable": fetch("setgid", [*GOOD, _file("rootfs/bin/sg", b"#!", 0o2775)]),
    "setuid-fifo": fetch("setuid", [*GOOD, _special("rootfs/fifo", tarfile.FIFOTYPE,
                                                    mode=0o4644)]),
    # archives: ACI layout
    "missing-manifest": fetch("no 'manifest'", GOOD[1:]),
    "manifest-is-symlink": fetch("regular file", [_special("manifest", SYM, "rootfs/m"),
                                                  *GOOD[1:]]),
    "no-rootfs": fetch("no 'rootfs'", [manifest()]),
    "rootfs-is-file": fetch("must be a directory", [manifest(), _file("rootfs")]),
    "extra-top-level": fetch("unexpected top-level entry", [*GOOD, _file("README")]),
    "duplicate-member": fetch("more than once", [*GOOD, _file("./rootfs/bin/true")]),
    # archives: size limits, broken streams
    "gzip-bomb": fetch("exceeds", [*GOOD, _file("rootfs/zeros", b"\0" * (8 * MB))],
                       limits=Limits(max_total_bytes=2 * MB)),
    "xz-bomb": fetch("exceeds", [*GOOD, _file("rootfs/zeros", b"\0" * (8 * MB))],
                     compression="xz", limits=Limits(max_total_bytes=2 * MB)),
    "manifest-bomb": fetch("larger than", [manifest(b"{" + b" " * (2 * MB) + b"}"),
                                           *GOOD[1:]]),
    "too-many-members": fetch("more than 8 members",
                              [*GOOD, *(_file(f"rootfs/f{i}") for i in range(10))],
                              limits=Limits(max_members=8)),
    "truncated-gzip": fetch("cannot decompress", [*GOOD, _file("rootfs/big", os.urandom(MB))],
                            raw=lambda b: b[: len(b) // 2]),
    "truncated-tar": fetch("unexpected end of data",
                           [*GOOD, _file("rootfs/big", os.urandom(64 << 10))],
                           compression="", raw=lambda b: b[: 8 << 10]),
    "not-an-archive": fetch("not a valid ACI", [], raw=lambda b: b"hello, world\n" * 50,
                            compression=""),
    "empty-file": fetch("not a valid ACI", [], raw=lambda b: b"", compression=""),
    # manifests
    "manifest-invalid-json": fetch("not valid JSON", [manifest(b"{nope"), *GOOD[1:]]),
    "manifest-not-utf8": fetch("not valid JSON", [manifest(b"\xff\xfe{\x00"), *GOOD[1:]]),
    "manifest-deeply-nested": fetch("nested too deeply",
                                    [manifest(b"[" * 100_000 + b"]" * 100_000), *GOOD[1:]]),
    "manifest-is-array": fetch("must be a JSON object", [manifest(b"[]"), *GOOD[1:]]),
    "wrong-ackind": bad_manifest("acKind must be 'ImageManifest'", acKind="PodManifest"),
    "wrong-acversion": bad_manifest("not a valid semantic version", acVersion="latest"),
    "bad-image-name-in-manifest": bad_manifest("ACIdentifier", name="Example.com/Bad"),
    "bad-label-name": bad_manifest("ACIdentifier", labels=[{"name": "Version", "value": "1"}]),
    "duplicate-labels": bad_manifest("duplicated", labels=[{"name": "version", "value": "1"},
                                                           {"name": "version", "value": "2"}]),
    "bad-os-label": bad_manifest("bad os", labels=[{"name": "os", "value": "plan9"}]),
    "bad-memory-isolator": bad_manifest("not a valid quantity", app_isolators=[
        {"name": "resource/memory", "value": {"limit": "lots"}}]),
    "bad-cpu-shares-isolator": bad_manifest("2-262144", app_isolators=[
        {"name": "os/linux/cpu-shares", "value": 1}]),
    "bad-capability-isolator": bad_manifest("not a Linux capability", app_isolators=[
        {"name": "os/linux/capabilities-retain-set", "value": {"set": ["CAP_NOPE"]}}]),
    "retain-and-remove-capabilities": bad_manifest("cannot have both", app_isolators=[
        {"name": "os/linux/capabilities-retain-set", "value": {"set": ["CAP_KILL"]}},
        {"name": "os/linux/capabilities-remove-set", "value": {"set": ["CAP_CHOWN"]}}]),
    "bad-no-new-privileges": bad_manifest("must be a boolean", app_isolators=[
        {"name": "os/linux/no-new-privileges", "value": "yes"}]),
    "duplicate-ports": bad_manifest("unique", app_ports=[
        {"name": "http", "protocol": "tcp", "port": 80},
        {"name": "http", "protocol": "tcp", "port": 81}]),
    "port-out-of-range": bad_manifest("1-65535", app_ports=[
        {"name": "http", "protocol": "tcp", "port": 0}]),
    "relative-exec": bad_manifest("absolute path", app_exec=["true"]),
    "bad-env-name": bad_manifest("environment variable name",
                                 app_environment=[{"name": "1X", "value": ""}]),
    "huge-number": fetch("not valid JSON", [manifest(b'{"acKind": ' + b"9" * 5000 + b"}"),
                                            *GOOD[1:]]),
    # names and flags
    "bad-image-name": Case(("fetch", "Example.com/Bad"), "ACIdentifier"),
    "bad-image-label": Case(("fetch", "example.com/bad,os"), "expected name=value"),
    "unknown-verb": Case(("frobnicate",), "unknown command"),
    "unknown-flag": Case(("fetch", "--frobnicate", "example.com/bad"), "unrecognized arguments"),
    "unknown-insecure-option": Case(("--insecure-options=everything", "list"),
                                    "unknown --insecure-options value"),
    "global-flag-without-value": Case(("list", "--dir"), "needs a value"),
    "bad-debug-value": Case(("--debug=maybe", "list"), "expected true or false"),
    "bad-pull-policy": Case(("fetch", "--pull-policy=sometimes", "x"), "invalid choice"),
    "no-store-and-store-only": Case(("fetch", "--no-store", "--store-only", "example.com/bad"),
                                    "--store-only"),
    "trust-root-and-prefix": Case(("trust", "--root", "--prefix=example.com", "k.asc"),
                                  "either --prefix"),
    "net-host-and-none": run("cannot be combined", "run", "--net=host,none", "example.com/bad"),
    "interactive-two-apps": run("exactly one app", "run", "--interactive", "example.com/bad",
                                "--name=a", "---", "example.com/bad", "--name=b"),
    "duplicate-apps": run("used twice", "prepare", "example.com/bad", "---", "example.com/bad"),
    "relative-exec-flag": run("absolute path", "prepare", "example.com/bad", "--exec=true"),
    "bad-app-name-flag": run("ACName", "prepare", "example.com/bad", "--name=Bad_Name"),
    "app-name-with-newline": run("ACName", "prepare", "example.com/bad", "--name=bad\n"),
    "image-name-with-newline": Case(("fetch", "example.com/bad\n"), "ACIdentifier"),
    "env-name-with-newline": run("environment variable name", "prepare",
                                 "--set-env=PATH\n=/x", "example.com/bad"),
    "bad-memory-flag": run("not a valid quantity", "prepare", "example.com/bad",
                           "--memory=lots"),
    "bad-set-env": run("NAME=VALUE", "prepare", "--set-env=NOEQUALS", "example.com/bad"),
    "binary-set-env-file": run("cannot read environment file", "prepare",
                               "--set-env-file=ENVFILE", "example.com/bad",
                               files={"ENVFILE": b"A=\xff\xfe\n"}),
    "unwritable-uuid-file": run("cannot write UUID file", "prepare",
                                "--uuid-file-save=/nonexistent/dir/uuid", "example.com/bad"),
    "bad-grace-period": Case(("gc", "--grace-period=soon"), "invalid duration"),
    # configs: ports and networks
    "port-without-host-port": run("invalid --port", "prepare", "--port=http", "example.com/bad"),
    "port-not-a-number": run("invalid --port", "prepare", "--port=http:eighty",
                             "example.com/bad"),
    "port-without-name": run("invalid --port", "prepare", "--port=:8080", "example.com/bad"),
    "port-out-of-range-flag": run("out of range", "prepare", "--port=http:70000",
                                  "example.com/bad"),
    "port-not-declared": run("not declared", "prepare", "--port=https:443", "example.com/bad"),
    "bad-net-name": run("invalid --net value", "run", "--net=:x", "example.com/bad"),
    "net-conf-invalid-json": run("error loading network configuration", "run",
                                 "--local-config=NETCONF", "--net=mynet", "example.com/bad",
                                 files={"netconf/net.d/10-mynet.conf": b"{nope"}),
    "net-conf-not-utf8": run("error loading network configuration", "run",
                             "--local-config=NETCONF", "--net=mynet", "example.com/bad",
                             files={"netconf/net.d/10-mynet.conf": b"\xff\xfe{"}),
    "net-conf-deeply-nested": run("network configuration", "run", "--local-config=NETCONF",
                                  "--net=mynet", "example.com/bad",
                                  files={"netconf/net.d/10-mynet.conf": b"[" * 100_000}),
    "net-conf-bad-name": run("\"name\" must be", "run", "--local-config=NETCONF",
                             "--net=mynet", "example.com/bad",
                             files={"netconf/net.d/10-x.conf":
                                    b'{"name": "my net", "type": "ptp"}'}),
    "net-conf-reserved-name": run("reserved", "run", "--local-config=NETCONF",
                                  "--net=mynet", "example.com/bad",
                                  files={"netconf/net.d/10-x.conf":
                                         b'{"name": "host", "type": "ptp"}'}),
    "net-conf-no-type": run("must name a plugin", "run", "--local-config=NETCONF",
                            "--net=mynet", "example.com/bad",
                            files={"netconf/net.d/10-x.conf": b'{"name": "mynet"}'}),
    "net-conf-bad-subnet": run("not a CIDR subnet", "run", "--local-config=NETCONF",
                               "--net=mynet", "example.com/bad",
                               files={"netconf/net.d/10-x.conf":
                                      b'{"name": "mynet", "type": "ptp", '
                                      b'"ipam": {"type": "host-local", "subnet": "10.1/33"}}'}),
    "net-not-configured": run("networks not found", "run", "--local-config=NETCONF",
                              "--net=nosuch", "example.com/bad",
                              files={"netconf/net.d/10-x.conf":
                                     b'{"name": "mynet", "type": "ptp"}'}),
    "net-bad-ip-argument": run("is not an IPv4 address", "run", "--net=default:IP=1.2.3",
                               "example.com/bad"),
    # pods
    "missing-uuid": Case(("status", "ffffffff"), "no pod found"),
    "ambiguous-uuid": Case(("status", "0a1b2c3d"), "ambiguous", pods=(UUID_A, UUID_B)),
    "ambiguous-uuid-stop": Case(("stop", "0a1b"), "ambiguous", pods=(UUID_A, UUID_B)),
    "empty-uuid-file": Case(("status", "--uuid-file=UUIDFILE"), "is empty",
                            files={"UUIDFILE": b"\n"}),
    "missing-uuid-file": Case(("cat-manifest", "--uuid-file=/nonexistent/uuid"),
                              "cannot read UUID file"),
    "run-prepared-missing": Case(("run-prepared", "ffff"), "no pod found"),
    "image-id-not-in-store": Case(("image", "cat-manifest", "sha512-ffff"), "no image"),
}


# --- running rkt and judging the outcome ----------------------------------------------


def snapshot(root: Path) -> dict[str, str]:
    """Every path under root -> what it is (dir, link target, file content hash)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = "file:" + hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@dataclass(frozen=True)
class Result:
    status: int
    stdout: str
    stderr: str


def rkt(argv: list[str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Result:
    """Run the real entry point in-process, as `rkt ARGV...`."""
    monkeypatch.setattr(sys, "argv", ["rkt", *argv])
    capsys.readouterr()
    try:
        entry.main()
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else 1
    else:
        status = 0
    # Anything else escaping main() is a traceback for the user: pytest reports it.
    out = capsys.readouterr()
    return Result(status, out.out, out.err)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tmp dir with the store in store/; nothing may mount or exec."""
    def no_exec(*args: object, **kw: object) -> None:
        raise AssertionError("a bad-input case must fail before anything is exec'd")

    def fake_mount(lower: Path, upper: Path, work: Path, target: Path) -> str:
        target.mkdir(parents=True)
        return "copy"

    monkeypatch.setattr(proc, "exec", no_exec)
    monkeypatch.setattr(mounts, "mount_app_rootfs", fake_mount)
    monkeypatch.delenv("RKT_REF_DIR", raising=False)
    (tmp_path / "outside").mkdir()
    return tmp_path


def _prepare(case: Case, tmp: Path, capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch) -> list[str]:
    store = tmp / "store"
    argv = ["--dir", str(store)]
    if case.store_image:
        good = tmp / "good.aci"
        good.write_bytes(build(tmp, GOOD))
        r = rkt([*argv, "--insecure-options=image", "fetch", str(good)], capsys, monkeypatch)
        assert r.status == 0, r.stderr
    for uuid in case.pods:
        (store / "pods" / "prepared" / uuid).mkdir(parents=True)
    for name, data in case.files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(data)
    if case.members is not None:
        data = build(tmp, case.members, case.compression)
        (tmp / "image.aci").write_bytes(case.raw(data) if case.raw else data)
    if case.limits is not None:
        monkeypatch.setattr(archive, "DEFAULT_LIMITS", case.limits)
    subst = {"IMAGE": str(tmp / "image.aci"), "NETCONF": str(tmp / "netconf")} | \
        {k: str(tmp / k) for k in case.files}
    for a in case.argv:
        key, eq, value = a.partition("=")
        argv.append(f"{key}={subst.get(value, value)}" if eq else subst.get(a, a))
    return argv


# What rkt may create on its first use of a store: empty directories and the lock.
SKELETON = {"store", "store/cas", "store/cas/lock", "store/pods",
            *(f"store/cas/{d}" for d in ("tmp", "tree", "blob", "info", "files")),
            *(f"store/pods/{d}" for d in ("embryo", "prepare", "prepared", "run",
                                          "exited-garbage", "garbage"))}


def assert_one_clear_line(r: Result, words: str) -> None:
    __tracebackhide__ = True
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.splitlines()
    errors = [ln for ln in lines if not ln.startswith("hint: ")]
    assert len(errors) == 1 and errors[0].startswith("rkt: "), r.stderr
    assert len(lines) - len(errors) <= 1, f"more than one hint: {r.stderr}"
    assert words in errors[0], f"{words!r} not in {errors[0]!r}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_clear_error_and_leaves_nothing(
        name: str, sandbox: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    argv = _prepare(case, sandbox, capsys, monkeypatch)
    before = snapshot(sandbox)

    r = rkt(argv, capsys, monkeypatch)

    assert r.status != 0, f"exit 0 for bad input; stdout: {r.stdout!r}"
    assert_one_clear_line(r, case.words)
    after = snapshot(sandbox)
    changed = sorted(p for p, what in before.items() if after.get(p) != what)
    assert not changed, f"changed or removed: {changed}"
    new = sorted(set(after) - set(before) - SKELETON)
    assert not new, f"left behind: {new}"


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40


def test_the_good_image_passes(sandbox: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The corpus's baseline: the same archive without the bad part is accepted."""
    (sandbox / "good.aci").write_bytes(build(sandbox, GOOD))
    r = rkt(["--dir", str(sandbox / "store"), "--insecure-options=image", "fetch",
             str(sandbox / "good.aci")], capsys, monkeypatch)
    assert r.status == 0 and r.stdout.startswith("sha512-"), r.stderr


@pytest.mark.parametrize("name", ["manifest-deeply-nested", "not-an-archive"])
def test_as_a_process_with_the_store_from_the_environment(
        name: str, sandbox: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A few cases once more as `python -m rkt_ref`, the store given by RKT_REF_DIR."""
    case = CASES[name]
    argv = _prepare(case, sandbox, capsys, monkeypatch)[2:]  # drop --dir STORE
    before = snapshot(sandbox)
    env = dict(os.environ, RKT_REF_DIR=str(sandbox / "store"),
               PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    p = subprocess.run([sys.executable, "-m", "rkt_ref", *argv], capture_output=True,
                       text=True, env=env, timeout=60)
    assert p.returncode == 254
    assert_one_clear_line(Result(p.returncode, p.stdout, p.stderr), case.words)
    assert set(snapshot(sandbox)) - set(before) <= SKELETON
