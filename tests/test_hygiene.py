"""Interrupting a VM run, or ending a spec run that kept its VM, leaves no qemu process
and no VM directory behind.

These boot a real VM, so they run only where qemu and the cached image and saved
state already exist (after `nox -s spec` or `python -m vm image` plus one run);
elsewhere they skip, saying so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.vmready import why_no_vm

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(why_no_vm() is not None, reason=str(why_no_vm()))


def _vm_dirs_of(pid: int) -> list[Path]:
    found = []
    for directory in Path(tempfile.gettempdir()).glob("rkt-ref-vm-*"):
        try:
            if int((directory / "owner.pid").read_text()) == pid:
                found.append(directory)
        except (OSError, ValueError):
            continue
    return found


def _qemu_processes_using(directory: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        zombie = stat.rsplit(")", 1)[-1].split()[0] == "Z"
        if b"qemu-system" in cmdline and str(directory).encode() in cmdline and not zombie:
            pids.append(int(proc.name))
    return pids


def _as_from_a_terminal() -> None:
    """SIGINT at its default, as for a command typed at a terminal.

    A shell without job control starts background commands with SIGINT ignored, and the
    child inherits that: under such a CI runner Ctrl-C could never reach the harness.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_leaves_nothing_behind(signum: int) -> None:
    harness = subprocess.Popen(
        [sys.executable, "-m", "vm", "run", "--", "sleep", "120"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        preexec_fn=_as_from_a_terminal,
    )
    try:
        deadline = time.monotonic() + 120
        directories: list[Path] = []
        while not directories or not _qemu_processes_using(directories[0]):
            assert harness.poll() is None, harness.stderr.read() if harness.stderr else ""
            assert time.monotonic() < deadline, "the VM did not start within 120 s"
            time.sleep(0.2)
            directories = _vm_dirs_of(harness.pid)
        # Let the command start in the guest, so the interruption comes mid-run.
        time.sleep(2)
        harness.send_signal(signum)
        harness.wait(timeout=60)
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait()
    assert harness.returncode != 0
    assert not directories[0].exists(), f"{directories[0]} was left behind"
    assert _qemu_processes_using(directories[0]) == []


def test_a_killed_harness_takes_its_vm_with_it() -> None:
    harness = subprocess.Popen([sys.executable, "-m", "vm", "run", "--", "sleep", "120"],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    directories: list[Path] = []
    while not directories or not _qemu_processes_using(directories[0]):
        assert time.monotonic() < deadline, "the VM did not start within 120 s"
        time.sleep(0.2)
        directories = _vm_dirs_of(harness.pid)
    os.kill(harness.pid, signal.SIGKILL)
    harness.wait()
    # PR_SET_PDEATHSIG: the kernel kills qemu with its parent.
    deadline = time.monotonic() + 10
    while _qemu_processes_using(directories[0]):
        assert time.monotonic() < deadline, "qemu outlived the harness killed with SIGKILL"
        time.sleep(0.1)
    # Nothing could clean up in the killed process; the next VM sweeps its directory.
    subprocess.run([sys.executable, "-m", "vm", "run", "--", "true"], cwd=ROOT, check=True)
    assert not directories[0].exists(), "the next run did not sweep the orphaned VM directory"


@pytest.mark.parametrize("signum", [None, signal.SIGTERM], ids=["finished", "SIGTERM"])
def test_a_spec_run_leaves_no_kept_vm_behind(signum: int | None) -> None:
    # The smoke feature's two scenarios: the second gets the first one's VM, reverted.
    harness = subprocess.Popen(
        [sys.executable, "-m", "pytest", "features/test_spec_smoke.py", "-q", "-n", "0",
         "-p", "no:cacheprovider", "-k", "disposable_vm or transient_unit_started_in"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        preexec_fn=_as_from_a_terminal,
    )
    try:
        deadline = time.monotonic() + 120
        directories: list[Path] = []
        while not directories:
            assert harness.poll() is None, harness.stdout.read() if harness.stdout else ""
            assert time.monotonic() < deadline, "the VM did not start within 120 s"
            time.sleep(0.1)
            directories = _vm_dirs_of(harness.pid)
        if signum is not None:
            time.sleep(5)
            harness.send_signal(signum)
        output = harness.communicate(timeout=300)[0].decode(errors="replace")
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait()
    if signum is None:
        assert harness.returncode == 0 and "2 passed" in output, output
    assert not directories[0].exists(), f"{directories[0]} was left behind"
    assert _qemu_processes_using(directories[0]) == []
