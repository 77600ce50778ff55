"""The spec's pytest wiring: the VM fixtures, the step vocabulary, and what may not run.

Two kinds of tags keep a scenario from running, each with a reason in the report:

* ``@pending`` with ``@issue-N``: the runtime support it needs is the subject of issue N.
  Such a scenario is skipped, never run to a vacuous pass.
* ``@needs-<capability>``: the scenario needs something of the VM backend (cgroup limits,
  a private network, a console) that the selected backend may not provide.

Each test module binds the scenarios of one feature, or of features whose Backgrounds are
the same or write the same unit (test_spec_etcd_image.py, test_spec_etcd_service.py). Run with
``--dist loadfile`` (as nox, the bench and conformance do), a module's scenarios share a
worker, and with it the kept VM that goes back to the state their Background's setups
left (Machine.setup). (xdist's ``loadgroup`` would say this with marks, but with pytest
9.2 it silently stops grouping: pytest-xdist issue 1386.)
"""

from __future__ import annotations

import pytest

from vm.backend import capabilities_of, unavailable_reason

# Step modules import each other's helpers; rewrite them all before any is imported.
pytest.register_assert_rewrite("steps")

pytest_plugins = [
    "vm.pytest_plugin",
    "vm.xdist_reports",
    "conformance.plugin",
    "steps.harness",
    "steps.shell",
    "steps.units",
    "steps.pods",
    "steps.machines",
    "steps.journal",
    "steps.ps",
    "steps.cgls",
    "steps.sockets",
    "steps.api",
    "steps.trust",
    "steps.registry",
]

_NEEDS = "needs-"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backend = str(config.getoption("backend"))
    have = capabilities_of(backend)
    absent = unavailable_reason(backend) if items else None
    for item in items:
        if absent:
            item.add_marker(pytest.mark.skip(reason=f"backend {backend} unavailable: {absent}"))
            continue
        if item.get_closest_marker("pending"):
            issues = sorted({m.name for m in item.iter_markers() if m.name.startswith("issue-")})
            if not issues:
                raise pytest.UsageError(f"{item.nodeid}: @pending must name its @issue-N")
            item.add_marker(pytest.mark.skip(
                reason=f"pending: waits on runtime support from {', '.join(issues)}"))
            continue
        needed = {m.name.removeprefix(_NEEDS) for m in item.iter_markers()
                  if m.name.startswith(_NEEDS)}
        missing = sorted(needed - have)
        if missing:
            item.add_marker(pytest.mark.skip(
                reason=f"backend {backend} lacks {', '.join(missing)}"))
