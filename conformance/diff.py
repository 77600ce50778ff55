"""A behaviour diff: where two runtimes' runs of the same scenarios differ.

Scenarios are matched by test name. Two runs differ on a scenario when the verdicts
differ, or when an observation (`ps auxf`, `systemd-cgls`, …) recorded under the same label
reads differently once what changes on every run (PIDs, UUIDs, times) is masked.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from conformance.results import Run, Scenario

MAX_DIFF_LINES = 60

_VOLATILE = (
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<id>"),
    (re.compile(r"\b\d{1,2}:\d{2}(:\d{2})?(\.\d+)?\b"), "<time>"),
    (re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|"
                r"Nov|Dec)\b[ \d-]*"), "<date> "),
    (re.compile(r"\b\d+(\.\d+)?\b"), "N"),
)


def mask(text: str) -> str:
    """Text with what differs on every run replaced by placeholders."""
    for pattern, placeholder in _VOLATILE:
        text = pattern.sub(placeholder, text)
    return re.sub(r"[ \t]+", " ", text)


@dataclass(frozen=True)
class Difference:
    test: str
    name: str
    verdicts: tuple[str, str]
    observations: tuple[tuple[str, str], ...]  # (label, unified diff of the masked texts)


def _observation_diffs(a: Scenario, b: Scenario, labels: tuple[str, str],
                       ) -> tuple[tuple[str, str], ...]:
    seen_a = dict(a.observations)
    seen_b = dict(b.observations)
    out: list[tuple[str, str]] = []
    for label in list(dict.fromkeys([*seen_a, *seen_b])):
        left, right = mask(seen_a.get(label, "")), mask(seen_b.get(label, ""))
        if left == right:
            continue
        lines = list(difflib.unified_diff(left.splitlines(), right.splitlines(), labels[0],
                                          labels[1], lineterm="", n=1))
        if len(lines) > MAX_DIFF_LINES:
            lines = [*lines[:MAX_DIFF_LINES], f"… {len(lines) - MAX_DIFF_LINES} more lines"]
        out.append((label, "\n".join(lines)))
    return tuple(out)


def compare(a: Run, b: Run, labels: tuple[str, str] = ("A", "B")) -> list[Difference]:
    """Every scenario, in A's order then B's extras, on which the two runs differ."""
    mine, theirs = a.by_test(), b.by_test()
    out: list[Difference] = []
    for test in list(dict.fromkeys([*mine, *theirs])):
        left, right = mine.get(test), theirs.get(test)
        if left is None or right is None:
            only = left or right
            assert only is not None
            out.append(Difference(test, only.name, (
                str(left.verdict) if left else "not run", str(right.verdict) if right else
                "not run"), ()))
            continue
        observations = _observation_diffs(left, right, labels)
        if left.verdict != right.verdict or observations:
            out.append(Difference(test, left.name, (str(left.verdict), str(right.verdict)),
                                  observations))
    return out


def format_text(differences: list[Difference], labels: tuple[str, str]) -> str:
    if not differences:
        return f"No behaviour differs between {labels[0]} and {labels[1]}.\n"
    out = [f"Behaviour diff: {labels[0]} (A) against {labels[1]} (B), "
           f"{len(differences)} scenario(s) differ", ""]
    for d in differences:
        verdict = (f"A {d.verdicts[0]}, B {d.verdicts[1]}" if d.verdicts[0] != d.verdicts[1]
                   else f"both {d.verdicts[0]}")
        out.append(f"* {d.name}  [{verdict}]")
        for label, text in d.observations:
            out.append(f"  observed: {label}")
            out += [f"    {line}" for line in text.splitlines()]
        out.append("")
    return "\n".join(out)
