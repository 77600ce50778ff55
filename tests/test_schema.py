"""appc image and pod manifests: parsing, validation wording, round trips."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from rkt_ref.schema import (
    ImageManifest,
    ImageRef,
    ManifestError,
    PodManifest,
    Protocol,
    RuntimeApp,
    parse_quantity,
)

ETCD: dict[str, Any] = {
    "acKind": "ImageManifest",
    "acVersion": "0.8.11",
    "name": "coreos.com/etcd",
    "labels": [{"name": "version", "value": "v2.2.5"}, {"name": "os", "value": "linux"},
               {"name": "arch", "value": "amd64"}],
    "app": {
        "exec": ["/etcd", "--data-dir=/var/lib/etcd"],
        "user": "0",
        "group": "0",
        "mountPoints": [{"name": "data-dir", "path": "/var/lib/etcd"}],
        "ports": [{"name": "client", "protocol": "tcp", "port": 2379},
                  {"name": "peer", "protocol": "tcp", "port": 2380}],
        "environment": [{"name": "ETCD_NAME", "value": "default"}],
        "isolators": [{"name": "resource/memory", "value": {"limit": "1G"}}],
    },
}


def mutated(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(ETCD)
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


DELETE = object()


def test_etcd_manifest_parses() -> None:
    m = ImageManifest.from_json(ETCD)
    assert m.name == "coreos.com/etcd"
    assert m.label("version") == "v2.2.5"
    assert m.display_name() == "coreos.com/etcd:v2.2.5"
    assert m.app is not None
    assert m.app.exec == ("/etcd", "--data-dir=/var/lib/etcd")
    assert [p.port for p in m.app.ports] == [2379, 2380]
    assert m.app.ports[0].protocol is Protocol.TCP
    assert m.app.ports[0].count == 1
    assert m.app.mount_points[0].name == "data-dir"


def test_round_trip_through_json() -> None:
    m = ImageManifest.from_json(ETCD)
    again = ImageManifest.from_bytes(json.dumps(m.to_json()).encode())
    assert again == m


@pytest.mark.parametrize(("path", "value", "words"), [
    (["acKind"], "PodManifest", "acKind must be 'ImageManifest'"),
    (["acVersion"], "latest", "acVersion"),
    (["name"], "CoreOS.com/etcd", "ACIdentifier"),
    (["labels"], [{"name": "version", "value": "1"}, {"name": "version", "value": "2"}],
     "duplicated"),
    (["labels"], [{"name": "os", "value": "plan9"}], "bad os"),
    (["labels"], [{"name": "os", "value": "linux"}, {"name": "arch", "value": "x86_64"}],
     "bad arch"),
    (["labels"], [{"name": "arch", "value": "amd64"}], "requires label 'os'"),
    (["app", "exec"], ["etcd"], "absolute path"),
    (["app", "user"], DELETE, "user is required"),
    (["app", "group"], "", "group is required"),
    (["app", "workingDirectory"], "relative", "absolute"),
    (["app", "ports"], [{"name": "Client", "protocol": "tcp", "port": 1}], "ACName"),
    (["app", "ports"], [{"name": "c", "protocol": "sctp", "port": 1}], "protocol"),
    (["app", "ports"], [{"name": "c", "protocol": "tcp", "port": 70000}], "1-65535"),
    (["app", "ports"], [{"name": "c", "protocol": "tcp", "port": 1, "count": 0}],
     "count must be at least 1"),
    (["app", "ports"], [{"name": "c", "protocol": "tcp", "port": 1},
                        {"name": "c", "protocol": "udp", "port": 2}], "unique"),
    (["app", "environment"], [{"name": "1BAD", "value": "x"}], "environment variable name"),
    (["app", "isolators"], [{"name": "resource/memory", "value": {"limit": "lots"}}],
     "not a valid quantity"),
    (["app", "isolators"], [{"name": "os/linux/cpu-shares", "value": 1}], "2-262144"),
    (["app", "isolators"], [{"name": "os/linux/oom-score-adj", "value": 2000}], "-1000-1000"),
    (["app", "mountPoints"], [{"name": "d", "path": "var"}], "absolute"),
])
def test_rule_violations_are_named(path: list[Any], value: Any, words: str) -> None:
    with pytest.raises(ManifestError) as e:
        ImageManifest.from_json(mutated(path, value))
    assert words in str(e.value)


def test_not_json() -> None:
    with pytest.raises(ManifestError, match="not valid JSON"):
        ImageManifest.from_bytes(b"{nope")


def test_unknown_isolators_pass_through() -> None:
    doc = mutated(["app", "isolators"], [{"name": "os/linux/seccomp-retain-set",
                                         "value": {"set": ["@rkt/default-whitelist"],
                                                   "errno": "ENOSYS"}}])
    m = ImageManifest.from_json(doc)
    assert m.app is not None and m.app.isolators[0].value["errno"] == "ENOSYS"


@pytest.mark.parametrize(("text", "value"), [
    ("500m", Decimal("0.5")), ("1", Decimal(1)), ("1G", Decimal(10**9)),
    ("128Mi", Decimal(128 * 2**20)), ("1.5", Decimal("1.5")), (2, Decimal(2)),
])
def test_quantities(text: Any, value: Decimal) -> None:
    assert parse_quantity(text) == value


def test_pod_manifest_round_trip_and_duplicate_apps() -> None:
    m = ImageManifest.from_json(ETCD)
    assert m.app is not None
    app = RuntimeApp("etcd", ImageRef(m.name, "sha512-" + "a" * 64, m.labels), m.app)
    pod = PodManifest((app,))
    assert PodManifest.from_json(pod.to_json()) == pod
    assert pod.to_json()["acKind"] == "PodManifest"
    with pytest.raises(ManifestError, match="used twice"):
        PodManifest((app, app))
