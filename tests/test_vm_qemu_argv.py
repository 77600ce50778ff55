"""The qemu command line, read as data."""

import os
from pathlib import Path

import pytest

from vm.backend.qemu import MAX_VCPUS, QemuConfig, Sockets, default_vcpus, qemu_argv
from vm.image import Image

IMAGE = Image("k", Path("/cache/image-k"))
SOCKETS = Sockets(Path("/tmp/vm1"))


def value_after(argv: list[str], option: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == option]


def test_tcg_uses_multithreaded_tcg_and_no_kvm() -> None:
    argv = qemu_argv(QemuConfig("tcg"), IMAGE, IMAGE.disk, SOCKETS, snapshot=False)
    assert value_after(argv, "-accel") == ["tcg,thread=multi"]
    assert value_after(argv, "-cpu") == ["max"]


def test_kvm_uses_the_host_cpu() -> None:
    argv = qemu_argv(QemuConfig("kvm"), IMAGE, IMAGE.disk, SOCKETS, snapshot=False)
    assert value_after(argv, "-accel") == ["kvm"]
    assert value_after(argv, "-cpu") == ["host"]


def test_restore_reads_the_state_on_a_throwaway_disk() -> None:
    argv = qemu_argv(QemuConfig("tcg"), IMAGE, Path("/cache/golden/overlay.qcow2"), SOCKETS,
                     snapshot=True, incoming=True)
    (drive,) = value_after(argv, "-drive")
    assert drive.startswith("file=/cache/golden/overlay.qcow2,")
    assert "snapshot=on" in drive.split(",")
    assert value_after(argv, "-incoming") == ["fd:0"]  # the state file is qemu's stdin


def test_boot_and_restore_differ_only_in_disk_and_incoming() -> None:
    # A saved state restores only into the identical machine.
    boot = qemu_argv(QemuConfig("tcg"), IMAGE, IMAGE.disk, SOCKETS, snapshot=False)
    restore = qemu_argv(QemuConfig("tcg"), IMAGE, IMAGE.disk, SOCKETS, snapshot=True,
                        incoming=True)
    assert [a for a in boot if not a.startswith("file=")] == [
        a for a in restore[:-2] if not a.startswith("file=")
    ]


def test_no_network_device_and_an_agent_channel() -> None:
    argv = qemu_argv(QemuConfig("tcg"), IMAGE, IMAGE.disk, SOCKETS, snapshot=False)
    assert value_after(argv, "-nic") == ["none"]
    assert "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0" in argv
    assert value_after(argv, "-kernel") == ["/cache/image-k/vmlinuz"]
    assert "console=ttyS0" in value_after(argv, "-append")[0]


def test_vcpus_share_the_host_cpus_among_the_vms_that_run_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RKT_REF_VM_CPUS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert default_vcpus(1) == 2 and default_vcpus(2) == 1 and default_vcpus(3) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    assert default_vcpus(2) == MAX_VCPUS == 2
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "16")
    assert default_vcpus() == 1
    monkeypatch.setenv("RKT_REF_VM_CPUS", "3")
    assert default_vcpus() == 3
