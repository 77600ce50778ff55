"""The single place where rkt_ref runs or execs other programs.

Everything else builds argv lists and hands them here, so that `--debug` shows each
command exactly once as `+ <argv>` and failures carry the command and its stderr.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence

from . import log
from .errors import CommandError, die

TYPE_CHECKING = False  # typing is not imported at run time (see record.py)
if TYPE_CHECKING:
    import subprocess
    from typing import NoReturn


def which(name: str, path: str | None = None) -> str | None:
    """The executable `name` on `path` (default $PATH), like shutil.which.

    Not shutil itself: it imports bz2 and lzma, about 0.2 s under emulation, for every
    rkt command that runs a program.
    """
    for directory in (path if path is not None else os.environ.get("PATH", os.defpath)
                      ).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _resolve(argv0: str, env: Mapping[str, str] | None = None) -> str:
    if "/" in argv0:
        return argv0
    path = (env or os.environ).get("PATH") or os.defpath
    # Root's PATH inside a unit may be minimal; the sbin dirs hold mount/nsenter helpers.
    path = f"{path}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    found = which(argv0, path)
    if found is None:
        die(f"{argv0}: command not found", hint="install the package that provides it")
    return found


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run argv to completion, capturing stdout and stderr as text."""
    # Imported here: with threading, signal and selectors it costs about 0.05 s under
    # emulation, which `rkt run` would pay before its exec though only its network
    # worker, beside the pod's boot, runs programs.
    import subprocess

    argv = list(argv)
    log.debug("+ %s", shlex.join(argv))
    exe = _resolve(argv[0], env)
    try:
        result = subprocess.run(
            [exe, *argv[1:]],
            input=input,
            capture_output=True,
            text=True,
            env=None if env is None else dict(env),
            check=False,
        )
    except OSError as e:
        die(f"cannot run {argv[0]}: {e.strerror}")
    if check and result.returncode != 0:
        raise CommandError(argv, result.returncode, result.stderr)
    return result


def exec(argv: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """Replace this process with argv: same PID, open inheritable fds stay open."""
    argv = list(argv)
    log.debug("+ exec %s", shlex.join(argv))
    exe = _resolve(argv[0], env)
    # os.execve does not flush Python's buffers; anything printed so far must go out now.
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(exe, argv, dict(env))
    except OSError as e:
        die(f"cannot execute {exe}: {e.strerror}")


def beside(work: Callable[[], object]) -> None:
    """Start work in a process of its own and return at once.

    The worker is a grandchild: its parent exits straight away, so the caller, about to
    exec, leaves no child behind for the new program, and the worker is reaped by the
    service manager. It inherits every open fd (the pod lock too) and ends with
    os._exit, so nothing of this process (atexit, buffers) runs twice.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:
        try:
            if os.fork() == 0:
                _work_then_exit(work)
        finally:
            os._exit(0)
    os.waitpid(child, 0)


def in_child(work: Callable[[], object]) -> int:
    """Run work in a forked child and wait for it: 0 if it returned, else the errno of
    the OSError it raised (1 for any other exception).

    For what has to happen in a process of its own, such as entering a new namespace,
    without a program exec'd for it.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:
        status = 1
        try:
            work()
            status = 0
        except OSError as e:
            status = e.errno or 1
        finally:
            os._exit(status)
    return os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])


def _work_then_exit(work: Callable[[], object]) -> NoReturn:
    status = 1
    try:
        work()
        status = 0
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
