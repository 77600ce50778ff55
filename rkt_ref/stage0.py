"""stage0: turn images and flags into a prepared pod, and exec the pod's nspawn.

Order of work in `rkt run`: resolve every image first (nothing is created if one is
missing), then create a locked embryo, write the pod manifest, move it to prepare/,
build the stage1 tree and app roots, and move it on to prepared/ or run/. Any
failure after the embryo exists removes the pod again. Then check the networks and
make the pod's namespace, start the networks' CNI ADDs in a worker, and exec nspawn:
the pod boots while its networks are made, and its apps wait for them.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from pathlib import Path

from . import env as envmod
from . import log, mounts, net, netinfo, nspawn, ports, proc, stage1
from .errors import RktError, die, report
from .pod import Dir, Embryo, Pod, Pods, delete
from .record import field, record, replace
from .schema import (
    App,
    ExposedPort,
    ImageManifest,
    ImageRef,
    Isolator,
    IsolatorName,
    PodManifest,
    RuntimeApp,
    acname,
    parse_quantity,
    sanitize_acname,
)
from .store import FetchPolicy, ImageInfo, Store, fetch

TYPE_CHECKING = False  # typing is not imported at run time (see record.py)
if TYPE_CHECKING:
    from typing import NoReturn


@record
class AppRequest:
    """One image on the command line with its per-app flags and `--` arguments."""

    image: str
    args: tuple[str, ...] = ()
    exec: str | None = None
    name: str | None = None
    memory: str | None = None
    cpu: str | None = None
    user: str | None = None
    group: str | None = None


@record
class PodRequest:
    """What `rkt run`/`rkt prepare` were asked for: apps and pod-wide options."""

    apps: tuple[AppRequest, ...]
    inherit_env: bool = False
    set_env: tuple[tuple[str, str], ...] = ()
    set_env_files: tuple[str, ...] = ()
    ports: tuple[tuple[str, int], ...] = ()
    interactive: bool = False
    uuid_file_save: str | None = None
    fetch_policy: FetchPolicy = field(default_factory=FetchPolicy)


@record
class RunOptions:
    """How to start a prepared pod (stored in options.json for run-prepared)."""

    net: tuple[str, ...] = ("default",)
    interactive: bool = False
    debug: bool = False
    # where net.d/ is (rkt's --local-config)
    local_config: Path = Path("/etc/rkt")


def _set_isolator(app: App, name: str, limit: str) -> App:
    q = parse_quantity(limit, f"--{name.split('/')[-1]}")
    if q <= 0:
        die(f"--{name.split('/')[-1]} must be positive")
    isos = tuple(i for i in app.isolators if i.name != name)
    return replace(app, isolators=isos + (Isolator(name, {"limit": limit}),))


def build_runtime_app(req: AppRequest, info: ImageInfo, manifest: ImageManifest) -> RuntimeApp:
    app = manifest.app
    if app is None:
        if req.exec is None:
            die(f"image {info.display_name} has no app section",
                hint="give the command to run with --exec")
        app = App(exec=(), user="0", group="0")
    if req.exec is not None:
        if not req.exec.startswith("/"):
            die(f"--exec {req.exec!r} must be an absolute path")
        app = replace(app, exec=(req.exec,))
    if req.args:
        app = replace(app, exec=app.exec + req.args)
    if not app.exec:
        die(f"image {info.display_name} has no exec", hint="give one with --exec")
    if req.memory is not None:
        app = _set_isolator(app, IsolatorName.MEMORY, req.memory)
    if req.cpu is not None:
        app = _set_isolator(app, IsolatorName.CPU, req.cpu)
    if req.user is not None:
        app = replace(app, user=req.user)
    if req.group is not None:
        app = replace(app, group=req.group)
    name = acname(req.name, "--name") if req.name else \
        sanitize_acname(manifest.name.rsplit("/", 1)[-1])
    return RuntimeApp(name, ImageRef(manifest.name, info.id, manifest.labels), app)


def exposed_ports(apps: tuple[RuntimeApp, ...], ports: tuple[tuple[str, int], ...],
                  ) -> tuple[ExposedPort, ...]:
    known = {p.name for a in apps for p in a.app.ports}
    out: list[ExposedPort] = []
    for name, host_port in ports:
        if name not in known:
            listing = ", ".join(sorted(known)) or "none"
            die(f"port name {name!r} is not declared by any app in the pod "
                f"(declared: {listing})")
        if not 1 <= host_port <= 65535:
            die(f"host port {host_port} for {name!r} is out of range 1-65535")
        if any(p.name == name for p in out):
            die(f"duplicate --port for {name!r}", hint="give each port name once")
        if any(p.host_port == host_port for p in out):
            die(f"duplicate host port {host_port} in --port",
                hint="each host port can be forwarded to one pod port only")
        out.append(ExposedPort(name, host_port))
    return tuple(out)


def forwards(manifest: PodManifest) -> tuple[ports.Forward, ...]:
    """The --port mappings iptables forwards: those of ports that are not socket-activated."""
    out = []
    for exposed in manifest.ports:
        for app in manifest.apps:
            port = next((p for p in app.app.ports if p.name == exposed.name), None)
            if port is not None and not port.socket_activated:
                out.append(ports.Forward(str(port.protocol), exposed.host_port, port.port))
                break
    return tuple(out)


def _lookup_id(value: str, table: Path, what: str) -> int:
    if value.isdigit():
        return int(value)
    try:
        for line in table.read_text().splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and fields[0] == value and fields[2].isdigit():
                return int(fields[2])
    except OSError:
        pass
    if value == "root":
        return 0
    die(f"{what} {value!r} not found in the image's {table.name}")


def app_env(app: RuntimeApp, req: PodRequest, inherited: dict[str, str] | None,
            ) -> dict[str, str]:
    file_env: dict[str, str] = {}
    for path in req.set_env_files:
        file_env.update(envmod.read_env_file(path))
    return envmod.merge(
        inherited=inherited,
        manifest=[(e.name, e.value) for e in app.app.environment],
        env_file=file_env,
        flags=dict(req.set_env),
        app_name=app.name,
    )


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def prepare(root: Path, req: PodRequest, run: RunOptions, *, target: Dir) -> Pod:
    """Create and fully prepare a pod; it ends up locked in `target` (prepared/ or run/)."""
    store = Store(root)
    resolved: list[tuple[AppRequest, ImageInfo, ImageManifest]] = []
    for areq in req.apps:
        info = fetch(store, areq.image, req.fetch_policy)
        resolved.append((areq, info, store.manifest(info.id)))
    apps = tuple(build_runtime_app(a, i, m) for a, i, m in resolved)
    if run.interactive and len(apps) != 1:
        die("--interactive works with exactly one app")
    for _, _, m in resolved:
        if m.dependencies:
            die(f"image {m.display_name} has dependencies, which rkt_ref does not support")
    manifest = PodManifest(apps, exposed_ports(apps, req.ports))
    inherited = dict(os.environ) if req.inherit_env else None
    envs = {a.name: app_env(a, req, inherited) for a in apps}

    pods = Pods(root)
    with Embryo(pods) as pod:
        if req.uuid_file_save:
            try:
                Path(req.uuid_file_save).write_text(pod.uuid)
            except OSError as e:
                die(f"cannot write UUID file {req.uuid_file_save}: {e.strerror}")
        _write(pod.path / "pod", json.dumps(manifest.to_json(), indent=1) + "\n", 0o640)
        _write(pod.path / "options.json", json.dumps({
            "net": list(run.net), "interactive": run.interactive}) + "\n", 0o640)
        pod.move(Dir.PREPARE)
        _build_stage1(pod, store, manifest, envs, run)
        for _, info, _ in resolved:
            store.touch(info.id)
        pod.move(target)
        return pod


def _build_stage1(pod: Pod, store: Store, manifest: PodManifest,
                  envs: dict[str, dict[str, str]], run: RunOptions) -> None:
    rootfs = pod.stage1_rootfs()
    rootfs.mkdir(parents=True, mode=0o755)
    for d in stage1.SKELETON_DIRS:
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    os.chmod(rootfs / "tmp", 0o1777)
    os.chmod(rootfs / "var" / "tmp", 0o1777)
    for link, dest in stage1.SKELETON_LINKS.items():
        os.symlink(dest, rootfs / link)
    for rel, text in stage1.skeleton_files(pod.uuid).items():
        _write(rootfs / rel, text)

    unit_opts: dict[str, stage1.AppUnitOptions] = {}
    host_ports = {p.name: p.host_port for p in manifest.ports}
    for app in manifest.apps:
        app_dir = rootfs / "opt" / "stage2" / app.name
        app_dir.mkdir(parents=True)
        _write(app_dir / "manifest",
               json.dumps(store.manifest(app.image.id).to_json(), indent=1) + "\n")
        target = app_dir / "rootfs"
        how = mounts.mount_app_rootfs(
            store.rootfs(app.image.id),
            pod.path / "overlay" / app.name / "upper",
            pod.path / "overlay" / app.name / "work",
            target,
        )
        log.debug("stage0: app %s rootfs by %s", app.name, how)
        for mp in ("dev", "proc", "sys"):
            p = target / mp
            if p.is_symlink() or not p.is_dir():
                if p.is_symlink() or p.exists():
                    p.unlink()
                p.mkdir(mode=0o755)
        uid = _lookup_id(app.app.user, target / "etc" / "passwd", "user")
        gid = _lookup_id(app.app.group, target / "etc" / "group", "group")
        sockets = tuple((p, host_ports.get(p.name, p.port)) for p in app.app.ports
                        if p.socket_activated)
        unit_opts[app.name] = stage1.AppUnitOptions(
            uid=uid, gid=gid, supplementary_gids=app.app.supplementary_gids,
            interactive=run.interactive, socket_ports=sockets)
        _write(rootfs / "rkt" / "env" / app.name, envmod.format_env_file(envs[app.name]),
               0o640)

    unit_dir = rootfs / "etc" / "systemd" / "system"
    contained = net.mode_of(run.net) == net.Mode.CONTAINED
    for name, text in stage1.units(manifest.apps, unit_opts, network=contained).items():
        _write(unit_dir / name, text)
    for unit in stage1.HOST_UNITS:
        host = Path("/usr/lib/systemd/system") / unit
        if host.exists() and not (unit_dir / unit).exists():
            os.symlink(host, unit_dir / unit)
    for sock in stage1.socket_wants(manifest.apps, unit_opts):
        os.symlink(f"../{sock}", unit_dir / "sockets.target.wants" / sock)


def load_run_options(pod: Pod, overrides: RunOptions | None, debug: bool) -> RunOptions:
    if overrides is not None:
        return overrides
    saved = pod.options()
    return RunOptions(net=tuple(saved.get("net") or ("default",)),
                      interactive=bool(saved.get("interactive", False)), debug=debug)


def release_stale_networks(pods: Pods, local_config: Path, addresses: set[str]) -> None:
    """Tear down the networks of exited, not yet collected pods that hold `addresses`.

    rkt leaves that to gc; a pod asking for a fixed address (`--net=ptp0:IP=...`) after
    the previous pod of its unit exited would then find the address still taken.
    """
    for other in pods.in_dir(Dir.RUN):
        if not net.has_network(other.path) or \
                not addresses & {i.ip for i in netinfo.load_info(other.path)}:
            continue
        if not other.try_lock():
            continue  # running or starting
        try:
            if not other.nspawn_alive():
                net.teardown(other.path, other.uuid, local_config)
        finally:
            other.unlock()


def begin_network(pod: Pod, run: RunOptions) -> tuple[net.NetPlan, net.Attachments | None]:
    """Check the pod's networks and make its namespace; the ADDs are left to do."""
    if net.mode_of(run.net) != net.Mode.CONTAINED:
        return net.begin(pod.path, pod.uuid, run.net, run.local_config)
    fixed = {ip for r in net.requests(run.net) for k, _, ip in
             (a.partition("=") for a in r.args.split(";")) if k == "IP"}
    if fixed:
        release_stale_networks(pod.pods, run.local_config, fixed)
    manifest = pod.manifest()
    fwds = forwards(manifest) if manifest else ()
    return net.begin(pod.path, pod.uuid, run.net, run.local_config, fwds)


def attach_beside(pod: Pod, pending: net.Attachments) -> None:
    """Make the pod's networks in a worker while this process becomes nspawn.

    The ADDs (seconds under emulation, with ipMasq's iptables) overlap the pod's boot.
    The worker holds stage1's network file locked until it is done, and writes there
    "ok", or "failed" after reporting the error on rkt's stderr; the pod's
    pod-network.service waits for the lock and ends the pod if it was not "ok" (or if
    the worker died). The worker also holds the pod lock, so gc never takes the pod
    for exited while its networks are being made.
    """
    fd = os.open(pod.stage1_rootfs() / stage1.NETWORK_FILE,
                 os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)

        def work() -> None:
            status = "failed"
            try:
                pending.attach()
                status = "ok"
            except RktError as e:
                report(e, sys.stderr)
            except BaseException as e:  # still tell the pod, which would wait in vain
                report(RktError(f"networking: {e!r}"), sys.stderr)
            finally:
                os.write(fd, f"{status}\n".encode())

        proc.beside(work)
    finally:
        os.close(fd)  # the worker's copy keeps the lock


def exec_pod(pod: Pod, run: RunOptions, *, on_failure: Dir | None = None) -> NoReturn:
    """Become the pod's nspawn. The caller holds the pod lock, the pod is in run/.

    If the network cannot be begun, nothing of it is left: the pod is deleted
    (on_failure None, `rkt run`) or moved back (run-prepared: to prepared/). Its ADDs
    then run beside the pod's boot (attach_beside), if its apps wait for them: a pod
    prepared with other networks than `run-prepared --net` asks for has them made
    before, or is told they are there.
    """
    if pod.dir != Dir.RUN:
        raise RktError(f"pod {pod.uuid} is not in run/")
    rootfs = pod.stage1_rootfs()
    apps_wait = (rootfs / stage1.UNIT_PATH.lstrip("/") / stage1.NETWORK_SERVICE).exists()
    try:
        plan, pending = begin_network(pod, run)
        if pending is not None and not apps_wait:
            pending.attach()
            pending = None
    except BaseException:
        if on_failure is None:
            try:
                delete(pod)
            finally:
                pod.unlock()
        else:
            pod.move(on_failure)
        raise
    pid_path = pod.path / "pid"
    pid_path.write_text(f"{os.getpid()}\n")
    pod.keep_lock_across_exec()
    manifest = pod.manifest()
    args = nspawn.argv(pod.uuid, keep_unit=nspawn.running_in_service(),
                       extra=plan.nspawn_args, nspawn=nspawn.find_nspawn(), debug=run.debug,
                       capabilities=[a.app.capabilities() for a in manifest.apps]
                       if manifest else ())
    if run.interactive:
        # the app talks to the terminal through the pod's console
        args.insert(args.index("--"), "--console=interactive")
    if pending is not None:
        attach_beside(pod, pending)
    elif apps_wait:
        (rootfs / stage1.NETWORK_FILE).write_text("ok\n")
    nspawn.exec_pod(pod.path, args, nspawn.environment(os.environ, debug=run.debug))
