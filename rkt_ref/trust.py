"""Trusted signing keys and the verification of an image's detached signature.

The key store has rkt's layout: a key trusted for every image lives in
`<config>/trustedkeys/root.d/<fingerprint>`, a key trusted for the images whose name starts
with a prefix (by whole path segments) in `<config>/trustedkeys/prefix.d/<prefix>/<fingerprint>`,
where the fingerprint is 40 lower-case hex digits. The local configuration (/etc/rkt) is
where `rkt trust` writes; the system configuration (/usr/lib/rkt) belongs to the
distribution, and an empty file of the same name under /etc/rkt disables its key.

Keys are read here just far enough to name them (fingerprint, user ID). Signatures are
checked by GnuPG's gpgv against a keyring of the trusted keys only: gpgv is the OpenPGP
implementation, this module merely decides which keys it may use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from pathlib import Path

from . import proc
from .errors import RktError, die
from .record import record
from .schema import ManifestError, acidentifier

LOCAL_CONFIG = Path("/etc/rkt")
SYSTEM_CONFIG = Path("/usr/lib/rkt")
MAX_KEY_BYTES = 1 << 20

_FINGERPRINT = re.compile(r"^[0-9a-f]{40}$")

TAG_PUBLIC_KEY = 6
TAG_USER_ID = 13


class KeyFileError(RktError):
    """A key file that is not an OpenPGP public key rkt_ref can use."""


# --- reading keys ---------------------------------------------------------------------


def dearmor(data: bytes) -> bytes:
    """The binary packets of an ASCII-armored block (or `data` itself if already binary)."""
    if data[:1] and data[0] & 0x80:
        return data
    text = data.decode("ascii", "replace").replace("\r\n", "\n")
    m = re.search(r"-----BEGIN PGP ([A-Z ]+)-----\n(.*?)-----END PGP \1-----", text, re.S)
    if m is None:
        raise KeyFileError("not an OpenPGP key: no armored block and no binary packet")
    header, sep, body = m.group(2).partition("\n\n")
    if not sep:  # no armor headers: the body starts at once
        body = header
    lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
    payload = "".join(ln for ln in lines if not ln.startswith("="))
    try:
        raw = base64.b64decode(payload, validate=True)
    except binascii.Error as e:
        raise KeyFileError(f"not an OpenPGP key: bad armor ({e})") from None
    crc = [ln for ln in lines if ln.startswith("=")]
    if crc and base64.b64decode(crc[-1][1:]) != _crc24(raw).to_bytes(3, "big"):
        raise KeyFileError("not an OpenPGP key: armor checksum mismatch")
    return raw


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def packets(raw: bytes) -> Iterator[tuple[int, bytes]]:
    """(tag, body) of each OpenPGP packet (RFC 4880 section 4.2, both header formats)."""
    i = 0
    while i < len(raw):
        head = raw[i]
        if not head & 0x80:
            raise KeyFileError(f"not an OpenPGP packet at offset {i}")
        i += 1
        if head & 0x40:  # new format
            tag = head & 0x3F
            if i >= len(raw):
                raise KeyFileError("truncated packet header")
            first = raw[i]
            if first < 192:
                length, i = first, i + 1
            elif first < 224:
                if i + 1 >= len(raw):
                    raise KeyFileError("truncated packet header")
                length, i = ((first - 192) << 8) + raw[i + 1] + 192, i + 2
            elif first == 255:
                length, i = int.from_bytes(raw[i + 1:i + 5], "big"), i + 5
            else:
                raise KeyFileError("partial-length packets do not occur in keys")
        else:
            tag = (head >> 2) & 0x0F
            kind = head & 3
            if kind == 3:
                length = len(raw) - i
            else:
                size = (1, 2, 4)[kind]
                length, i = int.from_bytes(raw[i:i + size], "big"), i + size
        if i + length > len(raw):
            raise KeyFileError("truncated packet")
        yield tag, raw[i:i + length]
        i += length


@record
class PublicKey:
    """An OpenPGP public key as given to `rkt trust`."""

    fingerprint: str  # 40 lower-case hex digits (v4)
    user_ids: tuple[str, ...]
    armored: bytes  # the file as given, stored unchanged

    @property
    def spaced(self) -> str:
        """The fingerprint as gpg prints it: groups of four, a wider gap in the middle."""
        f = self.fingerprint.upper()
        groups = [f[i:i + 4] for i in range(0, 40, 4)]
        return " ".join(groups[:5]) + "  " + " ".join(groups[5:])


def read_key(data: bytes) -> PublicKey:
    """The first (primary) public key of a key file, armored or binary."""
    if len(data) > MAX_KEY_BYTES:
        raise KeyFileError(f"key file is larger than {MAX_KEY_BYTES} bytes")
    primary: bytes | None = None
    uids: list[str] = []
    for tag, body in packets(dearmor(data)):
        if tag == TAG_PUBLIC_KEY:
            if primary is not None:
                break  # a second key: rkt stores one key per file
            primary = body
        elif tag == TAG_USER_ID and primary is not None:
            uids.append(body.decode("utf-8", "replace"))
    if primary is None:
        raise KeyFileError("the file holds no OpenPGP public key")
    if not primary or primary[0] != 4:
        raise KeyFileError(f"OpenPGP key version {primary[:1].hex() or '?'} is not supported "
                        "(only version 4 keys)")
    fpr = hashlib.sha1(b"\x99" + len(primary).to_bytes(2, "big") + primary).hexdigest()
    return PublicKey(fpr, tuple(uids), data)


# --- the key store ------------------------------------------------------------------


class Scope(StrEnum):
    ROOT = "root"
    PREFIX = "prefix"


@record
class TrustedKey:
    """A key in the trust store, trusted for a prefix or as a root key."""

    fingerprint: str
    scope: Scope
    prefix: str  # "" for root keys
    path: Path

    def covers(self, name: str) -> bool:
        """Whether this key may sign the image `name` (prefixes match whole segments)."""
        if self.scope == Scope.ROOT:
            return True
        return name == self.prefix or name.startswith(self.prefix + "/")


def check_prefix(prefix: str) -> str:
    try:
        return acidentifier(prefix.strip("/"), "trust prefix")
    except ManifestError as e:
        raise RktError(e.message, hint="a prefix is an image name or its start, "
                       "e.g. coreos.com/etcd or coreos.com") from None


@record
class KeyStore:
    """rkt's trust store: local and system trustedkeys directories."""

    local: Path = LOCAL_CONFIG
    system: Path = SYSTEM_CONFIG

    def _dir(self, base: Path, scope: Scope, prefix: str = "") -> Path:
        d = base / "trustedkeys" / ("root.d" if scope == Scope.ROOT else "prefix.d")
        return d / prefix if prefix else d

    def _scan(self, base: Path) -> Iterator[TrustedKey]:
        root = self._dir(base, Scope.ROOT)
        if root.is_dir():
            for p in sorted(root.iterdir()):
                if _FINGERPRINT.match(p.name) and p.is_file():
                    yield TrustedKey(p.name, Scope.ROOT, "", p)
        pre = self._dir(base, Scope.PREFIX)
        if pre.is_dir():
            for dirpath, _dirs, files in sorted(os.walk(pre)):
                for f in sorted(files):
                    if _FINGERPRINT.match(f):
                        prefix = os.path.relpath(dirpath, pre)
                        yield TrustedKey(f, Scope.PREFIX, prefix, Path(dirpath) / f)

    def keys(self) -> list[TrustedKey]:
        """Every enabled key: /etc/rkt's, then the system's not disabled by /etc/rkt."""
        local = list(self._scan(self.local))
        seen = {(k.scope, k.prefix, k.fingerprint) for k in local}
        out = [k for k in local if k.path.stat().st_size > 0]
        for k in self._scan(self.system):
            if (k.scope, k.prefix, k.fingerprint) not in seen and k.path.stat().st_size > 0:
                out.append(k)
        return out

    def keys_for(self, name: str) -> list[TrustedKey]:
        return [k for k in self.keys() if k.covers(name)]

    def add(self, key: PublicKey, prefix: str | None) -> Path:
        """Store the key under /etc/rkt for the prefix (None: root); returns its path."""
        scope = Scope.ROOT if prefix is None else Scope.PREFIX
        d = self._dir(self.local, scope, check_prefix(prefix) if prefix else "")
        d.mkdir(parents=True, exist_ok=True)
        dest = d / key.fingerprint
        fd, tmp = tempfile.mkstemp(prefix=".key-", dir=d)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(key.armored)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest

    def remove(self, fingerprint: str, prefix: str | None = None,
               root: bool = False) -> list[Path]:
        """Delete /etc/rkt's copies of a key (all scopes unless narrowed)."""
        fpr = normalize_fingerprint(fingerprint)
        gone: list[Path] = []
        for k in self._scan(self.local):
            if k.fingerprint != fpr:
                continue
            if root and k.scope != Scope.ROOT:
                continue
            if prefix is not None and (k.scope != Scope.PREFIX or k.prefix != prefix.strip("/")):
                continue
            k.path.unlink()
            gone.append(k.path)
        return gone


def normalize_fingerprint(text: str) -> str:
    fpr = re.sub(r"\s+", "", text).lower()
    if not _FINGERPRINT.match(fpr):
        die(f"{text!r} is not a key fingerprint",
            hint="a fingerprint is 40 hex digits, as 'rkt trust --list' shows")
    return fpr


# --- verification ---------------------------------------------------------------------


@record
class Signer:
    """The key that made a good signature, and its user ID."""

    fingerprint: str
    user_id: str


class VerificationError(RktError):
    """An image's signature is missing, invalid, or made by a key not trusted for it."""


_INSECURE_HINT = "pass --insecure-options=image to use the image without verifying it"


def gpgv_argv(homedir: Path, keyring: Path, signature: Path, data: Path) -> list[str]:
    return ["gpgv", "--homedir", str(homedir), "--status-fd", "1",
            "--keyring", str(keyring), str(signature), str(data)]


def parse_status(text: str) -> tuple[str, str, str]:
    """(verdict, primary fingerprint, user ID) from gpgv's --status-fd lines.

    verdict: "good", "bad" (the data or signature was altered), "unknown" (no trusted key
    made it) or "error".
    """
    verdict, fpr, uid = "error", "", ""
    for line in text.splitlines():
        if not line.startswith("[GNUPG:] "):
            continue
        word, _, rest = line[9:].partition(" ")
        fields = rest.split()
        if word == "BADSIG":
            return "bad", "", rest.partition(" ")[2]
        if word in ("NO_PUBKEY", "ERRSIG") and verdict != "good":
            verdict = "unknown" if word == "NO_PUBKEY" or fields[-2:-1] == ["9"] else "error"
        elif word == "GOODSIG":
            uid = rest.partition(" ")[2]
        elif word == "VALIDSIG" and fields:
            verdict = "good"
            # The last field is the primary key's fingerprint (the signer may be a subkey).
            fpr = fields[-1].lower() if len(fields) >= 10 else fields[0].lower()
    return verdict, fpr, uid


def _keyring(keys: Iterable[TrustedKey], dest: Path) -> None:
    with open(dest, "wb") as f:
        for k in keys:
            f.write(dearmor(k.path.read_bytes()))


def check_signature(data: Path, signature: Path, keys: list[TrustedKey], what: str) -> Signer:
    """Verify a detached signature with gpgv against exactly `keys`."""
    if not keys:
        raise VerificationError(
            f"image signature verification failed for {what}: "
            "openpgp: signature made by unknown entity (no trusted keys)",
            hint="trust the signer's key with 'rkt trust --prefix=PREFIX KEYFILE', or "
            + _INSECURE_HINT)
    with tempfile.TemporaryDirectory(prefix="rkt-gpgv-") as tmp:
        home = Path(tmp)
        os.chmod(home, 0o700)
        keyring = home / "trusted.gpg"
        _keyring(keys, keyring)
        result = proc.run(gpgv_argv(home, keyring, signature, data), check=False)
    verdict, fpr, uid = parse_status(result.stdout)
    if verdict == "good" and result.returncode == 0:
        return Signer(fpr, uid)
    reason = {
        "bad": "openpgp: invalid signature: the image does not match its signature",
        "unknown": "openpgp: signature made by unknown entity",
    }.get(verdict, "gpgv: " + (result.stderr.strip().splitlines() or ["no verdict"])[-1])
    raise VerificationError(f"image signature verification failed for {what}: {reason}",
                            hint=_INSECURE_HINT)


def verify_image(data: Path, signature: Path, store: KeyStore, what: str,
                 name_of: Callable[[], str]) -> Signer:
    """Check the signature with every trusted key, then that the signer covers the name.

    The signature is checked before the image is opened at all; `name_of()` (the image
    manifest's name) is only asked once the bytes are known to be the signer's.
    """
    keys = store.keys()
    signer = check_signature(data, signature, keys, what)
    name = name_of()
    covering = [k for k in keys if k.fingerprint == signer.fingerprint and k.covers(name)]
    if not covering:
        where = sorted({k.prefix or "(root)" for k in keys if k.fingerprint == signer.fingerprint})
        raise VerificationError(
            f"image signature verification failed for {what}: key {signer.fingerprint} is "
            f"trusted for prefix {', '.join(where)}, not for image {name!r}",
            hint=f"trust the key for the image with 'rkt trust --prefix={name} KEYFILE', or "
            + _INSECURE_HINT)
    return signer
