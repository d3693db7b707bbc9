#!/usr/bin/env bash
# The project's test command (README "Run the tests"): installs what a fresh Debian 12 needs,
# builds the library, runs the unit and media tests, builds the patched QEMU and the Linux test
# guest, and runs every guest test under TCG.
#   scripts/test.sh [--unit-only] [--quiet]
set -euo pipefail
cd "$(dirname "$0")/.."
unit_only=0
for a in "$@"; do
  case "$a" in
    --unit-only) unit_only=1 ;;
    --quiet) export AERO_QUIET=1 ;;
    *) echo "test.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
[ "${CI:-}" = true ] && export AERO_QUIET=1

say() { echo "== $*" >&2; }

say "dependencies"
scripts/install-deps.sh

say "library, unit and media tests"
if [ -f build/build.ninja ]; then
  meson setup --reconfigure build >/dev/null
else
  meson setup build >/dev/null
fi
meson compile -C build
meson test -C build --no-suite libvirt --print-errorlogs

# Sanitizer build of the unit tests: guest-controlled inputs must never touch memory badly.
if [ -f build-asan/build.ninja ]; then
  meson setup --reconfigure build-asan >/dev/null
else
  meson setup build-asan -Db_sanitize=address,undefined -Dmedia=false >/dev/null
fi
meson compile -C build-asan
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 meson test -C build-asan --suite unit --suite udf --suite media-unit --print-errorlogs

# The unit tests under valgrind memcheck: zero errors, zero leaks.
meson test -C build --setup valgrind --suite unit --suite media-unit --print-errorlogs

# Every fuzz target for a short fixed time: the device models and the media parsers (long runs:
# scripts/fuzz.sh --time 3600).
say "fuzz targets: devices and media parsers (${AERO_FUZZ_SECONDS:-20}s each)"
scripts/fuzz.sh --time "${AERO_FUZZ_SECONDS:-20}"

[ $unit_only = 1 ] && exit 0

say "patched QEMU"
scripts/build-qemu.sh
say "aero-media domain and vm (they probe the patched QEMU)"
meson test -C build --suite libvirt --print-errorlogs
say "Linux test guest"
scripts/build-guest.sh
scripts/build-guest.sh --backports # 6.12 with virtio_snd, for test-snd.sh

say "guest tests (meson test --suite guest; one by name: meson test -C build --suite guest blk)"
meson test -C build --suite guest --print-errorlogs
