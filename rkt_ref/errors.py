"""The one error type of rkt_ref and `die`, which raises it.

Every failure a user can cause ends up as an RktError; __main__ turns it into one
line on stderr (plus an optional hint) and a non-zero exit status.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (see record.py)
if TYPE_CHECKING:
    from typing import NoReturn, TextIO

# rkt exits with 254 for its own failures; scripts written for rkt check for non-zero.
EXIT_FAILURE = 254


class RktError(Exception):
    """A failure to report to the user as one line, without a traceback."""

    def __init__(self, message: str, *, hint: str | None = None, status: int = EXIT_FAILURE):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.status = status

    def __str__(self) -> str:
        return self.message


class CommandError(RktError):
    """A helper program failed; carries the command, its exit status and stderr."""

    def __init__(self, argv: list[str], returncode: int, stderr: str):
        last = stderr.strip().splitlines()[-1] if stderr.strip() else "no error output"
        super().__init__(f"{argv[0]} failed with exit status {returncode}: {last}")
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr


def die(message: str, *, hint: str | None = None, status: int = EXIT_FAILURE) -> NoReturn:
    raise RktError(message, hint=hint, status=status)


def report(error: RktError, stream: TextIO) -> None:
    """What the user sees of an error: one line, and its hint if it has one."""
    print(f"rkt: {error.message}", file=stream)
    if error.hint:
        print(f"hint: {error.hint}", file=stream)
