"""Every mutant builds into a runtime directory, and its one patch applies and shows.

Each probe runs in a fresh interpreter, once over the packaged rkt_ref and once over the
mutant with its patch applied, and prints something the patch must change: the same
probe giving the same output on both means the patch no longer bites (rkt_ref moved on).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance.mutant import Mutant, build_runtime, discover, load
from conformance.results import Run, Scenario, Verdict
from conformance.session import Outcome, judge

MUTANTS = {m.name: m for m in discover()}
UUID = "6d0d9608-a744-4333-be21-942145a97a5a"

ARGV = f"from rkt_ref import nspawn; print(nspawn.argv('{UUID}', keep_unit=True))"
PROBES = {
    "fork_and_wait": (
        "import os; from pathlib import Path; from rkt_ref import nspawn\n"
        "print(os.getpid(), flush=True)\n"
        "nspawn.exec_pod(Path('.'), ['/bin/sh', '-c', 'echo $$'], dict(os.environ))"),
    "no_register": ARGV,
    "wrong_machine_name": ARGV,
    "nspawn_kills_pod": ARGV,
    "ignore_inherit_env": (
        "from rkt_ref import env\n"
        "print(env.merge(inherited={'HTTP_PROXY': '192.0.2.3:5000'}, manifest=[], env_file={},"
        " flags={}, app_name='myapp'))"),
    "drop_listen_fds": (
        "from rkt_ref import nspawn\n"
        "print(sorted(nspawn.environment({'LISTEN_FDS': '1', 'LISTEN_PID': '7'}, debug=False)))"),
    "no_keep_unit": (
        "from rkt_ref import nspawn\n"
        "class Cgroup:\n"
        "    def __init__(self, path): pass\n"
        "    def read_text(self): return '0::/machine.slice/etcd.service\\n'\n"
        "nspawn.Path = Cgroup\n"
        "print(nspawn.running_in_service())"),
    "gc_mark_only_noop": (
        "import os, sys; from rkt_ref import cli\n"
        f"os.makedirs('pods/run/{UUID}')\n"
        "cli.main(['--dir=.', 'gc', '--mark-only'])\n"
        "print(sorted(os.listdir('pods/exited-garbage')) if os.path.isdir('pods/exited-garbage')"
        " else [])"),
    "app_sigkilled": (
        "from rkt_ref import stage1\n"
        "from rkt_ref.schema import App, ImageRef, RuntimeApp\n"
        "app = RuntimeApp('myapp', ImageRef('myapp.com/myapp', 'sha512-0'),"
        " App(exec=('/bin/myapp',), user='0', group='0'))\n"
        "print(stage1.units([app], {'myapp': stage1.AppUnitOptions(uid=0, gid=0)})"
        "['myapp.service'])"),
}


def _probe(runtime: Path, code: str, cwd: Path, patched: bool) -> str:
    prelude = f"import sys; sys.path.insert(0, {str(runtime)!r})\n"
    if patched:
        prelude += "import mutant; mutant.apply()\n"
    result = subprocess.run([sys.executable, "-I", "-c", prelude + code], cwd=cwd,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_runtime(tmp_path_factory.mktemp("runtime") / "rkt_ref")


def test_there_are_at_least_eight_mutants_each_with_a_probe() -> None:
    assert len(MUTANTS) >= 8
    assert set(MUTANTS) == set(PROBES)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_builds_and_its_patch_bites(name: str, reference: Path, tmp_path: Path) -> None:
    mutant = MUTANTS[name]
    runtime = build_runtime(tmp_path / name, mutant)
    assert (runtime / "rkt_ref" / "__init__.py").is_file()
    assert (runtime / "mutant.py").read_text() == mutant.source.read_text()
    version = subprocess.run([str(runtime / "rkt"), "version"], capture_output=True, text=True,
                             timeout=60, check=False)
    assert version.returncode == 0 and "rkt Version" in version.stdout, version.stderr
    (tmp_path / "ref").mkdir()
    (tmp_path / "mut").mkdir()
    before = _probe(reference, PROBES[name], tmp_path / "ref", patched=False)
    after = _probe(runtime, PROBES[name], tmp_path / "mut", patched=True)
    assert before != after, f"the patch of {name} changes nothing: {before!r}"


def test_fork_and_wait_leaves_rkt_as_the_parent(reference: Path, tmp_path: Path) -> None:
    runtime = build_runtime(tmp_path / "m", MUTANTS["fork_and_wait"])
    pids = _probe(reference, PROBES["fork_and_wait"], tmp_path, patched=False).split()
    assert pids[0] == pids[1], "rkt_ref execs: the shell has rkt's PID"
    pids = _probe(runtime, PROBES["fork_and_wait"], tmp_path, patched=True).split()
    assert pids[0] != pids[1]


def test_packaged_rkt_ref_applies_no_patch(reference: Path) -> None:
    assert not (reference / "mutant.py").exists()
    assert "mutant" not in (reference / "rkt").read_text()


def test_a_mutant_without_declarations_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text('"""Nothing."""\nBREAKS = "x"\n')
    with pytest.raises(ValueError, match="KILLED_BY"):
        load(bad)


def _run(*verdicts: Verdict) -> Run:
    return Run(tuple(Scenario(f"t{n}", "f", "f.feature", f"scenario {n}", frozenset(), v,
                              reason="pending: issue-5" if v is Verdict.PENDING else "")
                     for n, v in enumerate(verdicts)))


def test_judging_a_mutant() -> None:
    mutant: Mutant = MUTANTS["fork_and_wait"]
    killed = judge(mutant, _run(Verdict.PASSED, Verdict.FAILED))
    assert killed.outcome == Outcome.KILLED and killed.killers == ("scenario 1",)
    survived = judge(mutant, _run(Verdict.PASSED))
    assert survived.outcome == Outcome.SURVIVED
    assert "mutant fork_and_wait survived: the spec has a hole" in survived.message
    assert judge(mutant, _run(Verdict.PENDING)).outcome == Outcome.UNJUDGED
    assert judge(mutant, _run()).outcome == Outcome.UNJUDGED


def test_a_kill_counts_only_where_unbroken_rkt_ref_passes() -> None:
    mutant = MUTANTS["no_register"]
    both_fail = judge(mutant, _run(Verdict.FAILED), baseline=_run(Verdict.FAILED))
    assert both_fail.outcome == Outcome.UNJUDGED
    assert "fail against unbroken rkt_ref too" in both_fail.message
    assert judge(mutant, _run(Verdict.FAILED), baseline=_run(Verdict.PASSED)).outcome == \
        Outcome.KILLED


def _failing_at(index: int, steps: int = 4) -> Run:
    from conformance.results import Step

    shape = tuple(Step("Then", f"step {n}", "failed" if n == index else
                       ("passed" if n < index else "skipped")) for n in range(steps))
    return Run((Scenario("t0", "f", "f.feature", "scenario 0", frozenset(), Verdict.FAILED,
                         steps=shape),))


def test_a_mutant_failing_a_step_that_rkt_ref_gets_through_is_killed() -> None:
    mutant = MUTANTS["no_register"]
    killed = judge(mutant, _failing_at(1), baseline=_failing_at(3))
    assert killed.outcome == Outcome.KILLED
    assert killed.killers == ("scenario 0 (at: Then step 1)",)
    assert judge(mutant, _failing_at(3), baseline=_failing_at(3)).outcome == Outcome.UNJUDGED
