#!/usr/bin/env bash
# Builds the Linux test guest from Debian packages into build/guest/:
#   vmlinuz          the kernel of Debian's linux-image-amd64 (downloaded and unpacked, never
#                    installed on the host)
#   initramfs.cpio.gz busybox-static as /init + shell, fio with its libraries, the virtio,
#                    input, uio and fw_cfg modules, tests/guest/init.sh as /init, and
#                    aero-virtio-probe (tests/guest/virtio-probe.c, built static here): a
#                    user-space virtio-blk driver for requests no kernel driver would send
# The guest runs the script the host hands it through fw_cfg (opt/aero/script) and powers off;
# without one it opens a shell on ttyS0 (demo mode).
#
#   scripts/build-guest.sh [--quiet]
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$REPO/build/guest
quiet=0
[ "${CI:-}" = true ] && quiet=1
[ "${AERO_QUIET:-}" = 1 ] && quiet=1
[ "${1:-}" = --quiet ] && quiet=1

log() { echo "build-guest: $*" >&2; }
die() { echo "build-guest: error: $*" >&2; exit 1; }
sha() { sha256sum | cut -c1-64; }

MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk
  failover net_failover virtio_net virtio_input evdev uio uio_pci_generic qemu_fw_cfg)
TOOLS=(/usr/bin/fio)

kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || die "cannot resolve linux-image-amd64 to a kernel package (apt-get update?)"
kver=$(apt-cache policy "$kpkg" | awk '/Candidate:/ {print $2}')
bbver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null) || die "busybox-static is not installed"
fiover=$(dpkg-query -W -f='${Version}' fio 2>/dev/null) || die "fio is not installed"
PROBE_SRC=$REPO/tests/guest/virtio-probe.c
key=$( { echo "$kpkg $kver $bbver $fiover ${MODULES[*]}"; cat "$0" "$REPO/tests/guest/init.sh" "$PROBE_SRC"; } | sha)
if [ -f "$OUT/initramfs.cpio.gz" ] && [ -f "$OUT/vmlinuz" ] && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$key" ]; then
  log "up to date: build/guest ($kpkg $kver)"
  exit 0
fi

tmp=$(mktemp -d "$REPO/build/guest-tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "fetching $kpkg $kver"
(cd "$tmp" && apt-get download "$kpkg" >/dev/null 2>"$tmp/apt.err") ||
  { cat "$tmp/apt.err" >&2; die "apt-get download $kpkg failed"; }
dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/kernel"
vmlinuz=$(ls "$tmp"/kernel/boot/vmlinuz-* | head -n 1)
kdir=$(ls -d "$tmp"/kernel/lib/modules/* | head -n 1)
kname=$(basename "$kdir")
depmod -b "$tmp/kernel" "$kname" || die "depmod failed for $kname"

rd=$tmp/root
mkdir -p "$rd"/{bin,sbin,dev,proc,sys,tmp,mnt,run,etc,lib/modules/"$kname"}
cp /bin/busybox "$rd/bin/busybox"
install -m 0755 "$REPO/tests/guest/init.sh" "$rd/init"

# Modules, with their dependencies, in load order (modules.dep lists what each one needs).
log "collecting kernel modules"
depfile=$kdir/modules.dep
declare -A seen=()
order=()
add_mod() {
  local rel line dep
  rel=$(awk -F: -v m="$1" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); gsub(/-/, "_", n); if (n == m) { print $1; exit } }' "$depfile")
  [ -n "$rel" ] || die "module $1 is not in $kname"
  [ -n "${seen[$rel]:-}" ] && return 0
  line=$(grep "^$rel:" "$depfile" | cut -d: -f2)
  for dep in $line; do
    dep=$(basename "$dep"); dep=${dep%%.ko*}; add_mod "${dep//-/_}"
  done
  seen[$rel]=1
  order+=("$rel")
}
for m in "${MODULES[@]}"; do add_mod "$m"; done
: >"$rd/etc/modules.order"
for rel in "${order[@]}"; do
  f=$(basename "$rel")
  case "$f" in
    *.ko.xz) xz -dc "$kdir/$rel" >"$rd/lib/modules/${f%.xz}"; f=${f%.xz} ;;
    *.ko.zst) zstd -qdc "$kdir/$rel" >"$rd/lib/modules/${f%.zst}"; f=${f%.zst} ;;
    *) cp "$kdir/$rel" "$rd/lib/modules/$f" ;;
  esac
  echo "$f" >>"$rd/etc/modules.order"
done

# Userspace tools with every shared library they load.
log "copying fio and its libraries"
for t in "${TOOLS[@]}"; do
  mkdir -p "$rd$(dirname "$t")"
  cp "$t" "$rd$t"
  ldd "$t" | awk '/=> \// {print $3} /^[[:space:]]*\/lib/ {print $1}' | while read -r lib; do
    mkdir -p "$rd$(dirname "$lib")"
    cp -L "$lib" "$rd$lib"
  done
done
mkdir -p "$rd/lib64"
cp -L /lib64/ld-linux-x86-64.so.2 "$rd/lib64/"

log "building aero-virtio-probe"
mkdir -p "$rd/usr/bin"
cc -static -O2 -Wall -Wextra -Werror -o "$rd/usr/bin/aero-virtio-probe" "$PROBE_SRC" ||
  die "cannot build $PROBE_SRC (static glibc from libc6-dev is needed)"

log "writing the initramfs"
mkdir -p "$OUT"
(cd "$rd" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) | gzip -1 >"$tmp/initramfs.cpio.gz"
cp "$vmlinuz" "$OUT/vmlinuz.tmp" && mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
mv "$tmp/initramfs.cpio.gz" "$OUT/initramfs.cpio.gz"
echo "$key" >"$OUT/.stamp"
log "built build/guest: $kname, initramfs $(du -h "$OUT/initramfs.cpio.gz" | cut -f1)"
