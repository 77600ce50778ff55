"""Steps about rkt's API service (gRPC v1alpha.PublicAPI), asked from inside the VM.

The client is python3-grpcio in the VM with protobuf decoded by hand from rkt's
api/v1alpha/api.proto field numbers, independent of the runtime under test: it judges
rkt_ref and the real rkt alike.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pytest_bdd import given, then, when

from steps.parse import parse_rkt_status
from steps.query import show
from steps.vocab import Pod, step
from vm.machine import Machine

API_UNIT = "rkt-api-service.service"
API_START = 90.0

# Prints {"inspect": pod, "list": [pods]} as JSON for the pod UUID: InspectPod(
# InspectPodRequest{id=1}) -> InspectPodResponse{pod=1}, and ListPods with a
# PodFilter{ids=1}, to see that the pod is listed too. Pod{id=1, pid=2 (sint32), state=3,
# apps=4 (App{name=1}), networks=5 (Network{name=1, ipv4=2}), cgroup=8, created_at=9,
# started_at=10, gc_marked_at=11}. With a number of seconds after the UUID, it asks again
# until the pod has a gc_marked_at or the time is up: one process for the whole wait,
# since importing grpc takes seconds under emulation.
_CLIENT = r"""
import json, sys, time, grpc
def varint(b, i):
    n = s = 0
    while True:
        c = b[i]; i += 1; n |= (c & 0x7f) << s; s += 7
        if c < 0x80: return n, i
def fields(b):
    i = 0
    while i < len(b):
        key, i = varint(b, i); num, wt = key >> 3, key & 7
        if wt == 0: v, i = varint(b, i)
        elif wt == 2: n, i = varint(b, i); v = b[i:i + n]; i += n
        elif wt == 1: v = b[i:i + 8]; i += 8
        elif wt == 5: v = b[i:i + 4]; i += 4
        else: raise SystemExit("bad wire type")
        yield num, v
def s64(n): return n - (1 << 64) if n >= 1 << 63 else n
TIMES = {9: "created_at", 10: "started_at", 11: "gc_marked_at"}
def pod(b):
    out = {"apps": [], "networks": [], "pid": 0, "state": 0, "created_at": 0, "started_at": 0,
           "gc_marked_at": 0, "cgroup": ""}
    for num, v in fields(b):
        if num == 1: out["id"] = v.decode()
        elif num == 2: out["pid"] = (v >> 1) ^ -(v & 1)
        elif num == 3: out["state"] = v
        elif num == 4: out["apps"].append(dict(fields(v)).get(1, b"").decode())
        elif num == 5:
            net = dict(fields(v))
            out["networks"].append(f'{net.get(1, b"").decode()}:ip4={net.get(2, b"").decode()}')
        elif num == 8: out["cgroup"] = v.decode()
        elif num in TIMES: out[TIMES[num]] = s64(v)
    return out
uuid = sys.argv[1].encode()
deadline = time.monotonic() + float(sys.argv[2] if len(sys.argv) > 2 else 0)
req = b"\x0a" + bytes([len(uuid)]) + uuid
chan = grpc.insecure_channel("localhost:15441")
inspect = chan.unary_unary("/v1alpha.PublicAPI/InspectPod")
while True:
    try:
        got = pod(dict(fields(inspect(req, timeout=30)))[1])
    except grpc.RpcError:
        if time.monotonic() >= deadline: raise
        got = None
    if got and (got["gc_marked_at"] or time.monotonic() >= deadline): break
    time.sleep(0.5)
filters = b"\x0a" + bytes([len(req)]) + req
listed = chan.unary_unary("/v1alpha.PublicAPI/ListPods")(filters, timeout=30)
print(json.dumps({"inspect": got, "list": [pod(v) for n, v in fields(listed) if n == 1]}))
"""

# api.proto's PodState numbers, by the state names `rkt status` prints.
POD_STATES = {"embryo": 1, "preparing": 2, "prepared": 3, "running": 4, "aborted prepare": 5,
              "exited": 6, "deleting": 7, "garbage": 8, "exited garbage": 8}


def _ask(vm: Machine, uuid: str, until_marked: float = 0) -> dict[str, Any]:
    """What the service says of the pod (InspectPod) and lists for it (ListPods)."""
    __tracebackhide__ = True
    args = [uuid, f"{until_marked:.0f}"] if until_marked else [uuid]
    result = vm.run(["python3", "-c", _CLIENT, *args], timeout=until_marked + 120)
    assert result.ok, f"asking the API service failed:\n{result.describe()}"
    vm.record(f"API about {uuid}", result.stdout)
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def start_api_service(vm: Machine) -> None:
    """`rkt api-service` as a transient unit; returns once it logged that it runs."""
    if show(vm, API_UNIT, "ActiveState")["ActiveState"] != "active":
        vm.check_output(["systemd-run", f"--unit={API_UNIT}", "rkt", "api-service"])

    def running() -> bool:
        log = vm.run(["journalctl", "--no-pager", "-o", "cat", "-u", API_UNIT]).stdout
        return "API service running" in log

    vm.wait_until(running, timeout=API_START, what="rkt api-service to log 'API service running'")


@given("the API service is running")
@when("I start the API service")
def api_running(vm: Machine) -> None:
    start_api_service(vm)


def stop_began_s(vm: Machine, unit: str) -> int:
    """When systemd began stopping the unit, in seconds since the epoch, from the journal:
    once inactive, the unit may be unloaded and `systemctl show` forgets its timestamps."""
    out = vm.check_output(["journalctl", "--no-pager", "-o", "json", f"UNIT={unit}",
                           "JOB_TYPE=stop"])
    entries = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert entries, f"the journal has no stop job of {unit}"
    return int(entries[0]["__REALTIME_TIMESTAMP"]) // 1_000_000


@then("the API service reports a gc_marked_at for the pod no earlier than the stop")
def api_gc_marked_at(vm: Machine, pod: Pod) -> None:
    start_api_service(vm)
    stop_began = stop_began_s(vm, pod.unit)

    got = _ask(vm, pod.uuid, until_marked=60)["inspect"]
    ns = int(got["gc_marked_at"])
    assert ns, f"the API service reported no gc_marked_at within 60 s: {got}"
    # ExecStopPost ran `rkt gc --mark-only` after the stop began, within the stop timeout.
    assert stop_began <= ns // 1_000_000_000 <= stop_began + 120, (ns, stop_began)
    assert got["state"] == POD_STATES["exited garbage"], got


def _status_ns(text: str) -> int:
    """rkt status's '2026-11-28 22:16:18.116 +0000 UTC' as ns (millisecond precision)."""
    stamp = text.removesuffix(" UTC")
    fmt = "%Y-%m-%d %H:%M:%S.%f %z" if "." in stamp.split()[1] else "%Y-%m-%d %H:%M:%S %z"
    return int(datetime.strptime(stamp, fmt).timestamp() * 1000) * 1_000_000


@then(step('the API service reports the pod as "rkt status" does'))
def api_matches_status(vm: Machine, pod: Pod) -> None:
    status = parse_rkt_status(vm.check_output(["rkt", "status", pod.uuid]))
    vm.record("rkt status", "\n".join(f"{k}={v}" for k, v in status.items()))
    answer = _ask(vm, pod.uuid)
    got = answer["inspect"]
    assert got["id"] == pod.uuid
    assert got["state"] == POD_STATES[status["state"]], (got, status)
    assert got["pid"] == int(status["pid"]), (got, status)
    for key in ("created", "started"):
        api_ms = got[f"{key}_at"] // 1_000_000
        assert abs(api_ms - _status_ns(status[key]) // 1_000_000) <= 1, (key, got, status)
    # rkt status prints networks=NAME:ip4=ADDR,...
    nets = [n for n in status.get("networks", "").split(",") if n]
    assert sorted(got["networks"]) == sorted(nets), (got, status)
    assert got["gc_marked_at"] == 0, got
    assert got["cgroup"], got  # a running pod has one
    listed = answer["list"]
    assert [p["id"] for p in listed] == [pod.uuid], listed
    assert listed[0]["state"] == got["state"], listed
