"""The machine facade's waiting, over a backend that runs commands on this host."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar, TypeVar, cast

import pytest

from vm import machine
from vm.backend.base import Backend
from vm.machine import Machine
from vm.result import CommandResult
from vm.runtime import Runtime

T = TypeVar("T")


class Local(Backend):
    name: ClassVar[str] = "local"
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def boot(self) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def run(self, argv: Sequence[str], *, input: bytes | None = None,
            timeout: float = 120) -> CommandResult:
        done = subprocess.run(list(argv), input=input, capture_output=True, timeout=timeout)
        return CommandResult(tuple(argv), done.returncode, done.stdout.decode(),
                             done.stderr.decode())

    def copy_in(self, data: bytes, dest: str, mode: int = 0o644) -> None:
        raise NotImplementedError


def test_a_sign_is_waited_for_in_one_command_then_check_decides(tmp_path: Path) -> None:
    vm = Machine(Local(), Runtime())
    flag = tmp_path / "flag"
    subprocess.Popen(["sh", "-c", f"sleep 0.5; touch {flag}"])
    checks: list[bool] = []

    def check() -> bool:
        checks.append(flag.exists())
        return flag.exists()

    assert vm.wait_until(check, timeout=20, what="the flag", sign=('[ -e "$1" ]', str(flag)))
    assert checks == [True]  # the sign held first: no poll was wasted
    assert [r.argv[:3] for r in vm.transcript] == [("timeout", "20", "sh")]


def test_check_still_decides_when_the_sign_never_comes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "CHECK_AFTER_SIGN", 1.0)
    vm = Machine(Local(), Runtime())
    started = time.monotonic()
    with pytest.raises(AssertionError, match="timed out after .* waiting for nothing"):
        vm.wait_until(lambda: False, timeout=1, what="nothing", interval=0.2,
                      sign=("false",))
    # the sign's second, then the second check always gets
    assert 2 <= time.monotonic() - started < 6


def test_write_file_makes_parents_and_replaces_a_symlink_in_one_command(tmp_path: Path) -> None:
    backend = Local()
    vm = Machine(backend, Runtime())
    masked = tmp_path / "etc" / "masked.service"
    masked.parent.mkdir()
    masked.symlink_to(tmp_path / "null")
    (tmp_path / "null").write_text("")
    vm.write_file(str(masked), "[Unit]\n", 0o600)
    assert not masked.is_symlink() and masked.read_text() == "[Unit]\n"
    assert (tmp_path / "null").read_text() == "", "written through the link"
    assert masked.stat().st_mode & 0o777 == 0o600
    deep = tmp_path / "a" / "b" / "file"
    vm.write_file(str(deep), b"\x00bytes")
    assert deep.read_bytes() == b"\x00bytes" and deep.stat().st_mode & 0o777 == 0o644
    assert len(vm.transcript) == 2


class Keeping(Local):
    """A backend that keeps what each chain of setups returned, as qemu's kept VM does
    (without the snapshots: its setups change nothing on this host)."""

    def __init__(self) -> None:
        self.kept: dict[str, object] = {}
        self.chain: str | None = ""

    def boot(self) -> None:
        self.chain = ""

    def setup(self, key: str, action: Callable[[], T]) -> T:
        if self.chain is None:
            return action()
        chain = f"{self.chain}/{key}"
        if chain not in self.kept:
            self.kept[chain] = action()
        self.chain = chain
        return cast(T, self.kept[chain])

    def run(self, argv: Sequence[str], *, input: bytes | None = None,
            timeout: float = 120) -> CommandResult:
        self.chain = None
        return super().run(argv, input=input, timeout=timeout)


def test_a_setup_found_again_hands_on_its_value_transcript_and_observations() -> None:
    backend = Keeping()
    done: list[str] = []

    def setup(vm: Machine, word: str) -> str:
        def action() -> str:
            done.append(word)
            said = vm.check_output(["echo", word])
            vm.record("said", said)
            return said.strip()
        return vm.setup(word, action)

    first = Machine(backend, Runtime())
    assert [setup(first, "a"), setup(first, "b")] == ["a", "b"] and done == ["a", "b"]
    backend.boot()
    again = Machine(backend, Runtime())
    assert [setup(again, "a"), setup(again, "b")] == ["a", "b"] and done == ["a", "b"]
    assert [r.argv for r in again.transcript] == [("echo", "a"), ("echo", "b")]
    assert again.observations == [("said", "a\n"), ("said", "b\n")]
    # done, not found, once something else ran: its transcript holds it once
    again.run(["true"])
    assert setup(again, "a") == "a" and done == ["a", "b", "a"]
    assert [r.argv for r in again.transcript][-2:] == [("true",), ("echo", "a")]
