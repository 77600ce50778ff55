"""The qemu backend: a booted VM saved once, restored per scenario in about half a second.

Boot once from the cached image, wait until systemd says the system is up,
save the whole machine to a state file. Each scenario restores that state on a
throw-away disk overlay, corrects the clock and talks to the guest agent.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

from vm import accel, cache
from vm.backend.base import GUEST_ENV, Backend, Preparation
from vm.image import Image, ensure_image
from vm.protocol import QMP, ExitWatch, GuestAgent, ProtocolError
from vm.result import CommandResult
from vm.run import process_alive, run, spawn

QEMU = "qemu-system-x86_64"
BOOT_TIMEOUT = 300.0
# Before the state is saved: the page cache gets what every scenario touches first, and
# the kernel the modules pods use (overlayfs, veth, and the nat and match modules of
# CNI's ipMasq rules), as on a host that has run a pod; under TCG loading them cost the
# first pod of every restored VM about 2 s.
POD_MODULES = ("overlay", "veth", "nf_tables", "nft_chain_nat", "nft_compat", "nf_nat",
               "xt_MASQUERADE", "xt_addrtype", "xt_comment", "xt_nat", "xt_tcpudp")
WARM_UP = (
    "python3 -c 'import argparse, json, tarfile, hashlib, fcntl, uuid, shlex, "
    "subprocess, urllib.request, gzip, lzma, bz2, datetime, socket, grpc'; "
    "systemd-nspawn --version; machinectl list; journalctl -n0; systemd-cgls --no-pager; "
    f"ps auxf; systemd-run --version; modprobe -a {' '.join(POD_MODULES)}; sync"
)
CHUNK = 256 * 1024
# The image's static helper: clock-exec SECONDS.NNNNNNNNN argv... sets the clock, then
# becomes argv; exit 125 and a message starting with CLOCK_FAILURE when it could not.
CLOCK_EXEC = "/usr/local/sbin/clock-exec"
CLOCK_FAILED = 125
CLOCK_FAILURE = "clock-exec: setting the clock failed"

# A command's deadline is kept from the host: wrapping every command in coreutils'
# timeout cost an extra exec each, about 0.04 s of guest CPU under TCG (670 of them and
# 24 s in a whole-spec run, by the guest's process accounting). At the deadline the command
# and its descendants are killed, and its result is TIMED_OUT, as timeout(1) reports it.
# The whole tree is stopped first, then killed, each parent before its children: killed
# children first, a shell could still run its next command before its own turn came
# (seen under TCG). Those it forked meanwhile are found again once all are stopped.
TIMED_OUT = 124
KILL_GRACE = 10.0
KILL_TREE = (
    'tree() { echo "$1"; for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do '
    'tree "$c"; done; }; p=$(tree "$1"); kill -STOP $p 2>/dev/null; '
    'kill -KILL $(tree "$1") $p 2>/dev/null; true'
)

# A command's end is told by the image's exit-watch (vm/guest/exit-watch.c) on its own
# virtio-serial port, rather than found by asking the agent over and over: that cost the
# guest about 4% of its CPU, and each command up to 50 ms. While it waits for the answer,
# the host still asks the agent every WATCH_FALLBACK seconds, should the watcher be gone.
EXIT_WATCH_PORT = "org.rktref.exits"
WATCH_FALLBACK = 1.0

WORKDIR_PREFIX = "rkt-ref-vm-"

# A VM the spec is done with may be kept, its guest stopped, for the next VM of the same
# shape in this process: reverting it to the saved state (HMP loadvm of an internal
# snapshot taken after its first restore, once the runtime under test was installed)
# beats starting a new qemu, whose guest memory and code translation start cold. Guest
# memory, devices and disk all go back to the snapshot, so each scenario still gets a
# machine nothing has touched, with the runtime in place.
SNAPSHOT = "restored"
REVERT_SYNC = 30.0
# Each chain of a scenario's setups on top of it (setup()) gets a snapshot of its own,
# named by the chain's keys. A revert waits until the guest is next used, so a scenario
# whose setups were all done before by this VM loads one snapshot, that of the last.
SETUP_SNAPSHOT = "setup-{}"
# Each holds the guest's memory, about 0.2 GB of the VM's disk overlay in /var/tmp: at
# most this many are kept, the least recently used dropped (HMP delvm; qcow2 then reuses
# its space). A worker runs a Background's scenarios one after the other, so its chains
# are seldom needed once the next Background's begin.
MAX_SETUP_SNAPSHOTS = 8

T = TypeVar("T")


def setup_snapshot(chain: str) -> str:
    return SETUP_SNAPSHOT.format(hashlib.sha256(chain.encode()).hexdigest()[:16])

_live: set[subprocess.Popen[bytes]] = set()


def sweep_orphans() -> None:
    """Remove VM directories whose harness died without cleaning up (SIGKILL)."""
    for directory in Path(tempfile.gettempdir()).glob(WORKDIR_PREFIX + "*"):
        try:
            owner = int((directory / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if not process_alive(owner):
            shutil.rmtree(directory, ignore_errors=True)


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_live):
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class QemuConfig:
    """The shape of the VM. A saved state only restores into the identical shape."""

    accel: str
    memory_mb: int = 1024
    smp: int = 2
    machine: str = "pc"


MAX_VCPUS = 2

_spares: dict[QemuConfig, QemuBackend] = {}


def release_spares() -> None:
    """Shut down the VMs kept for reuse (at the end of a session)."""
    while _spares:
        _, spare = _spares.popitem()
        spare.reusable = False
        spare.shutdown()


atexit.register(release_spares)


def default_config() -> QemuConfig:
    """The VM shape for this process: KVM where it truly works, and vCPUs per worker."""
    return QemuConfig(accel=accel.detect(), smp=default_vcpus())


def default_vcpus(workers: int | None = None) -> int:
    """vCPUs per VM: the host's CPUs shared by the VMs that run at once, at most 2.

    `workers` defaults to pytest-xdist's worker count (1 without xdist);
    RKT_REF_VM_CPUS overrides. A TCG vCPU thread the host deschedules while it holds a
    guest lock leaves the guest's other vCPU spinning: with 2 workers on 2 cores, the
    whole spec took 363 s with 1 vCPU per VM against 409 s with 2.
    """
    if os.environ.get("RKT_REF_VM_CPUS"):
        return max(1, int(os.environ["RKT_REF_VM_CPUS"]))
    if workers is None:
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    return max(1, min(MAX_VCPUS, len(os.sched_getaffinity(0)) // max(1, workers)))


@dataclass(frozen=True)
class Sockets:
    """Per-VM control endpoints and logs, all inside the VM's private directory."""

    directory: Path

    @property
    def qmp(self) -> Path:
        return self.directory / "qmp.sock"

    @property
    def agent(self) -> Path:
        return self.directory / "qga.sock"

    @property
    def exits(self) -> Path:
        return self.directory / "exits.sock"

    @property
    def console(self) -> Path:
        return self.directory / "console.sock"

    @property
    def console_log(self) -> Path:
        return self.directory / "console.log"


def qemu_argv(
    config: QemuConfig,
    image: Image,
    disk: Path,
    sockets: Sockets,
    *,
    snapshot: bool,
    incoming: bool = False,
) -> list[str]:
    """The full qemu command line; a pure function so tests can read it."""
    drive = f"file={disk},if=virtio,format=qcow2,cache=unsafe,discard=unmap"
    if snapshot:
        drive += ",snapshot=on"
    if config.accel == "kvm":
        cpu = ["-accel", "kvm", "-cpu", "host"]
    else:
        cpu = ["-accel", "tcg,thread=multi", "-cpu", "max"]
    argv = [
        QEMU,
        "-nodefaults", "-no-user-config",
        "-display", "none",
        "-machine", config.machine,
        *cpu,
        "-m", f"{config.memory_mb}M",
        "-smp", str(config.smp),
        "-kernel", str(image.kernel),
        "-initrd", str(image.initrd),
        "-append", image.cmdline,
        "-drive", drive,
        "-nic", "none",
        "-device", "virtio-rng-pci",
        "-device", "virtio-serial-pci",
        "-chardev", f"socket,id=qga0,path={sockets.agent},server=on,wait=off",
        "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
        "-chardev", f"socket,id=exits0,path={sockets.exits},server=on,wait=off",
        "-device", f"virtserialport,chardev=exits0,name={EXIT_WATCH_PORT}",
        "-chardev",
        f"socket,id=ser0,path={sockets.console},server=on,wait=off,logfile={sockets.console_log}",
        "-serial", "chardev:ser0",
        "-qmp", f"unix:{sockets.qmp},server=on,wait=off",
    ]
    if incoming:
        # The saved state is qemu's stdin: read straight from the file, where `exec:cat`
        # put a pipe and a process between (a restore 0.37 -> 0.27 s to the running state,
        # 8 each alternately).
        argv += ["-incoming", "fd:0"]
    return argv


def qemu_version() -> str:
    return run([QEMU, "--version"]).stdout.decode().splitlines()[0]


@dataclass(frozen=True)
class Golden:
    """A booted machine saved to disk: its RAM and device state, and its disk overlay."""

    directory: Path

    @property
    def state(self) -> Path:
        return self.directory / "state"

    @property
    def overlay(self) -> Path:
        return self.directory / "overlay.qcow2"


def say(message: str) -> None:
    print(f"[vm qemu] {message}", file=sys.stderr, flush=True)


class QemuBackend(Backend):
    name: ClassVar[str] = "qemu"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"real-kernel", "cgroup-limits", "network", "console", "unified-cgroup"}
    )

    def __init__(self, config: QemuConfig | None = None, *, reusable: bool = False) -> None:
        self.config = config or default_config()
        # Kept at shutdown for the next obtain(reuse=True), once it has a snapshot to revert to.
        self.reusable = reusable
        # What the kept VM's snapshot holds: the key of the preparation applied before it
        # was taken ("" for none); None while there is no snapshot.
        self._snapshot: str | None = None
        self._preparation: Preparation | None = None
        # Chains of setups (their keys joined by NUL) whose state has a snapshot beside
        # that one, with what the last setup of each returned; the chain the guest is at
        # ("" just booted, None once anything but setups was done in it); and the snapshot
        # to load before the guest is next used.
        self._setups: dict[str, Any] = {}
        self._chain: str | None = None
        self._pending: str | None = None
        self._console_start = 0
        sweep_orphans()
        self.workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
        (self.workdir / "owner.pid").write_text(str(os.getpid()))
        self.sockets = Sockets(self.workdir)
        self.proc: subprocess.Popen[bytes] | None = None
        self.qmp: QMP | None = None
        self.agent: GuestAgent | None = None
        self.exits: ExitWatch | None = None
        self._console: Any = None
        self._console_socket: socket.socket | None = None
        self._clock_stale = False

    # -- lifecycle -----------------------------------------------------------------

    @classmethod
    def obtain(cls, *, reuse: bool = False) -> QemuBackend:
        if reuse and (spare := _spares.pop(default_config(), None)) is not None:
            return spare
        return cls(reusable=reuse)

    def boot(self) -> None:
        self._boot(None)

    def boot_prepared(self, preparation: Preparation) -> None:
        self._boot(preparation)

    def _boot(self, preparation: Preparation | None) -> None:
        """Revert a kept VM, or restore the saved state and apply the preparation.

        A reusable VM's snapshot is taken once prepared, so that reverting to it needs no
        preparation again: a kept VM prepared otherwise is stopped and restored anew.
        """
        key = "" if preparation is None else preparation.key
        self._preparation = preparation
        if self._snapshot is not None:
            if preparation is None or self._snapshot == key:
                self._pending, self._chain = SNAPSHOT, ""  # loaded once the guest is used
                return
            else:
                self._snapshot = None
                self._stop_process()
        self._restore()
        if preparation is not None:
            preparation.apply(self)
        if self.reusable:
            try:
                self._hmp(f"savevm {SNAPSHOT}")
                self._snapshot = key
            except ProtocolError as error:
                say(f"this VM will not be kept for reuse: {error}")
                self.reusable = False
            # the guest's clock stood still while its state was saved
            self._clock_stale = True
        self._chain = ""

    def setup(self, key: str, action: Callable[[], T]) -> T:
        """Go back to the snapshot this chain of setups left in this kept VM, or act and
        take one.

        Only for setups done one after the other from boot, and ones that returned: their
        state is then the same each time. The snapshot lives beside the boot snapshot in
        the VM's own disk overlay, so it goes when the VM does. Loading it waits until the
        guest is next used (_use), so that a chain found whole costs one revert.
        """
        if not (self.reusable and self._snapshot is not None) or self._chain is None:
            return action()
        chain = f"{self._chain}\0{key}" if self._chain else key
        if chain in self._setups:
            self._pending, self._chain = setup_snapshot(chain), chain
            self._setups[chain] = self._setups.pop(chain)  # the most recently used
            return cast(T, self._setups[chain])
        value = action()
        self._use()  # an action that did nothing in the guest leaves the state it found
        self._clock_stale = True  # the guest's clock stands still while it is saved
        try:
            self._hmp(f"savevm {setup_snapshot(chain)}")
        except ProtocolError as error:
            say(f"this VM keeps no state after its setup: {error}")
            return value
        self._setups[chain] = value
        self._chain = chain
        while len(self._setups) > MAX_SETUP_SNAPSHOTS:
            oldest = next(iter(self._setups))
            del self._setups[oldest]
            try:
                self._hmp(f"delvm {setup_snapshot(oldest)}")
            except ProtocolError as error:
                say(f"a setup snapshot stays in this VM's overlay: {error}")
        return value

    def _use(self) -> None:
        """Before the guest is used: load the snapshot a boot or found setups left pending.
        The guest is then no longer at a chain of setups alone.

        A kept VM whose boot snapshot cannot be loaded is replaced by a new restore. One
        whose setup snapshot cannot be loaded cannot be: what those setups returned was
        handed on, and doing them again would not return the same.
        """
        pending, self._pending = self._pending, None
        if pending is not None and not self._revert(pending):
            if pending != SNAPSHOT:
                raise ProtocolError(f"this VM could not go back to the state its setups left "
                                    f"({pending}); it has been thrown away")
            self._boot(self._preparation)
        self._chain = None

    def _restore(self) -> None:
        self._console_start = 0  # a new qemu starts its console log afresh
        image = ensure_image()
        golden = ensure_golden(self.config, image)
        self._start(qemu_argv(self.config, image, golden.overlay, self.sockets,
                              snapshot=True, incoming=True), stdin=golden.state)
        assert self.qmp is not None
        deadline = time.monotonic() + 60
        while self.qmp.execute("query-status")["status"] == "inmigrate":
            if time.monotonic() > deadline:
                raise TimeoutError("restoring the saved VM state took over 60 s")
            time.sleep(0.01)
        self.qmp.execute("cont")
        self._connect_agent(timeout=60)
        self.exits = ExitWatch(str(self.sockets.exits))
        # A restored guest wakes at the time it was saved; the first command sets it.
        self._clock_stale = True

    def _revert(self, snapshot: str) -> bool:
        """Take this kept VM back to a snapshot and wake it; False (and no process) if
        that failed, for boot to restore a new one."""
        try:
            assert self.qmp is not None and self.agent is not None
            self._hmp(f"loadvm {snapshot}")
            if self.exits is not None:
                self.exits.forget()
            self.qmp.execute("cont")
            self.agent.sync(REVERT_SYNC)
        except (ProtocolError, OSError, TimeoutError) as error:
            say(f"reverting a kept VM failed ({error}); restoring a new one")
            self._snapshot = None
            self._stop_process()
            return False
        self._clock_stale = True
        log = self.sockets.console_log
        self._console_start = log.stat().st_size if log.exists() else 0
        return True

    def _hmp(self, command: str) -> None:
        """A human-monitor command, which reports failure as its only output."""
        assert self.qmp is not None
        arguments: dict[str, Any] = {"command-line": command}
        said = self.qmp.execute("human-monitor-command", timeout=120, **arguments)
        if said:
            raise ProtocolError(f"qemu {command}: {said.strip()}")

    def _park(self) -> bool:
        """Keep this VM, stopped, for the next obtain(reuse=True); False if it may not be."""
        if _spares.get(self.config) is self:
            return True
        if not (self.reusable and self._snapshot is not None and self.proc is not None
                and self.proc.poll() is None and self.config not in _spares):
            return False
        self._close_console()
        try:
            assert self.qmp is not None
            self.qmp.execute("stop")
        except (ProtocolError, OSError, TimeoutError):
            return False
        _spares[self.config] = self
        return True

    def boot_fresh(self, overlay: Path, image: Image | None = None) -> None:
        """Boot the image from scratch on `overlay` (created here) until the agent answers."""
        image = image or ensure_image()
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(image.disk),
             str(overlay)])
        self._start(qemu_argv(self.config, image, overlay, self.sockets, snapshot=False))
        self._connect_agent(timeout=BOOT_TIMEOUT)

    def _start(self, argv: list[str], stdin: Path | None = None) -> None:
        self.proc = spawn(argv, stdin_path=stdin, stderr_path=self.workdir / "qemu.stderr")
        _live.add(self.proc)
        try:
            self.qmp = QMP(str(self.sockets.qmp))
        except Exception as error:
            raise RuntimeError(f"qemu did not start: {self._qemu_stderr()}") from error

    def _qemu_stderr(self) -> str:
        path = self.workdir / "qemu.stderr"
        return path.read_text(errors="replace").strip() if path.exists() else ""

    def _connect_agent(self, timeout: float) -> None:
        self.agent = GuestAgent(str(self.sockets.agent))
        try:
            self.agent.sync(timeout)
        except TimeoutError as error:
            raise TimeoutError(f"{error}; console tail:\n{self.console_tail()}") from error

    def _with_clock(self, argv: Sequence[str]) -> list[str]:
        """argv, preceded by setting the guest's clock to the host's if it is still stale.

        Folded into the first command so that a restore costs no extra round trip, by a
        static helper (one cheap exec under TCG, where `sh -c 'date -s ..; exec ..'`
        costs three). Not the agent's guest-set-time: that also runs `hwclock -w`, which
        under TCG costs more than the rest of a restore.
        """
        if not self._clock_stale:
            return list(argv)
        self._clock_stale = False
        now = time.time_ns()
        return [CLOCK_EXEC, f"{now // 10**9}.{now % 10**9:09d}", *argv]

    def shutdown(self) -> None:
        if self._park():
            return
        self._stop_process()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _close_console(self) -> None:
        if self._console_socket is not None:
            self._console_socket.close()
            self._console = self._console_socket = None

    def _stop_process(self) -> None:
        self._close_console()
        for channel in (self.agent, self.qmp, self.exits):
            if channel is not None:
                try:
                    channel.close()
                except OSError:
                    pass
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            _live.discard(self.proc)
            self.proc = None
        self.agent = self.qmp = self.exits = None
        self._setups = {}  # their snapshots went with the process's disk overlay
        self._pending = self._chain = None

    # -- commands ----------------------------------------------------------------------

    def run(
        self, argv: Sequence[str], *, input: bytes | None = None, timeout: float = 120
    ) -> CommandResult:
        self._use()
        result = self._exec(self._with_clock(argv), input=input, timeout=timeout)
        if result.rc == CLOCK_FAILED and result.stderr.startswith(CLOCK_FAILURE):
            raise ProtocolError(f"setting the guest clock failed:\n{result.describe()}")
        return CommandResult(tuple(argv), result.rc, result.stdout, result.stderr)

    def _exec(
        self, argv: Sequence[str], *, input: bytes | None = None, timeout: float = 120
    ) -> CommandResult:
        """One guest-exec round trip: start argv, poll until it exits, collect its output."""
        assert self.agent is not None, "the VM is not booted"
        arguments: dict[str, Any] = {
            "path": argv[0],
            "arg": list(argv[1:]),
            "env": [f"{k}={v}" for k, v in GUEST_ENV.items()],
            "capture-output": True,
        }
        if input is not None:
            arguments["input-data"] = base64.b64encode(input).decode()
        pid = self.agent.execute("guest-exec", **arguments)["pid"]
        exits = self.exits
        if exits is not None:
            exits.watch(pid)
        deadline = time.monotonic() + timeout
        pause = 0.002
        killed = False
        while True:
            if exits is not None and exits.wait(
                    pid, min(deadline, time.monotonic() + WATCH_FALLBACK)):
                exits = None  # it has exited; the agent may still be reading its output
            status = self.agent.execute("guest-exec-status", pid=pid)
            if status.get("exited"):
                break
            if time.monotonic() > deadline:
                if killed:
                    raise TimeoutError(f"{shlex.join(argv)} outlived SIGKILL by {KILL_GRACE} s")
                self._kill_tree(pid)
                killed, deadline = True, time.monotonic() + KILL_GRACE
            if exits is None:
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
        stderr = base64.b64decode(status.get("err-data", "")).decode(errors="replace")
        if killed:
            # what coreutils' timeout would say, which the guest does not run for each command
            rc, stderr = TIMED_OUT, f"{stderr}[harness: killed after {timeout:.0f} s]\n"
        else:
            rc = status.get("exitcode", 128 + status.get("signal", 0))
        return CommandResult(
            tuple(argv),
            rc,
            base64.b64decode(status.get("out-data", "")).decode(errors="replace"),
            stderr,
        )

    def _kill_tree(self, pid: int) -> None:
        """SIGKILL a guest command that overran its deadline, and all its descendants."""
        assert self.agent is not None
        self.agent.execute("guest-exec", path="/bin/sh", arg=["-c", KILL_TREE, "sh", str(pid)])

    def copy_in(self, data: bytes, dest: str, mode: int = 0o644) -> None:
        self._use()
        assert self.agent is not None, "the VM is not booted"
        handle = self.agent.execute("guest-file-open", path=dest, mode="w")
        try:
            for offset in range(0, len(data), CHUNK):
                chunk = base64.b64encode(data[offset : offset + CHUNK]).decode()
                arguments: dict[str, Any] = {"handle": handle, "buf-b64": chunk}
                self.agent.execute("guest-file-write", **arguments)
        finally:
            self.agent.execute("guest-file-close", handle=handle)
        result = self.run(["chmod", f"{mode:o}", dest])
        if not result.ok:
            raise ProtocolError(result.describe())

    def console(self) -> Any:
        """pexpect on the serial console (root is logged in there)."""
        from pexpect import fdpexpect

        self._use()
        if self._console is None:
            # The socket object must outlive the spawn, which only borrows its fd.
            self._console_socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._console_socket.connect(str(self.sockets.console))
            self._console = fdpexpect.fdspawn(self._console_socket.fileno(), encoding="utf-8",
                                              codec_errors="replace", timeout=60)
        return self._console

    def console_output(self) -> bytes:
        """What this machine wrote to its console (a kept VM's log also holds earlier ones')."""
        log = self.sockets.console_log
        if not log.exists():
            return b""
        with log.open("rb") as handle:
            handle.seek(self._console_start)
            return handle.read()

    def console_tail(self, lines: int = 40) -> str:
        output = self.console_output().decode(errors="replace")
        if not output:
            return "(no console output)"
        return "\n".join(output.splitlines()[-lines:])

    def save_evidence(self, directory: Path) -> list[Path]:
        saved: list[Path] = []
        directory.mkdir(parents=True, exist_ok=True)
        if self.sockets.console_log.exists():
            target = directory / "console.log"
            target.write_bytes(self.console_output())
            saved.append(target)
        if self.agent is not None:
            saved += super().save_evidence(directory)
        return saved


def golden_key(config: QemuConfig, image: Image) -> str:
    return cache.content_key([
        ("image", image.key.encode()),
        ("config", repr(config).encode()),
        ("qemu", qemu_version().encode()),
        ("warm-up", WARM_UP.encode()),
        # The machine's shape, as qemu sees it: paths of sockets do not matter.
        ("argv", "\0".join(qemu_argv(config, image, Path("disk"), Sockets(Path("s")),
                                       snapshot=False)).encode()),
    ])


def ensure_golden(config: QemuConfig, image: Image) -> Golden:
    """The saved booted state for this image and VM shape, made once and reused."""
    key = golden_key(config, image)
    root = cache.cache_root()
    golden = Golden(root / f"golden-{key}")
    with cache.locked(root / f"golden-{key}.lock"):
        if golden.state.exists():
            return golden
        make_golden(config, image, golden)
    return golden


def make_golden(config: QemuConfig, image: Image, golden: Golden) -> None:
    started = time.monotonic()
    parent = golden.directory.parent
    staging = Path(tempfile.mkdtemp(prefix=golden.directory.name + ".", dir=parent))
    vm = QemuBackend(config)
    try:
        say(f"booting the image once ({config.accel}) to save a ready state")
        vm.boot_fresh(staging / "overlay.qcow2", image)
        state = vm.run(["systemctl", "is-system-running", "--wait"], timeout=BOOT_TIMEOUT)
        if state.stdout.strip() not in ("running", "degraded"):
            raise RuntimeError(f"the VM did not come up: {state.describe()}")
        if state.stdout.strip() == "degraded":
            failed = vm.run(["systemctl", "--failed", "--no-legend", "--plain"])
            say(f"the VM is degraded; failed units:\n{failed.stdout}")
        watcher = vm.run(["systemctl", "is-active", "exit-watch.service"])
        if watcher.stdout.strip() != "active":
            raise RuntimeError(f"the image's exit-watch is not running: {watcher.describe()}")
        # Warm the page cache with what every scenario touches first, so a restored
        # VM does not start by reading python and systemd's tools from disk.
        vm.run(["sh", "-c", WARM_UP])
        assert vm.qmp is not None
        vm.qmp.execute("stop")
        target = staging / "state"
        vm.qmp.execute("migrate", uri=f"exec:cat > {shlex.quote(str(target))}")
        deadline = time.monotonic() + 120
        while (status := vm.qmp.execute("query-migrate").get("status")) != "completed":
            if status == "failed" or time.monotonic() > deadline:
                raise RuntimeError(f"saving the VM state failed ({status})")
            time.sleep(0.05)
        vm.qmp.execute("quit")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        vm.shutdown()
    (staging / "image.key").write_text(image.key)
    staging.rename(golden.directory)
    say(f"saved a ready state in {time.monotonic() - started:.0f} s: {golden.state}")
