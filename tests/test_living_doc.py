"""The living document, rendered from a small synthetic JUnit XML and cucumber JSON pair."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest

from conformance import document, living_doc
from conformance.results import Run, Verdict, read_run

PS_AUXF = """USER PID COMMAND
root 7258 /usr/bin/systemd-nspawn --boot --register=true --keep-unit --machine=rkt-6d0d
root 7275  \\_ /usr/lib/systemd/systemd --default-standard-output=tty
root 7343      \\_ /etcd"""

CGLS = """├─machine.slice
│ └─etcd.service
│   └─payload
│     └─system.slice
│       └─etcd.service
│         └─1436 /etcd"""


def _case(name: str, scenario: str, feature_file: str, tags: str, body: str = "",
          observed: tuple[tuple[str, str], ...] = ()) -> str:
    props = [("feature", feature_file.removesuffix(".feature")), ("feature-file", feature_file),
             ("scenario", scenario), ("tags", tags), ("runtime", "/opt/rkt-1.30"),
             ("backend", "qemu"), *((f"observed: {k}", v) for k, v in observed)]
    rendered = "".join(f"<property name={quoteattr(k)} value={quoteattr(v)} />" for k, v in props)
    return (f'<testcase classname="features.test_spec_etcd_service" name="{name}" time="12.5">'
            f"<properties>{rendered}</properties>{body}</testcase>")


JUNIT = ('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
         + _case("test_rkt_not_listed", "rkt itself is not in the process list", "ps.feature",
                 "ps", observed=(("ps auxf", PS_AUXF),))
         + _case("test_cgls", "The app and journald run in the pod's inner system.slice",
                 "cgls.feature", "cgls",
                 '<failure message="AssertionError: no etcd.service">trace</failure>',
                 observed=(("systemd-cgls", CGLS),))
         + _case("test_limits", "CPUShares= and MemoryLimit= are applied", "advanced_unit.feature",
                 "advanced-unit needs-cgroup-limits",
                 '<skipped type="pytest.skip" message="backend docker lacks cgroup-limits" />')
         + _case("test_socket", "A connection starts the pod", "socket_activation.feature",
                 "socket-activation pending issue-5",
                 '<skipped type="pytest.skip" message="pending: waits on runtime support from '
                 'issue-5" />')
         + _case("test_ref_only", "A convenience of rkt_ref", "simple_unit.feature",
                 "simple-unit rkt-ref-only",
                 '<skipped type="pytest.skip" message="rkt-ref-only: depends on a convenience" />')
         + _case("test_smoke", "A disposable VM is a running systemd host", "smoke.feature",
                 "smoke")
         + "</testsuite></testsuites>")

CUCUMBER = [{
    "keyword": "Feature", "uri": "features/cgls.feature", "name": "cgls", "id": "cgls",
    "line": 2, "description": "", "language": "en", "tags": [{"name": "cgls", "line": 1}],
    "elements": [{
        "keyword": "Scenario", "id": "test_cgls",
        "name": "The app and journald run in the pod's inner system.slice", "line": 30,
        "description": "", "tags": [], "type": "scenario",
        "steps": [
            {"keyword": "When", "name": "I run:", "line": 31, "match": {"location": ""},
             "result": {"status": "passed", "duration": 1}},
            {"keyword": "Then", "name": "the pod's inner system.slice has \"etcd.service\"",
             "line": 35, "match": {"location": ""},
             "result": {"status": "failed", "duration": 1,
                        "error_message": "E   AssertionError: no etcd.service below system.slice"}},
        ]}]}]


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    (tmp_path / "junit.xml").write_text(JUNIT)
    (tmp_path / "cucumber.json").write_text(json.dumps(CUCUMBER))
    return tmp_path


@pytest.fixture
def run(reports: Path) -> Run:
    return read_run(reports / "junit.xml", reports / "cucumber.json")


def test_verdicts_come_from_junit_with_steps_from_cucumber(run: Run) -> None:
    verdicts = {s.test: s.verdict for s in run.scenarios}
    assert verdicts == {
        "test_rkt_not_listed": Verdict.PASSED, "test_cgls": Verdict.FAILED,
        "test_limits": Verdict.SKIPPED, "test_socket": Verdict.PENDING,
        "test_ref_only": Verdict.REF_ONLY, "test_smoke": Verdict.PASSED,
    }
    cgls = run.by_test()["test_cgls"]
    assert cgls.failed_step is not None and "inner system.slice" in cgls.failed_step.name
    assert cgls.observations == (("systemd-cgls", CGLS),)
    assert run.runtime == "/opt/rkt-1.30" and run.backend == "qemu"


def test_exit_rule_accepts_only_passes_and_capability_skips(run: Run) -> None:
    acceptable = {s.test for s in run.scenarios if s.acceptable}
    assert acceptable == {"test_rkt_not_listed", "test_limits", "test_smoke"}
    assert not run.ok


def test_document_sections_follow_the_features() -> None:
    secs = document.sections()
    assert [s.spec.title for s in secs] == [spec.title for spec in document.SECTIONS]
    ps = next(s for s in secs if s.spec.title == "ps auxf")
    assert any(b.kind is document.BlockKind.VERBATIM and b.lines[0] == "$ ps auxf"
               for b in ps.blocks)
    advanced = next(s for s in secs if s.spec.title == "Advanced Unit File")
    unit = next(b for b in advanced.blocks if b.kind is document.BlockKind.VERBATIM)
    assert "ExecStopPost=/usr/bin/rkt gc --mark-only" in unit.lines


def test_the_copy_of_the_document_is_the_original() -> None:
    shared = Path(__file__).resolve().parents[2] / "shared" / "docs" / "using-rkt-with-systemd.md"
    if not shared.is_file():
        pytest.skip(f"{shared} is not here to compare with")
    strip = document._strip_comments  # noqa: SLF001
    assert strip(document.SOURCE.read_text()).strip() == strip(shared.read_text()).strip()


def test_markdown_puts_each_scenario_under_its_section(run: Run) -> None:
    md = living_doc.markdown(run)
    ps_at = md.index("\n### ps auxf\n")
    cgls_at = md.index("\n### systemd-cgls\n")
    assert ps_at < md.index("rkt itself is not in the process list") < cgls_at
    assert md.index("The app and journald run") > cgls_at
    assert "❌ **failed**" in md and "Failed at: *Then the pod's inner system.slice" in md
    assert "Reason: pending: waits on runtime support from issue-5" in md
    assert "rkt_ref-only" in md
    assert "runtime `/opt/rkt-1.30` · backend `qemu`" in md
    assert "observed: ps auxf" in md and "\\_ /etcd" in md
    assert "## Not in the document: the harness" in md
    assert "| [systemd-cgls](#systemd-cgls) | fails |" in md
    assert "| [ps auxf](#ps-auxf) | holds |" in md


def test_html_is_one_escaped_page(run: Run) -> None:
    page = living_doc.html_page(run)
    assert page.startswith("<!DOCTYPE html>")
    assert '<h3 id="ps-auxf">ps auxf' in page
    assert "&quot;etcd.service&quot;" in page  # the failing step's name, escaped
    assert "<details open><summary>observed: systemd-cgls</summary>" in page
    assert "Not every selected scenario holds" in page


def test_render_writes_both_files(reports: Path) -> None:
    from conformance import session

    assert session.render(reports) == 0
    assert (reports / "spec.md").stat().st_size > 0
    assert (reports / "spec.html").stat().st_size > 0


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--window-size=1280,2000"]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_html_renders_in_headless_chromium(reports: Path, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does)")
    from conformance import session

    session.render(reports)
    shot = Path("reports") / "spec-screenshot.png"
    shot.parent.mkdir(exist_ok=True)
    shot.unlink(missing_ok=True)
    argv = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot.resolve()}", (reports / "spec.html").resolve().as_uri()]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert shot.is_file(), f"no screenshot; chromium exited {result.returncode}:\n{result.stderr}"
    data = shot.read_bytes()
    assert len(data) > 10_000, f"screenshot is only {len(data)} bytes"
    assert _png_size(data) == (1280, 2000)
