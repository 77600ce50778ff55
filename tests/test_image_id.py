"""Image IDs: sha512 of the uncompressed tar, shown as rkt shows them."""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import lzma
import os
from pathlib import Path

import pytest

from rkt_ref import store as store_module
from rkt_ref.schema import ID_PREFIX, short_id
from rkt_ref.store import Store, image_id
from tests.acis import aci_tar


def plain_tar() -> bytes:
    return aci_tar("example.com/app", "1.0", app=False)


def test_id_is_sha512_of_the_uncompressed_tar(tmp_path: Path) -> None:
    raw = plain_tar()
    want = ID_PREFIX + hashlib.sha512(raw).hexdigest()[:64]
    for name, data in {"plain": raw, "gz": gzip.compress(raw), "xz": lzma.compress(raw)}.items():
        p = tmp_path / f"{name}.aci"
        p.write_bytes(data)
        assert image_id(p) == want


def test_printed_forms() -> None:
    iid = ID_PREFIX + "aac777f923626f28948d3d8d38aed496f3e573f40534ca3d08b500bc16b519f9"
    assert short_id(iid) == "sha512-aac777f923626f28948d3d8d38aed496"  # `rkt fetch`
    assert short_id(iid, 12) == "sha512-aac777f92362"  # `rkt image list`
    assert len(iid) == len("sha512-") + 64  # `rkt fetch --full`


def test_same_content_imports_once(tmp_path: Path) -> None:
    raw = plain_tar()
    (tmp_path / "a.aci").write_bytes(raw)
    (tmp_path / "b.aci").write_bytes(gzip.compress(raw))
    store = Store(tmp_path / "rkt")
    a = store.import_file(tmp_path / "a.aci")
    b = store.import_file(tmp_path / "b.aci")
    assert a.id == b.id
    assert [i.id for i in store.images()] == [a.id]
    assert store.resolve("example.com/app:1.0").id == a.id
    assert store.resolve(short_id(a.id, 12)).id == a.id
    assert store.manifest(a.id).name == "example.com/app"


def test_reimporting_the_same_file_skips_hashing(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    aci = tmp_path / "a.aci"
    aci.write_bytes(gzip.compress(plain_tar()))
    store = Store(tmp_path / "rkt")
    first = store.import_file(aci)

    def no_hashing(*a: object, **k: object) -> str:
        raise AssertionError("the file was hashed again")

    monkeypatch.setattr(store_module, "image_id", no_hashing)
    assert store.import_file(aci).id == first.id
    aci.write_bytes(plain_tar())  # changed file: hashed again
    with pytest.raises(AssertionError, match="hashed again"):
        store.import_file(aci)


def test_an_import_sweeps_what_killed_imports_left(tmp_path: Path) -> None:
    """An rkt killed while importing (or removing) an image leaves its work directory
    under cas/tmp; the next import removes it, but not one another import still holds."""
    store = Store(tmp_path / "rkt")
    tmp = store.root / "tmp"
    killed_import = tmp / "import-killed"
    (killed_import / "tree" / "rootfs").mkdir(parents=True)
    (killed_import / "tree" / "rootfs" / "big").write_bytes(b"x" * 4096)
    killed_removal = tmp / "rm-killed"
    (killed_removal / "tree").mkdir(parents=True)
    live_import = tmp / "import-live"
    live_import.mkdir()
    fd = os.open(live_import, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as the importing rkt holds it
    try:
        (tmp_path / "a.aci").write_bytes(plain_tar())
        store.import_file(tmp_path / "a.aci")
        assert sorted(os.listdir(tmp)) == ["import-live"]
    finally:
        os.close(fd)
