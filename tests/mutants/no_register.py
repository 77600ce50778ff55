"""The pod is not registered with systemd-machined (--register=no)."""

from __future__ import annotations

from typing import Any

BREAKS = "Every pod is registered with machined with a machine name of the form rkt-$UUID."
KILLED_BY = ("-k", "machinectl_lists_the_pod or systemdrun_starts_the_pod_in_a_transient_unit")


def apply() -> None:
    from rkt_ref import nspawn

    original = nspawn.argv

    def argv(*args: Any, **kwargs: Any) -> list[str]:
        return ["--register=no" if a == "--register=true" else a
                for a in original(*args, **kwargs)]

    nspawn.argv = argv
