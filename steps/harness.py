"""Steps about the harness itself: the VM is up and behaves as a systemd host."""

from __future__ import annotations

import re

from pytest_bdd import given, parsers, then, when

from steps.parse.cgls import parse_cgls
from vm.machine import Machine


@given("a disposable VM", target_fixture="machine")
def a_disposable_vm(vm: Machine) -> Machine:
    return vm


@then(parsers.parse('"{command}" in the VM prints "{expected}"'))
def command_prints(machine: Machine, command: str, expected: str) -> None:
    result = machine.run(command.split())
    assert result.stdout.strip() == expected, result.describe()


@when(parsers.parse('I start a transient unit in machine.slice running "{command}"'),
      target_fixture="transient_unit")
def start_transient(machine: Machine, command: str) -> str:
    result = machine.run_expect([0], ["systemd-run", "--slice=machine", *command.split()])
    match = re.search(r"Running as unit:? (\S+?\.service)", result.stderr + result.stdout)
    assert match, result.describe()
    return match.group(1)


@then(parsers.parse('systemd-cgls /machine.slice shows that unit holding "{cmdline}"'))
def cgls_shows(machine: Machine, transient_unit: str, cmdline: str) -> None:
    output = machine.check_output(["systemd-cgls", "--no-pager", "/machine.slice"])
    machine.record("systemd-cgls /machine.slice", output)
    tree = parse_cgls(output)
    nodes = tree.nodes_named(transient_unit)
    assert nodes, f"{transient_unit} not in:\n{output}"
    cmdlines = [process.cmdline for process in nodes[0].all_processes()]
    assert cmdline in cmdlines, f"{cmdline!r} not among {cmdlines} in:\n{output}"
