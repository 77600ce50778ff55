"""Steps about machined's view: ``machinectl list`` and machines coming and going."""

from __future__ import annotations

from pytest_bdd import then

from steps.parse import MachineList, parse_machinectl_list
from steps.vocab import Pod, step
from vm.machine import Machine
from vm.result import CommandResult


def _listing(command: CommandResult) -> MachineList:
    assert command.ok, command.describe()
    return parse_machinectl_list(command.stdout)


@then(step('the machine list shows the pod as a container registered by "{a:q}" or "{b:q}"'))
def lists_pod(vm: Machine, command: CommandResult, pod: Pod, a: str, b: str) -> None:
    vm.record("machinectl list", command.stdout)
    row = _listing(command).get(pod.machine)
    assert row is not None, f"{pod.machine} not listed:\n{command.stdout}"
    assert row.machine_class == "container", row
    assert row.service in (a, b), row


@then("the machine list names nothing but the pod")
def only_pod(command: CommandResult, pod: Pod) -> None:
    assert _listing(command).names() == (pod.machine,), command.stdout


@then("the machine list is empty")
def list_empty(vm: Machine, command: CommandResult) -> None:
    vm.record("machinectl list", command.stdout)
    listing = _listing(command)
    assert listing.rows == (), command.stdout
    assert listing.footer in ("No machines.", "0 machines listed."), command.stdout


@then("no machine is registered")
def none_registered(vm: Machine) -> None:
    rows = parse_machinectl_list(vm.check_output(["machinectl", "list", "--no-legend"])).rows
    assert rows == (), rows


@then(step("the pod's machine is gone within {seconds:d} seconds"))
def machine_gone(vm: Machine, pod: Pod, seconds: int) -> None:
    # Gone means machined no longer knows it at all, not only that its list omits it.
    def gone() -> bool:
        listed = parse_machinectl_list(vm.check_output(["machinectl", "list", "--no-legend"]))
        return listed.get(pod.machine) is None and \
            not vm.run(["machinectl", "show", "--property=State", pod.machine]).ok

    # machined's state file goes with the machine: a sign waited for inside the VM.
    vm.wait_until(gone, timeout=seconds, what=f"{pod.machine} to leave machined",
                  sign=('! [ -e "/run/systemd/machines/$1" ]', pod.machine))
