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

rm -rf "$work"
ls -l "$out"
