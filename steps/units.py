"""Steps about systemd units: unit files, their state, `systemctl status` and `show`."""

from __future__ import annotations

import posixpath

import pytest
from pytest_bdd import given, then

from steps.cgls import inner_system_slice, pod_systemd_cgroup
from steps.parse import (
    UnitStatus,
    parse_exec_status,
    parse_systemctl_status,
    parse_systemd_run,
)
from steps.query import assert_nspawn_of, leader_pid, main_pid, proc_argv, show
from steps.vocab import Pod, setup_step, step
from vm.machine import Machine
from vm.result import CommandResult


@pytest.fixture
def unit(pod: Pod) -> str:
    """The unit under test; a step that starts or writes one hands its name on instead."""
    return pod.unit


@given(step('the unit file "{path:q}":'), target_fixture="unit")
@setup_step
def unit_file(vm: Machine, path: str, docstring: str) -> str:
    # write_file replaces whatever is there: writing through a mask (a symlink to
    # /dev/null) would silently lose the unit's text.
    vm.write_file(path, docstring + "\n")
    name = posixpath.basename(path)
    # systemd finds a unit file it has not loaded yet by itself (since v246 it looks
    # again whenever its unit directories changed), as the document's workflows rely
    # on: they never run daemon-reload. Only a unit loaded from an older file needs one,
    # and asking loads the new unit. (A reload costs over a second under TCG.)
    if show(vm, name, "NeedDaemonReload")["NeedDaemonReload"] == "yes":
        vm.check_output(["systemctl", "daemon-reload"])
    return name


@given("the host has no etcd service of its own")
@setup_step
def no_host_etcd(vm: Machine) -> None:
    # The VM carries Debian's etcd-server only to build the stand-in image. Its etcd.service,
    # the SysV script /etc/init.d/etcd (which `systemctl enable etcd.service` would
    # synchronise), a mask, and symlinks naming etcd.service (the package's alias
    # etcd2.service, which makes any etcd.service "indirect") would all stand in for, or
    # change the state of, the document's etcd.service. The image is built without them;
    # systemd only needs a reload when something had to go (a reload is seconds under TCG).
    removed = vm.check_output(["rm", "-fv", "/etc/init.d/etcd", "/lib/systemd/system/etcd.service"])
    removed += vm.check_output(["find", "/etc/systemd/system", "(", "-name", "etcd.service",
                                "-o", "-lname", "*/etcd.service", ")", "-print", "-delete"])
    if removed.strip():
        vm.check_output(["systemctl", "daemon-reload"])


@then("systemd-run announces the transient unit it started", target_fixture="unit")
def systemd_run_announces(command: CommandResult) -> str:
    assert command.ok, command.describe()
    # systemd-run announces on stderr; the document's excerpt shows the terminal.
    ran = parse_systemd_run(command.stderr + command.stdout)
    assert ran.unit.startswith("run-") and ran.unit.endswith(".service"), ran
    return ran.unit


@then("the unit is placed in machine.slice")
def placed_in_machine_slice(vm: Machine, unit: str) -> None:
    props = show(vm, unit, "Slice", "ControlGroup")
    assert props["Slice"] == "machine.slice", props
    assert props["ControlGroup"] == f"/machine.slice/{unit}", props


def _wait_state(vm: Machine, unit: str, state: str, seconds: int) -> dict[str, str]:
    def reached() -> dict[str, str]:
        props = show(vm, unit, "ActiveState", "SubState", "Result")
        return props if props["ActiveState"] == state else {}

    return vm.wait_until(reached, timeout=seconds, what=f"{unit} to be {state}")


@then(step("the unit is active within {seconds:d} seconds"))
def unit_active(vm: Machine, unit: str, seconds: int) -> None:
    _wait_state(vm, unit, "active", seconds)


@given(step('the unit "{name:q}" is active within {seconds:d} seconds'), target_fixture="unit")
@then(step('the unit "{name:q}" is active within {seconds:d} seconds'), target_fixture="unit")
def named_unit_active(vm: Machine, name: str, seconds: int) -> str:
    _wait_state(vm, name, "active", seconds)
    return name


@then(step('the unit is inactive with result "{result:q}" within {seconds:d} seconds'))
def unit_inactive(vm: Machine, unit: str, result: str, seconds: int) -> None:
    props = _wait_state(vm, unit, "inactive", seconds)
    assert props["Result"] == result, props


@then("the unit has been restarted at least once")
def restarted(vm: Machine, unit: str) -> None:
    props = show(vm, unit, "NRestarts")
    assert int(props["NRestarts"]) >= 1, props


@then(step('the unit file state of "{name:q}" is "{state:q}"'))
def unit_file_state(vm: Machine, name: str, state: str) -> None:
    assert show(vm, name, "UnitFileState")["UnitFileState"] == state


@then("systemctl explains that the unit has no installation config")
def no_install_section(command: CommandResult) -> None:
    first = (command.stderr or command.stdout).strip().splitlines()[:1]
    assert first and first[0].startswith("The unit files have no installation config"), (
        command.describe()
    )


@then(step('the unit requires and is ordered after "{target:q}"'))
def requires_after(vm: Machine, unit: str, target: str) -> None:
    props = show(vm, unit, "Requires", "After")
    assert target in props["Requires"].split(), props
    assert target in props["After"].split(), props


@then(step('"{target:q}" became active before the unit started'))
def target_before(vm: Machine, unit: str, target: str) -> None:
    reached = int(show(vm, target, "ActiveEnterTimestampMonotonic")[
        "ActiveEnterTimestampMonotonic"])
    started = int(show(vm, unit, "InactiveExitTimestampMonotonic")[
        "InactiveExitTimestampMonotonic"])
    assert reached > 0, f"{target} never became active"
    assert 0 < reached <= started, f"{target} active at {reached}, {unit} started at {started}"


@then("the unit's ExecStartPre exited with status 0")
def exec_start_pre_ok(vm: Machine, unit: str) -> None:
    raw = vm.check_output(["systemctl", "show", "--property=ExecStartPre", "--value", unit])
    runs = parse_exec_status(raw)
    assert runs, f"{unit} has no ExecStartPre: {raw!r}"
    assert all(r.get("code") == "exited" and r.get("status", "").split("/")[0] == "0"
               for r in runs), runs


# -- the unit's main process ------------------------------------------------------------


@then("the unit's main process is systemd-nspawn of the pod")
def main_is_nspawn(vm: Machine, unit: str, pod: Pod) -> None:
    assert_nspawn_of(proc_argv(vm, main_pid(vm, unit)), pod)


@then(step('the unit\'s main process is "{name:q}"'))
def main_is(vm: Machine, unit: str, name: str) -> None:
    pid = main_pid(vm, unit)
    argv = proc_argv(vm, pid)
    comm = vm.check_output(["cat", f"/proc/{pid}/comm"]).strip()
    assert comm == name and posixpath.basename(argv[0]) == name, (pid, comm, argv)


# -- systemctl status -------------------------------------------------------------------


def _status(command: CommandResult) -> UnitStatus:
    # systemctl status exits 3 for an inactive unit: the output still is the status.
    assert command.rc in (0, 3), command.describe()
    return parse_systemctl_status(command.stdout)


@then("the status shows the unit loaded and active (running)")
def status_running(command: CommandResult, unit: str) -> None:
    st = _status(command)
    assert st.unit == unit, st
    assert st.loaded is not None and st.loaded.state == "loaded", st.loaded
    assert st.active is not None and (st.active.state, st.active.substate) == (
        "active", "running"), st.active


@then(step('the status shows the unit "{name:q}" loaded and active ({substate})'))
def status_named(command: CommandResult, name: str, substate: str) -> None:
    st = _status(command)
    assert st.unit == name, st
    assert st.loaded is not None and st.loaded.state == "loaded", st.loaded
    assert st.active is not None and (st.active.state, st.active.substate) == (
        "active", substate), st.active


@then(step('the status shows it listening on "{listen:q}"'))
def status_listen(command: CommandResult, listen: str) -> None:
    assert listen in _status(command).field_lines("Listen")


@then("the status shows systemd-nspawn of the pod as the main PID")
def status_main_pid(vm: Machine, command: CommandResult, pod: Pod) -> None:
    st = _status(command)
    assert st.main_pid is not None and st.main_pid.comm is not None, st.main_pid
    # The process name is systemd-nspawn, or ld-linux-x86-64 when stage1 runs its own
    # nspawn through its ld.so as in the document; the argv tells which program it is.
    assert st.main_pid.comm in ("systemd-nspawn", "ld-linux-x86-64"), st.main_pid
    assert_nspawn_of(proc_argv(vm, st.main_pid.pid), pod)


@then("the status shows the CGroup tree of the unit in machine.slice")
def status_cgroup(command: CommandResult, unit: str) -> None:
    st = _status(command)
    assert st.cgroup_path == f"/machine.slice/{unit}", st.cgroup_path
    assert st.main_pid is not None and st.cgroup is not None
    assert st.cgroup.locate(st.main_pid.pid) is not None, "main PID not in the CGroup tree"


@then(step('the CGroup tree holds the pod\'s systemd, systemd-journald and the app "{app:q}" '
           'running "{exe:q}"'))
def status_tree(vm: Machine, command: CommandResult, pod: Pod, app: str, exe: str) -> None:
    st = _status(command)
    assert st.cgroup is not None
    unit_cg = st.cgroup.root
    leader = leader_pid(vm, pod)
    systemd_cg = pod_systemd_cgroup(unit_cg, leader)
    assert systemd_cg is not None, f"the pod's systemd (PID {leader}) is not in {unit_cg.path}"
    inner = inner_system_slice(unit_cg)
    app_cg = inner.child(f"{app}.service")
    assert app_cg is not None, inner.relative_paths()
    assert exe in (p.executable for p in app_cg.processes), app_cg.processes
    journald = inner.child("systemd-journald.service")
    assert journald is not None, inner.relative_paths()
    assert any(posixpath.basename(p.executable) == "systemd-journald"
               for p in journald.processes), journald.processes
