"""Process accounting records from a guest: read, summed by command, and for real in a VM."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.vmready import why_no_vm
from vm import accounting
from vm.machine import Machine
from vm.runtime import Runtime


def record(command: str, utime: int, stime: int, version: int = accounting.VERSION) -> bytes:
    """An acct_v3 record as the kernel writes it (times already comp_t-encoded)."""
    head = struct.pack("<BBHIIIIIIf", 0, version, 0, 0, 0, 0, 7, 1, 0, 0.0)
    times = struct.pack("<HHHHHHHH", utime, stime, 0, 0, 0, 0, 0, 0)
    raw = head + times + command.encode().ljust(16, b"\0")
    assert len(raw) == accounting.RECORD
    return raw


def test_records_are_read_with_their_cpu_and_other_versions_skipped() -> None:
    # comp_t: 13-bit mantissa, base-8 exponent above it; 0x2001 is 1 << 3 = 8 ticks
    data = record("rkt", 150, 0x2001) + record("old", 5, 5, version=2) + record("sleep", 1, 0)
    assert accounting.parse(data) == [accounting.Record("rkt", 1.58),
                                      accounting.Record("sleep", 0.01)]


def test_a_truncated_trailing_record_is_ignored() -> None:
    assert accounting.parse(record("true", 2, 0) + b"\3" * 10) == [accounting.Record("true", 0.02)]


def test_summary_adds_up_by_command_costliest_first() -> None:
    summary = accounting.summarize([accounting.Record("ip", 0.1), accounting.Record("rkt", 0.5),
                                    accounting.Record("ip", 0.2)])
    assert list(summary) == ["rkt", "ip"]
    assert summary["ip"][0] == 2 and summary["ip"][1] == pytest.approx(0.3)


def test_the_command_line_sums_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    (tmp_path / "a.pacct").write_bytes(record("rkt", 100, 0))
    (tmp_path / "b.pacct").write_bytes(record("rkt", 50, 0) + record("ip", 10, 0))
    assert accounting.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 machine(s), 1.6 s of CPU in exited processes")
    assert "     1.5  93.8%      2   0.750  rkt" in out


def test_processes_that_used_no_measurable_cpu_are_listed_at_zero_share() -> None:
    out = accounting.table(accounting.summarize([accounting.Record("true", 0.0)]), 1, 5)
    assert out.splitlines()[-1] == "     0.0   0.0%      1   0.000  true"


def test_an_empty_directory_is_one_clear_error(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        accounting.main([str(tmp_path)])
    assert exit_info.value.code == 2
    assert f"no .pacct files in {tmp_path}" in capsys.readouterr().err


def test_in_a_real_guest_an_exited_command_is_accounted(tmp_path: Path) -> None:
    reason = why_no_vm()
    if reason:
        pytest.skip(reason)
    machine = Machine.create("qemu", Runtime(None))
    try:
        accounting.start(machine)
        machine.check_output(["sh", "-c", "for i in 1 2 3; do md5sum /usr/bin/python3; done"])
        accounting.collect(machine, tmp_path / "vm.pacct")
    finally:
        machine.shutdown()
    summary = accounting.summarize(accounting.parse((tmp_path / "vm.pacct").read_bytes()))
    assert summary["md5sum"][0] == 3
