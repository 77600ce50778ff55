"""The facade steps use: a disposable systemd machine with the runtime under test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from vm import runtime as runtime_mod
from vm.backend import Backend, backend_class
from vm.backend.base import COPY_IN
from vm.result import CommandResult

T = TypeVar("T")

# How long check still gets after a sign that never came (wait_until's `sign`).
CHECK_AFTER_SIGN = 10.0


@dataclass
class Machine:
    """Commands as root in a fresh VM, with a transcript of everything run."""

    backend: Backend
    runtime: runtime_mod.Runtime
    transcript: list[CommandResult] = field(default_factory=list)
    observations: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def create(cls, backend_name: str, runtime: runtime_mod.Runtime, *,
               reuse: bool = False) -> Machine:
        """Boot a machine of the named backend and install the runtime under test.

        reuse: the backend may revert a machine kept from an earlier shutdown to its
        saved state instead of starting a new one (qemu does).
        """
        backend = backend_class(backend_name).obtain(reuse=reuse)
        machine = cls(backend, runtime)
        try:
            backend.boot_prepared(runtime_mod.preparation(runtime))
        except BaseException:
            backend.shutdown()
            raise
        return machine

    @property
    def backend_name(self) -> str:
        return self.backend.name

    @property
    def capabilities(self) -> frozenset[str]:
        return self.backend.capabilities

    def shutdown(self) -> None:
        self.backend.shutdown()

    # -- commands -----------------------------------------------------------------

    def run(
        self, argv: Sequence[str], *, input: str | bytes | None = None, timeout: float = 120
    ) -> CommandResult:
        """Run argv as root; the result whatever the exit status."""
        data = input.encode() if isinstance(input, str) else input
        result = self.backend.run(list(argv), input=data, timeout=timeout)
        self.transcript.append(result)
        return result

    def setup(self, key: str, action: Callable[[], T]) -> T:
        """Do a scenario's setup (a Given that only acts in the machine): action's result.

        A backend that keeps machines may instead go back to the state that the same
        setups, done in the same order from boot, left the last time (qemu does), and
        hand on what action returned then: the commands it ran and what it observed
        are added to this machine's transcript and observations as if run again.
        """
        ran, seen = len(self.transcript), len(self.observations)
        done = False

        def act() -> tuple[T, list[CommandResult], list[tuple[str, str]]]:
            nonlocal done
            value, done = action(), True
            return value, self.transcript[ran:], self.observations[seen:]

        value, transcript, observations = self.backend.setup(key, act)
        if not done:  # found: what it did then
            self.transcript += transcript
            self.observations += observations
        return value

    def sh(
        self, script: str, *, input: str | bytes | None = None, timeout: float = 120
    ) -> CommandResult:
        """Run a shell script as root (`/bin/sh -c script`)."""
        return self.run(["/bin/sh", "-c", script], input=input, timeout=timeout)

    def run_expect(
        self, codes: Iterable[int], argv: Sequence[str], *, input: str | bytes | None = None,
        timeout: float = 120
    ) -> CommandResult:
        """Run argv and assert its exit status is one of codes."""
        __tracebackhide__ = True
        result = self.run(argv, input=input, timeout=timeout)
        allowed = set(codes)
        assert result.rc in allowed, f"expected exit {sorted(allowed)}:\n{result.describe()}"
        return result

    def check_output(self, argv: Sequence[str], *, timeout: float = 120) -> str:
        """Run argv, assert it succeeded, return its stdout."""
        __tracebackhide__ = True
        return self.run_expect([0], argv, timeout=timeout).stdout

    def copy_in(self, data: bytes, dest: str, mode: int = 0o644) -> None:
        self.backend.copy_in(data, dest, mode)

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        """Create or replace a file in the machine, in one command: parents are created,
        and a symlink there (a unit's mask, say) is replaced, not written through."""
        __tracebackhide__ = True
        self.run_expect([0], ["/bin/sh", "-c", f'mkdir -p "${{0%/*}}/" && rm -f "$0" && {COPY_IN}',
                              path, f"{mode:o}"], input=content)

    def read_file(self, path: str) -> str:
        return self.check_output(["cat", path])

    # -- waiting and evidence ------------------------------------------------------

    def wait_until(
        self, check: Callable[[], T], *, timeout: float, what: str, interval: float = 0.5,
        sign: Sequence[str] = (),
    ) -> T:
        """Poll check until it returns something truthy; fail naming `what` at the deadline.

        `sign` (sh code, then its arguments): first wait inside the machine, within the
        same deadline, until it holds (see wait_in_guest); check then usually holds at once.
        """
        __tracebackhide__ = True
        deadline = time.monotonic() + timeout
        if sign:
            self.wait_in_guest(sign[0], *sign[1:], timeout=timeout)
            # check still decides, and gets a little time even if the sign never came
            deadline = max(deadline, time.monotonic() + CHECK_AFTER_SIGN)
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"timed out after {timeout:.0f} s waiting for {what}; last: {value!r}"
                )
            time.sleep(interval)

    def wait_in_guest(self, condition: str, *args: str, timeout: float,
                      interval: float = 0.2) -> bool:
        """Poll a shell condition inside the machine until it holds (True) or time runs out.

        `condition` is sh code with its arguments as "$1"... One command for the whole
        wait, where wait_until costs a round trip and its tools' start-up per poll, which
        under TCG competes with what is being waited for. Steps use it to wait cheaply
        for a sign, then check with the tools a person would use.
        """
        script = f"until {condition}; do sleep {interval}; done"
        return self.run(["timeout", f"{timeout:.0f}", "sh", "-c", script, "sh", *args],
                        timeout=timeout + 10).ok

    def record(self, label: str, text: str) -> None:
        """Keep an observation (ps auxf, systemd-cgls, ...) for the reports."""
        self.observations.append((label, text))
