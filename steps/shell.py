"""Steps that run the document's commands and write its files, as root in the VM.

The document's ``#`` excerpts are "I run as root", its ``$`` excerpts "I run"; the VM
runs both as root, which changes nothing for these read-only commands. A docstring may name
this run's transient unit or machine as ``<unit>`` / ``<machine>`` where the document shows
the names of its own run (run-29486.service, rkt-2b0b2cec-…).
"""

from __future__ import annotations

import re

import pytest
from pytest_bdd import given, then, when

from steps.vocab import setup_step, step
from vm.machine import Machine
from vm.result import CommandResult

_IMAGE_ID = re.compile(r"^sha512-[0-9a-f]{32}([0-9a-f]{32})?$")


def _resolve(script: str, request: pytest.FixtureRequest) -> str:
    if "<unit>" in script:
        script = script.replace("<unit>", request.getfixturevalue("unit"))
    if "<machine>" in script:
        script = script.replace("<machine>", request.getfixturevalue("pod").machine)
    return script


def run_script(vm: Machine, script: str, request: pytest.FixtureRequest) -> CommandResult:
    """Run the docstring with /bin/sh, one command per line, stopping at the first failure."""
    # `sh -ec SCRIPT`, not "set -e" + a newline: a one-line command then shows in ps and
    # systemd-cgls as one line, as the document's own commands do.
    return vm.run(["/bin/sh", "-ec", _resolve(script, request)], timeout=300)


@when("I run as root:", target_fixture="command")
@when("I run:", target_fixture="command")
def i_run(vm: Machine, docstring: str, request: pytest.FixtureRequest) -> CommandResult:
    return run_script(vm, docstring, request)


@given("the stand-in image is fetched:")
@setup_step
def image_fetched(vm: Machine, docstring: str, request: pytest.FixtureRequest) -> None:
    result = run_script(vm, docstring, request)
    assert result.ok, result.describe()
    # rkt fetch prints the image ID on stdout, and only that.
    ids = result.stdout.split()
    assert len(ids) == 1 and _IMAGE_ID.match(ids[0]), (
        f"rkt fetch should print one image ID (sha512-…):\n{result.describe()}"
    )


@given(step('the file "{path:q}":'))
@setup_step
def a_file(vm: Machine, path: str, docstring: str) -> None:
    vm.write_file(path, docstring + "\n")


@then("the command succeeds")
def command_succeeds(command: CommandResult) -> None:
    assert command.ok, command.describe()
