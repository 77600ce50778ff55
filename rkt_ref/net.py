"""Pod networking: what `--net` means, and the CNI plugins that make it so.

- `host`: the pod shares the network namespace of whoever runs rkt.
- `none`: nspawn gives the pod a namespace with only a loopback (`--private-network`).
- anything else (contained mode, rkt's default): a network namespace made before the exec
  into nspawn, `/run/netns/rkt-<uuid>`, joined to each selected CNI network by its plugin
  (ADD), then handed to nspawn with `--network-namespace-path=`. `rkt gc` (and `rkt stop`,
  once the pod has gone) runs DEL for each network and removes the namespace.

As in rkt: configurations are `<local-config>/net.d/*.conf` in lexical order, the first
file naming a network wins; the built-in `default` network is ptp on 172.16.28.0/24 with
IP masquerading; per-network arguments (`--net=ptp0:IP=172.16.28.101`) reach the plugin as
CNI_ARGS; interfaces are eth0, eth1, ... in the order of the networks; what was set up is
recorded in the pod's `net-info.json` (shown by `rkt list` / `rkt status`) with a copy of
each configuration under the pod's `net/`, removed once that network is torn down.

Not like rkt: the `default-restricted` network (172.16.29.0/24, added by rkt whenever
`default` is not selected) is not added: pods get exactly the networks asked for.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path

from . import log
from .errors import RktError, die
from .netinfo import NET_INFO, NetInfo, load_info
from .record import record

TYPE_CHECKING = False  # typing is not imported at run time (see record.py)
if TYPE_CHECKING:
    from . import ports as portsmod

# proc and ports are imported where plugins run. `rkt list` and `rkt status` read what
# a pod got through netinfo alone.


NET_D = "net.d"
NETNS_DIR = Path("/run/netns")
# Where plugins are looked for, in order: rkt's own places, then Debian's
# containernetworking-plugins.
PLUGIN_DIRS = ("/usr/lib/rkt/plugins/net", "/usr/lib/cni", "/opt/cni/bin")
IFNAME = "eth{}"
NETNS_FILE = "netns"
NET_DIR = "net"
PORTFWD_FILE = "portfwd"  # present while the pod may have port forwarding rules

DEFAULT_NET = "default"
DEFAULT_CONF_FILE = "99-default.conf"
# rkt's stage1 etc/rkt/net.d/99-default.conf, with Debian's host-local IPAM.
DEFAULT_CONF = (
    '{\n\t"name": "default",\n\t"type": "ptp",\n\t"ipMasq": true,\n\t"ipam": {\n'
    '\t\t"type": "host-local",\n\t\t"subnet": "172.16.28.0/24",\n\t\t"routes": [\n'
    '\t\t\t{ "dst": "0.0.0.0/0" }\n\t\t]\n\t}\n}\n'
)

# CNI spec: a network name starts with an alphanumeric, then alphanumerics, _ . -
_NET_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
_ARG_KEY = r"^[A-Za-z_][A-Za-z0-9_]*$"
# The CNI_ARGS keys Debian's plugins (host-local IPAM) understand; others make them fail.
KNOWN_ARGS = ("IP",)
SPECIAL = ("host", "none", "all")


class Mode(StrEnum):
    HOST = "host"
    NONE = "none"
    CONTAINED = "contained"


@record
class NetRequest:
    """One entry of --net: a network name and its CNI_ARGS (`K=V;K2=V2`)."""

    name: str
    args: str = ""

    def __str__(self) -> str:
        return f"{self.name}:{self.args}" if self.args else self.name


@record
class NetConf:
    """A CNI network configuration file, as loaded and checked."""

    name: str
    type: str
    ip_masq: bool
    path: str
    raw: bytes
    subnet: ipaddress.IPv4Network | None = None


@record
class Attachment:
    """A network the pod joins: its configuration, CNI_ARGS and interface name."""

    conf: NetConf
    args: str
    if_name: str


@record
class NetPlan:
    """What stage0 hands on to nspawn."""

    nspawn_args: tuple[str, ...] = ()
    mode: Mode = Mode.HOST


# --- --net values ----------------------------------------------------------------------


def _check_args(name: str, args: str) -> None:
    seen: set[str] = set()
    for pair in args.split(";"):
        key, eq, value = pair.partition("=")
        if not eq or not re.match(_ARG_KEY, key):
            die(f"network {name!r}: invalid argument {pair!r}",
                hint="arguments are KEY=VALUE pairs separated by ';', e.g. "
                     f"--net={name}:IP=172.16.28.101")
        if key in seen:
            die(f"network {name!r}: argument {key} given twice")
        seen.add(key)
        if key not in KNOWN_ARGS:
            die(f"network {name!r}: unknown argument {key!r}",
                hint=f"supported: {', '.join(KNOWN_ARGS)}")
        if key == "IP":
            try:
                ipaddress.IPv4Address(value)
            except ValueError:
                die(f"network {name!r}: IP={value!r} is not an IPv4 address")


def parse(values: Sequence[str] | None) -> tuple[str, ...]:
    """Check --net values (comma separated, repeatable); default is 'default'.

    Returns them normalized, one network per entry, as stored in the pod's options.
    """
    out: list[NetRequest] = []
    for value in values or []:
        if value in ("", "true"):  # a bare --net means the default network
            value = DEFAULT_NET
        for item in value.split(","):
            item = item.strip()
            name, _, args = item.partition(":")
            if not name:
                die(f"invalid --net value {item!r}: netname must not be empty")
            if ":" in args:
                die(f"invalid --net value {item!r}: network {name!r} provided with invalid "
                    "arguments", hint="use NAME:KEY=VALUE;KEY=VALUE")
            if any(r.name == name for r in out):
                die(f"invalid --net value: found duplicate netname {name!r}")
            if name in SPECIAL and args:
                die(f"invalid --net value {item!r}: arguments are not supported by special "
                    f"netname {name!r}")
            if name not in SPECIAL and not re.match(_NET_NAME, name):
                die(f"invalid --net value {item!r}: network names consist of alphanumerics "
                    "and '_', '.', '-', starting with an alphanumeric")
            if args:
                _check_args(name, args)
            out.append(NetRequest(name, args))
    if not out:
        out = [NetRequest(DEFAULT_NET)]
    names = {r.name for r in out}
    if names & {"host", "none"} and len(out) > 1:
        die("--net=host and --net=none cannot be combined with other networks")
    return tuple(str(r) for r in out)


def requests(nets: Sequence[str]) -> tuple[NetRequest, ...]:
    """The stored form of parse() back into requests."""
    out = []
    for n in nets:
        name, _, args = n.partition(":")
        out.append(NetRequest(name, args))
    return tuple(out)


def mode_of(nets: Sequence[str]) -> Mode:
    names = [r.name for r in requests(nets)]
    if names == ["host"]:
        return Mode.HOST
    if names == ["none"]:
        return Mode.NONE
    return Mode.CONTAINED


# --- configurations ----------------------------------------------------------------------


def load_conf(raw: bytes, path: str) -> NetConf:
    """Parse and check one CNI configuration; errors name the file and the rule."""
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        die(f"error loading network configuration {path}: {e}")
    except RecursionError:
        die(f"error loading network configuration {path}: JSON nested too deeply")
    if not isinstance(obj, dict):
        die(f"error loading network configuration {path}: not a JSON object")
    name, typ = obj.get("name"), obj.get("type")
    if not isinstance(name, str) or not re.match(_NET_NAME, name):
        die(f"network configuration {path}: \"name\" must be a string of alphanumerics and "
            "'_', '.', '-', starting with an alphanumeric")
    if name in SPECIAL:
        die(f"network configuration {path}: {name!r} is reserved for --net={name}")
    if not isinstance(typ, str) or not typ or "/" in typ:
        die(f"network configuration {path}: \"type\" must name a plugin, e.g. \"ptp\"")
    masq = obj.get("ipMasq", False)
    if not isinstance(masq, bool):
        die(f"network configuration {path}: \"ipMasq\" must be true or false")
    subnet = None
    ipam = obj.get("ipam")
    if ipam is not None:
        if not isinstance(ipam, dict) or not isinstance(ipam.get("type"), str):
            die(f"network configuration {path}: \"ipam\" must be an object with a \"type\"")
        if "subnet" in ipam:
            try:
                net = ipaddress.ip_network(str(ipam["subnet"]), strict=False)
            except ValueError:
                die(f"network configuration {path}: ipam subnet {ipam['subnet']!r} is not "
                    "a CIDR subnet")
            subnet = net if isinstance(net, ipaddress.IPv4Network) else None
    return NetConf(name, typ, masq, path, raw, subnet)


def load_confs(local_config: Path) -> dict[str, NetConf]:
    """The user's networks, by name: *.conf files of net.d in lexical order, first wins."""
    d = local_config / NET_D
    try:
        files = sorted(p for p in os.listdir(d) if p.endswith(".conf"))
    except FileNotFoundError:
        return {}
    except OSError as e:
        die(f"cannot read network configurations in {d}: {e.strerror}")
    confs: dict[str, NetConf] = {}
    for f in files:
        path = d / f
        if path.is_dir():
            continue
        try:
            raw = path.read_bytes()
        except OSError as e:
            die(f"cannot read network configuration {path}: {e.strerror}")
        conf = load_conf(raw, str(path))
        if conf.name in confs:
            log.debug("networking: %r network already defined, ignoring %s", conf.name, path)
            continue
        confs[conf.name] = conf
    return confs


def default_conf() -> NetConf:
    return load_conf(DEFAULT_CONF.encode(), DEFAULT_CONF_FILE)


def resolve(nets: Sequence[str], local_config: Path) -> tuple[Attachment, ...]:
    """The networks a contained pod joins, in order, with their interface names."""
    reqs = requests(nets)
    confs = load_confs(local_config)
    if DEFAULT_NET not in confs:
        confs[DEFAULT_NET] = default_conf()
    if any(r.name == "all" for r in reqs):
        # every configured network, then the default one (unless it was overridden)
        chosen = [NetRequest(n) for n in confs if n != DEFAULT_NET] + [NetRequest(DEFAULT_NET)]
        extra = {r.name: r for r in reqs if r.name != "all"}
        reqs = tuple(extra.get(r.name, r) for r in chosen)
    missing = [r.name for r in reqs if r.name not in confs]
    if missing:
        known = ", ".join(sorted(confs))
        die(f"networks not found: {', '.join(missing)}",
            hint=f"configure them in {local_config / NET_D}/*.conf (known: {known})")
    out: list[Attachment] = []
    for i, r in enumerate(reqs):
        conf = confs[r.name]
        ip = dict(p.partition("=")[::2] for p in r.args.split(";") if p).get("IP")
        if ip and conf.subnet is not None and ipaddress.IPv4Address(ip) not in conf.subnet:
            die(f"network {r.name!r}: IP={ip} is outside its subnet {conf.subnet}")
        out.append(Attachment(conf, r.args, IFNAME.format(i)))
    return tuple(out)


# --- CNI plugins ---------------------------------------------------------------------------


def netns_name(uuid: str) -> str:
    return f"rkt-{uuid}"


def netns_path(uuid: str) -> Path:
    return NETNS_DIR / netns_name(uuid)


def plugin_dirs(local_config: Path) -> tuple[str, ...]:
    return (str(local_config / NET_D), *PLUGIN_DIRS)


def find_plugin(typ: str, dirs: Sequence[str]) -> str:
    for d in dirs:
        p = os.path.join(d, typ)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    die(f"could not find network plugin {typ!r}", hint=f"looked in {':'.join(dirs)}")


def cni_env(command: str, *, uuid: str, netns: str, if_name: str, args: str,
            dirs: Sequence[str], base: Mapping[str, str]) -> dict[str, str]:
    """The environment of one plugin call, as the CNI spec defines it."""
    env = {k: v for k, v in base.items()
           if not k.startswith("CNI_") and k not in ("LISTEN_FDS", "LISTEN_PID",
                                                       "LISTEN_FDNAMES")}
    env.update({
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": uuid,
        "CNI_NETNS": netns,
        "CNI_IFNAME": if_name,
        "CNI_ARGS": args,
        "CNI_PATH": ":".join(dirs),
    })
    return env


def plugin_error(conf_name: str, command: str, stdout: str, stderr: str, rc: int) -> str:
    """One line from a failed plugin: its CNI error message (and details) if it gave one."""
    try:
        err = json.loads(stdout)
        msg = str(err.get("msg") or "").strip()
        if err.get("details"):
            msg += f"; {err['details']}"
    except (ValueError, AttributeError):
        msg = ""
    if not msg:
        lines = (stderr or stdout).strip().splitlines()
        msg = lines[-1] if lines else f"exit status {rc}"
    return f"error {'adding' if command == 'ADD' else 'deleting'} network {conf_name!r}: " \
        + " ".join(msg.split())


def parse_result(stdout: str) -> tuple[str, str, str]:
    """(ip, mask, gateway) of the first IPv4 address in a CNI result (0.1.0 to 1.0.0)."""
    try:
        res = json.loads(stdout)
    except ValueError:
        raise RktError(f"network plugin returned no JSON result: {stdout.strip()[:200]!r}") \
            from None
    cidrs: list[tuple[str, str]] = []
    if isinstance(res.get("ip4"), dict):  # CNI 0.1.0 / 0.2.0
        cidrs.append((str(res["ip4"].get("ip", "")), str(res["ip4"].get("gateway") or "")))
    for ip in res.get("ips") or []:  # CNI 0.3.0 and later
        if isinstance(ip, dict) and ip.get("version", "4") == "4":
            cidrs.append((str(ip.get("address", "")), str(ip.get("gateway") or "")))
    for cidr, gw in cidrs:
        try:
            iface = ipaddress.ip_interface(cidr)
        except ValueError:
            continue
        if isinstance(iface, ipaddress.IPv4Interface):
            return str(iface.ip), str(iface.netmask), gw
    raise RktError("network plugin returned no IPv4 address")


def _call(command: str, att: Attachment, raw: bytes, *, uuid: str, plugin: str, netns: str,
          dirs: Sequence[str]) -> str:
    from . import proc

    env = cni_env(command, uuid=uuid, netns=netns, if_name=att.if_name, args=att.args,
                  dirs=dirs, base=os.environ)
    res = proc.run([plugin], check=False, input=raw.decode(), env=env)
    if res.returncode != 0:
        raise RktError(plugin_error(att.conf.name, command, res.stdout, res.stderr,
                                    res.returncode))
    return res.stdout


# --- setting up and tearing down a pod's networks --------------------------------------------


def _write(path: Path, text: str | bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    if isinstance(text, bytes):
        tmp.write_bytes(text)
    else:
        tmp.write_text(text)
    os.replace(tmp, path)


def _conf_copy_name(att: Attachment) -> str:
    base = os.path.basename(att.conf.path)
    return base if base.endswith(".conf") else f"{base}.conf"


def save_info(pod_dir: Path, infos: Sequence[NetInfo]) -> None:
    _write(pod_dir / NET_INFO, json.dumps([i.to_json() for i in infos]) + "\n")


@record
class Attachments:
    """The slow half of making a pod's networks: each one's CNI ADD, then port forwards.

    `rkt run` runs it beside nspawn's boot, the pod's apps waiting for it (see stage0).
    """

    pod_dir: Path
    uuid: str
    atts: tuple[Attachment, ...]
    plugins: tuple[str, ...]
    dirs: tuple[str, ...]
    local_config: Path
    forwards: tuple[portsmod.Forward, ...] = ()

    def attach(self) -> tuple[NetInfo, ...]:
        """ADD each network in the namespace; on any failure undo it all."""
        from . import ports as portsmod

        pod_dir, uuid, ns = self.pod_dir, self.uuid, netns_path(self.uuid)
        infos: list[NetInfo] = []
        try:
            gateways: list[str] = []
            for att, plugin in zip(self.atts, self.plugins, strict=True):
                log.debug("networking: loading network %s with type %s", att.conf.name,
                          att.conf.type)
                copy = f"{NET_DIR}/{_conf_copy_name(att)}"
                _write(pod_dir / copy, att.conf.raw)
                info = NetInfo(att.conf.name, copy, plugin, att.if_name, "", att.args, "")
                # Recorded before ADD: a failed ADD may leave a half-made interface that
                # only DEL removes.
                save_info(pod_dir, infos + [info])
                out = _call("ADD", att, att.conf.raw, uuid=uuid, plugin=plugin, netns=str(ns),
                            dirs=self.dirs)
                ip, mask, gw = parse_result(out)
                infos.append(NetInfo(att.conf.name, copy, plugin, att.if_name, ip, att.args,
                                     mask))
                gateways.append(gw)
                save_info(pod_dir, infos)
            if self.forwards:
                # rkt: the first network with IP masquerading, else the last one.
                idx = next((i for i, a in enumerate(self.atts) if a.conf.ip_masq),
                           len(self.atts) - 1)
                _write(pod_dir / PORTFWD_FILE, "".join(
                    f"{f.protocol} {f.host_port} {infos[idx].ip}:{f.pod_port}\n"
                    for f in self.forwards))
                portsmod.forward(uuid, infos[idx].ip, gateways[idx], self.forwards)
        except BaseException:
            teardown(pod_dir, uuid, self.local_config)
            raise
        return tuple(infos)


def begin(pod_dir: Path, uuid: str, nets: Sequence[str], local_config: Path,
          forwards: Sequence[portsmod.Forward] = ()) -> tuple[NetPlan, Attachments | None]:
    """The quick half of making a pod's network: check every network and its plugin,
    make the namespace. What is left to do (None for host and none) comes back with
    the plan; on any failure here, nothing of the network is left.
    """
    from . import netns

    mode = mode_of(nets)
    if mode == Mode.HOST:
        return NetPlan(mode=mode), None
    if mode == Mode.NONE:
        return NetPlan(("--private-network",), mode=mode), None
    atts = resolve(nets, local_config)
    dirs = plugin_dirs(local_config)
    plugins = tuple(find_plugin(a.conf.type, dirs) for a in atts)
    ns = netns_path(uuid)
    try:
        (pod_dir / NET_DIR).mkdir(exist_ok=True)
        netns.add(ns)
        _write(pod_dir / NETNS_FILE, str(ns))
    except BaseException:
        teardown(pod_dir, uuid, local_config)
        raise
    pending = Attachments(pod_dir, uuid, atts, plugins, tuple(dirs), local_config,
                          tuple(forwards))
    return NetPlan((f"--network-namespace-path={ns}",), mode=mode), pending


def teardown(pod_dir: Path, uuid: str, local_config: Path = Path("/etc/rkt")) -> None:
    """Undo begin() and attach(): port forwards, DEL for each network (last first), the
    namespace.

    Idempotent and tolerant: each step that fails is logged and the rest still runs. The
    pod keeps net-info.json, so `rkt list` still shows what the pod had.
    """
    from . import netns
    from . import ports as portsmod

    if (pod_dir / PORTFWD_FILE).exists():
        portsmod.unforward(uuid)
        (pod_dir / PORTFWD_FILE).unlink()
    ns = netns_path(uuid)
    try:
        recorded = Path((pod_dir / NETNS_FILE).read_text().strip())
    except OSError:
        recorded = ns
    dirs = plugin_dirs(local_config)
    for info in reversed(load_info(pod_dir)):
        copy = pod_dir / info.net_conf
        try:
            raw = copy.read_bytes()
        except OSError:
            continue  # torn down already
        try:
            conf = load_conf(raw, info.net_conf)
            att = Attachment(conf, info.args, info.if_name)
            plugin = info.plugin_path if os.access(info.plugin_path, os.X_OK) else \
                find_plugin(conf.type, dirs)
            _call("DEL", att, raw, uuid=uuid, plugin=plugin, netns=str(recorded), dirs=dirs)
        except RktError as e:
            log.warning("networking: %s", e.message)
        try:
            copy.unlink()
        except OSError:
            pass
    for path in dict.fromkeys((recorded, ns)):  # where begin() made it, then the usual place
        if path.exists():
            try:
                netns.delete(path)
            except OSError as e:
                log.warning("networking: cannot remove network namespace %s: %s", path,
                            e.strerror)
    try:
        (pod_dir / NETNS_FILE).unlink()
    except OSError:
        pass


def has_network(pod_dir: Path) -> bool:
    """Whether the pod may still hold network resources (namespace, addresses, rules)."""
    return (pod_dir / NETNS_FILE).exists() or (pod_dir / PORTFWD_FILE).exists() or any(
        (pod_dir / i.net_conf).exists() for i in load_info(pod_dir))
