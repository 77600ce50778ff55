"""The image is keyed by everything that goes into it."""

from pathlib import Path

import pytest

from vm import cache, image
from vm.initrd import Entry, cpio_newc


def test_key_is_stable_and_order_independent() -> None:
    parts = [("a", b"1"), ("b", b"2")]
    assert cache.content_key(parts) == cache.content_key(list(reversed(parts)))


def test_any_changed_byte_or_name_changes_the_key() -> None:
    base = cache.content_key([("a", b"1"), ("b", b"2")])
    assert cache.content_key([("a", b"1"), ("b", b"3")]) != base
    assert cache.content_key([("a", b"1"), ("c", b"2")]) != base


def test_the_recipe_covers_packages_guest_scripts_and_apt_sources() -> None:
    names = {name for name, _ in image.recipe_inputs()}
    assert {"packages", "guest/customize.sh", "guest/fixtures.sh", "initrd.py"} <= names
    assert all(not name.startswith("apt/") or Path(name[4:]).is_file() for name in names)


def test_the_key_changes_when_a_package_is_added(monkeypatch: pytest.MonkeyPatch) -> None:
    before = image.image_key()
    monkeypatch.setattr(image, "PACKAGES", (*image.PACKAGES, "hello"))
    assert image.image_key() != before


def test_cache_root_honours_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RKT_REF_CACHE", str(tmp_path))
    assert cache.cache_root() == tmp_path
    monkeypatch.delenv("RKT_REF_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache.cache_root() == tmp_path / "x" / "rkt-ref"


def test_cpio_is_newc_with_a_trailer_and_aligned() -> None:
    blob = cpio_newc([Entry("init", 0o100755, b"#!/bin/sh\n")])
    assert blob.startswith(b"070701")
    assert b"TRAILER!!!\0" in blob
    assert len(blob) % 4 == 0
