"""The spec's test modules: each feature is bound once, and features with the same
Background are bound by the same module, which `--dist loadfile` runs on one worker with
the kept VM that has their Background's setups done (features/conftest.py)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from pytest_bdd.scenario import scenario_wrapper_template_registry

FEATURES = Path(__file__).resolve().parent.parent / "features"


class Bound:
    """A pytest plugin that keeps, for each collected scenario, its module and feature."""

    def __init__(self) -> None:
        self.modules: dict[str, set[str]] = defaultdict(set)  # feature file -> modules
        self.backgrounds: dict[str, str] = {}  # feature file -> its Background's steps

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            template = scenario_wrapper_template_registry[getattr(item, "obj")]  # noqa: B009
            feature = template.feature
            name = Path(feature.filename).name
            self.modules[name].add(item.nodeid.split("::")[0])
            steps = feature.background.steps if feature.background else []
            self.backgrounds[name] = "\n".join(f"{s.name}\n{s.docstring}" for s in steps)


@pytest.fixture(scope="module")
def bound() -> Bound:
    plugin = Bound()
    assert pytest.main([str(FEATURES), "--collect-only", "-q"], plugins=[plugin]) == 0
    return plugin


def test_every_feature_is_bound_by_exactly_one_module(bound: Bound) -> None:
    assert set(bound.modules) == {p.name for p in FEATURES.glob("*.feature")}
    assert all(len(modules) == 1 for modules in bound.modules.values()), bound.modules


def test_features_with_the_same_background_share_a_module(bound: Bound) -> None:
    module_of = {feature: next(iter(modules)) for feature, modules in bound.modules.items()}
    for feature, background in bound.backgrounds.items():
        alike = {f for f, b in bound.backgrounds.items() if background and b == background}
        assert {module_of[f] for f in alike} <= {module_of[feature]}, (feature, alike)
    # cgls, cgls --all and ps start the document's etcd.service in their Background;
    # simple_unit writes the same unit and starts it in its scenarios
    assert module_of["cgls.feature"] == module_of["ps.feature"] == \
        module_of["cgls_all.feature"] == module_of["simple_unit.feature"]
