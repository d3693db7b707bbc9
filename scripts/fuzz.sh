#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz/) under ASan + UBSan, each for a fixed time, starting
# from a seed corpus written at fuzz time (tests/fuzz/seeds.py for the devices,
# tests/fuzz/media_seeds.py for the media parsers, from real structures made by real tools) and
# keeping what it finds in build-fuzz/corpus/TARGET (reused by the next run).
#
#   scripts/fuzz.sh [--time SECONDS] [--jobs N] [TARGET...]
#     device models: blk net input snd state      media parsers: inf cert hive udf iso
#     (default: all)
#
# Prints one line per target (executions, coverage, corpus size). A crash or a violated harness
# invariant fails the run and names the reproducer: build-fuzz/crashes/TARGET-*; replay it with
# build-fuzz/tests/fuzz/fuzz_TARGET FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
secs=60
jobs=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time) secs=${2:?--time needs seconds}; shift 2 ;;
    --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
devices=(blk net input state snd)
media=(inf cert hive udf iso)
[ ${#targets[@]} -gt 0 ] || targets=("${devices[@]}" "${media[@]}")
for t in "${targets[@]}"; do
  case " ${devices[*]} ${media[*]} " in *" $t "*) ;;
    *) echo "fuzz.sh: no target '$t' (${devices[*]} ${media[*]})" >&2; exit 2 ;; esac
done

B=$REPO/build-fuzz
mkdir -p "$B"
log=$B/build.log
command -v clang >/dev/null || { echo "fuzz.sh: clang is missing (scripts/install-deps.sh)" >&2; exit 1; }
echo "fuzz: building the targets with clang, ASan and UBSan (log: $log)" >&2
# -Dmedia=true: the ISO target needs the whole media core (its libraries: scripts/install-deps.sh)
{
  if [ -f "$B/build.ninja" ]; then
    meson setup --reconfigure "$B" -Dmedia=true
  else
    CC=clang meson setup "$B" -Dfuzz=true -Dmedia=true -Db_sanitize=address,undefined \
      -Db_lundef=false -Dbuildtype=debugoptimized
  fi
  meson compile -C "$B" "${targets[@]/#/fuzz_}"
} >"$log" 2>&1 || { tail -n 20 "$log" >&2; echo "fuzz.sh: build failed (full log: $log)" >&2; exit 1; }

failed=0
for t in "${targets[@]}"; do
  corpus=$B/corpus/$t
  mkdir -p "$corpus" "$B/crashes"
  case " ${media[*]} " in
    *" $t "*) # Debian's python3: the hive seeds are written through its hivex binding
      /usr/bin/python3 "$REPO/tests/fuzz/media_seeds.py" "$corpus" "$t"
      # inputs: INF text, a certificate, a hive, sparse images (tests/fuzz/fuzz_media.h)
      case $t in inf) max_len=16384 ;; cert) max_len=8192 ;; *) max_len=65536 ;; esac ;;
    *) python3 "$REPO/tests/fuzz/seeds.py" "$corpus" "$t"
      max_len=4096 ;;
  esac
  out=$B/fuzz-$t.log
  rc=0
  # from inside build-fuzz/: libFuzzer writes its per-job logs (fuzz-N.log) to the current folder;
  # the media targets' scratch files go to memory (/dev/shm) when it is there
  tmp=${TMPDIR:-/tmp}
  [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] && tmp=/dev/shm
  (cd "$B" && TMPDIR=$tmp UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
    LSAN_OPTIONS=suppressions=$REPO/tests/fuzz/lsan.supp:print_suppressions=0 \
    "$B/tests/fuzz/fuzz_$t" -max_total_time="$secs" -max_len="$max_len" -timeout=10 \
    -jobs="$jobs" -workers="$jobs" -print_final_stats=1 \
    -artifact_prefix="$B/crashes/$t-" "$corpus") >"$out" 2>&1 || rc=$?
  # -a: a media target's log may quote input bytes
  stats=$(grep -a -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$out" | tail -n 1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -n 1)
  cov=$(echo "$stats" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  if [ $rc -ne 0 ]; then
    failed=1
    echo "fuzz $t: FAILED after ${secs}s -- $(grep -a -m 1 -E 'invariant violated|ERROR: ' "$out" || echo "exit $rc")" >&2
    ls -1 "$B/crashes/$t-"* 2>/dev/null | sed 's/^/  reproducer: /' >&2
    echo "  log: $out" >&2
  else
    echo "fuzz $t: ${execs:-?} executions in ${secs}s, coverage ${cov:-?} edges, corpus $(ls "$corpus" | wc -l) inputs, no crash" >&2
  fi
done
exit $failed
