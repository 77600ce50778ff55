"""Network namespaces made and removed in-process, checked in a real VM with ip itself.

rkt_ref.netns does what `ip netns add` and `ip netns delete` do; ip must see the result
as its own: listed, loopback up, a namespace of its own, interchangeable with ip's.
These boot a real VM, so they run only where qemu and the cached image and saved state
already exist; elsewhere they skip, saying so.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.vmready import why_no_vm
from vm.machine import Machine
from vm.result import CommandResult
from vm.runtime import Runtime

pytestmark = pytest.mark.skipif(why_no_vm() is not None, reason=str(why_no_vm()))

# Calls rkt_ref.netns.<argv[1]>(Path(argv[2])) as rkt does; a refusal is one line on stderr.
DRIVER = """
import sys
from pathlib import Path
from rkt_ref import netns
from rkt_ref.errors import RktError
try:
    getattr(netns, sys.argv[1])(Path(sys.argv[2]))
except RktError as e:
    sys.exit(e.message)
"""


@pytest.fixture(scope="module")
def vm() -> Iterator[Machine]:
    machine = Machine.create("qemu", Runtime(None))
    try:
        yield machine
    finally:
        machine.shutdown()


def netns(vm: Machine, verb: str, name: str) -> CommandResult:
    return vm.run(["python3", "-c", DRIVER, verb, f"/run/netns/{name}"])


def listed(vm: Machine) -> list[str]:
    return [line.split()[0] for line in vm.check_output(["ip", "netns", "list"]).splitlines()]


def test_add_makes_a_namespace_ip_sees_with_its_loopback_up(vm: Machine) -> None:
    assert netns(vm, "add", "t-add").ok
    assert "t-add" in listed(vm)
    assert "UP" in vm.check_output(["ip", "-n", "t-add", "-o", "link", "show", "lo"]) \
        .split("<", 1)[1].split(">", 1)[0].split(",")
    own = vm.check_output(["readlink", "/proc/self/ns/net"])
    inside = vm.check_output(["ip", "netns", "exec", "t-add", "readlink", "/proc/self/ns/net"])
    assert inside != own
    assert vm.check_output(["findmnt", "-no", "PROPAGATION", "/run/netns"]).strip() == "shared"
    assert vm.run(["ip", "netns", "delete", "t-add"]).ok  # ip can remove it
    assert "t-add" not in listed(vm)


def test_add_of_a_taken_name_fails_and_leaves_the_namespace_there(vm: Machine) -> None:
    vm.check_output(["ip", "netns", "add", "t-taken"])
    result = netns(vm, "add", "t-taken")
    assert result.rc == 1
    assert result.stderr.strip() == "cannot make network namespace /run/netns/t-taken: " \
                                    "File exists"
    assert "t-taken" in listed(vm)
    assert vm.run(["ip", "netns", "exec", "t-taken", "true"]).ok
    assert netns(vm, "delete", "t-taken").ok  # and it removes what ip made
    assert "t-taken" not in listed(vm)
    assert vm.run(["test", "-e", "/run/netns/t-taken"]).rc == 1


def test_delete_releases_the_namespace(vm: Machine) -> None:
    assert netns(vm, "add", "t-del").ok
    assert netns(vm, "delete", "t-del").ok
    assert "t-del" not in listed(vm)
    mounts = vm.check_output(["cat", "/proc/self/mountinfo"])
    assert "/run/netns/t-del " not in mounts
