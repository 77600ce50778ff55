"""Command-line door to the VM layer.

    python -m vm image                       build (or reuse) the image, print its path
    python -m vm setup                       install the host tools the image build needs
    python -m vm prune                       remove cached images and states of old recipes
    python -m vm run [--backend NAME] [--rkt PATH] -- CMD ARGS...
                                             run CMD as root in a disposable VM
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from vm import backend as backends
from vm import image as image_mod
from vm.machine import Machine
from vm.runtime import Runtime


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m vm", description="disposable systemd VMs")
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("image", help="build the VM image or reuse the cached one; print its path")
    verbs.add_parser("setup", help="install the host tools that building the image needs")
    verbs.add_parser("prune", help="remove cached images and saved states of old recipes")
    run = verbs.add_parser("run", help="run a command as root in a disposable VM")
    run.add_argument("--backend", default=backends.default_name(), help="qemu (default)")
    run.add_argument("--rkt", type=Path, metavar="PATH",
                     help="a directory with another rkt implementation (default: rkt_ref)")
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    args = parser.parse_args(argv)
    if args.verb == "run":
        if args.command[:1] == ["--"]:
            args.command = args.command[1:]
        if not args.command:
            parser.error("run needs a command after --")
    return args


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    # SIGTERM unwinds like Ctrl-C, so the VM is shut down and its files removed.
    signal.signal(signal.SIGTERM, _interrupt)
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.verb == "setup":
        image_mod.ensure_host_tools()
        return 0
    if args.verb == "prune":
        for path in image_mod.prune():
            print(f"removed {path}")
        return 0
    if args.verb == "image":
        built = image_mod.ensure_image()
        print(built.disk)
        return 0
    runtime = Runtime(args.rkt.resolve() if args.rkt else None)
    runtime.validate()
    machine = Machine.create(args.backend, runtime)
    try:
        result = machine.run(args.command, timeout=3600)
    finally:
        machine.shutdown()
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.rc


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; the VM was thrown away", file=sys.stderr)
        sys.exit(130)
