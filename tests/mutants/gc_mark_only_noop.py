"""rkt gc --mark-only does nothing, so an exited pod is never marked as garbage."""

from __future__ import annotations

from typing import Any

BREAKS = "Set ExecStopPost to invoke rkt gc --mark-only to record the timestamp when the pod exits."
KILLED_BY = ("-k", "execstoppost_runs_rkt_gc")


def apply() -> None:
    from rkt_ref import pod

    original = pod.gc

    def gc(pods: Any, policy: Any, **kwargs: Any) -> None:
        if policy.mark_only:
            return
        original(pods, policy, **kwargs)

    pod.gc = gc  # cmd_gc imports it when it runs
