"""The spec's xdist groups: scenarios of features with the same Background share a worker,
and so the kept VM that has their Background's setups done (features/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

FEATURES = Path(__file__).resolve().parent.parent / "features"


class Groups:
    """A pytest plugin that keeps each collected scenario's xdist group."""

    def __init__(self) -> None:
        self.of: dict[str, str | None] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            mark = item.get_closest_marker("xdist_group")
            self.of[item.name] = mark.args[0] if mark else None


@pytest.fixture(scope="module")
def groups() -> dict[str, str | None]:
    plugin = Groups()
    status = pytest.main([str(FEATURES), "--collect-only", "-q"],
                         plugins=[plugin])
    assert status == pytest.ExitCode.OK
    assert len(plugin.of) >= 25
    return plugin.of


def test_features_with_the_same_background_are_one_group(groups: dict[str, str | None]) -> None:
    # cgls, cgls_all and ps share the document's etcd.service Background, started
    cgls = groups["test_the_app_and_journald_run_in_the_pods_inner_systemslice"]
    assert cgls is not None and cgls.startswith("background-")
    assert groups["test_all_adds_the_pods_prepareapp_slice_that_the_plain_listing_hides"] == cgls
    assert groups["test_rkt_itself_is_not_in_the_process_list"] == cgls
    # simple_unit's Background stops before the start
    simple = groups["test_systemctl_start_runs_the_pod_as_etcdservice_in_machineslice"]
    assert simple is not None and simple != cgls
    assert groups["test_systemctl_restart_replaces_the_pod_with_a_new_one"] == simple


def test_a_feature_without_a_background_has_no_group(groups: dict[str, str | None]) -> None:
    assert groups["test_a_disposable_vm_is_a_running_systemd_host"] is None
    assert groups["test_a_key_trusted_for_another_prefix_does_not_count"] is None
