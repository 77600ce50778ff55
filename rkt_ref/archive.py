"""Safe extraction of ACI archives (hostile input).

An ACI is a tar, optionally gzip/bzip2/xz compressed, holding exactly `manifest` and
`rootfs/`. Every member is checked before anything is written; extraction goes into
a fresh directory the caller renames into place, so a rejected archive leaves nothing.
"""

from __future__ import annotations

import bz2
import hashlib
import lzma
import os
import shutil
import stat
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO, cast

from .errors import RktError
from .record import record
from .schema import ImageManifest

MANIFEST = "manifest"
ROOTFS = "rootfs"


class ArchiveError(RktError):
    """The archive is not an acceptable ACI."""


@record
class Limits:
    """Bounds against decompression bombs and absurd archives."""

    max_total_bytes: int = 16 * 2**30
    max_members: int = 1_000_000
    max_manifest_bytes: int = 1 * 2**20


DEFAULT_LIMITS = Limits()

_MAGIC = [
    (b"\x1f\x8b", "gz"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
]


def compression(path: Path) -> str:
    """'gz', 'bz2', 'xz' or 'tar', from the file's first bytes (not its name)."""
    with open(path, "rb") as f:
        head = f.read(6)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return "tar"


# Decompressed bytes are handled this much at a time: a bomb meets the size cap after at
# most one chunk, and each chunk costs a few calls into Python.
_CHUNK = 1 << 20


def _uncompressed(raw: BinaryIO, kind: str) -> Iterator[bytes]:
    """The uncompressed tar in chunks, whatever the compression `kind`."""
    if kind == "gz":
        yield from _gunzip(raw)
        return
    stream: BinaryIO = raw
    if kind == "bz2":
        stream = cast(BinaryIO, bz2.BZ2File(raw))
    elif kind == "xz":
        stream = cast(BinaryIO, lzma.LZMAFile(raw))
    while chunk := stream.read(_CHUNK):
        yield chunk


def _gunzip(raw: BinaryIO) -> Iterator[bytes]:
    """What GzipFile reads (members one after another, zero padding between them), but
    straight from zlib, without GzipFile's layers of Python, 8 KiB reads and separate CRC
    pass. zlib checks each member's CRC and size itself.
    """
    d = zlib.decompressobj(wbits=31)  # gzip header and trailer
    pending = b""
    while True:
        data = pending or raw.read(_CHUNK)
        out = d.decompress(data, _CHUNK)
        if out:
            yield out
        if d.eof:
            pending = d.unused_data.lstrip(b"\0")
            while not pending:
                more = raw.read(_CHUNK)
                if not more:
                    return
                pending = more.lstrip(b"\0")
            d = zlib.decompressobj(wbits=31)
        elif not data and not out:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        else:
            pending = d.unconsumed_tail


def image_digest(path: Path, limits: Limits = DEFAULT_LIMITS,
                 unpack_to: Path | None = None) -> str:
    """Full hex sha512 of the uncompressed tar (the basis of the image ID).

    With `unpack_to`, a compressed image's tar is also written there as it is hashed, for
    `extract(..., uncompressed=unpack_to)`: decompressing is the slow part of an import,
    so it is done once. An uncompressed image is not copied.
    """
    h = hashlib.sha512()
    total = 0
    # Tar headers and padding add to member sizes; allow generous slack over the limit.
    cap = limits.max_total_bytes + 512 * (limits.max_members + 64)
    try:
        kind = compression(path)
        with open(path, "rb") as raw, ExitStack() as stack:
            out: IO[bytes] | None = None
            if unpack_to is not None and kind != "tar":
                out = stack.enter_context(open(unpack_to, "xb"))
            for chunk in _uncompressed(raw, kind):
                total += len(chunk)
                if total > cap:
                    raise ArchiveError(
                        f"{path}: uncompressed image exceeds {limits.max_total_bytes} bytes"
                    )
                h.update(chunk)
                if out is not None:
                    out.write(chunk)
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as e:
        raise ArchiveError(f"{path}: cannot decompress image: {e}") from None
    return h.hexdigest()


def _normalize(name: str) -> str:
    """Canonical member path; rejects absolute paths and '..' components."""
    if name.startswith("/"):
        raise ArchiveError(f"archive member {name!r} has an absolute path")
    parts = [p for p in PurePosixPath(name).parts if p not in (".", "")]
    if ".." in parts:
        raise ArchiveError(f"archive member {name!r} contains '..' (path traversal)")
    if "\x00" in name:
        raise ArchiveError(f"archive member {name!r} contains a NUL byte")
    return "/".join(parts)


def _resolve_link(member_path: str, target: str) -> str | None:
    """Where a symlink at member_path points, lexically, relative to rootfs/.

    Absolute targets are interpreted inside the container root (rootfs/), which is
    how they resolve at run time. Returns None if the target climbs out of rootfs.
    """
    if target.startswith("/"):
        parts: list[str] = []
        pieces = PurePosixPath(target).parts[1:]
    else:
        parts = member_path.split("/")[1:-1]  # directory of the link, below rootfs/
        pieces = PurePosixPath(target).parts
    for piece in pieces:
        if piece in (".", ""):
            continue
        if piece == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(piece)
    return "/".join([ROOTFS, *parts])


def _check_special_bits(name: str, m: tarfile.TarInfo) -> None:
    """setuid/setgid only where they are safe: on files nobody else can rewrite.

    A setuid root binary that group or others may write is a root shell for any user of
    the pod; setuid/setgid on a FIFO means nothing but a mistake or an attack. (setgid on
    directories is the usual group inheritance and stays allowed.)
    """
    bits = m.mode & (stat.S_ISUID | stat.S_ISGID)
    if not bits or m.isdir() or m.issym() or m.islnk():
        return
    what = "setuid" if bits & stat.S_ISUID else "setgid"
    if not m.isfile():
        raise ArchiveError(f"archive member {name!r}: {what} is allowed on regular files only")
    if m.mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ArchiveError(
            f"archive member {name!r} is {what} and writable by group or others; "
            "refusing it"
        )


def check_members(members: list[tarfile.TarInfo], limits: Limits = DEFAULT_LIMITS) -> None:
    """Reject anything unsafe or not ACI-shaped; raises ArchiveError naming the member."""
    if len(members) > limits.max_members:
        raise ArchiveError(f"archive has more than {limits.max_members} members")
    seen: set[str] = set()
    symlinks: set[str] = set()
    non_dirs: set[str] = set()  # files, links, FIFOs: nothing may go below them
    implied_dirs: set[str] = set()  # parents of earlier members: must stay directories
    total = 0
    has_manifest = has_rootfs = False
    for m in members:
        name = _normalize(m.name)
        if not name:
            if m.isdir():
                continue  # "./" itself
            raise ArchiveError(f"archive member {m.name!r} has an empty name")
        if name in seen:
            raise ArchiveError(f"archive member {name!r} appears more than once")
        seen.add(name)
        top = name.split("/")[0]
        if top == MANIFEST and name == MANIFEST:
            if not m.isfile():
                raise ArchiveError("'manifest' must be a regular file")
            if m.size > limits.max_manifest_bytes:
                raise ArchiveError(f"'manifest' is larger than {limits.max_manifest_bytes} bytes")
            has_manifest = True
        elif top == ROOTFS:
            if name == ROOTFS:
                if not m.isdir():
                    raise ArchiveError("'rootfs' must be a directory")
                has_rootfs = True
        else:
            raise ArchiveError(
                f"unexpected top-level entry {top!r}: an ACI holds only 'manifest' and 'rootfs/'"
            )
        # Writing through a symlink extracted earlier could land outside the store.
        prefix = name.split("/")
        parents = ["/".join(prefix[:i]) for i in range(1, len(prefix))]
        for parent in parents:
            if parent in symlinks:
                raise ArchiveError(
                    f"archive member {name!r} would be written through a symlink"
                )
            if parent in non_dirs:
                raise ArchiveError(f"archive member {name!r} is below {parent!r}, "
                                   "which is not a directory")
        if not m.isdir():
            if name in implied_dirs:
                raise ArchiveError(f"archive member {name!r} is not a directory, but "
                                   "earlier members are below it")
            non_dirs.add(name)
        implied_dirs.update(parents)
        if m.issym():
            if not m.linkname:
                raise ArchiveError(f"symlink {name!r} has an empty target")
            if _resolve_link(name, m.linkname) is None:
                raise ArchiveError(
                    f"symlink {name!r} -> {m.linkname!r} points outside rootfs"
                )
            symlinks.add(name)
        elif m.islnk():
            target = _normalize(m.linkname)
            if not target.startswith(ROOTFS + "/"):
                raise ArchiveError(
                    f"hardlink {name!r} -> {m.linkname!r} points outside rootfs"
                )
            if target == name or target not in non_dirs or target in symlinks:
                raise ArchiveError(
                    f"hardlink {name!r} -> {m.linkname!r} must refer to an earlier regular file"
                )
        elif m.ischr() or m.isblk():
            raise ArchiveError(
                f"archive member {name!r} is a device node; device nodes are not allowed"
            )
        elif not (m.isfile() or m.isdir() or m.isfifo()):
            raise ArchiveError(f"archive member {name!r} has an unsupported type")
        _check_special_bits(name, m)
        if m.isfile():
            total += m.size
            if total > limits.max_total_bytes:
                raise ArchiveError(f"archive content exceeds {limits.max_total_bytes} bytes")
    if not has_manifest:
        raise ArchiveError("archive has no 'manifest' file")
    if not has_rootfs and not any(n.startswith(ROOTFS + "/") for n in seen):
        raise ArchiveError("archive has no 'rootfs' directory")


def _copy(src: IO[bytes], dest: int, size: int) -> None:
    remaining = size
    while remaining > 0:
        chunk = src.read(min(remaining, _CHUNK))
        if not chunk:
            raise ArchiveError("archive is truncated")
        os.write(dest, chunk)
        remaining -= len(chunk)


def _copy_range(tar_fd: int, offset: int, dest: int, size: int) -> None:
    """Copy a member's bytes from a plain tar inside the kernel, not through Python."""
    while size > 0:
        sent = os.sendfile(dest, tar_fd, offset, min(size, 1 << 30))
        if sent == 0:
            raise ArchiveError("archive is truncated")
        offset += sent
        size -= sent


def _manifest_of(tf: tarfile.TarFile, members: list[tarfile.TarInfo], limits: Limits,
                 ) -> ImageManifest:
    for m in members:
        if _normalize(m.name) == MANIFEST:
            f = tf.extractfile(m)
            assert f is not None
            return ImageManifest.from_bytes(f.read(limits.max_manifest_bytes + 1))
    raise ArchiveError("archive has no 'manifest' file")


def read_manifest(path: Path, limits: Limits = DEFAULT_LIMITS) -> ImageManifest:
    """Validate the whole archive's layout and return its parsed manifest."""
    with _open_tar(path) as tf:
        members = tf.getmembers()
        check_members(members, limits)
        return _manifest_of(tf, members, limits)


_NOT_A_TAR = "not a tar file (plain, or gzip, bzip2 or xz compressed)"


@contextmanager
def _open_tar(path: Path, uncompressed: Path | None = None) -> Iterator[tarfile.TarFile]:
    """`path` as a tar, read from `uncompressed` (its tar, see image_digest) if given."""
    try:
        with _open(path, uncompressed) as tf:
            yield tf
    except (tarfile.TarError, EOFError, lzma.LZMAError, OSError) as e:
        if isinstance(e, RktError):
            raise
        # tarfile's "could not be opened" lists every method tried, one per line.
        why = str(e) if "\n" not in str(e) else _NOT_A_TAR
        raise ArchiveError(f"{path}: not a valid ACI archive: {why}") from None


def _open(path: Path, uncompressed: Path | None) -> tarfile.TarFile:
    if uncompressed is None:
        return tarfile.open(path, mode="r:*")
    try:
        # "r:": the copy is the tar inside `path`, which is not to be decompressed again.
        return tarfile.open(uncompressed, mode="r:")
    except tarfile.ReadError:
        # What "r:*" says of `path` when no method opens it; messages name `path`, the
        # file the user gave.
        raise ArchiveError(f"{path}: not a valid ACI archive: {_NOT_A_TAR}") from None


def extract(path: Path, dest: Path, limits: Limits = DEFAULT_LIMITS,
            uncompressed: Path | None = None) -> ImageManifest:
    """Check every member, then extract into `dest` (which must not exist yet).

    Returns the parsed manifest. Ownership is kept when running as root, so that an
    app running as a given uid finds its files as the image author built them.
    `uncompressed`, if given, is `path`'s tar as image_digest left it, read instead.
    """
    try:
        return _extract(path, dest, limits, uncompressed)
    except OSError as e:
        # check_members should make this unreachable; still report it as a bad archive.
        raise ArchiveError(f"{path}: cannot extract: {e}") from None


def _extract(path: Path, dest: Path, limits: Limits,
             uncompressed: Path | None) -> ImageManifest:
    as_root = os.geteuid() == 0
    with _open_tar(path, uncompressed) as tf:
        members = tf.getmembers()
        check_members(members, limits)
        # The manifest is judged before anything is written, like the layout.
        manifest = _manifest_of(tf, members, limits)
        # A plain tar's members are copied straight from its file (see _copy_range).
        plain = uncompressed is not None or compression(path) == "tar"
        tar_fd = cast(BinaryIO, tf.fileobj).fileno() if plain else None
        os.mkdir(dest, 0o755)
        try:
            _write_members(tf, members, dest, as_root, tar_fd)
        except BaseException:
            # Whatever stopped us (a short read, a full disk, ^C): no half-made tree.
            shutil.rmtree(dest, ignore_errors=True)
            raise
    return manifest


def _write_members(tf: tarfile.TarFile, members: list[tarfile.TarInfo], dest: Path,
                   as_root: bool, tar_fd: int | None) -> None:
    dirs: list[tuple[Path, tarfile.TarInfo]] = []
    for m in members:
        name = _normalize(m.name)
        if not name:
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if m.isdir():
            target.mkdir(exist_ok=True)
            dirs.append((target, m))
            continue
        if m.isfile():
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                if tar_fd is not None and not m.issparse():
                    _copy_range(tar_fd, m.offset_data, fd, m.size)
                else:
                    src = tf.extractfile(m)
                    assert src is not None
                    _copy(src, fd, m.size)
            finally:
                os.close(fd)
        elif m.issym():
            os.symlink(m.linkname, target)
        elif m.islnk():
            os.link(dest / _normalize(m.linkname), target, follow_symlinks=False)
            continue  # a hardlink shares its inode's metadata
        elif m.isfifo():
            os.mkfifo(target, 0o600)
        _apply_metadata(target, m, as_root)
    # Directory modes last: a read-only directory must still receive its children.
    for target, m in reversed(dirs):
        _apply_metadata(target, m, as_root)


def _apply_metadata(target: Path, m: tarfile.TarInfo, as_root: bool) -> None:
    if as_root:
        os.lchown(target, m.uid, m.gid)
    if not m.issym():
        # chown clears setuid bits, so the mode goes after it.
        os.chmod(target, stat.S_IMODE(m.mode) & 0o7777)
    os.utime(target, (m.mtime, m.mtime), follow_symlinks=False)
