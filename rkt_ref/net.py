"""Pod networking: what `--net` means for the nspawn command line.

`host` shares the host's network namespace; `none` gives the pod only a loopback.
`default` and named CNI networks are the seam for CNI support: until it lands they
run with host networking (and say so at debug level), so ports stay reachable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .errors import die

log = logging.getLogger("rkt")


@dataclass(frozen=True)
class NetPlan:
    nspawn_args: tuple[str, ...] = ()
    # What `rkt list`/`rkt status` report as networks: (name, ip4) pairs.
    networks: tuple[tuple[str, str], ...] = ()
    kind: str = "host"
    requested: tuple[str, ...] = field(default=())


def parse(values: list[str] | None) -> tuple[str, ...]:
    """Normalize --net values (comma separated, repeatable); default is 'default'."""
    nets: list[str] = []
    for v in values or ["default"]:
        nets.extend(x.strip() for x in v.split(",") if x.strip())
    if not nets:
        nets = ["default"]
    for n in nets:
        name = n.split(":", 1)[0]
        if not name:
            die(f"invalid --net value {n!r}")
    if ("host" in nets or "none" in nets) and len(nets) > 1:
        die("--net=host and --net=none cannot be combined with other networks")
    return tuple(nets)


def plan(nets: tuple[str, ...]) -> NetPlan:
    if nets == ("host",):
        return NetPlan(kind="host", requested=nets)
    if nets == ("none",):
        return NetPlan(("--private-network",), kind="none", requested=nets)
    # CNI networks (default, ptp, named configs) are not set up yet: host networking.
    log.debug("networking: CNI networks %s not supported yet; using host networking",
              ",".join(nets))
    return NetPlan(kind="host", requested=nets)
