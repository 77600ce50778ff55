"""setup_step: a Given made a setup, keyed by the step and what it was given."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from steps.vocab import setup_step
from vm.machine import Machine
from vm.runtime import Runtime

T = TypeVar("T")


class Recording(Machine):
    keys: list[str]

    def setup(self, key: str, action: Callable[[], T]) -> T:
        self.keys.append(key)
        return action()


def recording() -> Recording:
    vm = Recording(backend=None, runtime=Runtime())  # type: ignore[arg-type]
    vm.keys = []
    return vm


@setup_step
def a_unit_file(vm: Machine, path: str, docstring: str, request: Any = None) -> str:
    return path.rsplit("/", 1)[-1]


def test_the_step_keeps_its_signature_for_pytest_bdd() -> None:
    assert list(inspect.signature(a_unit_file).parameters) == ["vm", "path", "docstring",
                                                               "request"]
    assert a_unit_file.__name__ == "a_unit_file"


def test_the_key_is_the_step_and_its_arguments_but_not_the_machine_or_request() -> None:
    vm = recording()
    assert a_unit_file(vm=vm, path="/etc/a.service", docstring="[Unit]",
                       request=object()) == "a.service"
    a_unit_file(vm=vm, path="/etc/a.service", docstring="[Unit]", request=object())
    a_unit_file(vm=vm, path="/etc/a.service", docstring="[Service]", request=object())
    first, same, other = vm.keys
    assert first == same != other
    elsewhere = recording()
    a_unit_file(vm=elsewhere, path="/etc/a.service", docstring="[Unit]")
    assert elsewhere.keys == [first]
    assert "a_unit_file" in first and "/etc/a.service" in first and "[Unit]" in first
    assert "request" not in first and "Recording" not in first
