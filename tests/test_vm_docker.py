"""The docker backend's container, read as data; no engine needed."""

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from vm.backend import CAPABILITIES, backend_class, capabilities_of
from vm.backend import docker as docker_backend
from vm.backend.docker import (
    LABEL_OWNER,
    LABEL_VM,
    CgroupLayout,
    container_spec,
    exec_argv,
    parse_cgroup_probe,
    read_outputs,
    tar_one,
)

HYBRID = CgroupLayout(1, ("blkio", "cpu", "memory", "systemd", "unified"))


def test_a_v1_probe_lists_each_hierarchy() -> None:
    text = "tmpfs\n/host-cgroup/memory\n/host-cgroup/systemd\n/host-cgroup/unified\n"
    assert parse_cgroup_probe(text) == CgroupLayout(1, ("memory", "systemd", "unified"))


def test_a_v2_probe_needs_no_hierarchies() -> None:
    assert parse_cgroup_probe("cgroup2fs\n/host-cgroup/init.scope\n") == CgroupLayout(2)


def test_an_empty_probe_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_cgroup_probe("")


def test_flags_are_the_ones_that_work_without_privileged() -> None:
    kwargs = container_spec(HYBRID, "k", "host/boot/1").kwargs
    assert "privileged" not in kwargs
    assert kwargs["cap_add"] == ["ALL"]
    assert kwargs["cap_drop"] == ["SYS_RESOURCE"]
    assert "seccomp=unconfined" in kwargs["security_opt"]
    assert kwargs["stop_signal"] == "SIGRTMIN+3"
    assert kwargs["network"] == "none"


def test_by_default_systemd_mounts_its_own_cgroups_in_a_private_namespace() -> None:
    spec = container_spec(HYBRID, "k", "o")
    assert spec.kwargs["cgroupns"] == "private"
    assert spec.tmpfs["/sys/fs/cgroup"] == ""
    assert spec.volumes == ()


def test_the_host_namespace_recipe_binds_each_hierarchy_rw_never_the_whole_tree() -> None:
    spec = container_spec(HYBRID, "k", "o", cgroupns="host")
    assert spec.kwargs["cgroupns"] == "host"
    assert "/sys/fs/cgroup" not in spec.tmpfs
    assert [target for _, target, _ in spec.volumes] == [
        f"/sys/fs/cgroup/{h}" for h in HYBRID.hierarchies]
    assert all(host == target and mode == "rw" for host, target, mode in spec.volumes)
    assert "/sys/fs/cgroup" not in {host for host, _, _ in spec.volumes}


def test_a_v2_engine_gets_a_private_cgroup_namespace_and_no_binds() -> None:
    spec = container_spec(CgroupLayout(2), "k", "o", cgroupns="host")
    assert spec.kwargs["cgroupns"] == "private"
    assert spec.volumes == ()
    assert "/sys/fs/cgroup" not in spec.tmpfs


def test_run_and_tmp_are_tmpfs_and_tmp_allows_exec() -> None:
    tmpfs = container_spec(HYBRID, "k", "o").tmpfs
    assert tmpfs["/run"] == ""
    assert tmpfs["/tmp"] == "exec"


def test_containers_carry_the_image_key_and_their_owner() -> None:
    labels = container_spec(HYBRID, "abc", "host/boot/42").kwargs["labels"]
    assert labels[LABEL_VM] == "abc"
    assert labels[LABEL_OWNER] == "host/boot/42"


def test_the_owner_label_names_this_process() -> None:
    host, boot, pid = docker_backend.owner_label(1234).split("/")
    assert pid == "1234" and host and boot


def test_commands_are_bounded_by_timeout_in_the_guest() -> None:
    argv = exec_argv(["true"], 30, "/var/tmp/out")
    assert argv[:2] == ["/bin/sh", "-c"]
    assert argv[-4:] == ["timeout", "--kill-after=5", "30", "true"]


def _run_wrapped(tmp_path: Path, argv: list[str], stdin: bytes | None = None,
                 done: tuple[str, ...] = ()) -> tuple[Path, str, str, int | None]:
    """Run exec_argv's wrapper with this host's sh, then read back what it wrote."""
    out_dir = tmp_path / "out"
    stdin_path = None
    if stdin is not None:
        (tmp_path / "in").write_bytes(stdin)
        stdin_path = str(tmp_path / "in")
    subprocess.run(exec_argv(argv, 30, str(out_dir), stdin_path, done), check=False)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(out_dir, arcname="out")
    return (out_dir, *read_outputs(buffer.getvalue()))


def test_output_and_status_come_back_through_files(tmp_path: Path) -> None:
    _, out, err, rc = _run_wrapped(tmp_path, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (out, err, rc) == ("out\n", "err\n", 3)


def test_input_becomes_stdin_and_its_file_is_removed(tmp_path: Path) -> None:
    _, out, _, rc = _run_wrapped(tmp_path, ["cat"], stdin=b"data")
    assert (out, rc) == ("data", 0)
    assert not (tmp_path / "in").exists()


def test_earlier_output_directories_are_removed(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    (old / "stdout").write_text("x")
    _run_wrapped(tmp_path, ["true"], done=(str(old),))
    assert not old.exists()


def test_tar_one_holds_one_file_with_its_mode() -> None:
    with tarfile.open(fileobj=io.BytesIO(tar_one("x", b"data", 0o600))) as tar:
        (member,) = tar.getmembers()
        assert (member.name, member.mode, member.size) == ("x", 0o600, 4)


def test_capabilities_are_declared_and_honest() -> None:
    caps = backend_class("docker").capabilities
    assert caps <= set(CAPABILITIES)
    # The host's kernel; no serial console; cgroup v1 controllers in a hybrid guest are not
    # the qemu guest's enforced v2 limits.
    assert not caps & {"real-kernel", "console", "cgroup-limits"}
    assert capabilities_of("docker") == caps


def test_no_engine_is_a_reason_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docker_backend, "_engine_reason", [])
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    reason = docker_backend.engine_unavailable()
    assert reason is not None
    assert "no Docker engine reachable at tcp://127.0.0.1:1" in reason
    assert "DOCKER_HOST" in reason
