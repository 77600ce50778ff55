"""The pod's systemd stops the app with SIGKILL: the app never gets SIGTERM to exit cleanly."""

from __future__ import annotations

from typing import Any

BREAKS = ("systemctl stop etcd.service will send SIGTERM to stage1's systemd, which in turn "
          "will initiate orderly shutdown inside the pod.")
KILLED_BY = ("-k", "stop_is_orderly")


def apply() -> None:
    from rkt_ref import stage1

    original = stage1.app_service

    def app_service(*args: Any, **kwargs: Any) -> str:
        # [Service] is the unit's last section, so a line appended lands in it.
        return original(*args, **kwargs) + "KillSignal=SIGKILL\n"

    stage1.app_service = app_service
