"""ACI archives are hostile input: a corpus of bad tarballs, built here, must be refused
with a clear message and must leave nothing behind, neither in the store nor outside."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rkt_ref import archive
from rkt_ref.archive import ArchiveError, Limits
from rkt_ref.errors import RktError
from rkt_ref.store import Store

MANIFEST = json.dumps({
    "acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/hostile",
    "labels": [{"name": "version", "value": "1"}],
    "app": {"exec": ["/bin/true"], "user": "0", "group": "0"},
}).encode()

Member = Callable[[tarfile.TarFile], None]


def f(name: str, data: bytes = b"x") -> Member:
    def add(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return add


def d(name: str) -> Member:
    def add(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tf.addfile(info)
    return add


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> Member:
    def add(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = target
        tf.addfile(info)
    return add


def dev(name: str, kind: bytes = tarfile.CHRTYPE) -> Member:
    def add(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.devmajor, info.devminor = 1, 3
        tf.addfile(info)
    return add


def build(path: Path, members: list[Member], compression: str = "") -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for add in members:
            add(tf)
    raw = buf.getvalue()
    packed = {"": raw, "gz": gzip.compress(raw), "bz2": bz2.compress(raw),
              "xz": lzma.compress(raw)}[compression]
    path.write_bytes(packed)
    return path


GOOD = [f("manifest", MANIFEST), d("rootfs"), d("rootfs/bin"), f("rootfs/bin/true", b"#!"),
        link("rootfs/bin/sh", "/bin/true"), link("rootfs/bin/rel", "../bin/true"),
        link("rootfs/bin/hl", "rootfs/bin/true", tarfile.LNKTYPE)]

HOSTILE: dict[str, tuple[list[Member], str]] = {
    "traversal": ([f("manifest", MANIFEST), d("rootfs"), f("rootfs/../../evil")], "'..'"),
    "traversal-top": ([f("manifest", MANIFEST), d("rootfs"), f("../evil")], "'..'"),
    "absolute": ([f("manifest", MANIFEST), d("rootfs"), f("/tmp/evil")], "absolute path"),
    "symlink-escape": ([f("manifest", MANIFEST), d("rootfs"), link("rootfs/up", "../../etc")],
                       "points outside rootfs"),
    "symlink-escape-deep": ([f("manifest", MANIFEST), d("rootfs"), d("rootfs/a"),
                             link("rootfs/a/up", "../../../x")], "points outside rootfs"),
    "write-through-symlink": ([f("manifest", MANIFEST), d("rootfs"), link("rootfs/etc", "/etc"),
                               f("rootfs/etc/passwd", b"root::0:0")], "through a symlink"),
    "hardlink-escape": ([f("manifest", MANIFEST), d("rootfs"),
                         link("rootfs/pw", "/etc/passwd", tarfile.LNKTYPE)], "absolute path"),
    "hardlink-traversal": ([f("manifest", MANIFEST), d("rootfs"),
                            link("rootfs/pw", "rootfs/../../etc/passwd", tarfile.LNKTYPE)], "'..'"),
    "hardlink-to-manifest": ([f("manifest", MANIFEST), d("rootfs"),
                              link("rootfs/m", "manifest", tarfile.LNKTYPE)],
                             "points outside rootfs"),
    "hardlink-forward": ([f("manifest", MANIFEST), d("rootfs"),
                          link("rootfs/a", "rootfs/b", tarfile.LNKTYPE), f("rootfs/b")],
                         "earlier regular file"),
    "char-device": ([f("manifest", MANIFEST), d("rootfs"), dev("rootfs/null")], "device node"),
    "block-device": ([f("manifest", MANIFEST), d("rootfs"), dev("rootfs/sda", tarfile.BLKTYPE)],
                     "device node"),
    "duplicate-file": ([f("manifest", MANIFEST), d("rootfs"), f("rootfs/a"), f("./rootfs/a")],
                       "more than once"),
    "duplicate-manifest": ([f("manifest", MANIFEST), f("./manifest", MANIFEST), d("rootfs")],
                           "more than once"),
    "extra-top-level": ([f("manifest", MANIFEST), d("rootfs"), f("README")],
                        "unexpected top-level entry"),
    "no-manifest": ([d("rootfs"), f("rootfs/a")], "no 'manifest'"),
    "no-rootfs": ([f("manifest", MANIFEST)], "no 'rootfs'"),
    "manifest-is-dir": ([d("manifest"), d("rootfs")], "regular file"),
    "rootfs-is-file": ([f("manifest", MANIFEST), f("rootfs")], "must be a directory"),
    "bad-manifest": ([f("manifest", b"{not json"), d("rootfs")], "not valid JSON"),
}


@pytest.mark.parametrize("compression", ["", "gz", "bz2", "xz"])
def test_good_aci_extracts(tmp_path: Path, compression: str) -> None:
    aci = build(tmp_path / "good.aci", GOOD, compression)
    assert archive.compression(aci) == (compression or "tar")
    manifest = archive.extract(aci, tmp_path / "out")
    assert manifest.name == "example.com/hostile"
    root = tmp_path / "out" / "rootfs"
    assert (root / "bin" / "true").read_bytes() == b"#!"
    assert os.readlink(root / "bin" / "sh") == "/bin/true"
    assert os.stat(root / "bin" / "hl").st_ino == os.stat(root / "bin" / "true").st_ino
    assert sorted(os.listdir(tmp_path / "out")) == ["manifest", "rootfs"]


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archive_refused_before_writing(tmp_path: Path, case: str) -> None:
    members, words = HOSTILE[case]
    aci = build(tmp_path / f"{case}.aci", members, "gz")
    before = set(os.listdir(tmp_path))
    with pytest.raises(RktError) as e:
        archive.extract(aci, tmp_path / "out")
    assert words in str(e.value)
    assert "\n" not in str(e.value)
    # checked before extraction: not even the destination directory was made
    assert set(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("compression", ["", "gz"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_store_keeps_nothing_of_a_hostile_archive(tmp_path: Path, case: str,
                                                  compression: str) -> None:
    members, _ = HOSTILE[case]
    aci = build(tmp_path / f"{case}.aci", members, compression)
    store = Store(tmp_path / "rkt")
    with pytest.raises(RktError):
        store.import_file(aci)
    assert store.images() == []
    assert not any((tmp_path / "rkt" / "cas" / "tree").glob("*"))
    assert not any((tmp_path / "rkt" / "cas" / "tmp").iterdir())
    assert not (tmp_path / "evil").exists()


def test_store_decompresses_an_image_once(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Hashing for the ID and extracting read the same uncompressed tar: under emulation
    decompressing is most of what `rkt fetch` costs."""
    opened: list[object] = []
    decompressobj = zlib.decompressobj

    def counting_decompressobj(*args: Any, **kwargs: Any) -> Any:
        opened.append(args)
        return decompressobj(*args, **kwargs)

    # Whoever inflates, archive itself or a GzipFile (tarfile imports it late), asks zlib.
    monkeypatch.setattr(zlib, "decompressobj", counting_decompressobj)
    aci = build(tmp_path / "good.aci", GOOD, "gz")
    store = Store(tmp_path / "rkt")
    info = store.import_file(aci)
    assert len(opened) == 1
    assert info.id == "sha512-" + hashlib.sha512(gzip.decompress(aci.read_bytes())).hexdigest()[:64]
    assert (store.rootfs(info.id) / "bin" / "true").read_bytes() == b"#!"
    assert os.listdir(store.root / "tmp") == []


def test_extract_reads_the_uncompressed_copy_but_names_the_image(tmp_path: Path) -> None:
    aci = build(tmp_path / "junk.aci", [], "gz")
    tar = tmp_path / "image.tar"
    tar.write_bytes(b"junk" * 200)  # whatever image_digest found inside
    with pytest.raises(ArchiveError) as e:
        archive.extract(aci, tmp_path / "out", uncompressed=tar)
    assert str(e.value) == (f"{aci}: not a valid ACI archive: not a tar file (plain, or gzip, "
                            "bzip2 or xz compressed)")
    assert not (tmp_path / "out").exists()


def test_size_limit_against_bombs(tmp_path: Path) -> None:
    zeros = b"\0" * (4 << 20)
    aci = build(tmp_path / "bomb.aci", [f("manifest", MANIFEST), d("rootfs"),
                                        f("rootfs/zeros", zeros)], "xz")
    assert aci.stat().st_size < 64 << 10  # it compresses to almost nothing
    limits = Limits(max_total_bytes=1 << 20, max_members=100)
    with pytest.raises(ArchiveError, match="exceeds"):
        archive.extract(aci, tmp_path / "out", limits)
    with pytest.raises(ArchiveError, match="exceeds"):
        archive.image_digest(aci, limits)


def test_member_count_limit(tmp_path: Path) -> None:
    members = [f("manifest", MANIFEST), d("rootfs")] + [f(f"rootfs/f{i}") for i in range(20)]
    aci = build(tmp_path / "many.aci", members)
    with pytest.raises(ArchiveError, match="more than 10 members"):
        archive.extract(aci, tmp_path / "out", Limits(max_members=10))


def test_garbage_is_not_an_archive(tmp_path: Path) -> None:
    p = tmp_path / "junk.aci"
    p.write_bytes(b"\x1f\x8b" + b"junk" * 100)
    with pytest.raises(ArchiveError):
        archive.extract(p, tmp_path / "out")


@pytest.mark.parametrize("shape", ["one-member", "two-members", "zero-padded"])
def test_gzip_is_read_as_gzipfile_reads_it(tmp_path: Path, shape: str) -> None:
    """archive inflates with zlib itself; what it reads is what GzipFile reads."""
    data = os.urandom(3 << 20) + b"\0" * (3 << 20)  # more than one chunk in and out
    packed = {"one-member": gzip.compress(data),
              "two-members": gzip.compress(data[:100]) + gzip.compress(data[100:]),
              "zero-padded": gzip.compress(data) + b"\0" * 1000}[shape]
    p = tmp_path / "x.gz"
    p.write_bytes(packed)
    assert archive.image_digest(p) == hashlib.sha512(gzip.decompress(packed)).hexdigest()


@pytest.mark.parametrize("damage", ["truncated", "bad-crc", "junk-after"])
def test_damaged_gzip_is_refused(tmp_path: Path, damage: str) -> None:
    packed = gzip.compress(b"tar" * 1000)
    p = tmp_path / "x.gz"
    p.write_bytes({"truncated": packed[:-10],
                   "bad-crc": packed[:-8] + bytes(4) + packed[-4:],
                   "junk-after": packed + b"junk"}[damage])
    with pytest.raises(gzip.BadGzipFile if damage != "truncated" else EOFError):
        gzip.decompress(p.read_bytes())  # GzipFile refuses it too
    with pytest.raises(ArchiveError, match="cannot decompress image"):
        archive.image_digest(p)
