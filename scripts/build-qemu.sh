#!/usr/bin/env bash
# Builds the patched QEMU: Debian bookworm's QEMU 7.2 source (apt-get source qemu=1:7.2+dfsg-*,
# the newest such version apt offers, Debian patches applied) + the glue in qemu-patches/hw/aero/
# (plain source files, copied into the tree) + qemu-patches/*.patch (only what must touch QEMU's
# own files) + our library (installed into build/prefix, linked through pkg-config).
# Result: build/qemu/qemu-system-x86_64.
#
#   scripts/build-qemu.sh [--source DIR] [--enable-alsa] [--quiet]
#
# --source DIR  use an already unpacked Debian QEMU 7.2 tree instead of downloading one (it
#               must carry Debian's 7.2.x stable fixes: upstream v7.2.0 lacks APIs the patches use)
# --enable-alsa accepted and ignored: the ALSA backend is always built. QEMU 7.2's default driver
#               list leaves ALSA out even when it is enabled, hence --audio-drv-list=pa,alsa.
# --quiet       progress lines only (also when CI=true or AERO_QUIET=1)
#
# Re-running with unchanged inputs returns at once: the binary is keyed on the QEMU version, the
# patch series, the library sources and this script.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$REPO/build/qemu
SRC_CACHE=$REPO/build/qemu-src
WORK=$REPO/build/qemu-work
PREFIX=$REPO/build/prefix
# What a Windows desktop VM under libvirt needs: KVM (used where /dev/kvm works), VNC, audio
# backends (none and wav are always built; PulseAudio/PipeWire and ALSA), q35 with AHCI and USB
# (Kconfig defaults). --firmwarepath makes the binary find Debian's SeaBIOS, VGA BIOS and option
# ROMs by itself, as a libvirt domain needs (no -L on its command line).
CONFIGURE_FLAGS=(--target-list=x86_64-softmmu --without-default-features --enable-slirp
  --enable-tcg --enable-kvm --enable-vnc --enable-pa --enable-alsa --audio-drv-list=pa,alsa
  --enable-fdt=system
  --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
  --disable-install-blobs --disable-docs --disable-werror --meson=meson)

quiet=0
[ "${CI:-}" = true ] && quiet=1
[ "${AERO_QUIET:-}" = 1 ] && quiet=1
source_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --source) source_dir=${2:?--source needs a directory}; shift 2 ;;
    --enable-alsa) shift ;; # always built now (kept for old command lines)
    --quiet) quiet=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build-qemu: unknown option $1" >&2; exit 2 ;;
  esac
done

log() { echo "build-qemu: $*" >&2; }
die() { echo "build-qemu: error: $*" >&2; exit 1; }
# Run a long step; in quiet mode keep its output in a log and show the tail only on failure.
run() {
  local name=$1; shift
  local logf=$REPO/build/qemu-$name.log
  if [ $quiet = 1 ]; then
    "$@" >"$logf" 2>&1 || { tail -n 40 "$logf" >&2; die "$name failed (full log: $logf)"; }
  else
    "$@" 2>&1 | tee "$logf" >&2
    [ "${PIPESTATUS[0]}" -eq 0 ] || die "$name failed (full log: $logf)"
  fi
}
sha() { sha256sum | cut -c1-64; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

mkdir -p "$REPO/build"

# ---- the library, as QEMU will link it ---------------------------------------------------------
lib_hash=$(cd "$REPO" && cat meson.build meson_options.txt virtio/* devices/* firmware/* | sha)
log "installing the aero-virtio library into build/prefix"
if [ ! -f "$REPO/build/lib-for-qemu/build.ninja" ]; then
  run lib-setup meson setup "$REPO/build/lib-for-qemu" "$REPO" --prefix="$PREFIX" \
    --libdir=lib -Ddefault_library=static -Dmedia=false -Dtests=false -Dbuildtype=release
fi
run lib-install meson install -C "$REPO/build/lib-for-qemu"
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
pkg-config --exists aero-virtio || die "aero-virtio.pc was not installed into $PREFIX"

# ---- QEMU source ------------------------------------------------------------------------------
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")

# Add deb-src twins of the machine's own Debian entries (never a hard-coded mirror): the suites
# of this release (bookworm, bookworm-updates, bookworm-security), not its backports.
ensure_deb_src() {
  if grep -rqsE '^(deb-src |Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    return
  fi
  [ -n "$codename" ] || die "cannot tell the Debian release from /etc/os-release"
  local out=/etc/apt/sources.list.d/aero-virtio-deb-src.sources tmp
  tmp=$(mktemp)
  # deb822 stanzas: keep this release's suites, drop the others (and backports).
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v rel="$codename" '
      function ours(s) { return (s == rel || index(s, rel "-") == 1) && s != rel "-backports" }
      function flush() {
        if (stanza != "" && isdeb && suites != "") print stanza
        stanza = ""; isdeb = 0; suites = ""
      }
      /^[[:space:]]*$/ { flush(); next }
      /^#/ { next }
      /^Types:/ { isdeb = ($0 ~ /(^|[[:space:]])deb([[:space:]]|$)/); stanza = stanza "Types: deb-src\n"; next }
      /^Suites:/ {
        n = split($0, s, /[[:space:]]+/)
        for (i = 2; i <= n; i++) if (ours(s[i])) suites = suites " " s[i]
        stanza = stanza "Suites:" suites "\n"; next
      }
      { stanza = stanza $0 "\n" }
      END { flush() }' "$f" >>"$tmp"
  done
  # one-line sources.list entries
  if [ -f /etc/apt/sources.list ]; then
    awk -v rel="$codename" '$1 == "deb" { for (i = 2; i <= NF; i++) if (($i == rel || index($i, rel "-") == 1) && $i != rel "-backports") { $1 = "deb-src"; print; break } }' \
      /etc/apt/sources.list >"$tmp.list"
    if [ -s "$tmp.list" ]; then
      $SUDO install -m 0644 "$tmp.list" /etc/apt/sources.list.d/aero-virtio-deb-src.list
    fi
    rm -f "$tmp.list"
  fi
  if [ -s "$tmp" ]; then
    $SUDO install -m 0644 "$tmp" "$out"
  fi
  rm -f "$tmp"
  grep -rqsE '^(deb-src |Types:.*deb-src)' /etc/apt/sources.list.d/ ||
    die "no Debian '$codename' entry in the apt configuration to derive a deb-src line from"
  log "added deb-src entries derived from the apt configuration; updating package lists"
  run apt-update $SUDO apt-get update
}

# The newest 1:7.2+dfsg-* source version apt knows (bookworm and its security/point updates;
# never a backport, which would be QEMU 8 or later).
pick_qemu_source_version() {
  local v best=""
  for v in $(apt-cache showsrc qemu 2>/dev/null | sed -n 's/^Version: //p'); do
    case "$v" in
      1:7.2+dfsg-*) ;;
      *) continue ;;
    esac
    case "$v" in *bpo*) continue ;; esac
    if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
      best=$v
    fi
  done
  echo "$best"
}

# What the patch series needs from the tree: QEMU 7.2.x with the stable updates Debian ships
# (the DMA re-entrancy fixes: DeviceState.mem_reentrancy_guard, qemu_new_nic's guard argument,
# qemu_bh_new_guarded used by patch 0003). Upstream v7.2.0 has none of them.
check_qemu_tree() {
  local dir=$1 what=$2 ver
  [ -f "$dir/VERSION" ] && [ -f "$dir/configure" ] ||
    die "$what is not a QEMU source tree (no VERSION/configure)"
  ver=$(cat "$dir/VERSION")
  [[ "$ver" =~ ^7\.2\.[0-9]+$ ]] || die "$what is QEMU $ver; the patches are for QEMU 7.2.x"
  local missing=()
  grep -qs 'qemu_bh_new_guarded' "$dir/include/qemu/main-loop.h" || missing+=(qemu_bh_new_guarded)
  grep -qs 'mem_reentrancy_guard' "$dir/include/hw/qdev-core.h" || missing+=(DeviceState.mem_reentrancy_guard)
  grep -qs 'MemReentrancyGuard \*reentrancy_guard' "$dir/include/net/net.h" || missing+=("qemu_new_nic(..., guard, ...)")
  [ ${#missing[@]} -eq 0 ] ||
    die "$what is QEMU $ver without ${missing[*]}: the patches need Debian's 7.2 source" \
      "(1:7.2+dfsg-7+deb12u*, reports 7.2.22), e.g. apt-get source qemu=1:7.2+dfsg-7+deb12uN;" \
      "upstream v7.2.0 does not work"
}

if [ -n "$source_dir" ]; then
  check_qemu_tree "$source_dir" "--source $source_dir"
  pristine=$(cd "$source_dir" && pwd)
else
  pristine=$SRC_CACHE/qemu
  if [ ! -f "$pristine/VERSION" ]; then
    ensure_deb_src
    srcver=$(pick_qemu_source_version)
    if [ -z "$srcver" ]; then
      log "no qemu 1:7.2+dfsg-* source known to apt; updating package lists"
      run apt-update $SUDO apt-get update
      srcver=$(pick_qemu_source_version)
    fi
    [ -n "$srcver" ] || die "apt offers no qemu 1:7.2+dfsg-* source package (Debian 12 'bookworm' deb-src entries needed)"
    rm -rf "$SRC_CACHE"
    mkdir -p "$SRC_CACHE/dl"
    log "downloading Debian's QEMU source package qemu=$srcver"
    (cd "$SRC_CACHE/dl" && run apt-source apt-get source --download-only "qemu=$srcver")
    dsc=$(ls "$SRC_CACHE"/dl/qemu_*.dsc 2>/dev/null | head -n 1)
    [ -n "$dsc" ] || die "apt-get source did not produce a qemu .dsc"
    log "unpacking $(basename "$dsc") with Debian's patch series"
    run dpkg-source dpkg-source -x "$dsc" "$SRC_CACHE/qemu.tmp"
    check_qemu_tree "$SRC_CACHE/qemu.tmp" "the unpacked $(basename "$dsc")"
    mv "$SRC_CACHE/qemu.tmp" "$pristine"
  fi
  check_qemu_tree "$pristine" "$pristine"
fi
qemu_version=$(cat "$pristine/VERSION")
debian_version=""
[ -f "$pristine/debian/changelog" ] && debian_version=$(dpkg-parsechangelog -l "$pristine/debian/changelog" -S Version 2>/dev/null || true)

# ---- cache keys ---------------------------------------------------------------------------------
shopt -s nullglob
patches=("$REPO"/qemu-patches/*.patch)
glue=("$REPO"/qemu-patches/hw/aero/*)
# The work tree is keyed on QEMU, the configure flags and the patches. The glue, its meson.build
# and Kconfig included, is copied in before every build: ninja re-runs meson by itself when
# hw/aero/meson.build changes, so a new glue file costs a regeneration, not a rebuild.
patch_hash=$( { echo "$qemu_version $debian_version $pristine ${CONFIGURE_FLAGS[*]}";
  cat "${patches[@]}" /dev/null; } | sha)
glue_hash=$(cat "${glue[@]}" | sha)
bin_key=$( { echo "$patch_hash $glue_hash $lib_hash"; cat "$0"; } | sha)
if [ -x "$OUT/qemu-system-x86_64" ] && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$bin_key" ]; then
  log "up to date: build/qemu/qemu-system-x86_64 (QEMU $qemu_version $debian_version)"
  exit 0
fi

# ---- patched work tree (rebuilt only when QEMU or the patches change) ----------------------
if [ "$(cat "$WORK/.stamp" 2>/dev/null)" != "$patch_hash" ]; then
  log "preparing a work tree of QEMU $qemu_version $debian_version with ${#patches[@]} patch(es)"
  rm -rf "$WORK"
  mkdir -p "$WORK"
  cp -a "$pristine/." "$WORK/src"
  for p in "${patches[@]}"; do
    log "applying $(basename "$p")"
    patch -d "$WORK/src" -p1 --batch --forward --quiet <"$p" ||
      die "$(basename "$p") does not apply to QEMU $qemu_version"
  done
  mkdir -p "$WORK/src/hw/aero"
  cp "${glue[@]}" "$WORK/src/hw/aero/"
  mkdir -p "$WORK/build"
  log "configuring"
  (cd "$WORK/build" && run configure ../src/configure "${CONFIGURE_FLAGS[@]}")
  echo "$patch_hash" >"$WORK/.stamp"
fi

# The glue as it is now; only changed files are copied, so ninja recompiles just those.
for f in "${glue[@]}"; do
  cmp -s "$f" "$WORK/src/hw/aero/$(basename "$f")" || cp "$f" "$WORK/src/hw/aero/"
done
# The library is linked statically and ninja does not track it: force the final link.
rm -f "$WORK/build/qemu-system-x86_64"
log "compiling qemu-system-x86_64 (about 2 minutes on 2 cores the first time)"
run ninja ninja -C "$WORK/build" qemu-system-x86_64

mkdir -p "$OUT"
cp "$WORK/build/qemu-system-x86_64" "$OUT/qemu-system-x86_64.tmp"
mv "$OUT/qemu-system-x86_64.tmp" "$OUT/qemu-system-x86_64"
echo "$bin_key" >"$OUT/.stamp"
"$OUT/qemu-system-x86_64" -device help 2>/dev/null | grep -q '"aero-virtio-blk-pci"' ||
  die "the built QEMU does not know aero-virtio-blk-pci"
log "built build/qemu/qemu-system-x86_64 (QEMU $qemu_version $debian_version)"
