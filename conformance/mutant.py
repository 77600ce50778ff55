"""Mutants: deliberately broken copies of rkt_ref, each built as a runtime directory.

A mutant is a module in tests/mutants/ with BREAKS (the documented behaviour it breaks),
KILLED_BY (pytest arguments selecting the scenarios that must catch it) and apply() (one
monkeypatch). Its runtime directory, usable with ``--rkt``, holds a copy of rkt_ref, the
module as ``mutant.py`` and an ``rkt`` script that applies the patch and runs rkt_ref's
main. Without a mutant the same layout is rkt_ref packaged as a standalone runtime.
"""

from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rkt_ref"
MUTANTS = ROOT / "tests" / "mutants"

SCRIPT = '''#!/usr/bin/python3 -I
"""{doc}"""
import os
import sys

# /usr/bin/rkt is a symlink to this file: the runtime's own directory comes first.
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
{patch}from rkt_ref.__main__ import main  # noqa: E402

main()
'''
PATCH = "import mutant  # noqa: E402\n\nmutant.apply()\n"


@dataclass(frozen=True)
class Mutant:
    name: str
    source: Path
    summary: str  # the module docstring: what is broken
    breaks: str  # the documented behaviour, in the document's words
    killed_by: tuple[str, ...]  # pytest arguments selecting the scenarios that must fail


def _constants(tree: ast.Module) -> dict[str, object]:
    out: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return out


def load(source: Path) -> Mutant:
    """Read a mutant's declarations without importing it (it patches rkt_ref on import use)."""
    tree = ast.parse(source.read_text(), str(source))
    consts = _constants(tree)
    breaks, killed_by = consts.get("BREAKS"), consts.get("KILLED_BY")
    if not isinstance(breaks, str) or not isinstance(killed_by, tuple) or not killed_by:
        raise ValueError(f"{source}: a mutant declares BREAKS (str) and KILLED_BY (tuple)")
    if not any(isinstance(n, ast.FunctionDef) and n.name == "apply" for n in tree.body):
        raise ValueError(f"{source}: a mutant defines apply()")
    return Mutant(source.stem, source, (ast.get_docstring(tree) or "").strip(), breaks,
                  tuple(str(a) for a in killed_by))


def discover(directory: Path = MUTANTS) -> list[Mutant]:
    return [load(p) for p in sorted(directory.glob("*.py")) if not p.name.startswith("_")]


def _skip_caches(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "__pycache__" or n.endswith(".pyc")]


def build_runtime(into: Path, mutant: Mutant | None = None) -> Path:
    """A runtime directory for --rkt: rkt_ref, and the mutant if one is given."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    shutil.copytree(PACKAGE, into / "rkt_ref", ignore=_skip_caches)
    if mutant is None:
        doc, patch = "rkt_ref, packaged as a standalone runtime directory.", ""
    else:
        shutil.copyfile(mutant.source, into / "mutant.py")
        doc = f"rkt_ref with one deliberate breakage, mutant {mutant.name}: {mutant.summary}"
        patch = PATCH
    script = into / "rkt"
    script.write_text(SCRIPT.format(doc=doc.replace('"""', "'''"), patch=patch))
    script.chmod(0o755)
    return into
