"""Small queries of the VM's state that several step modules share."""

from __future__ import annotations

from steps.parse import parse_systemctl_show
from steps.parse.ps import is_nspawn_argv
from steps.vocab import Pod
from vm.machine import Machine


def show(vm: Machine, unit: str, *props: str) -> dict[str, str]:
    """``systemctl show -p … UNIT`` as a mapping."""
    argv = ["systemctl", "show", unit]
    for prop in props:
        argv += ["--property", prop]
    return parse_systemctl_show(vm.check_output(argv))


def main_pid(vm: Machine, unit: str) -> int:
    pid = int(show(vm, unit, "MainPID")["MainPID"])
    assert pid > 0, f"{unit} has no main process"
    return pid


def proc_argv(vm: Machine, pid: int) -> tuple[str, ...]:
    """The exact argv of a process, from /proc (no blank-joining as in ps)."""
    raw = vm.check_output(["cat", f"/proc/{pid}/cmdline"])
    return tuple(a for a in raw.split("\0") if a)


def assert_nspawn_of(argv: tuple[str, ...], pod: Pod) -> None:
    __tracebackhide__ = True
    assert is_nspawn_argv(argv), f"not systemd-nspawn: {argv}"
    assert f"--machine={pod.machine}" in argv, f"nspawn is not for {pod.machine}: {argv}"


def leader_pid(vm: Machine, pod: Pod) -> int:
    """The pod's PID 1 as machined knows it (the pod's systemd)."""
    out = vm.check_output(["machinectl", "show", "--property=Leader", "--value", pod.machine])
    return int(out.strip())
