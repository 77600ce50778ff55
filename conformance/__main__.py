"""`python -m conformance run|mutants|package|render`: what the nox sessions call.

  run [--rkt PATH] [--against B] [--repeat N] [--reports DIR] [PYTEST ARGS]
                                                               judge a runtime (and diff)
  mutants [--mutant NAME]... [--no-baseline] [PYTEST ARGS]     prove the spec can fail
  package DIR                                                  rkt_ref as a runtime directory
  render [DIR]                                                 the living document from DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from conformance import session
from conformance.mutant import build_runtime

REFERENCE = "rkt_ref"


def _directory(value: str) -> Path:
    """A runtime directory; the word rkt_ref builds the working tree's rkt_ref as one."""
    if value == REFERENCE and not (Path(value) / "rkt").is_file():
        return build_runtime(session.BUILD / REFERENCE).resolve()
    path = Path(value).resolve()
    if not (path / "rkt").is_file():
        raise argparse.ArgumentTypeError(f"{value}: no executable named 'rkt' in that directory")
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance", allow_abbrev=False,
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)
    run = verbs.add_parser("run", allow_abbrev=False,
                           help="the whole spec against --rkt PATH (default: rkt_ref)")
    run.add_argument("--rkt", type=_directory, default=None, metavar="PATH",
                     help="runtime directory to judge (rkt_ref: the working tree's, packaged)")
    run.add_argument("--against", type=_directory, default=None, metavar="B",
                     help="also run B and print where the two behave differently")
    run.add_argument("--repeat", type=int, default=1, metavar="N",
                     help="run N times and report scenarios whose verdict changed")
    run.add_argument("--reports", type=Path, default=session.REPORTS, metavar="DIR",
                     help="where the reports go (default: reports/)")
    mutants = verbs.add_parser("mutants", allow_abbrev=False,
                               help="each mutant against the scenarios that must kill it")
    mutants.add_argument("--mutant", action="append", default=[], metavar="NAME")
    mutants.add_argument("--no-baseline", action="store_true",
                         help="skip the control run of the same scenarios on unbroken rkt_ref")
    package = verbs.add_parser("package", help="build rkt_ref as a standalone runtime directory")
    package.add_argument("directory", type=Path)
    render = verbs.add_parser("render", help="write spec.md/spec.html from a report directory")
    render.add_argument("directory", type=Path, nargs="?", default=session.REPORTS)

    ns, rest = parser.parse_known_args(argv)
    if ns.verb == "run":
        if ns.repeat < 1:
            parser.error("--repeat must be at least 1")
        return session.conformance(ns.rkt, ns.against, ns.repeat, rest, ns.reports)
    if ns.verb == "mutants":
        return session.mutants(ns.mutant, rest, baseline=not ns.no_baseline)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if ns.verb == "package":
        print(build_runtime(ns.directory))
        return 0
    return session.render(ns.directory)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
