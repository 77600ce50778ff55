"""systemd's socket-passing variables are dropped before nspawn, so the app gets no socket."""

from __future__ import annotations

from collections.abc import Mapping

BREAKS = ("rkt supports socket-activated services: systemd listens on a port on behalf of "
          "a container, and starts the container when receiving a connection.")
KILLED_BY = ("-k", "a_connection_starts_the_pod")


def apply() -> None:
    from rkt_ref import nspawn

    original = nspawn.environment

    def environment(base: Mapping[str, str], *, debug: bool) -> dict[str, str]:
        env = original(base, debug=debug)
        for name in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
            env.pop(name, None)
        return env

    nspawn.environment = environment
