"""The bench's readings that need no VM."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from vm.bench import QUIET, Figure, NspawnCall, UnitCpu, ratio, start_unit, unit_cpu


class FakeMachine:
    """Answers a bench script as a guest would, and keeps what it was asked."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.asked: list[list[str]] = []

    def check_output(self, argv: Sequence[str]) -> str:
        self.asked.append(list(argv))
        return self.answer


def test_unit_cpu_splits_the_unit_into_the_pod_and_what_is_outside_it() -> None:
    machine = FakeMachine("5250000\n3000000\n250000\n")
    cpu = unit_cpu(machine, "bench-rkt-1")  # type: ignore[arg-type]
    assert cpu == UnitCpu(total=5.25, pod=3.0, supervisor=0.25)
    assert cpu.outside == pytest.approx(2.0)
    assert machine.asked[0][-1] == "bench-rkt-1"


def test_a_unit_without_nspawn_cgroups_is_all_outside() -> None:
    cpu = unit_cpu(FakeMachine("1500000\n0\n0\n"), "u")  # type: ignore[arg-type]
    assert cpu.outside == 1.5 and cpu.pod == 0


def test_ratio_of_medians_and_nan_without_samples() -> None:
    assert ratio(Figure("a", "s", [1.0, 3.0, 2.0]), Figure("b", "s", [1.0])) == 2.0
    assert math.isnan(ratio(Figure("a", "s", [1.0]), Figure("b", "s")))


def test_a_start_is_timed_in_the_guest_and_then_left_alone() -> None:
    machine = FakeMachine("1764460000.250000000\n")
    started = start_unit(machine, "bench-rkt-1", ["rkt", "run", "IMAGE"],  # type: ignore[arg-type]
                         ["--property=Delegate=yes"])
    assert started == 1764460000.25
    [argv] = machine.asked
    assert argv[:2] == ["sh", "-c"] and argv[3] == str(QUIET)
    assert argv[4:] == ["systemd-run", "--quiet", "--unit=bench-rkt-1", "--slice=machine",
                        "--property=Delegate=yes", "rkt", "run", "IMAGE"]


class GuestProc:
    """Answers the bench's questions about one process, as the guest's /proc would."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def check_output(self, argv: Sequence[str]) -> str:
        if argv[:2] == ["systemctl", "show"]:
            return "321\n"
        return self.files[argv[-1]]


def test_the_bare_nspawn_boots_the_pod_as_the_runtime_called_nspawn() -> None:
    guest = GuestProc({
        "/proc/321/cmdline": "/usr/bin/systemd-nspawn\0--boot\0--machine=rkt-1234\0"
                             "--network-namespace-path=/run/netns/rkt-1234\0--\0--log-target=null\0",
        "/proc/321/environ": "PATH=/usr/bin\0INVOCATION_ID=ab\0SYSTEMD_EXEC_PID=320\0"
                             "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1\0SYSTEMD_LOG_LEVEL=err\0",
        "/proc/321/cwd": "/var/lib/rkt/pods/run/1234\n",
    })
    call = NspawnCall.read(guest, "bench-rkt-1")  # type: ignore[arg-type]
    argv, options = call.bare("bare-2")
    assert argv == ["/usr/bin/systemd-nspawn", "--boot", "--machine=bare-2",
                    "--private-network", "--", "--log-target=null"]
    # what the runtime gave nspawn, and not what the service manager gives any service
    assert options == ["--property=WorkingDirectory=/var/lib/rkt/pods/run/1234",
                       "--property=Delegate=yes", "--setenv=SYSTEMD_LOG_LEVEL=err",
                       "--setenv=SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1"]
