# ruff: noqa: E501  (unit files are compared verbatim)
"""Unit files written into the pod, compared against their expected text."""

from __future__ import annotations

from typing import Any

from rkt_ref import stage1
from rkt_ref.schema import App, ImageManifest, ImageRef, Isolator, RuntimeApp
from rkt_ref.stage1 import AppUnitOptions


def runtime_app(name: str, image: str, app: dict[str, Any]) -> RuntimeApp:
    m = ImageManifest.from_json({"acKind": "ImageManifest", "acVersion": "0.8.11",
                                 "name": image, "app": app})
    assert m.app is not None
    return RuntimeApp(name, ImageRef(m.name, "sha512-" + "0" * 64, m.labels), m.app)


ETCD = runtime_app("etcd", "coreos.com/etcd",
                   {"exec": ["/etcd", "--data-dir=/var/lib/etcd"], "user": "0", "group": "0"})

EXPECTED_ETCD_SERVICE = """\
[Unit]
Description=Application=etcd Image=coreos.com/etcd
DefaultDependencies=no
OnFailure=halt.target
Wants=reaper-etcd.service
Requires=prepare-app@-opt-stage2-etcd-rootfs.service
After=prepare-app@-opt-stage2-etcd-rootfs.service
Wants=systemd-journald.socket systemd-journald-dev-log.socket
After=systemd-journald.socket systemd-journald-dev-log.socket
Conflicts=exit.target halt.target poweroff.target
Before=exit.target halt.target poweroff.target shutdown.target

[Service]
Restart=no
ExecStart=/etcd --data-dir=/var/lib/etcd
ExecStopPost=+/usr/bin/sh -c 'case $$EXIT_CODE in exited) s=$$EXIT_STATUS;; "") s=0;; *) case $$EXIT_STATUS in HUP) s=1;; INT) s=2;; QUIT) s=3;; ILL) s=4;; TRAP) s=5;; ABRT) s=6;; BUS) s=7;; FPE) s=8;; KILL) s=9;; USR1) s=10;; SEGV) s=11;; USR2) s=12;; PIPE) s=13;; ALRM) s=14;; TERM) s=15;; STKFLT) s=16;; XCPU) s=24;; XFSZ) s=25;; VTALRM) s=26;; PROF) s=27;; SYS) s=31;; *) s=255;; esac;; esac; echo $$s > /rkt/status/etcd; [ "$$(/usr/bin/systemctl is-system-running)" = stopping ] && exit 0; if [ $$s != 0 ]; then (set -C; echo $$s > /rkt/exit-code) 2>/dev/null; else for a in etcd; do [ -e /rkt/status/$$a ] || exit 0; done; fi; exec /usr/bin/systemctl --no-block exit $$(cat /rkt/exit-code 2>/dev/null || echo 0)'
RootDirectory=/opt/stage2/etcd/rootfs
RootDirectoryStartOnly=yes
WorkingDirectory=/
EnvironmentFile=/rkt/env/etcd
User=0
Group=0
CapabilityBoundingSet=CAP_AUDIT_WRITE CAP_CHOWN CAP_DAC_OVERRIDE CAP_FSETID CAP_FOWNER CAP_KILL CAP_MKNOD CAP_NET_RAW CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_SETPCAP CAP_SETFCAP CAP_SYS_CHROOT
NoNewPrivileges=false
SyslogIdentifier=etcd
StandardOutput=journal+console
StandardError=journal+console
KillMode=mixed
"""

EXPECTED_REAPER = """\
[Unit]
Description=etcd Reaper
DefaultDependencies=no
StopWhenUnneeded=yes
After=shutdown.service
Before=etcd.service
Conflicts=exit.target halt.target poweroff.target
Before=exit.target halt.target poweroff.target shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStop=/usr/bin/sh -c 's=$$(/usr/bin/systemctl show -P ExecMainStatus etcd.service); echo "$${s:-0}" > /rkt/status/etcd'
"""

EXPECTED_DEFAULT_TARGET = """\
[Unit]
Description=rkt apps target
DefaultDependencies=no
Wants=shutdown.service
Wants=etcd.service
After=etcd.service
"""

EXPECTED_SHUTDOWN = """\
[Unit]
Description=Pod shutdown
DefaultDependencies=no
Conflicts=exit.target halt.target poweroff.target
Before=exit.target halt.target poweroff.target shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStop=/usr/bin/systemctl --force exit
"""

EXPECTED_PREPARE_APP = """\
[Unit]
Description=Prepare minimum environment for chrooted applications
DefaultDependencies=no
OnFailureJobMode=fail

[Service]
Type=oneshot
RemainAfterExit=yes
CapabilityBoundingSet=CAP_SYS_ADMIN CAP_DAC_OVERRIDE CAP_MKNOD
ExecStart=/usr/bin/mount --rbind /dev %I/dev
ExecStart=/usr/bin/mount --rbind /proc %I/proc
ExecStart=/usr/bin/mount --rbind /sys %I/sys
"""


def test_app_service() -> None:
    text = stage1.app_service(ETCD, ["etcd"], AppUnitOptions(uid=0, gid=0))
    assert text == EXPECTED_ETCD_SERVICE


def test_reaper_default_target_shutdown_prepare_app() -> None:
    assert stage1.reaper_service("etcd") == EXPECTED_REAPER
    assert stage1.default_target(["etcd"]) == EXPECTED_DEFAULT_TARGET
    assert stage1.shutdown_service() == EXPECTED_SHUTDOWN
    assert stage1.prepare_app_service() == EXPECTED_PREPARE_APP


def test_all_units_of_a_pod() -> None:
    files = stage1.units([ETCD], {"etcd": AppUnitOptions(uid=0, gid=0)})
    assert sorted(files) == ["default.target", "etcd.service", "opt-.mount.d/10-rkt-pod.conf",
                             "prepare-app@.service", "reaper-etcd.service", "shutdown.service",
                             "sockets.target"]


def test_a_pod_with_networks_holds_its_apps_until_they_are_made() -> None:
    files = stage1.units([ETCD], {"etcd": AppUnitOptions(uid=0, gid=0)}, network=True)
    assert set(files) - set(stage1.units([ETCD], {"etcd": AppUnitOptions(uid=0, gid=0)})) \
        == {"pod-network.service"}
    app = files["etcd.service"].splitlines()
    assert "Requires=pod-network.service" in app and "After=pod-network.service" in app
    waiter = files["pod-network.service"]
    assert "/usr/bin/flock /rkt/network /usr/bin/true" in waiter
    # not "ok": the pod exits with rkt's failure status, asked for before the unit fails
    assert waiter.index("systemctl --no-block exit 254") < waiter.index("exit 1")


def _service_lines(app: RuntimeApp, opts: AppUnitOptions | None = None) -> list[str]:
    return stage1.app_service(app, [app.name], opts or AppUnitOptions(uid=0, gid=0)).splitlines()


def test_isolators_use_cgroup_v2_names() -> None:
    app = runtime_app("etcd", "coreos.com/etcd", {
        "exec": ["/etcd"], "user": "0", "group": "0",
        "isolators": [{"name": "resource/memory", "value": {"limit": "1G"}},
                      {"name": "resource/cpu", "value": {"limit": "500m"}},
                      {"name": "os/linux/cpu-shares", "value": 512},
                      {"name": "os/linux/oom-score-adj", "value": -100}]})
    lines = _service_lines(app)
    assert "MemoryMax=1000000000" in lines
    assert "CPUQuota=50%" in lines  # millicores / 10
    assert "CPUWeight=50" in lines  # 512 shares of 1024 -> weight 50 of 100
    assert "OOMScoreAdjust=-100" in lines
    assert not [ln for ln in lines if ln.startswith(("MemoryLimit=", "CPUShares="))]


def test_cpu_quota_rounds_up_small_values() -> None:
    app = runtime_app("a", "example.com/a", {"exec": ["/a"], "user": "0", "group": "0"})
    app = RuntimeApp(app.name, app.image, App(app.app.exec, "0", "0",
                                              isolators=(Isolator("resource/cpu",
                                                                  {"limit": "2"}),)))
    assert "CPUQuota=200%" in _service_lines(app)


def test_socket_activated_port() -> None:
    app = runtime_app("myapp", "myapp.com/myapp", {
        "exec": ["/bin/app"], "user": "0", "group": "0",
        "ports": [{"name": "80-tcp", "protocol": "tcp", "port": 80, "socketActivated": True}]})
    port = app.app.ports[0]
    opts = AppUnitOptions(uid=0, gid=0, socket_ports=((port, 8080),))
    lines = _service_lines(app, opts)
    assert "Requires=myapp.socket" in lines
    assert stage1.socket_unit("myapp", [(port, 8080)]) == """\
[Unit]
Description=Application=myapp sockets
DefaultDependencies=no
Before=sockets.target
Conflicts=exit.target halt.target poweroff.target
Before=exit.target halt.target poweroff.target shutdown.target

[Socket]
BindIPv6Only=both
Service=myapp.service
ListenStream=8080
"""
    files = stage1.units([app], {"myapp": opts})
    assert "myapp.socket" in files
    assert "Wants=sockets.target" in files["default.target"].splitlines()
    assert stage1.socket_wants([app], {"myapp": opts}) == ["myapp.socket"]


def test_exec_quoting_of_shell_commands() -> None:
    argv = ["/bin/sh", "-c", "echo MYAPP-ENV-BEGIN; env | sort; trap 'echo $HOME 100%' TERM"]
    assert stage1.exec_line(argv) == (
        '/bin/sh -c "echo MYAPP-ENV-BEGIN; env | sort; trap \'echo $$HOME 100%%\' TERM"')


def test_prepare_app_instance_names() -> None:
    assert stage1.prepare_app_instance("etcd") == "prepare-app@-opt-stage2-etcd-rootfs.service"
    # '-' inside a path component is escaped, so %I gives the path back
    assert stage1.prepare_app_instance("myapp-1-3-4") == \
        "prepare-app@-opt-stage2-myapp\\x2d1\\x2d3\\x2d4-rootfs.service"


def test_interactive_app_uses_the_console() -> None:
    lines = _service_lines(ETCD, AppUnitOptions(uid=0, gid=0, interactive=True))
    assert "StandardInput=tty-force" in lines
    assert "TTYPath=/dev/console" in lines


def test_non_root_user_and_groups() -> None:
    lines = _service_lines(ETCD, AppUnitOptions(uid=1000, gid=100, supplementary_gids=(10, 20)))
    assert {"User=1000", "Group=100", "SupplementaryGroups=10 20"} <= set(lines)


def test_skeleton() -> None:
    files = stage1.skeleton_files("56c007f8-578b-4e7b-8984-078d7a65d15e")
    assert files["etc/machine-id"] == "56c007f8578b4e7b8984078d7a65d15e\n"
    assert "ID=" not in files["etc/os-release"]
    assert stage1.SKELETON_LINKS["lib64"] == "usr/lib64"
    assert "usr" in stage1.SKELETON_DIRS
    assert {"systemd-journald.socket", "exit.target", "poweroff.target"} <= set(stage1.HOST_UNITS)
    assert stage1.UNIT_PATH == "/etc/systemd/system"


def test_capabilities_and_no_new_privileges_as_rkt_sets_them() -> None:
    def service(isolators: list[dict[str, Any]]) -> list[str]:
        app = runtime_app("a", "example.com/a", {"exec": ["/a"], "user": "0", "group": "0",
                                                 "isolators": isolators})
        text = stage1.app_service(app, ["a"], AppUnitOptions(uid=0, gid=0))
        return [ln for ln in text.splitlines()
                if ln.startswith(("CapabilityBoundingSet=", "NoNewPrivileges="))]

    assert service([{"name": "os/linux/capabilities-retain-set",
                     "value": {"set": ["CAP_NET_BIND_SERVICE", "CAP_KILL"]}},
                    {"name": "os/linux/no-new-privileges", "value": True}]) == [
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_KILL", "NoNewPrivileges=true"]
    removed = service([{"name": "os/linux/capabilities-remove-set",
                        "value": {"set": ["CAP_NET_RAW", "CAP_MKNOD"]}}])
    assert removed[0].startswith("CapabilityBoundingSet=CAP_AUDIT_WRITE CAP_CHOWN ")
    assert "CAP_NET_RAW" not in removed[0] and "CAP_MKNOD" not in removed[0]
    assert "CAP_SYS_CHROOT" in removed[0] and removed[1] == "NoNewPrivileges=false"
