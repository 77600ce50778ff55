"""The environment an app sees, and the EnvironmentFile format systemd reads.

Precedence, lowest first: inherited (--inherit-env) < image manifest <
--set-env-file < --set-env.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import die
from .schema import env_name

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def parse_assignment(text: str, where: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        die(f"{where}: {text!r} is not of the form NAME=VALUE")
    try:
        env_name(name)
    except Exception as e:  # ManifestError, reworded with the flag that carried it
        die(f"{where}: {e}")
    return name, value


def read_env_file(path: str) -> dict[str, str]:
    """NAME=VALUE lines; blank lines and lines starting with '#' are ignored."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        die(f"cannot read environment file {path}: {e.strerror}")
    except UnicodeDecodeError as e:
        die(f"cannot read environment file {path}: not UTF-8 text ({e.reason} at byte "
            f"{e.start})")
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, value = parse_assignment(stripped, f"{path}:{n}")
        out[name] = value
    return out


def merge(
    *,
    inherited: Mapping[str, str] | None,
    manifest: Iterable[tuple[str, str]],
    env_file: Mapping[str, str],
    flags: Mapping[str, str],
    app_name: str,
) -> dict[str, str]:
    env: dict[str, str] = {}
    if inherited:
        env.update(inherited)
    env.update(manifest)
    env.update(env_file)
    env.update(flags)
    # rkt always tells the app its name, and gives it a PATH if nothing else did.
    env["AC_APP_NAME"] = app_name
    env.setdefault("PATH", DEFAULT_PATH)
    return env


_SAFE = r"^[A-Za-z0-9_@%+=:,./-]*$"


def _quote(value: str) -> str:
    if re.fullmatch(_SAFE, value):
        return value
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
               .replace("`", "\\`"))
    return f'"{escaped}"'


def format_env_file(env: Mapping[str, str]) -> str:
    """Text for systemd's EnvironmentFile= (sorted, quoted where needed)."""
    return "".join(f"{k}={_quote(v)}\n" for k, v in sorted(env.items()))


def parse_env_file_text(text: str) -> dict[str, str]:
    """Read back what format_env_file wrote (used by `rkt enter`)."""
    out: dict[str, str] = {}
    i = 0
    n = len(text)
    while i < n:
        j = text.find("=", i)
        nl = text.find("\n", i)
        if j < 0 or (0 <= nl < j):
            i = n if nl < 0 else nl + 1
            continue
        name = text[i:j].strip()
        i = j + 1
        if i < n and text[i] == '"':
            i += 1
            buf: list[str] = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                buf.append(text[i])
                i += 1
            value = "".join(buf)
            i += 1
            nl = text.find("\n", i)
            i = n if nl < 0 else nl + 1
        else:
            nl = text.find("\n", i)
            value = text[i:] if nl < 0 else text[i:nl]
            i = n if nl < 0 else nl + 1
        if name:
            out[name] = value
    return out
