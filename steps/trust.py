"""Steps about image trust: trusted keys, a local discovery server, altered images.

Fingerprints are read with the VM's gpg, never with the runtime under test.
"""

from __future__ import annotations

import json
import posixpath

from pytest_bdd import given, then

from steps.pods import image_absent
from steps.vocab import setup_step, step
from vm.machine import Machine
from vm.result import CommandResult

DISCOVERY_ROOT = "/srv/discovery"
DISCOVERY_UNIT = "discovery-server.service"


def key_fingerprint(vm: Machine, keyfile: str) -> str:
    """The primary key's fingerprint, lower-case, as rkt names the stored key file."""
    out = vm.check_output(["gpg", "--batch", "--with-colons", "--show-keys", keyfile])
    return next(ln.split(":")[9] for ln in out.splitlines() if ln.startswith("fpr:")).lower()


@given(step('a discovery server on this host for "{name:q}" serving "{aci:q}" '
            'signed as "{asc:q}"'))
@setup_step
def discovery_server(vm: Machine, name: str, aci: str, asc: str) -> None:
    # appc discovery asks https://{name}?ac-discovery=1, then (with --insecure-options=http)
    # http://; the host name points at loopback, where a plain HTTP server answers the
    # meta tag page and serves the image and its signature at the template's URL.
    host, _, path = name.partition("/")
    vm.sh(f"grep -q ' {host}$' /etc/hosts || echo '127.0.0.1 {host}' >> /etc/hosts")
    template = f"http://{host}/images/{{name}}-{{version}}-{{os}}-{{arch}}.{{ext}}"
    page = ("<html><head>\n"
            f'<meta name="ac-discovery" content="{name} {template}">\n'
            "</head></html>\n")
    vm.write_file(posixpath.join(DISCOVERY_ROOT, path or "index.html"), page)
    base = f"{DISCOVERY_ROOT}/images/{name}-{{}}-linux-amd64".format
    labels = vm.check_output(["sh", "-c", f"tar -xzOf {aci} manifest || tar -xOf {aci} manifest"])
    version = next(lb["value"] for lb in json.loads(labels)["labels"] if lb["name"] == "version")
    vm.check_output(["mkdir", "-p", posixpath.dirname(base(version))])
    vm.check_output(["cp", aci, base(version) + ".aci"])
    vm.check_output(["cp", asc, base(version) + ".aci.asc"])
    vm.check_output(["systemd-run", f"--unit={DISCOVERY_UNIT}", "python3", "-m", "http.server",
                     "80", "--bind", "127.0.0.1", "--directory", DISCOVERY_ROOT])
    probe = f"import urllib.request; urllib.request.urlopen('http://{name}?ac-discovery=1')"
    vm.wait_until(lambda: vm.run(["python3", "-c", probe]).ok, timeout=60,
                  what=f"the discovery server for {name} to answer")


@given(step('the key "{keyfile:q}" is trusted for the prefix "{prefix:q}"'))
@setup_step
def key_trusted(vm: Machine, keyfile: str, prefix: str) -> None:
    # Without a terminal to review the fingerprint on, rkt needs to be told to skip it.
    vm.check_output(["rkt", "trust", "--skip-fingerprint-review", f"--prefix={prefix}", keyfile])


@given(step('a copy of "{aci:q}" with the signature "{asc:q}" at "{dest:q}"'))
@setup_step
def signed_copy(vm: Machine, aci: str, asc: str, dest: str) -> None:
    vm.check_output(["mkdir", "-p", posixpath.dirname(dest)])
    vm.check_output(["cp", aci, dest])
    vm.check_output(["cp", asc, dest + ".asc"])


@given(step('the image "{path:q}" is altered after it was signed'))
@setup_step
def altered(vm: Machine, path: str) -> None:
    # An empty gzip member appended: the archive still unpacks to the same tar (the same
    # image ID), yet its bytes are not the bytes that were signed.
    vm.check_output(["sh", "-c", f"gzip -c </dev/null >> {path}"])


@then(step('the key "{keyfile:q}" is stored as rkt stores keys for the prefix "{prefix:q}"'))
def key_stored(vm: Machine, keyfile: str, prefix: str) -> None:
    fpr = key_fingerprint(vm, keyfile)
    stored = f"/etc/rkt/trustedkeys/prefix.d/{prefix}/{fpr}"
    assert vm.run(["test", "-s", stored]).ok, f"no key file {stored}"
    assert key_fingerprint(vm, stored) == fpr


@then(step('rkt reports that the image is signed by "{signer:q}"'))
def verified_by(command: CommandResult, signer: str) -> None:
    assert command.ok, command.describe()
    assert "signature verified" in command.stderr and signer in command.stderr, (
        command.describe())


@then(step('the command fails with a message naming "{text:q}"'))
def fails_naming(command: CommandResult, text: str) -> None:
    assert not command.ok, command.describe()
    assert text.lower() in (command.stderr + command.stdout).lower(), command.describe()
    assert "Traceback" not in command.stderr, command.describe()


@then(step('rkt image list still does not show "{name:q}"'))
def image_still_absent(vm: Machine, name: str) -> None:
    image_absent(vm, name)
