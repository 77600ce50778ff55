"""Environment precedence and the EnvironmentFile format."""

from __future__ import annotations

from pathlib import Path

import pytest

from rkt_ref import env
from rkt_ref.errors import RktError


def test_precedence_inherited_manifest_file_flag() -> None:
    merged = env.merge(
        inherited={"A": "inherited", "B": "inherited", "C": "inherited", "D": "inherited"},
        manifest=[("B", "manifest"), ("C", "manifest"), ("D", "manifest")],
        env_file={"C": "file", "D": "file"},
        flags={"D": "flag"},
        app_name="myapp-1-3-4",
    )
    assert (merged["A"], merged["B"], merged["C"], merged["D"]) == \
        ("inherited", "manifest", "file", "flag")
    assert merged["AC_APP_NAME"] == "myapp-1-3-4"


def test_default_path_only_when_missing() -> None:
    base = dict(manifest=[], env_file={}, flags={}, app_name="a")
    assert env.merge(inherited=None, **base)["PATH"] == env.DEFAULT_PATH  # type: ignore[arg-type]
    assert env.merge(inherited={"PATH": "/x"}, **base)["PATH"] == "/x"  # type: ignore[arg-type]


def test_env_file(tmp_path: Path) -> None:
    p = tmp_path / "env"
    p.write_text("# comment\n\nFOO=bar\nEMPTY=\nEQ=a=b\n")
    assert env.read_env_file(str(p)) == {"FOO": "bar", "EMPTY": "", "EQ": "a=b"}


def test_env_file_errors_name_the_line(tmp_path: Path) -> None:
    p = tmp_path / "env"
    p.write_text("FOO=bar\nnot an assignment\n")
    with pytest.raises(RktError, match=r"env:2"):
        env.read_env_file(str(p))
    with pytest.raises(RktError, match="cannot read"):
        env.read_env_file(str(tmp_path / "missing"))


def test_set_env_flag_syntax() -> None:
    assert env.parse_assignment("A=1=2", "--set-env") == ("A", "1=2")
    with pytest.raises(RktError, match="--set-env"):
        env.parse_assignment("NOEQUALS", "--set-env")
    with pytest.raises(RktError, match="--set-env"):
        env.parse_assignment("1X=y", "--set-env")


def test_environment_file_round_trip() -> None:
    values = {"PLAIN": "/usr/bin:/bin", "SPACE": "a b", "QUOTE": 'say "hi"', "DOLLAR": "$HOME",
              "BACKSLASH": "C:\\x", "NEWLINE": "one\ntwo", "EMPTY": ""}
    text = env.format_env_file(values)
    assert "PLAIN=/usr/bin:/bin\n" in text
    assert 'DOLLAR="\\$HOME"\n' in text
    assert env.parse_env_file_text(text) == values
