"""docker:// images: pulled from a registry with skopeo, converted to an ACI, then stored.

`docker://[HOST[:PORT]/]REPO[:TAG|@DIGEST]` names an image as docker does (no host: Docker
Hub, `library/` for one-segment names, tag `latest`). Where it is pulled from is
configuration, not code: JSON files in `<local config>/docker.d/` (default /etc/rkt)

    {"rktKind": "dockerRegistries", "rktVersion": "v1",
     "mirrors": {"docker.io": "127.0.0.1:5000"}, "plainHTTP": ["127.0.0.1:5000"]}

send a registry's pulls to a mirror, and allow plain HTTP for the listed registries (only
loopback ones: anything else needs --insecure-options=http).

skopeo copies the image into an OCI layout; the layers are merged here in order, as an
overlay would show them (`.wh.NAME` deletes NAME, `.wh..wh..opq` hides what lower layers put
in its directory), into one ACI whose manifest carries the image config's entrypoint and
cmd, environment, user, working directory and exposed ports. The ACI is named as docker2aci
names it (`registry-1.docker.io/library/redis`, version label = tag), whichever mirror
served it, and goes through the same archive checks as any ACI.
"""

from __future__ import annotations

import ipaddress
import json
import posixpath
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

from . import APPC_VERSION, log, proc
from .errors import RktError, die
from .record import field, mutable_record, record

TYPE_CHECKING = False  # typing is not imported at run time (see record.py)
if TYPE_CHECKING:
    from typing import Any

    from .store import FetchPolicy, ImageInfo, Store


DOCKER_HUB = "docker.io"
DOCKER_HUB_NAME = "registry-1.docker.io"  # the name docker2aci gives Docker Hub images
CONFIG_DIR = "docker.d"
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPO = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")


class DockerError(RktError):
    """A docker image that cannot be pulled or converted."""


@record
class DockerRef:
    """A docker:// image reference: registry, repository, tag or digest."""

    registry: str  # docker.io for Docker Hub
    repository: str  # library/redis
    tag: str = "latest"
    digest: str = ""

    @classmethod
    def parse(cls, text: str) -> DockerRef:
        ref = text.removeprefix("docker://")
        rest, at, digest = ref.partition("@")
        if at and not _DIGEST.match(digest):
            die(f"invalid docker image digest {digest!r}", hint="use @sha256:<64 hex digits>")
        first, slash, remainder = rest.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            registry, path = first, remainder
        else:
            registry, path = DOCKER_HUB, rest
        name, colon, tag = path.rpartition(":") if ":" in path else (path, "", "")
        tag = tag if colon else "latest"
        if registry == DOCKER_HUB and "/" not in name:
            name = f"library/{name}"
        if not _REPO.match(name):
            die(f"invalid docker image name {text!r}",
                hint="e.g. docker://redis, docker://quay.io/coreos/etcd:v3.5.0")
        if not _TAG.match(tag):
            die(f"invalid docker image tag {tag!r} in {text!r}")
        return cls(registry, name, tag, digest if at else "")

    @property
    def aci_name(self) -> str:
        host = DOCKER_HUB_NAME if self.registry == DOCKER_HUB else self.registry
        return re.sub(r"[^a-z0-9._~/-]", "-", f"{host}/{self.repository}".lower())

    def source(self, host: str) -> str:
        where = f"{host}/{self.repository}"
        return f"docker://{where}@{self.digest}" if self.digest else f"docker://{where}:{self.tag}"


@record
class RegistryConfig:
    """rkt's docker.d configuration: registry mirrors and registries spoken to over HTTP."""

    mirrors: dict[str, str] = field(default_factory=dict)
    plain_http: frozenset[str] = frozenset()

    @classmethod
    def load(cls, local_config: Path) -> RegistryConfig:
        mirrors: dict[str, str] = {}
        plain: set[str] = set()
        d = local_config / CONFIG_DIR
        for path in sorted(d.glob("*.json")) if d.is_dir() else []:
            try:
                raw = json.loads(path.read_text())
            except (OSError, ValueError) as e:
                die(f"{path}: not valid JSON: {e}")
            if not isinstance(raw, dict) or raw.get("rktKind") != "dockerRegistries":
                continue
            m = raw.get("mirrors", {})
            p = raw.get("plainHTTP", [])
            if not isinstance(m, dict) or not all(isinstance(v, str) for v in m.values()) \
                    or not isinstance(p, list) or not all(isinstance(v, str) for v in p):
                die(f"{path}: 'mirrors' must map registries to hosts and 'plainHTTP' list hosts")
            mirrors.update(m)
            plain.update(p)
        return cls(mirrors, frozenset(plain))

    def host_for(self, ref: DockerRef) -> str:
        return self.mirrors.get(ref.registry, DOCKER_HUB_NAME if ref.registry == DOCKER_HUB
                                else ref.registry)


def _is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0].strip("[]") if not host.startswith("[") or "]:" in host \
        else host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def skopeo_argv(source: str, dest: Path, tag: str, *, plain_http: bool) -> list[str]:
    return ["skopeo", "--insecure-policy", "copy", "--quiet",
            "--src-tls-verify=false" if plain_http else "--src-tls-verify=true",
            "--override-os", "linux", "--override-arch", "amd64",
            source, f"oci:{dest}:{tag}"]


# --- the OCI layout -----------------------------------------------------------------------


def _blob(layout: Path, digest: str) -> Path:
    if not _DIGEST.match(digest):
        raise DockerError(f"unsupported or malformed blob digest {digest!r}")
    return layout / "blobs" / "sha256" / digest.split(":", 1)[1]


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as e:
        raise DockerError(f"unreadable OCI document {path.name}: {e}") from None
    if not isinstance(data, dict):
        raise DockerError(f"OCI document {path.name} is not a JSON object")
    return data


def read_layout(layout: Path, tag: str) -> tuple[dict[str, Any], list[Path]]:
    """(image config, layer blobs bottom to top) of the tagged image in an OCI layout."""
    index = _json(layout / "index.json")
    manifests = index.get("manifests") or []
    chosen = next((m for m in manifests
                   if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag),
                  manifests[0] if len(manifests) == 1 else None)
    if chosen is None:
        raise DockerError(f"the OCI layout has no image tagged {tag!r}")
    manifest = _json(_blob(layout, chosen["digest"]))
    config = _json(_blob(layout, manifest["config"]["digest"]))
    layers = [_blob(layout, layer["digest"]) for layer in manifest.get("layers", [])]
    return config, layers


# --- merging layers --------------------------------------------------------------------------


def clean_path(name: str, where: str) -> str:
    """A member path relative to the root; "" for the root itself. Refuses escapes."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise DockerError(f"{where}: member {name!r} escapes the image root")
    return "/".join(parts)


def _under(path: str, parent: str) -> bool:
    return parent == "" or path == parent or path.startswith(parent + "/")


@mutable_record
class _Entry:
    """A path of the merged image: the member that provides it, and from which layer."""

    layer: int
    ordinal: int
    info: tarfile.TarInfo


def merge_layers(layers: list[Path]) -> dict[str, _Entry]:
    """What the stacked layers show: path -> the member (of which layer) that provides it."""
    entries: dict[str, _Entry] = {}

    def drop(prefix: str, below_layer: int | None = None, keep_self: bool = False) -> None:
        for p in [p for p in entries if _under(p, prefix)]:
            if keep_self and p == prefix:
                continue
            if below_layer is None or entries[p].layer < below_layer:
                del entries[p]

    for idx, blob in enumerate(layers):
        where = f"layer {idx + 1}"
        try:
            with tarfile.open(blob, "r:*") as tf:
                for ordinal, m in enumerate(tf):
                    path = clean_path(m.name, where)
                    parent, base = posixpath.split(path)
                    if base == OPAQUE:
                        drop(parent, below_layer=idx, keep_self=True)
                        continue
                    if base.startswith(WHITEOUT):
                        target = posixpath.join(parent, base[len(WHITEOUT):])
                        if not target or target == parent:
                            raise DockerError(f"{where}: malformed whiteout {m.name!r}")
                        drop(target)
                        continue
                    if path == "":
                        continue  # the root directory itself
                    if m.ischr() or m.isblk() or m.isfifo():
                        log.debug("docker: %s: skipping device/fifo %s", where, path)
                        continue
                    if m.islnk():
                        m.linkname = clean_path(m.linkname, where)
                        if not m.linkname:
                            raise DockerError(f"{where}: hard link {path!r} to the root")
                    old = entries.get(path)
                    # A directory over a directory merges with it; anything else replaces
                    # the old entry and all it held.
                    if not m.isdir() or (old is not None and not old.info.isdir()):
                        drop(path)
                    entries[path] = _Entry(idx, ordinal, m)
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DockerError(f"{where}: not a readable tar layer: {e}") from None
    return entries


def write_aci(layers: list[Path], manifest: dict[str, Any], out: Path,
              entries: dict[str, _Entry] | None = None) -> None:
    """An uncompressed ACI: `manifest`, `rootfs/`, then the merged layers' members."""
    import io

    entries = merge_layers(layers) if entries is None else entries
    wanted = {(e.layer, e.ordinal): p for p, e in entries.items()}
    links: list[tarfile.TarInfo] = []
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as aci:
        data = json.dumps(manifest, indent=1).encode()
        info = tarfile.TarInfo("manifest")
        info.size, info.mode = len(data), 0o644
        aci.addfile(info, io.BytesIO(data))
        root = tarfile.TarInfo("rootfs")
        root.type, root.mode = tarfile.DIRTYPE, 0o755
        aci.addfile(root)
        # Directories first (parents before children), whichever layer made them: a lower
        # layer's file may live in a directory a higher layer re-declared.
        for path in sorted(p for p, e in entries.items() if e.info.isdir()):
            d = entries[path].info
            d.name = "rootfs/" + path
            aci.addfile(d)
        for idx, blob in enumerate(layers):
            with tarfile.open(blob, "r:*") as tf:
                for ordinal, m in enumerate(tf):
                    found = wanted.get((idx, ordinal))
                    if found is None or m.isdir():
                        continue
                    m.name = "rootfs/" + found
                    if m.islnk():
                        m.linkname = "rootfs/" + clean_path(m.linkname, f"layer {idx + 1}")
                        links.append(m)  # after every file they may point at
                    elif m.isreg():
                        aci.addfile(m, tf.extractfile(m))
                    else:  # symbolic links
                        aci.addfile(m)
        present = {"rootfs/" + p for p, e in entries.items() if not e.info.islnk()}
        for m in links:
            if m.linkname not in present:
                raise DockerError(f"hard link {m.name!r} points at {m.linkname!r}, "
                                  "which no layer provides")
            aci.addfile(m)


# --- the image manifest ------------------------------------------------------------------------


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def resolve_exec(program: str, env_path: str, workdir: str, paths: set[str]) -> str:
    """appc wants an absolute exec: find a bare program name as the image's PATH would."""
    if program.startswith("/"):
        return program
    if "/" in program:
        candidates = [posixpath.join(workdir or "/", program)]
    else:
        candidates = [posixpath.join(d, program) for d in env_path.split(":") if d]
    for c in candidates:
        if clean_path(posixpath.normpath(c), "exec") in paths:
            return "/" + clean_path(posixpath.normpath(c), "exec")
    raise DockerError(f"cannot find the image's program {program!r} in its PATH ({env_path})")


def image_manifest(ref: DockerRef, config: dict[str, Any],
                   paths: set[str] | None = None) -> dict[str, Any]:
    """An appc image manifest from an OCI/docker image config (and the image's files)."""
    c = config.get("config") or {}
    entrypoint = c.get("Entrypoint") or []
    cmd = c.get("Cmd") or []
    exec_ = [*entrypoint, *cmd]
    if not exec_:
        raise DockerError(f"{ref.source(ref.registry)} has neither Entrypoint nor Cmd")
    env_path = next((str(e)[5:] for e in c.get("Env") or [] if str(e).startswith("PATH=")),
                    DEFAULT_PATH)
    if paths is not None:
        exec_[0] = resolve_exec(exec_[0], env_path, c.get("WorkingDir") or "/", paths)
    user, _, group = (c.get("User") or "").partition(":")
    env = []
    for item in c.get("Env") or []:
        k, eq, v = str(item).partition("=")
        if eq and k:
            env.append({"name": k, "value": v})
    ports = []
    for spec in sorted(c.get("ExposedPorts") or {}):
        port, _, proto = spec.partition("/")
        if port.isdigit():
            ports.append({"name": f"{port}-{proto or 'tcp'}", "protocol": proto or "tcp",
                          "port": int(port), "count": 1, "socketActivated": False})
    app: dict[str, Any] = {"exec": exec_, "user": user or "0", "group": group or "0"}
    if env:
        app["environment"] = env
    if c.get("WorkingDir"):
        app["workingDirectory"] = c["WorkingDir"]
    if ports:
        app["ports"] = ports
    arch = {"amd64": "amd64", "arm64": "aarch64", "386": "i386"}.get(
        config.get("architecture", "amd64"), "amd64")
    annotations = [
        {"name": "appc.io/docker/registryurl", "value": ref.registry},
        {"name": "appc.io/docker/repository", "value": ref.repository},
        {"name": "appc.io/docker/tag", "value": ref.tag},
        {"name": "appc.io/docker/entrypoint", "value": json.dumps(entrypoint)},
        {"name": "appc.io/docker/cmd", "value": json.dumps(cmd)},
    ]
    return {"acKind": "ImageManifest", "acVersion": APPC_VERSION, "name": ref.aci_name,
            "labels": [{"name": "version", "value": ref.tag},
                       {"name": "os", "value": config.get("os", "linux")},
                       {"name": "arch", "value": arch}],
            "app": app, "annotations": annotations}


# --- fetching ---------------------------------------------------------------------------------


def fetch(store: Store, text: str, policy: FetchPolicy) -> ImageInfo:
    """Pull a docker:// image and import it as an ACI (docker images carry no signature)."""
    if not policy.insecure_image:
        die(f"cannot verify {text}: docker images are not signed",
            hint="pass --insecure-options=image to use a docker image")
    ref = DockerRef.parse(text)
    if policy.pull_policy != "update":
        from .store import ImageRefSpec

        found = store.find(ImageRefSpec(ref.aci_name, (("version", ref.tag),)))
        if found is not None:
            log.debug("image: using image from local store for %s", text)
            return found
        if policy.pull_policy == "never":
            die(f"image {text!r} is not in the store and --pull-policy=never")
    config = RegistryConfig.load(policy.local_config)
    host = config.host_for(ref)
    plain = host in config.plain_http and _is_loopback(host) or policy.insecure_http
    tmp = Path(tempfile.mkdtemp(prefix="docker-", dir=store._dir("tmp")))
    try:
        layout = tmp / "oci"
        log.debug("image: pulling %s from %s", text, host)
        try:
            proc.run(skopeo_argv(ref.source(host), layout, ref.tag, plain_http=plain))
        except RktError as e:
            raise DockerError(f"cannot pull {text} from {host}: {e.message}",
                              hint="is the registry reachable? mirrors are set in "
                              f"{policy.local_config / CONFIG_DIR}/*.json") from None
        oci_config, layers = read_layout(layout, ref.tag)
        entries = merge_layers(layers)
        aci = tmp / "image.aci"
        write_aci(layers, image_manifest(ref, oci_config, set(entries)), aci, entries)
        shutil.rmtree(layout)  # the layers are in the ACI now
        return store.import_file(aci)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
