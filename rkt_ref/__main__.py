"""Entry point: parse, dispatch, and turn known errors into one clear message."""

from __future__ import annotations

import sys

from .errors import RktError, report


def main() -> None:
    from . import cli

    try:
        status = cli.main(sys.argv[1:])
    except RktError as e:
        report(e, sys.stderr)
        sys.exit(e.status)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(status)


if __name__ == "__main__":
    main()
