"""The spec's test modules: each feature is bound once, and features with the same
Background are bound by the same module, which `--dist loadfile` runs on one worker with
the kept VM that has their Background's setups done (features/conftest.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ROOT / "features"

# Collects features/ in a process of its own, and prints each scenario's module, feature
# file and Background (its steps) as one JSON line after BOUND=.
_COLLECT = """
import json, sys
from pathlib import Path
import pytest
from pytest_bdd.scenario import scenario_wrapper_template_registry

found = []

class Bound:
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        for item in items:
            feature = scenario_wrapper_template_registry[item.obj].feature
            steps = feature.background.steps if feature.background else []
            found.append((item.nodeid.split("::")[0], Path(feature.filename).name,
                          "\\n".join(f"{s.name}\\n{s.docstring}" for s in steps)))

status = pytest.main([sys.argv[1], "--collect-only", "-q", "-p", "no:cacheprovider"],
                     plugins=[Bound()])
print("BOUND=" + json.dumps(found))
sys.exit(status)
"""


@pytest.fixture(scope="module")
def bound() -> list[tuple[str, str, str]]:
    done = subprocess.run([sys.executable, "-c", _COLLECT, str(FEATURES)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("BOUND="))
    found = [tuple(row) for row in json.loads(line.removeprefix("BOUND="))]
    assert len(found) >= 25
    return found  # type: ignore[return-value]


def test_every_feature_is_bound_by_exactly_one_module(bound: list[tuple[str, str, str]]) -> None:
    modules: dict[str, set[str]] = {}
    for module, feature, _ in bound:
        modules.setdefault(feature, set()).add(module)
    assert set(modules) == {p.name for p in FEATURES.glob("*.feature")}
    assert all(len(m) == 1 for m in modules.values()), modules


def test_features_with_the_same_background_share_a_module(
        bound: list[tuple[str, str, str]]) -> None:
    module_of = {feature: module for module, feature, _ in bound}
    background_of = {feature: background for _, feature, background in bound}
    for feature, background in background_of.items():
        if not background:
            continue
        alike = {f for f, b in background_of.items() if b == background}
        assert {module_of[f] for f in alike} == {module_of[feature]}, (feature, alike)
    # cgls, cgls --all and ps start the document's etcd.service in their Background;
    # simple_unit writes the same unit and starts it in its scenarios
    assert module_of["cgls.feature"] == module_of["ps.feature"] == \
        module_of["cgls_all.feature"] == module_of["simple_unit.feature"]
