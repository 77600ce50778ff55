"""Trusted keys (rkt's store layout), key parsing, and gpgv verification of images."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rkt_ref import cli, trust
from rkt_ref.errors import RktError
from rkt_ref.store import FetchPolicy, Store, fetch
from tests.acis import write_aci

pytestmark = pytest.mark.skipif(not (shutil.which("gpg") and shutil.which("gpgv")),
                                reason="needs gpg (to make keys) and gpgv")


@dataclass(frozen=True)
class Signer:
    home: Path
    email: str
    armored: bytes
    fingerprint: str

    def sign(self, path: Path, out: Path | None = None) -> Path:
        out = out or path.with_name(path.name + ".asc")
        subprocess.run(["gpg", "--homedir", str(self.home), "--batch", "--yes", "--quiet",
                        "--local-user", self.email, "--armor", "--detach-sign",
                        "--output", str(out), str(path)], check=True)
        return out


def _make_signer(home: Path, email: str) -> Signer:
    home.mkdir(mode=0o700, parents=True)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--quiet"]
    subprocess.run([*gpg, "--passphrase", "", "--quick-gen-key",
                    f"Test signer <{email}>", "ed25519", "sign", "never"], check=True)
    armored = subprocess.run([*gpg, "--armor", "--export", email], check=True,
                             capture_output=True).stdout
    colons = subprocess.run([*gpg, "--with-colons", "--fingerprint", email], check=True,
                            capture_output=True, text=True).stdout
    fpr = next(ln.split(":")[9] for ln in colons.splitlines() if ln.startswith("fpr:"))
    return Signer(home, email, armored, fpr.lower())


@pytest.fixture(scope="module")
def signers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Signer, Signer]]:
    base = tmp_path_factory.mktemp("gnupg")
    coreos = _make_signer(base / "coreos", "signer@coreos.com")
    example = _make_signer(base / "example", "signer@example.com")
    yield coreos, example
    for s in (coreos, example):
        subprocess.run(["gpgconf", "--homedir", str(s.home), "--kill", "all"], check=False)


# --- keys -------------------------------------------------------------------------------


def test_fingerprint_and_user_id_match_gpg(signers: tuple[Signer, Signer]) -> None:
    key = trust.read_key(signers[0].armored)
    assert key.fingerprint == signers[0].fingerprint
    assert key.user_ids == ("Test signer <signer@coreos.com>",)
    assert key.spaced.replace(" ", "").lower() == key.fingerprint
    binary = trust.dearmor(signers[0].armored)
    assert trust.read_key(binary).fingerprint == key.fingerprint


@pytest.mark.parametrize("data", [b"", b"hello", b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!\n"
                                  b"-----END PGP PUBLIC KEY BLOCK-----\n", b"\x99\x00\x05ab"])
def test_not_a_key(data: bytes) -> None:
    with pytest.raises(RktError):
        trust.read_key(data)


def test_armor_checksum_is_checked(signers: tuple[Signer, Signer]) -> None:
    lines = signers[0].armored.decode().splitlines()
    crc = next(i for i, ln in enumerate(lines) if ln.startswith("="))
    lines[crc] = "=AAAA"
    with pytest.raises(RktError, match="checksum"):
        trust.dearmor("\n".join(lines).encode())


# --- the store layout ---------------------------------------------------------------------


def test_layout_is_rkts(tmp_path: Path, signers: tuple[Signer, Signer]) -> None:
    store = trust.KeyStore(tmp_path / "etc", tmp_path / "usr")
    key = trust.read_key(signers[0].armored)
    p = store.add(key, "coreos.com/etcd")
    assert p == tmp_path / "etc/trustedkeys/prefix.d/coreos.com/etcd" / key.fingerprint
    assert p.read_bytes() == signers[0].armored
    r = store.add(key, None)
    assert r == tmp_path / "etc/trustedkeys/root.d" / key.fingerprint
    assert {(k.scope, k.prefix) for k in store.keys()} == {
        (trust.Scope.PREFIX, "coreos.com/etcd"), (trust.Scope.ROOT, "")}
    assert store.remove(key.fingerprint, root=True) == [r]
    assert [k.prefix for k in store.keys_for("coreos.com/etcd")] == ["coreos.com/etcd"]
    assert store.keys_for("coreos.com/etcd-backup") == []
    assert store.keys_for("coreos.com") == []


def test_key_permissions_are_rkts(tmp_path: Path, signers: tuple[Signer, Signer]) -> None:
    """rkt (pkg/keystore): key directories 0755, key files 0644 (under the usual umask)."""
    old = os.umask(0o022)
    try:
        p = trust.KeyStore(tmp_path / "etc").add(trust.read_key(signers[0].armored),
                                                 "coreos.com/etcd")
    finally:
        os.umask(old)
    assert (p.stat().st_mode & 0o7777) == 0o644
    d = p.parent
    while d != tmp_path / "etc":
        assert (d.stat().st_mode & 0o7777) == 0o755, d
        d = d.parent


def test_prefix_matches_whole_segments(tmp_path: Path, signers: tuple[Signer, Signer]) -> None:
    store = trust.KeyStore(tmp_path / "etc", tmp_path / "usr")
    store.add(trust.read_key(signers[0].armored), "coreos.com")
    assert store.keys_for("coreos.com/etcd") and store.keys_for("coreos.com")
    assert not store.keys_for("coreos.community/etcd")


def test_system_keys_and_local_disabling(tmp_path: Path, signers: tuple[Signer, Signer]) -> None:
    key = trust.read_key(signers[0].armored)
    system = trust.KeyStore(tmp_path / "usr", tmp_path / "none")
    system.add(key, "coreos.com")
    store = trust.KeyStore(tmp_path / "etc", tmp_path / "usr")
    assert [k.fingerprint for k in store.keys_for("coreos.com/etcd")] == [key.fingerprint]
    mask = tmp_path / "etc/trustedkeys/prefix.d/coreos.com" / key.fingerprint
    mask.parent.mkdir(parents=True)
    mask.write_bytes(b"")
    assert store.keys_for("coreos.com/etcd") == []


@pytest.mark.parametrize("prefix", ["../etc", "Coreos.com", "coreos.com//x", "/"])
def test_bad_prefix_is_refused(tmp_path: Path, signers: tuple[Signer, Signer],
                               prefix: str) -> None:
    store = trust.KeyStore(tmp_path / "etc", tmp_path / "usr")
    with pytest.raises(RktError):
        store.add(trust.read_key(signers[0].armored), prefix)
    assert not any((tmp_path / "etc").rglob("*")) if (tmp_path / "etc").exists() else True


# --- verification -------------------------------------------------------------------------


def _policy(tmp_path: Path, insecure: bool = False) -> FetchPolicy:
    return FetchPolicy(insecure_image=insecure, local_config=tmp_path / "etc",
                       system_config=tmp_path / "usr")


def test_good_signature_by_prefix_key(tmp_path: Path, signers: tuple[Signer, Signer],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    aci = write_aci(tmp_path / "etcd.aci", "coreos.com/etcd", "v1")
    signers[0].sign(aci)
    trust.KeyStore(tmp_path / "etc").add(trust.read_key(signers[0].armored), "coreos.com/etcd")
    info = fetch(Store(tmp_path / "rkt"), str(aci), _policy(tmp_path))
    assert info.name == "coreos.com/etcd"
    assert "signature verified" in capsys.readouterr().err


def test_missing_signature(tmp_path: Path) -> None:
    aci = write_aci(tmp_path / "etcd.aci", "coreos.com/etcd", "v1")
    with pytest.raises(RktError, match="error opening signature file") as e:
        fetch(Store(tmp_path / "rkt"), str(aci), _policy(tmp_path))
    assert e.value.hint and "--insecure-options=image" in e.value.hint
    assert fetch(Store(tmp_path / "rkt"), str(aci), _policy(tmp_path, insecure=True))


def test_tampered_image_is_refused(tmp_path: Path, signers: tuple[Signer, Signer]) -> None:
    aci = write_aci(tmp_path / "etcd.aci", "coreos.com/etcd", "v1")
    signers[0].sign(aci)
    with open(aci, "ab") as f:
        f.write(b"\0" * 512)
    trust.KeyStore(tmp_path / "etc").add(trust.read_key(signers[0].armored), "coreos.com")
    store = Store(tmp_path / "rkt")
    with pytest.raises(RktError, match="invalid signature"):
        fetch(store, str(aci), _policy(tmp_path))
    assert store.images() == []


def test_untrusted_signer(tmp_path: Path, signers: tuple[Signer, Signer]) -> None:
    aci = write_aci(tmp_path / "etcd.aci", "coreos.com/etcd", "v1")
    signers[1].sign(aci)
    trust.KeyStore(tmp_path / "etc").add(trust.read_key(signers[0].armored), "coreos.com")
    with pytest.raises(RktError, match="signature made by unknown entity"):
        fetch(Store(tmp_path / "rkt"), str(aci), _policy(tmp_path))


def test_key_for_another_prefix_does_not_count(tmp_path: Path,
                                               signers: tuple[Signer, Signer]) -> None:
    aci = write_aci(tmp_path / "etcd.aci", "coreos.com/etcd", "v1")
    signers[1].sign(aci)
    trust.KeyStore(tmp_path / "etc").add(trust.read_key(signers[1].armored), "example.com")
    with pytest.raises(RktError, match="trusted for prefix example.com, not for image"):
        fetch(Store(tmp_path / "rkt"), str(aci), _policy(tmp_path))


def test_no_keys_at_all(tmp_path: Path, signers: tuple[Signer, Signer]) -> None:
    aci = write_aci(tmp_path / "etcd.aci", "coreos.com/etcd", "v1")
    signers[0].sign(aci)
    with pytest.raises(RktError, match="unknown entity"):
        fetch(Store(tmp_path / "rkt"), str(aci), _policy(tmp_path))


def test_gpgv_status_parsing() -> None:
    good = ("[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG 0123456789ABCDEF Test <t@x>\n"
            "[GNUPG:] VALIDSIG AAAA 2024-01-01 1 0 4 0 22 10 01 " + "B" * 40 + "\n")
    assert trust.parse_status(good) == ("good", "b" * 40, "Test <t@x>")
    assert trust.parse_status("[GNUPG:] BADSIG 0123 Test <t@x>\n")[0] == "bad"
    assert trust.parse_status("[GNUPG:] ERRSIG 0123 22 10 00 1700000000 9 -\n"
                              "[GNUPG:] NO_PUBKEY 0123\n")[0] == "unknown"
    assert trust.parse_status("")[0] == "error"


# --- the command ----------------------------------------------------------------------------


def _rkt(tmp_path: Path, *argv: str) -> None:
    cli.main(["--local-config", str(tmp_path / "etc"), "--system-config", str(tmp_path / "usr"),
              "--dir", str(tmp_path / "rkt"), *argv])


def test_trust_command(tmp_path: Path, signers: tuple[Signer, Signer],
                       capsys: pytest.CaptureFixture[str]) -> None:
    keyfile = tmp_path / "coreos.com.asc"
    keyfile.write_bytes(signers[0].armored)
    _rkt(tmp_path, "trust", "--prefix=coreos.com/etcd", str(keyfile))
    out = capsys.readouterr().out
    fpr = signers[0].fingerprint
    assert f"/trustedkeys/prefix.d/coreos.com/etcd/{fpr}" in out
    _rkt(tmp_path, "trust", "--list")
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split() == ["PREFIX", "FINGERPRINT", "USER", "ID"]
    assert listed[1].split()[:2] == ["coreos.com/etcd", fpr]
    _rkt(tmp_path, "trust", "--remove", fpr)
    assert not (tmp_path / f"etc/trustedkeys/prefix.d/coreos.com/etcd/{fpr}").exists()
    with pytest.raises(RktError, match="no trusted key"):
        _rkt(tmp_path, "trust", "--remove", fpr)


@pytest.mark.parametrize("argv", [["trust", "x.asc"], ["trust", "--root", "--prefix=a", "x"],
                                  ["trust", "--prefix=coreos.com"],
                                  ["trust", "--remove", "nothex"]])
def test_trust_usage_errors(tmp_path: Path, argv: list[str]) -> None:
    with pytest.raises(RktError):
        _rkt(tmp_path, *argv)


def test_trust_refuses_a_non_key_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.asc"
    bad.write_text("not a key")
    with pytest.raises(RktError, match="not an OpenPGP key"):
        _rkt(tmp_path, "trust", "--prefix=coreos.com", str(bad))
    assert not (tmp_path / "etc").exists()
    assert os.listdir(tmp_path) == ["bad.asc"]
