"""On SIGTERM nspawn kills the pod's systemd outright instead of asking it to power off."""

from __future__ import annotations

from typing import Any

BREAKS = ("Setting KillMode=mixed means that running systemctl stop etcd.service will send "
          "SIGTERM to stage1's systemd, which in turn will initiate orderly shutdown inside "
          "the pod.")
KILLED_BY = ("-k", "stop_is_orderly")


def apply() -> None:
    from rkt_ref import nspawn

    original = nspawn.argv

    def argv(*args: Any, **kwargs: Any) -> list[str]:
        out = original(*args, **kwargs)
        out.insert(out.index("--"), "--kill-signal=SIGKILL")
        return out

    nspawn.argv = argv
