"""pytest side of conformance: scenario facts on every test, rkt_ref-only scenarios, the
living document.

Load it with `pytest_plugins = ["conformance.plugin"]` beside `vm.pytest_plugin`.

* Every scenario gets its feature, name, tags, runtime and backend as user properties, so
  the JUnit XML alone says what ran where, skipped scenarios included.
* ``@rkt-ref-only`` scenarios depend on a convenience of rkt_ref. Against any other runtime
  they are skipped with a reason of their own, reported apart and never counted as passed.
  A runtime directory that carries a copy of rkt_ref (a packaged rkt_ref, a mutant) is
  rkt_ref for this purpose.
* At the end of a run with ``--junitxml``, the living document (spec.md, spec.html) is
  written beside the JUnit XML.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from conformance import living_doc
from conformance.results import REF_ONLY_SKIP, read_run
from vm.pytest_plugin import RUNTIME
from vm.runtime import Runtime

REF_ONLY = "rkt-ref-only"
log = logging.getLogger(__name__)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "conformance reports")
    group.addoption("--no-living-doc", action="store_true", default=False,
                    help="do not write spec.md and spec.html beside the JUnit XML")


def is_rkt_ref(runtime: Runtime) -> bool:
    """rkt_ref itself, or a runtime directory that ships a copy of it."""
    return runtime.path is None or (runtime.path / "rkt_ref" / "__init__.py").is_file()


def scenario_facts(item: pytest.Item) -> list[tuple[str, str]]:
    """Feature, scenario and tags of a pytest-bdd test, as pytest-bdd's own generator finds them."""
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    template = scenario_wrapper_template_registry.get(getattr(item, "obj", None))  # type: ignore[arg-type]
    if template is None:
        return []
    feature = template.feature
    tags = set(template.tags) | set(feature.tags)
    if template.rule is not None:
        tags |= set(template.rule.tags)
    return [("feature", feature.name), ("feature-file", Path(feature.filename).name),
            ("scenario", template.name), ("tags", " ".join(sorted(tags)))]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    runtime = config.stash[RUNTIME]
    backend = str(config.getoption("backend"))
    reference = is_rkt_ref(runtime)
    for item in items:
        item.user_properties += [*scenario_facts(item), ("runtime", runtime.label),
                                 ("backend", backend)]
        if not reference and item.get_closest_marker(REF_ONLY):
            item.add_marker(pytest.mark.skip(
                reason=f"{REF_ONLY_SKIP}: depends on a convenience of rkt_ref that "
                       f"{runtime.label} need not have; not judged"))


def pytest_unconfigure(config: pytest.Config) -> None:
    # Runs after every plugin's pytest_sessionfinish, so both reports are on disk.
    if hasattr(config, "workerinput") or config.getoption("no_living_doc"):
        return
    junit = config.option.xmlpath
    if not junit or not Path(junit).is_file():
        return
    cucumber = getattr(config.option, "cucumber_json_path", None)
    run = read_run(Path(junit), Path(cucumber) if cucumber else None)
    md, page = living_doc.write(run, Path(junit).parent)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"living document: {md} and {page}")
