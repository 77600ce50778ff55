"""docker:// images: references, registry configuration, OCI layers merged into an ACI
(whiteouts, opaque directories, hostile paths) and the manifest from the image config."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from rkt_ref import docker
from rkt_ref.errors import RktError
from rkt_ref.store import FetchPolicy, Store


def test_references() -> None:
    r = docker.DockerRef.parse("docker://redis")
    assert (r.registry, r.repository, r.tag) == ("docker.io", "library/redis", "latest")
    assert r.aci_name == "registry-1.docker.io/library/redis"
    assert r.source("127.0.0.1:5000") == "docker://127.0.0.1:5000/library/redis:latest"
    q = docker.DockerRef.parse("docker://quay.io/coreos/etcd:v3.5.0")
    assert (q.registry, q.repository, q.tag) == ("quay.io", "coreos/etcd", "v3.5.0")
    local = docker.DockerRef.parse("docker://localhost:5000/app")
    assert local.registry == "localhost:5000" and local.aci_name == "localhost-5000/app"
    d = docker.DockerRef.parse("docker://redis@sha256:" + "a" * 64)
    assert d.source("h").endswith("@sha256:" + "a" * 64)


@pytest.mark.parametrize("bad", ["docker://Redis", "docker://redis:bad tag", "docker://a/../b",
                                 "docker://redis@md5:00"])
def test_bad_references(bad: str) -> None:
    with pytest.raises(RktError):
        docker.DockerRef.parse(bad)


def test_registry_configuration(tmp_path: Path) -> None:
    ref = docker.DockerRef.parse("docker://redis")
    assert docker.RegistryConfig.load(tmp_path).host_for(ref) == "registry-1.docker.io"
    (tmp_path / "docker.d").mkdir()
    (tmp_path / "docker.d/local.json").write_text(json.dumps(
        {"rktKind": "dockerRegistries", "rktVersion": "v1",
         "mirrors": {"docker.io": "127.0.0.1:5000"}, "plainHTTP": ["127.0.0.1:5000"]}))
    cfg = docker.RegistryConfig.load(tmp_path)
    assert cfg.host_for(ref) == "127.0.0.1:5000" and "127.0.0.1:5000" in cfg.plain_http
    assert docker._is_loopback("127.0.0.1:5000") and docker._is_loopback("localhost:1")
    assert not docker._is_loopback("10.0.0.1:5000")
    argv = docker.skopeo_argv(ref.source("127.0.0.1:5000"), tmp_path / "oci", "latest",
                              plain_http=True)
    assert argv[-2:] == ["docker://127.0.0.1:5000/library/redis:latest",
                         f"oci:{tmp_path / 'oci'}:latest"]
    assert "--src-tls-verify=false" in argv


def test_docker_images_need_insecure_image(tmp_path: Path) -> None:
    with pytest.raises(RktError, match="not signed") as e:
        docker.fetch(Store(tmp_path), "docker://redis", FetchPolicy())
    assert e.value.hint and "--insecure-options=image" in e.value.hint


# --- an OCI layout built by hand ------------------------------------------------------------

Member = tuple[str, str, Any]  # (name, kind, data or link target)


def _layer(members: list[Member]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            elif kind == "file":
                info.size, info.mode = len(data), 0o644
                tf.addfile(info, io.BytesIO(data))
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, data
                tf.addfile(info)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, data
                tf.addfile(info)
    return gzip.compress(buf.getvalue())


def _put(layout: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs/sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs/sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def oci_layout(path: Path, layers: list[list[Member]], config: dict[str, Any],
               tag: str = "latest") -> Path:
    cfg = _put(path, json.dumps({"os": "linux", "architecture": "amd64",
                                 "config": config}).encode())
    manifest = {"schemaVersion": 2, "config": cfg, "layers": [_put(path, _layer(m))
                                                              for m in layers]}
    man = _put(path, json.dumps(manifest).encode())
    man["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [man]}))
    return path


REDIS_CONFIG = {"Entrypoint": ["/usr/local/bin/docker-entrypoint.sh"], "Cmd": ["redis-server"],
                "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "REDIS_VERSION=7.0"],
                "User": "999:998", "WorkingDir": "/data", "ExposedPorts": {"6379/tcp": {}}}


def _convert(tmp_path: Path, layers: list[list[Member]],
             config: dict[str, Any] | None = None) -> Path:
    """The rootfs of the converted image, imported through the store's checks."""
    layout = oci_layout(tmp_path / "oci", layers, config or REDIS_CONFIG)
    cfg, blobs = docker.read_layout(layout, "latest")
    ref = docker.DockerRef.parse("docker://redis")
    aci = tmp_path / "image.aci"
    entries = docker.merge_layers(blobs)
    docker.write_aci(blobs, docker.image_manifest(ref, cfg, set(entries)), aci, entries)
    store = Store(tmp_path / "rkt")
    info = store.import_file(aci)
    return store.rootfs(info.id)


def test_layers_whiteouts_and_opaque_directories(tmp_path: Path) -> None:
    rootfs = _convert(tmp_path, [
        [("etc", "dir", None), ("etc/keep", "file", b"1"), ("etc/gone", "file", b"x"),
         ("var", "dir", None), ("var/cache", "dir", None), ("var/cache/a", "file", b"a"),
         ("opt", "dir", None), ("opt/old", "file", b"o"), ("bin", "dir", None),
         ("bin/tool", "file", b"v1"), ("bin/alias", "hardlink", "bin/tool")],
        [("etc/.wh.gone", "file", b""), ("var/cache/.wh..wh..opq", "file", b""),
         ("var/cache/b", "file", b"b"), ("opt", "file", b"now a file"),
         ("etc/keep", "file", b"2"), ("./bin/link", "symlink", "tool")],
    ])
    assert (rootfs / "etc/keep").read_bytes() == b"2"
    assert not (rootfs / "etc/gone").exists()
    assert sorted(p.name for p in (rootfs / "var/cache").iterdir()) == ["b"]
    assert (rootfs / "opt").read_bytes() == b"now a file"
    assert (rootfs / "bin/alias").read_bytes() == b"v1"
    assert (rootfs / "bin/link").is_symlink()
    assert not any(p.name.startswith(".wh.") for p in rootfs.rglob("*"))


def test_a_whited_out_directory_goes_with_its_contents(tmp_path: Path) -> None:
    rootfs = _convert(tmp_path, [
        [("srv", "dir", None), ("srv/site", "dir", None), ("srv/site/index", "file", b"i")],
        [("srv/.wh.site", "file", b"")],
        [("srv/site", "dir", None), ("srv/site/new", "file", b"n")],
    ])
    assert sorted(p.name for p in (rootfs / "srv/site").iterdir()) == ["new"]


@pytest.mark.parametrize("name", ["../escape", "a/../../b", "/../x"])
def test_hostile_layer_paths(tmp_path: Path, name: str) -> None:
    with pytest.raises(RktError, match="escapes the image root"):
        _convert(tmp_path, [[(name, "file", b"x")]])


def test_hostile_hard_link(tmp_path: Path) -> None:
    with pytest.raises(RktError, match="escapes the image root"):
        _convert(tmp_path, [[("x", "hardlink", "../../etc/shadow")]])


def test_hard_link_to_a_removed_file(tmp_path: Path) -> None:
    with pytest.raises(RktError, match="no layer provides"):
        _convert(tmp_path, [[("a", "file", b"a"), ("b", "hardlink", "a")],
                            [(".wh.a", "file", b"")]])


def test_manifest_from_the_config(tmp_path: Path) -> None:
    cfg, _ = docker.read_layout(oci_layout(tmp_path / "oci", [[]], REDIS_CONFIG), "latest")
    m = docker.image_manifest(docker.DockerRef.parse("docker://redis"), cfg)
    assert m["name"] == "registry-1.docker.io/library/redis"
    assert {"name": "version", "value": "latest"} in m["labels"]
    app = m["app"]
    assert app["exec"] == ["/usr/local/bin/docker-entrypoint.sh", "redis-server"]
    assert (app["user"], app["group"], app["workingDirectory"]) == ("999", "998", "/data")
    assert {"name": "REDIS_VERSION", "value": "7.0"} in app["environment"]
    assert app["ports"] == [{"name": "6379-tcp", "protocol": "tcp", "port": 6379, "count": 1,
                             "socketActivated": False}]
    plain = docker.image_manifest(docker.DockerRef.parse("docker://x"), {"config": {"Cmd": ["sh"]}})
    assert (plain["app"]["exec"], plain["app"]["user"], plain["app"]["group"]) == (["sh"], "0", "0")
    with pytest.raises(RktError, match="neither Entrypoint nor Cmd"):
        docker.image_manifest(docker.DockerRef.parse("docker://x"), {"config": {}})


def test_converted_image_passes_the_store(tmp_path: Path) -> None:
    config = {"Cmd": ["redis-server", "--save", ""], "WorkingDir": "/data",
              "Env": ["PATH=/usr/local/bin:/usr/bin"]}
    rootfs = _convert(tmp_path, [[("data", "dir", None), ("usr", "dir", None),
                                  ("usr/local", "dir", None), ("usr/local/bin", "dir", None),
                                  ("usr/local/bin/redis-server", "file", b"#!/bin/sh\n")]],
                      config)
    manifest = json.loads((rootfs.parent / "manifest").read_text())
    assert manifest["app"]["workingDirectory"] == "/data"
    assert manifest["app"]["exec"] == ["/usr/local/bin/redis-server", "--save", ""]
    assert (rootfs / "usr/local/bin/redis-server").exists()
