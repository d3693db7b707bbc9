#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz/) under ASan + UBSan, each for a fixed time, starting
# from the seed corpus tests/fuzz/seeds.py writes and keeping what it finds in
# build-fuzz/corpus/TARGET (reused by the next run).
#
#   scripts/fuzz.sh [--time SECONDS] [--jobs N] [TARGET...]    targets: blk net input state snd
#                                                                (default all)
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
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(blk net input state snd)
for t in "${targets[@]}"; do
  case "$t" in blk|net|input|state|snd) ;; *) echo "fuzz.sh: no target '$t' (blk, net, input, state, snd)" >&2; exit 2 ;; esac
done

B=$REPO/build-fuzz
mkdir -p "$B"
log=$B/build.log
command -v clang >/dev/null || { echo "fuzz.sh: clang is missing (scripts/install-deps.sh)" >&2; exit 1; }
echo "fuzz: building the targets with clang, ASan and UBSan (log: $log)" >&2
{
  if [ -f "$B/build.ninja" ]; then
    meson setup --reconfigure "$B"
  else
    CC=clang meson setup "$B" -Dfuzz=true -Dmedia=false -Db_sanitize=address,undefined \
      -Db_lundef=false -Dbuildtype=debugoptimized
  fi
  meson compile -C "$B" fuzz_blk fuzz_net fuzz_input fuzz_state fuzz_snd
} >"$log" 2>&1 || { tail -n 20 "$log" >&2; echo "fuzz.sh: build failed (full log: $log)" >&2; exit 1; }

failed=0
for t in "${targets[@]}"; do
  corpus=$B/corpus/$t
  mkdir -p "$corpus" "$B/crashes"
  python3 "$REPO/tests/fuzz/seeds.py" "$corpus" "$t"
  out=$B/fuzz-$t.log
  rc=0
  # from inside build-fuzz/: libFuzzer writes its per-job logs (fuzz-N.log) to the current folder
  (cd "$B" && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
    "$B/tests/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=4096 -timeout=10 \
    -jobs="$jobs" -workers="$jobs" -print_final_stats=1 \
    -artifact_prefix="$B/crashes/$t-" "$corpus") >"$out" 2>&1 || rc=$?
  stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$out" | tail -n 1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -n 1)
  cov=$(echo "$stats" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  if [ $rc -ne 0 ]; then
    failed=1
    echo "fuzz $t: FAILED after ${secs}s -- $(grep -m 1 -E 'invariant violated|ERROR: ' "$out" || echo "exit $rc")" >&2
    ls -1 "$B/crashes/$t-"* 2>/dev/null | sed 's/^/  reproducer: /' >&2
    echo "  log: $out" >&2
  else
    echo "fuzz $t: ${execs:-?} executions in ${secs}s, coverage ${cov:-?} edges, corpus $(ls "$corpus" | wc -l) inputs, no crash" >&2
  fi
done
exit $failed
