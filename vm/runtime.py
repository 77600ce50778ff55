"""The rkt implementation under test, and how it gets into a fresh VM.

By default that is the working tree's rkt_ref, copied in at every restore so that
editing it never forces an image rebuild. `--rkt PATH` names a directory with an
`rkt` executable and whatever it needs beside it (a stage1 image, say); it is
installed as /opt/rkt with /usr/bin/rkt pointing at it, as rkt's own docs do.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from vm.backend.base import Backend

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


def _tar(directory: Path, arcname: str) -> bytes:
    buffer = io.BytesIO()

    def skip_caches(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        return None if "__pycache__" in info.name else info

    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(directory, arcname=arcname, filter=skip_caches)
    return buffer.getvalue()


def install_script(runtime: Runtime) -> list[str]:
    """The guest command that unpacks /tmp/runtime.tgz into place."""
    if runtime.is_reference:
        return ["sh", "-c",
                f"tar -xzf /tmp/runtime.tgz -C {GUEST_SITE} && rm /tmp/runtime.tgz"]
    return ["sh", "-c",
            f"tar -xzf /tmp/runtime.tgz -C /opt && rm /tmp/runtime.tgz && "
            f"ln -sfn {OTHER_PREFIX}/rkt /usr/bin/rkt"]


def install(backend: Backend, runtime: Runtime) -> None:
    if runtime.is_reference:
        backend.copy_in(_tar(PACKAGE_DIR, "rkt_ref"), "/tmp/runtime.tgz")
        backend.copy_in(WRAPPER.encode(), "/usr/bin/rkt", 0o755)
    else:
        assert runtime.path is not None
        backend.copy_in(_tar(runtime.path, Path(OTHER_PREFIX).name), "/tmp/runtime.tgz")
    result = backend.run(install_script(runtime))
    if not result.ok:
        raise RuntimeError(f"installing {runtime.label} failed:\n{result.describe()}")
