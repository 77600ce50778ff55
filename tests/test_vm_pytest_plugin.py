"""The spec's pytest plugin: how many workers `-n auto` starts."""

from __future__ import annotations

import pytest

from vm import pytest_plugin


@pytest.mark.parametrize(("cpus", "workers"),
                         [(1, 1), (2, 2), (3, 3), (64, pytest_plugin.MAX_WORKERS)])
def test_auto_runs_a_worker_per_usable_cpu_at_most_four(
        monkeypatch: pytest.MonkeyPatch, pytestconfig: pytest.Config, cpus: int,
        workers: int) -> None:
    monkeypatch.setattr(pytest_plugin.os, "sched_getaffinity", lambda pid: set(range(cpus)))
    assert pytest_plugin.pytest_xdist_auto_num_workers(pytestconfig) == workers
