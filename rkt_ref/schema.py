"""appc image and pod manifests as frozen records, validated on the way in.

Error messages follow the wording of the appc rules (ACName, ACIdentifier, labels,
isolators, ports) so that a user can look the rule up in the appc spec.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum

from . import APPC_VERSION
from .errors import RktError
from .record import field, record

TYPE_CHECKING = False  # typing is not imported at run time (see record.py)
if TYPE_CHECKING:
    from decimal import Decimal
    from typing import Any


class ManifestError(RktError):
    """A manifest breaks an appc rule."""


class Kind(StrEnum):
    IMAGE = "ImageManifest"
    POD = "PodManifest"


class Protocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"


# Matched with fullmatch: `$` would accept a trailing newline ("etcd\n"), and names end
# up in unit file names, unit files and environment files. Compiled on first use (re
# caches them), not at import: every rkt invocation would pay for it.
_ACNAME = r"^[a-z0-9]+(-[a-z0-9]+)*$"
_ACIDENTIFIER = r"^[a-z0-9]+([-._~/][a-z0-9]+)*$"
_SEMVER = r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
_ENVNAME = r"^[A-Za-z_][A-Za-z0-9_]*$"

# An image ID: appc's hash type, "sha512-" and hex digits (rkt's IDs keep 64 of them).
ID_PREFIX = "sha512-"

# appc spec/types/labels.go: the os/arch combinations an image may declare.
VALID_OS_ARCH: dict[str, tuple[str, ...]] = {
    "linux": ("amd64", "i386", "aarch64", "aarch64_be", "armv6l", "armv7l", "armv7b",
              "ppc64", "ppc64le", "s390x"),
    "freebsd": ("amd64", "i386", "arm"),
    "darwin": ("x86_64", "i386"),
}


def short_id(image_id: str, hexlen: int = 32) -> str:
    """An image ID as rkt prints it: 32 hex digits (`rkt fetch`), 12 in the listings."""
    return image_id[: len(ID_PREFIX) + hexlen]


def acname(value: Any, what: str = "ACName") -> str:
    """Check the ACName rule (app, port, volume and mount point names)."""
    if not isinstance(value, str) or not value:
        raise ManifestError(f"{what} cannot be empty")
    if not re.fullmatch(_ACNAME, value):
        raise ManifestError(
            f"{what} {value!r} is invalid: ACName must contain only lower case alphanumerics "
            "and '-', and must start and end with an alphanumeric"
        )
    return value


def acidentifier(value: Any, what: str = "ACIdentifier") -> str:
    """Check the ACIdentifier rule (image names, label and annotation names)."""
    if not isinstance(value, str) or not value:
        raise ManifestError(f"{what} cannot be empty")
    if not re.fullmatch(_ACIDENTIFIER, value):
        raise ManifestError(
            f"{what} {value!r} is invalid: ACIdentifier must contain only lower case "
            "alphanumerics and '-._~/', and must start and end with an alphanumeric"
        )
    return value


def sanitize_acname(value: str) -> str:
    """Turn an arbitrary string (e.g. the last part of an image name) into an ACName."""
    s = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    if not s:
        raise ManifestError(f"cannot derive an ACName from {value!r}")
    return s


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManifestError(f"{what} must be a JSON object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ManifestError(f"{what} must be a JSON array")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ManifestError(f"{what} must be a string")
    return value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManifestError(f"{what} must be an integer")
    return value


# --- quantities (resource isolators use Kubernetes-style quantities) -------------------

# decimal is imported when a quantity is parsed: most commands parse none.
_SUFFIX: dict[str, int | str] = {
    "": 1, "m": "0.001", "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
    "Ei": 2**60,
}
_QUANTITY = r"^([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(m|k|K|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"


def parse_quantity(value: Any, what: str = "quantity") -> Decimal:
    """Parse '500m', '1G', '128Mi', '2' into a Decimal; raise with the rule otherwise."""
    from decimal import Decimal, InvalidOperation

    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    m = re.fullmatch(_QUANTITY, value) if isinstance(value, str) else None
    if m is None:
        raise ManifestError(
            f"{what} {value!r} is not a valid quantity (a number with an optional suffix "
            "such as m, k, M, G, Ki, Mi, Gi)"
        )
    try:
        return Decimal(m.group(1)) * Decimal(_SUFFIX[m.group(2) or ""])
    except InvalidOperation:
        raise ManifestError(f"{what} {value!r} is not a valid quantity") from None


# --- building blocks -------------------------------------------------------------------


@record
class Label:
    """An image label (version, os, arch, ...)."""

    name: str
    value: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value}


def parse_labels(raw: Any, what: str = "labels") -> tuple[Label, ...]:
    labels: list[Label] = []
    seen: set[str] = set()
    for item in _list(raw, what):
        obj = _obj(item, "label")
        name = acidentifier(obj.get("name"), "label name")
        if name in seen:
            raise ManifestError(f"label {name!r} is duplicated: label names must be unique")
        seen.add(name)
        labels.append(Label(name, _str(obj.get("value"), f"value of label {name!r}")))
    values = {lb.name: lb.value for lb in labels}
    os_, arch = values.get("os"), values.get("arch")
    if os_ is not None and os_ not in VALID_OS_ARCH:
        raise ManifestError(f"bad os {os_!r}: os must be one of {', '.join(VALID_OS_ARCH)}")
    if arch is not None:
        if os_ is None:
            raise ManifestError("label 'arch' requires label 'os'")
        if arch not in VALID_OS_ARCH[os_]:
            raise ManifestError(
                f"bad arch {arch!r} for os {os_!r}: arch must be one of "
                f"{', '.join(VALID_OS_ARCH[os_])}"
            )
    return tuple(labels)


@record
class Annotation:
    """An annotation: a name (ACIdentifier) and a free-form value."""

    name: str
    value: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value}


def parse_annotations(raw: Any) -> tuple[Annotation, ...]:
    out: list[Annotation] = []
    seen: set[str] = set()
    for item in _list(raw, "annotations"):
        obj = _obj(item, "annotation")
        name = acidentifier(obj.get("name"), "annotation name")
        if name in seen:
            raise ManifestError(f"annotation {name!r} is duplicated")
        seen.add(name)
        out.append(Annotation(name, _str(obj.get("value"), f"annotation {name!r}")))
    return tuple(out)


@record
class EnvVar:
    """An environment variable the app gets."""

    name: str
    value: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value}


def env_name(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(_ENVNAME, value):
        raise ManifestError(
            f"environment variable name {value!r} is invalid: it must start with a letter or "
            "'_' and contain only alphanumerics and '_'"
        )
    return value


@record
class Port:
    """A port the app listens on, possibly socket-activated."""

    name: str
    protocol: Protocol
    port: int
    count: int = 1
    socket_activated: bool = False

    @classmethod
    def from_json(cls, raw: Any) -> Port:
        obj = _obj(raw, "port")
        name = acname(obj.get("name"), "port name")
        proto = obj.get("protocol")
        if proto not in (Protocol.TCP, Protocol.UDP):
            raise ManifestError(f"port {name!r}: protocol must be \"tcp\" or \"udp\"")
        number = _int(obj.get("port"), f"port {name!r}: port")
        if not 1 <= number <= 65535:
            raise ManifestError(f"port {name!r}: port must be in the range 1-65535")
        count = _int(obj.get("count", 1), f"port {name!r}: count")
        if count < 1:
            raise ManifestError(f"port {name!r}: count must be at least 1")
        if number + count - 1 > 65535:
            raise ManifestError(f"port {name!r}: port range exceeds 65535")
        sa = obj.get("socketActivated", False)
        if not isinstance(sa, bool):
            raise ManifestError(f"port {name!r}: socketActivated must be a boolean")
        return cls(name, Protocol(proto), number, count, sa)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "protocol": str(self.protocol), "port": self.port,
                "count": self.count, "socketActivated": self.socket_activated}


@record
class MountPoint:
    """A path in the app where a volume may be mounted."""

    name: str
    path: str
    read_only: bool = False

    @classmethod
    def from_json(cls, raw: Any) -> MountPoint:
        obj = _obj(raw, "mount point")
        name = acname(obj.get("name"), "mount point name")
        path = _str(obj.get("path"), f"mount point {name!r}: path")
        if not path.startswith("/"):
            raise ManifestError(f"mount point {name!r}: path must be absolute")
        return cls(name, path, bool(obj.get("readOnly", False)))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "readOnly": self.read_only}


class IsolatorName(StrEnum):
    MEMORY = "resource/memory"
    CPU = "resource/cpu"
    CPU_SHARES = "os/linux/cpu-shares"
    OOM_SCORE_ADJ = "os/linux/oom-score-adj"
    CAPS_RETAIN = "os/linux/capabilities-retain-set"
    CAPS_REMOVE = "os/linux/capabilities-remove-set"
    NO_NEW_PRIVILEGES = "os/linux/no-new-privileges"


# appc ace.md "Linux Isolators": the capabilities an app keeps when its image asks for
# neither a retain nor a remove set; rkt passes them to nspawn (--capability=) and to
# the app's unit (CapabilityBoundingSet=), in this order.
DEFAULT_CAPABILITIES = (
    "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
    "CAP_KILL", "CAP_MKNOD", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE", "CAP_SETUID",
    "CAP_SETGID", "CAP_SETPCAP", "CAP_SETFCAP", "CAP_SYS_CHROOT",
)
# Every capability Linux knows (capability.h, 0-40).
LINUX_CAPABILITIES = frozenset({
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
})


def _capability_set(value: Any, name: str) -> tuple[str, ...]:
    obj = _obj(value, f"isolator {name} value")
    caps = _list(obj.get("set"), f"isolator {name} set")
    if not caps:
        raise ManifestError(f"isolator {name}: set must be non-empty")
    for cap in caps:
        if not isinstance(cap, str) or cap not in LINUX_CAPABILITIES:
            raise ManifestError(f"isolator {name}: {cap!r} is not a Linux capability "
                                "(capabilities are named like CAP_NET_BIND_SERVICE)")
    return tuple(caps)


@record
class Isolator:
    """An isolator as in the manifest; `value` keeps the raw JSON for round-tripping."""

    name: str
    value: Any

    @classmethod
    def from_json(cls, raw: Any) -> Isolator:
        obj = _obj(raw, "isolator")
        iso = cls(acidentifier(obj.get("name"), "isolator name"), obj.get("value"))
        iso.check()
        return iso

    def check(self) -> None:
        """Validate the isolators rkt_ref maps to units; others pass through untouched."""
        if self.name in (IsolatorName.MEMORY, IsolatorName.CPU):
            val = _obj(self.value, f"isolator {self.name} value")
            for key in ("limit", "request"):
                if key in val:
                    q = parse_quantity(val[key], f"isolator {self.name} {key}")
                    if q <= 0:
                        raise ManifestError(f"isolator {self.name}: {key} must be positive")
        elif self.name == IsolatorName.CPU_SHARES:
            v = _int(self.value, "isolator os/linux/cpu-shares value")
            if not 2 <= v <= 262144:
                raise ManifestError("isolator os/linux/cpu-shares: value must be in 2-262144")
        elif self.name in (IsolatorName.CAPS_RETAIN, IsolatorName.CAPS_REMOVE):
            _capability_set(self.value, self.name)
        elif self.name == IsolatorName.NO_NEW_PRIVILEGES:
            if not isinstance(self.value, bool):
                raise ManifestError("isolator os/linux/no-new-privileges: value must be a "
                                    "boolean")
        elif self.name == IsolatorName.OOM_SCORE_ADJ:
            v = _int(self.value, "isolator os/linux/oom-score-adj value")
            if not -1000 <= v <= 1000:
                raise ManifestError(
                    "isolator os/linux/oom-score-adj: value must be in -1000-1000"
                )

    def limit(self) -> Decimal | None:
        if isinstance(self.value, dict) and "limit" in self.value:
            return parse_quantity(self.value["limit"])
        return None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value}


@record
class App:
    """What an image runs: command, user and group, environment, isolators, ports."""

    exec: tuple[str, ...]
    user: str
    group: str
    working_directory: str = ""
    environment: tuple[EnvVar, ...] = ()
    isolators: tuple[Isolator, ...] = ()
    mount_points: tuple[MountPoint, ...] = ()
    ports: tuple[Port, ...] = ()
    supplementary_gids: tuple[int, ...] = ()

    @classmethod
    def from_json(cls, raw: Any) -> App:
        obj = _obj(raw, "app")
        exec_ = tuple(_str(a, "exec argument") for a in _list(obj.get("exec"), "exec"))
        if exec_ and not exec_[0].startswith("/"):
            raise ManifestError(f"app exec {exec_[0]!r} must be an absolute path")
        user = obj.get("user")
        group = obj.get("group")
        if not isinstance(user, str) or not user:
            raise ManifestError("app user is required")
        if not isinstance(group, str) or not group:
            raise ManifestError("app group is required")
        wd = obj.get("workingDirectory", "") or ""
        if wd and not _str(wd, "workingDirectory").startswith("/"):
            raise ManifestError("app workingDirectory must be an absolute path")
        env: list[EnvVar] = []
        seen: set[str] = set()
        for item in _list(obj.get("environment"), "environment"):
            e = _obj(item, "environment variable")
            name = env_name(e.get("name"))
            if name in seen:
                raise ManifestError(f"environment variable {name!r} is duplicated")
            seen.add(name)
            env.append(EnvVar(name, _str(e.get("value", ""), f"value of {name}")))
        ports = tuple(Port.from_json(p) for p in _list(obj.get("ports"), "ports"))
        if len({p.name for p in ports}) != len(ports):
            raise ManifestError("port names must be unique")
        mps = tuple(MountPoint.from_json(m) for m in _list(obj.get("mountPoints"), "mountPoints"))
        isos = tuple(Isolator.from_json(i) for i in _list(obj.get("isolators"), "isolators"))
        names = {i.name for i in isos}
        if {IsolatorName.CAPS_RETAIN, IsolatorName.CAPS_REMOVE} <= names:
            raise ManifestError("cannot have both os/linux/capabilities-retain-set and "
                                "os/linux/capabilities-remove-set")
        gids = tuple(_int(g, "supplementaryGIDs") for g in _list(obj.get("supplementaryGIDs"),
                                                                   "supplementaryGIDs"))
        return cls(exec_, user, group, wd, tuple(env), isos, mps, ports, gids)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"exec": list(self.exec), "user": self.user, "group": self.group}
        if self.working_directory:
            out["workingDirectory"] = self.working_directory
        if self.supplementary_gids:
            out["supplementaryGIDs"] = list(self.supplementary_gids)
        out["environment"] = [e.to_json() for e in self.environment]
        out["isolators"] = [i.to_json() for i in self.isolators]
        out["mountPoints"] = [m.to_json() for m in self.mount_points]
        out["ports"] = [p.to_json() for p in self.ports]
        return out

    def isolator(self, name: str) -> Isolator | None:
        for iso in self.isolators:
            if iso.name == name:
                return iso
        return None

    def capabilities(self) -> tuple[str, ...]:
        """The app's capability bounding set, as rkt computes it from the isolators."""
        retain = self.isolator(IsolatorName.CAPS_RETAIN)
        if retain is not None:
            return _capability_set(retain.value, retain.name)
        remove = self.isolator(IsolatorName.CAPS_REMOVE)
        gone = _capability_set(remove.value, remove.name) if remove is not None else ()
        return tuple(c for c in DEFAULT_CAPABILITIES if c not in gone)

    def no_new_privileges(self) -> bool:
        iso = self.isolator(IsolatorName.NO_NEW_PRIVILEGES)
        return iso is not None and iso.value is True


def _load_json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ManifestError(f"{what} is not valid JSON: {e}") from None
    except RecursionError:
        # json's C decoder recurses per nesting level: '[[[[…' is hostile input too.
        raise ManifestError(f"{what} is not valid JSON: nested too deeply") from None


def _check_kind_version(obj: dict[str, Any], kind: Kind) -> str:
    if obj.get("acKind") != kind:
        raise ManifestError(f"acKind must be {str(kind)!r}, got {obj.get('acKind')!r}")
    version = obj.get("acVersion")
    if not isinstance(version, str) or not re.fullmatch(_SEMVER, version):
        raise ManifestError(f"acVersion {version!r} is not a valid semantic version")
    return version


@record
class ImageManifest:
    """An appc image manifest."""

    name: str
    labels: tuple[Label, ...] = ()
    app: App | None = None
    annotations: tuple[Annotation, ...] = ()
    ac_version: str = APPC_VERSION
    dependencies: tuple[Any, ...] = ()

    @classmethod
    def from_json(cls, raw: Any) -> ImageManifest:
        obj = _obj(raw, "image manifest")
        version = _check_kind_version(obj, Kind.IMAGE)
        name = acidentifier(obj.get("name"), "image name")
        labels = parse_labels(obj.get("labels"))
        app = App.from_json(obj["app"]) if obj.get("app") is not None else None
        return cls(name, labels, app, parse_annotations(obj.get("annotations")), version,
                   tuple(_list(obj.get("dependencies"), "dependencies")))

    @classmethod
    def from_bytes(cls, data: bytes) -> ImageManifest:
        return cls.from_json(_load_json(data, "image manifest"))

    def label(self, name: str) -> str | None:
        for lb in self.labels:
            if lb.name == name:
                return lb.value
        return None

    def annotation(self, name: str) -> str | None:
        for a in self.annotations:
            if a.name == name:
                return a.value
        return None

    def display_name(self) -> str:
        """name:version as rkt shows it in listings."""
        version = self.label("version")
        return f"{self.name}:{version}" if version else self.name

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"acKind": str(Kind.IMAGE), "acVersion": self.ac_version,
                               "name": self.name,
                               "labels": [lb.to_json() for lb in self.labels]}
        if self.app is not None:
            out["app"] = self.app.to_json()
        if self.dependencies:
            out["dependencies"] = list(self.dependencies)
        out["annotations"] = [a.to_json() for a in self.annotations]
        return out


@record
class ImageRef:
    """The image an app of a pod runs: name, ID and labels."""

    name: str
    id: str
    labels: tuple[Label, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id, "labels": [lb.to_json() for lb in self.labels]}


@record
class RuntimeApp:
    """An app of a pod: its name, image and app section."""

    name: str
    image: ImageRef
    app: App
    annotations: tuple[Annotation, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "image": self.image.to_json(), "app": self.app.to_json(),
                "readOnlyRootFS": False, "mounts": [],
                "annotations": [a.to_json() for a in self.annotations]}


@record
class ExposedPort:
    """A port of the pod forwarded from the host (`--port=NAME:HOSTPORT`)."""

    name: str
    host_port: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "hostPort": self.host_port}


@record
class PodManifest:
    """An appc pod manifest, as rkt writes it into the pod directory."""

    apps: tuple[RuntimeApp, ...]
    ports: tuple[ExposedPort, ...] = ()
    annotations: tuple[Annotation, ...] = ()
    ac_version: str = APPC_VERSION
    volumes: tuple[Any, ...] = field(default=())

    def __post_init__(self) -> None:
        names = [a.name for a in self.apps]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ManifestError(f"app name {sorted(dup)[0]!r} is used twice in the pod",)

    @classmethod
    def from_json(cls, raw: Any) -> PodManifest:
        obj = _obj(raw, "pod manifest")
        version = _check_kind_version(obj, Kind.POD)
        apps: list[RuntimeApp] = []
        for item in _list(obj.get("apps"), "apps"):
            a = _obj(item, "app")
            img = _obj(a.get("image"), "app image")
            ref = ImageRef(acidentifier(img.get("name"), "image name"),
                           _str(img.get("id"), "image id"), parse_labels(img.get("labels")))
            apps.append(RuntimeApp(acname(a.get("name"), "app name"), ref,
                                   App.from_json(a.get("app")),
                                   parse_annotations(a.get("annotations"))))
        ports = tuple(
            ExposedPort(acname(_obj(p, "port").get("name"), "port name"),
                        _int(p.get("hostPort"), "hostPort"))
            for p in _list(obj.get("ports"), "ports")
        )
        return cls(tuple(apps), ports, parse_annotations(obj.get("annotations")), version,
                   tuple(_list(obj.get("volumes"), "volumes")))

    @classmethod
    def from_bytes(cls, data: bytes) -> PodManifest:
        return cls.from_json(_load_json(data, "pod manifest"))

    def to_json(self) -> dict[str, Any]:
        return {"acVersion": self.ac_version, "acKind": str(Kind.POD),
                "apps": [a.to_json() for a in self.apps], "volumes": list(self.volumes),
                "isolators": [], "annotations": [a.to_json() for a in self.annotations],
                "ports": [p.to_json() for p in self.ports]}
