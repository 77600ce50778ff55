"""Build the VM image once, from the host's own apt configuration, and cache it.

The image is keyed by a hash of everything that goes into it: the package list,
the guest scripts and fixtures, the initrd recipe and the host's apt sources.
An unchanged recipe is never rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from vm import cache
from vm.initrd import build_initrd
from vm.run import run

GUEST_DIR = Path(__file__).parent / "guest"
SUITE = "bookworm"
DISK_SIZE = "4G"

# What the VM needs to be a systemd host that can run pods, plus the apps and
# tools the spec needs inside it.
PACKAGES = (
    "systemd", "systemd-sysv", "systemd-container", "dbus", "udev", "kmod",
    "linux-image-cloud-amd64", "qemu-guest-agent", "iproute2", "iptables", "procps",
    "python3", "python3-grpcio", "etcd-server", "redis-server", "redis-tools",
    "containernetworking-plugins", "appc-spec", "busybox-static", "curl", "gpgv", "gnupg",
    "skopeo", "docker-registry", "python3-protobuf", "python3-grpc-tools",
)

# Docs, man pages and locales only cost space and copy time.
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
)

HOST_TOOLS = {
    "mmdebstrap": "mmdebstrap",
    "gcc": "gcc",  # the project's static socket-activated app
    "/usr/lib/x86_64-linux-gnu/libc.a": "libc6-dev",
    "mkfs.ext4": "e2fsprogs",
    "qemu-img": "qemu-utils",
    "qemu-system-x86_64": "qemu-system-x86",
    "systemd-nspawn": "systemd-container",  # the nspawn backend
}

# tsc=reliable: with 2 vCPUs under TCG the kernel's boot-time TSC sync check fails and it
# falls back to the HPET, whose every read is an emulated MMIO access (time.monotonic()
# 3.7 us against 1.5 us through the vDSO's TSC; daemon-reload 1.33 -> 1.01 s). TCG's TSC
# is the host's, with one offset for all vCPUs, so it is synchronized and constant.
KERNEL_CMDLINE = (
    "console=ttyS0 root=/dev/vda rw quiet loglevel=1 systemd.show_status=false "
    "mitigations=off random.trust_cpu=on net.ifnames=0 panic=-1 tsc=reliable"
)


@dataclass(frozen=True)
class Image:
    """A built image: a qcow2 disk, the kernel and initrd that boot it."""

    key: str
    directory: Path

    @property
    def disk(self) -> Path:
        return self.directory / "disk.qcow2"

    @property
    def kernel(self) -> Path:
        return self.directory / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.directory / "initrd.img"

    @property
    def rootfs_tar(self) -> Path:
        return self.directory / "rootfs.tar"

    @property
    def cmdline(self) -> str:
        return KERNEL_CMDLINE


def say(message: str) -> None:
    print(f"[vm image] {message}", file=sys.stderr, flush=True)


def host_apt_sources(suite: str = SUITE) -> list[Path]:
    """The host's own apt source files that serve `suite`: no mirror is ever named here."""
    candidates = [Path("/etc/apt/sources.list")]
    sources_d = Path("/etc/apt/sources.list.d")
    if sources_d.is_dir():
        candidates += sorted(p for p in sources_d.iterdir() if p.suffix in (".list", ".sources"))
    return [p for p in candidates if p.is_file() and suite in p.read_text(errors="replace")]


def recipe_inputs() -> list[tuple[str, bytes]]:
    parts = [
        ("packages", "\n".join(PACKAGES).encode()),
        ("dpkg-excludes", "\n".join(DPKG_EXCLUDES).encode()),
        ("suite", SUITE.encode()),
        ("disk-size", DISK_SIZE.encode()),
        ("initrd.py", (Path(__file__).parent / "initrd.py").read_bytes()),
    ]
    parts += [(f"guest/{p.name}", p.read_bytes()) for p in sorted(GUEST_DIR.iterdir())]
    parts += [(f"apt/{p}", p.read_bytes()) for p in host_apt_sources()]
    return parts


def image_key() -> str:
    return cache.content_key(recipe_inputs())


def missing_host_tools() -> list[str]:
    def present(tool: str) -> bool:
        return Path(tool).exists() if tool.startswith("/") else shutil.which(tool) is not None

    return sorted({pkg for tool, pkg in HOST_TOOLS.items() if not present(tool)})


def ensure_host_tools() -> None:
    """Install what the build needs with apt-get, or say exactly what to run."""
    missing = missing_host_tools()
    if not missing:
        return
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if os.geteuid() != 0:
        raise SystemExit(
            "the VM image needs host tools that are missing; run:\n"
            f"  sudo apt-get update && sudo {' '.join(command)}"
        )
    say(f"installing host tools: {' '.join(missing)}")
    run(["apt-get", "update", "-q"], capture=False)
    run(command, capture=False, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def ensure_image() -> Image:
    """The cached image for the current recipe, built first if it does not exist."""
    key = image_key()
    root = cache.cache_root()
    image = Image(key, root / f"image-{key}")
    with cache.locked(root / f"image-{key}.lock"):
        if image.disk.exists():
            return image
        ensure_host_tools()
        build(image)
    return image


def prune() -> list[Path]:
    """Remove cache entries of other recipes: images and the states booted from them."""
    root = cache.cache_root()
    current = image_key()
    removed: list[Path] = []
    # Images, and the rootfs trees container backends extract from them, by recipe key.
    for path in sorted([*root.glob("image-*"), *root.glob("rootfs-*")]):
        if path.is_dir() and path.name.split("-", 1)[1] != current:
            shutil.rmtree(path)
            removed.append(path)
    for path in sorted(root.glob("golden-*")):
        recipe = path / "image.key"
        if path.is_dir() and (not recipe.exists() or recipe.read_text() != current):
            shutil.rmtree(path)
            removed.append(path)
    return removed


def build(image: Image) -> None:
    if os.geteuid() != 0:
        raise SystemExit("building the VM image needs root (mmdebstrap, mkfs.ext4 -d)")
    started = time.monotonic()
    sources = host_apt_sources()
    if not sources:
        raise SystemExit(f"no apt source on this host serves {SUITE!r}; cannot build the image")
    staging = Path(tempfile.mkdtemp(prefix=f"image-{image.key}.", dir=image.directory.parent))
    rootfs = staging / "rootfs"
    try:
        say(f"[1/5] mmdebstrap {SUITE} from {', '.join(map(str, sources))}")
        argv = ["mmdebstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}"]
        argv += [f"--dpkgopt={opt}" for opt in DPKG_EXCLUDES]
        argv += [f"--customize-hook={GUEST_DIR / 'customize.sh'} \"$1\""]
        argv += [SUITE, str(rootfs), *map(str, sources)]
        run(argv, capture=False)

        say("[2/5] kernel and initrd")
        kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
        if not kernels:
            raise SystemExit("the image has no kernel in /boot")
        version = kernels[-1].name.removeprefix("vmlinuz-")
        shutil.copyfile(kernels[-1], staging / "vmlinuz")
        init = GUEST_DIR / "initrd-init.sh"
        (staging / "initrd.img").write_bytes(build_initrd(rootfs, init, version))

        say("[3/5] rootfs tarball (for container backends)")
        run(["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf",
             str(staging / "rootfs.tar"), "."])

        say(f"[4/5] ext4 filesystem ({DISK_SIZE})")
        raw = staging / "disk.raw"
        run(["mkfs.ext4", "-q", "-L", "root", "-d", str(rootfs), str(raw), DISK_SIZE])

        say("[5/5] qcow2")
        run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(staging / "disk.qcow2")])
        raw.unlink()
        shutil.rmtree(rootfs)
        (staging / "recipe.json").write_text(
            json.dumps({"key": image.key, "suite": SUITE, "packages": PACKAGES,
                        "kernel": version, "apt_sources": [str(s) for s in sources]}, indent=2)
        )
        if image.directory.exists():
            shutil.rmtree(image.directory)
        staging.rename(image.directory)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    say(f"built in {time.monotonic() - started:.0f} s: {image.disk}")
