"""appc discovery: find where an image named NAME[:version] can be downloaded.

`https://{prefix}?ac-discovery=1` serves HTML with <meta name="ac-discovery"
content="PREFIX TEMPLATE"> tags; the template's {name} {version} {os} {arch} {ext}
placeholders are filled in for the image and for its `.aci.asc` signature.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from html.parser import HTMLParser

from . import log
from .errors import RktError
from .record import record

TIMEOUT = 30.0
MAX_PAGE_BYTES = 1 << 20


@record
class Endpoint:
    """Where appc discovery found an image and its signature."""

    aci: str
    asc: str


class _MetaParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.metas: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "meta":
            return
        d = {k: v or "" for k, v in attrs}
        if "name" in d and "content" in d:
            self.metas.append((d["name"], d["content"]))


def parse_meta(html: str, kind: str = "ac-discovery") -> list[tuple[str, str]]:
    """(prefix, template) pairs of the given meta tag kind in an HTML page."""
    p = _MetaParser()
    p.feed(html)
    out: list[tuple[str, str]] = []
    for name, content in p.metas:
        if name != kind:
            continue
        parts = content.split()
        if len(parts) == 2:
            out.append((parts[0], parts[1]))
    return out


def render(template: str, values: dict[str, str]) -> str | None:
    """Fill the template; None if a placeholder has no value (template does not apply)."""
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", value)
    return None if "{" in out else out


def _prefixes(name: str) -> list[str]:
    parts = name.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]


def _get(url: str, insecure_tls: bool) -> str:
    ctx = ssl._create_unverified_context() if insecure_tls else None
    log.debug("discovery: GET %s", url)
    with urllib.request.urlopen(url, timeout=TIMEOUT, context=ctx) as resp:
        return resp.read(MAX_PAGE_BYTES).decode("utf-8", "replace")


def discover(
    name: str,
    labels: dict[str, str],
    *,
    insecure_http: bool = False,
    insecure_tls: bool = False,
) -> Endpoint:
    """Walk name's prefixes (longest first) until a page has a matching template."""
    values = {"name": name, "ext": "aci", **labels}
    errors: list[str] = []
    schemes = ["https"] + (["http"] if insecure_http else [])
    for prefix in _prefixes(name):
        for scheme in schemes:
            url = f"{scheme}://{prefix}?ac-discovery=1"
            try:
                page = _get(url, insecure_tls)
            except (urllib.error.URLError, OSError, ValueError) as e:
                errors.append(f"{url}: {getattr(e, 'reason', e)}")
                continue
            for meta_prefix, template in parse_meta(page):
                if not name.startswith(meta_prefix):
                    continue
                aci = render(template, values)
                if aci is None:
                    continue
                asc = render(template, {**values, "ext": "aci.asc"})
                return Endpoint(aci, asc or aci + ".asc")
            break  # a page answered but had no matching template; try a shorter prefix
    detail = "; ".join(errors[-2:]) if errors else "no matching ac-discovery meta tag"
    raise RktError(
        f"discovery failed for {name}: {detail}",
        hint="pass --insecure-options=http to allow discovery over plain HTTP"
        if not insecure_http else None,
    )


def download(url: str, dest_fd: int, *, insecure_tls: bool = False, limit: int) -> None:
    """Stream url into an open file descriptor, refusing more than `limit` bytes."""
    import os

    ctx = ssl._create_unverified_context() if insecure_tls else None
    log.debug("fetch: GET %s", url)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT, context=ctx) as resp:
            total = 0
            while chunk := resp.read(1 << 20):
                total += len(chunk)
                if total > limit:
                    raise RktError(f"{url}: download exceeds {limit} bytes")
                os.write(dest_fd, chunk)
    except (urllib.error.URLError, OSError) as e:
        raise RktError(f"downloading {url}: {getattr(e, 'reason', e)}") from None


def exists(url: str, *, insecure_tls: bool = False) -> bool:
    ctx = ssl._create_unverified_context() if insecure_tls else None
    req = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT, context=ctx):
            return True
    except (urllib.error.URLError, OSError):
        return False
