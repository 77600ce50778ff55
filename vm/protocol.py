"""QMP and qemu-guest-agent clients: line-delimited JSON over a unix socket."""

from __future__ import annotations

import json
import random
import socket
import time
from typing import Any


class ProtocolError(RuntimeError):
    pass


def connect(path: str, timeout: float) -> socket.socket:
    """A unix stream socket connected to path, waiting for qemu to create it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock.connect(path)
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                sock.close()
                raise
            time.sleep(0.01)


class JsonChannel:
    """One connected unix socket speaking newline-terminated JSON messages."""

    def __init__(self, path: str, *, timeout: float = 10.0) -> None:
        self.path = path
        self.sock = connect(path, timeout)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, message: dict[str, Any], prefix: bytes = b"") -> None:
        self.sock.sendall(prefix + json.dumps(message).encode() + b"\n")

    def receive(self, deadline: float) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no answer on {self.path}")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 20)
            except TimeoutError:
                continue
            if not chunk:
                raise ProtocolError(f"{self.path} closed")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        # The agent's sync delimiter (0xFF) may precede a message; it is not JSON.
        line = line.replace(b"\xff", b"").strip()
        if not line:
            return self.receive(deadline)
        return json.loads(line)


class QMP:
    """Just enough of the QEMU Machine Protocol to stop, migrate, continue and quit."""

    def __init__(self, path: str) -> None:
        self.channel = JsonChannel(path)
        self.channel.receive(time.monotonic() + 10)  # greeting
        self.execute("qmp_capabilities")

    def execute(self, command: str, timeout: float = 30.0, **arguments: Any) -> Any:
        message: dict[str, Any] = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        self.channel.send(message)
        deadline = time.monotonic() + timeout
        while True:
            reply = self.channel.receive(deadline)
            if "event" in reply:
                continue
            if "error" in reply:
                raise ProtocolError(f"QMP {command}: {reply['error'].get('desc')}")
            return reply.get("return")

    def close(self) -> None:
        self.channel.close()


class GuestAgent:
    """qemu-guest-agent over its virtio-serial port."""

    def __init__(self, path: str) -> None:
        self.channel = JsonChannel(path)

    def sync(self, timeout: float) -> None:
        """Resynchronise the stream; retried because the guest may not be listening yet."""
        deadline = time.monotonic() + timeout
        while True:
            token = random.randrange(1, 1 << 31)
            self.channel.buffer = b""
            self.channel.send(
                {"execute": "guest-sync-delimited", "arguments": {"id": token}}, prefix=b"\xff"
            )
            attempt_deadline = min(deadline, time.monotonic() + 1.0)
            try:
                while True:
                    reply = self.channel.receive(attempt_deadline)
                    if reply.get("return") == token:
                        return
            except (TimeoutError, json.JSONDecodeError) as error:
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"guest agent did not answer within {timeout:.0f} s"
                    ) from error

    def execute(self, command: str, timeout: float = 30.0, **arguments: Any) -> Any:
        message: dict[str, Any] = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        self.channel.send(message)
        reply = self.channel.receive(time.monotonic() + timeout)
        if "error" in reply:
            raise ProtocolError(f"guest agent {command}: {reply['error'].get('desc')}")
        return reply.get("return")

    def close(self) -> None:
        self.channel.close()


class ExitWatch:
    """The guest's exit-watch (vm/guest/exit-watch.c): says when a guest process exited.

    watch(pid) asks; wait(pid, deadline) then returns True as soon as the guest has
    answered for that pid, which it does once the process has exited (or at once if it
    could not be watched: the caller asks the agent either way).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = connect(path, timeout=10.0)
        self.buffer = b""
        self.answered: set[int] = set()

    def watch(self, pid: int) -> None:
        self.sock.sendall(f"{pid}\n".encode())

    def wait(self, pid: int, deadline: float) -> bool:
        while pid not in self.answered:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                raise ProtocolError(f"{self.path} closed")
            *lines, self.buffer = (self.buffer + chunk).split(b"\n")
            self.answered.update(int(line) for line in lines if line.isdigit())
        self.answered.discard(pid)
        return True

    def forget(self) -> None:
        """Drop the answers received or on their way: the guest was taken back in time."""
        self.answered.clear()
        self.buffer = b""
        self.sock.setblocking(False)
        try:
            while self.sock.recv(4096):
                pass
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)

    def close(self) -> None:
        self.sock.close()
