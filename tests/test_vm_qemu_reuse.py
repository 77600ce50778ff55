"""A VM kept for reuse: the next one of the same shape is the same qemu reverted to the
saved state, which nothing of the previous machine survives; anything else is a new one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.vmready import why_no_vm
from vm.backend import qemu
from vm.backend.base import Backend, Preparation
from vm.result import CommandResult


@pytest.fixture(autouse=True)
def no_spares() -> Iterator[None]:
    reason = why_no_vm()
    if reason:
        pytest.skip(reason)
    qemu.release_spares()
    yield
    qemu.release_spares()


def _leave_traces(vm: qemu.QemuBackend) -> None:
    assert vm.run(["sh", "-c", "touch /root/left-behind && systemd-run --unit=leftover "
                               "sleep 600 && echo scenario-output >/dev/console"]).ok


def test_a_kept_vm_comes_back_as_the_saved_state_in_the_same_qemu() -> None:
    first = qemu.QemuBackend.obtain(reuse=True)
    first.boot()
    assert first.proc is not None
    pid, workdir = first.proc.pid, first.workdir
    _leave_traces(first)
    assert "scenario-output" in first.console_tail(400)
    first.shutdown()
    assert first.proc is not None and first.proc.poll() is None, "not kept"

    second = qemu.QemuBackend.obtain(reuse=True)
    assert second is first
    second.boot()
    assert second.proc is not None and second.proc.pid == pid
    assert second.run(["test", "-e", "/root/left-behind"]).rc == 1
    assert second.run(["systemctl", "is-active", "leftover"]).stdout.strip() == "inactive"
    assert "scenario-output" not in second.console_tail(400)
    second.shutdown()

    qemu.release_spares()
    assert second.proc is None and not workdir.exists()


def test_without_reuse_the_vm_is_thrown_away() -> None:
    vm = qemu.QemuBackend.obtain()
    vm.boot()
    assert vm.run(["true"]).ok
    vm.shutdown()
    assert vm.proc is None and not vm.workdir.exists()
    other = qemu.QemuBackend.obtain(reuse=True)
    other.shutdown()  # never booted: only its directory to remove
    assert other is not vm and not other.workdir.exists()


def test_a_kept_vm_that_cannot_be_reverted_is_replaced_by_a_new_restore() -> None:
    vm = qemu.QemuBackend.obtain(reuse=True)
    vm.boot()
    _leave_traces(vm)  # console output the revert below then skips
    vm.shutdown()
    assert qemu.QemuBackend.obtain(reuse=True) is vm
    vm.boot()
    assert vm.proc is not None
    old_pid = vm.proc.pid
    _leave_traces(vm)
    vm._hmp(f"delvm {qemu.SNAPSHOT}")  # what a broken snapshot would look like
    vm.shutdown()
    again = qemu.QemuBackend.obtain(reuse=True)
    assert again is vm
    again.boot()  # the revert waits for the first command
    assert again.run(["test", "-e", "/root/left-behind"]).rc == 1
    assert again.proc is not None and again.proc.pid != old_pid
    # the new qemu's console log starts afresh, and the evidence reads it from its start
    assert again.run(["sh", "-c", "echo after-restore >/dev/console"]).ok
    assert "after-restore" in again.console_tail(400)
    again.shutdown()


def test_a_vm_kept_prepared_comes_back_prepared_and_is_not_kept_for_another_preparation(
) -> None:
    applied: list[str] = []

    def preparation(key: str) -> Preparation:
        def apply(backend: Backend) -> None:
            applied.append(key)
            assert backend.run(["touch", f"/root/prepared-{key}"]).ok
        return Preparation(key, apply)

    first = qemu.QemuBackend.obtain(reuse=True)
    first.boot_prepared(preparation("a"))
    assert first.proc is not None
    pid = first.proc.pid
    _leave_traces(first)
    first.shutdown()

    second = qemu.QemuBackend.obtain(reuse=True)
    second.boot_prepared(preparation("a"))
    assert second is first and second.proc is not None and second.proc.pid == pid
    assert applied == ["a"], "prepared again"
    assert second.run(["test", "-e", "/root/prepared-a"]).ok
    assert second.run(["test", "-e", "/root/left-behind"]).rc == 1
    second.shutdown()

    third = qemu.QemuBackend.obtain(reuse=True)
    third.boot_prepared(preparation("b"))
    assert third.proc is not None and third.proc.pid != pid, "reverted to another preparation"
    assert applied == ["a", "b"]
    assert third.run(["test", "-e", "/root/prepared-a"]).rc == 1
    assert third.run(["test", "-e", "/root/prepared-b"]).ok
    third.shutdown()


def test_a_kept_vm_goes_back_to_the_state_its_chain_of_setups_left_with_what_they_said(
) -> None:
    ran: list[str] = []

    def setup(vm: qemu.QemuBackend, key: str) -> CommandResult:
        def action() -> CommandResult:
            ran.append(key)
            return vm.run(["sh", "-c", f"date +%s > /root/setup-{key}; echo did-{key}"])
        return vm.setup(key, action)

    vm = qemu.QemuBackend.obtain(reuse=True)
    vm.boot()
    assert setup(vm, "a").stdout == "did-a\n" and ran == ["a"]
    made = int(vm.run(["cat", "/root/setup-a"]).stdout)
    _leave_traces(vm)
    vm.shutdown()

    vm = qemu.QemuBackend.obtain(reuse=True)
    vm.boot()
    assert vm.run(["test", "-e", "/root/setup-a"]).rc == 1, "the boot kept the setup"
    vm.shutdown()

    vm = qemu.QemuBackend.obtain(reuse=True)
    vm.boot()
    time.sleep(5)  # the snapshot's clock is now at least 5 s behind
    said = setup(vm, "a")
    assert ran == ["a"], "set up again"
    assert said.stdout == "did-a\n" and said.argv == ("sh", "-c", said.argv[2])
    assert int(vm.run(["cat", "/root/setup-a"]).stdout) == made
    assert vm.run(["test", "-e", "/root/left-behind"]).rc == 1
    # the guest's clock is the host's again, not the one of the snapshot
    assert abs(int(vm.run(["date", "+%s"]).stdout) - time.time()) < 3
    # a setup after other commands is done, not looked up
    assert setup(vm, "a").stdout == "did-a\n" and ran == ["a", "a"]
    vm.shutdown()

    vm = qemu.QemuBackend.obtain(reuse=True)
    vm.boot()
    assert setup(vm, "a").stdout == "did-a\n" and setup(vm, "b").stdout == "did-b\n"
    assert ran == ["a", "a", "b"], "b after a was not done"
    vm.shutdown()

    vm = qemu.QemuBackend.obtain(reuse=True)
    vm.boot()
    assert setup(vm, "b").stdout == "did-b\n" and ran == ["a", "a", "b", "b"], \
        "b first was looked up as b after a"
    vm.shutdown()


def test_a_chain_of_setups_found_whole_costs_one_revert(monkeypatch: pytest.MonkeyPatch) -> None:
    def setup(vm: qemu.QemuBackend, key: str) -> str:
        return vm.setup(key, lambda: vm.run(["touch", f"/root/setup-{key}"]).argv[1])

    vm = qemu.QemuBackend.obtain(reuse=True)
    vm.boot()
    assert [setup(vm, "a"), setup(vm, "b")] == ["/root/setup-a", "/root/setup-b"]
    vm.shutdown()

    reverts: list[str] = []
    revert = qemu.QemuBackend._revert

    def counted(self: qemu.QemuBackend, snapshot: str) -> bool:
        reverts.append(snapshot)
        return revert(self, snapshot)

    monkeypatch.setattr(qemu.QemuBackend, "_revert", counted)
    vm = qemu.QemuBackend.obtain(reuse=True)
    vm.boot()
    assert [setup(vm, "a"), setup(vm, "b")] == ["/root/setup-a", "/root/setup-b"]
    assert reverts == []
    assert vm.run(["test", "-e", "/root/setup-a", "-a", "-e", "/root/setup-b"]).ok
    assert reverts == [qemu.setup_snapshot("a\0b")]
    vm.shutdown()


def test_the_least_recently_used_setup_snapshot_is_dropped_beyond_the_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qemu, "MAX_SETUP_SNAPSHOTS", 2)
    ran: list[str] = []

    def first_setup(key: str) -> None:
        def action() -> None:
            ran.append(key)
            assert vm.run(["true"]).ok

        vm = qemu.QemuBackend.obtain(reuse=True)
        vm.boot()
        vm.setup(key, action)
        vm.shutdown()

    for key in ("a", "b", "a", "c", "a", "b"):
        first_setup(key)
    # when c came, b was the least recently used (a had been found again); then a was
    # found, and when b came again, c went
    assert ran == ["a", "b", "c", "b"]
    vm = qemu.QemuBackend.obtain(reuse=True)
    assert vm.qmp is not None
    arguments: dict[str, Any] = {"command-line": "info snapshots"}
    listed = str(vm.qmp.execute("human-monitor-command", **arguments))
    assert qemu.setup_snapshot("a") in listed and qemu.setup_snapshot("b") in listed
    assert qemu.setup_snapshot("c") not in listed
    vm.shutdown()


def test_a_failed_setup_is_not_kept() -> None:
    ran = 0

    def failing(vm: qemu.QemuBackend) -> None:
        nonlocal ran
        ran += 1
        result = vm.run(["sh", "-c", "touch /root/half; exit 3"])
        assert result.ok, "the setup failed"

    for _ in range(2):
        vm = qemu.QemuBackend.obtain(reuse=True)
        vm.boot()
        with pytest.raises(AssertionError, match="the setup failed"):
            vm.setup("fails", lambda: failing(vm))  # noqa: B023 (called at once)
        vm.shutdown()
    assert ran == 2, "a failed setup was looked up"
    vm = qemu.QemuBackend.obtain(reuse=True)
    vm.boot()
    assert vm.run(["test", "-e", "/root/half"]).rc == 1
    vm.shutdown()


def test_a_setup_whose_snapshot_cannot_be_loaded_fails_and_the_next_vm_is_new() -> None:
    ran: list[int] = []

    def setup(vm: qemu.QemuBackend) -> bool:
        def action() -> bool:
            ran.append(1)
            return vm.run(["touch", "/root/setup-x"]).ok
        return vm.setup("x", action)

    vm = qemu.QemuBackend.obtain(reuse=True)
    vm.boot()
    assert setup(vm) and vm.proc is not None
    pid = vm.proc.pid
    vm.shutdown()
    vm = qemu.QemuBackend.obtain(reuse=True)
    vm.boot()
    assert vm.run(["true"]).ok
    vm._hmp(f"delvm {qemu.setup_snapshot('x')}")  # what a broken snapshot would look like
    vm.shutdown()
    vm = qemu.QemuBackend.obtain(reuse=True)
    vm.boot()
    assert setup(vm) and len(ran) == 1  # found; what it returned cannot be had again
    with pytest.raises(qemu.ProtocolError, match="could not go back to the state its setups"):
        vm.run(["true"])
    assert vm.proc is None
    vm.shutdown()
    vm = qemu.QemuBackend.obtain(reuse=True)
    vm.boot()
    assert setup(vm) and len(ran) == 2
    assert vm.proc is not None and vm.proc.pid != pid
    assert vm.run(["test", "-e", "/root/setup-x"]).ok
    vm.shutdown()
