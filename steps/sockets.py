"""Steps about socket units and connecting to what they listen on (issue 5's scenarios)."""

from __future__ import annotations

import ipaddress
import time

from pytest_bdd import given, then, when

from steps.parse import parse_rkt_list, parse_rkt_status
from steps.query import show
from steps.vocab import Pod, setup_step, step
from vm.machine import Machine

# A client inside the VM, as the document's `curl`: one HTTP request, the whole answer.
# The first connection is the one that starts the pod, so it may wait for the pod to boot:
# it waits up to the deadline (argv[2] seconds) for the answer. Exit 2: nothing listens.
_CLIENT = (
    "import socket, sys\n"
    "try:\n"
    "    s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)\n"
    "except ConnectionRefusedError:\n"
    "    sys.exit(2)\n"
    "s.settimeout(float(sys.argv[2]))\n"
    "s.sendall(b'GET / HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n')\n"
    "data = b''\n"
    "while chunk := s.recv(4096):\n"
    "    data += chunk\n"
    "print(data.decode(errors='replace'), end='')\n"
)


@given(step('the socket unit "{name:q}" is listening'))
@setup_step
def socket_listening(vm: Machine, name: str) -> None:
    vm.check_output(["systemctl", "start", name])
    vm.wait_until(lambda: show(vm, name, "ActiveState", "SubState") == {
        "ActiveState": "active", "SubState": "listening"}, timeout=30, what=f"{name} listening")


@when(step("I connect to port {port:d} on the host within {seconds:d} seconds"),
      target_fixture="answer")
def connect(vm: Machine, port: int, seconds: int) -> str:
    deadline = time.monotonic() + seconds

    def answer() -> str:
        left = max(1.0, deadline - time.monotonic())
        result = vm.run(["python3", "-c", _CLIENT, str(port), f"{left:.0f}"],
                        timeout=left + 30)
        return result.stdout if result.ok else ""

    return vm.wait_until(answer, timeout=seconds, what=f"an answer on port {port}",
                         interval=1)


@given(step("a connection to port {port:d} on the host got an answer within {seconds:d} seconds"),
       target_fixture="answer")
@setup_step
def connected(vm: Machine, port: int, seconds: int) -> str:
    return connect(vm, port, seconds)


@then("the app answers over the connection")
def app_answers(vm: Machine, answer: str) -> None:
    vm.record("answer on the socket", answer)
    # The stand-in app answers HTTP only on a socket it was passed; it names itself.
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.0 200"), answer
    assert body.startswith("Hello from my-socket-activated-app"), answer


@when(step("I ask redis through localhost port {port:d} to PING within {seconds:d} seconds"),
      target_fixture="answer")
def redis_ping(vm: Machine, port: int, seconds: int) -> str:
    deadline = time.monotonic() + seconds

    def reply() -> str:
        # Until redis listens in its pod, the proxy closes each connection it cannot pass
        # on: redis-cli then fails, and is asked again. (redis-cli 7.0 has no -t.)
        left = max(1.0, deadline - time.monotonic())
        result = vm.run(["timeout", f"{left:.0f}", "redis-cli", "-p", str(port), "PING"],
                        timeout=left + 30)
        return result.stdout.strip() if result.ok else ""

    return vm.wait_until(reply, timeout=seconds, what=f"redis to answer on port {port}",
                         interval=1)


@then(step('redis answers "{reply:q}"'))
def redis_answers(answer: str, reply: str) -> None:
    assert answer == reply, answer


# -- the pod's networks, as rkt reports them ------------------------------------------------


def _networks(vm: Machine, pod: Pod) -> dict[str, str]:
    """network name -> IPv4 address, from `rkt list` (`default:ip4=172.16.28.2,...`)."""
    rows = [r for r in parse_rkt_list(vm.check_output(["rkt", "list"])) if r.matches(pod.uuid)]
    assert rows, f"rkt list does not show {pod.uuid}"
    out: dict[str, str] = {}
    for item in filter(None, (rows[0].networks or "").split(",")):
        name, _, addr = item.partition(":ip4=")
        out[name] = addr
    return out


@then(step('rkt lists the pod on the network "{name:q}" with an address in "{subnet:q}"'))
def listed_in_subnet(vm: Machine, pod: Pod, name: str, subnet: str) -> None:
    nets = _networks(vm, pod)
    assert name in nets, nets
    assert ipaddress.IPv4Address(nets[name]) in ipaddress.IPv4Network(subnet), nets
    # rkt status says the same
    status = parse_rkt_status(vm.check_output(["rkt", "status", pod.uuid]))
    assert f"{name}:ip4={nets[name]}" in status.get("networks", "").split(","), status


@then(step('rkt lists the pod on the network "{name:q}" with the address "{address:q}"'))
def listed_with_address(vm: Machine, pod: Pod, name: str, address: str) -> None:
    nets = _networks(vm, pod)
    assert nets.get(name) == address, nets
