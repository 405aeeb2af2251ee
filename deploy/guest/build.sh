#!/usr/bin/env bash
# Builds the tiny test guest from Debian's packages, at run time:
#   deploy/guest/build.sh OUTDIR
# OUTDIR/vmlinuz   Debian's cloud kernel (linux-image-cloud-amd64), copied
# OUTDIR/initrd.img  a busybox-static initramfs with the virtio modules of
#                  that kernel, deploy/guest/init as /init, and dirty (a
#                  static binary built here from deploy/guest/dirty.c)
# Nothing is downloaded; a second run with the same inputs is instant.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: deploy/guest/build.sh OUTDIR}
kernel=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -1 || true)
[[ -n $kernel ]] || { echo "guest: no Debian cloud kernel in /boot (apt-get install linux-image-cloud-amd64)" >&2; exit 1; }
[[ -x /bin/busybox ]] || { echo "guest: no /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }
version=${kernel#/boot/vmlinuz-}
modules=/lib/modules/$version/kernel
mkdir -p "$out"
stamp="$kernel $(stat -c %Y "$kernel") $(sha1sum "$here/init" "$here/dirty.c" /bin/busybox | cut -c1-40 | tr '\n' ' ')"
if [[ -e $out/initrd.img && -e $out/vmlinuz && "$(cat "$out/stamp" 2>/dev/null)" == "$stamp" ]]; then
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,proc,sys,dev,lib/modules}
cp /bin/busybox "$work/bin/busybox"
cp "$here/init" "$work/init"
chmod 755 "$work/init"
gcc -static -O2 -o "$work/bin/dirty" "$here/dirty.c"
for m in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev \
         drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci net/core/failover \
         drivers/net/net_failover drivers/net/virtio_net; do
    if [[ -e $modules/$m.ko ]]; then
        cp "$modules/$m.ko" "$work/lib/modules/"
    elif [[ -e $modules/$m.ko.xz ]]; then
        xz -dc "$modules/$m.ko.xz" > "$work/lib/modules/$(basename "$m").ko"
    fi
done
(cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initrd.img.tmp"
mv "$out/initrd.img.tmp" "$out/initrd.img"
cp "$kernel" "$out/vmlinuz"
echo "$stamp" > "$out/stamp"
echo "guest: $out/vmlinuz and $out/initrd.img (kernel $version)"
