"""Mounting app root filesystems (overlay, or a copy when overlay is unavailable)."""

from __future__ import annotations

import os
from pathlib import Path

from . import log, proc
from .errors import CommandError


def _unescape(field: str) -> str:
    # /proc/self/mountinfo escapes space, tab, newline and backslash as octal.
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and len(field[i + 1 : i + 4]) == 3 and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mountpoints_under(path: Path, mountinfo: str | None = None) -> list[Path]:
    """Mount points at or below path, deepest first (the order to unmount them)."""
    if mountinfo is None:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
        except OSError:
            return []
    base = str(path).rstrip("/")
    found: list[Path] = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        mp = _unescape(fields[4])
        if mp == base or mp.startswith(base + "/"):
            found.append(Path(mp))
    # Deepest first; reversed mount order breaks ties for stacked mounts on one point.
    indexed = list(enumerate(found))
    indexed.sort(key=lambda t: (len(t[1].parts), t[0]), reverse=True)
    return [p for _, p in indexed]


def _overlay_safe(p: Path) -> bool:
    # overlayfs option syntax cannot carry these characters unescaped.
    return not any(c in str(p) for c in ",:\\\n")


def _mount_syscall(source: str, target: Path, fstype: str, data: str) -> bool:
    """mount(2) directly: forking /usr/bin/mount costs a noticeable part of pod start-up
    on slow machines. False (and the caller falls back to mount(8)) if it fails."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        log.debug("+ mount(2) -t %s %s -o %s %s", fstype, source, data, target)
        rc = libc.mount(source.encode(), str(target).encode(), fstype.encode(),
                        ctypes.c_ulong(0), data.encode())
        if rc != 0:
            log.debug("mount(2) failed: %s", os.strerror(ctypes.get_errno()))
            return False
        return True
    except (OSError, AttributeError) as e:
        log.debug("mount(2) unavailable: %s", e)
        return False


def mount_app_rootfs(lower: Path, upper: Path, work: Path, target: Path) -> str:
    """Give the app a writable root over the store's tree; returns 'overlay' or 'copy'."""
    target.mkdir(parents=True, exist_ok=True)
    if all(_overlay_safe(p) for p in (lower, upper, work, target)):
        upper.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        opts = f"lowerdir={lower},upperdir={upper},workdir={work}"
        if _mount_syscall("overlay", target, "overlay", opts):
            return "overlay"
        try:
            proc.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(target)])
            return "overlay"
        except CommandError as e:
            log.debug("overlay mount failed (%s); copying the image instead", e)
    # cp -a keeps owners, modes, device nodes, xattrs and hard links of the tree.
    proc.run(["cp", "-a", "--reflink=auto", "-T", str(lower), str(target)])
    return "copy"


def unmount_all(path: Path) -> None:
    """Unmount everything at or under path (lazy as a last resort for busy mounts)."""
    for mp in mountpoints_under(path):
        try:
            proc.run(["umount", str(mp)])
        except CommandError:
            proc.run(["umount", "--lazy", str(mp)], check=False)

