# ruff: noqa: E501  (rkt's output is compared verbatim)
"""Command line: global flags anywhere, run's image syntax, output formats, errors."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from rkt_ref import cli, mounts, stage0
from rkt_ref.table import ago, size, tabwrite, timestamp

ROOT = Path(__file__).resolve().parent.parent


def test_global_flags_before_or_after_the_verb(tmp_path: Path) -> None:
    g, rest = cli.split_globals(["--insecure-options=image", "run", "--debug", "--dir", str(tmp_path),
                                 "coreos.com/etcd:v2.2.5", "--", "--debug"])
    assert g.insecure == frozenset({"image"}) and g.debug and g.dir == tmp_path
    assert rest == ["run", "coreos.com/etcd:v2.2.5", "--", "--debug"]
    assert g.fetch_policy().insecure_image


def test_enter_command_keeps_its_flags() -> None:
    g, rest = cli.split_globals(["enter", "--app=etcd", "56c0", "/bin/sh", "--debug"])
    assert not g.debug
    assert rest == ["enter", "--app=etcd", "56c0", "/bin/sh", "--debug"]


def test_unknown_insecure_option() -> None:
    with pytest.raises(cli.RktError, match="unknown --insecure-options value 'everything'"):
        cli.split_globals(["--insecure-options=image,everything", "fetch", "x"])


def test_run_images_with_app_flags_and_args() -> None:
    flags, apps = cli.split_run_args([
        "--inherit-env", "--port=http:8888", "--set-env", "A=1",
        "example.com/a", "--exec=/bin/sh", "--memory=128M", "--", "-c", "echo hi", "---",
        "example.com/b:1.0", "--cpu", "500m", "--name=bee",
    ])
    assert flags == ["--inherit-env", "--port=http:8888", "--set-env", "A=1"]
    assert apps == [
        stage0.AppRequest(image="example.com/a", args=("-c", "echo hi"), exec="/bin/sh",
                          memory="128M"),
        stage0.AppRequest(image="example.com/b:1.0", cpu="500m", name="bee"),
    ]


def test_app_flags_before_the_first_image_apply_to_it() -> None:
    _, apps = cli.split_run_args(["--exec=/bin/true", "example.com/a"])
    assert apps[0].exec == "/bin/true"


def test_unsupported_flag_is_one_clear_error() -> None:
    with pytest.raises(cli.RktError, match="--volume is not supported"):
        cli.split_run_args(["--volume=data,kind=host,source=/srv", "example.com/a"])


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("24h", 86400), ("1h30m", 5400),
                                               ("10s", 10), ("0", 0), ("1.5s", 1.5)])
def test_durations(text: str, seconds: float) -> None:
    assert cli.parse_duration(text) == seconds


def test_bad_duration() -> None:
    with pytest.raises(cli.RktError, match="invalid duration"):
        cli.parse_duration("soon")


def test_list_table_matches_real_rkt() -> None:
    rows = [["UUID", "APP", "IMAGE NAME", "STATE", "CREATED", "STARTED", "NETWORKS"],
            ["56c007f8", "etcd", "coreos.com/etcd:v2.2.5", "running", "31 seconds ago",
             "15 seconds ago", "default:ip4=172.16.28.2"]]
    assert tabwrite(rows) == (
        "UUID\t\tAPP\tIMAGE NAME\t\tSTATE\tCREATED\t\tSTARTED\t\tNETWORKS\n"
        "56c007f8\tetcd\tcoreos.com/etcd:v2.2.5\trunning\t31 seconds ago\t15 seconds ago\tdefault:ip4=172.16.28.2\n")


def test_list_table_with_exited_garbage_matches_real_rkt() -> None:
    rows = [["UUID", "APP", "IMAGE NAME", "STATE", "CREATED", "STARTED", "NETWORKS"],
            ["56c007f8", "etcd", "coreos.com/etcd:v2.2.5", "exited garbage", "45 seconds ago",
             "29 seconds ago", "default:ip4=172.16.28.2"]]
    assert tabwrite(rows).splitlines() == [
        "UUID\t\tAPP\tIMAGE NAME\t\tSTATE\t\tCREATED\t\tSTARTED\t\tNETWORKS",
        "56c007f8\tetcd\tcoreos.com/etcd:v2.2.5\texited garbage\t45 seconds ago\t29 seconds ago\tdefault:ip4=172.16.28.2"]


def test_image_list_table_matches_real_rkt() -> None:
    rows = [["ID", "NAME", "SIZE", "IMPORT TIME", "LAST USED"],
            ["sha512-aac777f92362", "coreos.com/etcd:v2.2.5", "45MiB", "6 seconds ago",
             "4 seconds ago"]]
    assert tabwrite(rows) == (
        "ID\t\t\tNAME\t\t\tSIZE\tIMPORT TIME\tLAST USED\n"
        "sha512-aac777f92362\tcoreos.com/etcd:v2.2.5\t45MiB\t6 seconds ago\t4 seconds ago\n")


def test_times_and_sizes() -> None:
    now = 1795904194.5
    assert ago(int((now - 31) * 1e9), now) == "31 seconds ago"
    assert ago(int((now - 61) * 1e9), now) == "1 minute ago"
    assert ago(int((now - 250) * 1e9), now) == "4 minutes ago"
    assert timestamp(1795904178116000000) == "2026-11-28 22:16:18.116 +0000 UTC"
    assert timestamp(1795904255300000000) == "2026-11-28 22:17:35.3 +0000 UTC"
    assert timestamp(1795904255000000000) == "2026-11-28 22:17:35 +0000 UTC"
    assert (size(45 * 2**20 + 5), size(int(3.8 * 2**20)), size(512)) == ("45MiB", "3.8MiB", "512B")


def rkt(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RKT_REF_DIR=str(tmp_path / "rkt"), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "rkt_ref", *args], capture_output=True,
                          text=True, env=env, timeout=60)


@pytest.mark.parametrize("args", [
    ["status", "0000"], ["bogus"], ["fetch", "/nonexistent/x.aci"], ["gc", "--grace-period=soon"],
    ["list", "--format=yaml"], ["image", "rm", "sha512-ffff"], ["run"], ["enter", "1234"],
])
def test_user_errors_are_one_line_without_traceback(tmp_path: Path, args: list[str]) -> None:
    r = rkt(tmp_path, *args)
    assert r.returncode == 254
    lines = r.stderr.splitlines()
    assert lines and lines[0].startswith("rkt: ")
    assert len(lines) <= 2 and (len(lines) == 1 or lines[1].startswith("hint: "))
    assert "Traceback" not in r.stderr


def build_aci(path: Path) -> Path:
    manifest = json.dumps({
        "acKind": "ImageManifest", "acVersion": "0.8.11", "name": "myapp.com/myapp-1.3.4",
        "labels": [{"name": "version", "value": "1.3.4"}, {"name": "os", "value": "linux"},
                   {"name": "arch", "value": "amd64"}],
        "app": {"exec": ["/bin/sh", "-c", "echo hi"], "user": "0", "group": "0",
                "environment": [{"name": "FROM_IMAGE", "value": "1"}],
                "ports": [{"name": "http", "protocol": "tcp", "port": 80}]},
    }).encode()
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("manifest")
        info.size = len(manifest)
        tf.addfile(info, io.BytesIO(manifest))
        for d in ("rootfs", "rootfs/bin", "rootfs/etc"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(info)
    return path


def test_unsigned_image_is_refused_like_rkt(tmp_path: Path) -> None:
    aci = build_aci(tmp_path / "myapp.aci")
    r = rkt(tmp_path, "fetch", str(aci))
    assert r.returncode == 254
    assert r.stderr.splitlines()[0] == (
        f"rkt: error opening signature file: open {aci}.asc: no such file or directory")
    assert "--insecure-options=image" in r.stderr


def test_fetch_list_prepare_status_gc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    aci = build_aci(tmp_path / "myapp.aci")
    r = rkt(tmp_path, "--insecure-options=image", "fetch", str(aci))
    assert r.returncode == 0, r.stderr
    short = r.stdout.strip()
    assert short.startswith("sha512-") and len(short) == len("sha512-") + 32
    full = rkt(tmp_path, "fetch", "--full", "myapp.com/myapp-1.3.4").stdout.strip()
    assert full.startswith(short) and len(full) == len("sha512-") + 64

    listing = rkt(tmp_path, "image", "list").stdout.splitlines()
    assert listing[0] == "ID\t\t\tNAME\t\t\t\tSIZE\tIMPORT TIME\tLAST USED"
    assert listing[1].startswith(short[:19] + "\tmyapp.com/myapp-1.3.4:1.3.4\t")
    data = json.loads(rkt(tmp_path, "image", "list", "--format=json").stdout)
    assert data[0]["id"] == full and data[0]["name"] == "myapp.com/myapp-1.3.4:1.3.4"
    assert rkt(tmp_path, "image", "list", "--no-legend").stdout.count("\n") == 1

    # prepare in-process, without mounting anything on this machine
    def fake_mount(lower: Path, upper: Path, work: Path, target: Path) -> str:
        target.mkdir(parents=True)
        return "copy"
    monkeypatch.setattr(mounts, "mount_app_rootfs", fake_mount)
    monkeypatch.setenv("FROM_HOST", "yes")
    root = tmp_path / "rkt"
    with pytest.raises(cli.RktError, match="port name 'nope' is not declared"):
        cli.main(["--dir", str(root), "prepare", "--port=nope:1", "myapp.com/myapp-1.3.4"])
    # a failure after the pod directory exists removes it again
    with pytest.raises(cli.RktError, match="user 'nobody-here' not found"):
        cli.main(["--dir", str(root), "prepare", "myapp.com/myapp-1.3.4", "--user=nobody-here"])
    for state in ("embryo", "prepare", "prepared", "run"):
        assert os.listdir(root / "pods" / state) == []
    capsys.readouterr()
    assert cli.main(["--dir", str(root), "prepare", "--inherit-env", "--set-env=FROM_FLAG=1",
                     "--port=http:8888", "myapp.com/myapp-1.3.4"]) == 0
    uuid = capsys.readouterr().out.strip()
    pod = root / "pods" / "prepared" / uuid
    units = pod / "stage1" / "rootfs" / "etc" / "systemd" / "system"
    assert (units / "myapp-1-3-4.service").is_file()
    assert not (units / "dbus.socket").exists()
    if Path("/usr/lib/systemd/system/exit.target").exists():
        assert os.readlink(units / "exit.target") == "/usr/lib/systemd/system/exit.target"
    envfile = (pod / "stage1" / "rootfs" / "rkt" / "env" / "myapp-1-3-4").read_text()
    assert {"FROM_HOST=yes", "FROM_IMAGE=1", "FROM_FLAG=1", "AC_APP_NAME=myapp-1-3-4"} <= \
        set(envfile.splitlines())
    manifest = json.loads((pod / "pod").read_text())
    assert manifest["apps"][0]["name"] == "myapp-1-3-4"
    assert manifest["ports"] == [{"name": "http", "hostPort": 8888}]

    status = rkt(tmp_path, "status", uuid[:8]).stdout.splitlines()
    assert status[0] == "state=prepared" and status[1].startswith("created=")
    pod_row = rkt(tmp_path, "list", "--no-legend").stdout
    assert pod_row.startswith(uuid[:8] + "\tmyapp-1-3-4\tmyapp.com/myapp-1.3.4:1.3.4\tprepared\t")
    pods = json.loads(rkt(tmp_path, "list", "--format=json").stdout)
    assert pods[0]["name"] == uuid and pods[0]["state"] == "prepared"
    assert json.loads(rkt(tmp_path, "cat-manifest", uuid).stdout)["acKind"] == "PodManifest"
    r = rkt(tmp_path, "image", "rm", "myapp.com/myapp-1.3.4")
    assert r.returncode == 254 and "in use by pod" in r.stderr

    r = rkt(tmp_path, "gc", "--expire-prepared=0s")
    assert "expired prepared" in r.stderr and f'Garbage collecting pod "{uuid}"' in r.stdout
    r = rkt(tmp_path, "image", "rm", short)
    assert r.stdout.splitlines() == [f'successfully removed aci for image: "{full}"',
                                     "rm: 1 image(s) successfully removed"]
    assert rkt(tmp_path, "image", "list", "--no-legend").stdout == ""


# The listings' usual command lines are read without argparse; each case is what argparse
# makes of the same argv, or None where argparse must read it (values, abbreviations, help).
SIMPLE_ARGS = {
    "list": (lambda argv: cli.simple_args(argv, ("no-legend", "full"), format=""),
             cli._list_parser,
             [[], ["--full"], ["--no-legend"], ["--full", "--no-legend", "--full"]],
             [["--format=json"], ["--fu"], ["-h"], ["--help"], ["x"], ["--"], ["--full=1"]]),
    "image list": (lambda argv: cli.simple_args(argv, ("no-legend", "full"), format="",
                                                fields=None, order=None, sort=None),
                   cli._image_list_parser,
                   [[], ["--full"], ["--no-legend", "--full"]],
                   [["--sort=name"], ["--no"], ["-"], ["x"]]),
    "status": (lambda argv: cli.simple_args(argv, (), "uuid", uuid_file=None, wait=None,
                                            wait_ready=None, format=""),
               cli._status_parser,
               [[], ["0123abcd"], ["0123abcd-0000-4000-8000-000000000000"]],
               [["--wait"], ["--wait-ready=10s", "x"], ["a", "b"], ["-1"], ["--uuid-file=f"]]),
    # run's and prepare's pod-wide flags, as split_run_args hands them on
    "run": (cli.read_pod_flags, lambda: cli._run_parser("rkt run"),
            [[], ["--uuid-file-save=/run/u"], ["--net=default", "--net", "ptp0:IP=1.2.3.4"],
             ["--port=http:80", "--port", "dns:53", "--set-env=A=1", "--set-env-file=f"],
             ["--inherit-env", "--interactive=false", "--mds-register"], ["--quiet"],
             ["--pull-policy=never", "--pull-policy", "update", "--hostname=h", "--dns=8.8.8.8"],
             ["--stage1-path=/s", "--no-overlay=true", "--private-users", "--hosts-entry=a=b"],
             ["--inherit-env=", "--set-env="]],
            [["--uuid=/run/u"], ["--pull-policy=sometimes"], ["--quiet=1"], ["-h"], ["--help"],
             ["--net"], ["--net", "--quiet"], ["--inherit-env", "yes"], ["--volume=x"],
             ["--interactive", "-"], ["--port", "-1"]]),
    "prepare": (lambda argv: cli.read_pod_flags(argv, prepare_only=True),
                lambda: cli._run_parser("rkt prepare", prepare_only=True),
                [[], ["--quiet", "--set-env=A=1"], ["--uuid-file-save", "/run/u"]],
                [["--net=default"], ["--interactive"], ["--hostname=h"]]),
}


@pytest.mark.parametrize("verb", sorted(SIMPLE_ARGS))
def test_simple_args_read_what_argparse_reads(verb: str) -> None:
    simple, parser, plain, others = SIMPLE_ARGS[verb]
    for argv in plain:
        ns = simple(argv)
        assert ns is not None, argv
        assert vars(ns) == vars(parser().parse_args(argv)), argv
    for argv in others:
        assert simple(argv) is None, argv


def test_listing_does_not_import_argparse(tmp_path: Path) -> None:
    code = ("import sys; from rkt_ref import cli; "
            f"cli.main(['--dir={tmp_path}', 'list']); cli.main(['--dir={tmp_path}', 'image', 'list']); "
            "print('argparse' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout
    assert out.splitlines()[-1] == "False"
