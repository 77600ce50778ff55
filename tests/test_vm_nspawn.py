"""The nspawn backend's command lines, read as data; no container needed."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from vm.backend import CAPABILITIES, NAMES, backend_class, capabilities_of, nspawn
from vm.backend.base import GUEST_ENV
from vm.backend.nspawn import (
    ENTER_CGROUPS,
    cgroup_dirs,
    exec_argv,
    launch_argv,
    nspawn_argv,
)
from vm.run import process_alive, run

ROOTFS = Path("/cache/rootfs-k")


def value_after(argv: list[str], option: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == option]


def test_boots_the_rootfs_with_a_throwaway_overlay() -> None:
    argv = nspawn_argv(ROOTFS, "rkt-ref-x")
    assert argv[0] == "systemd-nspawn"
    assert "--boot" in argv
    assert value_after(argv, "--directory") == [str(ROOTFS)]
    assert "--volatile=overlay" in argv
    assert value_after(argv, "--machine") == ["rkt-ref-x"]


def test_without_systemd_on_the_host_nspawn_neither_registers_nor_makes_a_unit() -> None:
    argv = nspawn_argv(ROOTFS, "m")
    assert "--register=no" in argv and "--keep-unit" in argv


def test_the_machine_has_a_private_network() -> None:
    assert "--private-network" in nspawn_argv(ROOTFS, "m")


def test_a_hybrid_host_gets_the_tracking_hierarchies_only() -> None:
    hierarchies = ["cpu", "memory", "pids", "systemd", "unified"]
    assert cgroup_dirs("tmpfs", hierarchies, "m") == [
        Path("/sys/fs/cgroup/systemd/m"), Path("/sys/fs/cgroup/unified/m")]


def test_a_v2_host_gets_one_cgroup() -> None:
    assert cgroup_dirs("cgroup2fs", [], "m") == [Path("/sys/fs/cgroup/m")]


def test_launch_names_the_log_then_the_cgroups_then_nspawn() -> None:
    argv = launch_argv([Path("/a"), Path("/b")], Path("/log"), ["systemd-nspawn", "--boot"])
    assert argv == ["/bin/sh", "-c", ENTER_CGROUPS, "/log", "/a", "/b", "--",
                    "systemd-nspawn", "--boot"]


def test_launch_moves_itself_into_each_cgroup_before_exec(tmp_path: Path) -> None:
    cgroups = [tmp_path / "one", tmp_path / "two"]
    for directory in cgroups:
        directory.mkdir()
        (directory / "cgroup.procs").write_text("")
    log = tmp_path / "console.log"
    run(launch_argv(cgroups, log, ["/bin/sh", "-c", "echo $$; echo err >&2"]))
    pid, err = log.read_text().split()
    assert err == "err"
    assert [(d / "cgroup.procs").read_text().strip() for d in cgroups] == [pid, pid]


def test_commands_run_as_units_of_the_guest_with_piped_stdio() -> None:
    argv = exec_argv(4242, ["rkt", "list"], 30)
    assert argv[:4] == ["nsenter", "-t", "4242", "-a"]
    unit = argv[4:argv.index("--")]
    assert unit[:3] == ["systemd-run", "--pipe", "--wait"]
    assert value_after(unit, "-E") == [f"{k}={v}" for k, v in GUEST_ENV.items()]
    assert argv[argv.index("--") + 1:] == ["timeout", "--kill-after=5", "30", "rkt", "list"]


def test_capabilities_are_declared_and_honest() -> None:
    caps = backend_class("nspawn").capabilities
    assert caps <= set(CAPABILITIES)
    # Controllers are not delegated to the container on such hosts: no enforced limits.
    assert not caps & {"real-kernel", "console", "cgroup-limits"}
    assert capabilities_of("nspawn") == caps


def test_every_name_is_a_backend_and_auto_is_qemu() -> None:
    assert {backend_class(name).name for name in NAMES} == {"qemu", "docker", "nspawn"}
    assert backend_class("auto") is backend_class("qemu")


def test_an_unknown_backend_is_a_message() -> None:
    with pytest.raises(SystemExit, match="choose from: qemu, docker, nspawn, auto"):
        backend_class("vbox")


def test_a_live_process_is_alive_and_a_missing_one_is_not() -> None:
    assert process_alive(os.getpid())
    assert not process_alive(2**22 + 1)  # above the kernel's pid_max


def test_a_zombie_is_not_alive() -> None:
    # A harness killed but not yet reaped must count as gone, or its VMs are never swept.
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not process_alive(child.pid)
    child.wait()


def test_a_process_without_a_container_child_has_no_leader() -> None:
    assert nspawn.namespace_leader(os.getpid()) is None


def test_empty_cgroups_are_removed_deepest_first(tmp_path: Path) -> None:
    top = tmp_path / "machine"
    (top / "payload" / "init.scope").mkdir(parents=True)
    (top / "supervisor").mkdir()
    nspawn.remove_cgroups([top, tmp_path / "absent"], wait=0)
    assert not top.exists()
