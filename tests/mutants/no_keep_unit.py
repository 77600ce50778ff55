"""nspawn runs without --keep-unit: the pod leaves the service's cgroup for a scope of its own."""

from __future__ import annotations

BREAKS = ("rkt must be the main process of the service in order to support isolators "
          "correctly: the pod stays in the unit's cgroup, under its resource limits.")
KILLED_BY = ("-k", "nothing_of_the_pod_outside_it or cpushares_and_memorylimit_are_applied")


def never_in_service() -> bool:
    return False


def apply() -> None:
    from rkt_ref import nspawn

    nspawn.running_in_service = never_in_service
