"""stage0's network worker: the pod's networks made beside its boot (no root, no VM)."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest

from rkt_ref import net, nspawn, stage0, stage1
from rkt_ref.errors import RktError
from rkt_ref.pod import Dir, Pods


class Pending:
    """Stands in for net.Attachments: waits for a go-ahead file, then succeeds or fails."""

    def __init__(self, go: Path, error: BaseException | None) -> None:
        self.go, self.error = go, error

    def attach(self) -> tuple[()]:
        while not self.go.exists():
            time.sleep(0.01)
        if self.error is not None:
            raise self.error
        return ()


def _locked(path: Path) -> bool:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _wait_unlocked(path: Path) -> None:
    deadline = time.monotonic() + 10
    while _locked(path):
        assert time.monotonic() < deadline, f"{path} still locked"
        time.sleep(0.01)


@pytest.mark.parametrize(("error", "status", "said"), [
    (None, "ok", ""),
    (RktError("error adding network 'default': no luck"), "failed",
     "rkt: error adding network 'default': no luck\n"),
    (OSError(5, "Input/output error"), "failed",
     "rkt: networking: OSError(5, 'Input/output error')\n"),
])
def test_the_worker_holds_the_network_file_until_it_tells_the_pod(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], error: BaseException | None,
        status: str, said: str) -> None:
    pods = Pods(tmp_path)
    pod = pods.create()
    pod.move(Dir.PREPARE)
    (pod.stage1_rootfs() / "rkt").mkdir(parents=True)
    pod.move(Dir.RUN)
    network = pod.stage1_rootfs() / stage1.NETWORK_FILE
    go = tmp_path / "go"

    stage0.attach_beside(pod, Pending(go, error))  # type: ignore[arg-type]
    # Back at once, the worker still at work: the pod's waiter would be blocked.
    assert _locked(network) and network.read_text() == ""
    go.touch()
    _wait_unlocked(network)
    assert network.read_text() == f"{status}\n"
    assert capfd.readouterr().err == said


class Exec(Exception):
    """Raised instead of becoming nspawn."""


@pytest.mark.parametrize(("apps_wait", "pending", "expect"), [
    (True, True, "beside"),      # rkt run: the ADDs while the pod boots
    (False, True, "before"),     # prepared with --net=host, run-prepared with networks
    (True, False, "told ok"),    # prepared with networks, run-prepared --net=host
    (False, False, "nothing"),
])
def test_the_networks_are_made_where_the_apps_expect_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, apps_wait: bool, pending: bool,
        expect: str) -> None:
    pods = Pods(tmp_path)
    pod = pods.create()
    (pod.path / "pod").write_text("{}")
    pod.move(Dir.PREPARE)
    units = pod.stage1_rootfs() / stage1.UNIT_PATH.lstrip("/")
    units.mkdir(parents=True)
    (pod.stage1_rootfs() / "rkt").mkdir()
    if apps_wait:
        (units / stage1.NETWORK_SERVICE).write_text(stage1.network_service())
    pod.move(Dir.RUN)
    done: list[str] = []

    class Work:
        def attach(self) -> tuple[()]:
            done.append("before")
            return ()

    def begin(pod: object, run: object) -> tuple[net.NetPlan, Work | None]:
        return net.NetPlan(), Work() if pending else None

    def no_exec(*args: object) -> None:
        raise Exec

    monkeypatch.setattr(stage0, "begin_network", begin)
    monkeypatch.setattr(stage0, "attach_beside", lambda pod, work: done.append("beside"))
    monkeypatch.setattr(nspawn, "exec_pod", no_exec)
    with pytest.raises(Exec):
        stage0.exec_pod(pod, stage0.RunOptions())
    marker = pod.stage1_rootfs() / stage1.NETWORK_FILE
    if marker.exists() and marker.read_text() == "ok\n":
        done.append("told ok")
    assert done == ([] if expect == "nothing" else [expect])
