#!/bin/sh
# mmdebstrap customize hook: turn the fresh rootfs ($1) into a quiet, fast-booting
# test VM. Runs on the host as root; every change here is part of the image cache key.
set -eu
root="$1"
here="$(dirname "$0")"

echo rktvm > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\trktvm\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
printf '/dev/vda\t/\text4\trw,noatime\t0\t1\n' > "$root/etc/fstab"
chroot "$root" passwd -d root >/dev/null

# The serial console logs in as root by itself, for pexpect-driven steps.
mkdir -p "$root/etc/systemd/system/serial-getty@ttyS0.service.d"
cat > "$root/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'UNIT'
[Service]
ExecStart=
ExecStart=-/sbin/agetty -o '-p -f -- \\u' --noclear --autologin root --keep-baud 115200 - $TERM
UNIT

# A terminal that is easy to read by a program.
cat > "$root/etc/profile.d/zz-harness.sh" <<'SH'
export TERM=dumb SYSTEMD_COLORS=0 SYSTEMD_PAGER= PAGER=cat SYSTEMD_LESS=
stty -echo cols 500 2>/dev/null || true
SH
echo 'set enable-bracketed-paste off' >> "$root/etc/inputrc"

# Quick failures rather than long hangs inside a test.
mkdir -p "$root/etc/systemd/system.conf.d" "$root/etc/systemd/journald.conf.d"
printf '[Manager]\nDefaultTimeoutStopSec=20s\nDefaultTimeoutStartSec=60s\n' \
    > "$root/etc/systemd/system.conf.d/harness.conf"
printf '[Journal]\nStorage=volatile\nRateLimitBurst=0\n' > "$root/etc/systemd/journald.conf.d/harness.conf"

# etcd and redis are here only as the binaries the stand-in ACIs are built from: the
# host must have no etcd.service or redis service of its own, so that the document's
# /etc/systemd/system/etcd.service is the only one (a mask would be in its way).
rm -f "$root"/lib/systemd/system/etcd.service "$root"/etc/init.d/etcd \
      "$root"/lib/systemd/system/redis-server*.service "$root"/etc/init.d/redis-server
# Also the enablement links and aliases (etcd2.service) that pointed at them.
find "$root/etc/systemd/system" \( -name 'etcd*.service' -o -name 'redis*.service' \
    -o -lname '*etcd*' -o -lname '*redis*' \) -exec rm -f {} +

# Nothing that only costs boot time under emulation, and no registry of its own.
for unit in docker-registry.service apt-daily.timer apt-daily-upgrade.timer \
            e2scrub_all.timer e2scrub_reap.service fstrim.timer dpkg-db-backup.timer \
            systemd-timesyncd.service getty@tty1.service; do
    chroot "$root" systemctl disable "$unit" >/dev/null 2>&1 || true
    chroot "$root" systemctl mask "$unit" >/dev/null 2>&1 || true
done

# Generators run again at every `systemctl daemon-reload`, which the scenarios do often,
# and under TCG each costs about 0.13 s. Only getty's is needed here (the serial
# console's getty; in a container, the container's): there are no crypt, verity or
# integrity devices, no GPT auto-discovery, hibernation, rc.local, SysV services or
# offline update, and the root mount needs no unit from fstab's (the kernel mounts it
# read-write; systemd-remount-fs applies /etc/fstab's options).
mkdir -p "$root/etc/systemd/system-generators"
for generator in cryptsetup debug fstab gpt-auto hibernate-resume integritysetup rc-local \
                 run system-update sysv veritysetup; do
    ln -sf /dev/null "$root/etc/systemd/system-generators/systemd-$generator-generator"
done

mkdir -p "$root/etc/rkt/net.d" "$root/var/lib/rkt" "$root/srv/aci"
rm -f "$root"/boot/initrd.img-* "$root/var/cache/apt/"*.bin
rm -rf "$root/var/lib/apt/lists/"*

# The harness sets a restored VM's clock in its first command through this.
gcc -static -Os -Wall -o "$root/usr/local/sbin/clock-exec" "$here/clock-exec.c"

# The harness learns that a command has ended from this watcher, on its own virtio-serial
# port (vm/backend/qemu.py); started when that port appears, so only under qemu.
gcc -static -Os -Wall -o "$root/usr/local/sbin/exit-watch" "$here/exit-watch.c"
cat > "$root/etc/systemd/system/exit-watch.service" <<'UNIT'
[Unit]
Description=Tell the test harness when the commands it started have exited
BindsTo=dev-virtio\x2dports-org.rktref.exits.device
After=dev-virtio\x2dports-org.rktref.exits.device

[Service]
ExecStart=/usr/local/sbin/exit-watch /dev/virtio-ports/org.rktref.exits

[Install]
WantedBy=dev-virtio\x2dports-org.rktref.exits.device
UNIT
chroot "$root" systemctl enable exit-watch.service >/dev/null

# The project's own socket-activated app: a static binary, so its ACI needs no libs.
gcc -static -Os -Wall -o "$root/tmp/socket-app" "$here/socket-app.c"

# Fixture ACIs, built and validated by the real actool inside the image.
chroot "$root" /bin/sh -s < "$here/fixtures.sh"
rm -f "$root/tmp/socket-app"
