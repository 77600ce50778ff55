"""The features whose Background only fetches the etcd stand-in: one module, so one
worker (`--dist loadfile`) whose kept VM fetches it once (see features/conftest.py)."""

from pytest_bdd import scenarios

scenarios("main_process.feature", "systemd_run.feature")
