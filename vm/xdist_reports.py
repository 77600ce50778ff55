"""Keep pytest-bdd's scenario reports across pytest-xdist, so cucumber.json is whole with -n.

pytest-bdd 9 keeps each report's scenario in a registry keyed by the report object. A
worker's report reaches the controller as a new object rebuilt from JSON, so the
controller's cucumber.json (and the gherkin terminal reporter) saw no scenarios at all.
Here the worker puts the scenario on the report as a plain attribute, which travels,
and the controller files it back in the registry before pytest-bdd's reporters look.
"""

from __future__ import annotations

from typing import Any

import pytest

ATTRIBUTE = "bdd_scenario_context"


def _registry() -> Any:
    from pytest_bdd import reporting

    return reporting


# Outside pytest-bdd's own wrapper, which registers the context after the report is made.
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if hasattr(item.config, "workerinput"):
        context = _registry().test_report_context_registry.get(report)
        if context is not None:
            setattr(report, ATTRIBUTE, {"scenario": context.scenario, "name": context.name})
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    carried = getattr(report, ATTRIBUTE, None)
    if carried is None:
        return
    reporting = _registry()
    if report not in reporting.test_report_context_registry:
        reporting.test_report_context_registry[report] = reporting.ReportContext(**carried)
