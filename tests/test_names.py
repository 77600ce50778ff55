"""appc name rules: ACName, ACIdentifier, and names rkt derives from image names."""

from __future__ import annotations

import pytest

from rkt_ref.schema import ManifestError, acidentifier, acname, sanitize_acname
from rkt_ref.store import ImageRefSpec


@pytest.mark.parametrize("name", ["etcd", "myapp-1-3-4", "a", "80-tcp", "x1-y2"])
def test_valid_acnames(name: str) -> None:
    assert acname(name) == name


@pytest.mark.parametrize("name", ["", "Etcd", "-etcd", "etcd-", "a--b", "a_b", "a.b", "a/b", " a"])
def test_invalid_acnames_cite_the_rule(name: str) -> None:
    with pytest.raises(ManifestError) as e:
        acname(name)
    assert "ACName" in str(e.value)


@pytest.mark.parametrize("name", ["coreos.com/etcd", "myapp.com/myapp-1.3.4", "example.com/a_b~c",
                                  "a", "quay.io/coreos/etcd"])
def test_valid_acidentifiers(name: str) -> None:
    assert acidentifier(name) == name


@pytest.mark.parametrize("name", ["", "CoreOS.com/etcd", "/etcd", "etcd/", "a//b", "a b", "a:b",
                                  "a..b", "étcd"])
def test_invalid_acidentifiers_cite_the_rule(name: str) -> None:
    with pytest.raises(ManifestError) as e:
        acidentifier(name)
    assert "ACIdentifier" in str(e.value)


@pytest.mark.parametrize(("image", "app"), [
    ("etcd", "etcd"),
    ("myapp-1.3.4", "myapp-1-3-4"),  # as real rkt names the app of myapp.com/myapp-1.3.4
    ("My_App..2", "my-app-2"),
])
def test_app_name_from_image_name(image: str, app: str) -> None:
    assert sanitize_acname(image) == app
    assert acname(sanitize_acname(image))


def test_image_argument_with_version_and_labels() -> None:
    spec = ImageRefSpec.parse("coreos.com/etcd:v2.2.5,os=linux")
    assert spec.name == "coreos.com/etcd"
    assert spec.labels == (("version", "v2.2.5"), ("os", "linux"))


def test_image_argument_without_version() -> None:
    spec = ImageRefSpec.parse("myapp.com/myapp-1.3.4")
    assert (spec.name, spec.labels) == ("myapp.com/myapp-1.3.4", ())


def test_image_argument_with_bad_name() -> None:
    with pytest.raises(ManifestError):
        ImageRefSpec.parse("Bad/Name:1")
