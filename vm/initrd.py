"""A tiny initrd: busybox plus the virtio modules, packed as a newc cpio.

Debian's own initrd is 37 MB and slower to boot under emulation; the cloud kernel
needs only virtio loaded to find its ext4 root.
"""

from __future__ import annotations

import gzip
import lzma
from dataclasses import dataclass
from pathlib import Path

VIRTIO_MODULES = (
    "virtio_ring",
    "virtio",
    "virtio_pci_modern_dev",
    "virtio_pci_legacy_dev",
    "virtio_pci",
    "virtio_mmio",
    "virtio_blk",
)


@dataclass(frozen=True)
class Entry:
    path: str
    mode: int
    data: bytes = b""


def cpio_newc(entries: list[Entry]) -> bytes:
    """Pack entries in the kernel's initramfs format (newc, no compression)."""
    out = bytearray()
    for ino, entry in enumerate([*entries, Entry("TRAILER!!!", 0)], start=1):
        name = entry.path.encode() + b"\0"
        fields = [ino, entry.mode, 0, 0, 1, 0, len(entry.data), 0, 0, 0, 0, len(name), 0]
        out += b"070701" + b"".join(b"%08X" % field for field in fields) + name
        out += b"\0" * (-len(out) % 4)
        out += entry.data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def find_module(modules_dir: Path, name: str) -> bytes | None:
    """The module's bytes, decompressed if the kernel ships it as .ko.xz."""
    for candidate in modules_dir.rglob(f"{name}.ko*"):
        data = candidate.read_bytes()
        return lzma.decompress(data) if candidate.suffix == ".xz" else data
    return None


def build_initrd(rootfs: Path, init_script: Path, kernel_version: str) -> bytes:
    """Build the gzip-compressed initrd from the image's own busybox and modules."""
    modules_dir = rootfs / "lib/modules" / kernel_version
    entries = [
        Entry("bin", 0o40755),
        Entry("dev", 0o40755),
        Entry("proc", 0o40755),
        Entry("sys", 0o40755),
        Entry("modules", 0o40755),
        Entry("bin/busybox", 0o100755, (rootfs / "bin/busybox").read_bytes()),
        Entry("bin/sh", 0o120777, b"busybox"),
        Entry("init", 0o100755, init_script.read_bytes()),
    ]
    for name in VIRTIO_MODULES:
        data = find_module(modules_dir, name)
        if data is not None:  # built into the kernel: nothing to load
            entries.append(Entry(f"modules/{name}.ko", 0o100644, data))
    return gzip.compress(cpio_newc(entries), compresslevel=6)
