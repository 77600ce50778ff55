"""Steps about systemd-cgls: where the pod's processes sit in the cgroup tree.

Two shapes of a pod's cgroups are the document's intent:

* the document's (cgroup v1): nspawn, the pod's systemd and the pod's ``system.slice``
  directly in ``/machine.slice/<unit>``;
* systemd 252 on cgroup v2: nspawn in ``<unit>/supervisor``, the pod in ``<unit>/payload``
  (its systemd in ``payload/init.scope``, its units in ``payload/system.slice``).
"""

from __future__ import annotations

import posixpath

from pytest_bdd import then

from steps.parse import CgroupNode, CgroupTree, is_rkt_argv, parse_cgls, parse_ps_auxf
from steps.query import leader_pid, main_pid
from steps.vocab import Pod, step
from vm.machine import Machine
from vm.result import CommandResult

# Where, relative to the unit's cgroup, each part of the pod may sit.
_INNER_SLICE = ("system.slice", "payload/system.slice")
_POD_SYSTEMD = ("", "payload/init.scope", "payload")
_NSPAWN = ("", "supervisor")


def inner_system_slice(unit_cg: CgroupNode) -> CgroupNode:
    """The pod's own system.slice below the unit's cgroup, in either shape."""
    __tracebackhide__ = True
    for rel in _INNER_SLICE:
        node = unit_cg.find(rel)
        if node is not None:
            return node
    raise AssertionError(f"no pod system.slice below {unit_cg.path}: {unit_cg.relative_paths()}")


def _in(unit_cg: CgroupNode, rels: tuple[str, ...], pid: int) -> CgroupNode | None:
    for rel in rels:
        node = unit_cg.find(rel)
        if node is not None and any(p.pid == pid for p in node.processes):
            return node
    return None


def pod_systemd_cgroup(unit_cg: CgroupNode, leader: int) -> CgroupNode | None:
    """The cgroup holding the pod's systemd (machined's leader PID), if where it belongs."""
    return _in(unit_cg, _POD_SYSTEMD, leader)


def _tree(command: CommandResult) -> CgroupTree:
    assert command.ok, command.describe()
    return parse_cgls(command.stdout)


def _unit_cg(command: CommandResult, unit: str) -> CgroupNode:
    __tracebackhide__ = True
    node = _tree(command).node(f"/machine.slice/{unit}")
    assert node is not None, f"/machine.slice/{unit} is not in the tree:\n{command.stdout}"
    return node


@then("the cgroup tree has the unit in machine.slice")
def unit_in_machine_slice(vm: Machine, command: CommandResult, unit: str) -> None:
    vm.record("systemd-cgls", command.stdout)
    _unit_cg(command, unit)


@then(step('the pod\'s inner system.slice has "{service:q}" running "{exe:q}"'))
def inner_runs(command: CommandResult, unit: str, service: str, exe: str) -> None:
    inner = inner_system_slice(_unit_cg(command, unit))
    node = inner.child(service)
    assert node is not None, f"{service} not in {inner.path}: {inner.relative_paths()}"
    assert exe in (p.executable for p in node.processes), node.processes


@then(step('the pod\'s inner system.slice has "{service:q}" running systemd-journald'))
def inner_journald(command: CommandResult, unit: str, service: str) -> None:
    inner = inner_system_slice(_unit_cg(command, unit))
    node = inner.child(service)
    assert node is not None, f"{service} not in {inner.path}: {inner.relative_paths()}"
    assert any(posixpath.basename(p.executable) == "systemd-journald" for p in node.processes), (
        node.processes
    )


@then(step('the pod\'s inner system.slice has the cgroup "{name:q}"'))
def inner_has(command: CommandResult, unit: str, name: str) -> None:
    inner = inner_system_slice(_unit_cg(command, unit))
    assert inner.child(name) is not None, f"{name} not in {inner.path}: {inner.relative_paths()}"


@then("the unit's cgroup holds the unit's main process")
def holds_main(vm: Machine, command: CommandResult, unit: str) -> None:
    pid = main_pid(vm, unit)
    assert _in(_unit_cg(command, unit), _NSPAWN, pid) is not None, (
        f"main PID {pid} is neither in {unit} nor in its supervisor cgroup:\n{command.stdout}"
    )


@then("the unit's cgroup holds the pod's systemd")
def holds_systemd(vm: Machine, command: CommandResult, unit: str, pod: Pod) -> None:
    leader = leader_pid(vm, pod)
    assert pod_systemd_cgroup(_unit_cg(command, unit), leader) is not None, (
        f"the pod's systemd (PID {leader}) is not where it belongs in:\n{command.stdout}"
    )


@then("every process of the pod is in the unit's cgroup")
def all_in_unit(vm: Machine, command: CommandResult, unit: str) -> None:
    tree = _tree(command)
    forest = parse_ps_auxf(vm.check_output(["ps", "auxf"]))
    main = forest.by_pid(main_pid(vm, unit))
    assert main is not None
    prefix = f"/machine.slice/{unit}"
    for proc in main.walk():
        where = tree.locate(proc.pid)
        if where is None:
            # Started after systemd-cgls ran: read its cgroup directly, if it still exists.
            read = vm.run(["cat", f"/proc/{proc.pid}/cgroup"])
            if not read.ok:
                continue
        path = where[0].path if where else read.stdout.strip().split("::", 1)[-1]
        assert path == prefix or path.startswith(prefix + "/"), (proc.pid, proc.command, path)


@then("the tree shows every cgroup that plain systemd-cgls shows")
def all_superset(vm: Machine, command: CommandResult, unit: str) -> None:
    everything = _unit_cg(command, unit)
    plain = parse_cgls(vm.check_output(["systemd-cgls"])).node(f"/machine.slice/{unit}")
    assert plain is not None
    missing = set(plain.relative_paths()) - set(everything.relative_paths())
    assert not missing, f"--all lacks {sorted(missing)}"


@then(step('plain systemd-cgls does not show the inner "{name:q}"'))
def plain_hides(vm: Machine, unit: str, name: str) -> None:
    output = vm.check_output(["systemd-cgls"])
    unit_cg = parse_cgls(output).node(f"/machine.slice/{unit}")
    assert unit_cg is not None, output
    assert inner_system_slice(unit_cg).child(name) is None, output


def _cgroup_v2(vm: Machine) -> bool:
    return vm.check_output(["stat", "-fc", "%T", "/sys/fs/cgroup"]).strip() == "cgroup2fs"


@then("on cgroup v1 only, the pod's inner system.slice has:")
def v1_lines(vm: Machine, command: CommandResult, unit: str,
             datatable: list[list[str]]) -> None:
    if _cgroup_v2(vm):
        vm.record("cgroup v1 lines not asserted", "the VM runs cgroup v2 (cgroup2fs)")
        return
    inner = inner_system_slice(_unit_cg(command, unit))
    missing = [row[0] for row in datatable[1:] if inner.child(row[0]) is None]
    assert not missing, f"missing in {inner.path}: {missing}"


@then(step('on cgroup v2, the pod\'s inner system.slice has no "{suffix:q}" cgroup'))
def v2_no_mounts(vm: Machine, command: CommandResult, unit: str, suffix: str) -> None:
    if not _cgroup_v2(vm):
        return
    inner = inner_system_slice(_unit_cg(command, unit))
    assert not [n for n in inner.relative_paths() if n.endswith(suffix)], inner.relative_paths()


_SHELLS = ("sh", "dash", "bash")


@then("no rkt or shell process is left in the unit's cgroup")
def no_rkt_or_shell(vm: Machine, unit: str) -> None:
    output = vm.check_output(["systemd-cgls", "--no-pager", f"/machine.slice/{unit}"])
    vm.record(f"systemd-cgls /machine.slice/{unit}", output)
    procs = parse_cgls(output).root.all_processes()
    assert procs, output
    left = [p.cmdline for p in procs
            if is_rkt_argv(p.argv) or posixpath.basename(p.executable) in _SHELLS]
    assert not left, f"left in {unit}: {left}"


@then(step('the unit\'s cgroup file "{name:q}" reads "{value:q}"'))
def cgroup_file(vm: Machine, unit: str, name: str, value: str) -> None:
    path = f"/sys/fs/cgroup/machine.slice/{unit}/{name}"
    assert vm.read_file(path).strip() == value, path


@then(step('every process of the app "{app:q}" runs inside the unit\'s cgroup'))
def app_inside(vm: Machine, unit: str, app: str) -> None:
    # The limits sit on the unit's cgroup; they bind the app only if its cgroup is below.
    output = vm.check_output(["systemd-cgls", "--no-pager", f"/machine.slice/{unit}"])
    vm.record(f"systemd-cgls /machine.slice/{unit}", output)
    nodes = parse_cgls(output).nodes_named(f"{app}.service")
    assert len(nodes) == 1 and nodes[0].processes, output
    checked, outside = 0, []
    for proc in nodes[0].processes:
        where = vm.run(["cat", f"/proc/{proc.pid}/cgroup"])
        if not where.ok:
            continue  # a short-lived child (the app's `sleep 1`) has gone meanwhile
        checked += 1
        if not where.stdout.strip().startswith(f"0::/machine.slice/{unit}/"):
            outside.append((proc.pid, where.stdout.strip()))
    assert checked and not outside, f"app processes outside {unit}: {outside}"
