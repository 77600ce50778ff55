#!/bin/sh
# Runs inside the image's chroot: builds the spec's stand-in ACIs from Debian's
# real binaries with the real actool, and validates each one.
set -eu
work=$(mktemp -d)
out=/srv/aci

# Copy a dynamically linked binary and the libraries it loads into a rootfs.
copy_with_libs() {
    bin="$1" dest="$2" rootfs="$3"
    mkdir -p "$rootfs$(dirname "$dest")"
    cp "$bin" "$rootfs$dest"
    for lib in $(ldd "$bin" | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do
        mkdir -p "$rootfs$(dirname "$lib")"
        cp -L "$lib" "$rootfs$lib"
    done
}

build() {  # build NAME DIR: validate the manifest, build and validate the ACI
    actool validate "$2/manifest"
    actool build --owner-root --overwrite "$2" "$out/$1.aci"
    actool validate "$out/$1.aci"
}

# coreos.com/etcd:v2.2.5 -> Debian's etcd.
d="$work/etcd"; mkdir -p "$d/rootfs/var/lib/etcd" "$d/rootfs/etc" "$d/rootfs/tmp"
copy_with_libs /usr/bin/etcd /etcd "$d/rootfs"
printf '127.0.0.1 localhost\n' > "$d/rootfs/etc/hosts"
cat > "$d/manifest" <<'JSON'
{
  "acKind": "ImageManifest",
  "acVersion": "0.8.11",
  "name": "coreos.com/etcd",
  "labels": [
    {"name": "version", "value": "v2.2.5"},
    {"name": "os", "value": "linux"},
    {"name": "arch", "value": "amd64"}
  ],
  "app": {
    "exec": ["/etcd", "--data-dir=/var/lib/etcd"],
    "user": "0",
    "group": "0",
    "ports": [
      {"name": "client", "protocol": "tcp", "port": 2379},
      {"name": "peer", "protocol": "tcp", "port": 2380}
    ]
  }
}
JSON
build etcd "$d"

# A busybox rootfs for the project's own small apps.
busybox_rootfs() {
    mkdir -p "$1/bin" "$1/tmp" "$1/etc"
    cp /bin/busybox "$1/bin/busybox"
    for applet in sh env sort sleep echo cat nc httpd date kill ls; do
        ln -sf busybox "$1/bin/$applet"
    done
}

# myapp.com/myapp-1.3.4: shows its environment, and proves SIGTERM reached it.
d="$work/myapp"; busybox_rootfs "$d/rootfs"
cat > "$d/manifest" <<'JSON'
{
  "acKind": "ImageManifest",
  "acVersion": "0.8.11",
  "name": "myapp.com/myapp-1.3.4",
  "labels": [
    {"name": "version", "value": "1.3.4"},
    {"name": "os", "value": "linux"},
    {"name": "arch", "value": "amd64"}
  ],
  "app": {
    "exec": ["/bin/sh", "-c", "echo MYAPP-ENV-BEGIN; env | sort; echo MYAPP-ENV-END; trap 'echo got-SIGTERM > /sigterm-marker; echo MYAPP-GOT-SIGTERM; exit 0' TERM; while true; do sleep 1 & wait $!; done"],
    "user": "0",
    "group": "0",
    "ports": [
      {"name": "http", "protocol": "tcp", "port": 80}
    ]
  }
}
JSON
build myapp "$d"

# myapp.com/my-socket-activated-app:v1.0, the document's socket-activated port.
d="$work/socket-app"; mkdir -p "$d/rootfs"
cp /tmp/socket-app "$d/rootfs/my-socket-activated-app"
cat > "$d/manifest" <<'JSON'
{
  "acKind": "ImageManifest",
  "acVersion": "0.8.11",
  "name": "myapp.com/my-socket-activated-app",
  "labels": [
    {"name": "version", "value": "v1.0"},
    {"name": "os", "value": "linux"},
    {"name": "arch", "value": "amd64"}
  ],
  "app": {
    "exec": ["/my-socket-activated-app"],
    "user": "0",
    "group": "0",
    "ports": [
      {"name": "80-tcp", "protocol": "tcp", "port": 80, "count": 1, "socketActivated": true}
    ]
  }
}
JSON
build my-socket-activated-app "$d"

# docker://redis stand-in: Debian's redis-server, named as docker2aci names Docker Hub images.
d="$work/redis"; mkdir -p "$d/rootfs/data" "$d/rootfs/etc"
copy_with_libs /usr/bin/redis-server /usr/local/bin/redis-server "$d/rootfs"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$d/rootfs/etc/passwd"
cat > "$d/manifest" <<'JSON'
{
  "acKind": "ImageManifest",
  "acVersion": "0.8.11",
  "name": "registry-1.docker.io/library/redis",
  "labels": [
    {"name": "version", "value": "latest"},
    {"name": "os", "value": "linux"},
    {"name": "arch", "value": "amd64"}
  ],
  "app": {
    "exec": ["/usr/local/bin/redis-server", "--protected-mode", "no", "--save", ""],
    "user": "0",
    "group": "0",
    "workingDirectory": "/data",
    "ports": [
      {"name": "6379-tcp", "protocol": "tcp", "port": 6379, "count": 1}
    ]
  }
}
JSON
build redis "$d"

# Signing keys and detached signatures, for trust scenarios: one key for the
# coreos.com prefix, one for an unrelated prefix.
export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
mkdir -p "$out/keys"
gpg --batch --quiet --passphrase '' --quick-gen-key 'CoreOS fixture signer <signer@coreos.com>' rsa2048 sign never
gpg --batch --quiet --passphrase '' --quick-gen-key 'Example signer <signer@example.com>' rsa2048 sign never
gpg --batch --armor --export signer@coreos.com > "$out/keys/coreos.com.asc"
gpg --batch --armor --export signer@example.com > "$out/keys/example.com.asc"
for aci in etcd myapp my-socket-activated-app redis; do
    gpg --batch --quiet --local-user signer@coreos.com --armor --detach-sign \
        --output "$out/$aci.aci.asc" "$out/$aci.aci"
done
gpg --batch --quiet --local-user signer@example.com --armor --detach-sign \
    --output "$out/etcd.aci.example-signed.asc" "$out/etcd.aci"
gpgconf --kill all 2>/dev/null || true

rm -rf "$work"
ls -l "$out"
