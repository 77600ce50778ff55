"""rkt forks systemd-nspawn and waits for it, instead of exec'ing it."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

BREAKS = ("rkt execs stage1's systemd-nspawn instead of using fork-exec technique. "
          "That is why rkt itself is not listed by ps.")
KILLED_BY = ("-k", "rkt_itself_is_not_in_the_process_list or with_exec_systemdnspawn_of_the_pod")


def fork_and_wait(pod_dir: Path, args: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    os.chdir(pod_dir)
    pid = os.fork()
    if pid == 0:
        os.execve(args[0], list(args), dict(env))
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))


def apply() -> None:
    from rkt_ref import nspawn

    nspawn.exec_pod = fork_and_wait
