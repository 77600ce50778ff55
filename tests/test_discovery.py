"""appc discovery (meta tags, templates) and fetching images over HTTP."""

from __future__ import annotations

import functools
import gzip
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rkt_ref import discovery
from rkt_ref.errors import RktError
from rkt_ref.store import FetchPolicy, Store, fetch
from tests.acis import aci_tar

PAGE = """<html><head>
<meta name="ac-discovery" content="example.com https://cdn.example.com/{name}-{version}-{os}-{arch}.{ext}">
<meta name="ac-discovery" content="example.com/other https://other/{name}.{ext}">
<meta name="ac-discovery-pubkeys" content="example.com https://example.com/pubkeys.gpg">
</head></html>"""


def test_meta_tags() -> None:
    assert discovery.parse_meta(PAGE) == [
        ("example.com", "https://cdn.example.com/{name}-{version}-{os}-{arch}.{ext}"),
        ("example.com/other", "https://other/{name}.{ext}"),
    ]
    assert discovery.parse_meta(PAGE, "ac-discovery-pubkeys") == [
        ("example.com", "https://example.com/pubkeys.gpg")]


def test_templates_need_every_placeholder() -> None:
    assert discovery.render("https://x/{name}.{ext}", {"name": "a/b", "ext": "aci"}) == \
        "https://x/a/b.aci"
    assert discovery.render("https://x/{name}-{version}.{ext}", {"name": "a", "ext": "aci"}) is None


def test_discover_walks_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def fake_get(url: str, insecure_tls: bool) -> str:
        asked.append(url)
        if url == "https://example.com?ac-discovery=1":
            return PAGE
        raise OSError("no route")

    monkeypatch.setattr(discovery, "_get", fake_get)
    ep = discovery.discover("example.com/app", {"version": "1.0", "os": "linux", "arch": "amd64"})
    assert ep.aci == "https://cdn.example.com/example.com/app-1.0-linux-amd64.aci"
    assert ep.asc == "https://cdn.example.com/example.com/app-1.0-linux-amd64.aci.asc"
    assert asked == ["https://example.com/app?ac-discovery=1", "https://example.com?ac-discovery=1"]


def test_discovery_failure_is_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(url: str, insecure_tls: bool) -> str:
        raise OSError("connection refused")

    monkeypatch.setattr(discovery, "_get", fail)
    with pytest.raises(RktError, match="discovery failed for example.com/app") as e:
        discovery.discover("example.com/app", {})
    assert e.value.hint and "--insecure-options=http" in e.value.hint


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "www").mkdir()
    served = aci_tar("example.com/served", "2", app=False)
    (tmp_path / "www" / "served.aci").write_bytes(gzip.compress(served))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(tmp_path / "www"))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined,method-assign]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_fetch_over_http(tmp_path: Path, server: str) -> None:
    store = Store(tmp_path / "rkt")
    url = f"{server}/served.aci"
    with pytest.raises(RktError, match="plain HTTP"):
        fetch(store, url, FetchPolicy(insecure_image=True))
    with pytest.raises(RktError, match="signature"):
        fetch(store, url, FetchPolicy(insecure_http=True))
    info = fetch(store, url, FetchPolicy(insecure_http=True, insecure_image=True))
    assert info.display_name == "example.com/served:2"
    assert not any((tmp_path / "rkt" / "cas" / "tmp").iterdir())


def test_fetch_by_name_from_the_store_needs_no_network(tmp_path: Path, server: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "rkt")
    fetch(store, f"{server}/served.aci", FetchPolicy(insecure_http=True, insecure_image=True))

    def no_network(*a: object, **k: object) -> None:
        raise AssertionError("discovery must not run for a stored image")

    monkeypatch.setattr(discovery, "discover", no_network)
    found = fetch(store, "example.com/served:2", FetchPolicy())
    assert found.display_name == "example.com/served:2"
    with pytest.raises(RktError, match="--pull-policy=never"):
        fetch(store, "example.com/served:3", FetchPolicy(pull_policy="never"))
