"""The host side's one subprocess choke point.

Every external command the harness starts on the host goes through `run()` or
`spawn()`, so that each is logged the same way and fails the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import shlex
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger("vm")


class HostCommandError(RuntimeError):
    """A host command exited non-zero; carries the command, its status and stderr."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        super().__init__(f"{shlex.join(self.argv)} exited {returncode}\n{tail}")


def run(
    argv: Sequence[str],
    *,
    input: bytes | None = None,
    capture: bool = True,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run argv to completion; raise HostCommandError on failure unless check=False."""
    log.debug("+ %s", shlex.join(argv))
    proc = subprocess.run(
        list(argv),
        input=input,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace") if proc.stderr else ""
        raise HostCommandError(argv, proc.returncode, stderr)
    return proc


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # The kernel kills the child when the harness dies, even by SIGKILL:
    # no VM may outlive the test run that started it.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(argv: Sequence[str], *, stdin_path: Path | None = None,
          stderr_path: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a long-running host process (qemu...) that dies with this process; its
    stdin is the file at stdin_path, if given."""
    log.debug("+ %s &%s", shlex.join(argv), f" < {stdin_path}" if stdin_path else "")
    with contextlib.ExitStack() as files:
        stdin = files.enter_context(open(stdin_path, "rb")) if stdin_path else subprocess.DEVNULL
        stderr = files.enter_context(open(stderr_path, "wb")) if stderr_path \
            else subprocess.DEVNULL
        return subprocess.Popen(
            list(argv),
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


def process_alive(pid: int) -> bool:
    """Whether pid runs; a zombie (a killed harness not yet reaped) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
