"""Unit files and skeleton files written into a pod's stage1 tree (pure functions).

The inner systemd boots `default.target` ("rkt apps target"), which pulls in only
the apps and what they need: their reaper, their prepare-app@ mount helper, their
sockets, and journald (via StandardOutput=journal). Everything has
DefaultDependencies=no, so no sysinit/basic machinery is started.

How the pod ends:
- an app exits on its own: its ExecStopPost records the status in /rkt/status/<app>;
  a non-zero status (signals count as their number, as rkt reports status=15 for
  SIGTERM) ends the pod at once with `systemctl exit <status>`, which becomes
  nspawn's, and so rkt's, exit status; a zero status ends the pod once every app has
  exited;
- the pod is asked to stop (SIGTERM to nspawn, `machinectl poweroff`): the system
  is already stopping, so statuses are recorded but the exit status stays 0;
- its networks could not be made (stage0 makes them while the pod boots, the apps
  waiting in pod-network.service): the pod exits at once with rkt's status 254.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .errors import EXIT_FAILURE
from .record import record
from .schema import IsolatorName, Port, Protocol, RuntimeApp

TYPE_CHECKING = False  # typing is not imported at run time (see record.py)
if TYPE_CHECKING:
    from decimal import Decimal

SHUTDOWN_TARGETS = "exit.target halt.target poweroff.target"
# Stopped before shutdown.target is reached, so systemd-{halt,poweroff,exit}.service
# wait for the pod's own orderly end (apps, reapers, then shutdown.service).
BEFORE_SHUTDOWN = SHUTDOWN_TARGETS + " shutdown.target"
STAGE2 = "/opt/stage2"

# Signal names systemd puts in $EXIT_STATUS for killed processes -> numbers (x86-64).
_SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8,
    "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
    "STKFLT": 16, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "SYS": 31,
}


@record
class AppUnitOptions:
    """What stage0 resolved for an app beyond its manifest."""

    uid: int
    gid: int
    supplementary_gids: tuple[int, ...] = ()
    interactive: bool = False
    socket_ports: tuple[tuple[Port, int], ...] = ()  # (port, listen port on the host)


def _unit(sections: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> str:
    out: list[str] = []
    for title, options in sections:
        if out:
            out.append("")
        out.append(f"[{title}]")
        out.extend(f"{k}={v}" for k, v in options)
    return "\n".join(out) + "\n"


_PLAIN_ARG = r"^[A-Za-z0-9_@+=:,./-]+$"


def quote_exec_arg(arg: str) -> str:
    """One ExecStart= word: `%` and `$` doubled, quoted when it holds anything special."""
    esc = arg.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(_PLAIN_ARG, arg):
        return esc
    esc = esc.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{esc}"'


def exec_line(argv: Sequence[str]) -> str:
    return " ".join(quote_exec_arg(a) for a in argv)


def unit_path_escape(path: str) -> str:
    """Like `systemd-escape --path`, for the paths stage1 uses (/opt/stage2/<acname>/rootfs)."""
    trimmed = path.strip("/")
    out = []
    for ch in trimmed:
        if ch == "/":
            out.append("-")
        elif ch.isalnum() or ch in ":_.":
            out.append(ch)
        else:
            out.append(f"\\x{ord(ch):02x}")
    return "".join(out)


def prepare_app_instance(app_name: str) -> str:
    """prepare-app@<instance>.service for the app's rootfs, as rkt names it."""
    # rkt keeps the leading '-' of the escaped absolute path in the instance name.
    return f"prepare-app@-{unit_path_escape(f'{STAGE2}/{app_name}/rootfs')}.service"


def app_rootfs(app_name: str) -> str:
    return f"{STAGE2}/{app_name}/rootfs"


def default_target(app_names: Sequence[str], *, sockets: bool = False) -> str:
    opts: list[tuple[str, str]] = [("Description", "rkt apps target"),
                                   ("DefaultDependencies", "no"),
                                   ("Wants", "shutdown.service")]
    for name in app_names:
        opts.append(("Wants", f"{name}.service"))
        opts.append(("After", f"{name}.service"))
    if sockets:
        opts.append(("Wants", "sockets.target"))
    return _unit([("Unit", opts)])


def sockets_target() -> str:
    return _unit([("Unit", [("Description", "rkt sockets target"),
                            ("DefaultDependencies", "no")])])


def shutdown_service() -> str:
    # Started first, so stopped last: once every app and reaper is down it ends the
    # container at once, with the exit status set earlier (0 if none was).
    return _unit([
        ("Unit", [("Description", "Pod shutdown"), ("DefaultDependencies", "no"),
                  ("Conflicts", SHUTDOWN_TARGETS), ("Before", BEFORE_SHUTDOWN)]),
        ("Service", [("Type", "oneshot"), ("RemainAfterExit", "yes"),
                     ("ExecStop", "/usr/bin/systemctl --force exit")]),
    ])


def reaper_service(app_name: str) -> str:
    script = (f"s=$$(/usr/bin/systemctl show -P ExecMainStatus {app_name}.service); "
              f"echo \"$${{s:-0}}\" > /rkt/status/{app_name}")
    return _unit([
        ("Unit", [("Description", f"{app_name} Reaper"), ("DefaultDependencies", "no"),
                  ("StopWhenUnneeded", "yes"), ("After", "shutdown.service"),
                  ("Before", f"{app_name}.service"),
                  ("Conflicts", SHUTDOWN_TARGETS), ("Before", BEFORE_SHUTDOWN)]),
        ("Service", [("Type", "oneshot"), ("RemainAfterExit", "yes"),
                     ("ExecStop", f"/usr/bin/sh -c '{script}'")]),
    ])


# The file stage0's network worker holds locked while it makes the pod's networks
# beside nspawn's boot, and in which it then writes "ok" (or "failed"); relative to
# the stage1 root, where the pod sees it as /rkt/network.
NETWORK_FILE = "rkt/network"
NETWORK_SERVICE = "pod-network.service"


def network_service() -> str:
    """Holds the apps back until the pod's networks are made, and ends a pod without them.

    flock(1) waits for the worker's lock: released when it is done, or when it died.
    Without "ok" the pod exits at once with rkt's failure status (the worker reported
    why on rkt's stderr); asked for before this unit fails, so that the apps' OnFailure
    (halt, status 0) cannot come first.
    """
    script = (f"/usr/bin/flock /{NETWORK_FILE} /usr/bin/true && "
              f"read s < /{NETWORK_FILE} && [ \"$$s\" = ok ] && exit 0; "
              f"/usr/bin/systemctl --no-block exit {EXIT_FAILURE}; exit 1")
    return _unit([
        ("Unit", [("Description", "Pod networks"), ("DefaultDependencies", "no"),
                  ("Conflicts", SHUTDOWN_TARGETS), ("Before", BEFORE_SHUTDOWN)]),
        ("Service", [("Type", "oneshot"), ("RemainAfterExit", "yes"),
                     ("ExecStart", f"/usr/bin/sh -c '{script}'")]),
    ])


def prepare_app_service() -> str:
    # %I is the unescaped instance ('-' -> '/'): the app's rootfs inside stage1. (%f
    # would refuse the leading '-' of the instance names rkt uses.)
    return _unit([
        ("Unit", [("Description", "Prepare minimum environment for chrooted applications"),
                  ("DefaultDependencies", "no"), ("OnFailureJobMode", "fail")]),
        ("Service", [("Type", "oneshot"), ("RemainAfterExit", "yes"),
                     ("CapabilityBoundingSet", "CAP_SYS_ADMIN CAP_DAC_OVERRIDE CAP_MKNOD"),
                     ("ExecStart", "/usr/bin/mount --rbind /dev %I/dev"),
                     ("ExecStart", "/usr/bin/mount --rbind /proc %I/proc"),
                     ("ExecStart", "/usr/bin/mount --rbind /sys %I/sys")]),
    ])


def _exit_script(app_name: str, app_names: Sequence[str]) -> str:
    """ExecStopPost of an app: record its status; end the pod when it is time."""
    cases = " ".join(f"{k}) s={v};;" for k, v in _SIGNALS.items())
    waits = " ".join(app_names)
    return (
        f"case $$EXIT_CODE in exited) s=$$EXIT_STATUS;; \"\") s=0;; *) "
        f"case $$EXIT_STATUS in {cases} *) s=255;; esac;; esac; "
        f"echo $$s > /rkt/status/{app_name}; "
        "[ \"$$(/usr/bin/systemctl is-system-running)\" = stopping ] && exit 0; "
        "if [ $$s != 0 ]; then (set -C; echo $$s > /rkt/exit-code) 2>/dev/null; "
        "else for a in " + waits + "; do [ -e /rkt/status/$$a ] || exit 0; done; fi; "
        "exec /usr/bin/systemctl --no-block exit $$(cat /rkt/exit-code 2>/dev/null || echo 0)"
    )


def _milli(value: Decimal) -> int:
    from decimal import ROUND_CEILING

    return int((value * 1000).to_integral_value(rounding=ROUND_CEILING))


def isolator_options(app: RuntimeApp) -> list[tuple[str, str]]:
    """Image/flag isolators as cgroup v2 resource settings of the app's service."""
    opts: list[tuple[str, str]] = []
    mem = app.app.isolator(IsolatorName.MEMORY)
    if mem is not None and (limit := mem.limit()) is not None:
        opts.append(("MemoryMax", str(int(limit))))
    cpu = app.app.isolator(IsolatorName.CPU)
    if cpu is not None and (limit := cpu.limit()) is not None:
        # rkt: millicores / 10 = percent of one CPU.
        opts.append(("CPUQuota", f"{max(1, _milli(limit) // 10)}%"))
    shares = app.app.isolator(IsolatorName.CPU_SHARES)
    if shares is not None:
        # cgroup v1 shares (default 1024) -> v2 weight (default 100), as systemd converts.
        weight = min(10000, max(1, int(shares.value) * 100 // 1024))
        opts.append(("CPUWeight", str(weight)))
    oom = app.app.isolator(IsolatorName.OOM_SCORE_ADJ)
    if oom is not None:
        opts.append(("OOMScoreAdjust", str(int(oom.value))))
    return opts


def app_service(app: RuntimeApp, app_names: Sequence[str], options: AppUnitOptions,
                *, network: bool = False) -> str:
    name = app.name
    prep = prepare_app_instance(name)
    unit: list[tuple[str, str]] = [
        ("Description", f"Application={name} Image={app.image.name}"),
        ("DefaultDependencies", "no"),
        ("OnFailure", "halt.target"),
        ("Wants", f"reaper-{name}.service"),
        ("Requires", prep),
        ("After", prep),
        # journald is socket-activated by the app's output; nothing else starts it.
        ("Wants", "systemd-journald.socket systemd-journald-dev-log.socket"),
        ("After", "systemd-journald.socket systemd-journald-dev-log.socket"),
        ("Conflicts", SHUTDOWN_TARGETS),
        ("Before", BEFORE_SHUTDOWN),
    ]
    if options.socket_ports:
        unit += [("Requires", f"{name}.socket"), ("After", f"{name}.socket")]
    if network:
        unit += [("Requires", NETWORK_SERVICE), ("After", NETWORK_SERVICE)]
    service: list[tuple[str, str]] = [
        ("Restart", "no"),
        ("ExecStart", exec_line(app.app.exec)),
        # '+': as root, whatever User= says; RootDirectoryStartOnly: outside the app's root.
        ("ExecStopPost", f"+/usr/bin/sh -c '{_exit_script(name, app_names)}'"),
        ("RootDirectory", app_rootfs(name)),
        ("RootDirectoryStartOnly", "yes"),
        ("WorkingDirectory", app.app.working_directory or "/"),
        ("EnvironmentFile", f"/rkt/env/{name}"),
        ("User", str(options.uid)),
        ("Group", str(options.gid)),
    ]
    if options.supplementary_gids:
        service.append(("SupplementaryGroups",
                        " ".join(str(g) for g in options.supplementary_gids)))
    # rkt's least privilege: the appc default capabilities (or the image's retain/remove
    # set) bound the app, and NoNewPrivileges only where the image asks for it.
    service.append(("CapabilityBoundingSet", " ".join(app.app.capabilities())))
    service.append(("NoNewPrivileges", "true" if app.app.no_new_privileges() else "false"))
    service.append(("SyslogIdentifier", name))
    if options.interactive:
        service += [("StandardInput", "tty-force"), ("StandardOutput", "tty"),
                    ("StandardError", "tty"), ("TTYPath", "/dev/console")]
    else:
        service += [("StandardOutput", "journal+console"),
                    ("StandardError", "journal+console")]
    service += [("KillMode", "mixed")]
    service += isolator_options(app)
    return _unit([("Unit", unit), ("Service", service)])


def socket_unit(app_name: str, ports: Sequence[tuple[Port, int]]) -> str:
    sock: list[tuple[str, str]] = [("BindIPv6Only", "both"), ("Service", f"{app_name}.service")]
    for port, host_port in ports:
        key = "ListenStream" if port.protocol == Protocol.TCP else "ListenDatagram"
        sock.append((key, str(host_port)))
    return _unit([
        ("Unit", [("Description", f"Application={app_name} sockets"),
                  ("DefaultDependencies", "no"), ("Before", "sockets.target"),
                  ("Conflicts", SHUTDOWN_TARGETS), ("Before", BEFORE_SHUTDOWN)]),
        ("Socket", sock),
    ])


def socket_loader_dropin(socket_units: Sequence[str]) -> str:
    """Drop-in for -.slice that loads the pod's socket units when its systemd starts.

    nspawn hands the sockets systemd passed to rkt (LISTEN_FDS) on to the pod's systemd,
    which gives each to the socket unit listening on the same address. It only looks at
    the units it has loaded by then: -.slice, loaded first, pulls the sockets in with an
    ordering dependency (which starts nothing). Without it the pod's systemd would close
    the passed socket and bind its own, in the pod's network namespace, where no
    connection of the host ever arrives.
    """
    return _unit([("Unit", [("Before", " ".join(socket_units))])])


def mount_dropin() -> str:
    """Drop-in for every opt-*.mount: the app roots and their /dev, /proc, /sys.

    Without default dependencies these mounts are not unmounted one by one when the
    pod stops (they are busy until the apps are gone anyway); the pod's mount
    namespace goes away with it.
    """
    return _unit([("Unit", [("DefaultDependencies", "no")])])


def os_release() -> str:
    # No ID=: machined then shows OS "-" for the pod, as it does for rkt's stage1.
    return 'NAME="rkt stage1"\nPRETTY_NAME="rkt pod (rkt_ref host flavor)"\n'


def units(apps: Sequence[RuntimeApp], options: dict[str, AppUnitOptions], *,
          network: bool = False) -> dict[str, str]:
    """Every file under etc/systemd/system, keyed by its path below that directory.

    `network`: stage0 makes the pod's networks while it boots; the apps wait for them.
    """
    names = [a.name for a in apps]
    files: dict[str, str] = {
        "default.target": default_target(
            names, sockets=any(options[a.name].socket_ports for a in apps)),
        "sockets.target": sockets_target(),
        "shutdown.service": shutdown_service(),
        "prepare-app@.service": prepare_app_service(),
        "opt-.mount.d/10-rkt-pod.conf": mount_dropin(),
    }
    for app in apps:
        opts = options[app.name]
        files[f"{app.name}.service"] = app_service(app, names, opts, network=network)
        files[f"reaper-{app.name}.service"] = reaper_service(app.name)
        if opts.socket_ports:
            files[f"{app.name}.socket"] = socket_unit(app.name, opts.socket_ports)
    if network:
        files[NETWORK_SERVICE] = network_service()
    sockets = socket_wants(apps, options)
    if sockets:
        files["-.slice.d/10-rkt-sockets.conf"] = socket_loader_dropin(sockets)
    return files


# The host units a pod's systemd may need: journald for the apps' output, and the
# targets and services of the ways a pod ends. The pod's systemd looks for units only
# in its /etc/systemd/system (SYSTEMD_UNIT_PATH), where these are symlinks into the
# host's /usr: it neither reads nor can start the hundreds of other host units.
HOST_UNITS = (
    "-.slice", "system.slice",
    "systemd-journald.service", "systemd-journald.socket", "systemd-journald-dev-log.socket",
    "systemd-journald-audit.socket", "systemd-journal-flush.service",
    "shutdown.target", "umount.target", "final.target",
    "exit.target", "systemd-exit.service",
    "halt.target", "systemd-halt.service",
    "poweroff.target", "systemd-poweroff.service",
    "reboot.target", "systemd-reboot.service",
    "kexec.target", "systemd-kexec.service",
)
UNIT_PATH = "/etc/systemd/system"


def socket_wants(apps: Sequence[RuntimeApp], options: dict[str, AppUnitOptions]) -> list[str]:
    """Socket units to link into sockets.target.wants/."""
    return [f"{a.name}.socket" for a in apps if options[a.name].socket_ports]


def skeleton_files(uuid: str) -> dict[str, str]:
    """Small files of the stage1 root, keyed by path relative to stage1/rootfs."""
    return {
        "etc/os-release": os_release(),
        "etc/machine-id": uuid.replace("-", "") + "\n",
        "etc/hostname": f"rkt-{uuid}\n",
        "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
        "etc/group": "root:x:0:\n",
        # the host's /etc/hosts is not visible; give the pod the loopback names
        "etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    }


SKELETON_DIRS = ("etc/systemd/system/sockets.target.wants", "var/log/journal", "var/tmp",
                 "run", "tmp", "dev", "proc", "sys", "usr", "root", "rkt/env", "rkt/status",
                 "opt/stage2")
SKELETON_LINKS = {"bin": "usr/bin", "lib": "usr/lib", "lib64": "usr/lib64", "sbin": "usr/sbin"}
