"""One run's verdicts, read back from the JUnit XML and the cucumber JSON it wrote.

JUnit XML is the list of record: it has every selected scenario, skipped ones too, with
the facts `conformance.plugin` attached (feature, scenario, tags, runtime, backend) and
the observations steps recorded. Cucumber JSON adds the steps of scenarios that ran.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

OBSERVED = "observed: "
# The skip reason features/conftest.py gives a scenario whose backend lacks a capability.
CAPABILITY_SKIP = re.compile(r"^backend \S+ lacks ")
PENDING_SKIP = "pending"
REF_ONLY_SKIP = "rkt-ref-only"


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    PENDING = "pending"
    REF_ONLY = "rkt_ref-only"


# Worst first: when a test reports twice (a failed call and a teardown error), the worse wins.
_SEVERITY = [Verdict.FAILED, Verdict.PENDING, Verdict.REF_ONLY, Verdict.SKIPPED, Verdict.PASSED]


@dataclass(frozen=True)
class Step:
    keyword: str
    name: str
    status: str
    error: str = ""


@dataclass(frozen=True)
class Scenario:
    """One scenario's outcome in one run."""

    test: str  # the pytest test name, unique across the modules of features/
    feature: str
    feature_file: str
    name: str
    tags: frozenset[str]
    verdict: Verdict
    reason: str = ""
    runtime: str = ""
    backend: str = ""
    observations: tuple[tuple[str, str], ...] = ()
    steps: tuple[Step, ...] = ()
    evidence: str = ""
    seconds: float = 0.0

    @property
    def acceptable(self) -> bool:
        """Passed, or skipped for a capability its backend declares it lacks."""
        if self.verdict is Verdict.PASSED:
            return True
        return self.verdict is Verdict.SKIPPED and bool(CAPABILITY_SKIP.match(self.reason))

    @property
    def failed_step(self) -> Step | None:
        return next((s for s in self.steps if s.status == "failed"), None)


@dataclass(frozen=True)
class Run:
    scenarios: tuple[Scenario, ...] = field(default_factory=tuple)

    @property
    def runtime(self) -> str:
        return _most_common(s.runtime for s in self.scenarios) or "unknown runtime"

    @property
    def backend(self) -> str:
        return _most_common(s.backend for s in self.scenarios) or "unknown backend"

    def counts(self) -> Counter[Verdict]:
        return Counter(s.verdict for s in self.scenarios)

    @property
    def ok(self) -> bool:
        """The exit status rule: every scenario passed or was skipped for a capability."""
        return all(s.acceptable for s in self.scenarios)

    def by_test(self) -> dict[str, Scenario]:
        return {s.test: s for s in self.scenarios}

    def summary(self) -> str:
        counts = self.counts()
        parts = [f"{counts[v]} {v}" for v in Verdict if counts[v]]
        return ", ".join(parts) or "no scenarios"


def _most_common(values: Iterable[str]) -> str:
    counter = Counter(v for v in values if v)
    return counter.most_common(1)[0][0] if counter else ""


def classify_skip(reason: str) -> Verdict:
    if reason.startswith(PENDING_SKIP):
        return Verdict.PENDING
    if reason.startswith(REF_ONLY_SKIP):
        return Verdict.REF_ONLY
    return Verdict.SKIPPED


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _testcase(element: ET.Element) -> tuple[Verdict, str, list[tuple[str, str]]]:
    props = [(p.get("name", ""), p.get("value", "")) for p in element.iter("property")]
    for tag in ("failure", "error"):
        child = element.find(tag)
        if child is not None:
            message = child.get("message") or _first_line(child.text or "")
            return Verdict.FAILED, f"{tag}: {message}" if tag == "error" else message, props
    skipped = element.find("skipped")
    if skipped is not None:
        reason = skipped.get("message") or _first_line(skipped.text or "")
        return classify_skip(reason), reason, props
    return Verdict.PASSED, "", props


def _cucumber_index(cucumber: Any) -> dict[str, tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """Test name -> (feature, scenario element) of a cucumber JSON report."""
    index: dict[str, tuple[Mapping[str, Any], Mapping[str, Any]]] = {}
    for feature in cucumber if isinstance(cucumber, list) else []:
        for element in feature.get("elements", []):
            index[str(element.get("id", ""))] = (feature, element)
    return index


def _steps(element: Mapping[str, Any]) -> tuple[Step, ...]:
    return tuple(
        Step(str(s.get("keyword", "")).strip(), str(s.get("name", "")),
             str(s.get("result", {}).get("status", "")),
             str(s.get("result", {}).get("error_message", "")))
        for s in element.get("steps", []))


def _tags(raw: Iterable[Mapping[str, Any]]) -> set[str]:
    return {str(t.get("name", "")).lstrip("@") for t in raw}


def read_run(junit: Path, cucumber: Path | None = None) -> Run:
    """The scenarios of one run, in the order JUnit lists them."""
    root = ET.parse(junit).getroot()
    index = _cucumber_index(json.loads(cucumber.read_text())) \
        if cucumber is not None and cucumber.is_file() else {}
    merged: dict[str, Scenario] = {}
    for element in root.iter("testcase"):
        test = element.get("name", "")
        verdict, reason, props = _testcase(element)
        facts = dict(props)
        feature, scenario = index.get(test, ({}, {}))
        tags = set(facts.get("tags", "").split()) or \
            (_tags(feature.get("tags", [])) | _tags(scenario.get("tags", [])))
        found = Scenario(
            test=test,
            feature=facts.get("feature") or str(feature.get("name", "")),
            feature_file=facts.get("feature-file") or str(feature.get("uri", "")),
            name=facts.get("scenario") or str(scenario.get("name", "")) or test,
            tags=frozenset(tags),
            verdict=verdict,
            reason=reason,
            runtime=facts.get("runtime", ""),
            backend=facts.get("backend", ""),
            observations=tuple((k.removeprefix(OBSERVED), v) for k, v in props
                               if k.startswith(OBSERVED)),
            steps=_steps(scenario),
            evidence=facts.get("evidence", ""),
            seconds=float(element.get("time", "0") or 0),
        )
        earlier = merged.get(test)
        if earlier is None or _SEVERITY.index(verdict) < _SEVERITY.index(earlier.verdict):
            merged[test] = found if earlier is None else _keep_facts(found, earlier)
    return Run(tuple(merged.values()))


def _keep_facts(worse: Scenario, earlier: Scenario) -> Scenario:
    """A teardown error reported after the call: keep what the call reported, take its verdict."""
    return replace(earlier, verdict=worse.verdict, reason=worse.reason,
                   observations=earlier.observations or worse.observations,
                   evidence=worse.evidence or earlier.evidence)
