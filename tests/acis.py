"""Minimal ACIs for unit tests: a manifest and an empty rootfs, nothing else."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path


def aci_tar(name: str, version: str, *, app: bool = True) -> bytes:
    """An uncompressed ACI of `name` at `version`; with `app`, one that runs /bin/true."""
    manifest: dict[str, object] = {"acKind": "ImageManifest", "acVersion": "0.8.11",
                                   "name": name,
                                   "labels": [{"name": "version", "value": version}]}
    if app:
        manifest["app"] = {"exec": ["/bin/true"], "user": "0", "group": "0"}
    data = json.dumps(manifest).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("manifest")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
        rootfs = tarfile.TarInfo("rootfs")
        rootfs.type = tarfile.DIRTYPE
        tf.addfile(rootfs)
    return buf.getvalue()


def write_aci(path: Path, name: str, version: str) -> Path:
    path.write_bytes(aci_tar(name, version))
    return path
