"""The API service: the proto3 codec (against protoc-generated code), the Pod/Image
messages (gc_marked_at above all), filters, and a real gRPC round trip on loopback."""

from __future__ import annotations

import importlib
import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from rkt_ref import api
from rkt_ref.errors import RktError
from rkt_ref.pod import Dir, GcPolicy, Pod, Pods, gc
from rkt_ref.store import Store
from tests.acis import write_aci

# --- codec --------------------------------------------------------------------------------


def test_known_bytes() -> None:
    # InspectPodRequest{id="ab"}; Pod{pid=-1 (sint32 zigzag), gc_marked_at=300}.
    assert api.encode("InspectPodRequest", {"id": "ab"}) == b"\x0a\x02ab"
    assert api.encode("Pod", {"pid": -1, "gc_marked_at": 300}) == b"\x10\x01\x58\xac\x02"
    assert api.decode("Pod", b"\x10\x01\x58\xac\x02")["gc_marked_at"] == 300
    # Defaults stay off the wire (proto3).
    assert api.encode("Pod", {"id": "", "pid": 0, "state": 0, "apps": []}) == b""


def test_round_trip_nested_and_repeated() -> None:
    pod = {"id": "u", "pid": 4242, "state": 4, "created_at": 1_700_000_000_123_456_789,
           "gc_marked_at": 2**62, "cgroup": "/machine.slice/x.service",
           "apps": [{"name": "etcd", "state": 2, "exit_code": -3,
                     "image": {"id": "sha512-aa", "base_format": {"type": 1, "version": "0.8"}},
                     "annotations": [{"Key": "k", "value": "v"}]}],
           "networks": [{"name": "default", "ipv4": "172.16.28.2", "ipv6": ""}],
           "manifest": b"{}"}
    back = api.decode("Pod", api.encode("Pod", pod))
    for k, v in pod.items():
        if k != "apps":
            assert back[k] == v, k
    app = back["apps"][0]
    assert (app["name"], app["state"], app["exit_code"]) == ("etcd", 2, -3)
    assert app["image"]["base_format"] == {"type": 1, "version": "0.8"}
    f = {"states": [4, 6, 8], "ids": ["a", "b"], "app_names": [],
         "annotations": [{"Key": "a", "value": "b"}]}
    back = api.decode("PodFilter", api.encode("PodFilter", f))
    assert back["states"] == [4, 6, 8] and back["ids"] == ["a", "b"]


def test_negative_int64_and_unknown_fields() -> None:
    data = api.encode("GetLogsRequest", {"lines": -5, "since_time": -1})
    assert api.decode("GetLogsRequest", data)["lines"] == -5
    assert api.decode("GetLogsRequest", data)["since_time"] == -1
    unknown = b"\xf8\x07\x01" + b"\xfa\x07\x01x" + b"\x0d\x00\x00\x00\x00"  # 127 varint/len, 1 i32
    assert api.decode("InspectPodRequest", unknown + b"\x0a\x01z")["id"] == "z"


@pytest.mark.parametrize("data", [b"\x0a\x05ab", b"\x80", b"\x0b", b"\x10"])
def test_malformed_input(data: bytes) -> None:
    with pytest.raises(api.DecodeError):
        api.decode("Pod", data)


@pytest.fixture(scope="module")
def pb2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """protoc's own Python classes for the same schema, when grpc_tools is installed."""
    pytest.importorskip("grpc_tools")
    d = tmp_path_factory.mktemp("proto")
    (d / "rkt_api.proto").write_text(api.proto_text())
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{d}", f"--python_out={d}",
                    str(d / "rkt_api.proto")], check=True)
    sys.path.insert(0, str(d))
    try:
        yield importlib.import_module("rkt_api_pb2")
    finally:
        sys.path.remove(str(d))


def test_interoperates_with_protoc_generated_code(pb2: Any) -> None:
    msg = pb2.Pod(id="x", pid=-7, state=pb2.POD_STATE_GARBAGE, gc_marked_at=1_700_000_000 * 10**9,
                  started_at=5, apps=[pb2.App(name="a", exit_code=-1,
                                              image=pb2.Image(id="sha512-1", size=9))],
                  annotations=[pb2.KeyValue(Key="k", value="v")])
    ours = api.decode("Pod", msg.SerializeToString())
    assert ours["gc_marked_at"] == 1_700_000_000 * 10**9 and ours["pid"] == -7
    assert ours["state"] == 8 and ours["apps"][0]["exit_code"] == -1
    assert ours["apps"][0]["image"]["size"] == 9
    again = pb2.Pod.FromString(api.encode("Pod", ours))
    assert again == msg
    f = pb2.PodFilter.FromString(api.encode("PodFilter", {"states": [4, 6], "ids": ["u"]}))
    assert list(f.states) == [4, 6] and list(f.ids) == ["u"]


def test_proto_text_has_rkts_numbers() -> None:
    text = api.proto_text()
    for line in ("int64 gc_marked_at = 11;", "sint32 pid = 2;", "repeated App apps = 4;",
                 "GlobalFlags global_flags = 4;", "repeated string full_names = 9;",
                 "rpc GetLogs (GetLogsRequest) returns (stream GetLogsResponse) {}"):
        assert line in text


# --- messages from pods and images ---------------------------------------------------------

IMAGE_ID = "sha512-" + "ab" * 32


def _pod_manifest() -> dict[str, Any]:
    return {"acKind": "PodManifest", "acVersion": "0.8.11",
            "annotations": [{"name": "team", "value": "infra"}],
            "apps": [{"name": "etcd", "image": {"name": "coreos.com/etcd", "id": IMAGE_ID},
                      "app": {"exec": ["/etcd"], "user": "0", "group": "0"}}]}


def exited_pod(pods: Pods) -> Pod:
    pod = pods.create()
    (pod.path / "pod").write_text(json.dumps(_pod_manifest()))
    pod.move(Dir.PREPARE)
    pod.move(Dir.RUN)
    (pod.path / "pid").write_text("999999999\n")
    status = pod.stage1_rootfs() / "rkt" / "status"
    status.mkdir(parents=True)
    (status / "etcd").write_text("0")
    pod.unlock()
    return pod


def test_gc_marked_at_is_zero_until_marked(tmp_path: Path) -> None:
    pods = Pods(tmp_path)
    pod = exited_pod(pods)
    store = Store(tmp_path)
    before = api.pod_message(pod, store, detail=True)
    assert before["state"] == 6 and before["gc_marked_at"] == 0
    gc(pods, GcPolicy(mark_only=True), out=io.StringIO(), err=io.StringIO())
    pods.refresh(pod)
    after = api.pod_message(pod, store, detail=True)
    assert after["state"] == 8  # rkt shows exited-garbage pods as garbage
    assert after["gc_marked_at"] == pod.path.stat().st_ctime_ns > 0
    assert after["apps"][0]["state"] == api.APP_STATE_EXITED
    assert json.loads(after["manifest"])["apps"][0]["name"] == "etcd"


def test_pod_filters(tmp_path: Path) -> None:
    pod = exited_pod(Pods(tmp_path))
    msg = api.pod_message(pod, Store(tmp_path), detail=True)

    def flt(**kw: Any) -> dict[str, Any]:
        return api.decode("PodFilter", api.encode("PodFilter", kw))

    assert api.pod_matches(msg, flt())
    assert api.pod_matches(msg, flt(ids=[pod.uuid, "x"], states=[6]))
    assert not api.pod_matches(msg, flt(states=[4]))
    assert api.pod_matches(msg, flt(app_names=["etcd"], image_ids=[IMAGE_ID]))
    assert not api.pod_matches(msg, flt(app_names=["etcd", "redis"]))
    assert api.pod_matches(msg, flt(annotations=[{"Key": "team", "value": "infra"}]))
    assert not api.pod_matches(msg, flt(annotations=[{"Key": "team", "value": "web"}]))
    assert not api.pod_matches(msg, flt(network_names=["default"]))


def test_image_filters(tmp_path: Path) -> None:
    store = Store(tmp_path)
    info = store.import_file(write_aci(tmp_path / "e.aci", "coreos.com/etcd", "v2.2.5"))
    img = api.image_message(info, store, detail=True)

    def flt(**kw: Any) -> dict[str, Any]:
        return api.decode("ImageFilter", api.encode("ImageFilter", kw))

    assert img["version"] == "v2.2.5" and {"Key": "version", "value": "v2.2.5"} in img["labels"]
    assert api.image_matches(img, flt(prefixes=["coreos.com/"], base_names=["etcd"]))
    assert not api.image_matches(img, flt(base_names=["etc"]))
    assert api.image_matches(img, flt(keywords=["etc"], ids=[info.id[:20]]))
    assert api.image_matches(img, flt(full_names=["coreos.com/etcd"]))
    assert not api.image_matches(img, flt(labels=[{"Key": "version", "value": "v3"}]))
    assert not api.image_matches(img, flt(imported_after=img["import_timestamp"] + 10))


@pytest.mark.parametrize("listen", ["0.0.0.0:15441", "localhost", "localhost:0x10",
                                    "localhost:70000"])
def test_listen_is_loopback_only(listen: str) -> None:
    with pytest.raises(RktError):
        api.check_listen(listen)


def test_listen_accepts_loopback() -> None:
    assert api.check_listen("localhost:15441") == ("localhost", 15441)
    assert api.check_listen("[::1]:1") == ("::1", 1)


# --- over gRPC ------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    grpc = pytest.importorskip("grpc")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    flags = api.ServiceFlags(dir=str(tmp_path), local_config="/etc/rkt",
                             system_config="/usr/lib/rkt")
    server.add_generic_rpc_handlers((api.generic_handler(api.PublicAPI(tmp_path, flags)),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield channel, tmp_path
    finally:
        channel.close()
        server.stop(None)


def _call(channel: Any, method: str, req: dict[str, Any]) -> Any:
    _attr, req_t, resp_t, streaming = api.METHODS[method]
    kind = channel.unary_stream if streaming else channel.unary_unary
    fn = kind(f"/{api.SERVICE}/{method}", request_serializer=lambda m: api.encode(req_t, m),
              response_deserializer=lambda b: api.decode(resp_t, b))
    return fn(req, timeout=10)


def test_grpc_round_trip(served: tuple[Any, Path]) -> None:
    import grpc

    channel, root = served
    info = _call(channel, "GetInfo", {})["info"]
    assert info["api_version"] == api.API_VERSION and info["global_flags"]["dir"] == str(root)
    pods = Pods(root)
    pod = exited_pod(pods)
    listed = _call(channel, "ListPods", {})["pods"]
    assert [p["id"] for p in listed] == [pod.uuid] and listed[0]["manifest"] == b""
    assert _call(channel, "ListPods", {"filters": [{"states": [4]}]})["pods"] == []
    got = _call(channel, "InspectPod", {"id": pod.uuid})["pod"]
    assert got["gc_marked_at"] == 0 and got["apps"][0]["exit_code"] == 0
    gc(pods, GcPolicy(mark_only=True), out=io.StringIO(), err=io.StringIO())
    marked = _call(channel, "InspectPod", {"id": pod.uuid})["pod"]["gc_marked_at"]
    pods.refresh(pod)
    assert marked == pod.path.stat().st_ctime_ns
    with pytest.raises(grpc.RpcError) as e:
        _call(channel, "InspectPod", {"id": "00000000-0000-4000-8000-000000000000"})
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    store = Store(root)
    img = store.import_file(write_aci(root / "e.aci", "coreos.com/etcd", "v2.2.5"))
    images = _call(channel, "ListImages", {"filters": [{"base_names": ["etcd"]}]})["images"]
    assert [i["id"] for i in images] == [img.id]
    inspected = _call(channel, "InspectImage", {"id": img.id})["image"]
    assert json.loads(inspected["manifest"])["name"] == "coreos.com/etcd"
    with pytest.raises(grpc.RpcError) as e:
        list(_call(channel, "ListenEvents", {}))
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_systemd_socket_is_relayed(tmp_path: Path) -> None:
    """A listening socket handed over (as systemd does) reaches the gRPC server."""
    grpc = pytest.importorskip("grpc")
    import socket

    flags = api.ServiceFlags(dir=str(tmp_path), local_config="", system_config="")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((api.generic_handler(api.PublicAPI(tmp_path, flags)),))
    private = tmp_path / "grpc.sock"
    server.add_insecure_port(f"unix:{private}")
    server.start()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    threading.Thread(target=api._relay, args=(listener, str(private)), daemon=True).start()
    channel = grpc.insecure_channel(f"127.0.0.1:{listener.getsockname()[1]}")
    try:
        assert _call(channel, "GetInfo", {})["info"]["rkt_version"]
    finally:
        channel.close()
        server.stop(None)


def test_get_logs_reads_the_pods_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess as sp

    from rkt_ref import proc

    pod = exited_pod(Pods(tmp_path))
    seen: list[list[str]] = []

    def fake_run(argv: list[str], check: bool = True) -> sp.CompletedProcess[str]:
        seen.append(list(argv))
        return sp.CompletedProcess(argv, 0, "-- Boot abc --\nline one\nline two\n", "")

    monkeypatch.setattr(proc, "run", fake_run)
    flags = api.ServiceFlags(dir=str(tmp_path), local_config="", system_config="")
    service = api.PublicAPI(tmp_path, flags, journal_root=tmp_path / "journal")
    req = api.decode("GetLogsRequest", api.encode("GetLogsRequest",
                                                  {"pod_id": pod.uuid, "app_name": "etcd",
                                                   "lines": 2}))
    assert list(service.get_logs(req)) == [{"lines": ["line one", "line two"]}]
    assert seen[-1][-6:] == ["--machine", f"rkt-{pod.uuid}", "--identifier", "etcd",
                             "--lines", "2"]
    kept = tmp_path / "journal" / pod.uuid.replace("-", "")
    kept.mkdir(parents=True)
    (kept / "system.journal").write_bytes(b"")
    list(service.get_logs(req))
    assert ["--directory", str(kept)] == seen[-1][3:5]
    with pytest.raises(api.Unimplemented):
        list(service.get_logs(dict(req, follow=True)))
