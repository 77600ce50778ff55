"""The docker backend: the VM's rootfs as a container with systemd as PID 1, via testcontainers.

The image is `docker import` of the same rootfs tarball the qemu disk is built from,
tagged with the image key, so an unchanged recipe is imported once per engine. Each
machine is a fresh container; it is stopped the way systemd wants (SIGRTMIN+3) before
it is removed. Ryuk cannot be pulled here, so the project cleans up after itself:
containers carry labels naming their owner process, and leftovers of dead owners on this
host are swept. The engine is whatever testcontainers finds (DOCKER_HOST, a context).

Flags (see shared/docs/vm-facts.md): `--privileged` fails where CAP_SYS_RESOURCE is not in
the bounding set, so it is ALL capabilities but that one, no seccomp filter, tmpfs on /run
and /tmp, and cgroups the guest's systemd can write (see `container_spec`). Never a bind
of the whole /sys/fs/cgroup: the container's systemd would remount it read-only for the
host too.
"""

from __future__ import annotations

import atexit
import io
import os
import socket
import sys
import tarfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from vm import cache
from vm.backend.base import GUEST_ENV, Backend, BackendUnavailable, copy_in_argv
from vm.image import Image, ensure_image
from vm.result import CommandResult
from vm.run import process_alive

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

# Ryuk's image cannot be pulled on such hosts; this module removes its own containers.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

REPOSITORY = "rkt-ref-vm"
HOSTNAME = "rktvm"  # the qemu image's /etc/hostname
LABEL_VM = "org.rkt-ref.vm"
LABEL_OWNER = "org.rkt-ref.owner"
LABEL_SESSION = "org.rkt-ref.session"
SESSION = uuid.uuid4().hex[:12]
BOOT_TIMEOUT = 120.0
STOP_TIMEOUT = 10
API_TIMEOUT = 3700  # exec_start blocks for the whole command; the guest's `timeout` bounds it
IMPORT_CHANGES = (
    'CMD ["/sbin/init"]',
    "ENV container=docker",
)
PROBE_DIR = "/host-cgroup"
ENV_CGROUPNS = "RKT_REF_DOCKER_CGROUPNS"  # "host": the bind-per-hierarchy recipe
STAGING = "/var/tmp"  # where command input lands before it becomes the command's stdin

_live: set[DockerContainer] = set()


def say(message: str) -> None:
    print(f"[vm docker] {message}", file=sys.stderr, flush=True)


# -- pure parts: what the container is made of ----------------------------------------------


@dataclass(frozen=True)
class CgroupLayout:
    """The engine host's cgroups: v2 only, or v1 hierarchies (hybrid keeps v2 at `unified`)."""

    version: int
    hierarchies: tuple[str, ...] = ()


def parse_cgroup_probe(text: str) -> CgroupLayout:
    """Read the probe's output: the fs type of /sys/fs/cgroup, then one directory a line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("empty cgroup probe output")
    if lines[0] == "cgroup2fs":
        return CgroupLayout(2)
    return CgroupLayout(1, tuple(sorted(Path(line).name for line in lines[1:])))


@dataclass(frozen=True)
class ContainerSpec:
    """Everything `docker run` gets: testcontainers' kwargs, binds and tmpfs mounts."""

    kwargs: dict[str, Any]
    volumes: tuple[tuple[str, str, str], ...]
    tmpfs: dict[str, str] = field(default_factory=dict)


def owner_label(pid: int | None = None) -> str:
    """host/boot/pid: enough to tell, on this host, whether the owner is still alive."""
    return f"{socket.gethostname()}/{boot_id()[:8]}/{pid or os.getpid()}"


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def container_spec(layout: CgroupLayout, image_key: str, owner: str,
                   cgroupns: str = "private") -> ContainerSpec:
    """The documented flags, as data (a pure function, so tests can read it).

    On a v1/hybrid engine the default is a private cgroup namespace over an empty tmpfs
    at /sys/fs/cgroup: the guest's systemd mounts the hierarchies itself, rooted at the
    container, so it sees `/machine.slice/...` as the qemu guest does, and nothing of
    the host's tree is bound in. `cgroupns="host"` is the recipe of vm-facts instead
    (host namespace, one rw bind per hierarchy): it works too, but every cgroup path
    the guest shows starts with `/docker/<id>`, which the document's outputs do not.
    """
    tmpfs = {"/run": "", "/run/lock": "", "/tmp": "exec"}
    volumes: tuple[tuple[str, str, str], ...] = ()
    if layout.version == 1 and cgroupns == "host":
        volumes = tuple((f"/sys/fs/cgroup/{h}", f"/sys/fs/cgroup/{h}", "rw")
                        for h in layout.hierarchies)
    elif layout.version == 1:
        tmpfs["/sys/fs/cgroup"] = ""
    else:
        # A v2 engine gives a private namespace its own cgroup2 mount (not tested here).
        cgroupns = "private"
    kwargs: dict[str, Any] = {
        "hostname": HOSTNAME,
        "network": "none",  # as qemu's `-nic none`: the machine has loopback only
        "cap_add": ["ALL"],
        "cap_drop": ["SYS_RESOURCE"],
        "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
        "cgroupns": cgroupns,
        "stop_signal": "SIGRTMIN+3",
        "labels": {LABEL_VM: image_key, LABEL_OWNER: owner, LABEL_SESSION: SESSION},
    }
    return ContainerSpec(kwargs, volumes, tmpfs)


# The command's output goes to files in the container, read back with the archive API:
# an exec's attached stream sometimes misses the output of a command that ends quickly
# (docker-py #2042, #3332), which here made `machinectl list` and `systemctl show` look
# empty. $1: the output directory; $2: a file to become stdin, or ""; $3: directories of
# earlier commands, already read, to remove.
_EXEC = ('d=$1 i=$2 old=$3; shift 3; [ -z "$old" ] || rm -rf $old; mkdir "$d" || exit 125; '
         'if [ -n "$i" ]; then exec <"$i" && rm -f "$i" || exit 125; fi; '
         '"$@" >"$d/stdout" 2>"$d/stderr"; echo $? >"$d/rc"')


def exec_argv(argv: Sequence[str], timeout: float, out_dir: str, stdin_path: str | None = None,
              done: Sequence[str] = ()) -> list[str]:
    """argv under the guest's deadline, its output to out_dir, input from stdin_path."""
    guarded = ["timeout", "--kill-after=5", f"{timeout:.0f}", *argv]
    return ["/bin/sh", "-c", _EXEC, "sh", out_dir, stdin_path or "", " ".join(done), *guarded]


def read_outputs(archive: bytes) -> tuple[str, str, int | None]:
    """stdout, stderr and exit status from the archive of a command's output directory."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is not None:
                files[member.name.rsplit("/", 1)[-1]] = handle.read()
    rc = files.get("rc", b"").strip()
    return (files.get("stdout", b"").decode(errors="replace"),
            files.get("stderr", b"").decode(errors="replace"),
            int(rc) if rc.isdigit() else None)


def tar_one(name: str, data: bytes, mode: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), mode, int(time.time())
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# -- the engine -----------------------------------------------------------------------------

_engine_reason: list[str | None] = []
_layouts: dict[str, CgroupLayout] = {}


def engine_description() -> str:
    from testcontainers.core.docker_client import get_docker_host

    return get_docker_host() or "the default socket (/var/run/docker.sock)"


def client(timeout: int = 60) -> Any:
    """A docker SDK client for the engine testcontainers would use."""
    from testcontainers.core.docker_client import DockerClient

    return DockerClient(timeout=timeout).client


def engine_unavailable() -> str | None:
    """Why no Docker engine can be used, or None; asked once per process."""
    if not _engine_reason:
        try:
            import testcontainers  # noqa: F401
        except ImportError:
            _engine_reason.append("testcontainers is not installed (pip install 'rkt-ref[spec]')")
            return _engine_reason[0]
        try:
            client(timeout=10).ping()
            _engine_reason.append(None)
        except Exception as error:  # the SDK raises several kinds; all mean the same here
            first = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
            _engine_reason.append(
                f"no Docker engine reachable at {engine_description()} ({first}); "
                "start dockerd or set DOCKER_HOST"
            )
    return _engine_reason[0]


def image_tag(image: Image) -> str:
    return f"{REPOSITORY}:{image.key}"


def ensure_docker_image(image: Image) -> str:
    """`docker import` the rootfs once per image key and engine."""
    import docker.errors

    tag = image_tag(image)
    engine = client(timeout=API_TIMEOUT)
    try:
        with cache.locked(cache.cache_root() / f"docker-{image.key}.lock"):
            try:
                engine.images.get(tag)
                return tag
            except docker.errors.ImageNotFound:
                pass
            started = time.monotonic()
            say(f"importing {image.rootfs_tar} as {tag}")
            engine.api.import_image_from_file(str(image.rootfs_tar), repository=REPOSITORY,
                                              tag=image.key, changes=list(IMPORT_CHANGES))
            say(f"imported in {time.monotonic() - started:.0f} s")
    finally:
        engine.close()
    return tag


def cgroup_layout(tag: str) -> CgroupLayout:
    """Ask the engine's host (which may be remote) how its cgroups are mounted."""
    key = engine_description()
    if key not in _layouts:
        engine = client()
        try:
            # A read-only look at the host's tree, away from /sys/fs/cgroup: no systemd runs.
            output = engine.containers.run(
                tag, ["/bin/sh", "-c",
                      f"stat -fc %T {PROBE_DIR}; find {PROBE_DIR} -mindepth 1 -maxdepth 1 "
                      "-type d"],
                volumes={"/sys/fs/cgroup": {"bind": PROBE_DIR, "mode": "ro"}},
                network="none", remove=True, stdout=True, stderr=False,
                labels={LABEL_OWNER: owner_label(), LABEL_SESSION: SESSION},
            )
        finally:
            engine.close()
        _layouts[key] = parse_cgroup_probe(output.decode())
    return _layouts[key]


def stop_gracefully(container: Any) -> None:
    """SIGRTMIN+3 (the stop signal) lets systemd power off; SIGKILL after STOP_TIMEOUT."""
    import docker.errors

    try:
        container.stop(timeout=STOP_TIMEOUT)
    except docker.errors.NotFound:
        return
    try:
        container.remove(force=True, v=True)
    except docker.errors.NotFound:
        pass


def sweep_orphans() -> None:
    """Remove labelled containers of this host whose owner process is gone."""
    host, boot, _ = owner_label().split("/")
    engine = client()
    try:
        for container in engine.containers.list(all=True, filters={"label": LABEL_OWNER}):
            owner = container.labels.get(LABEL_OWNER, "")
            parts = owner.split("/")
            if len(parts) != 3 or parts[0] != host:
                continue  # another host's container on a shared engine: not ours to judge
            if parts[1] == boot and process_alive(int(parts[2])):
                continue
            say(f"removing leftover container {container.name} (owner {owner} is gone)")
            stop_gracefully(container)
    finally:
        engine.close()


@atexit.register
def _remove_leftovers() -> None:
    for container in list(_live):
        try:
            stop_gracefully(container.get_wrapped_container())
        except Exception:  # at exit, best effort: the next sweep catches the rest
            pass


_swept: list[bool] = []


# -- the backend ----------------------------------------------------------------------------


class DockerBackend(Backend):
    name: ClassVar[str] = "docker"
    # The host's kernel; pods' network namespaces work (CAP_NET_ADMIN, no engine bridge);
    # cgroup v1 controllers are bound rw but the guest's systemd runs in hybrid mode,
    # unlike the qemu guest's unified v2: limits are not shown the same way.
    capabilities: ClassVar[frozenset[str]] = frozenset({"network"})

    def __init__(self) -> None:
        self.container: DockerContainer | None = None
        self._commands = 0
        self._read: list[str] = []  # output directories read back, to remove
        self.boot_seconds = 0.0

    @classmethod
    def unavailable(cls) -> str | None:
        return engine_unavailable()

    # -- lifecycle -----------------------------------------------------------------

    def boot(self) -> None:
        reason = engine_unavailable()
        if reason:
            raise BackendUnavailable(reason)
        if not _swept:
            _swept.append(True)
            sweep_orphans()
        from testcontainers.core.container import DockerContainer

        tag = ensure_docker_image(ensure_image())
        layout = cgroup_layout(tag)
        spec = container_spec(layout, tag.rsplit(":", 1)[1], owner_label(),
                              os.environ.get(ENV_CGROUPNS, "private"))
        started = time.monotonic()
        container = DockerContainer(tag, docker_client_kw={"timeout": API_TIMEOUT})
        for host, target, mode in spec.volumes:
            container.with_volume_mapping(host, target, mode)
        container.tmpfs = dict(spec.tmpfs)
        container.with_kwargs(**spec.kwargs)  # one call: it replaces, it does not merge
        self.container = container
        _live.add(container)
        container.start()
        self._wait_until_running(started)
        self._writable_proc_sys()
        self.boot_seconds = time.monotonic() - started

    def _writable_proc_sys(self) -> None:
        """Make /proc/sys writable, as on a real host.

        Docker mounts it read-only (the API has no `systempaths=unconfined`), but pods' CNI
        plugins write net sysctls such as ip_forward; those are per network namespace,
        so the container's own, never the host's.
        """
        result = self.run(["mount", "-o", "remount,bind,rw", "/proc/sys"])
        if not result.ok:
            raise RuntimeError(f"cannot make /proc/sys writable:\n{result.describe()}")

    def _wait_until_running(self, started: float) -> None:
        deadline = started + BOOT_TIMEOUT
        while True:
            state = self.run(["systemctl", "is-system-running", "--wait"], timeout=BOOT_TIMEOUT)
            status = state.stdout.strip()
            if status in ("running", "degraded"):
                break
            # Before systemd's bus is up the command fails at once; anything else is final.
            if status and status not in ("initializing", "starting", "offline"):
                raise RuntimeError(f"the container did not come up: {state.describe()}"
                                   f"\n{self.console_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"systemd in the container was not up within "
                                   f"{BOOT_TIMEOUT:.0f} s\n{self.console_tail()}")
            self._wrapped().reload()
            if self._wrapped().status != "running":
                raise RuntimeError(f"the container exited while booting\n{self.console_tail()}")
            time.sleep(0.05)
        if status == "degraded":
            failed = self.run(["systemctl", "--failed", "--no-legend", "--plain"])
            say(f"the container is degraded; failed units:\n{failed.stdout}")

    def _wrapped(self) -> Any:
        assert self.container is not None, "the container is not started"
        return self.container.get_wrapped_container()

    def shutdown(self) -> None:
        container, self.container = self.container, None
        if container is None:
            return
        _live.discard(container)
        try:
            wrapped = container.get_wrapped_container()
            if wrapped is not None:
                stop_gracefully(wrapped)
        finally:
            container.get_docker_client().client.close()

    # -- commands ------------------------------------------------------------------------

    def run(
        self, argv: Sequence[str], *, input: bytes | None = None, timeout: float = 120
    ) -> CommandResult:
        wrapped = self._wrapped()
        self._commands += 1
        out_dir = f"{STAGING}/rkt-ref-run-{self._commands}"
        stdin_path = None
        if input is not None:
            name = f"rkt-ref-stdin-{self._commands}"
            # Not /run or /tmp: the archive API cannot see the container's tmpfs mounts.
            wrapped.put_archive(STAGING, tar_one(name, input, 0o600))
            stdin_path = f"{STAGING}/{name}"
        done, self._read = self._read, []
        api = wrapped.client.api
        exec_id = api.exec_create(wrapped.id, exec_argv(argv, timeout, out_dir, stdin_path, done),
                                  stdout=True, stderr=True, environment=dict(GUEST_ENV),
                                  workdir="/")["Id"]
        streamed = api.exec_start(exec_id, demux=True)
        while (inspect := api.exec_inspect(exec_id))["Running"]:
            time.sleep(0.01)
        try:
            chunks, _ = wrapped.get_archive(out_dir)
            out, err, rc = read_outputs(b"".join(chunks))
            self._read.append(out_dir)
        except Exception:  # the command ended the container, or never got to run
            out, err = ((b or b"").decode(errors="replace") for b in streamed)
            rc = None
        if rc is None:
            rc = inspect["ExitCode"] if inspect["ExitCode"] is not None else -1
        return CommandResult(tuple(argv), rc, out, err)

    def copy_in(self, data: bytes, dest: str, mode: int = 0o644) -> None:
        # Through a command, so that a destination on a tmpfs (/run, /tmp) works too.
        result = self.run(copy_in_argv(dest, mode), input=data)
        if not result.ok:
            raise RuntimeError(f"copying {len(data)} bytes to {dest} failed:\n{result.describe()}")

    def console_tail(self, lines: int = 40) -> str:
        try:
            logs = self._wrapped().logs(tail=lines).decode(errors="replace")
        except Exception as error:  # evidence is best effort
            return f"(no container log: {error})"
        return logs or "(no container output)"

    def save_evidence(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        if self.container is None:
            return []
        target = directory / "console.log"
        target.write_text(self._wrapped().logs().decode(errors="replace"))
        return [target, *super().save_evidence(directory)]

    def describe(self) -> str:
        return f"docker container {self._wrapped().name} on {engine_description()}"
