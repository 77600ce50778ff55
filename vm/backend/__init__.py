"""The registry of VM backends, selected by name."""

from __future__ import annotations

import os

from vm.backend.base import CAPABILITIES, Backend

DEFAULT = "qemu"
ENV_BACKEND = "RKT_REF_BACKEND"


def backend_class(name: str) -> type[Backend]:
    # Imported lazily: a backend may need packages the others do not.
    if name == "qemu":
        from vm.backend.qemu import QemuBackend

        return QemuBackend
    raise SystemExit(f"unknown backend {name!r}; choose from: qemu")


def default_name() -> str:
    return os.environ.get(ENV_BACKEND, DEFAULT)


def capabilities_of(name: str) -> frozenset[str]:
    return backend_class(name).capabilities


__all__ = ["CAPABILITIES", "Backend", "backend_class", "capabilities_of", "default_name"]
