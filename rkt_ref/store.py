"""The image store: /var/lib/rkt/cas (blobs, extracted trees, image info), fetching.

An image ID is `sha512-` + the first 64 hex digits of the sha512 of the uncompressed
ACI tar, as in rkt. rkt prints 32 of them by default and all 64 with `--full`.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import log
from .errors import RktError, die
from .record import asdict, record
from .schema import ID_PREFIX, ImageManifest, acidentifier

TYPE_CHECKING = False  # typing is not imported at run time (see record.py)
if TYPE_CHECKING:
    from .archive import Limits

# archive (tarfile, lzma, bz2) and discovery (urllib, ssl) are imported where used:
# `rkt run` of a stored image needs neither, and Python start-up is part of pod start-up.


ID_HEX = 64
# Work directories under cas/tmp that a later import sweeps once their rkt is gone.
IMPORT_PREFIX = "import-"
REMOVE_PREFIX = "rm-"


def image_id(path: Path, limits: Limits | None = None, *, unpack_to: Path | None = None,
             ) -> str:
    """With `unpack_to`, a compressed image's tar is also left there (archive.image_digest)."""
    from . import archive

    digest = archive.image_digest(path, limits or archive.DEFAULT_LIMITS, unpack_to)
    return ID_PREFIX + digest[:ID_HEX]


@record
class ImageInfo:
    """What the store keeps about an image besides its blob and tree."""

    id: str
    name: str
    version: str
    import_time: int  # ns since the epoch
    last_used: int  # ns since the epoch
    size: int  # bytes on disk: blob + extracted tree

    @property
    def display_name(self) -> str:
        return f"{self.name}:{self.version}" if self.version else self.name


@record
class ImageRefSpec:
    """A user's image argument NAME[:version][,label=value...]."""

    name: str
    labels: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, text: str) -> ImageRefSpec:
        head, *rest = text.split(",")
        labels: list[tuple[str, str]] = []
        name = head
        if ":" in head:
            name, version = head.rsplit(":", 1)
            labels.append(("version", version))
        for item in rest:
            key, sep, value = item.partition("=")
            if not sep:
                die(f"bad image label {item!r} in {text!r}: expected name=value")
            labels.append((key, value))
        acidentifier(name, "image name")
        return cls(name, tuple(labels))

    def matches(self, manifest: ImageManifest) -> bool:
        if manifest.name != self.name:
            return False
        return all(manifest.label(k) == v for k, v in self.labels)


class Store:
    def __init__(self, root: Path):
        self.root = root / "cas"

    # --- layout ---------------------------------------------------------------------
    def _dir(self, name: str) -> Path:
        d = self.root / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def blob(self, image_id: str) -> Path:
        return self.root / "blob" / image_id

    def tree(self, image_id: str) -> Path:
        return self.root / "tree" / image_id

    def rootfs(self, image_id: str) -> Path:
        return self.tree(image_id) / "rootfs"

    def _info_path(self, image_id: str) -> Path:
        return self.root / "info" / f"{image_id}.json"

    @contextmanager
    def locked(self) -> Iterator[None]:
        self._dir("")
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # --- queries --------------------------------------------------------------------
    def images(self) -> list[ImageInfo]:
        d = self.root / "info"
        if not d.is_dir():
            return []
        out: list[ImageInfo] = []
        for p in sorted(d.glob("*.json")):
            try:
                out.append(ImageInfo(**json.loads(p.read_text())))
            except (OSError, ValueError, TypeError):
                log.debug("store: skipping unreadable %s", p)
        return sorted(out, key=lambda i: i.import_time)

    def get(self, image_id: str) -> ImageInfo:
        try:
            return ImageInfo(**json.loads(self._info_path(image_id).read_text()))
        except FileNotFoundError:
            die(f"no image with ID {image_id} in the store")

    def manifest(self, image_id: str) -> ImageManifest:
        return ImageManifest.from_bytes((self.tree(image_id) / "manifest").read_bytes())

    def resolve_id(self, text: str) -> ImageInfo:
        """An image by full or abbreviated ID (`sha512-aac777f92362`)."""
        if not text.startswith(ID_PREFIX) or len(text) <= len(ID_PREFIX):
            die(f"{text!r} is not an image ID", hint="image IDs look like sha512-<hex>")
        matches = [i for i in self.images() if i.id.startswith(text)]
        if not matches:
            die(f"no image with ID {text} in the store")
        if len(matches) > 1:
            die(f"image ID {text} is ambiguous: it matches {len(matches)} images",
                hint="give more hex digits")
        return matches[0]

    def find(self, spec: ImageRefSpec) -> ImageInfo | None:
        """The most recently imported stored image matching name and labels."""
        best: ImageInfo | None = None
        for info in self.images():
            if info.name != spec.name:
                continue
            if not spec.matches(self.manifest(info.id)):
                continue
            if best is None or info.import_time >= best.import_time:
                best = info
        return best

    def resolve(self, text: str) -> ImageInfo:
        """An image already in the store, by ID or NAME[:version]."""
        if text.startswith(ID_PREFIX):
            return self.resolve_id(text)
        found = self.find(ImageRefSpec.parse(text))
        if found is None:
            die(f"image {text!r} is not in the store",
                hint=f"fetch it first: rkt fetch {text}")
        return found

    # --- changes --------------------------------------------------------------------
    def import_file(self, path: Path, limits: Limits | None = None) -> ImageInfo:
        """Add an ACI file; importing the same content twice is a no-op."""
        import shutil  # imports bz2 and lzma: not at the top, where `rkt run` would pay

        from . import archive

        limits = limits or archive.DEFAULT_LIMITS
        # `rkt run /srv/aci/x.aci` in a unit re-imports the same file on every start;
        # hashing the uncompressed tar is the slow part, so remember file -> ID.
        seen = self._seen_path(path)
        if seen is not None and seen.exists():
            known = seen.read_text().strip()
            if self._info_path(known).exists() and self.tree(known).is_dir():
                log.debug("store: %s already imported as %s", path, known)
                return self.get(known)
        with self.locked():
            self._sweep_tmp()
            tmp = _new_dir(self._dir("tmp"), IMPORT_PREFIX)
            # Held until this import ends, however it ends: a sweep tells a killed
            # import's directory from a live one by this lock.
            tmp_fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            fcntl.flock(tmp_fd, fcntl.LOCK_EX)
        try:
            # Hashing decompresses the image; its tar is kept so extracting need not again.
            unpacked = tmp / "image.tar"
            iid = image_id(path, limits, unpack_to=unpacked)
            if self._info_path(iid).exists() and self.tree(iid).is_dir():
                log.debug("store: %s already present", iid)
                self._remember(seen, iid)
                return self.get(iid)
            manifest = archive.extract(path, tmp / "tree", limits,
                                       unpacked if unpacked.exists() else None)
            unpacked.unlink(missing_ok=True)  # before the size is taken
            shutil.copyfile(path, tmp / "blob")
            size = _disk_usage(tmp)
            with self.locked():
                self._dir("tree")
                self._dir("blob")
                self._dir("info")
                if not self.tree(iid).exists():
                    os.rename(tmp / "tree", self.tree(iid))
                os.replace(tmp / "blob", self.blob(iid))
                now = time.time_ns()
                info = ImageInfo(iid, manifest.name, manifest.label("version") or "", now, now,
                                 size)
                _write_json(self._info_path(iid), asdict(info))
            self._remember(seen, iid)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            os.close(tmp_fd)
        return info

    def _sweep_tmp(self) -> None:
        """Remove what killed imports and removals left in tmp/; the caller holds the lock.

        A removal's directory lives entirely under the store lock, so one seen here is a
        leftover; an import's is a leftover once nobody holds its own lock.
        """
        import shutil

        try:
            names = os.listdir(self.root / "tmp")
        except FileNotFoundError:
            return
        for name in names:
            path = self.root / "tmp" / name
            if name.startswith(REMOVE_PREFIX):
                shutil.rmtree(path, ignore_errors=True)
            elif name.startswith(IMPORT_PREFIX):
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # an import in progress
                finally:
                    os.close(fd)
                log.debug("store: removing %s, left by an import that did not finish", path)
                shutil.rmtree(path, ignore_errors=True)

    def _seen_path(self, path: Path) -> Path | None:
        """Where the ID of this exact file (path, inode, size, mtime) is remembered."""
        import hashlib

        try:
            st = os.stat(path)
        except OSError:
            return None
        key = f"{os.path.realpath(path)}\0{st.st_dev}\0{st.st_ino}\0{st.st_size}\0" \
              f"{st.st_mtime_ns}\0{st.st_ctime_ns}"
        return self.root / "files" / hashlib.sha256(key.encode()).hexdigest()

    def _remember(self, seen: Path | None, image_id: str) -> None:
        if seen is None:
            return
        try:
            seen.parent.mkdir(parents=True, exist_ok=True)
            tmp = seen.with_suffix(".tmp")
            tmp.write_text(image_id + "\n")
            os.replace(tmp, seen)
        except OSError as e:  # only a cache
            log.debug("store: cannot remember %s: %s", seen, e)

    def touch(self, image_id: str) -> None:
        """Record that a pod used the image now (LAST USED)."""
        with self.locked():
            info = self.get(image_id)
            data = asdict(info) | {"last_used": time.time_ns()}
            _write_json(self._info_path(image_id), data)

    def remove(self, image_id: str) -> None:
        import shutil

        with self.locked():
            self._info_path(image_id).unlink(missing_ok=True)
            self.blob(image_id).unlink(missing_ok=True)
            tree = self.tree(image_id)
            if tree.exists():
                # Rename first so a half-deleted tree is never visible under its ID.
                doomed = _new_dir(self._dir("tmp"), REMOVE_PREFIX)
                os.rename(tree, doomed / "tree")
                shutil.rmtree(doomed, ignore_errors=True)


def _new_dir(parent: Path, prefix: str) -> Path:
    """A new private directory, as tempfile.mkdtemp makes one: importing tempfile (and
    random, weakref...) costs `rkt fetch` more under emulation than this loop."""
    while True:
        path = parent / f"{prefix}{os.urandom(6).hex()}"
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            continue


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def _disk_usage(path: Path) -> int:
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames + dirnames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total


# --- fetching -----------------------------------------------------------------------


@record
class FetchPolicy:
    """How fetch may get an image: security options, pull policy, config dirs."""

    insecure_image: bool = False  # skip signature verification
    insecure_http: bool = False
    insecure_tls: bool = False
    pull_policy: str = "new"  # never | new | update
    local_config: Path = Path("/etc/rkt")  # trusted keys: <config>/trustedkeys/...
    system_config: Path = Path("/usr/lib/rkt")


def _no_signature(where: str) -> RktError:
    return RktError(
        f"error opening signature file: open {where}: no such file or directory",
        hint="pass --insecure-options=image to use an unsigned image",
    )


def _verify(aci: Path, asc: Path, where: str, policy: FetchPolicy) -> None:
    """Refuse the image unless a key trusted for its name signed it (rkt_ref/trust.py)."""
    import sys

    from . import archive, trust

    keys = trust.KeyStore(policy.local_config, policy.system_config)
    signer = trust.verify_image(aci, asc, keys, where,
                                lambda: archive.read_manifest(aci).name)
    print(f"image: signature verified:\n  {signer.user_id or signer.fingerprint}",
          file=sys.stderr)


def fetch(store: Store, text: str, policy: FetchPolicy) -> ImageInfo:
    """Resolve an image argument (path, file://, http(s)://, ID, NAME[:version])."""
    if text.startswith("docker://"):
        from . import docker

        return docker.fetch(store, text, policy)
    if text.startswith(ID_PREFIX):
        return store.resolve_id(text)
    # Only text with a colon can have a URL scheme: a path is fetched without urllib.
    scheme = ""
    if ":" in text:
        from urllib.parse import unquote, urlparse

        url = urlparse(text)
        scheme = url.scheme
    if scheme == "file":
        return _fetch_file(store, Path(unquote(url.path)), policy)
    if scheme in ("http", "https"):
        if scheme == "http" and not policy.insecure_http:
            die(f"refusing to fetch {text} over plain HTTP",
                hint="pass --insecure-options=http")
        return _fetch_url(store, text, text + ".asc", policy)
    if "/" in text and (text.startswith((".", "/")) or Path(text).exists()) or \
            text.endswith(".aci"):
        return _fetch_file(store, Path(text), policy)
    spec = ImageRefSpec.parse(text)
    if policy.pull_policy != "update":
        found = store.find(spec)
        if found is not None:
            log.debug("image: using image from local store for image name %s", text)
            return found
        if policy.pull_policy == "never":
            die(f"image {text!r} is not in the store and --pull-policy=never")
    labels = dict(spec.labels)
    labels.setdefault("version", "latest")
    labels.setdefault("os", "linux")
    labels.setdefault("arch", "amd64")
    from . import discovery

    ep = discovery.discover(spec.name, labels, insecure_http=policy.insecure_http,
                            insecure_tls=policy.insecure_tls)
    log.debug("image: remote fetching from URL %s", ep.aci)
    return _fetch_url(store, ep.aci, ep.asc, policy)


def _fetch_file(store: Store, path: Path, policy: FetchPolicy) -> ImageInfo:
    if not path.is_file():
        die(f"image file {path} does not exist" if not path.exists()
            else f"{path} is not a regular file")
    log.debug("image: using image from file %s", path)
    asc = path.with_name(path.name + ".asc")
    if not policy.insecure_image:
        if not asc.is_file():
            raise _no_signature(str(asc))
        _verify(path, asc, str(path), policy)
    return store.import_file(path)


def _fetch_url(store: Store, aci_url: str, asc_url: str, policy: FetchPolicy) -> ImageInfo:
    import tempfile

    from . import archive, discovery

    sig_fd, sig_name = -1, ""
    if not policy.insecure_image:
        if not discovery.exists(asc_url, insecure_tls=policy.insecure_tls):
            raise _no_signature(asc_url)
        sig_fd, sig_name = tempfile.mkstemp(prefix="fetch-", suffix=".asc", dir=store._dir("tmp"))
    fd, name = tempfile.mkstemp(prefix="fetch-", dir=store._dir("tmp"))
    try:
        discovery.download(aci_url, fd, insecure_tls=policy.insecure_tls,
                           limit=archive.DEFAULT_LIMITS.max_total_bytes)
        os.close(fd)
        fd = -1
        if sig_name:
            discovery.download(asc_url, sig_fd, insecure_tls=policy.insecure_tls, limit=1 << 20)
            os.close(sig_fd)
            sig_fd = -1
            _verify(Path(name), Path(sig_name), aci_url, policy)
        return store.import_file(Path(name))
    finally:
        for f in (fd, sig_fd):
            if f >= 0:
                os.close(f)
        os.unlink(name)
        if sig_name:
            os.unlink(sig_name)
