"""The project's bench: where the harness and the runtime spend their time.

Machines here are noisy, so what matters are ratios of figures taken side by side in
one run; each figure is the median of several repetitions, with its min and max.
Nothing here asserts a time: it measures and reports.

    python -m vm.bench [--reps N] [--rkt PATH] [--skip-slow] [--backends B...] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from conformance.results import read_run
from vm import accel
from vm import image as image_mod
from vm.backend import NAMES, unavailable_reason
from vm.backend.qemu import QemuBackend, QemuConfig, default_vcpus, ensure_golden, release_spares
from vm.machine import Machine
from vm.run import run
from vm.runtime import Runtime

ETCD = "coreos.com/etcd:v2.2.5"
POD_DEADLINE = 300.0
# Seconds the guest is left alone after a pod is started, before the bench looks for its
# app's first line: each look (journalctl, under emulation) would compete with the pod
# for the guest's CPU. The figure is the line's journal timestamp, whenever it is read.
QUIET = 3.0


@dataclass
class Figure:
    name: str
    unit: str
    samples: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        if self.samples:
            data.update(median=self.median, min=min(self.samples), max=max(self.samples))
        return data


def repeat(name: str, unit: str, reps: int, sample: Callable[[], float], note: str = "") -> Figure:
    figure = Figure(name, unit, note=note)
    for _ in range(reps):
        figure.samples.append(sample())
        print(f"  {name}: {figure.samples[-1]:.3f} {unit}", file=sys.stderr, flush=True)
    return figure


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


# -- image and VM ------------------------------------------------------------------------


def cold_image_build() -> float:
    """A build from nothing, into a throw-away cache."""
    root = image_mod.cache.cache_root()
    with tempfile.TemporaryDirectory(prefix="bench-cache-", dir=root) as tmp:
        previous = os.environ.get("RKT_REF_CACHE")
        os.environ["RKT_REF_CACHE"] = tmp
        try:
            return timed(image_mod.ensure_image)
        finally:
            if previous is None:
                del os.environ["RKT_REF_CACHE"]
            else:
                os.environ["RKT_REF_CACHE"] = previous


def fresh_boot() -> float:
    """From starting qemu to the first command answered, booting the image from scratch."""
    backend = QemuBackend()
    try:
        started = time.monotonic()
        backend.boot_fresh(backend.workdir / "fresh.qcow2")
        backend.run(["true"])
        return time.monotonic() - started
    finally:
        backend.shutdown()


def restore() -> float:
    """From starting qemu to the first command answered, restoring the saved state."""
    backend = QemuBackend()
    try:
        started = time.monotonic()
        backend.boot()
        backend.run(["true"])
        return time.monotonic() - started
    finally:
        backend.shutdown()


def revert(kept: QemuBackend) -> float:
    """From booting a kept VM (its guest reverted to the saved state in the same qemu, as
    the spec's scenarios get their machines) to the first command answered."""
    kept.shutdown()  # kept, stopped, as a scenario leaves it
    assert QemuBackend.obtain(reuse=True) is kept
    started = time.monotonic()
    kept.boot()
    kept.run(["true"])
    return time.monotonic() - started


# -- pods ----------------------------------------------------------------------------------


def first_app_line(machine: Machine, name: str, identifier: str) -> float:
    """Guest time (s) of the app's first journal line in machine `name`; 0 until there is one."""
    result = machine.run(["journalctl", "-M", name, "-o", "json", "--no-pager",
                          f"SYSLOG_IDENTIFIER={identifier}"])
    for line in result.stdout.splitlines():
        return int(json.loads(line)["__REALTIME_TIMESTAMP"]) / 1e6
    return 0.0


def start_unit(machine: Machine, unit: str, argv: list[str], extra: Sequence[str] = ()
               ) -> float:
    """Start argv as a transient service in machine.slice, then leave the guest alone for
    QUIET seconds; return the guest's time of the start."""
    out = machine.check_output(["sh", "-c", 'date +%s.%N; "$@" && sleep "$0"', str(QUIET),
                                "systemd-run", "--quiet", f"--unit={unit}", "--slice=machine",
                                *extra, *argv])
    return float(out.split()[0])


# sh: CPU seconds used so far by unit "$1", and by its pod (nspawn's payload cgroup) and
# nspawn's supervisor cgroup inside it (0 where there is none), one per line.
UNIT_CPU = (
    'cg="/sys/fs/cgroup$(systemctl show -P ControlGroup "$1")"; for d in "" /payload /supervisor; '
    'do sed -n "s/^usage_usec //p" "$cg$d/cpu.stat" 2>/dev/null || echo 0; done'
)


@dataclass(frozen=True)
class UnitCpu:
    """CPU a pod's unit used: in the pod itself, and outside it (the runtime's own work,
    its network plugins, and nspawn before it split off the pod)."""

    total: float
    pod: float
    supervisor: float

    @property
    def outside(self) -> float:
        return self.total - self.pod - self.supervisor


def unit_cpu(machine: Machine, unit: str) -> UnitCpu:
    total, pod, supervisor = (int(line or 0) / 1e6 for line in machine.check_output(
        ["sh", "-c", UNIT_CPU, "sh", unit]).splitlines())
    return UnitCpu(total, pod, supervisor)


def stop_unit(machine: Machine, unit: str) -> float:
    """Seconds `systemctl stop` takes, measured inside the guest."""
    out = machine.check_output(["sh", "-c", f"date +%s.%N; systemctl stop {shlex.quote(unit)}; "
                                            "date +%s.%N"])
    begin, end = map(float, out.split())
    return end - begin


# Set by the service manager for each service, not by the runtime.
SERVICE_ENV = frozenset({"SYSTEMD_EXEC_PID"})


@dataclass(frozen=True)
class NspawnCall:
    """How a runtime ran nspawn for a pod: the command line, the directory, and the
    SYSTEMD_* environment it gave nspawn (cgroup layout, log level, container service)."""

    argv: list[str]
    cwd: str
    env: dict[str, str]

    @classmethod
    def read(cls, machine: Machine, unit: str) -> NspawnCall:
        """The call of unit's main process, which the runtime replaced with nspawn."""
        pid = machine.check_output(["systemctl", "show", "-P", "MainPID", unit]).strip()
        argv, environ = (machine.check_output(["cat", f"/proc/{pid}/{what}"]).split("\0")
                         for what in ("cmdline", "environ"))
        env = dict(v.split("=", 1) for v in environ if v.startswith("SYSTEMD_"))
        return cls([a for a in argv if a],
                   machine.check_output(["readlink", f"/proc/{pid}/cwd"]).strip(),
                   {k: v for k, v in env.items() if k not in SERVICE_ENV})

    def bare(self, name: str) -> tuple[list[str], list[str]]:
        """nspawn's argv and systemd-run's options to boot the same pod as machine `name`,
        with nothing of the runtime around it."""
        # The runtime's network namespace is gone with its pod; a private one keeps the
        # app's view (own loopback, no host ports) without the runtime's CNI work.
        argv = [f"--machine={name}" if arg.startswith("--machine=") else
                "--private-network" if arg.startswith("--network-namespace-path=") else arg
                for arg in self.argv]
        return argv, [f"--property=WorkingDirectory={self.cwd}", "--property=Delegate=yes",
                      *(f"--setenv={k}={v}" for k, v in sorted(self.env.items()))]


@dataclass
class PodBench:
    """Pod start and stop for one runtime, beside a bare nspawn of the same pod directory."""

    machine: Machine
    counter: int = 0
    # each start's unit CPU, read as soon as the app's first line was seen
    rkt_cpu: list[UnitCpu] = field(default_factory=list)
    bare_cpu: list[UnitCpu] = field(default_factory=list)

    def rkt_start(self, *flags: str, keep_cpu: bool = False) -> tuple[float, str]:
        """Start etcd with `rkt run [flags]`: its start time and its unit."""
        self.counter += 1
        unit = f"bench-rkt-{self.counter}"
        uuid_file = f"/run/{unit}.uuid"
        started = start_unit(self.machine, unit,
                             ["rkt", "run", f"--uuid-file-save={uuid_file}", *flags, ETCD])
        uuid = self.machine.wait_until(
            lambda: self.machine.run(["cat", uuid_file]).stdout.strip(),
            timeout=POD_DEADLINE, what=f"{uuid_file}")
        line = self.machine.wait_until(lambda: first_app_line(self.machine, f"rkt-{uuid}", "etcd"),
                                       timeout=POD_DEADLINE, what="etcd's first journal line")
        if keep_cpu:
            self.rkt_cpu.append(unit_cpu(self.machine, unit))
        return line - started, unit

    def bare_start(self, call: NspawnCall) -> float:
        """Boot the same pod directory with nspawn alone: rkt's own work left out."""
        self.counter += 1
        unit = f"bench-bare-{self.counter}"
        name = f"bare-{self.counter}"
        started = start_unit(self.machine, unit, *call.bare(name))
        line = self.machine.wait_until(lambda: first_app_line(self.machine, name, "etcd"),
                                       timeout=POD_DEADLINE, what="etcd's first line (bare nspawn)")
        self.bare_cpu.append(unit_cpu(self.machine, unit))
        stop_unit(self.machine, unit)
        return line - started

    def poweroff(self) -> float:
        """From `machinectl poweroff` to the machine gone, inside the guest."""
        self.rkt_start()
        uuid = self.machine.check_output(["cat", f"/run/bench-rkt-{self.counter}.uuid"]).strip()
        out = self.machine.check_output(["sh", "-c", (
            f"date +%s.%N; machinectl poweroff rkt-{uuid}; "
            f"while machinectl show rkt-{uuid} >/dev/null 2>&1; do sleep 0.05; done; date +%s.%N")],
            timeout=POD_DEADLINE)
        begin, end = map(float, out.split())
        return end - begin


def footprint(machine: Machine, unit: str) -> dict[str, float]:
    """Guest memory in use while the pod runs, and the pod directory's own size."""
    meminfo = dict(line.split(":", 1) for line in machine.read_file("/proc/meminfo").splitlines())

    def kib(key: str) -> int:
        return int(meminfo[key].split()[0])

    uuid = machine.check_output(["sh", "-c", f"cat /run/{unit}.uuid"]).strip()
    size = machine.check_output(["du", "-sxb", f"/var/lib/rkt/pods/run/{uuid}"]).split()[0]
    return {"vm_memory_used_mib": (kib("MemTotal") - kib("MemAvailable")) / 1024,
            "pod_dir_bytes": float(size)}


@dataclass
class PodFigures:
    """One runtime's pod figures, taken side by side with bare nspawn in one VM."""

    start: Figure
    bare: Figure
    # rkt run --net=none: nspawn's --private-network, as bare has, and no CNI plugin
    start_no_net: Figure
    stop: Figure
    poweroff: Figure
    cpu_outside: Figure
    cpu_in_pod: Figure
    bare_cpu_outside: Figure
    bare_cpu_in_pod: Figure
    footprint: dict[str, float]

    @property
    def figures(self) -> list[Figure]:
        return [self.start, self.bare, self.start_no_net, self.stop, self.poweroff,
                self.cpu_outside, self.cpu_in_pod, self.bare_cpu_outside, self.bare_cpu_in_pod]


def pod_figures(runtime: Runtime, reps: int) -> PodFigures:
    """The runtime's pod starts and stops beside bare nspawn's, and the footprint of one."""
    machine = Machine.create("qemu", runtime)
    label = runtime.label
    try:
        machine.run_expect([0], ["rkt", "--insecure-options=image", "fetch", "/srv/aci/etcd.aci"],
                           timeout=POD_DEADLINE)
        bench = PodBench(machine)
        starts = Figure(f"pod start ({label})", "s")
        stops = Figure(f"pod stop: systemctl stop ({label})", "s")
        bare = Figure("pod start (bare nspawn, same pod dir)", "s")
        no_net = Figure(f"pod start, --net=none ({label})", "s",
                        note="the network bare nspawn has: its own, without CNI")
        sizes: dict[str, float] = {}
        for _ in range(reps):
            seconds, unit = bench.rkt_start(keep_cpu=True)
            starts.samples.append(seconds)
            if not sizes:
                sizes = footprint(machine, unit)
            call = NspawnCall.read(machine, unit)
            stops.samples.append(stop_unit(machine, unit))
            bare.samples.append(bench.bare_start(call))
            seconds_no_net, unit = bench.rkt_start("--net=none")
            no_net.samples.append(seconds_no_net)
            stop_unit(machine, unit)
            print(f"  pod start {label} {seconds:.2f} s, bare {bare.samples[-1]:.2f} s, "
                  f"--net=none {seconds_no_net:.2f} s", file=sys.stderr, flush=True)

        def cpu(who: str, cpus: list[UnitCpu], where: str, part: str) -> Figure:
            return Figure(f"pod start CPU: {who} {where}", "s", [getattr(c, part) for c in cpus],
                          note="guest CPU of the unit when the app's first line is seen")

        poweroff = repeat(f"pod stop: machinectl poweroff ({label})", "s", reps,
                          bench.poweroff)
        return PodFigures(
            starts, bare, no_net, stops, poweroff,
            cpu(label, bench.rkt_cpu, "outside the pod", "outside"),
            cpu(label, bench.rkt_cpu, "in the pod", "pod"),
            cpu("bare nspawn", bench.bare_cpu, "outside the pod", "outside"),
            cpu("bare nspawn", bench.bare_cpu, "in the pod", "pod"), sizes)
    finally:
        machine.shutdown()


# -- the whole spec ------------------------------------------------------------------------


@dataclass
class SpecRun:
    """One whole-spec run: its wall time and each scenario's verdict."""

    seconds: float
    verdicts: dict[str, str]


def whole_spec(backend: str, workers: int, reports: Path) -> SpecRun:
    if backend == "qemu":
        # the saved state for this many workers' VM shape, made before the clock starts
        ensure_golden(QemuConfig(accel.detect(), smp=default_vcpus(workers)),
                      image_mod.ensure_image())
    junit = reports / f"spec-{backend}-{workers}.xml"
    argv = [sys.executable, "-m", "pytest", "features", "-q", "-p", "no:randomly",
            "--backend", backend, f"--junitxml={junit}"]
    if workers > 1:
        argv += ["-n", str(workers), "--dist", "loadfile"]
    junit.unlink(missing_ok=True)
    started = time.monotonic()
    result = run(argv, check=False, capture=True)
    elapsed = time.monotonic() - started
    tail = result.stdout.decode(errors="replace").strip().splitlines()[-1:]
    print(f"  whole spec on {backend} with {workers} worker(s): {elapsed:.0f} s {tail}",
          file=sys.stderr, flush=True)
    verdicts = {s.test: str(s.verdict) for s in read_run(junit).scenarios} \
        if junit.is_file() else {}
    return SpecRun(elapsed, verdicts)


def spec_figures(backend: str, reports: Path) -> tuple[list[Figure], dict[str, object]]:
    """The whole spec serial and with 2 workers on one backend, and whether verdicts agree."""
    runs = {n: whole_spec(backend, n, reports) for n in (1, 2)}
    figures = [Figure(f"whole spec on {backend}, {n} worker(s)", "s", [r.seconds],
                      note="one repetition: a run takes minutes") for n, r in runs.items()]
    serial, parallel = runs[1].verdicts, runs[2].verdicts
    differ = sorted(t for t in serial.keys() | parallel.keys()
                    if serial.get(t) != parallel.get(t))
    return figures, {"backend": backend, "scenarios": len(serial),
                     "serial": dict(Counter(serial.values())),
                     "2 workers": dict(Counter(parallel.values())),
                     "verdicts differ": differ}


# -- report --------------------------------------------------------------------------------


def ratio(a: Figure, b: Figure) -> float:
    return a.median / b.median if b.samples and b.median else float("nan")


def table(figures: list[Figure], ratios: dict[str, float], extra: dict[str, float]) -> str:
    lines = [f"{'figure':58} {'median':>9} {'min':>9} {'max':>9}  n"]
    for f in figures:
        if f.samples:
            lines.append(f"{f.name:58} {f.median:9.3f} {min(f.samples):9.3f} "
                         f"{max(f.samples):9.3f}  {len(f.samples)} {f.unit}")
        else:
            lines.append(f"{f.name:58} {'skipped':>9}  {f.note}")
    lines += [f"{name:58} {value:9.2f}" for name, value in ratios.items()]
    lines += [f"{name:58} {value:9.1f}" for name, value in extra.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vm.bench", description=__doc__)
    parser.add_argument("--reps", type=int, default=3, help="repetitions per figure (default 3)")
    parser.add_argument("--rkt", type=Path, help="also measure this rkt implementation")
    parser.add_argument("--skip-slow", action="store_true",
                        help="leave out the cold image build and the whole-spec runs")
    parser.add_argument("--out", type=Path, default=Path("reports/bench.json"))
    parser.add_argument("--backends", nargs="+", default=["qemu", "docker"],
                        choices=NAMES, metavar="BACKEND",
                        help="backends for the whole-spec runs (default: qemu docker)")
    args = parser.parse_args(argv)

    image_mod.ensure_image()
    figures: list[Figure] = []
    slow_note = "left out with --skip-slow"
    if args.skip_slow:
        figures.append(Figure("image: cold build", "s", note=slow_note))
    else:
        figures.append(repeat("image: cold build", "s", 1, cold_image_build,
                              note="one repetition: a build takes minutes"))
    cached = repeat("image: cached (no rebuild)", "s", args.reps,
                    lambda: timed(image_mod.ensure_image))
    restore()  # make sure the saved state exists before timing restores
    fresh = repeat("VM: fresh boot to first command", "s", args.reps, fresh_boot)
    restored = repeat("VM: restore to first command", "s", args.reps, restore)
    kept = QemuBackend.obtain(reuse=True)
    try:
        kept.boot()
        reverted = repeat("VM: revert a kept VM to first command", "s", args.reps,
                          lambda: revert(kept))
    finally:
        kept.reusable = False  # booted by the last revert, so no longer a spare
        kept.shutdown()
        release_spares()
    figures += [cached, fresh, restored, reverted]

    pods = pod_figures(Runtime(None), args.reps)
    figures += pods.figures
    ratios = {"VM: fresh boot / restore": ratio(fresh, restored),
              "VM: restore / revert a kept VM": ratio(restored, reverted),
              "pod start: rkt_ref / bare nspawn": ratio(pods.start, pods.bare),
              "pod start, --net=none: rkt_ref / bare nspawn": ratio(pods.start_no_net,
                                                                    pods.bare),
              "pod start CPU in the pod: rkt_ref / bare nspawn": ratio(pods.cpu_in_pod,
                                                                       pods.bare_cpu_in_pod)}
    if args.rkt:
        other = pod_figures(Runtime(args.rkt.resolve()), args.reps)
        figures += other.figures
        ratios[f"pod start: {args.rkt} / rkt_ref"] = ratio(other.start, pods.start)

    spec_runs: list[dict[str, object]] = []
    for backend in args.backends:
        if args.skip_slow:
            figures += [Figure(f"whole spec on {backend}, {n} worker(s)", "s", note=slow_note)
                        for n in (1, 2)]
            continue
        missing = unavailable_reason(backend)
        if missing:
            figures += [Figure(f"whole spec on {backend}, {n} worker(s)", "s", note=missing)
                        for n in (1, 2)]
            continue
        (serial, parallel), verdicts = spec_figures(backend, args.out.parent)
        figures += [serial, parallel]
        ratios[f"whole spec on {backend}: serial / 2 workers"] = ratio(serial, parallel)
        spec_runs.append(verdicts)

    report = {
        "accel": accel.detect(),
        "host_cpus": os.cpu_count(),
        "figures": [f.as_dict() for f in figures],
        "ratios": ratios,
        "footprint": pods.footprint,
        "whole_spec_verdicts": spec_runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(table(figures, ratios, pods.footprint))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
