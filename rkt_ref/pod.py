"""Pod directories and their lifecycle: /var/lib/rkt/pods/<state-dir>/<uuid>.

A state change is a rename between state directories, done while holding an flock
on the pod directory, as rkt does. `rkt run` keeps its lock across the exec into
systemd-nspawn; as nspawn may close inherited descriptors, a pod in run/ also
counts as running while the PID in its `pid` file is an nspawn for its UUID.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import sys
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from . import log
from .errors import RktError, die
from .record import mutable_record, record

TYPE_CHECKING = False  # typing is not imported at run time (see record.py)
if TYPE_CHECKING:
    from typing import Any, TextIO

    from .schema import PodManifest

# schema, net, mounts and proc are imported where used: `rkt list` of pods that have no
# network, and `rkt gc` with nothing to collect, need few of them.


class Dir(StrEnum):
    EMBRYO = "embryo"
    PREPARE = "prepare"
    PREPARED = "prepared"
    RUN = "run"
    EXITED_GARBAGE = "exited-garbage"
    GARBAGE = "garbage"


class State(StrEnum):
    EMBRYO = "embryo"
    PREPARING = "preparing"
    ABORTED_PREPARE = "aborted prepare"
    PREPARED = "prepared"
    RUNNING = "running"
    EXITED = "exited"
    EXITED_GARBAGE = "exited garbage"
    DELETING = "deleting"


class PodLockedError(RktError):
    """Another process holds the pod's lock."""


def _lock(fd: int, *, shared: bool = False, blocking: bool = False) -> bool:
    op = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if blocking else fcntl.LOCK_NB)
    try:
        fcntl.flock(fd, op)
        return True
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        raise


@mutable_record
class Pod:
    """A pod directory under one of the state directories, and the lock held on it."""

    pods: Pods
    uuid: str
    dir: Dir
    lock_fd: int = -1

    @property
    def path(self) -> Path:
        return self.pods.root / self.dir / self.uuid

    # --- locking ----------------------------------------------------------------------
    def try_lock(self) -> bool:
        """Take the exclusive lock without waiting; False if someone else holds it."""
        if self.lock_fd >= 0:
            return True
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        if not _lock(fd):
            os.close(fd)
            return False
        self.lock_fd = fd
        return True

    def unlock(self) -> None:
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
            self.lock_fd = -1

    def keep_lock_across_exec(self) -> None:
        """Let the exec'd nspawn inherit the lock: the pod stays locked while it runs."""
        if self.lock_fd >= 0:
            os.set_inheritable(self.lock_fd, True)

    def is_locked(self) -> bool:
        """Whether another process holds the lock (probed with a shared lock)."""
        if self.lock_fd >= 0:
            return True
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            return not _lock(fd, shared=True)
        finally:
            os.close(fd)

    # --- transitions ------------------------------------------------------------------
    def move(self, to: Dir) -> None:
        """Rename the pod into another state directory; the caller holds the lock."""
        if self.lock_fd < 0:
            raise RktError(f"pod {self.uuid} must be locked to change its state")
        dest = self.pods.root / to / self.uuid
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.rename(self.path, dest)
        self.dir = to

    def follow(self) -> None:
        """Look where the pod is now: another rkt may have moved it on since it was listed
        (prepare/ -> run/ by `rkt run`, run/ -> exited-garbage/ by gc)."""
        if self.lock_fd >= 0 or self.path.is_dir():
            return
        for d in Dir:
            if (self.pods.root / d / self.uuid).is_dir():
                self.dir = d
                return

    # --- contents ---------------------------------------------------------------------
    def manifest(self) -> PodManifest | None:
        from .schema import PodManifest

        self.follow()
        try:
            return PodManifest.from_bytes((self.path / "pod").read_bytes())
        except (OSError, RktError):
            return None

    def options(self) -> dict[str, Any]:
        try:
            data = json.loads((self.path / "options.json").read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def pid(self) -> int | None:
        try:
            return int((self.path / "pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def nspawn_alive(self, proc: Path = Path("/proc")) -> bool:
        """The pod's nspawn (the exec'd `rkt run`) still exists."""
        pid = self.pid()
        if pid is None:
            return False
        try:
            cmdline = (proc / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return f"--uuid={self.uuid}".encode() in cmdline

    def state(self) -> State:
        self.follow()
        match self.dir:
            case Dir.EMBRYO:
                return State.EMBRYO
            case Dir.PREPARE:
                return State.PREPARING if self.is_locked() else State.ABORTED_PREPARE
            case Dir.PREPARED:
                return State.PREPARED
            case Dir.RUN:
                return State.RUNNING if self.is_running() else State.EXITED
            case Dir.EXITED_GARBAGE:
                return State.EXITED_GARBAGE
            case _:
                return State.DELETING

    def is_running(self) -> bool:
        if self.dir != Dir.RUN:
            return False
        return self.is_locked() or self.nspawn_alive()

    def _mtime_ns(self, name: str) -> int:
        try:
            return (self.path / name).stat().st_mtime_ns
        except OSError:
            return 0

    def created_ns(self) -> int:
        return self._mtime_ns("pod")

    def started_ns(self) -> int:
        return self._mtime_ns("pid") if self.dir in (Dir.RUN, Dir.EXITED_GARBAGE,
                                                       Dir.GARBAGE) else 0

    def gc_marked_at(self) -> int:
        """When gc marked the pod (ctime of the renamed directory, ns); 0 if not marked."""
        if self.dir not in (Dir.EXITED_GARBAGE, Dir.GARBAGE):
            return 0
        try:
            return self.path.stat().st_ctime_ns
        except OSError:
            return 0

    def stage1_rootfs(self) -> Path:
        return self.path / "stage1" / "rootfs"

    def app_exit_codes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        status_dir = self.stage1_rootfs() / "rkt" / "status"
        manifest = self.manifest()
        names = [a.name for a in manifest.apps] if manifest else []
        for name in names:
            try:
                out[name] = int((status_dir / name).read_text().strip())
            except (OSError, ValueError):
                pass
        return out

    def is_ready(self) -> bool:
        return (self.stage1_rootfs() / "rkt" / "ready").exists()


class Pods:
    """All pods under a root directory (normally /var/lib/rkt/pods)."""

    def __init__(self, root: Path):
        self.root = root / "pods"

    def ensure(self) -> None:
        # As rkt's initPods: pods/ and its state directories are 0750, pod dirs too
        # (create()): only root and the rkt group may look at pods.
        for d in Dir:
            if not (self.root / d).is_dir():
                self.root.mkdir(mode=0o750, parents=True, exist_ok=True)
                (self.root / d).mkdir(mode=0o750, exist_ok=True)

    def create(self) -> Pod:
        """A new locked embryo with a fresh UUID."""
        self.ensure()
        uid = new_uuid()
        # Made and locked under a name gc ignores, then renamed: gc never sees an
        # embryo that is not yet locked.
        hidden = self.root / Dir.EMBRYO / f".new-{uid}"
        os.mkdir(hidden, 0o750)
        fd = os.open(hidden, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        _lock(fd, blocking=True)
        os.rename(hidden, self.root / Dir.EMBRYO / uid)
        return Pod(self, uid, Dir.EMBRYO, fd)

    def all(self) -> list[Pod]:
        found: dict[str, Pod] = {}
        for d in Dir:
            try:
                names = os.listdir(self.root / d)
            except FileNotFoundError:
                continue
            # A pod moved on (run/ -> exited-garbage/ by a gc) while the directories are
            # read is seen twice; the later sighting is the newer one, so it wins.
            found.update((n, Pod(self, n, d)) for n in names if _looks_like_uuid(n))
        return sorted(found.values(), key=lambda p: p.uuid)

    def in_dir(self, d: Dir) -> list[Pod]:
        return [p for p in self.all() if p.dir == d]

    def find(self, prefix: str) -> Pod:
        """A pod by UUID or unique UUID prefix."""
        prefix = prefix.strip().lower()
        if not prefix:
            die("no pod UUID given")
        matches: dict[str, Pod] = {}
        for p in self.all():
            if p.uuid.startswith(prefix):
                matches[p.uuid] = p
        if not matches:
            die(f"no pod found with UUID {prefix}")
        if len(matches) > 1:
            die(f"UUID prefix {prefix} is ambiguous: it matches {len(matches)} pods",
                hint="give more characters of the UUID")
        return next(iter(matches.values()))

    def refresh(self, pod: Pod) -> Pod:
        """The same pod wherever it lives now (another process may have moved it)."""
        for d in Dir:
            if (self.root / d / pod.uuid).is_dir():
                pod.dir = d
                return pod
        die(f"pod {pod.uuid} disappeared")


_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def new_uuid() -> str:
    """A random (version 4) UUID; the uuid module is not imported as it drags in
    `platform`, and interpreter start-up is part of every pod's start-up."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _looks_like_uuid(name: str) -> bool:
    return bool(re.match(_UUID, name))


def read_uuid_file(path: str) -> str:
    try:
        text = Path(path).read_text().strip()
    except OSError as e:
        die(f"cannot read UUID file {path}: {e.strerror}")
    if not text:
        die(f"UUID file {path} is empty")
    return text


def release_network(pod: Pod) -> None:
    """Tear down what is left of an exited pod's network (CNI DEL, netns, port forwards)."""
    from . import net

    if net.has_network(pod.path):
        try:
            net.teardown(pod.path, pod.uuid)
        except RktError as e:
            log.warning("pod %s: %s", pod.uuid, e.message)


# machined's record of each registered machine; nspawn removes its pod's when it ends.
MACHINES_DIR = Path("/run/systemd/machines")
# How long gc waits for a leftover pod's processes to die once their PID 1 is killed.
LEFTOVER_WAIT = 10.0


def _is_init_of(pid: int, uuid: str) -> bool:
    """Whether pid is the pod's PID 1: nspawn gives it container_uuid=<uuid>."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"container_uuid={uuid}".encode() in environ


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def end_leftovers(pod: Pod) -> None:
    """Kill what is left of a pod whose nspawn died without ending it.

    nspawn killed with SIGKILL leaves the pod's systemd and apps running, reparented to
    PID 1 and still registered with machined as rkt-<uuid>; deleting the pod under them
    would leave processes, a cgroup and a machine behind. The caller holds the pod's lock
    and has seen that its nspawn is gone. The pod's PID 1 is killed, which takes its
    whole PID namespace with it, and the registration is dropped; the machine's unit is
    never stopped, as with --keep-unit it is whatever service ran `rkt run`.
    """
    import signal

    from . import proc

    name = f"rkt-{pod.uuid}"
    if not (MACHINES_DIR / name).exists():
        return  # nspawn unregistered it: the pod ended as pods do
    try:
        res = proc.run(["machinectl", "show", "--property=Leader", "--value", name],
                       check=False)
        leader = int(res.stdout.strip()) if res.stdout.strip().isdigit() else 0
        if res.returncode == 0 and leader > 0 and _is_init_of(leader, pod.uuid):
            log.warning("pod %s outlived its nspawn; killing what is left of it", pod.uuid)
            try:
                os.kill(leader, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + LEFTOVER_WAIT
            while not _gone(leader) and time.monotonic() < deadline:
                time.sleep(0.05)
        # Gone already if its scope emptied and machined noticed: an error is expected then.
        proc.run(["busctl", "call", "org.freedesktop.machine1", "/org/freedesktop/machine1",
                  "org.freedesktop.machine1.Manager", "UnregisterMachine", "s", name],
                 check=False)
    except RktError as e:
        log.warning("pod %s: cannot end what is left of it: %s", pod.uuid, e.message)


def delete(pod: Pod) -> bool:
    """Unmount and remove a pod directory; False if something stays mounted."""
    import shutil  # here, not at the top: it imports bz2 and lzma, which `rkt list` never needs

    from . import mounts

    end_leftovers(pod)
    release_network(pod)
    mounts.unmount_all(pod.path)
    if mounts.mountpoints_under(pod.path):
        log.warning("pod %s still has mounts; leaving it for a later gc", pod.uuid)
        return False
    shutil.rmtree(pod.path, ignore_errors=True)
    return not pod.path.exists()


@record
class GcPolicy:
    """When gc collects: the grace period of exited pods, the expiry of prepared ones, and
    whether it only marks (`--mark-only`)."""

    grace_period: float = 30 * 60.0
    expire_prepared: float = 24 * 3600.0
    mark_only: bool = False


def _age(path: Path, now: float, *, use_ctime: bool = False) -> float:
    try:
        st = path.stat()
    except OSError:
        return 0.0
    return now - (st.st_ctime if use_ctime else st.st_mtime)


def gc(pods: Pods, policy: GcPolicy, *, out: TextIO = sys.stdout,
       err: TextIO = sys.stderr, now: Callable[[], float] = time.time) -> None:
    """Mark exited pods as garbage; unless mark_only, also collect old garbage."""
    pods.ensure()
    for pod in pods.in_dir(Dir.RUN):
        if not pod.try_lock():
            continue  # locked: still running (or starting)
        try:
            if pod.nspawn_alive():
                continue
            end_leftovers(pod)
            release_network(pod)
            print(f'gc: moving pod "{pod.uuid}" to garbage', file=err)
            try:
                pod.move(Dir.EXITED_GARBAGE)
            except FileNotFoundError:
                continue  # another gc moved it first
        finally:
            pod.unlock()
    if policy.mark_only:
        return
    t = now()
    for pod in pods.in_dir(Dir.EMBRYO) + pods.in_dir(Dir.PREPARE):
        _collect(pod, f'gc: moving failed pod "{pod.uuid}" to garbage', err)
    for pod in pods.in_dir(Dir.PREPARED):
        if _age(pod.path, t) >= policy.expire_prepared:
            _collect(pod, f'gc: moving expired prepared pod "{pod.uuid}" to garbage', err)
    for pod in pods.in_dir(Dir.EXITED_GARBAGE):
        if _age(pod.path, t, use_ctime=True) >= policy.grace_period:
            _collect(pod, None, err)
    for pod in pods.in_dir(Dir.GARBAGE):
        if not pod.try_lock():
            continue
        try:
            print(f'Garbage collecting pod "{pod.uuid}"', file=out)
            if not delete(pod):
                print(f'gc: unable to remove pod "{pod.uuid}"', file=err)
        finally:
            pod.unlock()


def wait_for(pod: Pod, done: Callable[[Pod], bool], timeout: float | None,
             interval: float = 0.1) -> bool:
    """Poll until done(pod) or the deadline passes; True if done."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        pod.pods.refresh(pod)
        if done(pod):
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(interval if deadline is None else
                   max(0.0, min(interval, deadline - time.monotonic())))


class Embryo:
    """Context manager: a new pod that is removed again if preparing it fails."""

    def __init__(self, pods: Pods) -> None:
        self.pods = pods
        self.pod: Pod | None = None

    def __enter__(self) -> Pod:
        self.pod = self.pods.create()
        return self.pod

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc is None or self.pod is None:
            return
        # A failed run must leave neither embryo nor prepare directory behind.
        try:
            delete(self.pod)
        finally:
            self.pod.unlock()


def _collect(pod: Pod, message: str | None, err: TextIO) -> None:
    """Move a pod nobody holds to garbage/, saying so where rkt does."""
    if not pod.try_lock():
        return
    try:
        if message:
            print(message, file=err)
        pod.move(Dir.GARBAGE)
    except FileNotFoundError:
        pass  # another gc moved it first
    finally:
        pod.unlock()
