"""A VM kept for reuse: the next one of the same shape is the same qemu reverted to the
saved state, which nothing of the previous machine survives; anything else is a new one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.vmready import why_no_vm
from vm.backend import qemu
from vm.backend.base import Backend, Preparation


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
    again.boot()
    assert again.proc is not None and again.proc.pid != old_pid
    assert again.run(["test", "-e", "/root/left-behind"]).rc == 1
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
