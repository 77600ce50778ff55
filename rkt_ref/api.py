"""`rkt api-service`: rkt's read-only gRPC API, v1alpha.PublicAPI, over grpcio.

The messages are those of rkt's api/v1alpha/api.proto, with rkt's field numbers (the
proto3 text is rkt_ref/api.proto), so rkt's own clients and any client generated from that
file talk to this service. They are encoded here by a small table-driven proto3 codec
rather than by protoc-generated modules: generated code is tied to the protobuf runtime
that made it (Debian 12's python3-protobuf is 3.21, a host's may be 4.x or 5.x), while the
wire format is fixed. grpcio only moves bytes, through the (de)serializers given below.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path

from . import APPC_VERSION, VERSION
from .errors import RktError, die
from .pod import Pod, Pods, State
from .record import mutable_record, record

TYPE_CHECKING = False  # typing is not imported at run time (see record.py)
if TYPE_CHECKING:
    from typing import Any

    from .store import ImageInfo, Store


DEFAULT_LISTEN = "localhost:15441"
SERVICE = "v1alpha.PublicAPI"
API_VERSION = "1.0.0"

# --- the proto3 codec -------------------------------------------------------------------

VARINT, I64, LEN, I32 = 0, 1, 2, 5
_SCALAR_VARINT = {"int32", "int64", "bool", "enum", "sint32"}


@record
class Field:
    """One field of a protobuf message of rkt's API (api/v1alpha/api.proto)."""

    number: int
    name: str
    kind: str  # string | bytes | bool | int32 | int64 | sint32 | enum | message
    repeated: bool = False
    message: str = ""  # the type of a "message" or "enum" field


def _f(number: int, name: str, kind: str, *, rep: bool = False, msg: str = "") -> Field:
    return Field(number, name, kind, rep, msg)


# Field numbers and types of rkt's api/v1alpha/api.proto.
SCHEMA: dict[str, tuple[Field, ...]] = {
    "ImageFormat": (_f(1, "type", "enum", msg="ImageType"), _f(2, "version", "string")),
    "Image": (
        _f(1, "base_format", "message", msg="ImageFormat"), _f(2, "id", "string"),
        _f(3, "name", "string"), _f(4, "version", "string"),
        _f(5, "import_timestamp", "int64"), _f(6, "manifest", "bytes"), _f(7, "size", "int64"),
        _f(8, "annotations", "message", rep=True, msg="KeyValue"),
        _f(9, "labels", "message", rep=True, msg="KeyValue"),
    ),
    "Network": (_f(1, "name", "string"), _f(2, "ipv4", "string"), _f(3, "ipv6", "string")),
    "App": (
        _f(1, "name", "string"), _f(2, "image", "message", msg="Image"),
        _f(3, "state", "enum", msg="AppState"), _f(4, "exit_code", "sint32"),
        _f(5, "annotations", "message", rep=True, msg="KeyValue"),
    ),
    "Pod": (
        _f(1, "id", "string"), _f(2, "pid", "sint32"), _f(3, "state", "enum", msg="PodState"),
        _f(4, "apps", "message", rep=True, msg="App"),
        _f(5, "networks", "message", rep=True, msg="Network"),
        _f(6, "manifest", "bytes"),
        _f(7, "annotations", "message", rep=True, msg="KeyValue"),
        _f(8, "cgroup", "string"), _f(9, "created_at", "int64"), _f(10, "started_at", "int64"),
        _f(11, "gc_marked_at", "int64"),
    ),
    "KeyValue": (_f(1, "Key", "string"), _f(2, "value", "string")),
    "PodFilter": (
        _f(1, "ids", "string", rep=True), _f(2, "states", "enum", rep=True, msg="PodState"),
        _f(3, "app_names", "string", rep=True), _f(4, "image_ids", "string", rep=True),
        _f(5, "network_names", "string", rep=True),
        _f(6, "annotations", "message", rep=True, msg="KeyValue"),
        _f(7, "cgroups", "string", rep=True), _f(8, "pod_sub_cgroups", "string", rep=True),
    ),
    "ImageFilter": (
        _f(1, "ids", "string", rep=True), _f(2, "prefixes", "string", rep=True),
        _f(3, "base_names", "string", rep=True), _f(4, "keywords", "string", rep=True),
        _f(5, "labels", "message", rep=True, msg="KeyValue"),
        _f(6, "imported_after", "int64"), _f(7, "imported_before", "int64"),
        _f(8, "annotations", "message", rep=True, msg="KeyValue"),
        _f(9, "full_names", "string", rep=True),
    ),
    "GlobalFlags": (
        _f(1, "dir", "string"), _f(2, "system_config_dir", "string"),
        _f(3, "local_config_dir", "string"), _f(4, "user_config_dir", "string"),
        _f(5, "insecure_flags", "string"), _f(6, "trust_keys_from_https", "bool"),
    ),
    "Info": (
        _f(1, "rkt_version", "string"), _f(2, "appc_version", "string"),
        _f(3, "api_version", "string"), _f(4, "global_flags", "message", msg="GlobalFlags"),
    ),
    "Event": (
        _f(1, "type", "enum", msg="EventType"), _f(2, "id", "string"), _f(3, "from", "string"),
        _f(4, "time", "int64"), _f(5, "data", "message", rep=True, msg="KeyValue"),
    ),
    "EventFilter": (
        _f(1, "types", "enum", rep=True, msg="EventType"), _f(2, "ids", "string", rep=True),
        _f(3, "names", "string", rep=True), _f(4, "since_time", "int64"),
        _f(5, "until_time", "int64"),
    ),
    "GetInfoRequest": (),
    "GetInfoResponse": (_f(1, "info", "message", msg="Info"),),
    "ListPodsRequest": (_f(1, "filters", "message", rep=True, msg="PodFilter"),
                        _f(2, "detail", "bool")),
    "ListPodsResponse": (_f(1, "pods", "message", rep=True, msg="Pod"),),
    "InspectPodRequest": (_f(1, "id", "string"),),
    "InspectPodResponse": (_f(1, "pod", "message", msg="Pod"),),
    "ListImagesRequest": (_f(1, "filters", "message", rep=True, msg="ImageFilter"),
                          _f(2, "detail", "bool")),
    "ListImagesResponse": (_f(1, "images", "message", rep=True, msg="Image"),),
    "InspectImageRequest": (_f(1, "id", "string"),),
    "InspectImageResponse": (_f(1, "image", "message", msg="Image"),),
    "ListenEventsRequest": (_f(1, "filter", "message", msg="EventFilter"),),
    "ListenEventsResponse": (_f(1, "events", "message", rep=True, msg="Event"),),
    "GetLogsRequest": (
        _f(1, "pod_id", "string"), _f(2, "app_name", "string"), _f(3, "lines", "int32"),
        _f(4, "follow", "bool"), _f(5, "since_time", "int64"), _f(6, "until_time", "int64"),
    ),
    "GetLogsResponse": (_f(1, "lines", "string", rep=True),),
}

ENUMS: dict[str, tuple[str, ...]] = {  # value names in number order, from 0
    "ImageType": ("IMAGE_TYPE_UNDEFINED", "IMAGE_TYPE_APPC", "IMAGE_TYPE_DOCKER",
                  "IMAGE_TYPE_OCI"),
    "AppState": ("APP_STATE_UNDEFINED", "APP_STATE_RUNNING", "APP_STATE_EXITED"),
    "PodState": ("POD_STATE_UNDEFINED", "POD_STATE_EMBRYO", "POD_STATE_PREPARING",
                 "POD_STATE_PREPARED", "POD_STATE_RUNNING", "POD_STATE_ABORTED_PREPARE",
                 "POD_STATE_EXITED", "POD_STATE_DELETING", "POD_STATE_GARBAGE"),
    "EventType": ("EVENT_TYPE_UNDEFINED", "EVENT_TYPE_POD_PREPARED",
                  "EVENT_TYPE_POD_PREPARE_ABORTED", "EVENT_TYPE_POD_STARTED",
                  "EVENT_TYPE_POD_EXITED", "EVENT_TYPE_POD_GARBAGE_COLLECTED",
                  "EVENT_TYPE_APP_STARTED", "EVENT_TYPE_APP_EXITED",
                  "EVENT_TYPE_IMAGE_IMPORTED", "EVENT_TYPE_IMAGE_REMOVED"),
}

# Enum values used below (numbers as in api.proto).
IMAGE_TYPE_APPC = 1
APP_STATE_UNDEFINED, APP_STATE_RUNNING, APP_STATE_EXITED = 0, 1, 2
POD_STATE = {
    State.EMBRYO: 1, State.PREPARING: 2, State.PREPARED: 3, State.RUNNING: 4,
    State.ABORTED_PREPARE: 5, State.EXITED: 6, State.DELETING: 7,
    # rkt reports a pod in exited-garbage/ as garbage too.
    State.EXITED_GARBAGE: 8,
}


class DecodeError(ValueError):
    pass


def proto_text() -> str:
    """The schema above as a proto3 file, for protoc-generated clients (and the tests)."""
    out = ['syntax = "proto3";', "", "package v1alpha;", ""]
    for name, values in ENUMS.items():
        out.append(f"enum {name} {{")
        out += [f"  {v} = {i};" for i, v in enumerate(values)]
        out += ["}", ""]
    for name, fields in SCHEMA.items():
        out.append(f"message {name} {{")
        for f in fields:
            kind = f.message if f.kind in ("message", "enum") else f.kind
            out.append(f"  {'repeated ' if f.repeated else ''}{kind} {f.name} = {f.number};")
        out += ["}", ""]
    out.append("service PublicAPI {")
    for method, (_attr, req, resp, streaming) in METHODS.items():
        out.append(f"  rpc {method} ({req}) returns ({'stream ' if streaming else ''}{resp}) {{}}")
    out += ["}", ""]
    return "\n".join(out)


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int32/int64 are sent as 64-bit two's complement
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise DecodeError("truncated or overlong varint")
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return n, i


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 31) if n < 0 else n << 1


def _unzigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _signed(n: int, bits: int) -> int:
    n &= (1 << 64) - 1
    if n >= 1 << 63:
        n -= 1 << 64
    if bits == 32:
        n = (n + (1 << 31)) % (1 << 32) - (1 << 31)
    return n


def _scalar(f: Field, v: Any) -> int:
    if f.kind == "sint32":
        return _zigzag(int(v))
    return int(v)


def encode(message: str, value: dict[str, Any]) -> bytes:
    """proto3 binary encoding; default values (0, "", b"", False, empty) are left out."""
    out = bytearray()
    for f in SCHEMA[message]:
        v = value.get(f.name)
        if v is None:
            continue
        items = list(v) if f.repeated else [v]
        if f.repeated and f.kind in _SCALAR_VARINT:
            if items:  # packed, as proto3 does by default
                body = b"".join(_varint(_scalar(f, x)) for x in items)
                out += _varint(f.number << 3 | LEN) + _varint(len(body)) + body
            continue
        for x in items:
            if f.kind in _SCALAR_VARINT:
                if not x and not f.repeated:
                    continue
                out += _varint(f.number << 3 | VARINT) + _varint(_scalar(f, x))
            else:
                if f.kind == "string":
                    body = str(x).encode()
                elif f.kind == "bytes":
                    body = bytes(x)
                else:
                    body = encode(f.message, x)
                if not body and not f.repeated and f.kind != "message":
                    continue
                out += _varint(f.number << 3 | LEN) + _varint(len(body)) + body
    return bytes(out)


def _default(f: Field) -> Any:
    if f.repeated:
        return []
    return {"string": "", "bytes": b"", "bool": False, "message": None}.get(f.kind, 0)


def decode(message: str, buf: bytes) -> dict[str, Any]:
    """The message as a dict holding every field (defaults for absent ones)."""
    fields = {f.number: f for f in SCHEMA[message]}
    out: dict[str, Any] = {f.name: _default(f) for f in fields.values()}
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == VARINT:
            raw, i = _read_varint(buf, i)
            chunk: bytes | None = None
        elif wt == LEN:
            n, i = _read_varint(buf, i)
            if i + n > len(buf):
                raise DecodeError("truncated length-delimited field")
            chunk, i = buf[i:i + n], i + n
        elif wt in (I64, I32):
            i += 8 if wt == I64 else 4
            if i > len(buf):
                raise DecodeError("truncated fixed-width field")
            continue  # the v1alpha API has no fixed-width fields: unknown, skipped
        else:
            raise DecodeError(f"unsupported wire type {wt}")
        f = fields.get(num)
        if f is None:
            continue  # unknown field: skipped, as proto3 does
        if f.kind in _SCALAR_VARINT:
            if chunk is not None:  # packed repeated (or a packed encoding of one)
                vals: list[int] = []
                j = 0
                while j < len(chunk):
                    x, j = _read_varint(chunk, j)
                    vals.append(x)
            else:
                vals = [raw]
            conv = [_convert(f, x) for x in vals]
            if f.repeated:
                out[f.name].extend(conv)
            elif conv:
                out[f.name] = conv[-1]
            continue
        if chunk is None:
            raise DecodeError(f"field {message}.{f.name} has the wrong wire type")
        if f.kind == "string":
            val: Any = chunk.decode("utf-8")
        elif f.kind == "bytes":
            val = bytes(chunk)
        else:
            val = decode(f.message, chunk)
        if f.repeated:
            out[f.name].append(val)
        else:
            out[f.name] = val
    return out


def _convert(f: Field, x: int) -> Any:
    if f.kind == "bool":
        return x != 0
    if f.kind == "sint32":
        return _unzigzag(x)
    if f.kind == "int32" or f.kind == "enum":
        return _signed(x, 32)
    return _signed(x, 64)


# --- the service's view of pods and images --------------------------------------------


@record
class ServiceFlags:
    """The global flags `rkt api-service` was started with, as GetInfo reports them."""

    dir: str
    local_config: str
    system_config: str
    insecure: str = ""


def _kv(pairs: Any) -> list[dict[str, str]]:
    return [{"Key": a.name, "value": a.value} for a in pairs]


def image_message(info: ImageInfo, store: Store, detail: bool) -> dict[str, Any]:
    img: dict[str, Any] = {
        "base_format": {"type": IMAGE_TYPE_APPC, "version": APPC_VERSION},
        "id": info.id, "name": info.name, "version": info.version,
        "import_timestamp": info.import_time // 1_000_000_000, "size": info.size,
    }
    try:
        m = store.manifest(info.id)
    except (OSError, RktError):
        return img
    img["labels"] = _kv(m.labels)
    img["annotations"] = _kv(m.annotations)
    if detail:
        img["manifest"] = json.dumps(m.to_json()).encode()
    return img


def _pod_cgroup(pod: Pod) -> str:
    """The cgroup (v2 path) of the pod's nspawn while it runs."""
    pid = pod.pid()
    if pid is None:
        return ""
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return ""
    return next((ln.split(":", 2)[2] for ln in text.splitlines() if ln.startswith("0::")), "")


def pod_message(pod: Pod, store: Store, detail: bool) -> dict[str, Any]:
    """A Pod message; the same facts `rkt status --format=json` shows (cli.pod_json)."""
    from .cli import pod_json

    state = pod.state()
    msg: dict[str, Any] = {"id": pod.uuid, "state": POD_STATE.get(state, 0)}
    if state in (State.EMBRYO, State.PREPARING, State.ABORTED_PREPARE):
        return msg
    status = pod_json(pod)
    pid = pod.pid() if pod.started_ns() else None
    msg["pid"] = pid if pid is not None else -1
    msg["created_at"] = pod.created_ns()
    msg["started_at"] = pod.started_ns()
    msg["gc_marked_at"] = pod.gc_marked_at()
    if state == State.RUNNING:
        msg["cgroup"] = _pod_cgroup(pod)
        msg["networks"] = [{"name": n.get("netName", ""), "ipv4": n.get("ip", "")}
                           for n in status.get("networks", [])]
    manifest = pod.manifest()
    if manifest is None:
        return msg
    msg["annotations"] = _kv(manifest.annotations)
    if detail:
        msg["manifest"] = json.dumps(manifest.to_json()).encode()
    apps: list[dict[str, Any]] = []
    by_name = {a["name"]: a for a in status.get("apps", [])}
    for app in manifest.apps:
        a: dict[str, Any] = {"name": app.name, "image": {"id": app.image.id}}
        if detail:
            try:
                a["image"] = image_message(store.get(app.image.id), store, True)
            except RktError:
                pass
            s = by_name.get(app.name, {})
            a["state"] = {"running": APP_STATE_RUNNING, "exited": APP_STATE_EXITED}.get(
                s.get("state", ""), APP_STATE_UNDEFINED)
            if "exit_code" in s:
                a["exit_code"] = s["exit_code"]
        a["annotations"] = _kv(app.annotations)
        apps.append(a)
    msg["apps"] = apps
    return msg


def pod_matches(msg: dict[str, Any], filt: dict[str, Any]) -> bool:
    """Within one PodFilter every condition must hold ("AND"); lists mean any/all as rkt."""
    apps = msg.get("apps", [])
    if filt["ids"] and msg["id"] not in filt["ids"]:
        return False
    if filt["states"] and msg["state"] not in filt["states"]:
        return False
    names = {a["name"] for a in apps}
    if not set(filt["app_names"]) <= names:
        return False
    images = {a["image"]["id"] for a in apps}
    if not set(filt["image_ids"]) <= images:
        return False
    nets = {n["name"] for n in msg.get("networks", [])}
    if not set(filt["network_names"]) <= nets:
        return False
    annotations = {(kv["Key"], kv["value"]) for kv in msg.get("annotations", [])}
    if not {(kv["Key"], kv["value"]) for kv in filt["annotations"]} <= annotations:
        return False
    cg = msg.get("cgroup", "")
    if filt["cgroups"] and cg not in filt["cgroups"]:
        return False
    if filt["pod_sub_cgroups"] and not (cg and any(
            s == cg or s.startswith(cg.rstrip("/") + "/") for s in filt["pod_sub_cgroups"])):
        return False
    return True


def image_matches(img: dict[str, Any], filt: dict[str, Any]) -> bool:
    name = img["name"]
    if filt["ids"] and not any(img["id"].startswith(i) for i in filt["ids"]):
        return False
    if filt["prefixes"] and not any(name.startswith(p) for p in filt["prefixes"]):
        return False
    if filt["base_names"] and name.rsplit("/", 1)[-1] not in filt["base_names"]:
        return False
    if filt["keywords"] and not any(k in name for k in filt["keywords"]):
        return False
    if filt["full_names"] and name not in filt["full_names"]:
        return False
    labels = {(kv["Key"], kv["value"]) for kv in img.get("labels", [])}
    if not {(kv["Key"], kv["value"]) for kv in filt["labels"]} <= labels:
        return False
    annotations = {(kv["Key"], kv["value"]) for kv in img.get("annotations", [])}
    if not {(kv["Key"], kv["value"]) for kv in filt["annotations"]} <= annotations:
        return False
    ts = img["import_timestamp"]
    if filt["imported_after"] and ts <= filt["imported_after"]:
        return False
    if filt["imported_before"] and ts >= filt["imported_before"]:
        return False
    return True


class NotFound(Exception):
    pass


class Unimplemented(Exception):
    pass


@mutable_record
class PublicAPI:
    """The handlers, each taking and returning message dicts."""

    root: Path
    flags: ServiceFlags
    journal_root: Path = Path("/var/log/journal")

    def _store(self) -> Store:
        from .store import Store

        return Store(self.root)

    def get_info(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"info": {"rkt_version": VERSION, "appc_version": APPC_VERSION,
                         "api_version": API_VERSION,
                         "global_flags": {"dir": self.flags.dir,
                                          "system_config_dir": self.flags.system_config,
                                          "local_config_dir": self.flags.local_config,
                                          "insecure_flags": self.flags.insecure}}}

    def list_pods(self, req: dict[str, Any]) -> dict[str, Any]:
        store = self._store()
        pods = []
        for pod in Pods(self.root).all():
            try:
                msg = pod_message(pod, store, detail=True)
            except (OSError, RktError):
                continue  # the pod went away while being looked at
            if req["filters"] and not any(pod_matches(msg, f) for f in req["filters"]):
                continue
            if not req["detail"]:
                msg.pop("manifest", None)
                msg["apps"] = [{"name": a["name"], "image": {"id": a["image"]["id"]}}
                               for a in msg.get("apps", [])]
            pods.append(msg)
        return {"pods": pods}

    def _pod(self, uuid: str) -> Pod:
        try:
            return Pods(self.root).find(uuid)
        except RktError as e:
            raise NotFound(e.message) from None

    def inspect_pod(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"pod": pod_message(self._pod(req["id"]), self._store(), detail=True)}

    def list_images(self, req: dict[str, Any]) -> dict[str, Any]:
        store = self._store()
        out = []
        for info in store.images():
            img = image_message(info, store, detail=True)
            if req["filters"] and not any(image_matches(img, f) for f in req["filters"]):
                continue
            if not req["detail"]:
                img.pop("manifest", None)
            out.append(img)
        return {"images": out}

    def inspect_image(self, req: dict[str, Any]) -> dict[str, Any]:
        store = self._store()
        try:
            info = store.resolve_id(req["id"])
        except RktError as e:
            raise NotFound(e.message) from None
        return {"image": image_message(info, store, detail=True)}

    def get_logs(self, req: dict[str, Any]) -> Iterator[dict[str, Any]]:
        from . import proc

        if req["follow"]:
            raise Unimplemented("GetLogs with follow is not supported by rkt_ref")
        pod = self._pod(req["pod_id"])
        # nspawn --link-journal=try-guest keeps the pod's journal in the host's
        # /var/log/journal/<machine id> (the UUID without dashes), there after the pod too.
        machine_id = pod.uuid.replace("-", "")
        dirs = [self.journal_root / machine_id,
                pod.stage1_rootfs() / "var" / "log" / "journal" / machine_id]
        journal = next((d for d in dirs if any(d.glob("*.journal"))), None)
        argv = ["journalctl", "--no-pager", "--output=short-iso"]
        argv += ["--directory", str(journal)] if journal else ["--machine", f"rkt-{pod.uuid}"]
        if req["app_name"]:
            argv += ["--identifier", req["app_name"]]
        if req["lines"] > 0:
            argv += ["--lines", str(req["lines"])]
        if req["since_time"]:
            argv += ["--since", f"@{req['since_time']}"]
        if req["until_time"]:
            argv += ["--until", f"@{req['until_time']}"]
        result = proc.run(argv, check=False)
        lines = [ln for ln in result.stdout.splitlines() if not ln.startswith("-- ")]
        yield {"lines": lines}

    def listen_events(self, req: dict[str, Any]) -> Iterator[dict[str, Any]]:
        raise Unimplemented("ListenEvents is not implemented (as in rkt 1.30)")


# --- gRPC wiring ------------------------------------------------------------------------

METHODS: dict[str, tuple[str, str, str, bool]] = {
    # gRPC method: (handler, request message, response message, server-streaming)
    "GetInfo": ("get_info", "GetInfoRequest", "GetInfoResponse", False),
    "ListPods": ("list_pods", "ListPodsRequest", "ListPodsResponse", False),
    "InspectPod": ("inspect_pod", "InspectPodRequest", "InspectPodResponse", False),
    "ListImages": ("list_images", "ListImagesRequest", "ListImagesResponse", False),
    "InspectImage": ("inspect_image", "InspectImageRequest", "InspectImageResponse", False),
    "ListenEvents": ("listen_events", "ListenEventsRequest", "ListenEventsResponse", True),
    "GetLogs": ("get_logs", "GetLogsRequest", "GetLogsResponse", True),
}


def _decoder(message: str) -> Callable[[bytes], dict[str, Any]]:
    return lambda data: decode(message, data)


def _encoder(message: str) -> Callable[[dict[str, Any]], bytes]:
    return lambda value: encode(message, value)


def generic_handler(api: PublicAPI) -> Any:
    import grpc

    def guard(fn: Callable[[dict[str, Any]], Any], context: Any, req: dict[str, Any]) -> Any:
        try:
            return fn(req)
        except NotFound as e:
            context.abort(grpc.StatusCode.NOT_FOUND, str(e))
        except Unimplemented as e:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, str(e))

    handlers = {}
    for method, (attr, req_t, resp_t, streaming) in METHODS.items():
        fn = getattr(api, attr)
        des = _decoder(req_t)
        ser = _encoder(resp_t)
        if streaming:
            def stream(req: dict[str, Any], context: Any,
                       fn: Callable[..., Iterator[dict[str, Any]]] = fn) -> Iterator[Any]:
                try:
                    yield from fn(req)
                except NotFound as e:
                    context.abort(grpc.StatusCode.NOT_FOUND, str(e))
                except Unimplemented as e:
                    context.abort(grpc.StatusCode.UNIMPLEMENTED, str(e))

            handlers[method] = grpc.unary_stream_rpc_method_handler(
                stream, request_deserializer=des, response_serializer=ser)
        else:
            def unary(req: dict[str, Any], context: Any,
                      fn: Callable[[dict[str, Any]], Any] = fn) -> Any:
                return guard(fn, context, req)

            handlers[method] = grpc.unary_unary_rpc_method_handler(
                unary, request_deserializer=des, response_serializer=ser)
    return grpc.method_handlers_generic_handler(SERVICE, handlers)


def check_listen(listen: str) -> tuple[str, int]:
    """HOST:PORT on a loopback address only: the API has no authentication."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        die(f"invalid --listen address {listen!r}", hint="use HOST:PORT, e.g. localhost:15441")
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except OSError as e:
        die(f"cannot resolve --listen host {host!r}: {e}")
    for info in infos:
        if not ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback:
            die(f"--listen {listen!r} is not a loopback address",
                hint="rkt_ref's API service has no authentication: listen on localhost only")
    return host, int(port)


def systemd_socket() -> socket.socket | None:
    """The listening socket systemd passed (LISTEN_FDS, first fd 3), if any."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return None
    if int(os.environ.get("LISTEN_FDS", "0") or 0) < 1:
        return None
    for var in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(var, None)
    return socket.socket(fileno=3)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _relay(listener: socket.socket, target: str) -> None:
    """grpcio cannot adopt a listening fd: relay each accepted connection to the server's
    private unix socket, byte for byte (HTTP/2 passes through untouched)."""
    while True:
        conn, _ = listener.accept()
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(target)
        except OSError:
            conn.close()
            upstream.close()
            continue
        for a, b in ((conn, upstream), (upstream, conn)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def serve(root: Path, listen: str, flags: ServiceFlags) -> int:
    try:
        import grpc
    except ImportError:
        die("the API service needs grpcio", hint="install python3-grpcio")
    inherited = systemd_socket()
    # Without SO_REUSEPORT a second service on the same port fails instead of sharing it.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((generic_handler(PublicAPI(root, flags)),))
    if inherited is not None:
        import tempfile

        private = Path(tempfile.mkdtemp(prefix="rkt-api-")) / "grpc.sock"
        server.add_insecure_port(f"unix:{private}")
        server.start()
        threading.Thread(target=_relay, args=(inherited, str(private)), daemon=True).start()
        name = inherited.getsockname()
        addr = f"{name[0]}:{name[1]}" if isinstance(name, tuple) else str(name)
        where = f"the socket passed by systemd ({addr})"
    else:
        host, port = check_listen(listen)
        bound = 0
        try:
            bound = server.add_insecure_port(f"{'[' + host + ']' if ':' in host else host}"
                                             f":{port}")
        except RuntimeError:
            bound = 0
        if not bound:
            die(f"cannot listen on {listen}", hint="is another API service running there?")
        server.start()
        where = listen
    print(f"API service running on {where}...", file=sys.stderr, flush=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop(grace=1)
    print("API service exiting...", file=sys.stderr, flush=True)
    return 0
