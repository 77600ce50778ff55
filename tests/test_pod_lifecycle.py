"""Pod directories and state changes (flock + rename), gc, and gc racing with runs."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from rkt_ref import pod as pod_module
from rkt_ref import proc
from rkt_ref.errors import RktError
from rkt_ref.pod import Dir, Embryo, GcPolicy, Pod, Pods, State, gc


def started(pods: Pods) -> Pod:
    """A pod as `rkt run` leaves it just before the exec: locked, in run/."""
    pod = pods.create()
    (pod.path / "pod").write_text("{}")
    pod.move(Dir.PREPARE)
    pod.move(Dir.RUN)
    (pod.path / "pid").write_text("999999999\n")  # no such process
    return pod


def run_gc(pods: Pods, **kw: object) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    gc(pods, GcPolicy(**kw), out=out, err=err)  # type: ignore[arg-type]
    return out.getvalue(), err.getvalue()


def test_states_follow_the_directories(tmp_path: Path) -> None:
    pods = Pods(tmp_path)
    pod = pods.create()
    assert pod.path.parent.name == "embryo" and pod.state() == State.EMBRYO
    pod.move(Dir.PREPARE)
    assert pod.state() == State.PREPARING  # we hold the lock
    probe = Pod(pods, pod.uuid, Dir.PREPARE)
    assert probe.state() == State.PREPARING
    pod.unlock()
    assert probe.state() == State.ABORTED_PREPARE
    assert pod.try_lock()
    pod.move(Dir.PREPARED)
    assert pod.state() == State.PREPARED
    pod.move(Dir.RUN)
    assert Pod(pods, pod.uuid, Dir.RUN).state() == State.RUNNING  # locked by the "runner"
    pod.unlock()
    assert Pod(pods, pod.uuid, Dir.RUN).state() == State.EXITED
    assert sorted(os.listdir(pods.root / "run")) == [pod.uuid]


def test_moving_needs_the_lock(tmp_path: Path) -> None:
    pods = Pods(tmp_path)
    pod = pods.create()
    pod.unlock()
    with pytest.raises(RktError, match="locked"):
        pod.move(Dir.PREPARE)


def test_mark_only_moves_exited_pods_and_says_so(tmp_path: Path) -> None:
    pods = Pods(tmp_path)
    exited = started(pods)
    exited.unlock()
    running = started(pods)  # still locked
    out, err = run_gc(pods, mark_only=True)
    assert err == f'gc: moving pod "{exited.uuid}" to garbage\n'
    assert out == ""
    assert pods.find(exited.uuid).dir == Dir.EXITED_GARBAGE
    assert pods.find(exited.uuid).state() == State.EXITED_GARBAGE
    assert pods.find(running.uuid).dir == Dir.RUN
    marked = pods.find(exited.uuid).gc_marked_at()
    assert abs(marked - time.time_ns()) < 60 * 10**9
    assert pods.find(running.uuid).gc_marked_at() == 0


def test_a_live_nspawn_keeps_its_pod_even_without_the_lock(tmp_path: Path) -> None:
    pods = Pods(tmp_path)
    pod = started(pods)
    (pod.path / "pid").write_text("4242\n")
    pod.unlock()  # nspawn may close the inherited lock; the pid file then identifies it
    proc = tmp_path / "proc"
    (proc / "4242").mkdir(parents=True)
    (proc / "4242" / "cmdline").write_bytes(
        b"/usr/bin/systemd-nspawn\0--boot\0--uuid=" + pod.uuid.encode() + b"\0")
    assert pods.find(pod.uuid).nspawn_alive(proc)
    (proc / "4242" / "cmdline").write_bytes(b"/usr/bin/python3\0-m\0something\0")
    assert not pods.find(pod.uuid).nspawn_alive(proc)
    assert not pods.find(pod.uuid).nspawn_alive()  # no process 4242 of that kind here


def test_full_gc_honours_the_grace_period(tmp_path: Path) -> None:
    pods = Pods(tmp_path)
    pod = started(pods)
    pod.unlock()
    run_gc(pods, mark_only=True)
    out, _ = run_gc(pods, grace_period=3600.0)
    assert out == ""
    assert pods.find(pod.uuid).dir == Dir.EXITED_GARBAGE
    out, _ = run_gc(pods, grace_period=0.0)
    assert out == f'Garbage collecting pod "{pod.uuid}"\n'
    assert pods.all() == []


def test_gc_collects_aborted_prepares_and_expired_prepared(tmp_path: Path) -> None:
    pods = Pods(tmp_path)
    aborted = pods.create()
    aborted.move(Dir.PREPARE)
    aborted.unlock()
    busy = pods.create()
    busy.move(Dir.PREPARE)  # still preparing: locked
    prepared = pods.create()
    prepared.move(Dir.PREPARED)
    prepared.unlock()
    run_gc(pods, expire_prepared=3600.0)
    left = {p.uuid: p.dir for p in pods.all()}
    assert left == {busy.uuid: Dir.PREPARE, prepared.uuid: Dir.PREPARED}
    old = time.time() - 7200
    os.utime(prepared.path, (old, old))
    _, err = run_gc(pods, expire_prepared=3600.0)
    assert "expired prepared" in err
    assert {p.uuid for p in pods.all()} == {busy.uuid}


def test_failed_preparation_leaves_nothing(tmp_path: Path) -> None:
    pods = Pods(tmp_path)
    with pytest.raises(RuntimeError), Embryo(pods) as pod:
        pod.move(Dir.PREPARE)
        (pod.path / "stage1").mkdir()
        raise RuntimeError("boom")
    assert pods.all() == []


def test_uuid_prefixes(tmp_path: Path) -> None:
    pods = Pods(tmp_path)
    pods.ensure()
    for uid in ("56c007f8-578b-4e7b-8984-078d7a65d15e", "56c0aaaa-578b-4e7b-8984-078d7a65d15e"):
        (pods.root / "run" / uid).mkdir()
    assert pods.find("56c007").uuid.startswith("56c007f8")
    with pytest.raises(RktError, match="ambiguous"):
        pods.find("56c0")
    with pytest.raises(RktError, match="no pod found"):
        pods.find("ffff")
    (pods.root / "run" / "not-a-uuid").mkdir()
    assert len(pods.all()) == 2


def _runner(pods: Pods, n: int, done: list[str], errors: list[BaseException],
            stop_lock: threading.Lock) -> None:
    try:
        for _ in range(n):
            pod = pods.create()
            (pod.path / "pod").write_text("{}")
            pod.move(Dir.PREPARE)
            (pod.path / "stage1").mkdir()
            pod.move(Dir.RUN)
            (pod.path / "pid").write_text("999999999\n")
            time.sleep(0.001)  # "running"
            with stop_lock:
                done.append(pod.uuid)
            pod.unlock()  # nspawn exited
    except BaseException as e:  # noqa: BLE001 - handed to the main thread
        errors.append(e)


def test_concurrent_gc_and_runs(tmp_path: Path) -> None:
    """gc loops while pods are created, prepared and run: gc never takes a locked pod,
    every finished pod ends up marked or collected, and nobody crashes."""
    pods = Pods(tmp_path)
    pods.ensure()
    done: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    runners = [threading.Thread(target=_runner, args=(pods, 25, done, errors, lock))
               for _ in range(4)]
    stop = threading.Event()
    moved_while_locked: list[str] = []

    def gcer(mark_only: bool) -> None:
        while not stop.is_set():
            try:
                _, err = run_gc(pods, mark_only=mark_only, grace_period=0.0)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
                return
            with lock:
                finished = set(done)
            for line in err.splitlines():
                uid = line.split('"')[1]
                if line.startswith("gc: moving pod") and uid not in finished:
                    moved_while_locked.append(uid)

    gcers = [threading.Thread(target=gcer, args=(m,)) for m in (True, False)]
    for t in runners + gcers:
        t.start()
    for t in runners:
        t.join(timeout=60)
    stop.set()
    for t in gcers:
        t.join(timeout=60)
    assert errors == []
    assert moved_while_locked == []
    assert len(done) == 100
    run_gc(pods, mark_only=True)
    run_gc(pods, grace_period=0.0)
    assert pods.all() == []
    for d in Dir:
        assert os.listdir(pods.root / d) == []


def test_pod_dirs_have_rkts_permissions(tmp_path: Path) -> None:
    """rkt (pkg/pod): pods/, its state directories and each pod directory are 0750."""
    old = os.umask(0o022)
    try:
        pods = Pods(tmp_path / "rkt")
        with Embryo(pods) as pod:
            pass
    finally:
        os.umask(old)
    assert (pods.root.stat().st_mode & 0o7777) == 0o750
    for d in Dir:
        assert ((pods.root / d).stat().st_mode & 0o7777) == 0o750, d
    assert (pod.path.stat().st_mode & 0o7777) == 0o750


def test_a_pod_moved_while_the_pods_are_listed_is_listed_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A gc moving a pod from run/ to exited-garbage/ between the reads of the two
    directories: `rkt list` shows the pod once, where it is now."""
    pods = Pods(tmp_path)
    pod = started(pods)
    real_listdir = os.listdir

    def listdir_then_gc(path: str | os.PathLike[str]) -> list[str]:
        names = real_listdir(path)
        if Path(path) == pods.root / "run" and pod.dir == Dir.RUN:
            pod.move(Dir.EXITED_GARBAGE)  # the "other gc", right after run/ was read
        return names

    monkeypatch.setattr(pod_module.os, "listdir", listdir_then_gc)
    listed = pods.all()
    assert [(p.uuid, p.dir) for p in listed] == [(pod.uuid, Dir.EXITED_GARBAGE)]
    assert listed[0].state() == State.EXITED_GARBAGE


def test_a_pod_that_moved_on_since_it_was_listed_is_judged_where_it_is_now(
        tmp_path: Path) -> None:
    """`rkt run` moves its pod from prepare/ to run/ after `rkt list` read the directories:
    the pod is running, not an aborted prepare (its old directory is gone, not unlocked)."""
    pods = Pods(tmp_path)
    runner = pods.create()
    runner.move(Dir.PREPARE)
    (listed,) = pods.all()
    runner.move(Dir.RUN)  # still locked, as by the rkt about to exec nspawn
    assert listed.state() == State.RUNNING
    assert listed.dir == Dir.RUN
    runner.unlock()
    (listed,) = pods.all()
    other_gc = Pod(pods, runner.uuid, Dir.RUN)
    assert other_gc.try_lock()
    other_gc.move(Dir.EXITED_GARBAGE)
    other_gc.unlock()
    assert listed.state() == State.EXITED_GARBAGE


@pytest.fixture
def pod_init(tmp_path: Path) -> Iterator[tuple[Pods, Pod, subprocess.Popen[bytes]]]:
    """An exited pod (lock free, no nspawn) whose PID 1 lives on, as after SIGKILL to
    nspawn: a process with the environment nspawn gives the pod's systemd."""
    pods = Pods(tmp_path)
    pod = started(pods)
    pod.unlock()
    init = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                            env={"container": "rkt", "container_uuid": pod.uuid})
    yield pods, pod, init
    init.kill()
    init.wait()


def _machined(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, leader: int,
              ) -> list[list[str]]:
    """A machined that still has `name` registered with `leader`; returns the calls."""
    machines = tmp_path / "machines"
    machines.mkdir()
    (machines / name).write_text(f"NAME={name}\nLEADER={leader}\n")
    monkeypatch.setattr(pod_module, "MACHINES_DIR", machines)
    calls: list[list[str]] = []

    def fake_run(argv: Sequence[str], **kw: object) -> subprocess.CompletedProcess[str]:
        calls.append(list(argv))
        if argv[:2] == ["machinectl", "show"]:
            return subprocess.CompletedProcess(list(argv), 0, f"{leader}\n", "")
        if argv[:2] == ["busctl", "call"]:
            (machines / name).unlink()
            return subprocess.CompletedProcess(list(argv), 0, "", "")
        raise AssertionError(f"unexpected command {argv}")

    monkeypatch.setattr(proc, "run", fake_run)
    return calls


def test_gc_kills_what_is_left_of_a_pod_whose_nspawn_died(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        pod_init: tuple[Pods, Pod, subprocess.Popen[bytes]]) -> None:
    """SIGKILL to nspawn leaves the pod's systemd running and registered: gc kills it
    (and with it the pod's PID namespace) and drops the registration before it tears
    down the network and deletes the directory the pod still runs from."""
    pods, pod, init = pod_init
    calls = _machined(monkeypatch, tmp_path, f"rkt-{pod.uuid}", init.pid)
    run_gc(pods, grace_period=0.0)
    assert init.wait(timeout=10) == -signal.SIGKILL
    assert ["busctl", "call", "org.freedesktop.machine1", "/org/freedesktop/machine1",
            "org.freedesktop.machine1.Manager", "UnregisterMachine", "s",
            f"rkt-{pod.uuid}"] in calls
    assert pods.all() == []


def test_gc_kills_no_process_that_is_not_the_pods_init(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        pod_init: tuple[Pods, Pod, subprocess.Popen[bytes]]) -> None:
    """A stale registration whose leader PID now names another process (not the pod's
    PID 1): gc drops the registration and kills nothing."""
    pods, pod, _ = pod_init
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                                 env={"container_uuid": "another-pod"})
    try:
        calls = _machined(monkeypatch, tmp_path, f"rkt-{pod.uuid}", bystander.pid)
        run_gc(pods, grace_period=0.0)
        assert bystander.poll() is None
        assert any(c[:2] == ["busctl", "call"] for c in calls)
        assert pods.all() == []
    finally:
        bystander.kill()
        bystander.wait()


def test_gc_asks_machined_nothing_about_pods_that_ended_normally(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pods = Pods(tmp_path)
    pod = started(pods)
    pod.unlock()
    monkeypatch.setattr(pod_module, "MACHINES_DIR", tmp_path / "machines")

    def no_commands(argv: Sequence[str], **kw: object) -> None:
        raise AssertionError(f"unexpected command {argv}")

    monkeypatch.setattr(proc, "run", no_commands)
    run_gc(pods, grace_period=0.0)
    assert pods.all() == []
