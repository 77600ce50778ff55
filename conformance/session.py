"""What `nox -s conformance` and `nox -s mutants` run: the spec against runtimes.

Each run is one pytest process over features/ with its own report directory, so a run's
JUnit XML, cucumber JSON, living document and evidence stay together.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from conformance import diff, living_doc
from conformance.mutant import Mutant, build_runtime, discover
from conformance.results import Run, Scenario, Verdict, read_run

log = logging.getLogger("conformance")

REPORTS = Path("reports")
BUILD = Path("build")
JUNIT, CUCUMBER = "junit.xml", "cucumber.json"


def pytest_argv(runtime: Path | None, reports: Path, args: Sequence[str]) -> list[str]:
    """The spec's pytest command line for one runtime (None: the working tree's rkt_ref).

    It runs with `-n auto` (see vm.pytest_plugin); `args` come last, so `-n 0` runs it in
    one process.
    """
    return [
        sys.executable, "-m", "pytest", "features", "-v", "-rs", "-n", "auto",
        "--dist", "loadfile",
        f"--junitxml={reports / JUNIT}",
        f"--cucumberjson={reports / CUCUMBER}",
        "--evidence-dir", str(reports / "evidence"),
        *(["--rkt", str(runtime)] if runtime is not None else []),
        *args,
    ]


def run_spec(runtime: Path | None, reports: Path, args: Sequence[str]) -> Run:
    """Run the spec (the one place this module starts a process) and read its verdicts."""
    reports.mkdir(parents=True, exist_ok=True)
    for stale in (JUNIT, CUCUMBER):
        (reports / stale).unlink(missing_ok=True)
    argv = pytest_argv(runtime, reports, args)
    print(f"+ {shlex.join(argv)}", flush=True)
    status = subprocess.run(argv, check=False).returncode
    if not (reports / JUNIT).is_file():
        raise SystemExit(f"conformance: pytest exited {status} without writing "
                         f"{reports / JUNIT}; see its output above")
    return read_run(reports / JUNIT, reports / CUCUMBER)


def describe(run: Run) -> str:
    lines = [f"{run.runtime} on {run.backend}: {run.summary()}"]
    for s in run.scenarios:
        if not s.acceptable:
            lines.append(f"  {s.verdict}: {s.name}" + (f" ({s.reason})" if s.reason else ""))
    return "\n".join(lines)


# --- conformance ------------------------------------------------------------------------


def flakiness(runs: Sequence[Run]) -> dict[str, list[Verdict]]:
    """Scenario name -> its verdicts over the repetitions, for those that changed."""
    seen: dict[str, list[Verdict]] = defaultdict(list)
    for run in runs:
        for s in run.scenarios:
            seen[s.name].append(s.verdict)
    return {name: verdicts for name, verdicts in seen.items() if len(set(verdicts)) > 1}


def _report_flakiness(label: str, runs: Sequence[Run], reports: Path) -> None:
    flaky = flakiness(runs)
    lines = [f"# Flakiness of {label} over {len(runs)} runs", ""]
    if not flaky:
        lines.append("Every scenario had the same verdict in every run.")
    for name, verdicts in flaky.items():
        lines.append(f"- {name}: {', '.join(verdicts)}")
    text = "\n".join(lines) + "\n"
    (reports / "flakiness.md").write_text(text)
    print(text)


def conformance(runtime: Path | None, against: Path | None, repeat: int,
                args: Sequence[str], reports: Path = REPORTS) -> int:
    """Judge runtime (and against, if given); 0 only if every run is acceptable."""
    targets = [(runtime, reports)]
    if against is not None:
        targets.append((against, reports / "against"))
    results: dict[Path, list[Run]] = defaultdict(list)
    for n in range(1, repeat + 1):
        for path, directory in targets:
            # Every repetition but the last keeps its reports apart; the last is the report.
            where = directory if n == repeat else directory / "runs" / str(n)
            results[directory].append(run_spec(path, where, args))
    ok = True
    for path, directory in targets:
        runs = results[directory]
        print(describe(runs[-1]))
        print(f"living document: {directory / living_doc.HTML_NAME}")
        if repeat > 1:
            _report_flakiness(str(path or "rkt_ref"), runs, directory)
        ok = ok and all(run.ok for run in runs)
    if against is not None:
        labels = (str(runtime or "rkt_ref"), str(against))
        text = diff.format_text(diff.compare(results[reports][-1],
                                             results[reports / "against"][-1], labels), labels)
        (reports / "diff.txt").write_text(text)
        print(text)
    return 0 if ok else 1


# --- mutants ----------------------------------------------------------------------------


class Outcome:
    KILLED = "killed"
    SURVIVED = "survived"
    UNJUDGED = "unjudged"


@dataclass(frozen=True)
class MutantResult:
    mutant: Mutant
    outcome: str
    killers: tuple[str, ...]
    message: str


def _killer(s: Scenario) -> str:
    step = s.failed_step
    if step:
        return f"{s.name} (at: {step.keyword} {step.name})"
    return f"{s.name} ({s.reason})" if s.reason else s.name


def _failed_at(s: Scenario) -> int:
    """Index of the failing step; the step count for a scenario that passed."""
    return next((n for n, step in enumerate(s.steps) if step.status == "failed"),
                len(s.steps))


def _fails_earlier(mutant_run: Scenario, control: Scenario | None) -> bool:
    """The mutant fails where unbroken rkt_ref still passed: a step it got through."""
    if control is None or control.verdict is Verdict.PASSED:
        return control is not None
    if control.verdict is not Verdict.FAILED or not control.steps or not mutant_run.steps:
        return False
    return _failed_at(mutant_run) < _failed_at(control)


def judge(mutant: Mutant, run: Run, baseline: Run | None = None) -> MutantResult:
    """Killed if a selected scenario fails where unbroken rkt_ref (the baseline) passed.

    That is a scenario the baseline passed, or one it failed at a later step than the
    mutant did: the mutant broke a step rkt_ref gets through.
    """
    failed = [s for s in run.scenarios if s.verdict is Verdict.FAILED]
    killers = tuple(_killer(s) for s in failed
                    if baseline is None or _fails_earlier(s, baseline.by_test().get(s.test)))
    if killers:
        return MutantResult(mutant, Outcome.KILLED, killers,
                            f"mutant {mutant.name} killed by: {'; '.join(killers)}")
    if failed:
        return MutantResult(mutant, Outcome.UNJUDGED, (),
                            f"mutant {mutant.name} was not judged: the scenarios that failed "
                            f"against it fail against unbroken rkt_ref too "
                            f"({'; '.join(s.name for s in failed)})")
    if not run.scenarios:
        return MutantResult(mutant, Outcome.UNJUDGED, (),
                            f"mutant {mutant.name} was not judged: KILLED_BY "
                            f"{shlex.join(mutant.killed_by)} selects no scenario")
    if not any(s.verdict is Verdict.PASSED for s in run.scenarios):
        reasons = sorted({s.reason for s in run.scenarios})
        return MutantResult(mutant, Outcome.UNJUDGED, (),
                            f"mutant {mutant.name} was not judged: every scenario that could "
                            f"kill it was skipped ({'; '.join(reasons)})")
    passed = [s.name for s in run.scenarios if s.verdict is Verdict.PASSED]
    return MutantResult(mutant, Outcome.SURVIVED, (),
                        f"mutant {mutant.name} survived: the spec has a hole "
                        f"({mutant.summary} Yet passed: {'; '.join(passed)})")


def baseline_selection(chosen: Sequence[Mutant]) -> list[str]:
    """One pytest selection covering every mutant's KILLED_BY (each a single -k expression)."""
    expressions = []
    for m in chosen:
        if len(m.killed_by) != 2 or m.killed_by[0] != "-k":
            raise SystemExit(f"mutant {m.name}: KILLED_BY must be ('-k', EXPRESSION)")
        expressions.append(f"({m.killed_by[1]})")
    return ["-k", " or ".join(dict.fromkeys(expressions))]


def mutants(names: Sequence[str], args: Sequence[str], *, baseline: bool = True,
            reports: Path = REPORTS / "mutants", build: Path = BUILD / "mutants") -> int:
    """Run each mutant's scenarios against it; 0 only if every mutant is killed."""
    chosen = [m for m in discover() if not names or m.name in names]
    unknown = set(names) - {m.name for m in chosen}
    if unknown:
        raise SystemExit(f"no such mutant: {', '.join(sorted(unknown))}")
    control: Run | None = None
    if baseline:
        # The same scenarios against rkt_ref packaged the same way: a scenario that fails
        # there too proves nothing about a mutant.
        print("=== baseline: unbroken rkt_ref, packaged like the mutants", flush=True)
        runtime = build_runtime(build / "_baseline")
        control = run_spec(runtime.resolve(), reports / "_baseline",
                           [*baseline_selection(chosen), *args])
        print(describe(control), flush=True)
    results: list[MutantResult] = []
    for mutant in chosen:
        print(f"=== mutant {mutant.name}: {mutant.summary}", flush=True)
        runtime = build_runtime(build / mutant.name, mutant)
        # -x: one failing scenario kills a mutant; the rest would only add minutes.
        run = run_spec(runtime.resolve(), reports / mutant.name,
                       [*mutant.killed_by, "-x", *args])
        results.append(judge(mutant, run, control))
        print(results[-1].message, flush=True)
    table = ["# Mutants", "",
             "Baseline: " + (describe(control).splitlines()[0] if control else "not run"), "",
             "| mutant | breaks | outcome | killed by |", "|---|---|---|---|"]
    for r in results:
        table.append(f"| {r.mutant.name} | {r.mutant.summary} | {r.outcome} | "
                     f"{'; '.join(r.killers) or '—'} |")
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "summary.md").write_text("\n".join(table) + "\n")
    print("\n".join(["", "Mutants:", *(r.message for r in results)]))
    return 0 if all(r.outcome == Outcome.KILLED for r in results) else 1


def render(directory: Path) -> int:
    """Write the living document from a directory's junit.xml and cucumber.json."""
    run = read_run(directory / JUNIT, directory / CUCUMBER)
    for path in living_doc.write(run, directory):
        print(path)
    return 0
