"""A restored guest's clock: set by its first command through clock-exec, never again,
and a clock that could not be set is the harness's failure, not the command's."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from vm.backend import qemu
from vm.backend.base import CommandResult
from vm.protocol import ProtocolError

HELPER_SOURCE = Path(qemu.__file__).parents[1] / "guest" / "clock-exec.c"


class Recorder:
    """Stands in for the agent round trip: keeps each argv, answers with `reply`."""

    def __init__(self) -> None:
        self.argvs: list[list[str]] = []
        self.reply = (0, "", "")

    def __call__(self, argv: Sequence[str], *, input: bytes | None = None,
                 timeout: float = 120) -> CommandResult:
        self.argvs.append(list(argv))
        return CommandResult(tuple(argv), *self.reply)


@pytest.fixture
def restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[qemu.QemuBackend, Recorder]]:
    backend = qemu.QemuBackend(qemu.QemuConfig("tcg"))
    recorder = Recorder()
    monkeypatch.setattr(backend, "_exec", recorder)
    backend._clock_stale = True  # as boot() leaves a restored VM
    yield backend, recorder
    backend.shutdown()


def test_the_first_command_sets_the_clock_and_later_ones_do_not(
        restored: tuple[qemu.QemuBackend, Recorder]) -> None:
    backend, recorder = restored
    assert backend.run(["true"]).ok
    backend.run(["true"])
    first, second = recorder.argvs
    assert first[0] == qemu.CLOCK_EXEC
    seconds, _, nanoseconds = first[1].partition(".")
    assert seconds.isdigit() and len(nanoseconds) == 9 and nanoseconds.isdigit()
    assert first[2:] == second and second[-1] == "true"
    assert qemu.CLOCK_EXEC not in second


def test_a_clock_that_was_not_set_is_a_protocol_error(
        restored: tuple[qemu.QemuBackend, Recorder]) -> None:
    backend, recorder = restored
    recorder.reply = (qemu.CLOCK_FAILED, "", f"{qemu.CLOCK_FAILURE}: Operation not permitted\n")
    with pytest.raises(ProtocolError, match="setting the guest clock failed"):
        backend.run(["true"])


def test_a_command_of_its_own_exiting_125_is_just_its_result(
        restored: tuple[qemu.QemuBackend, Recorder]) -> None:
    backend, recorder = restored
    recorder.reply = (125, "", "some tool: failed\n")
    result = backend.run(["some-tool"])
    assert (result.rc, result.argv) == (125, ("some-tool",))


@pytest.fixture(scope="module")
def helper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed (.ci/run installs it): cannot build clock-exec")
    binary = tmp_path_factory.mktemp("clock") / "clock-exec"
    subprocess.run(["gcc", "-static", "-Os", "-Wall", "-o", str(binary), str(HELPER_SOURCE)],
                   check=True)
    return binary


def _unprivileged(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """argv in a new user namespace, where it may not set the system clock."""
    if shutil.which("unshare") is None:
        pytest.skip("util-linux unshare is not installed")
    return subprocess.run(["unshare", "--user", *argv], capture_output=True, text=True,
                          check=False)


def test_the_helper_exits_125_saying_so_when_it_may_not_set_the_clock(helper: Path) -> None:
    result = _unprivileged([str(helper), "1700000000.000000000", "true"])
    assert result.returncode == qemu.CLOCK_FAILED
    assert result.stderr.startswith(qemu.CLOCK_FAILURE), result.stderr


@pytest.mark.parametrize("stamp", ["", "1700000000.5", "x.000000000", "1700000000.-00000001"])
def test_the_helper_refuses_a_bad_time_before_touching_the_clock(helper: Path,
                                                                 stamp: str) -> None:
    # unprivileged all the same: a time it wrongly took would fail otherwise, not be set
    result = _unprivileged([str(helper), stamp, "true"])
    assert result.returncode == qemu.CLOCK_FAILED
    assert result.stderr.startswith(f"{qemu.CLOCK_FAILURE}: bad time"), result.stderr
