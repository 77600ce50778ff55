"""A guest command's run from the host: no timeout(1) runs beside each command, and one that
overruns is killed with its descendants and reported as timeout(1) would; its end comes
from the guest's exit-watch, with the agent asked only after that (or now and then)."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.vmready import restored_vm
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


# A watched command: its end told by the guest's exit-watch (tests/test_vm_exit_watch.py).

PID = 21


class Agent:
    """guest-exec, and a guest-exec-status that says exited from its `after`-th call on."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.status_calls = 0

    def execute(self, command: str, timeout: float = 30.0, **arguments: Any) -> Any:
        if command == "guest-exec":
            return {"pid": PID}
        self.status_calls += 1
        if self.status_calls < self.after:
            return {"exited": False}
        return {"exited": True, "exitcode": 0, "out-data": base64.b64encode(b"ok\n").decode()}

    def close(self) -> None:
        pass


class Watcher:
    """An exit-watch client that answers for PID once `delay` seconds have passed, or never."""

    def __init__(self, delay: float | None) -> None:
        self.delay = delay
        self.watched: list[int] = []
        self.started = 0.0

    def watch(self, pid: int) -> None:
        self.watched.append(pid)
        self.started = time.monotonic()

    def wait(self, pid: int, deadline: float) -> bool:
        due = None if self.delay is None else self.started + self.delay
        if due is not None and due <= deadline:
            time.sleep(max(0.0, due - time.monotonic()))
            return True
        time.sleep(max(0.0, deadline - time.monotonic()))
        return False

    def close(self) -> None:
        pass


def test_a_watched_command_is_asked_about_once_when_the_guest_says_it_ended(
        backend: qemu.QemuBackend) -> None:
    agent, watcher = Agent(after=1), Watcher(delay=0.3)
    backend.agent, backend.exits = agent, watcher  # type: ignore[assignment]
    result = backend.run(["sleep", "0.3"])
    assert (result.rc, result.stdout) == (0, "ok\n")
    assert watcher.watched == [PID]
    assert agent.status_calls == 1


def test_after_the_answer_the_agent_is_asked_again_until_the_output_is_in(
        backend: qemu.QemuBackend) -> None:
    # the process is gone but something it started still holds its stdout open
    agent, watcher = Agent(after=3), Watcher(delay=0.0)
    backend.agent, backend.exits = agent, watcher  # type: ignore[assignment]
    assert backend.run(["sh", "-c", "true &"]).ok
    assert agent.status_calls == 3


def test_without_an_answer_the_agent_is_still_asked_now_and_then(
        backend: qemu.QemuBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qemu, "WATCH_FALLBACK", 0.05)
    agent, watcher = Agent(after=4), Watcher(delay=None)  # a watcher that has died
    backend.agent, backend.exits = agent, watcher  # type: ignore[assignment]
    started = time.monotonic()
    assert backend.run(["true"], timeout=5).ok
    assert agent.status_calls == 4
    assert time.monotonic() - started < 1


def test_the_kill_script_stops_the_whole_tree_each_parent_first_then_kills_it() -> None:
    # Run here against a real tree, with `kill` (a regular built-in, so a function
    # overrides it) only saying what it was asked.
    tree = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 301; echo not reached"],
                            start_new_session=True)
    try:
        children = Path(f"/proc/{tree.pid}/task/{tree.pid}/children")
        deadline = time.monotonic() + 10
        while len(children.read_text().split()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        said = subprocess.run(["sh", "-c", 'kill() { echo "$@"; }; ' + qemu.KILL_TREE, "sh",
                               str(tree.pid)], capture_output=True, text=True).stdout
        lines = said.splitlines()
        assert len(lines) == 2, f"one stop, then one kill: {said!r}"
        stop, kill = (line.split() for line in lines)
        assert stop[0] == "-STOP" and kill[0] == "-KILL"
        assert stop[1] == str(tree.pid) and len(stop) == 4  # the shell, then its two sleeps
        assert kill[1] == str(tree.pid) and set(stop[1:]) <= set(kill[1:])
    finally:
        os.killpg(tree.pid, signal.SIGKILL)
        tree.wait()


@pytest.fixture(scope="module")
def vm() -> Iterator[qemu.QemuBackend]:
    yield from restored_vm()


def test_in_a_real_guest_the_overrun_command_and_its_children_are_gone(
        vm: qemu.QemuBackend) -> None:
    result = vm.run(["sh", "-c", "sleep 300 & sleep 301; echo not reached"], timeout=3)
    assert result.rc == qemu.TIMED_OUT and "not reached" not in result.stdout
    left = vm.run(["pgrep", "-f", "sleep 30[01]"])
    assert left.rc == 1, f"left running: {left.stdout}"
    assert vm.run(["true"]).ok
