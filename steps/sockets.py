"""Steps about socket units and connecting to what they listen on (issue 5's scenarios)."""

from __future__ import annotations

from pytest_bdd import given, then, when

from steps.query import show
from steps.vocab import step
from vm.machine import Machine

# A client inside the VM: connect, send nothing, read what the app says first.
_CONNECT = (
    "import socket, sys\n"
    "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=20)\n"
    "s.settimeout(20)\n"
    "print(s.recv(4096).decode(errors='replace'), end='')\n"
)


@given(step('the socket unit "{name:q}" is listening'))
def socket_listening(vm: Machine, name: str) -> None:
    vm.check_output(["systemctl", "start", name])
    vm.wait_until(lambda: show(vm, name, "ActiveState", "SubState") == {
        "ActiveState": "active", "SubState": "listening"}, timeout=30, what=f"{name} listening")


def _answer(vm: Machine, port: int) -> str:
    result = vm.run(["python3", "-c", _CONNECT, str(port)], timeout=60)
    return result.stdout if result.ok else ""


@when(step("I connect to port {port:d} on the host within {seconds:d} seconds"),
      target_fixture="answer")
def connect(vm: Machine, port: int, seconds: int) -> str:
    return vm.wait_until(lambda: _answer(vm, port), timeout=seconds,
                         what=f"an answer on port {port}", interval=2)


@given(step("a connection to port {port:d} on the host got an answer within {seconds:d} seconds"),
       target_fixture="answer")
def connected(vm: Machine, port: int, seconds: int) -> str:
    return connect(vm, port, seconds)


@then("the app answers over the connection")
def app_answers(answer: str) -> None:
    # The stand-in app names itself in its first line.
    assert answer.splitlines()[0].strip().startswith("my-socket-activated-app"), answer


@when(step("I ask redis through localhost port {port:d} to PING within {seconds:d} seconds"),
      target_fixture="answer")
def redis_ping(vm: Machine, port: int, seconds: int) -> str:
    def reply() -> str:
        result = vm.run(["redis-cli", "-p", str(port), "PING"], timeout=60)
        return result.stdout.strip() if result.ok else ""

    return vm.wait_until(reply, timeout=seconds, what=f"redis to answer on port {port}",
                         interval=2)


@then(step('redis answers "{reply:q}"'))
def redis_answers(answer: str, reply: str) -> None:
    assert answer == reply, answer
