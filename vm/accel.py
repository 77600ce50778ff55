"""Choose KVM only where real hardware virtualization exists; TCG otherwise.

`/dev/kvm` alone proves nothing: on some hosts it is kvm_pvm, a software
implementation under which a stock kernel crawls and then dies.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

ENV_OVERRIDE = "RKT_REF_ACCEL"
HARDWARE_MODULES = {"kvm_intel", "kvm_amd"}


def cpu_flags(cpuinfo: str) -> set[str]:
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            flags.update(value.split())
    return flags


def choose(cpuinfo: str, modules: Iterable[str], env: Mapping[str, str], kvm_node: bool) -> str:
    """'kvm' or 'tcg' from the facts given; RKT_REF_ACCEL=kvm|tcg overrides."""
    override = env.get(ENV_OVERRIDE, "").strip().lower()
    if override in ("kvm", "tcg"):
        return override
    if override:
        raise SystemExit(f"{ENV_OVERRIDE} must be 'kvm' or 'tcg', not {override!r}")
    loaded = set(modules)
    hardware = bool(cpu_flags(cpuinfo) & {"vmx", "svm"})
    if kvm_node and hardware and loaded & HARDWARE_MODULES and "kvm_pvm" not in loaded:
        return "kvm"
    return "tcg"


def loaded_modules() -> set[str]:
    """Loaded kernel modules, from /proc/modules or, where that is hidden, /sys/module."""
    proc = Path("/proc/modules")
    if proc.exists():
        return {line.split()[0] for line in proc.read_text().splitlines() if line.strip()}
    sys_module = Path("/sys/module")
    return {p.name for p in sys_module.iterdir()} if sys_module.is_dir() else set()


def detect() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    kvm_node = os.access("/dev/kvm", os.R_OK | os.W_OK)
    return choose(cpuinfo, loaded_modules(), os.environ, kvm_node)
