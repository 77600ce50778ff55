#!/bin/sh
# The whole initrd: load virtio, mount the root disk, hand over to systemd.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_mmio virtio_blk; do
    [ -f "/modules/$module.ko" ] && insmod "/modules/$module.ko" 2>/dev/null
done
tries=0
while [ ! -b /dev/vda ] && [ $tries -lt 500 ]; do tries=$((tries + 1)); usleep 10000; done
mkdir -p /newroot
mount -t ext4 -o rw,noatime /dev/vda /newroot || { echo "initrd: cannot mount /dev/vda"; exec sh; }
umount /proc /sys
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /sbin/init
