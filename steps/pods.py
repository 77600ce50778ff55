"""Steps about pods: finding the unit's pod through machined, and rkt's view of it."""

from __future__ import annotations

import pytest
from pytest_bdd import given, then, when

from steps.journal import app_env, wait_app_logs
from steps.parse import (
    is_nspawn,
    parse_machinectl_list,
    parse_ps_auxf,
    parse_rkt_image_list,
    parse_rkt_list,
    parse_rkt_status,
    parse_systemctl_show,
    parse_systemd_run,
)
from steps.query import main_pid, show
from steps.shell import run_script
from steps.vocab import POD_START, UUID, Pod, setup_step, step
from vm.machine import Machine


@pytest.fixture
def pod() -> Pod:
    raise pytest.UsageError("no step of this scenario has found a pod yet")


def _running_pod_of(vm: Machine, unit: str, exclude: frozenset[str]) -> tuple[str, str] | None:
    """UUID of a running rkt-<uuid> machine whose unit is `unit`, not one of `exclude`,
    with the `machinectl list` that showed it."""
    listing = vm.check_output(["machinectl", "list"])
    for row in parse_machinectl_list(listing).rows:
        uuid = row.machine.removeprefix("rkt-")
        if row.machine == uuid or not UUID.match(uuid) or uuid in exclude:
            continue
        props = parse_systemctl_show(vm.check_output(
            ["machinectl", "show", "--property=Unit", "--property=State", row.machine]))
        if props.get("Unit") == unit and props.get("State") == "running":
            return uuid, listing
    return None


# sh: some /run/systemd/machines/rkt-* exists that is not named "$1".
MACHINE_FILE_OTHER_THAN = (
    'for f in /run/systemd/machines/rkt-*; do [ -e "$f" ] && [ "${f##*/}" != "$1" ] && '
    'exit 0; done; false'
)


def wait_pod(vm: Machine, unit: str, seconds: float, previous: Pod | None = None) -> Pod:
    """Wait until machined has the unit's pod, then check rkt knows it as running."""
    exclude = frozenset({previous.uuid}) if previous else frozenset()
    # First a cheap sign, waited for inside the VM: machined's state file of a pod other
    # than the previous one. Then machinectl, asked until the pod is the unit's and running.
    found = vm.wait_until(lambda: _running_pod_of(vm, unit, exclude), timeout=seconds,
                          what=f"a running rkt-<uuid> machine of {unit} registered with machined",
                          sign=(MACHINE_FILE_OTHER_THAN, previous.machine if previous else ""))
    assert found is not None  # wait_until returns only a truthy value
    uuid, listing = found
    vm.record("machinectl list", listing)
    rows = parse_rkt_list(vm.check_output(["rkt", "list", "--full"]))
    listed = [r for r in rows if r.uuid == uuid]
    assert listed and listed[0].state == "running", f"rkt list --full has no running {uuid}: {rows}"
    return Pod(uuid, unit, previous)


@given(step("the unit's pod is registered with machined within {seconds:d} seconds"),
       target_fixture="pod")
@then(step("the unit's pod is registered with machined within {seconds:d} seconds"),
      target_fixture="pod")
def pod_registered(vm: Machine, unit: str, seconds: int) -> Pod:
    return wait_pod(vm, unit, seconds)


@then(step("a new pod of the unit is registered with machined within {seconds:d} seconds"),
      target_fixture="pod")
def new_pod(vm: Machine, pod: Pod, seconds: int) -> Pod:
    return wait_pod(vm, pod.unit, seconds, previous=pod)


@given("a pod started with:", target_fixture="pod")
@setup_step
def pod_started_with(vm: Machine, docstring: str, request: pytest.FixtureRequest) -> Pod:
    result = run_script(vm, docstring, request)
    assert result.ok, result.describe()
    pod = wait_pod(vm, parse_systemd_run(result.stderr + result.stdout).unit, POD_START)
    wait_app_logs(vm, pod, "etcd", "became leader at term", POD_START)
    return pod


def _start(vm: Machine, unit: str) -> Pod:
    vm.check_output(["systemctl", "start", unit])
    vm.wait_until(lambda: show(vm, unit, "ActiveState")["ActiveState"] == "active",
                  timeout=POD_START, what=f"{unit} to be active")
    return wait_pod(vm, unit, POD_START)


@given(step('the unit was started and its pod\'s {app} logs "{text:q}"'), target_fixture="pod")
@setup_step
def started_app_logs(vm: Machine, unit: str, app: str, text: str) -> Pod:
    pod = _start(vm, unit)
    wait_app_logs(vm, pod, app, text, POD_START)
    return pod


@given("the unit was started and its pod's app printed its environment", target_fixture="pod")
@setup_step
def started_env(vm: Machine, unit: str) -> Pod:
    pod = _start(vm, unit)
    vm.wait_until(lambda: app_env(vm, pod), timeout=POD_START,
                  what=f"the app of {pod.machine} to print its environment")
    return pod


def _state_in_rkt_list(vm: Machine, uuid: str) -> str | None:
    rows = parse_rkt_list(vm.check_output(["rkt", "list"]))
    return next((r.state for r in rows if r.matches(uuid)), None)


@then(step('rkt lists the pod as "{state:q}" within {seconds:d} seconds'))
def rkt_lists_pod(vm: Machine, pod: Pod, state: str, seconds: int) -> None:
    vm.wait_until(lambda: _state_in_rkt_list(vm, pod.uuid) == state, timeout=seconds,
                  what=f"rkt list to show {pod.uuid} as {state!r}")


@then(step('rkt lists the previous pod as "{state:q}" within {seconds:d} seconds'))
def rkt_lists_previous(vm: Machine, pod: Pod, state: str, seconds: int) -> None:
    assert pod.previous is not None, "this scenario has not replaced a pod"
    rkt_lists_pod(vm, pod.previous, state, seconds)


@then(step('rkt status reports that the app "{app:q}" of the pod exited with {code:d} '
           'within {seconds:d} seconds'))
def rkt_status_exit(vm: Machine, pod: Pod, app: str, code: int, seconds: int) -> None:
    def status() -> dict[str, str] | None:
        st = parse_rkt_status(vm.check_output(["rkt", "status", pod.uuid]))
        return st if f"app-{app}" in st else None

    st = vm.wait_until(status, timeout=seconds, what=f"rkt status to report app-{app}=")
    assert st is not None  # wait_until returns only a truthy value
    assert st[f"app-{app}"] == str(code), st


def _image_listed(vm: Machine, name: str) -> bool:
    rows = parse_rkt_image_list(vm.check_output(["rkt", "image", "list"]))
    # rkt shows the version label after a colon: myapp.com/myapp-1.3.4:1.3.4.
    return any(r.name == name or r.name.startswith(name + ":") for r in rows)


@given(step('rkt image list does not show "{name:q}"'))
def image_absent(vm: Machine, name: str) -> None:
    assert not _image_listed(vm, name)


@then(step('rkt image list shows "{name:q}"'))
def image_present(vm: Machine, name: str) -> None:
    assert _image_listed(vm, name)


@when(step('I kill the app "{exe:q}" of the pod from the host'))
def kill_app(vm: Machine, pod: Pod, exe: str) -> None:
    forest = parse_ps_auxf(vm.check_output(["ps", "auxf"]))
    main = forest.by_pid(main_pid(vm, pod.unit))
    assert main is not None
    nspawn = next(p for p in main.walk() if is_nspawn(p))
    apps = [p.pid for p in nspawn.descendants() if p.argv[:1] == (exe,)]
    assert len(apps) == 1, f"expected one {exe} below {nspawn.pid}: {apps}"
    vm.check_output(["kill", str(apps[0])])


@then(step('the app "{app:q}" of the pod wrote its SIGTERM marker'))
def sigterm_marker(vm: Machine, pod: Pod, app: str) -> None:
    # The app writes /sigterm-marker in its own rootfs, which lives in the pod's directory
    # under /var/lib/rkt/pods/<state>/<uuid>/ (below stage1/rootfs/opt/stage2/<app>/, or an
    # overlay's upper directory named after the app).
    found = vm.check_output(["find", "/var/lib/rkt/pods", "-path", f"*/{pod.uuid}/*/{app}/*",
                             "-name", "sigterm-marker", "-type", "f"]).split()
    assert found, f"no sigterm-marker of {app} in the pod's directory"
    assert vm.read_file(found[0]).startswith("got-SIGTERM"), found[0]
