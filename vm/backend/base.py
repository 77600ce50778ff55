"""The interface every VM backend follows (after pytest-testinfra's backends)."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from vm.result import CommandResult

T = TypeVar("T")

# What a backend can faithfully show. Scenarios name the ones they need.
CAPABILITIES = {
    "real-kernel": "the guest runs its own kernel",
    "cgroup-limits": "cgroup controllers are delegated and enforced for pods",
    "network": "pods can get private network namespaces with CNI, isolated from the host",
    "console": "an interactive serial console",
    "unified-cgroup": "the guest's systemd runs on the unified cgroup v2 hierarchy, "
    "as systemd 252 does by default",
}

GUEST_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    "SYSTEMD_COLORS": "0",
    "SYSTEMD_PAGER": "",
    "PAGER": "cat",
}


# sh: write stdin to "$0", then give it mode "$1" (octal).
COPY_IN = 'cat >"$0" && chmod "$1" "$0"'


def copy_in_argv(dest: str, mode: int) -> list[str]:
    """Write stdin to dest with mode: copy_in as one command, for backends that pipe stdin."""
    return ["/bin/sh", "-c", COPY_IN, dest, f"{mode:o}"]


@dataclass(frozen=True)
class Preparation:
    """What every machine gets once booted (the runtime under test), and a key that names
    the state it leaves: the same key, the same files in the machine."""

    key: str
    apply: Callable[[Backend], None]


class BackendUnavailable(SystemExit):
    """This backend cannot run on this host (no engine, a missing tool): one clear message."""


class Backend(abc.ABC):
    """One disposable systemd machine: boot it, run commands as root, copy files, throw it away."""

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[str]]

    @classmethod
    def unavailable(cls) -> str | None:
        """Why this backend cannot run here, or None when it can (checked cheaply, no boot)."""
        return None

    @classmethod
    def obtain(cls, *, reuse: bool = False) -> Backend:
        """A machine to boot. With reuse, a backend may hand out one kept at an earlier
        shutdown, which boot takes back to the saved state; by default, a new one."""
        return cls()

    @abc.abstractmethod
    def boot(self) -> None:
        """Make the machine ready for commands (restore or boot; its clock is right by the
        time the first command runs)."""

    def boot_prepared(self, preparation: Preparation) -> None:
        """boot, then apply the preparation. A backend that keeps machines for reuse may
        keep them prepared, and not apply the same preparation again."""
        self.boot()
        preparation.apply(self)

    def setup(self, key: str, action: Callable[[], T]) -> T:
        """A scenario's setup: what action returns, once it has done its work in the machine.

        A backend that keeps machines for reuse may keep the state that the same chain of
        setups (this key after the same keys, nothing else done since boot) left, and go
        back to it rather than act again; what action returned then is returned again. An
        action that raises is not kept.
        """
        return action()

    @abc.abstractmethod
    def shutdown(self) -> None:
        """Throw the machine away; must be safe to call twice and after a failed boot."""

    @abc.abstractmethod
    def run(
        self, argv: Sequence[str], *, input: bytes | None = None, timeout: float = 120
    ) -> CommandResult:
        """Run argv as root in the machine; never raises for a non-zero exit."""

    @abc.abstractmethod
    def copy_in(self, data: bytes, dest: str, mode: int = 0o644) -> None:
        """Write bytes to a file in the machine."""

    def console(self) -> Any:
        """A pexpect-style spawn on the machine's console, where the backend has one."""
        raise NotImplementedError(f"the {self.name} backend has no interactive console")

    def save_evidence(self, directory: Path) -> list[Path]:
        """Keep what explains a failure (console log, journal) in directory."""
        directory.mkdir(parents=True, exist_ok=True)
        journal = self.run(["journalctl", "-b", "--no-pager", "-o", "short-precise"], timeout=60)
        path = directory / "journal.txt"
        path.write_text(journal.stdout + journal.stderr)
        return [path]
