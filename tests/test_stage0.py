"""stage0's network worker: the pod's networks made beside its boot (no root, no VM)."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest

from rkt_ref import stage0, stage1
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
