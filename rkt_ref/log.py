"""rkt's diagnostics on stderr: warnings always, the `--debug` lines when asked for.

Not the logging package: importing it alone costs about 0.1 s of CPU under emulation,
on every rkt command. Calls read the same: `log.debug("+ %s", command)`.
"""

from __future__ import annotations

import sys

_debug = False


def set_debug(on: bool) -> None:
    global _debug
    _debug = on


def debug(message: str, *args: object) -> None:
    if _debug:
        _emit(message, args)


def warning(message: str, *args: object) -> None:
    _emit(message, args)


def _emit(message: str, args: tuple[object, ...]) -> None:
    print(message % args if args else message, file=sys.stderr, flush=True)
