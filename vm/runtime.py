"""The rkt implementation under test, and how it gets into a fresh VM.

By default that is the working tree's rkt_ref, copied into every new machine so that
editing it never forces an image rebuild (a machine kept for reuse keeps it, while its
files stay the same). `--rkt PATH` names a directory with an
`rkt` executable and whatever it needs beside it (a stage1 image, say); it is
installed as /opt/rkt with /usr/bin/rkt pointing at it, as rkt's own docs do.
"""

from __future__ import annotations

import functools
import hashlib
import io
import py_compile
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vm.backend.base import Backend, Preparation

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "rkt_ref"
GUEST_SITE = "/usr/lib/python3/dist-packages"
OTHER_PREFIX = "/opt/rkt"

WRAPPER = """#!/usr/bin/python3 -I
import sys
from rkt_ref.__main__ import main
sys.exit(main())
"""


@dataclass(frozen=True)
class Runtime:
    """rkt_ref (path None) or another implementation's directory."""

    path: Path | None = None

    @property
    def label(self) -> str:
        return "rkt_ref" if self.path is None else str(self.path)

    @property
    def is_reference(self) -> bool:
        return self.path is None

    def validate(self) -> None:
        if self.path is None:
            return
        if not (self.path / "rkt").is_file():
            raise SystemExit(f"--rkt {self.path}: no executable named 'rkt' in that directory")


def bundle(runtime: Runtime) -> bytes:
    """A gzip tarball, rooted at /, that puts the runtime in place.

    Made once per process for each state of the runtime's files (every scenario
    asks for it; building it costs about 0.15 s of host CPU).
    """
    root = PACKAGE_DIR if runtime.path is None else runtime.path
    files = [p for p in sorted(root.rglob("*")) if "__pycache__" not in p.parts]
    stats = [p.lstat() for p in files]
    stamp = tuple((str(p), st.st_mtime_ns, st.st_size) for p, st in zip(files, stats, strict=True))
    return _bundle(runtime, stamp)


@functools.lru_cache(maxsize=4)
def _bundle(runtime: Runtime, stamp: tuple[tuple[str, int, int], ...]) -> bytes:
    buffer = io.BytesIO()

    def skip_caches(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        return None if "__pycache__" in info.name else info

    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        if runtime.path is None:
            target = f"{GUEST_SITE.lstrip('/')}/rkt_ref"
            tar.add(PACKAGE_DIR, arcname=target, filter=skip_caches)
            add_bytecode(tar, target)
            wrapper = tarfile.TarInfo("usr/bin/rkt")
            wrapper.size, wrapper.mode = len(WRAPPER), 0o755
            tar.addfile(wrapper, io.BytesIO(WRAPPER.encode()))
        else:
            tar.add(runtime.path, arcname=OTHER_PREFIX.lstrip("/"), filter=skip_caches)
            link = tarfile.TarInfo("usr/bin/rkt")
            link.type, link.linkname = tarfile.SYMTYPE, f"{OTHER_PREFIX}/rkt"
            tar.addfile(link)
    return buffer.getvalue()


def add_bytecode(tar: tarfile.TarFile, target: str) -> None:
    """Ship compiled bytecode: compiling rkt_ref under emulation costs seconds per VM.

    Only when the host runs the guest's Python minor version (3.11), whose bytecode
    format is the same; the hash-based pyc stays valid whatever the files' mtimes.
    """
    if sys.version_info[:2] != (3, 11):
        return
    tag = sys.implementation.cache_tag
    with tempfile.TemporaryDirectory() as scratch:
        for source in sorted(PACKAGE_DIR.rglob("*.py")):
            relative = source.relative_to(PACKAGE_DIR)
            name = f"{relative.parent}/__pycache__/{source.stem}.{tag}.pyc".lstrip("./")
            compiled = Path(scratch) / name.replace("/", "_")
            py_compile.compile(
                str(source), cfile=str(compiled), dfile=f"/{target}/{relative}", doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
            tar.add(compiled, arcname=f"{target}/{name}")


# One round trip: the tarball travels as the command's stdin.
INSTALL = ["tar", "--no-same-owner", "-xzf", "-", "-C", "/"]


def install(backend: Backend, runtime: Runtime, data: bytes) -> None:
    """Put the runtime in place from its bundle (data)."""
    result = backend.run(INSTALL, input=data)
    if not result.ok:
        raise RuntimeError(f"installing {runtime.label} failed:\n{result.describe()}")


def preparation(runtime: Runtime) -> Preparation:
    """Installing the runtime, keyed by exactly what is installed: a machine kept with
    this runtime in place is reused as it is, one with other files is not."""
    data = bundle(runtime)
    return Preparation(key=hashlib.sha256(data).hexdigest(),
                       apply=lambda backend: install(backend, runtime, data))
