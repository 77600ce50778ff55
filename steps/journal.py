"""Steps about the pod's journal, read from the host with ``journalctl -M rkt-<uuid>``."""

from __future__ import annotations

from pytest_bdd import then

from steps.parse import JournalEntry, env_block, parse_journal
from steps.vocab import Pod, step
from vm.machine import Machine
from vm.result import CommandResult

ENV_BEGIN, ENV_END = "MYAPP-ENV-BEGIN", "MYAPP-ENV-END"


def pod_journal(vm: Machine, pod: Pod) -> tuple[JournalEntry, ...]:
    result = vm.run(["journalctl", "-M", pod.machine, "--no-pager"])
    # Before the pod's journald has written anything journalctl -M fails or prints nothing.
    return parse_journal(result.stdout) if result.ok else ()


def _logged(entries: tuple[JournalEntry, ...], app: str, text: str) -> JournalEntry | None:
    return next((e for e in entries if e.identifier == app and text in e.message), None)


def wait_app_logs(vm: Machine, pod: Pod, app: str, text: str, seconds: float) -> JournalEntry:
    """Wait until the pod's journal has an entry of `app` whose message contains `text`."""
    entry = vm.wait_until(lambda: _logged(pod_journal(vm, pod), app, text), timeout=seconds,
                          what=f"{app} in {pod.machine} to log {text!r}")
    assert entry is not None  # wait_until returns only a truthy value
    vm.record(f"journalctl -M {pod.machine} ({app}: {text})", f"{entry}")
    return entry


def app_env(vm: Machine, pod: Pod) -> dict[str, str] | None:
    """The environment the myapp stand-in printed to its journal, once it has."""
    return env_block((e.message for e in pod_journal(vm, pod)), ENV_BEGIN, ENV_END)


@then(step('the pod\'s {app} logs "{text:q}" within {seconds:d} seconds'))
def app_logs(vm: Machine, pod: Pod, app: str, text: str, seconds: int) -> None:
    wait_app_logs(vm, pod, app, text, seconds)


@then(step('the journal shows the app "{app:q}" logging "{text:q}"'))
def journal_shows(command: CommandResult, app: str, text: str) -> None:
    assert command.ok, command.describe()
    entries = parse_journal(command.stdout)
    assert _logged(entries, app, text), (
        f"no {app} entry with {text!r} among {len(entries)} entries:\n{command.stdout[-3000:]}"
    )


@then("the app's environment includes:")
def env_includes(vm: Machine, pod: Pod, datatable: list[list[str]]) -> None:
    env = app_env(vm, pod)
    assert env is not None, f"no {ENV_BEGIN}…{ENV_END} block in the journal of {pod.machine}"
    vm.record("the app's environment", "\n".join(f"{k}={v}" for k, v in sorted(env.items())))
    header, *rows = datatable
    assert header == ["name", "value"], header
    wrong = {name: env.get(name) for name, value in rows if env.get(name) != value}
    assert not wrong, f"expected {dict(rows)}, the app saw {wrong}"
