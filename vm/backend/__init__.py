"""The registry of VM backends, selected by name."""

from __future__ import annotations

import os
import sys

from vm.backend.base import CAPABILITIES, Backend, BackendUnavailable

DEFAULT = "qemu"
ENV_BACKEND = "RKT_REF_BACKEND"
# auto: qemu, which picks KVM where it truly works and TCG otherwise (vm.accel).
NAMES = ("qemu", "docker", "nspawn", "auto")


def backend_class(name: str) -> type[Backend]:
    # Imported lazily: a backend may need packages the others do not.
    if name in ("qemu", "auto"):
        from vm.backend.qemu import QemuBackend

        return QemuBackend
    if name == "docker":
        from vm.backend.docker import DockerBackend

        return DockerBackend
    if name == "nspawn":
        from vm.backend.nspawn import NspawnBackend

        return NspawnBackend
    raise SystemExit(f"unknown backend {name!r}; choose from: {', '.join(NAMES)}")


def release_spares() -> None:
    """Shut down the machines backends kept for reuse (only qemu keeps any)."""
    qemu = sys.modules.get("vm.backend.qemu")
    if qemu is not None:
        qemu.release_spares()


def default_name() -> str:
    return os.environ.get(ENV_BACKEND, DEFAULT)


def capabilities_of(name: str) -> frozenset[str]:
    return backend_class(name).capabilities


def unavailable_reason(name: str) -> str | None:
    """Why the named backend cannot run on this host (no engine, no tool), or None."""
    return backend_class(name).unavailable()


__all__ = ["CAPABILITIES", "NAMES", "Backend", "BackendUnavailable", "backend_class",
           "capabilities_of", "default_name", "release_spares", "unavailable_reason"]
