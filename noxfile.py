"""The user's entry point: `nox -s spec` judges a runtime, `nox -s tests` runs unit tests."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["tests", "spec"]
nox.options.reuse_existing_virtualenvs = True

REPORTS = "reports"


def _with_vms(session: nox.Session) -> None:
    """Install the harness, the host tools, and the VM image (built once, then cached)."""
    session.install("-e", ".[spec]")
    session.run("python", "-m", "vm", "setup")
    session.run("python", "-m", "vm", "image")


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests that need no VM."""
    session.install("-e", ".[dev]")
    session.run("pytest", "tests", "-q", *session.posargs)


@nox.session
def spec(session: nox.Session) -> None:
    """The document's workflows, in disposable VMs, against rkt_ref (or --rkt PATH)."""
    _with_vms(session)
    Path(REPORTS).mkdir(exist_ok=True)
    session.run(
        "pytest", "features", "-v", "-rs", "-n", "auto",  # -- -n 0: in one process
        "--dist", "loadfile",  # a module's scenarios on one worker (features/conftest.py)
        f"--junitxml={REPORTS}/junit.xml",
        f"--cucumberjson={REPORTS}/cucumber.json",
        *session.posargs,
    )


@nox.session
def conformance(session: nox.Session) -> None:
    """The whole spec against --rkt PATH (and --against B): reports, living document, diff."""
    _with_vms(session)
    session.run("python", "-m", "conformance", "run", *session.posargs)


@nox.session
def mutants(session: nox.Session) -> None:
    """Each deliberately broken rkt_ref against the scenarios that must catch it."""
    _with_vms(session)
    session.run("python", "-m", "conformance", "mutants", *session.posargs)


@nox.session
def image(session: nox.Session) -> None:
    """Build the VM image, or reuse the cached one, and print its path."""
    _with_vms(session)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy over the whole tree."""
    session.install("-e", ".[dev]")
    session.run("ruff", "check", ".")
    session.run("mypy", "rkt_ref", "vm", "steps", "tests", "conformance")


@nox.session
def bench(session: nox.Session) -> None:
    """Measure image, VM and pod timings side by side; write reports/bench.json."""
    _with_vms(session)
    session.run("python", "-m", "vm.bench", *session.posargs)
