#!/usr/bin/env bash
# Builds the test guest's initramfs: busybox-static as the whole userspace, the e1000 and
# virtio-net drivers (with their dependencies, in load order) from the given kernel's modules,
# and the `init` and `udhcpc.script` next to this file.
#
# usage: build_initramfs.sh OUTPUT.cpio.gz KERNEL_VERSION
# Needs busybox (statically linked), cpio, gzip and modprobe (kmod). Exits 2 on any problem.
set -euo pipefail

out=$1
kver=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
moddir=/lib/modules/$kver
die() { echo "build_initramfs: $*" >&2; exit 2; }

busybox=$(command -v busybox) || die "busybox not found"
# A dynamic busybox would need the host's libraries inside the guest.
ldd_out=$(ldd "$busybox" 2>&1 || true)
[[ $ldd_out == *"not a dynamic executable"* || $ldd_out == *"statically linked"* ]] ||
  die "$busybox is dynamically linked (install busybox-static)"
[[ -f $moddir/modules.dep ]] || die "no $moddir/modules.dep"
modprobe=$(PATH=$PATH:/usr/sbin:/sbin command -v modprobe) || die "modprobe not found"

root=$(mktemp -d "$(dirname "$out")/initramfs-root.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,etc,lib/modules}
cp "$busybox" "$root/bin/busybox"

# The drivers and everything they depend on, in the order modprobe would load them. virtio_pci
# is the transport virtio_net sits on, so it is not among virtio_net's own dependencies.
declare -A seen=()
order=()
for driver in e1000 virtio_pci virtio_net; do
  deps=$("$modprobe" -S "$kver" --show-depends "$driver" 2>&1) || die "modprobe: $deps"
  while read -r verb path _; do
    [[ $verb == insmod ]] || continue  # "builtin NAME": nothing to load
    name=$(basename "$path")
    name=${name%%.ko*}
    [[ -n ${seen[$name]:-} ]] && continue
    seen[$name]=1
    # The guest's busybox insmod takes plain ELF objects only.
    case $path in
      *.ko) cp "$path" "$root/lib/modules/$name.ko" ;;
      *.ko.gz) gzip -dc "$path" >"$root/lib/modules/$name.ko" ;;
      *.ko.xz) xz -dc "$path" >"$root/lib/modules/$name.ko" ;;
      *.ko.zst) zstd -qdc "$path" >"$root/lib/modules/$name.ko" ;;
      *) die "unexpected module file $path" ;;
    esac
    order+=("$name")
  done <<<"$deps"
done
((${#order[@]} > 0)) || die "no modules to load (are the drivers built in?)"
printf '%s\n' "${order[@]}" >"$root/etc/modules.order"

install -m 755 "$here/init" "$root/init"
install -m 755 "$here/udhcpc.script" "$root/etc/udhcpc.script"

(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
  gzip -1 >"$out"
echo "initramfs: $out ($(stat -c %s "$out") bytes), modules: ${order[*]}"
