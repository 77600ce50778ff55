"""Steps about docker:// images: a real registry on loopback in the VM, filled with skopeo.

The VM has no network, so the document's `docker://redis` is served by Debian's
docker-registry on 127.0.0.1:5000, which rkt reaches through the registry mirror
configuration (/etc/rkt/docker.d/). The image pushed there is an OCI image made from the
redis stand-in ACI's files, with redis' docker config (Cmd, Env, WorkingDir, ExposedPorts).
"""

from __future__ import annotations

from pytest_bdd import given

from steps.vocab import setup_step, step
from vm.machine import Machine

REGISTRY = "127.0.0.1:5000"
REGISTRY_UNIT = "docker-registry-local.service"

_REGISTRY_CONFIG = f"""version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
http:
  addr: {REGISTRY}
"""

_MIRROR_CONFIG = f"""{{
  "rktKind": "dockerRegistries",
  "rktVersion": "v1",
  "mirrors": {{"docker.io": "{REGISTRY}"}},
  "plainHTTP": ["{REGISTRY}"]
}}
"""

# Makes an OCI layout (one gzip layer of the ACI's rootfs, an image config, a manifest and
# index.json) from an ACI: argv = ACI, layout directory, tag. The layer is compressed at
# level 1: at gzip's default 9 this took about 12 s under TCG.
_ACI_TO_OCI = r"""
import gzip, hashlib, io, json, os, sys, tarfile
aci, out, tag = sys.argv[1:4]
os.makedirs(f"{out}/blobs/sha256", exist_ok=True)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{d}", "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
buf = io.BytesIO()
with tarfile.open(aci) as src, tarfile.open(fileobj=buf, mode="w") as dst:
    manifest = json.load(src.extractfile("manifest"))
    for m in src:
        if m.name.startswith("rootfs/"):
            data = src.extractfile(m) if m.isreg() else None
            m.name = m.name[len("rootfs/"):]
            if m.islnk():
                m.linkname = m.linkname[len("rootfs/"):]
            dst.addfile(m, data)
app = manifest["app"]
config = {"Cmd": [os.path.basename(app["exec"][0]), *app["exec"][1:]],
          "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
          "WorkingDir": app.get("workingDirectory", "/"),
          "ExposedPorts": {f'{p["port"]}/{p["protocol"]}': {} for p in app.get("ports", [])}}
cfg = put(json.dumps({"os": "linux", "architecture": "amd64", "config": config,
                      "rootfs": {"type": "layers", "diff_ids": ["sha256:" +
                                 hashlib.sha256(buf.getvalue()).hexdigest()]}}).encode())
layer = put(gzip.compress(buf.getvalue(), compresslevel=1))
layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
cfg["mediaType"] = "application/vnd.oci.image.config.v1+json"
man = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": cfg, "layers": [layer]}).encode())
man["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
man["annotations"] = {"org.opencontainers.image.ref.name": tag}
json.dump({"schemaVersion": 2, "manifests": [man]}, open(f"{out}/index.json", "w"))
open(f"{out}/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
"""


def serve_registry(vm: Machine) -> None:
    vm.write_file("/etc/rkt-ref/registry.yml", _REGISTRY_CONFIG)
    vm.check_output(["systemd-run", f"--unit={REGISTRY_UNIT}", "/usr/bin/docker-registry",
                     "serve", "/etc/rkt-ref/registry.yml"])
    probe = f"import urllib.request; urllib.request.urlopen('http://{REGISTRY}/v2/')"
    vm.wait_until(lambda: vm.run(["python3", "-c", probe]).ok, timeout=60,
                  what=f"the docker registry on {REGISTRY} to answer")


@given(step('the docker registry on this host serves "{aci:q}" as "{reference:q}"'))
@setup_step
def registry_serves(vm: Machine, aci: str, reference: str) -> None:
    repo, _, tag = reference.partition(":")
    serve_registry(vm)
    layout = f"/tmp/oci-{repo.replace('/', '-')}"
    vm.check_output(["python3", "-c", _ACI_TO_OCI, aci, layout, tag or "latest"])
    vm.check_output(["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
                     f"oci:{layout}:{tag or 'latest'}",
                     f"docker://{REGISTRY}/{repo}:{tag or 'latest'}"], timeout=300)
    vm.write_file("/etc/rkt/docker.d/local-registry.json", _MIRROR_CONFIG)
