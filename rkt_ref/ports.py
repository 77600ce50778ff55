"""Port forwarding for `--port NAME:HOSTPORT` of ordinary (not socket-activated) ports.

As rkt does it: two nat chains per pod, `RKT-PFWD-DNAT-<uuid[:8]>` (jumped to from
PREROUTING and OUTPUT for local destinations) rewriting the host port to the pod's
address and port, and `RKT-PFWD-SNAT-<uuid[:8]>` (from POSTROUTING, for connections from
127.0.0.1) masquerading, plus route_localnet on the host side of the pod's link, so that
`localhost:HOSTPORT` reaches the pod too. Socket-activated ports need none of this: systemd
listens on the host and hands the socket to the pod.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from . import log, proc
from .errors import RktError
from .record import record

IPTABLES = "iptables"


@record
class Forward:
    """A host port forwarded to a port of the pod."""

    protocol: str  # "tcp" or "udp"
    host_port: int
    pod_port: int


Rule = tuple[str, tuple[str, ...]]  # (chain, rule spec)


def chain(kind: str, uuid: str) -> str:
    """The stable name of the pod's DNAT or SNAT chain."""
    return f"RKT-PFWD-{kind}-{uuid[:8]}"


def jump_rules(uuid: str) -> list[Rule]:
    """Rules in the built-in nat chains that send traffic to the pod's chains."""
    dnat = ("-m", "addrtype", "--dst-type", "LOCAL", "-j", chain("DNAT", uuid))
    return [
        # connections from this host over loopback
        ("POSTROUTING", ("-s", "127.0.0.1", "!", "-d", "127.0.0.1", "-j", chain("SNAT", uuid))),
        ("PREROUTING", dnat),  # from outside, to an address of this host
        ("OUTPUT", dnat),  # from this host, to an address of this host
    ]


def port_rules(fwd: Forward, pod_ip: str, uuid: str) -> list[Rule]:
    return [
        (chain("DNAT", uuid), ("-d", "0.0.0.0/0", "-p", fwd.protocol,
                               "--dport", str(fwd.host_port), "-j", "DNAT",
                               "--to-destination", f"{pod_ip}:{fwd.pod_port}")),
        (chain("SNAT", uuid), ("-p", fwd.protocol, "-s", "127.0.0.1", "-d", pod_ip,
                               "--dport", str(fwd.pod_port), "-j", "MASQUERADE")),
    ]


def iptables(op: str, rule: Rule) -> list[str]:
    """argv for one rule: -A/-D/-C CHAIN SPEC, or -I CHAIN 1 SPEC."""
    chain_name, spec = rule
    pos = ["1"] if op == "-I" else []
    return [IPTABLES, "-w", "-t", "nat", op, chain_name, *pos, *spec]


def chain_argv(op: str, name: str) -> list[str]:
    """-N (new), -F (flush), -X (delete) or -S (list) of one nat chain."""
    return [IPTABLES, "-w", "-t", "nat", op, name]


def restore_script(uuid: str, pod_ip: str, forwards: Sequence[Forward]) -> str:
    """One `iptables-restore --noflush` batch making the pod's chains, jumps and rules.

    One process instead of a dozen: each iptables run costs a good fraction of a second
    on a slow (emulated) machine, and socket-activated pods wait for their start.
    """
    lines = ["*nat"]
    lines += [f":{chain(kind, uuid)} - [0:0]" for kind in ("DNAT", "SNAT")]
    lines += [" ".join(("-I", c, "1", *spec)) for c, spec in jump_rules(uuid)]
    for fwd in forwards:
        lines += [" ".join(("-A", c, *spec)) for c, spec in port_rules(fwd, pod_ip, uuid)]
    return "\n".join([*lines, "COMMIT", ""])


def unrestore_script(uuid: str) -> str:
    """The batch undoing restore_script(); it fails as a whole if anything is missing."""
    lines = ["*nat"]
    lines += [" ".join(("-D", c, *spec)) for c, spec in jump_rules(uuid)]
    lines += [f"-F {chain(kind, uuid)}" for kind in ("DNAT", "SNAT")]
    lines += [f"-X {chain(kind, uuid)}" for kind in ("DNAT", "SNAT")]
    return "\n".join([*lines, "COMMIT", ""])


RESTORE = ["iptables-restore", "--noflush", "--wait"]


def _host_ifaces(host_ip: str) -> list[str]:
    """Host interfaces carrying the pod network's gateway address (the pod's link)."""
    out = proc.run(["ip", "-o", "-4", "addr", "show"], check=False).stdout
    names = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "inet" and fields[3].split("/")[0] == host_ip:
            names.append(fields[1].split("@")[0])
    return names


def forward(uuid: str, pod_ip: str, host_ip: str, forwards: Sequence[Forward]) -> None:
    """Set up the pod's chains and rules; the caller undoes them with unforward()."""
    proc.run(RESTORE, input=restore_script(uuid, pod_ip, forwards))
    for name in _host_ifaces(host_ip) if host_ip else []:
        p = Path("/proc/sys/net/ipv4/conf") / name / "route_localnet"
        try:
            p.write_text("1")
        except OSError as e:
            raise RktError(f"cannot enable route_localnet on {name}: {e.strerror}") from e


def unforward(uuid: str) -> None:
    """Remove the pod's chains and the jumps to them, whatever is left of them."""
    if proc.run(RESTORE, input=unrestore_script(uuid), check=False).returncode == 0:
        return
    # Something was missing (a half-made setup): remove what there is, one by one.
    for rule in jump_rules(uuid):
        while proc.run(iptables("-C", rule), check=False).returncode == 0:
            if proc.run(iptables("-D", rule), check=False).returncode != 0:
                break
    for kind in ("DNAT", "SNAT"):
        if proc.run(chain_argv("-F", chain(kind, uuid)), check=False).returncode != 0:
            continue  # no such chain
        res = proc.run(chain_argv("-X", chain(kind, uuid)), check=False)
        if res.returncode != 0:
            log.warning("port forwarding: cannot remove chain %s: %s", chain(kind, uuid),
                        res.stderr.strip())
