"""A guest command's deadline, kept from the host: no timeout(1) runs beside each command,
and one that overruns is killed with its descendants and reported as timeout(1) would."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from tests.vmready import why_no_vm
from vm.backend import qemu

HUNG, KILLER = 11, 12


class FakeAgent:
    """guest-exec and guest-exec-status: command HUNG runs until something kills it."""

    def __init__(self, hung: bool) -> None:
        self.hung = hung
        self.execs: list[dict[str, Any]] = []
        self.killed = False

    def execute(self, command: str, timeout: float = 30.0, **arguments: Any) -> Any:
        if command == "guest-exec":
            self.execs.append(arguments)
            if len(self.execs) == 1:
                return {"pid": HUNG}
            self.killed = arguments["arg"][-1] == str(HUNG)
            return {"pid": KILLER}
        assert command == "guest-exec-status"
        if arguments["pid"] == HUNG and self.hung and not self.killed:
            return {"exited": False}
        if arguments["pid"] == HUNG and self.killed:
            return {"exited": True, "signal": 9,
                    "err-data": base64.b64encode(b"partial\n").decode()}
        return {"exited": True, "exitcode": 0,
                "out-data": base64.b64encode(b"done\n").decode()}

    def close(self) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[qemu.QemuBackend]:
    vm = qemu.QemuBackend(qemu.QemuConfig("tcg"))
    yield vm
    vm.shutdown()


def test_a_command_runs_as_given_without_a_timeout_process(backend: qemu.QemuBackend) -> None:
    agent = FakeAgent(hung=False)
    backend.agent = agent  # type: ignore[assignment]
    result = backend.run(["rkt", "list"], timeout=5)
    assert (result.rc, result.stdout) == (0, "done\n")
    assert [(e["path"], e["arg"]) for e in agent.execs] == [("rkt", ["list"])]


def test_a_command_past_its_deadline_is_killed_with_its_tree_and_reported_124(
        backend: qemu.QemuBackend) -> None:
    agent = FakeAgent(hung=True)
    backend.agent = agent  # type: ignore[assignment]
    result = backend.run(["sh", "-c", "sleep 100"], timeout=0.05)
    assert result.rc == qemu.TIMED_OUT
    assert result.stderr == "partial\n[harness: killed after 0 s]\n"
    kill = agent.execs[1]
    assert kill["path"] == "/bin/sh" and kill["arg"] == ["-c", qemu.KILL_TREE, "sh", str(HUNG)]


@pytest.fixture(scope="module")
def vm() -> Iterator[qemu.QemuBackend]:
    reason = why_no_vm()
    if reason:
        pytest.skip(reason)
    machine = qemu.QemuBackend()
    try:
        machine.boot()
        yield machine
    finally:
        machine.shutdown()


def test_in_a_real_guest_the_overrun_command_and_its_children_are_gone(
        vm: qemu.QemuBackend) -> None:
    result = vm.run(["sh", "-c", "sleep 300 & sleep 301; echo not reached"], timeout=3)
    assert result.rc == qemu.TIMED_OUT and "not reached" not in result.stdout
    left = vm.run(["pgrep", "-f", "sleep 30[01]"])
    assert left.rc == 1, f"left running: {left.stdout}"
    assert vm.run(["true"]).ok
