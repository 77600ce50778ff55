"""Entry point: parse, dispatch, and turn known errors into one clear message."""

from __future__ import annotations

import sys

from .errors import RktError


def main() -> None:
    from . import cli

    try:
        status = cli.main(sys.argv[1:])
    except RktError as e:
        print(f"rkt: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        sys.exit(e.status)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(status)


if __name__ == "__main__":
    main()
