"""The systemd-nspawn command line for a pod, and the final exec into it."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import proc
from .stage1 import UNIT_PATH

TYPE_CHECKING = False  # typing is not imported at run time (see record.py)
if TYPE_CHECKING:
    from typing import NoReturn

NSPAWN = "/usr/bin/systemd-nspawn"
# Arguments for the pod's systemd (after `--`), as rkt passes them.
INIT_ARGS = ("--default-standard-output=tty", "--log-target=null", "--log-level=warning",
             "--show-status=0")
# With --debug the pod's systemd logs to the console (the outer unit's journal).
DEBUG_INIT_ARGS = ("--default-standard-output=tty", "--log-target=console", "--log-level=info",
                   "--show-status=1")


def argv(
    uuid: str,
    *,
    keep_unit: bool,
    extra: Sequence[str] = (),
    nspawn: str = NSPAWN,
    debug: bool = False,
    capabilities: Sequence[Sequence[str]] = (),
) -> list[str]:
    """The nspawn argv; relative --directory, so run it from the pod directory.

    `capabilities` holds each app's capability set: like rkt, one --capability= per app.
    """
    args = [
        nspawn,
        "--boot",
        "--register=true",
        "--link-journal=try-guest",
        "--quiet",
    ]
    if keep_unit:
        args.append("--keep-unit")
    args += [
        f"--uuid={uuid}",
        f"--machine=rkt-{uuid}",
        "--directory=stage1/rootfs",
        # host flavor: the pod's systemd, journald and helpers are the host's own
        "--bind-ro=/usr",
        # ...but not the host's generators: the pod has no fstab, gettys or sysv
        # scripts, and running a dozen generators is most of an idle boot's time.
        "--tmpfs=/usr/lib/systemd/system-generators:mode=0755",
        "--tmpfs=/usr/lib/systemd/system-environment-generators:mode=0755",
        # and only the pod's own unit directory (see stage1.HOST_UNITS)
        f"--setenv=SYSTEMD_UNIT_PATH={UNIT_PATH}",
        *extra,
        *(f"--capability={','.join(caps)}" for caps in capabilities if caps),
        "--",
        *(DEBUG_INIT_ARGS if debug else INIT_ARGS),
    ]
    return args


def environment(base: Mapping[str, str], *, debug: bool) -> dict[str, str]:
    """nspawn's environment; LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES pass through as-is."""
    env = dict(base)
    env["SYSTEMD_NSPAWN_CONTAINER_SERVICE"] = "rkt"
    # nspawn guesses the cgroup layout from the systemd it finds in the tree; stage1's
    # /usr is empty until the bind mount, so it would guess legacy. The pod's systemd is
    # the host's own, which runs on the unified hierarchy.
    env["SYSTEMD_NSPAWN_UNIFIED_HIERARCHY"] = "1"
    if not debug:
        env.setdefault("SYSTEMD_LOG_LEVEL", "err")
    return env


def in_service(cgroup_text: str) -> bool:
    """Whether /proc/self/cgroup puts us in a service (not a scope): then --keep-unit."""
    for line in cgroup_text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[0] == "0":
            return parts[2].rstrip("/").endswith(".service")
    # cgroup v1: use the name=systemd hierarchy
    for line in cgroup_text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[1] == "name=systemd":
            return parts[2].rstrip("/").endswith(".service")
    return False


def running_in_service() -> bool:
    try:
        return in_service(Path("/proc/self/cgroup").read_text())
    except OSError:
        return False


def find_nspawn() -> str:
    if os.access(NSPAWN, os.X_OK):
        return NSPAWN
    return proc.which("systemd-nspawn") or NSPAWN


def exec_pod(pod_dir: Path, args: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """chdir into the pod (ps then shows --directory=stage1/rootfs) and become nspawn."""
    os.chdir(pod_dir)
    proc.exec(args, env)
