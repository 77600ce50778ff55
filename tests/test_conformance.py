"""The conformance session without VMs: its pytest command line, exit rule, diff, repeat."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from conformance import diff, session
from conformance.__main__ import main
from conformance.results import Run, Scenario, Verdict


def _scenario(test: str, verdict: Verdict, observed: str = "", reason: str = "") -> Scenario:
    return Scenario(test, "ps auxf", "ps.feature", test.replace("_", " "), frozenset({"ps"}),
                    verdict, reason=reason, runtime="r", backend="qemu",
                    observations=(("ps auxf", observed),) if observed else ())


def test_pytest_argv_names_the_runtime_and_the_reports(tmp_path: Path) -> None:
    argv = session.pytest_argv(Path("/opt/other"), tmp_path, ["-k", "ps"])
    assert argv[1:4] == ["-m", "pytest", "features"]
    assert f"--junitxml={tmp_path / 'junit.xml'}" in argv
    assert f"--cucumberjson={tmp_path / 'cucumber.json'}" in argv
    assert argv[argv.index("--rkt") + 1] == "/opt/other"
    assert argv[-2:] == ["-k", "ps"]
    assert "--rkt" not in session.pytest_argv(None, tmp_path, [])


def test_pytest_argv_runs_workers_unless_told_otherwise(tmp_path: Path) -> None:
    argv = session.pytest_argv(None, tmp_path, ["-n", "0"])
    assert argv[argv.index("-n") + 1] == "auto"
    assert argv[-2:] == ["-n", "0"]  # given last, the caller's choice wins


def test_mask_hides_what_changes_every_run() -> None:
    one = "root  7258 nspawn --machine=rkt-6d0d9608-a744-4333-be21-942145a97a5a 12:38"
    two = "root  9001 nspawn --machine=rkt-2b0b2cec-8f63-4451-9431-9f8e9b265a23 13:02"
    assert diff.mask(one) == diff.mask(two)


def test_compare_reports_verdicts_and_observations_that_differ() -> None:
    a = Run((_scenario("same", Verdict.PASSED, "root 1 nspawn"),
             _scenario("tree", Verdict.PASSED, "root 1 nspawn\n \\_ systemd"),
             _scenario("verdict", Verdict.PASSED)))
    b = Run((_scenario("same", Verdict.PASSED, "root 2 nspawn"),
             _scenario("tree", Verdict.PASSED, "root 1 python3 /usr/bin/rkt\n \\_ nspawn"),
             _scenario("verdict", Verdict.FAILED),
             _scenario("extra", Verdict.PASSED)))
    found = {d.test: d for d in diff.compare(a, b, ("A", "B"))}
    assert set(found) == {"tree", "verdict", "extra"}
    assert found["verdict"].verdicts == ("passed", "failed")
    assert found["extra"].verdicts == ("not run", "passed")
    label, text = found["tree"].observations[0]
    assert label == "ps auxf" and "+root N python3 /usr/bin/rkt" in text
    printed = diff.format_text(list(found.values()), ("A", "B"))
    assert "A passed, B failed" in printed and "observed: ps auxf" in printed
    assert diff.format_text([], ("A", "B")).startswith("No behaviour differs")


@pytest.fixture
def fake_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path | None, Path, list[str]]]:
    """run_spec replaced: runtime B fails 'verdict', every runtime passes the rest."""
    calls: list[tuple[Path | None, Path, list[str]]] = []

    def run_spec(runtime: Path | None, reports: Path, args: Sequence[str]) -> Run:
        calls.append((runtime, reports, list(args)))
        reports.mkdir(parents=True, exist_ok=True)
        broken = runtime is not None and runtime.name == "b"
        return Run((_scenario("ok", Verdict.PASSED),
                    _scenario("verdict", Verdict.FAILED if broken else Verdict.PASSED),
                    _scenario("limits", Verdict.SKIPPED, reason="backend docker lacks "
                                                                "cgroup-limits")))

    monkeypatch.setattr(session, "run_spec", run_spec)
    return calls


def test_conformance_exits_0_when_every_scenario_holds(fake_runs: list, tmp_path: Path) -> None:
    assert session.conformance(Path("a"), None, 1, ["-k", "ps"], reports=tmp_path) == 0
    assert fake_runs == [(Path("a"), tmp_path, ["-k", "ps"])]


def test_against_runs_both_and_writes_the_diff(fake_runs: list, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    status = session.conformance(Path("a"), Path("b"), 1, [], reports=tmp_path)
    assert status == 1  # b fails a scenario
    assert [c[1] for c in fake_runs] == [tmp_path, tmp_path / "against"]
    out = capsys.readouterr().out
    assert "A passed, B failed" in out
    assert "A passed, B failed" in (tmp_path / "diff.txt").read_text()


def test_repeat_keeps_earlier_runs_apart_and_reports_flakiness(
        fake_runs: list, tmp_path: Path) -> None:
    assert session.conformance(None, None, 3, [], reports=tmp_path) == 0
    assert [c[1] for c in fake_runs] == [tmp_path / "runs" / "1", tmp_path / "runs" / "2",
                                         tmp_path]
    assert "same verdict in every run" in (tmp_path / "flakiness.md").read_text()


def test_flakiness_names_scenarios_whose_verdict_changed() -> None:
    runs = [Run((_scenario("x", Verdict.PASSED), _scenario("y", Verdict.PASSED))),
            Run((_scenario("x", Verdict.FAILED), _scenario("y", Verdict.PASSED)))]
    assert session.flakiness(runs) == {"x": [Verdict.PASSED, Verdict.FAILED]}


def test_cli_passes_unknown_options_to_pytest(fake_runs: list, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "rkt").write_text("#!/bin/sh\n")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--rkt", str(other), "-k", "ps and not cgls", "-x"]) == 0
    assert fake_runs[0][0] == other.resolve()
    assert fake_runs[0][2] == ["-k", "ps and not cgls", "-x"]


def test_cli_refuses_a_directory_without_rkt(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--rkt", str(tmp_path)])


def test_baseline_selection_covers_every_mutant() -> None:
    from conformance.mutant import discover

    k = session.baseline_selection(discover())
    assert k[0] == "-k" and "(execstoppost_runs_rkt_gc)" in k[1]


def test_the_word_rkt_ref_packages_the_working_tree(fake_runs: list, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session, "BUILD", tmp_path / "build")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--rkt", "rkt_ref", "--against", "rkt_ref"]) == 0
    packaged = (tmp_path / "build" / "rkt_ref").resolve()
    assert [c[0] for c in fake_runs] == [packaged, packaged]
    assert (packaged / "rkt").is_file() and (packaged / "rkt_ref" / "cli.py").is_file()


def test_a_runtime_carrying_rkt_ref_counts_as_rkt_ref(tmp_path: Path) -> None:
    from conformance.plugin import is_rkt_ref
    from vm.runtime import Runtime

    assert is_rkt_ref(Runtime(None))
    assert not is_rkt_ref(Runtime(tmp_path))
    (tmp_path / "rkt_ref").mkdir()
    (tmp_path / "rkt_ref" / "__init__.py").write_text("")
    assert is_rkt_ref(Runtime(tmp_path))
