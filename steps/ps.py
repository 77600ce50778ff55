"""Steps about ``ps auxf``: rkt exec'd nspawn, which boots the pod's systemd."""

from __future__ import annotations

from pytest_bdd import then

from steps.parse import PsForest, PsProcess, is_nspawn, is_rkt, parse_ps_auxf
from steps.query import main_pid
from steps.vocab import Pod, step
from vm.machine import Machine
from vm.result import CommandResult

# What the document's nspawn passes to the pod's systemd after "--". The document also has
# --log-level=warning, which rkt 1.30's host flavour does not pass: not required.
INNER_ARGS = ("--default-standard-output=tty", "--log-target=null", "--show-status=0")


def _forest(vm: Machine, command: CommandResult) -> PsForest:
    assert command.ok, command.describe()
    vm.record("ps auxf", command.stdout)
    return parse_ps_auxf(command.stdout)


def _nspawn(vm: Machine, command: CommandResult, unit: str) -> PsProcess:
    __tracebackhide__ = True
    pid = main_pid(vm, unit)
    proc = _forest(vm, command).by_pid(pid)
    assert proc is not None, f"main PID {pid} of {unit} not in ps auxf"
    assert is_nspawn(proc), f"main process of {unit} is not systemd-nspawn: {proc.command}"
    return proc


def _pod_systemd(nspawn: PsProcess) -> PsProcess:
    __tracebackhide__ = True
    inits = [c for c in nspawn.children if c.program == "systemd"]
    assert len(inits) == 1, f"nspawn {nspawn.pid} should have one child systemd: {nspawn.children}"
    return inits[0]


@then("the process tree has the unit's main process as systemd-nspawn booting the pod")
def nspawn_main(vm: Machine, command: CommandResult, unit: str, pod: Pod) -> None:
    argv = _nspawn(vm, command, unit).argv
    assert "--boot" in argv, argv
    assert f"--machine={pod.machine}" in argv, argv
    assert f"--uuid={pod.uuid}" in argv, argv
    assert any(a.startswith("--directory=") and a.endswith("stage1/rootfs") for a in argv), argv
    assert "--" in argv, argv
    inner = argv[argv.index("--") + 1 :]
    assert set(INNER_ARGS) <= set(inner), inner


@then("below it the pod's systemd runs with the document's arguments")
def pod_systemd(vm: Machine, command: CommandResult, unit: str) -> None:
    systemd = _pod_systemd(_nspawn(vm, command, unit))
    assert set(INNER_ARGS) <= set(systemd.argv[1:]), systemd.argv


@then(step('below the pod\'s systemd run systemd-journald and "{exe:q}"'))
def pod_children(vm: Machine, command: CommandResult, unit: str, exe: str) -> None:
    systemd = _pod_systemd(_nspawn(vm, command, unit))
    programs = [c.program for c in systemd.children]
    assert "systemd-journald" in programs, systemd.children
    assert exe in (c.argv[0] for c in systemd.children if c.argv), systemd.children


@then("the process tree has no rkt process")
def no_rkt(vm: Machine, command: CommandResult) -> None:
    found = _forest(vm, command).where(is_rkt)
    assert not found, f"rkt should have exec'd nspawn, yet ps shows {[p.command for p in found]}"


@then("the pod's systemd-nspawn runs below the unit's main process")
def nspawn_below_main(vm: Machine, unit: str, pod: Pod) -> None:
    forest = parse_ps_auxf(vm.check_output(["ps", "auxf"]))
    main = forest.by_pid(main_pid(vm, unit))
    assert main is not None
    below = [p for p in main.descendants() if is_nspawn(p) and f"--machine={pod.machine}" in p.argv]
    assert below, f"no systemd-nspawn of {pod.machine} below {main.command}"
