"""Named network namespaces (/run/netns/NAME), made and removed in-process.

What `ip netns add` and `ip netns delete` do, without running ip: under emulation one
run of ip costs about 0.1 s of a pod's start, and bringing up the loopback took another.
The namespace directory is made a shared mount point, as ip makes it, so that a
namespace bound there is seen from every mount namespace that later joins.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import struct
from pathlib import Path

from . import log, proc
from .errors import RktError

CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 1 << 20
MNT_DETACH = 2
AF_INET, SOCK_DGRAM = 2, 2
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
IFREQ = "16sH22s"  # struct ifreq: the name, then ifr_flags at the start of the union


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(rc: int, call: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{call}: {os.strerror(err)}")


def _make_shared(libc: ctypes.CDLL, directory: Path) -> None:
    target = bytes(directory)
    rc = libc.mount(b"none", target, b"none", MS_SHARED | MS_REC, None)
    if rc != 0 and ctypes.get_errno() == errno.EINVAL:
        # Not yet a mount point: as ip, bind the directory onto itself first.
        _check(libc.mount(target, target, b"none", MS_BIND | MS_REC, None),
               f"mount --rbind {directory}")
        rc = libc.mount(b"none", target, b"none", MS_SHARED | MS_REC, None)
    _check(rc, f"mount --make-rshared {directory}")


def _loopback_up(libc: ctypes.CDLL) -> None:
    fd = libc.socket(AF_INET, SOCK_DGRAM, 0)
    if fd < 0:
        _check(fd, "socket")
    try:
        got = fcntl.ioctl(fd, SIOCGIFFLAGS, struct.pack(IFREQ, b"lo", 0, b""))
        flags = struct.unpack_from(IFREQ, got)[1]
        fcntl.ioctl(fd, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP, b""))
    finally:
        os.close(fd)


def add(path: Path) -> None:
    """A new network namespace, its loopback up, held by a bind mount at path.

    Fails, leaving nothing, if path exists or the namespace cannot be made.
    """
    log.debug("+ netns add %s (unshare(2) CLONE_NEWNET, lo up, mount(2) --bind)", path)
    libc = _libc()

    def enter_and_bind() -> None:
        _check(libc.unshare(CLONE_NEWNET), "unshare")
        _loopback_up(libc)
        _check(libc.mount(b"/proc/self/ns/net", bytes(path), b"none", MS_BIND, None),
               f"mount --bind /proc/self/ns/net {path}")

    try:
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        _make_shared(libc, path.parent)
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0))
    except OSError as e:
        raise RktError(f"cannot make network namespace {path}: {e.strerror}") from None
    status = proc.in_child(enter_and_bind)
    if status != 0:
        path.unlink(missing_ok=True)
        raise RktError(f"cannot make network namespace {path}: {os.strerror(status)}")


def delete(path: Path) -> None:
    """Release the namespace bound at path and remove the file, as `ip netns delete`."""
    log.debug("+ netns delete %s (umount2(2) MNT_DETACH)", path)
    _libc().umount2(bytes(path), MNT_DETACH)  # as ip: not mounted is no error
    path.unlink()
