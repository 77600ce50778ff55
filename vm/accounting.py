"""Where a machine's CPU goes: the kernel's process accounting (acct(2)) inside the guest.

`nox -s spec -- --guest-cpu DIR` turns it on in every scenario's machine and keeps each
machine's record file in DIR; `python -m vm.accounting DIR` sums them by command name.
A record is written when a process exits, with the CPU it used under its last name (so
`rkt run` counts as systemd-nspawn, which it execs); processes still running when the
machine is thrown away (a pod's etcd, systemd itself) are not in it.
"""

from __future__ import annotations

import argparse
import base64
import struct
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vm.machine import Machine

GUEST_FILE = "/var/log/pacct"
# The guest has no accton; its Python turns accounting on.
START = ["python3", "-c",
         "import ctypes, os, sys; open(sys.argv[1], 'w').close(); "
         "libc = ctypes.CDLL(None, use_errno=True); "
         "sys.exit(libc.acct(sys.argv[1].encode()) and os.strerror(ctypes.get_errno()))",
         GUEST_FILE]
SUFFIX = ".pacct"

# struct acct_v3 (linux/acct.h): 64 bytes, version 3 at offset 1; ac_utime and ac_stime
# are comp_t (13-bit mantissa, 3-bit base-8 exponent) in AHZ (100) ticks at 32 and 34;
# ac_comm is 16 bytes at 48.
RECORD = 64
VERSION = 3
AHZ = 100


def start(machine: Machine) -> None:
    """Account every process that exits in the machine from now on."""
    machine.check_output(START)


def collect(machine: Machine, path: Path) -> None:
    """Keep the machine's records so far in path."""
    encoded = machine.check_output(["base64", "-w0", GUEST_FILE])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(encoded))


@dataclass(frozen=True)
class Record:
    """One exited process: its command name and the CPU seconds it used."""

    command: str
    cpu: float


def _comp(value: int) -> int:
    return (value & 0x1FFF) << (3 * (value >> 13))


def parse(data: bytes) -> list[Record]:
    """The acct_v3 records in data; records of another version are skipped."""
    records = []
    for offset in range(0, len(data) - RECORD + 1, RECORD):
        raw = data[offset:offset + RECORD]
        if raw[1] != VERSION:
            continue
        utime, stime = struct.unpack_from("<HH", raw, 32)
        command = raw[48:64].split(b"\0", 1)[0].decode(errors="replace")
        records.append(Record(command, (_comp(utime) + _comp(stime)) / AHZ))
    return records


def summarize(records: Iterable[Record]) -> dict[str, tuple[int, float]]:
    """Command name -> (processes, CPU seconds), the costliest first."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for record in records:
        totals[record.command][0] += 1
        totals[record.command][1] += record.cpu
    ranked = sorted(totals.items(), key=lambda item: -item[1][1])
    return {name: (int(count), cpu) for name, (count, cpu) in ranked}


def table(summary: dict[str, tuple[int, float]], machines: int, top: int) -> str:
    total = sum(cpu for _, cpu in summary.values())
    lines = [f"{machines} machine(s), {total:.1f} s of CPU in exited processes",
             f"{'CPU s':>8} {'share':>6} {'procs':>6} {'s each':>7}  command"]
    for name, (count, cpu) in list(summary.items())[:top]:
        share = cpu / total if total else 0.0
        lines.append(f"{cpu:8.1f} {share:6.1%} {count:6d} {cpu / count:7.3f}  {name}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vm.accounting", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path, help="where --guest-cpu kept the records")
    parser.add_argument("--top", type=int, default=30, help="commands to show (default 30)")
    args = parser.parse_args(argv)
    files = sorted(args.directory.glob(f"*{SUFFIX}"))
    if not files:
        parser.error(f"no {SUFFIX} files in {args.directory}")
    records = [r for path in files for r in parse(path.read_bytes())]
    print(table(summarize(records), len(files), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
