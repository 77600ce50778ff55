"""Whether tests that boot a real VM can run here, and if not, why.

They need qemu, the cached VM image of the current recipe and its saved state (made by
`nox -s spec`, or `python -m vm image` plus one `python -m vm run -- true`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from vm import cache, image
from vm.backend import qemu


def why_no_vm() -> str | None:
    """None if a VM can be restored here; otherwise the reason, for pytest's skip."""
    if shutil.which("qemu-system-x86_64") is None:
        return "qemu is not installed"
    key = image.image_key()
    if not (cache.cache_root() / f"image-{key}" / "disk.qcow2").exists():
        return "no cached VM image (run `python -m vm image`)"
    states = [p for p in cache.cache_root().glob("golden-*/image.key") if p.read_text() == key]
    if not states:
        return "no saved VM state for the current image (run `python -m vm run -- true`)"
    return None


def restored_vm() -> Iterator[qemu.QemuBackend]:
    """A VM restored from the saved state, shut down afterwards; for a fixture to yield
    from (the test is skipped where no VM can be restored)."""
    reason = why_no_vm()
    if reason:
        pytest.skip(reason)
    machine = qemu.QemuBackend()
    try:
        machine.boot()
        yield machine
    finally:
        machine.shutdown()
