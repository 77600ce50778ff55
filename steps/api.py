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

# Prints the pod the service reports as JSON: InspectPod(InspectPodRequest{id=1}) ->
# InspectPodResponse{pod=1}; Pod{id=1, pid=2 (sint32), state=3, apps=4 (App{name=1}),
# networks=5 (Network{name=1, ipv4=2}), cgroup=8, created_at=9, started_at=10,
# gc_marked_at=11}. With "list", ListPods with a
# PodFilter{ids=1} instead, to see that the pod is listed too.
_CLIENT = r"""
import json, sys, grpc
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
uuid = sys.argv[2].encode()
req = b"\x0a" + bytes([len(uuid)]) + uuid
chan = grpc.insecure_channel("localhost:15441")
if sys.argv[1] == "list":
    call = chan.unary_unary("/v1alpha.PublicAPI/ListPods")
    filters = b"\x0a" + bytes([len(req)]) + req
    pods = [pod(v) for n, v in fields(call(filters, timeout=30)) if n == 1]
    print(json.dumps(pods))
else:
    call = chan.unary_unary("/v1alpha.PublicAPI/InspectPod")
    print(json.dumps(pod(dict(fields(call(req, timeout=30)))[1])))
"""

# api.proto's PodState numbers, by the state names `rkt status` prints.
POD_STATES = {"embryo": 1, "preparing": 2, "prepared": 3, "running": 4, "aborted prepare": 5,
              "exited": 6, "deleting": 7, "garbage": 8, "exited garbage": 8}


def _ask(vm: Machine, what: str, uuid: str) -> Any:
    result = vm.run(["python3", "-c", _CLIENT, what, uuid])
    if not result.ok:
        return None
    vm.record(f"API {what} {uuid}", result.stdout)
    return json.loads(result.stdout)


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

    def marked() -> int:
        got = _ask(vm, "inspect", pod.uuid)
        return int(got["gc_marked_at"]) if got else 0

    ns = vm.wait_until(marked, timeout=60, what="the API service to report gc_marked_at")
    # ExecStopPost ran `rkt gc --mark-only` after the stop began, within the stop timeout.
    assert stop_began <= ns // 1_000_000_000 <= stop_began + 120, (ns, stop_began)
    got = _ask(vm, "inspect", pod.uuid)
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
    got = _ask(vm, "inspect", pod.uuid)
    assert got is not None, "InspectPod failed"
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
    listed = _ask(vm, "list", pod.uuid)
    assert [p["id"] for p in listed] == [pod.uuid], listed
    assert listed[0]["state"] == got["state"], listed
