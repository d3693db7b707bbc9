#!/usr/bin/env bash
# Builds the patched QEMU: Debian bookworm's QEMU 7.2 source (apt-get source qemu, Debian patches
# applied) + qemu-patches/*.patch + our library (installed into build/prefix, linked through
# pkg-config). Result: build/qemu/qemu-system-x86_64.
#
#   scripts/build-qemu.sh [--source DIR] [--quiet]
#
# --source DIR  use an already unpacked QEMU 7.2 tree instead of downloading one
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
CONFIGURE_FLAGS=(--target-list=x86_64-softmmu --without-default-features --enable-slirp
  --enable-tcg --enable-fdt=system --disable-install-blobs --disable-docs --disable-werror
  --meson=meson)

quiet=0
[ "${CI:-}" = true ] && quiet=1
[ "${AERO_QUIET:-}" = 1 ] && quiet=1
source_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --source) source_dir=${2:?--source needs a directory}; shift 2 ;;
    --quiet) quiet=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
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

mkdir -p "$REPO/build"

# ---- the library, as QEMU will link it ---------------------------------------------------------
lib_hash=$(cd "$REPO" && cat meson.build meson_options.txt virtio/* devices/* | sha)
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

# Add deb-src twins of the machine's own Debian entries (never a hard-coded mirror).
ensure_deb_src() {
  if grep -rqsE '^(deb-src |Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    return
  fi
  [ -n "$codename" ] || die "cannot tell the Debian release from /etc/os-release"
  local out=/etc/apt/sources.list.d/aero-virtio-deb-src.sources tmp
  tmp=$(mktemp)
  # deb822 stanzas whose suites are this release (bookworm, bookworm-updates, ...).
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v rel="$codename" '
      function flush() {
        if (stanza != "" && isdeb && relmatch) print stanza
        stanza = ""; isdeb = 0; relmatch = 0
      }
      /^[[:space:]]*$/ { flush(); next }
      /^#/ { next }
      /^Types:/ { isdeb = ($0 ~ /(^|[[:space:]])deb([[:space:]]|$)/); stanza = stanza "Types: deb-src\n"; next }
      /^Suites:/ { n = split($0, s, /[[:space:]]+/); for (i = 2; i <= n; i++) if (s[i] == rel || index(s[i], rel "-") == 1) relmatch = 1 }
      { stanza = stanza $0 "\n" }
      END { flush() }' "$f" >>"$tmp"
  done
  # one-line sources.list entries
  if [ -f /etc/apt/sources.list ]; then
    awk -v rel="$codename" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i == rel || index($i, rel "-") == 1) { $1 = "deb-src"; print; break } }' \
      /etc/apt/sources.list >"$tmp.list"
    if [ -s "$tmp.list" ]; then
      cp "$tmp.list" /etc/apt/sources.list.d/aero-virtio-deb-src.list
    fi
    rm -f "$tmp.list"
  fi
  if [ -s "$tmp" ]; then
    install -m 0644 "$tmp" "$out"
  fi
  rm -f "$tmp"
  grep -rqsE '^(deb-src |Types:.*deb-src)' /etc/apt/sources.list.d/ ||
    die "no Debian '$codename' entry in the apt configuration to derive a deb-src line from"
  log "added deb-src entries derived from the apt configuration; updating package lists"
  run apt-update apt-get update
}

if [ -n "$source_dir" ]; then
  [ -f "$source_dir/VERSION" ] && [ -f "$source_dir/configure" ] ||
    die "$source_dir is not a QEMU source tree (no VERSION/configure)"
  case "$(cat "$source_dir/VERSION")" in
    7.2*) ;;
    *) die "$source_dir is QEMU $(cat "$source_dir/VERSION"), the patches are for 7.2" ;;
  esac
  pristine=$(cd "$source_dir" && pwd)
else
  pristine=$SRC_CACHE/qemu
  if [ ! -f "$pristine/VERSION" ]; then
    ensure_deb_src
    rm -rf "$SRC_CACHE"
    mkdir -p "$SRC_CACHE/dl"
    log "downloading Debian's QEMU source package"
    (cd "$SRC_CACHE/dl" && run apt-source apt-get source --download-only qemu)
    dsc=$(ls "$SRC_CACHE"/dl/qemu_*.dsc 2>/dev/null | head -n 1)
    [ -n "$dsc" ] || die "apt-get source did not produce a qemu .dsc"
    log "unpacking $(basename "$dsc") with Debian's patch series"
    run dpkg-source dpkg-source -x "$dsc" "$SRC_CACHE/qemu.tmp"
    mv "$SRC_CACHE/qemu.tmp" "$pristine"
  fi
fi
qemu_version=$(cat "$pristine/VERSION")
debian_version=""
[ -f "$pristine/debian/changelog" ] && debian_version=$(dpkg-parsechangelog -l "$pristine/debian/changelog" -S Version 2>/dev/null || true)

# ---- cache keys ---------------------------------------------------------------------------------
shopt -s nullglob
patches=("$REPO"/qemu-patches/*.patch)
patch_hash=$( { echo "$qemu_version $debian_version $pristine ${CONFIGURE_FLAGS[*]}"; cat "${patches[@]}" /dev/null; } | sha)
bin_key=$( { echo "$patch_hash $lib_hash"; cat "$0"; } | sha)
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
  mkdir -p "$WORK/build"
  log "configuring"
  (cd "$WORK/build" && run configure ../src/configure "${CONFIGURE_FLAGS[@]}")
  echo "$patch_hash" >"$WORK/.stamp"
fi

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
