"""pytest wiring for disposable VMs: options, the `vm` fixture, evidence on failure.

Load it with `pytest_plugins = ["vm.pytest_plugin"]`.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vm import accounting
from vm import backend as backends
from vm.machine import Machine
from vm.runtime import Runtime

REPORTS = Path("reports")
MAX_WORKERS = 4


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vm", "disposable systemd VMs")
    group.addoption("--backend", default=backends.default_name(),
                    help="VM backend for scenarios (default: qemu, or $RKT_REF_BACKEND)")
    group.addoption("--rkt", type=Path, default=None, metavar="PATH",
                    help="directory holding another rkt implementation to judge "
                         "(default: the working tree's rkt_ref)")
    group.addoption("--evidence-dir", type=Path, default=REPORTS / "evidence",
                    help="where a failed scenario's console log and journal are kept")
    group.addoption("--guest-cpu", type=Path, default=None, metavar="DIR",
                    help="turn on process accounting in each machine and keep its records "
                         "in DIR; `python -m vm.accounting DIR` says where the CPU went")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`, which the spec runs with: a worker per CPU this process may use, at most 4.

    Each worker has its own VM, which under TCG keeps a CPU busy. On the 2-core machine
    the whole spec took 265 s with 2 workers against 353 s in one process.
    """
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # SIGTERM unwinds like Ctrl-C, so fixtures shut their VMs down and clean up.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    runtime = Runtime(config.getoption("rkt").resolve() if config.getoption("rkt") else None)
    runtime.validate()
    config.stash[RUNTIME] = runtime
    backend = config.getoption("backend")
    if config.getoption("guest_cpu") and "real-kernel" not in backends.capabilities_of(backend):
        raise pytest.UsageError(f"--guest-cpu needs a machine with its own kernel; the "
                                f"{backend} backend shares the host's")


def pytest_unconfigure(config: pytest.Config) -> None:
    backends.release_spares()


RUNTIME = pytest.StashKey[Runtime]()
REPORT = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    item.stash.setdefault(REPORT, {})[report.when] = report
    return report


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"runtime under test: {config.stash[RUNTIME].label}; "
            f"backend: {config.getoption('backend')}"]


@pytest.fixture
def runtime_under_test(pytestconfig: pytest.Config) -> Runtime:
    return pytestconfig.stash[RUNTIME]


@pytest.fixture
def backend_name(pytestconfig: pytest.Config) -> str:
    return str(pytestconfig.getoption("backend"))


@pytest.fixture
def vm(request: pytest.FixtureRequest, backend_name: str,
       runtime_under_test: Runtime) -> Iterator[Machine]:
    """A fresh disposable VM with the runtime under test as /usr/bin/rkt."""
    machine = Machine.create(backend_name, runtime_under_test, reuse=True)
    cpu_dir = request.config.getoption("guest_cpu")
    try:
        if cpu_dir:
            accounting.start(machine)
        yield machine
    finally:
        try:
            _keep_evidence(request, machine)
            if cpu_dir:
                accounting.collect(machine, cpu_dir / f"{_file_name(request)}{accounting.SUFFIX}")
        finally:
            machine.shutdown()


def _file_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]


def _keep_evidence(request: pytest.FixtureRequest, machine: Machine) -> None:
    reports = request.node.stash.get(REPORT, {})
    for label, text in machine.observations:
        request.node.user_properties.append((f"observed: {label}", text))
    if not any(report.failed for report in reports.values()):
        return
    directory = Path(request.config.getoption("evidence_dir")) / _file_name(request)
    saved = machine.backend.save_evidence(directory)
    commands = directory / "commands.txt"
    commands.write_text("\n\n".join(result.describe() for result in machine.transcript))
    saved.append(commands)
    request.node.user_properties.append(("evidence", ", ".join(map(str, saved))))
