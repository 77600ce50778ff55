"""Command line: global flags, then one function per verb.

Global flags (`--dir`, `--insecure-options`, `--debug`, ...) are accepted before or
after the verb, as rkt accepts them (`rkt --insecure-options=image run ...`).
`run` and `prepare` take images with per-app flags and `-- args ---` sections, so
their image list is split by hand and only the pod-wide flags go through argparse.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace

from . import APPC_VERSION, VERSION, log
from .errors import RktError, die

TYPE_CHECKING = False  # typing is not imported at run time (see record.py)
if TYPE_CHECKING:
    import argparse
    from typing import Any, NoReturn

    from . import stage0
    from .pod import Pod, State
    from .store import FetchPolicy

    PodFlag = tuple[str, str, Any, tuple[str, ...]]

# Each verb imports the modules it needs: `rkt version` needs none, `rkt list` no store,
# `rkt fetch` no pods, and under emulation every import is felt on every invocation.


DEFAULT_DIR = "/var/lib/rkt"
DIR_ENV = "RKT_REF_DIR"

INSECURE_OPTIONS = ("none", "image", "tls", "ondisk", "http", "pubkey", "capabilities",
                    "paths", "seccomp", "all-fetch", "all-run", "all")


class Globals:
    """The global flags, as split_globals finds them."""

    def __init__(self) -> None:
        self.dir = Path(os.environ.get(DIR_ENV, DEFAULT_DIR))
        self.debug = False
        self.insecure: frozenset[str] = frozenset()
        self.local_config = Path("/etc/rkt")
        self.system_config = Path("/usr/lib/rkt")

    def fetch_policy(self, pull_policy: str = "new") -> FetchPolicy:
        from .store import FetchPolicy

        ins = self.insecure
        return FetchPolicy(
            insecure_image=bool(ins & {"image", "all-fetch", "all"}),
            insecure_http=bool(ins & {"http", "all-fetch", "all"}),
            insecure_tls=bool(ins & {"tls", "all-fetch", "all"}),
            pull_policy=pull_policy,
            local_config=self.local_config,
            system_config=self.system_config,
        )


def parse_insecure(value: str) -> frozenset[str]:
    opts = {v.strip() for v in value.split(",") if v.strip()}
    bad = sorted(opts - set(INSECURE_OPTIONS))
    if bad:
        die(f"unknown --insecure-options value {bad[0]!r}",
            hint=f"valid values: {', '.join(INSECURE_OPTIONS)}")
    return frozenset(opts - {"none"})


def _bool(value: str, flag: str) -> bool:
    if value.lower() in ("1", "t", "true", "yes"):
        return True
    if value.lower() in ("0", "f", "false", "no"):
        return False
    die(f"invalid value {value!r} for --{flag}: expected true or false")


# Global flags: name -> takes a value?
GLOBAL_FLAGS = {"dir": True, "insecure-options": True, "debug": False,
                "local-config": True, "system-config": True, "user-config": True,
                "trust-keys-from-https": False}


def split_globals(argv: list[str]) -> tuple[Globals, list[str]]:
    """Pull global flags out of argv (up to `--` or the command of `rkt enter`)."""
    g = Globals()
    rest: list[str] = []
    verb: str | None = None
    positionals = 0
    i = 0
    while i < len(argv):
        tok = argv[i]
        stop = tok == "--" or (verb == "enter" and positionals >= 2)
        if stop:
            rest.extend(argv[i:])
            break
        if tok.startswith("--"):
            key, eq, val = tok[2:].partition("=")
            if key in GLOBAL_FLAGS:
                if GLOBAL_FLAGS[key] and not eq:
                    if i + 1 >= len(argv):
                        die(f"flag --{key} needs a value")
                    val = argv[i + 1]
                    i += 1
                if key == "dir":
                    g.dir = Path(val)
                elif key == "insecure-options":
                    g.insecure = parse_insecure(val)
                elif key == "debug":
                    g.debug = _bool(val, key) if eq else True
                elif key == "local-config":
                    g.local_config = Path(val)
                elif key == "system-config":
                    g.system_config = Path(val)
                elif key == "trust-keys-from-https":
                    pass
                i += 1
                continue
        elif not tok.startswith("-"):
            if verb is None:
                verb = tok
            else:
                positionals += 1
        rest.append(tok)
        i += 1
    return g, rest


def new_parser(prog: str, add_help: bool = True) -> argparse.ArgumentParser:
    """An argparse parser that reports usage errors as one RktError line.

    argparse is imported here: the listings read their usual command lines without it
    (see simple_args); under emulation importing it costs about 0.2 s of CPU.
    """
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise RktError(f"{self.prog}: {message}", hint=f"see '{self.prog} --help'")

    return _Parser(prog=prog, add_help=add_help)


def simple_args(argv: list[str], switches: tuple[str, ...], positional: str | None = None,
                **defaults: Any) -> SimpleNamespace | None:
    """argv read without argparse when it holds only the given on/off flags, spelled in
    full, and at most one positional that does not look like a flag: what argparse would
    make of it, given `defaults` for the other options. Anything else (values,
    abbreviations, --help, mistakes) returns None, for argparse to read as always.
    """
    ns = SimpleNamespace(**defaults, **{s.replace("-", "_"): False for s in switches})
    if positional is not None:
        setattr(ns, positional, None)
    for tok in argv:
        if tok.startswith("-"):
            if not tok.startswith("--") or tok[2:] not in switches:
                return None
            setattr(ns, tok[2:].replace("-", "_"), True)
        elif positional is not None and getattr(ns, positional) is None:
            setattr(ns, positional, tok)
        else:
            return None
    return ns


_DURATION = r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)"
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Go-style durations: 30m, 24h, 1h30m, 10s, 0."""
    if text in ("0", ""):
        return 0.0
    pos, total = 0, 0.0
    for m in re.finditer(_DURATION, text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        die(f"invalid duration {text!r}", hint="use a duration such as 10s, 30m, 1h30m")
    return total


# --- run / prepare argument splitting -------------------------------------------------

APP_FLAGS = {"exec", "name", "memory", "cpu", "user", "group"}
UNSUPPORTED_APP_FLAGS = {"mount", "cpu-shares", "oom-score-adj", "readonly-rootfs",
                         "caps-retain", "caps-remove", "seccomp", "stdin", "stdout",
                         "stderr", "user-annotation", "user-label", "environment",
                         "working-dir", "supplementary-gids", "signature", "annotation"}


def split_run_args(argv: list[str]) -> tuple[list[str], list[stage0.AppRequest]]:
    """Separate pod-wide flags (for argparse) from images, per-app flags and args."""
    from . import stage0
    pod_flags: list[str] = []
    apps: list[dict[str, Any]] = []
    pending: dict[str, Any] = {}  # app flags given before the first image
    current: dict[str, Any] | None = None
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            if current is None:
                die("'--' must follow an image: rkt run IMAGE -- ARGS... [---]")
            j = i + 1
            args: list[str] = []
            while j < len(argv) and argv[j] != "---":
                args.append(argv[j])
                j += 1
            current["args"] = tuple(args)
            current = None
            i = j + 1
            continue
        if tok == "---":
            current = None
            i += 1
            continue
        if tok.startswith("--") and len(tok) > 2:
            key, eq, val = tok[2:].partition("=")
            if key in APP_FLAGS:
                if not eq:
                    if i + 1 >= len(argv):
                        die(f"flag --{key} needs a value")
                    val = argv[i + 1]
                    i += 1
                (current if current is not None else pending)[key] = val
                i += 1
                continue
            if key in UNSUPPORTED_APP_FLAGS or key in ("volume",):
                die(f"--{key} is not supported by rkt_ref yet")
            pod_flags.append(tok)
            if not eq and key in RUN_VALUE_FLAGS and i + 1 < len(argv):
                pod_flags.append(argv[i + 1])
                i += 1
            i += 1
            continue
        if tok.startswith("-") and tok != "-":
            pod_flags.append(tok)
            i += 1
            continue
        current = {"image": tok}
        if not apps:
            current.update(pending)
        apps.append(current)
        i += 1
    return pod_flags, [stage0.AppRequest(**a) for a in apps]


# rkt run's and rkt prepare's pod-wide flags: (name, how it takes a value, default,
# choices), read by argparse or, for the usual command lines, by read_pod_flags.
VALUE, APPEND, OPTIONAL_BOOL, SWITCH = "value", "append", "optional-bool", "switch"
POD_FLAGS: tuple[PodFlag, ...] = (
    ("inherit-env", OPTIONAL_BOOL, "false", ()),
    ("set-env", APPEND, [], ()),
    ("set-env-file", APPEND, [], ()),
    ("uuid-file-save", VALUE, None, ()),
    ("port", APPEND, [], ()),
    ("pull-policy", VALUE, "new", ("never", "new", "update")),
    ("quiet", SWITCH, False, ()),
    # rkt_ref has one built-in stage1 (host flavor); these are accepted.
    *((f"stage1-{what}", VALUE, None, ()) for what in ("name", "hash", "url", "path",
                                                        "from-dir")),
    ("no-overlay", OPTIONAL_BOOL, "false", ()),
    ("private-users", OPTIONAL_BOOL, "false", ()),
)
RUN_ONLY_FLAGS: tuple[PodFlag, ...] = (
    ("interactive", OPTIONAL_BOOL, "false", ()),
    ("net", APPEND, None, ()),
    ("mds-register", OPTIONAL_BOOL, "false", ()),
    ("hostname", VALUE, None, ()),
    *((name, APPEND, None, ()) for name in ("dns", "dns-search", "dns-opt", "dns-domain",
                                            "hosts-entry")),
)
# Flags whose value may follow as the next word. rkt's boolean flags (--inherit-env,
# --interactive, --no-overlay, --private-users, --mds-register) take one only as
# --flag=VALUE, as Go's flag package does: `--inherit-env IMAGE` runs IMAGE.
RUN_VALUE_FLAGS = {name for name, how, _, _ in POD_FLAGS + RUN_ONLY_FLAGS
                   if how in (VALUE, APPEND)}


def _pod_flags(prepare_only: bool) -> tuple[PodFlag, ...]:
    return POD_FLAGS if prepare_only else POD_FLAGS + RUN_ONLY_FLAGS


def _run_parser(prog: str, prepare_only: bool = False) -> argparse.ArgumentParser:
    p = new_parser(prog=prog, add_help=True)
    for name, how, default, choices in _pod_flags(prepare_only):
        if how == SWITCH:
            p.add_argument(f"--{name}", action="store_true")
        elif how == OPTIONAL_BOOL:
            p.add_argument(f"--{name}", nargs="?", const="true", default=default)
        else:
            p.add_argument(f"--{name}", action="append" if how == APPEND else "store",
                           default=default, choices=choices or None)
    return p


def read_pod_flags(flags: list[str], prepare_only: bool = False) -> SimpleNamespace | None:
    """The pod-wide flags read without argparse when each is spelled in full and well
    formed: what argparse would make of them. Anything else (abbreviations, --help,
    mistakes) returns None, for argparse to read and to report.
    """
    table = {name: (how, choices) for name, how, _, choices in _pod_flags(prepare_only)}
    ns = SimpleNamespace(**{name.replace("-", "_"): list(default) if how == APPEND and
                            default is not None else default
                            for name, how, default, _ in _pod_flags(prepare_only)})
    i = 0
    while i < len(flags):
        key, eq, value = flags[i].removeprefix("--").partition("=")
        if not flags[i].startswith("--") or key not in table:
            return None
        how, choices = table[key]
        following = flags[i + 1] if i + 1 < len(flags) else None
        if how in (SWITCH, OPTIONAL_BOOL):
            if following is not None and not following.startswith("--") or \
                    how == SWITCH and eq:
                return None  # argparse may take the next word, or refuses a value
            got: str | bool = value if eq else True if how == SWITCH else "true"
        elif eq:
            got = value
        elif following is None or following.startswith("-"):
            return None
        else:
            got, i = following, i + 1
        if choices and got not in choices:
            return None
        attr = key.replace("-", "_")
        if how == APPEND:
            setattr(ns, attr, (getattr(ns, attr) or []) + [got])
        else:
            setattr(ns, attr, got)
        i += 1
    return ns


def _ports(values: list[str]) -> tuple[tuple[str, int], ...]:
    out: list[tuple[str, int]] = []
    for v in values:
        name, sep, host = v.rpartition(":")
        if not sep or not name or not host.isdigit():
            die(f"invalid --port {v!r}", hint="use --port=NAME:HOSTPORT, e.g. --port=http:8888")
        out.append((name, int(host)))
    return tuple(out)


def _pod_request(ns: argparse.Namespace | SimpleNamespace, apps: list[stage0.AppRequest],
                 g: Globals, interactive: bool) -> stage0.PodRequest:
    from . import env as envmod
    from . import stage0

    if not apps:
        die("no image given", hint="rkt run [flags] IMAGE [-- ARGS...] [--- IMAGE ...]")
    set_env = tuple(envmod.parse_assignment(v, "--set-env") for v in ns.set_env)
    return stage0.PodRequest(
        apps=tuple(apps),
        inherit_env=_bool(ns.inherit_env, "inherit-env"),
        set_env=set_env,
        set_env_files=tuple(ns.set_env_file),
        ports=_ports(ns.port),
        interactive=interactive,
        uuid_file_save=ns.uuid_file_save,
        fetch_policy=g.fetch_policy(ns.pull_policy),
    )


def cmd_run(g: Globals, argv: list[str]) -> int:
    from . import net as netmod
    from . import stage0
    from .pod import Dir

    flags, apps = split_run_args(argv)
    ns = read_pod_flags(flags) or _run_parser("rkt run").parse_args(flags)
    interactive = _bool(ns.interactive, "interactive")
    run = stage0.RunOptions(net=netmod.parse(ns.net), interactive=interactive, debug=g.debug,
                            local_config=g.local_config)
    if netmod.mode_of(run.net) == netmod.Mode.CONTAINED:
        netmod.resolve(run.net, g.local_config)  # unknown or broken networks: fail early
    pod = stage0.prepare(g.dir, _pod_request(ns, apps, g, interactive), run, target=Dir.RUN)
    stage0.exec_pod(pod, run)


def cmd_prepare(g: Globals, argv: list[str]) -> int:
    from . import stage0
    from .pod import Dir

    flags, apps = split_run_args(argv)
    ns = read_pod_flags(flags, prepare_only=True) or \
        _run_parser("rkt prepare", prepare_only=True).parse_args(flags)
    run = stage0.RunOptions(debug=g.debug)
    pod = stage0.prepare(g.dir, _pod_request(ns, apps, g, False), run, target=Dir.PREPARED)
    pod.unlock()
    print(pod.uuid)  # with or without --quiet: scripts read the UUID from stdout
    return 0


def cmd_run_prepared(g: Globals, argv: list[str]) -> int:
    from . import net as netmod
    from . import stage0
    from .pod import Dir, Pods

    p = new_parser(prog="rkt run-prepared")
    p.add_argument("uuid")
    p.add_argument("--net", action="append")
    p.add_argument("--interactive", nargs="?", const="true", default=None)
    p.add_argument("--mds-register", nargs="?", const="true", default="false")
    for flag in ("--dns", "--dns-search", "--dns-opt", "--dns-domain", "--hosts-entry"):
        p.add_argument(flag, action="append")
    p.add_argument("--hostname")
    ns = p.parse_args(argv)
    pods = Pods(g.dir)
    pod = pods.find(ns.uuid)
    if pod.dir != Dir.PREPARED:
        die(f"pod {pod.uuid} is not prepared (state: {pod.state()})")
    if not pod.try_lock():
        die(f"pod {pod.uuid} is locked by another process")
    saved = stage0.load_run_options(pod, None, g.debug)
    interactive = saved.interactive if ns.interactive is None else \
        _bool(ns.interactive, "interactive")
    run = stage0.RunOptions(net=netmod.parse(ns.net) if ns.net else saved.net,
                            interactive=interactive, debug=g.debug, local_config=g.local_config)
    if netmod.mode_of(run.net) == netmod.Mode.CONTAINED:
        netmod.resolve(run.net, g.local_config)
    pod.move(Dir.RUN)
    stage0.exec_pod(pod, run, on_failure=Dir.PREPARED)


# --- images ---------------------------------------------------------------------------


def cmd_fetch(g: Globals, argv: list[str]) -> int:
    from .schema import short_id
    from .store import Store, fetch

    p = new_parser(prog="rkt fetch")
    p.add_argument("images", nargs="+")
    p.add_argument("--full", action="store_true")
    p.add_argument("--pull-policy", default="new", choices=("never", "new", "update"))
    p.add_argument("--signature", action="append")
    p.add_argument("--no-store", action="store_true")
    p.add_argument("--store-only", action="store_true")
    ns = p.parse_args(argv)
    if ns.no_store and ns.store_only:
        die("--no-store and --store-only cannot be used together")
    pull = "update" if ns.no_store else "never" if ns.store_only else ns.pull_policy
    store = Store(g.dir)
    for image in ns.images:
        info = fetch(store, image, g.fetch_policy(pull))
        print(info.id if ns.full else short_id(info.id))
    return 0


def cmd_image(g: Globals, argv: list[str]) -> int:
    sub = {"list": image_list, "rm": image_rm, "cat-manifest": image_cat_manifest}
    if argv[:1] and argv[0] in sub:
        return sub[argv[0]](g, argv[1:])
    import argparse

    p = new_parser(prog="rkt image")
    p.add_argument("subcommand", choices=tuple(sub))
    p.add_argument("rest", nargs=argparse.REMAINDER)
    ns = p.parse_args(argv[:1])
    return sub[ns.subcommand](g, argv[1:])


def _image_list_parser() -> argparse.ArgumentParser:
    p = new_parser(prog="rkt image list")
    p.add_argument("--no-legend", action="store_true")
    p.add_argument("--full", action="store_true")
    p.add_argument("--format", default="", choices=("", "json", "json-pretty"))
    p.add_argument("--fields")
    p.add_argument("--order")
    p.add_argument("--sort")
    return p


def image_list(g: Globals, argv: list[str]) -> int:
    from .schema import short_id
    from .store import Store
    from .table import ago, dump_json, size, tabwrite, timestamp

    ns = simple_args(argv, ("no-legend", "full"), format="", fields=None, order=None,
                     sort=None) or _image_list_parser().parse_args(argv)
    images = Store(g.dir).images()
    if ns.format:
        data = [{"id": i.id, "name": i.display_name, "import_time": i.import_time,
                 "last_used_time": i.last_used, "size": i.size} for i in images]
        print(dump_json(data, ns.format == "json-pretty"))
        return 0
    rows = [] if ns.no_legend else [["ID", "NAME", "SIZE", "IMPORT TIME", "LAST USED"]]
    for i in images:
        if ns.full:
            rows.append([i.id, i.display_name, str(i.size), timestamp(i.import_time),
                         timestamp(i.last_used)])
        else:
            rows.append([short_id(i.id, 12), i.display_name, size(i.size), ago(i.import_time),
                         ago(i.last_used)])
    sys.stdout.write(tabwrite(rows))
    return 0


def _images_in_use(g: Globals) -> dict[str, str]:
    from .pod import Dir, Pods

    used: dict[str, str] = {}
    for pod in Pods(g.dir).all():
        if pod.dir in (Dir.EXITED_GARBAGE, Dir.GARBAGE):
            continue
        if pod.dir == Dir.RUN and not pod.is_running():
            continue
        m = pod.manifest()
        for app in m.apps if m else ():
            used[app.image.id] = pod.uuid
    return used


def image_rm(g: Globals, argv: list[str]) -> int:
    from .store import Store

    p = new_parser(prog="rkt image rm")
    p.add_argument("images", nargs="+")
    ns = p.parse_args(argv)
    store = Store(g.dir)
    used = _images_in_use(g)
    removed = 0
    failed = 0
    for text in ns.images:
        try:
            info = store.resolve(text)
            if info.id in used:
                die(f"image {info.id} is in use by pod {used[info.id]}")
            store.remove(info.id)
            print(f'successfully removed aci for image: "{info.id}"')
            removed += 1
        except RktError as e:
            print(f"rkt: {e.message}", file=sys.stderr)
            failed += 1
    print(f"rm: {removed} image(s) successfully removed")
    return 0 if failed == 0 else 254


def image_cat_manifest(g: Globals, argv: list[str]) -> int:
    from .store import Store
    from .table import dump_json

    p = new_parser(prog="rkt image cat-manifest")
    p.add_argument("image")
    p.add_argument("--pretty-print", nargs="?", const="true", default="true")
    ns = p.parse_args(argv)
    store = Store(g.dir)
    info = store.resolve(ns.image)
    print(dump_json(store.manifest(info.id).to_json(), _bool(ns.pretty_print, "pretty-print")))
    return 0


# --- pods -----------------------------------------------------------------------------


def _pod_arg(g: Globals, uuid: str | None, uuid_file: str | None) -> Pod:
    from .pod import Pods, read_uuid_file

    if uuid_file:
        uuid = read_uuid_file(uuid_file)
    if not uuid:
        die("a pod UUID is required", hint="give it as an argument or with --uuid-file")
    return Pods(g.dir).find(uuid)


def cmd_cat_manifest(g: Globals, argv: list[str]) -> int:
    from .table import dump_json

    p = new_parser(prog="rkt cat-manifest")
    p.add_argument("uuid", nargs="?")
    p.add_argument("--uuid-file")
    p.add_argument("--pretty-print", nargs="?", const="true", default="true")
    ns = p.parse_args(argv)
    pod = _pod_arg(g, ns.uuid, ns.uuid_file)
    m = pod.manifest()
    if m is None:
        die(f"pod {pod.uuid} has no manifest yet")
    print(dump_json(m.to_json(), _bool(ns.pretty_print, "pretty-print")))
    return 0


def _networks(pod: Pod) -> list[dict[str, str]]:
    """What CNI gave the pod (net-info.json); host and none pods have no networks."""
    from .netinfo import load_info
    return [n.to_json() for n in load_info(pod.path) if n.ip]


def pod_json(pod: Pod) -> dict[str, Any]:
    state = pod.state()
    m = pod.manifest()
    codes = pod.app_exit_codes()
    apps: list[dict[str, Any]] = []
    for app in m.apps if m else ():
        a: dict[str, Any] = {"name": app.name, "state": _app_state(state, app.name in codes),
                             "image_id": app.image.id}
        if pod.created_ns():
            a["created_at"] = pod.created_ns()
        if pod.started_ns():
            a["started_at"] = pod.started_ns()
        if app.name in codes:
            a["exit_code"] = codes[app.name]
        apps.append(a)
    out: dict[str, Any] = {"name": pod.uuid, "state": str(state)}
    nets = _networks(pod)
    if nets:
        out["networks"] = nets
    out["app_names"] = [a.name for a in m.apps] if m else []
    out["apps"] = apps
    if pod.created_ns():
        out["created_at"] = pod.created_ns() // 1_000_000_000
    if pod.started_ns():
        out["started_at"] = pod.started_ns() // 1_000_000_000
    if pod.gc_marked_at():
        out["gc_marked_at"] = pod.gc_marked_at()
    return out


def _app_state(pod_state: State, has_code: bool) -> str:
    from .pod import State

    if pod_state == State.RUNNING:
        return "exited" if has_code else "running"
    if pod_state in (State.EXITED, State.EXITED_GARBAGE, State.DELETING):
        return "exited"
    return "created" if pod_state == State.PREPARED else "unknown"


def _fmt_nets(pod: Pod) -> str:
    return ",".join(f"{n['netName']}:ip4={n['ip']}" for n in _networks(pod))


def _list_parser() -> argparse.ArgumentParser:
    p = new_parser(prog="rkt list")
    p.add_argument("--no-legend", action="store_true")
    p.add_argument("--full", action="store_true")
    p.add_argument("--format", default="", choices=("", "json", "json-pretty"))
    return p


def cmd_list(g: Globals, argv: list[str]) -> int:
    from .pod import Pods
    from .table import ago, dump_json, tabwrite, timestamp

    ns = simple_args(argv, ("no-legend", "full"), format="") or \
        _list_parser().parse_args(argv)
    pods = Pods(g.dir).all()
    if ns.format:
        print(dump_json([pod_json(pd) for pd in pods], ns.format == "json-pretty"))
        return 0
    header = ["UUID", "APP", "IMAGE NAME", "STATE", "CREATED", "STARTED", "NETWORKS"]
    if ns.full:
        from .schema import short_id  # only --full shows image IDs

        header.insert(3, "IMAGE ID")
    rows = [] if ns.no_legend else [header]
    for pod in pods:
        m = pod.manifest()
        state = str(pod.state())
        when = timestamp if ns.full else ago
        created, started = when(pod.created_ns()), when(pod.started_ns())
        uuid = pod.uuid if ns.full else pod.uuid[:8]
        apps = list(m.apps) if m else []
        for idx, app in enumerate(apps or [None]):
            name = app.name if app else "-"
            image = _image_display(app) if app else "-"
            first = idx == 0
            row = [uuid if first else "", name, image, state if first else "",
                   created if first else "", started if first else "",
                   _fmt_nets(pod) if first else ""]
            if ns.full:
                row.insert(3, short_id(app.image.id, 12) if app else "-")
            rows.append(row)
    sys.stdout.write(tabwrite(rows))
    return 0


def _image_display(app: Any) -> str:
    version = next((lb.value for lb in app.image.labels if lb.name == "version"), "")
    return f"{app.image.name}:{version}" if version else app.image.name


def print_status(pod: Pod) -> None:
    from .pod import Dir, State
    from .table import timestamp

    state = pod.state()
    lines = [f"state={state}"]
    if pod.created_ns():
        lines.append(f"created={timestamp(pod.created_ns())}")
    started = pod.dir in (Dir.RUN, Dir.EXITED_GARBAGE, Dir.GARBAGE) and pod.started_ns()
    if started:
        lines.append(f"started={timestamp(pod.started_ns())}")
    if state in (State.RUNNING, State.EXITED):
        lines.append(f"networks={_fmt_nets(pod)}")
    if started:
        pid = pod.pid()
        lines.append(f"pid={pid if pid is not None else -1}")
        lines.append(f"exited={'false' if state == State.RUNNING else 'true'}")
    if state != State.RUNNING:
        for name, code in pod.app_exit_codes().items():
            lines.append(f"app-{name}={code}")
    print("\n".join(lines))


def _optional_duration(value: str | None) -> float | None:
    """--wait / --wait-ready: absent -> no wait (-1), bare -> forever (None)."""
    if value is None:
        return -1.0
    if value in ("", "true"):
        return None
    if value == "false":
        return -1.0
    d = parse_duration(value)
    return None if d == 0 else d


def _status_parser() -> argparse.ArgumentParser:
    p = new_parser(prog="rkt status")
    p.add_argument("uuid", nargs="?")
    p.add_argument("--uuid-file")
    p.add_argument("--wait", nargs="?", const="", default=None)
    p.add_argument("--wait-ready", nargs="?", const="", default=None)
    p.add_argument("--format", default="", choices=("", "json", "json-pretty"))
    return p


def cmd_status(g: Globals, argv: list[str]) -> int:
    from .pod import State, wait_for
    from .table import dump_json

    ns = simple_args(argv, (), "uuid", uuid_file=None, wait=None, wait_ready=None,
                     format="") or _status_parser().parse_args(argv)
    pod = _pod_arg(g, ns.uuid, ns.uuid_file)
    wait_ready = _optional_duration(ns.wait_ready)
    if wait_ready is None or wait_ready >= 0:
        ok = wait_for(pod, lambda pd: pd.state() == State.RUNNING and _app_ready(pd),
                      wait_ready)
        if not ok:
            die(f"timed out waiting for pod {pod.uuid} to be ready")
    wait = _optional_duration(ns.wait)
    if wait is None or wait >= 0:
        ok = wait_for(pod, lambda pd: pd.state() in (State.EXITED, State.EXITED_GARBAGE,
                                                     State.DELETING), wait)
        if not ok:
            die(f"timed out waiting for pod {pod.uuid} to exit")
    if ns.format:
        print(dump_json(pod_json(pod), ns.format == "json-pretty"))
    else:
        print_status(pod)
    return 0


def _app_ready(pod: Pod) -> bool:
    m = pod.manifest()
    if m is None:
        return False
    return all(app_pids(pod, a.name) for a in m.apps)


def _leader(pod: Pod) -> int | None:
    """The pod's systemd (child of nspawn)."""
    pid = pod.pid()
    if pid is None:
        return None
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def app_pids(pod: Pod, app: str) -> list[int]:
    """PIDs in the app's service cgroup inside the pod (cgroup v2)."""
    leader = _leader(pod)
    if leader is None:
        return []
    try:
        cg = Path(f"/proc/{leader}/cgroup").read_text()
    except OSError:
        return []
    path = next((ln.split(":", 2)[2] for ln in cg.splitlines() if ln.startswith("0::")), None)
    if path is None:
        return []
    payload = Path("/sys/fs/cgroup" + path).parent  # .../payload (init.scope's parent)
    procs = payload / "system.slice" / f"{app}.service" / "cgroup.procs"
    try:
        return [int(x) for x in procs.read_text().split()]
    except (OSError, ValueError):
        return []


def cmd_stop(g: Globals, argv: list[str]) -> int:
    import signal

    from .pod import Pods, State, read_uuid_file

    p = new_parser(prog="rkt stop")
    p.add_argument("uuids", nargs="*")
    p.add_argument("--uuid-file")
    p.add_argument("--force", action="store_true")
    ns = p.parse_args(argv)
    pods = Pods(g.dir)
    targets = [pods.find(u) for u in ns.uuids]
    if ns.uuid_file:
        targets.append(pods.find(read_uuid_file(ns.uuid_file)))
    if not targets:
        die("no pod given", hint="rkt stop [--force] UUID... or --uuid-file=FILE")
    failed = 0
    stopped: list[Pod] = []
    for pod in targets:
        pid = pod.pid()
        if pod.state() != State.RUNNING or pid is None or not pod.nspawn_alive():
            print(f"rkt: pod {pod.uuid} is not running", file=sys.stderr)
            failed += 1
            continue
        # SIGTERM makes nspawn power the pod off in order; SIGKILL ends it at once.
        os.kill(pid, signal.SIGKILL if ns.force else signal.SIGTERM)
        print(f'"{pod.uuid}"')
        stopped.append(pod)
    _release_networks(stopped, STOP_NETWORK_WAIT)
    return 0 if failed == 0 else 254


# How long `rkt stop` waits for stopped pods to end before leaving their network to gc.
STOP_NETWORK_WAIT = 20.0


def _release_networks(pods: list[Pod], timeout: float) -> None:
    """Once a stopped pod's nspawn is gone, run CNI DEL and remove its namespace."""
    from . import net as netmod
    from .pod import release_network
    pending = [p for p in pods if netmod.has_network(p.path)]
    if not pending:
        return
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for pod in list(pending):
            if pod.nspawn_alive():
                continue
            pending.remove(pod)
            if pod.try_lock():
                try:
                    release_network(pod)
                finally:
                    pod.unlock()
        if pending:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def cmd_enter(g: Globals, argv: list[str]) -> int:
    import argparse

    from . import proc
    from .pod import Pods, State

    p = new_parser(prog="rkt enter")
    p.add_argument("--app")
    p.add_argument("uuid")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    ns = p.parse_args(argv)
    pod = Pods(g.dir).find(ns.uuid)
    if pod.state() != State.RUNNING:
        die(f"pod {pod.uuid} is not running")
    m = pod.manifest()
    names = [a.name for a in m.apps] if m else []
    if ns.app:
        if ns.app not in names:
            die(f"pod {pod.uuid} has no app {ns.app!r}", hint=f"apps: {', '.join(names)}")
        app = ns.app
    elif len(names) == 1:
        app = names[0]
    else:
        die(f"pod {pod.uuid} has several apps: {', '.join(names)}",
            hint="choose one with --app=NAME")
    cmd = [c for c in ns.cmd]
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        print('No command specified, assuming "/bin/bash"', file=sys.stderr)
        cmd = ["/bin/bash"]
    pids = app_pids(pod, app)
    if not pids:
        die(f"app {app!r} of pod {pod.uuid} has no running process")
    env = _app_environment(pod, app, pids[0])
    env.pop("TERM", None)
    if "TERM" in os.environ:  # the caller's terminal, not the pod console's
        env["TERM"] = os.environ["TERM"]
    proc.exec(["nsenter", f"--target={pids[0]}", "--mount", "--uts", "--ipc", "--net",
               "--pid", "--root", "--wd", "--", *cmd], env)


def _app_environment(pod: Pod, app: str, pid: int) -> dict[str, str]:
    """What the app itself was started with (incl. HOME/USER/... set by systemd)."""
    from . import env as envmod

    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
        pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
        return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}
    except OSError:
        text = (pod.stage1_rootfs() / "rkt" / "env" / app).read_text()
        return envmod.parse_env_file_text(text)


def cmd_gc(g: Globals, argv: list[str]) -> int:
    from .pod import GcPolicy, Pods, gc

    p = new_parser(prog="rkt gc")
    p.add_argument("--mark-only", nargs="?", const="true", default="false")
    p.add_argument("--grace-period", default="30m")
    p.add_argument("--expire-prepared", default="24h")
    ns = p.parse_args(argv)
    gc(Pods(g.dir), GcPolicy(grace_period=parse_duration(ns.grace_period),
                             expire_prepared=parse_duration(ns.expire_prepared),
                             mark_only=_bool(ns.mark_only, "mark-only")))
    return 0


def cmd_version(g: Globals, argv: list[str]) -> int:
    new_parser(prog="rkt version").parse_args(argv)
    print(f"rkt Version: {VERSION}")
    print(f"appc Version: {APPC_VERSION}")
    print(f"Python Version: {sys.version.split()[0]}")
    print("Features: -TPM +SDJOURNAL")
    return 0


def cmd_trust(g: Globals, argv: list[str]) -> int:
    from . import trust
    from .table import tabwrite

    p = new_parser(prog="rkt trust")
    p.add_argument("keyfiles", nargs="*")
    p.add_argument("--prefix")
    p.add_argument("--root", action="store_true")
    p.add_argument("--list", action="store_true")
    p.add_argument("--remove", metavar="FINGERPRINT")
    p.add_argument("--skip-fingerprint-review", action="store_true")
    ns = p.parse_args(argv)
    store = trust.KeyStore(g.local_config, g.system_config)
    if ns.list:
        rows = [["PREFIX", "FINGERPRINT", "USER ID"]]
        for k in store.keys():
            try:
                uid = next(iter(trust.read_key(k.path.read_bytes()).user_ids), "")
            except RktError:
                uid = "(unreadable key)"
            rows.append([k.prefix or "(root)", k.fingerprint, uid])
        sys.stdout.write(tabwrite(rows))
        return 0
    if ns.remove:
        gone = store.remove(ns.remove, prefix=ns.prefix, root=ns.root)
        if not gone:
            die(f"no trusted key {ns.remove} under {g.local_config / 'trustedkeys'}")
        for path in gone:
            print(f'Removed key at "{path}"')
        return 0
    if ns.root == bool(ns.prefix):
        die("give either --prefix=PREFIX or --root",
            hint="rkt trust --prefix=coreos.com/etcd KEYFILE, or rkt trust --root KEYFILE")
    if not ns.keyfiles:
        die("no key file given", hint="rkt_ref trusts local key files: rkt trust "
            "--prefix=PREFIX KEYFILE (fetching keys by discovery is not supported)")
    keys = []
    for path in ns.keyfiles:
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            die(f"cannot read key file {path}: {e.strerror}")
        keys.append((path, trust.read_key(data)))  # all parsed before anything is stored
    what = "the root prefix" if ns.root else f'prefix "{ns.prefix}"'
    for path, key in keys:
        print(f'Prefix: "{ns.prefix or "*"}"\nKey: "{path}"\n'
              f"GPG key fingerprint is: {key.spaced}")
        for uid in key.user_ids:
            print(f"\t{uid}")
        # Review only where someone can answer; scripts and units trust what they are given.
        if not ns.skip_fingerprint_review and sys.stdin.isatty():
            answer = input("Are you sure you want to trust this key (yes/no)? ")
            if answer.strip().lower() not in ("y", "yes"):
                die("not trusting the key")
            print(f'Trusting "{path}" for {what} after fingerprint review.')
        else:
            print(f'Trusting "{path}" for {what} without fingerprint review.')
        dest = store.add(key, None if ns.root else ns.prefix)
        print(f'Added {"root " if ns.root else ""}key for {what} at "{dest}"')
    return 0


def cmd_api_service(g: Globals, argv: list[str]) -> int:
    from . import api

    p = new_parser(prog="rkt api-service")
    p.add_argument("--listen", default=api.DEFAULT_LISTEN)
    ns = p.parse_args(argv)
    return api.serve(g.dir, ns.listen, api.ServiceFlags(
        dir=str(g.dir), local_config=str(g.local_config), system_config=str(g.system_config),
        insecure=",".join(sorted(g.insecure))))


VERBS: dict[str, Callable[[Globals, list[str]], int]] = {
    "run": cmd_run,
    "prepare": cmd_prepare,
    "run-prepared": cmd_run_prepared,
    "fetch": cmd_fetch,
    "image": cmd_image,
    "cat-manifest": cmd_cat_manifest,
    "list": cmd_list,
    "status": cmd_status,
    "stop": cmd_stop,
    "enter": cmd_enter,
    "gc": cmd_gc,
    "version": cmd_version,
    "trust": cmd_trust,
    "api-service": cmd_api_service,
}


def usage() -> str:
    return ("Usage: rkt [--dir=DIR] [--insecure-options=...] [--debug] COMMAND [ARGS]\n\n"
            "Commands:\n" + "".join(f"  {v}\n" for v in VERBS))


def main(argv: Sequence[str]) -> int:
    g, rest = split_globals(list(argv))
    log.set_debug(g.debug)
    if not rest or rest[0] in ("help", "-h", "--help"):
        sys.stdout.write(usage())
        return 0
    verb, args = rest[0], rest[1:]
    if verb not in VERBS:
        die(f"unknown command {verb!r}", hint="run 'rkt help' for the list of commands")
    return VERBS[verb](g, args)
