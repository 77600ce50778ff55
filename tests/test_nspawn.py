# ruff: noqa: E501  (the document's command line is compared verbatim)
"""The nspawn command line rkt run execs, against the document's ps output."""

from __future__ import annotations

from rkt_ref import nspawn

UUID = "6d0d9608-a744-4333-be21-942145a97a5a"

# From "Using rkt with systemd", `ps auxf`: the command line of the pod's nspawn, minus
# the stage1 ld.so prefix the coreos flavor adds.
DOCUMENT = ("--boot --register=true --link-journal=try-guest --quiet --keep-unit "
            f"--uuid={UUID} --machine=rkt-{UUID} --directory=stage1/rootfs -- "
            "--default-standard-output=tty --log-target=null --log-level=warning --show-status=0")

HOST_FLAVOR = ["--bind-ro=/usr", "--tmpfs=/usr/lib/systemd/system-generators:mode=0755",
               "--tmpfs=/usr/lib/systemd/system-environment-generators:mode=0755",
               "--setenv=SYSTEMD_UNIT_PATH=/etc/systemd/system"]


def test_argv_matches_the_document() -> None:
    argv = nspawn.argv(UUID, keep_unit=True)
    assert argv[0] == "/usr/bin/systemd-nspawn"
    without_host_flavor = [a for a in argv[1:] if a not in HOST_FLAVOR]
    assert " ".join(without_host_flavor) == DOCUMENT


def test_argv_full_and_option_order() -> None:
    assert nspawn.argv(UUID, keep_unit=False, extra=["--private-network"]) == [
        "/usr/bin/systemd-nspawn", "--boot", "--register=true", "--link-journal=try-guest",
        "--quiet", f"--uuid={UUID}", f"--machine=rkt-{UUID}", "--directory=stage1/rootfs",
        *HOST_FLAVOR, "--private-network", "--",
        "--default-standard-output=tty", "--log-target=null", "--log-level=warning",
        "--show-status=0",
    ]


def test_keep_unit_only_inside_a_service() -> None:
    assert nspawn.in_service("0::/machine.slice/run-r144d1424cd284fdf99472afb3cdf38ac.service\n")
    assert nspawn.in_service("0::/machine.slice/etcd.service\n")
    assert not nspawn.in_service("0::/user.slice/user-0.slice/session-1.scope\n")
    assert not nspawn.in_service("0::/\n")
    assert nspawn.in_service("1:name=systemd:/system.slice/x.service\n0::/\n") is False
    assert nspawn.in_service("1:name=systemd:/system.slice/x.service\n")


def test_environment_passes_socket_activation_through() -> None:
    base = {"LISTEN_FDS": "1", "LISTEN_PID": "4242", "LISTEN_FDNAMES": "http", "PATH": "/bin"}
    env = nspawn.environment(base, debug=False)
    assert {k: env[k] for k in base} == base
    assert env["SYSTEMD_NSPAWN_CONTAINER_SERVICE"] == "rkt"
    assert env["SYSTEMD_LOG_LEVEL"] == "err"
    assert "SYSTEMD_LOG_LEVEL" not in nspawn.environment({}, debug=True)


def test_capabilities_as_in_the_real_capture() -> None:
    """One --capability= per app, just before `--`, as real rkt 1.30 passes it."""
    from rkt_ref.schema import DEFAULT_CAPABILITIES

    argv = nspawn.argv(UUID, keep_unit=True, capabilities=[DEFAULT_CAPABILITIES, ()])
    assert argv[argv.index("--") - 1] == (
        "--capability=CAP_AUDIT_WRITE,CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FSETID,CAP_FOWNER,"
        "CAP_KILL,CAP_MKNOD,CAP_NET_RAW,CAP_NET_BIND_SERVICE,CAP_SETUID,CAP_SETGID,"
        "CAP_SETPCAP,CAP_SETFCAP,CAP_SYS_CHROOT")
    assert sum(a.startswith("--capability=") for a in argv) == 1
