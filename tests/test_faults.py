"""Lifecycle fault injection in a real VM: SIGKILL at each stage, then the truth and recovery.

Each case starts an rkt command in the guest, polls for a marker that proves the stage
was reached (an import's work directory being filled, the app's rootfs mounted in a
preparing pod, the CNI plugin running as rkt's child, the pod up and ready, the app
stopped by `rkt stop`, gc's CNI DEL running) and sends SIGKILL there, not after a
guessed sleep. Then:

- `rkt list` exits 0 and tells the truth (a pod whose nspawn or rkt died is not
  running, a half-prepared pod is an aborted prepare), and no lock is left held;
- `rkt gc --grace-period=0s`, run as often as its two phases need (at most twice), leaves
  nothing: no pod directory, no mount under /var/lib/rkt, no network namespace, no link
  but the VM's own, no CNI address reservation or iptables chain, no cgroup under
  machine.slice, no registered machine, no process of a pod;
- the store still works: `rkt image list`, and a new `rkt run` of the same image.

Pods start as from an interactive shell (`systemd-run --scope`), not as a service: rkt
then gets no --keep-unit and machined puts the pod in machine.slice, where a killed
nspawn leaves it running. One VM serves every case; each cleans up after itself.

These boot a real VM, so they run only where qemu and the cached image and saved state
already exist; elsewhere they skip, saying so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.vmready import why_no_vm
from vm.machine import Machine
from vm.result import CommandResult
from vm.runtime import Runtime

pytestmark = pytest.mark.skipif(why_no_vm() is not None, reason=str(why_no_vm()))

MYAPP = "myapp.com/myapp-1.3.4"  # shows its environment, then loops until SIGTERM
MYAPP_ACI = "/srv/aci/myapp.aci"
REDIS = "registry-1.docker.io/library/redis"
REDIS_ACI = "/srv/aci/redis.aci"
EXIT_0 = ("--exec", "/bin/sh", "--", "-c", "exit 0")  # myapp, made short-lived
# Under TCG, with other VMs on the same two cores, one pod start can take a minute.
POD_TIMEOUT = 600

# What every guest script starts with. probe() is defined by each fault script: it sets
# $hit to a description of the marker once the stage is reached.
PRELUDE = r"""
set -u
PODS=/var/lib/rkt/pods
W=/tmp/faults
mkdir -p $W
# alive PID: the process exists and is not a zombie (our own children stay zombies
# until waited for)
alive() {
    read -r st < /proc/$1/stat 2>/dev/null || return 1
    st=${st##*) }
    [ "${st%% *}" != Z ]
}
# inject CMD VICTIM: poll probe until it sets $hit or CMD ends; at the marker, SIGKILL
# VICTIM (a pid, or the name of a variable probe set to one), then reap CMD.
inject() {
    hit=""
    while alive "$1"; do probe; [ -n "$hit" ] && break; done
    if [ -z "$hit" ]; then
        wait "$1"; echo "marker=none (the command ended first, status $?)"; return 1
    fi
    case $2 in *[!0-9]*) eval "victim=\$$2" ;; *) victim=$2 ;; esac
    comm=gone; read -r comm < /proc/$victim/comm 2>/dev/null || true
    kill -9 "$victim"
    echo "marker=$hit"
    echo "killed=$victim ($comm)"
    wait "$1"; echo "rc=$?"
}
# plugins_done: a CNI plugin rkt started may outlive it; let it finish its work
plugins_done() {
    n=600
    while pgrep -x ptp > /dev/null || pgrep -x host-local > /dev/null; do
        n=$((n - 1)); [ $n -gt 0 ] || { echo "plugin-still-running=yes"; return 1; }
        sleep 0.1
    done
}
# start_pod IMAGE ARGS...: `rkt run` in the background, as from a shell; sets $runpid, $u
start_pod() {
    rm -f $W/uuid
    systemd-run --scope --quiet rkt run --uuid-file-save=$W/uuid "$@" \
        > $W/run.out 2>&1 &
    runpid=$!
    while [ ! -s $W/uuid ]; do
        alive $runpid || { echo "rkt run failed:"; cat $W/run.out; return 1; }
        sleep 0.1
    done
    u=$(cat $W/uuid)
    echo "uuid=$u"
}
"""

# The state of the guest, section by section; after recovery every section but links
# must be empty, and links must be what the VM had before any pod.
INSPECT = r"""
echo "== pod dirs"; find /var/lib/rkt/pods -mindepth 2 -maxdepth 2
echo "== mounts"; awk '$5 ~ "^/var/lib/rkt/" || $5 ~ "^/run/netns/" {print $5}' /proc/self/mountinfo
echo "== netns"; ip netns list
echo "== links"; ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}'
echo "== cgroups"; ls /sys/fs/cgroup/machine.slice | grep '^machine-' || true
echo "== machines"; machinectl list --no-legend | awk 'NF {print $1}'
echo "== pod processes"; grep -lzx 'container=rkt' /proc/[0-9]*/environ 2>/dev/null || true
echo "== rkt processes"; pgrep -a -x 'systemd-nspawn|ptp|host-local' || true
echo "== ip reservations"
ls /var/lib/cni/networks/default 2>/dev/null | grep -v -e '^lock$' -e '^last_reserved_ip' || true
echo "== iptables"; iptables -t nat -S | grep -e 'CNI-' -e 'RKT-' || true
echo "== store leftovers"; ls /var/lib/rkt/cas/tmp 2>/dev/null || true
"""
KINDS = ("pod dirs", "mounts", "netns", "links", "cgroups", "machines", "pod processes",
         "rkt processes", "ip reservations", "iptables", "store leftovers")

# The truth after a fault: `rkt list` as JSON (it must exit 0), the locks still held,
# and the state of the guest.
TRUTH = r"""
echo "== list"; rkt list --format=json; echo "== list rc"; echo $?
echo "== held locks"
for d in /var/lib/rkt/pods/*/*/ /var/lib/rkt/cas/lock; do
    [ -e "$d" ] || continue
    flock -n -x "$d" true || echo "$d"
done
""" + INSPECT

# `rkt gc --grace-period=0s`, then the state of the guest.
GC = r"""
rkt gc --grace-period=0s > $W/gc.out 2> $W/gc.err
echo "== gc rc"; echo $?
echo "== gc stdout"; cat $W/gc.out
echo "== gc stderr"; cat $W/gc.err
""" + INSPECT

# `rkt image list`, a new pod of $1 with the default network (so CNI and IPAM are
# exercised too), gc, and the state of the guest.
VERIFY = r"""
echo "== images"; rkt image list --format=json; echo "== images rc"; echo $?
systemd-run --scope --quiet rkt run --net=default "$@" > $W/verify.out 2>&1
echo "== run rc"; echo $?
echo "== run output"; cat $W/verify.out
rkt gc --grace-period=0s > $W/verify-gc.out 2>&1
echo "== gc rc"; echo $?
echo "== gc output"; cat $W/verify-gc.out
""" + INSPECT


@dataclass
class Fault:
    """One SIGKILL and what it hit."""

    stage: str
    marker: str
    killed: str
    notes: list[str] = field(default_factory=list)


FAULTS: list[Fault] = []


@dataclass
class Observed:
    """What a guest script reported: key=value lines, then `== name` sections."""

    result: CommandResult
    fields: dict[str, str]
    sections: dict[str, list[str]]

    @classmethod
    def of(cls, result: CommandResult) -> Observed:
        head, _, _ = ("\n" + result.stdout).partition("\n== ")
        fields: dict[str, str] = {}
        for line in head.splitlines():
            key, eq, value = line.partition("=")
            if eq and key.replace("-", "").isalnum():
                fields.setdefault(key, value)
        sections: dict[str, list[str]] = {}
        current: list[str] | None = None
        for line in result.stdout.splitlines():
            if line.startswith("== "):
                current = sections.setdefault(line[3:].strip(), [])
            elif current is not None and line.strip():
                current.append(line.rstrip())
        return cls(result, fields, sections)

    def leftovers(self, own_links: list[str]) -> dict[str, list[str]]:
        """Whatever pods left in the guest, by kind; empty when all is clean."""
        __tracebackhide__ = True
        assert all(k in self.sections for k in KINDS), self.result.describe()
        left = {k: self.sections[k] for k in KINDS if k != "links" and self.sections[k]}
        extra = sorted(set(self.sections["links"]) - set(own_links))
        if extra:
            left["links"] = extra
        return left

    def listing(self) -> list[dict[str, Any]]:
        """`rkt list --format=json`, which must have exited 0."""
        __tracebackhide__ = True
        assert self.sections.get("list rc") == ["0"], self.result.describe()
        pods = json.loads("\n".join(self.sections["list"]))
        assert isinstance(pods, list)
        return pods


@dataclass
class Guest:
    machine: Machine
    links: list[str]  # the VM's own network links, before any pod

    def sh(self, script: str, *args: str, timeout: float = POD_TIMEOUT) -> Observed:
        """A guest shell script with PRELUDE, its arguments as $1, $2, ..."""
        return Observed.of(self.machine.run(
            ["/bin/sh", "-c", PRELUDE + script, "faults", *args], timeout=timeout))

    def assert_clean(self, seen: Observed, after: str) -> None:
        __tracebackhide__ = True
        left = seen.leftovers(self.links)
        assert not left, f"after {after}, left behind: {json.dumps(left, indent=1)}"

    def gc_until_clean(self) -> list[Observed]:
        """`rkt gc --grace-period=0s` as often as its two phases need, at most twice;
        then nothing of any pod is left."""
        __tracebackhide__ = True
        runs: list[Observed] = []
        for _ in range(2):
            seen = self.sh(GC, timeout=300)
            assert seen.sections.get("gc rc") == ["0"], seen.result.describe()
            runs.append(seen)
            if not seen.sections.get("pod dirs"):
                break
        self.assert_clean(runs[-1], f"{len(runs)} x rkt gc --grace-period=0s")
        return runs

    def assert_store_works(self, image: str, *exec_args: str) -> None:
        """`rkt image list` shows the image, a new pod of it runs and exits 0, and gc
        then leaves nothing."""
        __tracebackhide__ = True
        seen = self.sh(VERIFY, image, *exec_args)
        assert seen.sections.get("images rc") == ["0"], seen.result.describe()
        images = json.loads("\n".join(seen.sections["images"]))
        assert image in [i["name"].split(":")[0] for i in images], images
        assert seen.sections.get("run rc") == ["0"], \
            f"a new rkt run of {image} failed:\n{seen.result.describe()}"
        assert seen.sections.get("gc rc") == ["0"], seen.result.describe()
        self.assert_clean(seen, f"a new rkt run of {image} and rkt gc")


def the_pod(pods: list[dict[str, Any]], uuid: str) -> dict[str, Any]:
    """The listing's one entry for uuid (listed exactly once)."""
    __tracebackhide__ = True
    mine = [p for p in pods if p["name"] == uuid]
    assert len(mine) == 1, f"pod {uuid} is listed {len(mine)} times: {pods}"
    return mine[0]


def injected(seen: Observed, stage: str, status: str = "137") -> Fault:
    """The fault a script reports; fails unless its marker was reached and the command
    ended with `status` (137: the SIGKILL landed on it). The script then reports the
    truth (TRUTH)."""
    __tracebackhide__ = True
    marker = seen.fields.get("marker", "none")
    assert not marker.startswith("none"), f"{stage}: no marker reached\n" \
        + seen.result.describe()
    assert seen.fields.get("rc") == status, f"{stage}: the command did not end with " \
        f"status {status}\n" + seen.result.describe()
    assert "plugin-still-running" not in seen.fields, seen.result.describe()
    assert seen.sections.get("held locks") == [], seen.result.describe()
    fault = Fault(stage, marker, seen.fields.get("killed", "?"))
    FAULTS.append(fault)
    return fault


@pytest.fixture(scope="module")
def guest() -> Iterator[Guest]:
    machine = Machine.create("qemu", Runtime(None))
    try:
        machine.check_output(["rkt", "--insecure-options=image", "fetch", MYAPP_ACI],
                             timeout=300)
        g = Guest(machine, [])
        seen = g.sh(INSPECT, timeout=120)
        g.links = seen.sections["links"]
        g.assert_clean(seen, "the VM's boot")
        yield g
    finally:
        machine.shutdown()
        if FAULTS:
            print("\nfaults injected:")
            for f in FAULTS:
                what = f"SIGKILL to {f.killed} at: " if f.killed else ""
                print(f"  {f.stage}: {what}{f.marker}"
                      + "".join(f"\n    {n}" for n in f.notes))


# --- the cases ------------------------------------------------------------------------


def test_fetch_killed_while_extracting_the_image(guest: Guest) -> None:
    seen = guest.sh(r"""
rkt --insecure-options=image fetch "$1" > $W/fetch.out 2>&1 &
cmd=$!
probe() {
    for d in /var/lib/rkt/cas/tmp/import-*/tree; do
        [ -e "$d" ] && hit="import extracting into ${d%/tree}"
    done
}
inject $cmd $cmd
echo "== images"; rkt image list --format=json; echo "== images rc"; echo $?
""" + TRUTH, REDIS_ACI)
    fault = injected(seen, "fetch")
    fault.notes.append(f"left in the store: {seen.sections['store leftovers']}")
    assert seen.sections["images rc"] == ["0"], seen.result.describe()
    names = [i["name"].split(":")[0] for i in json.loads("\n".join(seen.sections["images"]))]
    assert REDIS not in names, "a half-imported image is listed"
    assert MYAPP in names
    assert seen.listing() == []
    # The store takes the same image again, and the killed import's work is swept away.
    guest.machine.check_output(["rkt", "--insecure-options=image", "fetch", REDIS_ACI],
                               timeout=300)
    guest.assert_store_works(REDIS, "--exec", "/usr/local/bin/redis-server", "--",
                             "--version")


def test_prepare_killed_with_the_app_rootfs_mounted(guest: Guest) -> None:
    seen = guest.sh(r"""
rkt prepare "$1" > $W/prepare.out 2>&1 &
cmd=$!
probe() {
    for d in $PODS/prepare/*/stage1/rootfs/opt/stage2/*/rootfs/bin; do
        [ -e "$d" ] && hit="app rootfs mounted at ${d%/bin}"
    done
}
inject $cmd $cmd
""" + TRUTH, MYAPP)
    fault = injected(seen, "prepare")
    uuid = fault.marker.split("/prepare/")[1].split("/")[0]
    fault.notes.append(f"left before gc: {json.dumps(seen.leftovers(guest.links))}")
    assert the_pod(seen.listing(), uuid)["state"] == "aborted prepare"
    guest.gc_until_clean()
    guest.assert_store_works(MYAPP, *EXIT_0)


def test_run_killed_while_the_cni_plugin_runs(guest: Guest) -> None:
    # rkt makes the pod's networks in a worker process while the pod boots; the worker is
    # killed while its CNI plugin adds the default network. The pod must end by itself,
    # with rkt's failure status, rather than run its apps without their network.
    seen = guest.sh(r"""
start_pod "$1" || exit 1
probe() {
    for p in $(pgrep -x ptp); do
        worker=$(ps -o ppid= -p $p | tr -d ' ')
        [ "$(cat /proc/$worker/comm 2>/dev/null)" = rkt ] &&
            hit="CNI plugin ptp (pid $p) adding rkt-$u, run by rkt's network worker (pid $worker)"
    done
}
inject $runpid worker
plugins_done
""" + TRUTH, MYAPP)
    fault = injected(seen, "run (network worker)", status="254")
    fault.notes.append(f"left before gc: {json.dumps(seen.leftovers(guest.links))}")
    assert the_pod(seen.listing(), seen.fields["uuid"])["state"] == "exited"
    guest.gc_until_clean()
    guest.assert_store_works(MYAPP, *EXIT_0)


def test_nspawn_killed_while_the_pod_runs(guest: Guest) -> None:
    seen = guest.sh(r"""
start_pod "$1" || exit 1
rkt status --wait-ready=300s "$u" > $W/status.out 2>&1 || { cat $W/status.out; exit 1; }
pid=$(cat $PODS/run/$u/pid)
tr '\0' ' ' < /proc/$pid/cmdline | grep -q "systemd-nspawn .*--uuid=$u " ||
    { echo "pid $pid is not the pod's nspawn"; exit 1; }
probe() { hit="pod ready (rkt status --wait-ready), its systemd-nspawn is pid $pid"; }
inject $runpid $pid
leader=$(machinectl show --property=Leader --value rkt-$u 2>/dev/null)
[ -n "$leader" ] && alive "$leader" && echo "outlived=the pod's systemd (pid $leader)"
""" + TRUTH, MYAPP)
    fault = injected(seen, "run (pod running)")
    fault.notes.append(f"outlived nspawn: {seen.fields.get('outlived', 'nothing')}; left "
                       f"before gc: {json.dumps(seen.leftovers(guest.links))}")
    assert the_pod(seen.listing(), seen.fields["uuid"])["state"] == "exited"
    runs = guest.gc_until_clean()
    if "outlived" in seen.fields:
        assert any("outlived its nspawn" in line for line in runs[0].sections["gc stderr"]), \
            runs[0].result.describe()
    guest.assert_store_works(MYAPP, *EXIT_0)


def test_stop_killed_while_the_pod_stops(guest: Guest) -> None:
    seen = guest.sh(r"""
app=$2
start_pod "$1" || exit 1
rkt status --wait-ready=300s "$u" > $W/status.out 2>&1 || { cat $W/status.out; exit 1; }
nspawn=$(cat $PODS/run/$u/pid)
rkt stop "$u" > $W/stop.out 2>&1 &
cmd=$!
probe() {
    [ -e $PODS/run/$u/stage1/rootfs/rkt/status/$app ] &&
        hit="app stopped by rkt stop's SIGTERM (exit status recorded)"
}
inject $cmd $cmd
alive $nspawn && echo "nspawn-at-kill=still shutting down the pod"
wait $runpid; echo "run-rc=$?"
""" + TRUTH, MYAPP, "myapp-1-3-4")
    fault = injected(seen, "stop")
    left = seen.leftovers(guest.links)
    fault.notes.append(f"nspawn at kill: {seen.fields.get('nspawn-at-kill', 'gone')}; "
                       f"left before gc: {json.dumps(left)}")
    assert seen.fields.get("run-rc") == "0", seen.result.describe()  # stopped in order
    pod = the_pod(seen.listing(), seen.fields["uuid"])
    assert pod["state"] == "exited"
    assert [a.get("exit_code") for a in pod["apps"]] == [0], pod  # its SIGTERM trap
    guest.gc_until_clean()
    guest.assert_store_works(MYAPP, *EXIT_0)


def test_gc_killed_while_tearing_down_a_pods_network(guest: Guest) -> None:
    seen = guest.sh(r"""
rm -f $W/uuid
systemd-run --scope --quiet rkt run --net=default --uuid-file-save=$W/uuid "$@" \
    > $W/run.out 2>&1 || { cat $W/run.out; exit 1; }
u=$(cat $W/uuid); echo "uuid=$u"
rkt gc --grace-period=0s > $W/gc.out 2>&1 &
cmd=$!
probe() {
    if p=$(pgrep -x -P $cmd ptp); then hit="gc's CNI DEL (ptp, pid $p) for rkt-$u"
    elif [ -e $PODS/garbage/$u ]; then hit="gc deleting $PODS/garbage/$u"
    fi
}
inject $cmd $cmd
plugins_done
""" + TRUTH, MYAPP, *EXIT_0)
    fault = injected(seen, "gc")
    fault.notes.append(f"left before the next gc: {json.dumps(seen.leftovers(guest.links))}")
    pod = the_pod(seen.listing(), seen.fields["uuid"])
    assert pod["state"] in ("exited", "exited garbage", "deleting"), pod
    guest.gc_until_clean()
    guest.assert_store_works(MYAPP, *EXIT_0)


# Pod states in the order a pod goes through them in `rkt run`.
RUN_ORDER = ("embryo", "preparing", "running", "exited", "exited garbage", "deleting")


def test_concurrent_runs_and_gcs(guest: Guest) -> None:
    """Three `rkt run --net=none` of short-lived apps (exit statuses 0, 3, 5), two
    `rkt gc --grace-period=0s` loops and an `rkt list` loop, all at once."""
    codes = ("0", "3", "5")
    seen = guest.sh(r"""
img=$1; shift
rm -rf $W/cc; mkdir -p $W/cc
for code in "$@"; do
    ( systemd-run --scope --quiet rkt run --net=none --uuid-file-save=$W/cc/uuid.$code \
        "$img" --exec /bin/sh -- -c "exit $code" > $W/cc/run.$code.out 2>&1
      echo $? > $W/cc/rc.$code ) &
done
for g in 1 2; do
    ( n=0
      while [ ! -e $W/cc/stop ]; do
          n=$((n + 1))
          rkt gc --grace-period=0s > $W/cc/gc.$g.$n.out 2> $W/cc/gc.$g.$n.err
          echo $? > $W/cc/gc.$g.$n.rc
      done ) &
done
( n=0
  while [ ! -e $W/cc/stop ]; do
      n=$((n + 1))
      rkt list --format=json > $W/cc/list.$n.json 2> $W/cc/list.$n.err
      echo $? > $W/cc/list.$n.rc
  done ) &
n=$((500 * 2))
for code in "$@"; do
    while [ ! -e $W/cc/rc.$code ]; do
        n=$((n - 1)); [ $n -gt 0 ] || { echo "runs did not end"; break 2; }
        sleep 0.5
    done
done
touch $W/cc/stop
wait
cd $W/cc && for f in *; do echo "== $f"; cat "$f"; echo; done
""" + TRUTH, MYAPP, *codes, timeout=900)
    assert seen.result.rc == 0, seen.result.describe()
    files = seen.sections
    uuids = {code: files[f"uuid.{code}"][0] for code in codes}
    for code in codes:
        assert files[f"rc.{code}"] == [code], f"run exiting {code}:\n" \
            + "\n".join(files.get(f"run.{code}.out", []))
    gc_runs = sorted(k for k in files if k.startswith("gc.") and k.endswith(".rc"))
    list_runs = sorted((k for k in files if k.startswith("list.") and k.endswith(".rc")),
                       key=lambda k: int(k.split(".")[1]))
    assert gc_runs and list_runs
    for k in gc_runs + list_runs:
        assert files[k] == ["0"], f"{k}: {files.get(k[:-3] + '.err')}"
    # Every listing: one entry per pod, in a state its run passes through, never
    # going back (the listings ran one after another).
    history: dict[str, list[str]] = {}
    for k in list_runs:
        listing = json.loads("\n".join(files[k[:-3] + ".json"]))
        names = [p["name"] for p in listing]
        assert len(names) == len(set(names)), f"{k}: a pod is listed twice: {names}"
        for p in listing:
            assert p["state"] in RUN_ORDER, f"{k}: {p}"
            history.setdefault(p["name"], []).append(p["state"])
    for name, states in history.items():
        ranks = [RUN_ORDER.index(s) for s in states]
        assert ranks == sorted(ranks), f"pod {name} went back: {states}"
    collected = {line.split('"')[1] for k, v in files.items()
                 if k.startswith("gc.") and k.endswith(".out")
                 for line in v if line.startswith("Garbage collecting pod")}
    assert seen.sections.get("held locks") == [], seen.result.describe()
    pods = seen.listing()
    for code, uuid in uuids.items():
        listed = [p for p in pods if p["name"] == uuid]
        if uuid in collected:
            assert listed == [], f"pod {uuid} was collected but is listed: {listed}"
            continue
        pod = the_pod(pods, uuid)
        assert pod["state"] in ("exited", "exited garbage"), pod
        apps = pod["apps"]
        assert isinstance(apps, list)
        assert [a.get("exit_code") for a in apps] == [int(code)], pod
    assert not set(p["name"] for p in pods) - set(uuids.values())
    FAULTS.append(Fault("concurrency", f"{len(codes)} runs, {len(gc_runs)} gc runs and "
                        f"{len(list_runs)} listings at once; {len(collected)} pods "
                        "collected by the racing gcs", killed=""))
    guest.gc_until_clean()
    guest.assert_store_works(MYAPP, *EXIT_0)
