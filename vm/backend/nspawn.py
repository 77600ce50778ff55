"""The nspawn backend: the VM's rootfs booted by the host's systemd-nspawn, in well under a second.

The rootfs tarball of the image is extracted once into the cache and never written
again: each machine boots it with `--volatile=overlay`, so its writes land on a tmpfs
that disappears with it. The host need not run systemd: `--register=no --keep-unit`
keeps nspawn off machined and in a cgroup of its own that this module creates. Commands
run inside through `nsenter` + `systemd-run --pipe --wait`, so each is a unit of the
guest's systemd, as a nested `systemd-nspawn --keep-unit` needs to register with machined.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from vm import cache
from vm.backend.base import GUEST_ENV, Backend, BackendUnavailable, copy_in_argv
from vm.image import Image, ensure_image
from vm.result import CommandResult
from vm.run import HostCommandError, process_alive, run, spawn

NSPAWN = "systemd-nspawn"
CGROUP_ROOT = Path("/sys/fs/cgroup")
# Where a host without systemd keeps the hierarchies systemd itself tracks processes in.
TRACKING_HIERARCHIES = ("systemd", "unified")
WORKDIR_PREFIX = "rkt-ref-nspawn-"
BOOT_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0

_live: set[NspawnBackend] = set()


def say(message: str) -> None:
    print(f"[vm nspawn] {message}", file=sys.stderr, flush=True)


# -- pure parts: the command lines ------------------------------------------------------------


def nspawn_argv(rootfs: Path, machine: str) -> list[str]:
    """Boot the read-only rootfs with a throw-away overlay; a pure function tests read."""
    return [
        NSPAWN,
        "--boot",
        # No systemd on the host: no machined to register with, and no unit to create;
        # nspawn stays in the cgroup it was started in, which is its own.
        "--register=no",
        "--keep-unit",
        "--quiet",
        "--directory", str(rootfs),
        "--volatile=overlay",
        "--machine", machine,
        "--private-network",  # as qemu's `-nic none`: loopback only
        "--console=read-only",
    ]


# Moves itself into each cgroup named before `--`, then becomes nspawn, console to $0.
ENTER_CGROUPS = (
    'log=$0; while [ "$1" != -- ]; do echo $$ >"$1/cgroup.procs" || exit 1; shift; done; '
    'shift; exec "$@" >"$log" 2>&1'
)


def launch_argv(cgroups: Sequence[Path], console_log: Path, argv: Sequence[str]) -> list[str]:
    return ["/bin/sh", "-c", ENTER_CGROUPS, str(console_log), *map(str, cgroups), "--", *argv]


def cgroup_dirs(fs_type: str, hierarchies: Sequence[str], name: str) -> list[Path]:
    """The machine's own cgroups: the unified root on a v2 host, else the tracking ones."""
    if fs_type == "cgroup2fs":
        return [CGROUP_ROOT / name]
    return [CGROUP_ROOT / h / name for h in TRACKING_HIERARCHIES if h in hierarchies]


def exec_argv(leader: int, argv: Sequence[str], timeout: float) -> list[str]:
    """Run argv as a transient unit of the guest's systemd, its stdio piped to us."""
    env = [item for key, value in GUEST_ENV.items() for item in ("-E", f"{key}={value}")]
    return [
        "nsenter", "-t", str(leader), "-a",
        "systemd-run", "--pipe", "--wait", "--quiet", "--collect", "--service-type=exec",
        *env,
        "--",
        # The guest enforces the deadline too, so a hung command cannot outlive it.
        "timeout", "--kill-after=5", f"{timeout:.0f}", *argv,
    ]


def namespace_leader(nspawn_pid: int) -> int | None:
    """The container's PID 1 as the host sees it: the child of nspawn that is PID 1 inside."""
    try:
        children = Path(f"/proc/{nspawn_pid}/task/{nspawn_pid}/children").read_text().split()
    except OSError:
        return None
    for child in children:
        try:
            status = Path(f"/proc/{child}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("NSpid:") and line.split()[1:] == [child, "1"]:
                return int(child)
    return None


# -- the shared read-only rootfs --------------------------------------------------------------


def ensure_rootfs(image: Image) -> Path:
    """The image's rootfs, extracted once per image key; never written afterwards."""
    root = cache.cache_root()
    target = root / f"rootfs-{image.key}"
    with cache.locked(root / f"rootfs-{image.key}.lock"):
        if (target / "sbin" / "init").exists() or (target / "sbin").is_symlink():
            return target
        started = time.monotonic()
        staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=root))
        try:
            say(f"extracting {image.rootfs_tar} for nspawn")
            run(["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", str(staging),
                 "-xf", str(image.rootfs_tar)])
            staging.chmod(0o755)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        say(f"extracted in {time.monotonic() - started:.0f} s: {target}")
    return target


def host_cgroups() -> tuple[str, list[str]]:
    fs_type = run(["stat", "-fc", "%T", str(CGROUP_ROOT)]).stdout.decode().strip()
    return fs_type, sorted(p.name for p in CGROUP_ROOT.iterdir() if p.is_dir())


def _populated(top: Path) -> bool:
    for procs in top.rglob("cgroup.procs"):
        try:
            if procs.read_text().strip():
                return True
        except OSError:
            continue
    return False


def remove_cgroups(dirs: Sequence[Path], wait: float = 5.0) -> None:
    """Remove the machine's cgroups, once the processes of a killed machine have gone."""
    deadline = time.monotonic() + wait
    while any(top.exists() and _populated(top) for top in dirs):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for top in dirs:
        if not top.exists():
            continue
        for directory, _, _ in sorted(os.walk(top), key=lambda entry: -len(entry[0])):
            try:
                os.rmdir(directory)
            except OSError:
                pass


def sweep_orphans() -> None:
    """Kill machines whose harness died (SIGKILL): nspawn dies with it, its PID 1 may not."""
    for directory in Path(tempfile.gettempdir()).glob(WORKDIR_PREFIX + "*"):
        try:
            owner = int((directory / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if process_alive(owner):
            continue
        state = MachineDir(directory)
        leader = state.read_leader()
        if leader is not None and state.cgroups and _in_cgroup(leader, state.cgroups[0]):
            os.kill(leader, signal.SIGKILL)
        remove_cgroups(state.cgroups)
        shutil.rmtree(directory, ignore_errors=True)


def _in_cgroup(pid: int, cgroup: Path) -> bool:
    try:
        return f":/{cgroup.name}/" in Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False


@dataclass
class MachineDir:
    """A machine's private directory on the host: owner, leader, cgroups, console log."""

    directory: Path

    @property
    def console_log(self) -> Path:
        return self.directory / "console.log"

    @property
    def cgroups(self) -> list[Path]:
        path = self.directory / "cgroups"
        return [Path(line) for line in path.read_text().split()] if path.exists() else []

    def read_leader(self) -> int | None:
        try:
            return int((self.directory / "leader.pid").read_text())
        except (OSError, ValueError):
            return None


@atexit.register
def _shut_down_leftovers() -> None:
    for backend in list(_live):
        backend.shutdown()


# -- the backend ----------------------------------------------------------------------------------


class NspawnBackend(Backend):
    name: ClassVar[str] = "nspawn"
    # The host's kernel; pods get private network namespaces (CAP_NET_ADMIN inside a
    # --private-network container); cgroup controllers are not delegated to the
    # container here, so memory and CPU limits of pods are not enforced.
    capabilities: ClassVar[frozenset[str]] = frozenset({"network"})

    def __init__(self) -> None:
        sweep_orphans()
        self.state = MachineDir(Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX)))
        (self.state.directory / "owner.pid").write_text(str(os.getpid()))
        self.machine = self.state.directory.name.removeprefix(WORKDIR_PREFIX).lower()
        self.machine = "rkt-ref-" + "".join(c for c in self.machine if c.isalnum())
        self.proc: subprocess.Popen[bytes] | None = None
        self.leader: int | None = None
        self.boot_seconds = 0.0

    @classmethod
    def unavailable(cls) -> str | None:
        if os.geteuid() != 0:
            return "systemd-nspawn needs root"
        if shutil.which(NSPAWN) is None:
            return ("systemd-nspawn is not installed; "
                    "`python -m vm setup` installs systemd-container")
        if not CGROUP_ROOT.is_dir():
            return f"no cgroup file system at {CGROUP_ROOT}"
        return None

    # -- lifecycle -----------------------------------------------------------------

    def boot(self) -> None:
        reason = self.unavailable()
        if reason:
            raise BackendUnavailable(f"the nspawn backend cannot run here: {reason}")
        rootfs = ensure_rootfs(ensure_image())
        fs_type, hierarchies = host_cgroups()
        cgroups = cgroup_dirs(fs_type, hierarchies, self.machine)
        (self.state.directory / "cgroups").write_text("\n".join(map(str, cgroups)))
        for directory in cgroups:
            directory.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        _live.add(self)
        self.proc = spawn(launch_argv(cgroups, self.state.console_log,
                                      nspawn_argv(rootfs, self.machine)))
        deadline = started + BOOT_TIMEOUT
        while (leader := namespace_leader(self.proc.pid)) is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"systemd-nspawn did not start:\n{self.console_tail()}")
            time.sleep(0.01)
        self.leader = leader
        (self.state.directory / "leader.pid").write_text(str(leader))
        self._wait_until_running(deadline)
        self.boot_seconds = time.monotonic() - started

    def _wait_until_running(self, deadline: float) -> None:
        assert self.leader is not None
        while True:
            state = run(["nsenter", "-t", str(self.leader), "-a", "systemctl",
                         "is-system-running", "--wait"], check=False, timeout=BOOT_TIMEOUT)
            status = state.stdout.decode().strip()
            if status in ("running", "degraded"):
                break
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"the container exited while booting:\n{self.console_tail()}")
            if status and status not in ("initializing", "starting", "offline"):
                raise RuntimeError(f"the container did not come up ({status}):\n"
                                   f"{self.console_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"systemd in the container was not up within "
                                   f"{BOOT_TIMEOUT:.0f} s:\n{self.console_tail()}")
            time.sleep(0.05)
        if status == "degraded":
            failed = self.run(["systemctl", "--failed", "--no-legend", "--plain"])
            say(f"the container is degraded; failed units:\n{failed.stdout}")

    def shutdown(self) -> None:
        _live.discard(self)
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                # nspawn turns SIGTERM into SIGRTMIN+3 for the guest's systemd: a poweroff.
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    if self.leader is not None and process_alive(self.leader):
                        os.kill(self.leader, signal.SIGKILL)
                    proc.kill()
                    proc.wait()
        self.leader = None
        remove_cgroups(self.state.cgroups)
        shutil.rmtree(self.state.directory, ignore_errors=True)

    # -- commands ------------------------------------------------------------------------

    def run(
        self, argv: Sequence[str], *, input: bytes | None = None, timeout: float = 120
    ) -> CommandResult:
        assert self.leader is not None, "the container is not booted"
        try:
            proc = run(exec_argv(self.leader, argv, timeout), input=input or b"", check=False,
                       timeout=timeout + 15)
        except subprocess.TimeoutExpired as error:
            raise TimeoutError(f"{' '.join(argv)} did not finish within {timeout} s") from error
        return CommandResult(tuple(argv), proc.returncode,
                             proc.stdout.decode(errors="replace"),
                             proc.stderr.decode(errors="replace"))

    def copy_in(self, data: bytes, dest: str, mode: int = 0o644) -> None:
        result = self.run(copy_in_argv(dest, mode), input=data)
        if not result.ok:
            raise HostCommandError(result.argv, result.rc, result.stderr)

    def console_tail(self, lines: int = 40) -> str:
        log = self.state.console_log
        if not log.exists():
            return "(no console output)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def save_evidence(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        saved: list[Path] = []
        if self.state.console_log.exists():
            target = directory / "console.log"
            shutil.copyfile(self.state.console_log, target)
            saved.append(target)
        if self.leader is not None:
            saved += super().save_evidence(directory)
        return saved
