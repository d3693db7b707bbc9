#!/usr/bin/env bash
# Builds the Linux test guest from Debian packages into build/guest/:
#   vmlinuz          the kernel of Debian's linux-image-amd64 (downloaded and unpacked, never
#                    installed on the host)
#   initramfs.cpio.gz busybox-static as /init + shell, fio with its libraries, the virtio,
#                    input, uio and fw_cfg modules, tests/guest/init.sh as /init, and
#                    aero-virtio-probe (tests/guest/virtio-probe.c, built static here): a
#                    user-space virtio-blk driver for requests no kernel driver would send, and
#                    aero-snd-play (tests/guest/snd-play.c, static): plays and records PCM
#                    through the kernel's ALSA ioctls, and aero-conformance
#                    (tests/conformance/*.c, static): the conformance suite's guest tool
# The guest runs the script the host hands it through fw_cfg (opt/aero/script) and powers off;
# without one it opens a shell on ttyS0 (demo mode).
#
#   scripts/build-guest.sh [--backports] [--quiet]
#
# --backports  the guest with Debian bookworm-backports' kernel (6.12, which has virtio_snd) in
#              build/guest-612/, plus the sound modules; used by the snd guest test. Its apt
#              lists come from a private configuration naming `bookworm-backports main` at the
#              mirror of this machine's own apt sources (the system's apt setup is not touched).
#              The virtio core is built into that kernel: modules listed in modules.builtin are
#              skipped.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$REPO/build/guest
quiet=0
backports=0
[ "${CI:-}" = true ] && quiet=1
[ "${AERO_QUIET:-}" = 1 ] && quiet=1
for a in "$@"; do
  case "$a" in
    --quiet) quiet=1 ;;
    --backports) backports=1; OUT=$REPO/build/guest-612 ;;
    *) echo "build-guest: unknown option $a" >&2; exit 2 ;;
  esac
done

log() { echo "build-guest: $*" >&2; }
die() { echo "build-guest: error: $*" >&2; exit 1; }
sha() { sha256sum | cut -c1-64; }

MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk
  failover net_failover virtio_net virtio_input evdev uio uio_pci_generic qemu_fw_cfg)
TOOLS=(/usr/bin/fio)
APT=(apt-get)
APT_CACHE=(apt-cache)
if [ $backports = 1 ]; then
  MODULES+=(soundcore snd snd_timer snd_pcm virtio_snd)
  # A private apt configuration: bookworm-backports at the mirror this machine already uses.
  aptdir=$REPO/build/apt-backports
  mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
  python3 - "$aptdir/sources.list" <<'PY' || die "no bookworm mirror in this machine's apt sources"
import glob, re, sys
found = None
for f in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in re.split(r"\n\s*\n", open(f).read()):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.strip()
        if "deb" in fields.get("types", "").split() and "bookworm" in fields.get("suites", "").split():
            found = (fields["uris"].split()[0], fields.get("signed-by"))
            break
    if found:
        break
if not found:
    for f in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        try:
            lines = open(f).read().splitlines()
        except OSError:
            continue
        for line in lines:
            w = re.sub(r"\[[^]]*\]", "", line).split()
            if len(w) >= 3 and w[0] == "deb" and w[2] == "bookworm":
                found = (w[1], None)
                break
        if found:
            break
if not found:
    sys.exit(1)
uri, key = found
opt = f" [signed-by={key}]" if key else ""
open(sys.argv[1], "w").write(f"deb{opt} {uri} bookworm-backports main\n")
PY
  aptopts=(-o Dir::Etc::SourceList="$aptdir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::State::Lists="$aptdir/lists" -o Dir::Cache="$aptdir/cache")
  APT=(apt-get "${aptopts[@]}")
  APT_CACHE=(apt-cache "${aptopts[@]}")
  "${APT[@]}" -qq update >"$aptdir/update.log" 2>&1 ||
    { cat "$aptdir/update.log" >&2; die "apt-get update of bookworm-backports failed"; }
fi

kpkg=$("${APT_CACHE[@]}" depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || die "cannot resolve linux-image-amd64 to a kernel package (apt-get update?)"
kver=$("${APT_CACHE[@]}" policy "$kpkg" | awk '/Candidate:/ {print $2}')
bbver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null) || die "busybox-static is not installed"
fiover=$(dpkg-query -W -f='${Version}' fio 2>/dev/null) || die "fio is not installed"
PROBE_SRC=$REPO/tests/guest/virtio-probe.c
SNDPLAY_SRC=$REPO/tests/guest/snd-play.c
CONF_SRC=("$REPO"/tests/conformance/*.c)
key=$( { echo "$kpkg $kver $bbver $fiover ${MODULES[*]}"; cat "$0" "$REPO/tests/guest/init.sh" "$PROBE_SRC" "$SNDPLAY_SRC" "${CONF_SRC[@]}" "$REPO"/tests/conformance/*.h; } | sha)
if [ -f "$OUT/initramfs.cpio.gz" ] && [ -f "$OUT/vmlinuz" ] && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$key" ]; then
  log "up to date: ${OUT#"$REPO"/} ($kpkg $kver)"
  exit 0
fi

tmp=$(mktemp -d "$REPO/build/guest-tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "fetching $kpkg $kver"
(cd "$tmp" && "${APT[@]}" download "$kpkg" >/dev/null 2>"$tmp/apt.err") ||
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
is_builtin() {
  [ -f "$kdir/modules.builtin" ] &&
    awk -v m="$1" '{ n = $0; sub(/.*\//, "", n); sub(/\.ko$/, "", n); gsub(/-/, "_", n); if (n == m) f = 1 } END { exit !f }' "$kdir/modules.builtin"
}
add_mod() {
  local rel line dep
  rel=$(awk -F: -v m="$1" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); gsub(/-/, "_", n); if (n == m) { print $1; exit } }' "$depfile")
  if [ -z "$rel" ] && is_builtin "$1"; then
    return 0 # built into this kernel (6.12: the virtio core)
  fi
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
cc -static -O2 -Wall -Wextra -Werror -o "$rd/usr/bin/aero-snd-play" "$SNDPLAY_SRC" -lm ||
  die "cannot build $SNDPLAY_SRC"
cc -static -O2 -Wall -Wextra -Werror -o "$rd/usr/bin/aero-conformance" "${CONF_SRC[@]}" ||
  die "cannot build aero-conformance (tests/conformance)"

log "writing the initramfs"
mkdir -p "$OUT"
(cd "$rd" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) | gzip -1 >"$tmp/initramfs.cpio.gz"
cp "$vmlinuz" "$OUT/vmlinuz.tmp" && mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
mv "$tmp/initramfs.cpio.gz" "$OUT/initramfs.cpio.gz"
echo "$key" >"$OUT/.stamp"
log "built ${OUT#"$REPO"/}: $kname, initramfs $(du -h "$OUT/initramfs.cpio.gz" | cut -f1)"
