"""Networking without a VM: --net values, CNI configurations, plugin calls, port forwarding
rules and the socket units stage1 writes for socket-activated ports.

The setup/teardown tests run net.begin() and attach() against fake `ip` and plugin programs that log
what they were asked, so the CNI environment and the order of ADD and DEL are checked,
including the undoing of a half-made network.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from rkt_ref import net, netinfo, netns, ports, stage0, stage1
from rkt_ref.errors import RktError
from rkt_ref.schema import ExposedPort, ImageManifest, ImageRef, PodManifest, Port, RuntimeApp

UUID = "56c007f8-578b-4e7b-8984-078d7a65d15e"
PTP0 = {"name": "ptp0", "type": "ptp", "ipMasq": True,
        "ipam": {"type": "host-local", "subnet": "172.16.28.0/24",
                 "routes": [{"dst": "0.0.0.0/0"}]}}


def conf_dir(tmp_path: Path, files: dict[str, Any]) -> Path:
    d = tmp_path / "etc-rkt" / "net.d"
    d.mkdir(parents=True)
    for name, content in files.items():
        (d / name).write_text(content if isinstance(content, str) else json.dumps(content))
    return d.parent


# --- --net values ------------------------------------------------------------------------


@pytest.mark.parametrize("values,expected", [
    (None, ("default",)),
    ([], ("default",)),
    ([""], ("default",)),
    (["host"], ("host",)),
    (["none"], ("none",)),
    (["ptp0:IP=172.16.28.101"], ("ptp0:IP=172.16.28.101",)),
    (["default,ptp0:IP=172.16.28.101"], ("default", "ptp0:IP=172.16.28.101")),
    (["default", "ptp0"], ("default", "ptp0")),
    (["all"], ("all",)),
])
def test_parse_net_values(values: list[str] | None, expected: tuple[str, ...]) -> None:
    assert net.parse(values) == expected


@pytest.mark.parametrize("value,message", [
    (":x", "netname must not be empty"),
    ("default,default", "found duplicate netname 'default'"),
    ("ptp0:IP=1:2", "provided with invalid arguments"),
    ("host:IP=172.16.28.2", "arguments are not supported by special netname 'host'"),
    ("all:IP=172.16.28.2", "arguments are not supported by special netname 'all'"),
    ("host,default", "cannot be combined"),
    ("none,ptp0", "cannot be combined"),
    ("ptp0:IP=172.16.28", "IP='172.16.28' is not an IPv4 address"),
    ("ptp0:IP=256.1.1.1", "is not an IPv4 address"),
    ("ptp0:FOO=1", "unknown argument 'FOO'"),
    ("ptp0:IP", "invalid argument 'IP'"),
    ("ptp0:IP=172.16.28.3;IP=172.16.28.4", "argument IP given twice"),
    ("bad/name", "network names consist of"),
])
def test_parse_rejects(value: str, message: str) -> None:
    with pytest.raises(RktError, match=message.replace("(", r"\(").replace(")", r"\)")):
        net.parse([value])


def test_requests_and_mode() -> None:
    assert net.requests(("default", "ptp0:IP=172.16.28.101")) == (
        net.NetRequest("default"), net.NetRequest("ptp0", "IP=172.16.28.101"))
    assert net.mode_of(("host",)) == net.Mode.HOST
    assert net.mode_of(("none",)) == net.Mode.NONE
    assert net.mode_of(("default",)) == net.Mode.CONTAINED
    assert net.mode_of(("ptp0:IP=172.16.28.101",)) == net.Mode.CONTAINED


# --- configurations ----------------------------------------------------------------------


def test_default_network_is_rkts() -> None:
    conf = net.default_conf()
    assert (conf.name, conf.type, conf.ip_masq, str(conf.subnet)) == (
        "default", "ptp", True, "172.16.28.0/24")
    raw = json.loads(conf.raw)
    assert raw["ipam"] == {"type": "host-local", "subnet": "172.16.28.0/24",
                           "routes": [{"dst": "0.0.0.0/0"}]}


@pytest.mark.parametrize("raw,message", [
    ("{bad", "error loading network configuration x.conf"),
    ("[]", "not a JSON object"),
    ('{"type": "ptp"}', '"name" must be a string'),
    ('{"name": "-x", "type": "ptp"}', '"name" must be a string'),
    ('{"name": "host", "type": "ptp"}', "reserved for --net=host"),
    ('{"name": "n"}', '"type" must name a plugin'),
    ('{"name": "n", "type": "../ptp"}', '"type" must name a plugin'),
    ('{"name": "n", "type": "ptp", "ipMasq": "yes"}', '"ipMasq" must be true or false'),
    ('{"name": "n", "type": "ptp", "ipam": []}', '"ipam" must be an object'),
    ('{"name": "n", "type": "ptp", "ipam": {"type": "host-local", "subnet": "x"}}',
     "is not a CIDR subnet"),
])
def test_load_conf_rejects(raw: str, message: str) -> None:
    with pytest.raises(RktError, match=message):
        net.load_conf(raw.encode(), "x.conf")


def test_load_confs_lexical_order_first_wins(tmp_path: Path) -> None:
    cfg = conf_dir(tmp_path, {
        "20-ptp0.conf": {**PTP0, "ipMasq": False},
        "10-ptp0.conf": PTP0,
        "30-other.conf": {"name": "other", "type": "bridge"},
        "README": "not a configuration",
        "40-other.json": "{bad",
    })
    confs = net.load_confs(cfg)
    assert list(confs) == ["ptp0", "other"]
    assert confs["ptp0"].path.endswith("10-ptp0.conf") and confs["ptp0"].ip_masq


def test_load_confs_without_directory(tmp_path: Path) -> None:
    assert net.load_confs(tmp_path / "nothing") == {}


def test_load_confs_names_the_broken_file(tmp_path: Path) -> None:
    cfg = conf_dir(tmp_path, {"10-bad.conf": "{bad"})
    with pytest.raises(RktError, match="10-bad.conf"):
        net.load_confs(cfg)


def test_resolve_default_and_named(tmp_path: Path) -> None:
    cfg = conf_dir(tmp_path, {"10-ptp0.conf": PTP0})
    atts = net.resolve(("default", "ptp0:IP=172.16.28.101"), cfg)
    assert [(a.conf.name, a.args, a.if_name) for a in atts] == [
        ("default", "", "eth0"), ("ptp0", "IP=172.16.28.101", "eth1")]
    assert atts[0].conf.path == "99-default.conf"


def test_resolve_user_default_overrides(tmp_path: Path) -> None:
    cfg = conf_dir(tmp_path, {"50-mine.conf": {**PTP0, "name": "default", "ipMasq": False}})
    (att,) = net.resolve(("default",), cfg)
    assert att.conf.path.endswith("50-mine.conf") and not att.conf.ip_masq


def test_resolve_all(tmp_path: Path) -> None:
    cfg = conf_dir(tmp_path, {"10-ptp0.conf": PTP0, "20-b.conf": {"name": "b", "type": "bridge"}})
    atts = net.resolve(("all",), cfg)
    assert [a.conf.name for a in atts] == ["ptp0", "b", "default"]


def test_resolve_unknown_network(tmp_path: Path) -> None:
    cfg = conf_dir(tmp_path, {"10-ptp0.conf": PTP0})
    with pytest.raises(RktError, match="networks not found: ptp, nope") as e:
        net.resolve(("ptp:IP=172.16.28.101", "nope"), cfg)
    assert e.value.hint is not None and "known: default, ptp0" in e.value.hint


def test_resolve_ip_outside_subnet(tmp_path: Path) -> None:
    cfg = conf_dir(tmp_path, {"10-ptp0.conf": PTP0})
    with pytest.raises(RktError, match=r"IP=10\.0\.0\.5 is outside its subnet 172\.16\.28\.0/24"):
        net.resolve(("ptp0:IP=10.0.0.5",), cfg)


# --- CNI plugin calls ----------------------------------------------------------------------


def test_netns_naming() -> None:
    assert net.netns_name(UUID) == f"rkt-{UUID}"
    assert net.netns_path(UUID) == Path(f"/run/netns/rkt-{UUID}")


def test_cni_env() -> None:
    base = {"PATH": "/usr/bin", "LISTEN_FDS": "1", "LISTEN_PID": "7", "LISTEN_FDNAMES": "x",
            "CNI_ARGS": "stale"}
    env = net.cni_env("ADD", uuid=UUID, netns=f"/run/netns/rkt-{UUID}", if_name="eth0",
                      args="IP=172.16.28.101", dirs=("/etc/rkt/net.d", "/usr/lib/cni"),
                      base=base)
    assert env == {
        "PATH": "/usr/bin",
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": UUID,
        "CNI_NETNS": f"/run/netns/rkt-{UUID}",
        "CNI_IFNAME": "eth0",
        "CNI_ARGS": "IP=172.16.28.101",
        "CNI_PATH": "/etc/rkt/net.d:/usr/lib/cni",
    }


def test_plugin_dirs() -> None:
    assert net.plugin_dirs(Path("/etc/rkt")) == (
        "/etc/rkt/net.d", "/usr/lib/rkt/plugins/net", "/usr/lib/cni", "/opt/cni/bin")


def test_parse_result_cni_010() -> None:
    # What Debian's ptp 1.1.1 answers for a configuration without cniVersion.
    out = json.dumps({"cniVersion": "0.1.0", "ip4": {"ip": "172.16.28.101/24",
                      "gateway": "172.16.28.1", "routes": [{"dst": "0.0.0.0/0"}]}, "dns": {}})
    assert net.parse_result(out) == ("172.16.28.101", "255.255.255.0", "172.16.28.1")


def test_parse_result_cni_100() -> None:
    out = json.dumps({"cniVersion": "1.0.0", "interfaces": [{"name": "eth0"}],
                      "ips": [{"address": "fd00::2/64", "interface": 0},
                              {"address": "172.16.28.2/24", "gateway": "172.16.28.1",
                               "interface": 0}]})
    assert net.parse_result(out) == ("172.16.28.2", "255.255.255.0", "172.16.28.1")


@pytest.mark.parametrize("out", ["", "{}", '{"ips": [{"address": "fd00::2/64"}]}'])
def test_parse_result_without_ipv4(out: str) -> None:
    with pytest.raises(RktError):
        net.parse_result(out)


def test_plugin_error_message() -> None:
    out = json.dumps({"code": 999, "msg": "failed to allocate for range 0: requested IP "
                      "address 172.16.28.101 is not available", "details": "d"})
    assert net.plugin_error("ptp0", "ADD", out, "", 1) == (
        "error adding network 'ptp0': failed to allocate for range 0: requested IP address "
        "172.16.28.101 is not available; d")
    assert net.plugin_error("ptp0", "DEL", "", "boom\nlast line\n", 2) == \
        "error deleting network 'ptp0': last line"
    assert net.plugin_error("ptp0", "DEL", "", "", 2) == \
        "error deleting network 'ptp0': exit status 2"


def test_net_info_json_is_rkts() -> None:
    info = netinfo.NetInfo("default", "net/99-default.conf", "/usr/lib/cni/ptp", "eth0",
                           "172.16.28.2", "", "255.255.255.0")
    # The keys of real rkt's `rkt status --format=json`.
    assert info.to_json() == {"netName": "default", "netConf": "net/99-default.conf",
                              "pluginPath": "/usr/lib/cni/ptp", "ifName": "eth0",
                              "ip": "172.16.28.2", "args": "", "mask": "255.255.255.0"}
    assert netinfo.NetInfo.from_json(info.to_json()) == info


# --- setup and teardown against fake programs ------------------------------------------------

FAKE_PTP = """#!/bin/sh
conf=$(cat)
echo "ptp $CNI_COMMAND $CNI_CONTAINERID $CNI_NETNS $CNI_IFNAME [$CNI_ARGS] $CNI_PATH" >> "$LOG"
case "$conf" in *'"name": "broken"'*)
    [ "$CNI_COMMAND" = ADD ] && { echo '{"code": 999, "msg": "no luck"}'; exit 1; } ;;
esac
[ "$CNI_COMMAND" = ADD ] && echo '{"ip4": {"ip": "172.16.28.5/24", "gateway": "172.16.28.1"}}'
exit 0
"""


def _exe(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def fake_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    netns_dir = tmp_path / "netns"
    netns_dir.mkdir()
    log = tmp_path / "log"

    def record(line: str) -> None:
        with log.open("a") as f:
            f.write(line + "\n")

    def fake_add(path: Path) -> None:
        record(f"netns add {path.name}")
        path.touch(exist_ok=False)

    def fake_delete(path: Path) -> None:
        record(f"netns delete {path.name}")
        path.unlink()

    # Namespaces are made in-process (tests/test_netns.py makes real ones in a VM).
    monkeypatch.setattr(netns, "add", fake_add)
    monkeypatch.setattr(netns, "delete", fake_delete)
    cfg = conf_dir(tmp_path, {"10-ptp0.conf": PTP0,
                              "20-broken.conf": {"name": "broken", "type": "ptp"}})
    _exe(cfg / "net.d" / "ptp", FAKE_PTP)  # rkt also looks for plugins in net.d
    monkeypatch.setenv("LOG", str(log))
    monkeypatch.setattr(net, "NETNS_DIR", netns_dir)
    pod_dir = tmp_path / "pod"
    pod_dir.mkdir()
    return {"cfg": cfg, "log": log, "netns": netns_dir, "pod": pod_dir}


def _log(w: dict[str, Path]) -> list[str]:
    return w["log"].read_text().splitlines() if w["log"].exists() else []


def test_setup_and_teardown(fake_world: dict[str, Path]) -> None:
    w = fake_world
    ns = w["netns"] / f"rkt-{UUID}"
    plugin = str(w["cfg"] / "net.d" / "ptp")
    plan, pending = net.begin(w["pod"], UUID, ("ptp0:IP=172.16.28.5",), w["cfg"])
    assert plan.nspawn_args == (f"--network-namespace-path={ns}",) and pending is not None
    networks = pending.attach()
    assert networks == (netinfo.NetInfo("ptp0", "net/10-ptp0.conf", plugin, "eth0",
                                        "172.16.28.5", "IP=172.16.28.5", "255.255.255.0"),)
    assert netinfo.load_info(w["pod"]) == networks
    assert (w["pod"] / "net" / "10-ptp0.conf").read_text() == json.dumps(PTP0)
    cni_path = ":".join(net.plugin_dirs(w["cfg"]))
    assert _log(w) == [
        f"netns add rkt-{UUID}",
        f"ptp ADD {UUID} {ns} eth0 [IP=172.16.28.5] {cni_path}",
    ]
    assert net.has_network(w["pod"])
    w["log"].unlink()
    net.teardown(w["pod"], UUID, w["cfg"])
    assert _log(w) == [
        f"ptp DEL {UUID} {ns} eth0 [IP=172.16.28.5] {cni_path}",
        f"netns delete rkt-{UUID}",
    ]
    assert not ns.exists() and not net.has_network(w["pod"])
    # rkt list still shows what the pod had
    assert netinfo.load_info(w["pod"]) == networks
    w["log"].unlink()
    net.teardown(w["pod"], UUID, w["cfg"])  # idempotent: nothing left to do
    assert _log(w) == []


def test_failed_add_undoes_everything(fake_world: dict[str, Path]) -> None:
    w = fake_world
    with pytest.raises(RktError, match="error adding network 'broken': no luck"):
        pending = net.begin(w["pod"], UUID, ("ptp0", "broken"), w["cfg"])[1]
        assert pending is not None
        pending.attach()
    ns = w["netns"] / f"rkt-{UUID}"
    lines = _log(w)
    # DEL for the network that failed half-way too, then the first one, then the netns.
    assert [ln.split()[:2] + ln.split()[4:5] for ln in lines if ln.startswith("ptp")] == [
        ["ptp", "ADD", "eth0"], ["ptp", "ADD", "eth1"], ["ptp", "DEL", "eth1"],
        ["ptp", "DEL", "eth0"]]
    assert lines[-1] == f"netns delete rkt-{UUID}"
    assert not ns.exists() and not net.has_network(w["pod"])


def test_host_and_none_make_nothing(fake_world: dict[str, Path]) -> None:
    w = fake_world
    assert net.begin(w["pod"], UUID, ("host",), w["cfg"]) == (
        net.NetPlan(mode=net.Mode.HOST), None)
    assert net.begin(w["pod"], UUID, ("none",), w["cfg"]) == (
        net.NetPlan(("--private-network",), mode=net.Mode.NONE), None)
    assert _log(w) == []


def test_begin_makes_the_namespace_and_leaves_the_adds(fake_world: dict[str, Path]) -> None:
    w = fake_world
    ns = w["netns"] / f"rkt-{UUID}"
    plan, pending = net.begin(w["pod"], UUID, ("ptp0",), w["cfg"])
    assert plan.nspawn_args == (f"--network-namespace-path={ns}",)
    assert _log(w) == [f"netns add rkt-{UUID}"]
    assert pending is not None and netinfo.load_info(w["pod"]) == ()
    infos = pending.attach()
    assert [i.ip for i in infos] == ["172.16.28.5"] and netinfo.load_info(w["pod"]) == infos
    assert _log(w)[1:] == [f"ptp ADD {UUID} {ns} eth0 [] {':'.join(net.plugin_dirs(w['cfg']))}"]


def test_begin_checks_every_network_before_making_anything(fake_world: dict[str, Path]) -> None:
    w = fake_world
    with pytest.raises(RktError, match="networks not found"):
        net.begin(w["pod"], UUID, ("ptp0", "nowhere"), w["cfg"])
    assert _log(w) == [] and not net.has_network(w["pod"])


# --- port forwarding ---------------------------------------------------------------------------

FWD = ports.Forward("tcp", 8888, 80)


def test_chain_names() -> None:
    assert ports.chain("DNAT", UUID) == "RKT-PFWD-DNAT-56c007f8"
    assert ports.chain("SNAT", UUID) == "RKT-PFWD-SNAT-56c007f8"


def test_rules_as_rkt_makes_them() -> None:
    assert ports.jump_rules(UUID) == [
        ("POSTROUTING", ("-s", "127.0.0.1", "!", "-d", "127.0.0.1", "-j",
                         "RKT-PFWD-SNAT-56c007f8")),
        ("PREROUTING", ("-m", "addrtype", "--dst-type", "LOCAL", "-j",
                        "RKT-PFWD-DNAT-56c007f8")),
        ("OUTPUT", ("-m", "addrtype", "--dst-type", "LOCAL", "-j", "RKT-PFWD-DNAT-56c007f8")),
    ]
    assert ports.port_rules(FWD, "172.16.28.2", UUID) == [
        ("RKT-PFWD-DNAT-56c007f8", ("-d", "0.0.0.0/0", "-p", "tcp", "--dport", "8888", "-j",
                                    "DNAT", "--to-destination", "172.16.28.2:80")),
        ("RKT-PFWD-SNAT-56c007f8", ("-p", "tcp", "-s", "127.0.0.1", "-d", "172.16.28.2",
                                    "--dport", "80", "-j", "MASQUERADE")),
    ]


def test_iptables_argv() -> None:
    rule = ports.jump_rules(UUID)[1]
    assert ports.iptables("-I", rule) == [
        "iptables", "-w", "-t", "nat", "-I", "PREROUTING", "1", "-m", "addrtype",
        "--dst-type", "LOCAL", "-j", "RKT-PFWD-DNAT-56c007f8"]
    assert ports.iptables("-D", rule)[4:6] == ["-D", "PREROUTING"]
    assert ports.chain_argv("-X", "RKT-PFWD-DNAT-56c007f8") == [
        "iptables", "-w", "-t", "nat", "-X", "RKT-PFWD-DNAT-56c007f8"]


def test_restore_scripts() -> None:
    assert ports.restore_script(UUID, "172.16.28.2", [FWD]) == "\n".join([
        "*nat",
        ":RKT-PFWD-DNAT-56c007f8 - [0:0]",
        ":RKT-PFWD-SNAT-56c007f8 - [0:0]",
        "-I POSTROUTING 1 -s 127.0.0.1 ! -d 127.0.0.1 -j RKT-PFWD-SNAT-56c007f8",
        "-I PREROUTING 1 -m addrtype --dst-type LOCAL -j RKT-PFWD-DNAT-56c007f8",
        "-I OUTPUT 1 -m addrtype --dst-type LOCAL -j RKT-PFWD-DNAT-56c007f8",
        "-A RKT-PFWD-DNAT-56c007f8 -d 0.0.0.0/0 -p tcp --dport 8888 -j DNAT "
        "--to-destination 172.16.28.2:80",
        "-A RKT-PFWD-SNAT-56c007f8 -p tcp -s 127.0.0.1 -d 172.16.28.2 --dport 80 -j MASQUERADE",
        "COMMIT", ""])
    assert ports.unrestore_script(UUID) == "\n".join([
        "*nat",
        "-D POSTROUTING -s 127.0.0.1 ! -d 127.0.0.1 -j RKT-PFWD-SNAT-56c007f8",
        "-D PREROUTING -m addrtype --dst-type LOCAL -j RKT-PFWD-DNAT-56c007f8",
        "-D OUTPUT -m addrtype --dst-type LOCAL -j RKT-PFWD-DNAT-56c007f8",
        "-F RKT-PFWD-DNAT-56c007f8", "-F RKT-PFWD-SNAT-56c007f8",
        "-X RKT-PFWD-DNAT-56c007f8", "-X RKT-PFWD-SNAT-56c007f8",
        "COMMIT", ""])


def _app(name: str, ports_json: list[dict[str, Any]]) -> RuntimeApp:
    m = ImageManifest.from_json({"acKind": "ImageManifest", "acVersion": "0.8.11",
                                 "name": f"example.com/{name}",
                                 "app": {"exec": ["/x"], "user": "0", "group": "0",
                                         "ports": ports_json}})
    assert m.app is not None
    return RuntimeApp(name, ImageRef(m.name, "sha512-" + "0" * 64, m.labels), m.app)


def test_only_ordinary_ports_are_forwarded() -> None:
    app = _app("web", [{"name": "http", "protocol": "tcp", "port": 80},
                       {"name": "dns", "protocol": "udp", "port": 53},
                       {"name": "80-tcp", "protocol": "tcp", "port": 8000,
                        "socketActivated": True}])
    manifest = PodManifest((app,), (ExposedPort("http", 8888), ExposedPort("dns", 5353),
                                    ExposedPort("80-tcp", 8080)))
    assert stage0.forwards(manifest) == (ports.Forward("tcp", 8888, 80),
                                         ports.Forward("udp", 5353, 53))


@pytest.mark.parametrize("flags,message", [
    ((("http", 1), ("http", 2)), "duplicate --port for 'http'"),
    ((("http", 8080), ("dns", 8080)), "duplicate host port 8080"),
    ((("https", 443),), "not declared"),
    ((("http", 0),), "out of range"),
])
def test_bad_port_flags(flags: tuple[tuple[str, int], ...], message: str) -> None:
    app = _app("web", [{"name": "http", "protocol": "tcp", "port": 80},
                       {"name": "dns", "protocol": "udp", "port": 53}])
    with pytest.raises(RktError, match=message):
        stage0.exposed_ports((app,), flags)


# --- socket units ------------------------------------------------------------------------------


def test_socket_unit_rendering() -> None:
    tcp = Port("80-tcp", stage1.Protocol.TCP, 80, socket_activated=True)
    udp = Port("53-udp", stage1.Protocol.UDP, 53, socket_activated=True)
    assert stage1.socket_unit("my-socket-activated-app", [(tcp, 8080), (udp, 5353)]) == """\
[Unit]
Description=Application=my-socket-activated-app sockets
DefaultDependencies=no
Before=sockets.target
Conflicts=exit.target halt.target poweroff.target
Before=exit.target halt.target poweroff.target shutdown.target

[Socket]
BindIPv6Only=both
Service=my-socket-activated-app.service
ListenStream=8080
ListenDatagram=5353
"""


def test_socket_units_in_the_pod() -> None:
    app = _app("my-socket-activated-app", [{"name": "80-tcp", "protocol": "tcp", "port": 80,
                                            "socketActivated": True}])
    other = _app("web", [{"name": "http", "protocol": "tcp", "port": 80}])
    port = app.app.ports[0]
    opts = {app.name: stage1.AppUnitOptions(uid=0, gid=0, socket_ports=((port, 8080),)),
            other.name: stage1.AppUnitOptions(uid=0, gid=0)}
    files = stage1.units([app, other], opts)
    assert "ListenStream=8080" in files["my-socket-activated-app.socket"].splitlines()
    assert "web.socket" not in files
    service = files["my-socket-activated-app.service"].splitlines()
    assert "Requires=my-socket-activated-app.socket" in service
    assert "After=my-socket-activated-app.socket" in service
    assert stage1.socket_wants([app, other], opts) == ["my-socket-activated-app.socket"]
    assert "Wants=sockets.target" in files["default.target"].splitlines()
    # loaded with -.slice, so the pod's systemd gives it the socket nspawn passed
    assert files["-.slice.d/10-rkt-sockets.conf"] == \
        "[Unit]\nBefore=my-socket-activated-app.socket\n"


def test_no_socket_units_without_socket_activated_ports() -> None:
    other = _app("web", [{"name": "http", "protocol": "tcp", "port": 80}])
    files = stage1.units([other], {other.name: stage1.AppUnitOptions(uid=0, gid=0)})
    assert not any(f.endswith(".socket") or f.startswith("-.slice") for f in files)
