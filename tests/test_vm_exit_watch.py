"""A command's end told by the guest's exit-watch, not found by asking the agent over and
over: the watcher itself (built from vm/guest/exit-watch.c, on a pty standing in for its
virtio-serial port), the host's client, and a real guest. (The exec loop over agent and
watcher: test_vm_qemu_exec.py.)"""

from __future__ import annotations

import os
import pty
import shutil
import socket
import subprocess
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vmready import restored_vm
from vm.backend import qemu
from vm.protocol import ExitWatch, ProtocolError

SOURCE = Path(qemu.__file__).parent.parent / "guest" / "exit-watch.c"


# -- the guest's watcher ---------------------------------------------------------------


@pytest.fixture(scope="module")
def watcher_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed (.ci/run installs it): cannot build exit-watch")
    binary = tmp_path_factory.mktemp("exit-watch") / "exit-watch"
    subprocess.run(["gcc", "-static", "-Os", "-Wall", "-Wextra", "-Werror", "-o", str(binary),
                    str(SOURCE)], check=True)
    return binary


class Port:
    """The host's end of a pty whose other end the watcher uses as its port."""

    def __init__(self, binary: Path) -> None:
        self.master, self.follower = pty.openpty()
        tty.setraw(self.follower)
        # kept open here too: with no end open on its side, reads of the pty fail (EIO)
        self.process = subprocess.Popen([str(binary), os.ttyname(self.follower)])
        self.buffer = b""

    def ask(self, *pids: int) -> None:
        os.write(self.master, b"".join(f"{pid}\n".encode() for pid in pids))

    def answers(self, count: int, timeout: float = 5.0) -> list[int]:
        deadline = time.monotonic() + timeout
        while self.buffer.count(b"\n") < count and time.monotonic() < deadline:
            os.set_blocking(self.master, False)
            try:
                self.buffer += os.read(self.master, 4096)
            except BlockingIOError:
                time.sleep(0.01)
        *lines, self.buffer = self.buffer.split(b"\n")
        return [int(line) for line in lines]

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        os.close(self.follower)
        os.close(self.master)


@pytest.fixture
def port(watcher_binary: Path) -> Iterator[Port]:
    port = Port(watcher_binary)
    yield port
    port.close()


def test_the_watcher_answers_for_a_process_when_it_exits_not_before(port: Port) -> None:
    child = subprocess.Popen(["sleep", "0.5"])
    port.ask(child.pid)
    assert port.answers(1, timeout=0.2) == []
    assert port.answers(1) == [child.pid]
    child.wait()


def test_the_watcher_answers_at_once_for_what_it_cannot_watch(port: Port) -> None:
    # pid 0 and a pid no process has: nothing to wait for; the host asks the agent itself
    port.ask(0, 2**22 + 1)
    assert port.answers(2, timeout=2) == [0, 2**22 + 1]


def test_the_watcher_keeps_several_watches_and_answers_each_as_it_ends(port: Port) -> None:
    slow, quick = subprocess.Popen(["sleep", "0.6"]), subprocess.Popen(["sleep", "0.1"])
    port.ask(slow.pid, quick.pid)
    assert port.answers(2) == [quick.pid, slow.pid]
    slow.wait()
    quick.wait()


# -- the host's client -----------------------------------------------------------------


@pytest.fixture
def guest_end(tmp_path: Path) -> Iterator[tuple[ExitWatch, socket.socket]]:
    path = str(tmp_path / "exits.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]))
    thread.start()
    client = ExitWatch(path)
    thread.join(5)
    yield client, accepted[0]
    client.close()
    accepted[0].close()
    server.close()


def test_the_client_waits_for_its_pid_keeping_answers_for_others(
        guest_end: tuple[ExitWatch, socket.socket]) -> None:
    client, guest = guest_end
    client.watch(7)
    assert guest.recv(100) == b"7\n"
    guest.sendall(b"8\n7")
    assert not client.wait(7, time.monotonic() + 0.1), "a line is not an answer until it ends"
    guest.sendall(b"\n")
    assert client.wait(7, time.monotonic() + 1)
    assert client.wait(8, time.monotonic())  # already there, no waiting


def test_after_forget_an_answer_from_before_the_revert_does_not_count(
        guest_end: tuple[ExitWatch, socket.socket]) -> None:
    client, guest = guest_end
    guest.sendall(b"9\n")
    time.sleep(0.05)
    client.forget()
    assert not client.wait(9, time.monotonic() + 0.1)


def test_a_closed_port_is_a_protocol_error(guest_end: tuple[ExitWatch, socket.socket]) -> None:
    client, guest = guest_end
    guest.close()
    with pytest.raises(ProtocolError, match="closed"):
        client.wait(1, time.monotonic() + 1)


# -- a real guest -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def vm() -> Iterator[qemu.QemuBackend]:
    yield from restored_vm()


def test_in_a_real_guest_a_command_is_asked_about_once_a_second_and_at_its_end(
        vm: qemu.QemuBackend) -> None:
    started = time.monotonic()
    result = vm.run(["sh", "-c", "echo $$; sleep 2"])
    took = time.monotonic() - started
    assert result.ok, result.describe()
    pid = result.stdout.strip()
    # The agent logs every guest-exec-status call: polling every 50 ms made about 40.
    # Now: once a second, then once or twice more after the answer (the agent may not
    # have reaped the command yet when its pidfd turns readable).
    log = vm.run(["journalctl", "-u", "qemu-guest-agent", "-o", "cat", "--no-pager"]).stdout
    asked = log.count(f"guest-exec-status called, pid: {pid}\n")
    assert 1 <= asked <= int(took / qemu.WATCH_FALLBACK) + 2, (took, log[-2000:])
