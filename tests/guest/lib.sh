# Shared helpers for the guest tests (source this file). A guest is the Linux test guest of
# scripts/build-guest.sh booted in the patched QEMU under TCG; the host hands it a shell script
# through fw_cfg and reads its serial console.
#
#   guest_start NAME SCRIPT [qemu args...]  boot in the background (QMP at $(guest_dir NAME)/qmp)
#   guest_wait NAME                        wait for the script to finish; sets GUEST_RC
#   guest_qmp NAME JSON...                  QMP commands; prints each return value (JSON line)
#   guest_stop NAME                         quit QEMU
#   guest_run NAME SCRIPT [qemu args...]    all of the above; returns the guest script's rc
#   guest_log NAME                          path of the serial log
#   wait_migration NAME                     until its outgoing migration completed (prints the
#                                           final query-migrate) or failed
#   wait_running NAME                       until it runs (an incoming migration finished)
#
# QEMU runs with -no-shutdown, so after the guest powers off its counters can still be queried.

AERO_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AERO_QEMU=${AERO_QEMU:-$AERO_REPO/build/qemu/qemu-system-x86_64}
AERO_GUEST=${AERO_GUEST:-$AERO_REPO/build/guest}
# A test that needs virtio_snd sets AERO_GUEST_KIND=612 before sourcing this file: the guest
# with bookworm-backports' 6.12 kernel (scripts/build-guest.sh --backports; AERO_GUEST_612
# names another build of it).
if [ "${AERO_GUEST_KIND:-}" = 612 ]; then
  AERO_GUEST=${AERO_GUEST_612:-$AERO_REPO/build/guest-612}
  [ -e "$AERO_GUEST/vmlinuz" ] || {
    echo "FAIL: $AERO_GUEST is missing: run scripts/build-guest.sh --backports (the 6.12 kernel)" >&2
    exit 1
  }
  export AERO_GUEST
fi
AERO_GUEST_TIMEOUT=${AERO_GUEST_TIMEOUT:-900}
AERO_TEST_DIR=${AERO_TEST_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/aero-guest.XXXXXX")}
AERO_KEEP=${AERO_KEEP:-0}
mkdir -p "$AERO_TEST_DIR"
GUEST_RC=

aero_quiet() { [ "${AERO_QUIET:-}" = 1 ] || [ "${CI:-}" = true ]; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }
fail() {
  echo "FAIL: $*" >&2
  # what the devices reported as guest errors (NEEDS_RESET reasons) explains most failures
  local f
  for f in "${AERO_TEST_DIR:-/nonexistent}"/*/qemu-guest-errors.log; do
    # (OVMF probing for a TPM at 0xFED40000 is not a device error)
    grep -qv 'addr 0xFED4' "$f" 2>/dev/null &&
      { echo "  guest errors ($f):" >&2; grep -v 'addr 0xFED4' "$f" | tail -n 5 | sed 's/^/    /' >&2; }
  done
  exit 1
}

for f in "$AERO_QEMU" "$AERO_GUEST/vmlinuz" "$AERO_GUEST/initramfs.cpio.gz"; do
  [ -e "$f" ] || fail "$f is missing (run scripts/build-qemu.sh and scripts/build-guest.sh)"
done

guest_dir() { echo "$AERO_TEST_DIR/$1"; }
guest_log() { echo "$AERO_TEST_DIR/$1/serial.log"; }

guest_start() {
  local name=$1 script=$2
  shift 2
  local dir
  dir=$(guest_dir "$name")
  mkdir -p "$dir"
  cp "$script" "$dir/script.sh"
  [ -n "${AERO_APPEND:-}" ] || AERO_APPEND=""
  # AERO_BOOT=firmware: no direct kernel boot, the firmware boots from the guest's disks
  local boot=(-kernel "$AERO_GUEST/vmlinuz" -initrd "$AERO_GUEST/initramfs.cpio.gz"
    -append "console=ttyS0 quiet panic=-1 $AERO_APPEND")
  [ "${AERO_BOOT:-kernel}" = firmware ] && boot=()
  "$AERO_QEMU" -accel tcg -m 1024 -smp 1 -nographic -no-reboot -no-shutdown -nic none \
    -L /usr/share/seabios -L /usr/share/qemu \
    "${boot[@]}" \
    -fw_cfg "name=opt/aero/script,file=$dir/script.sh" \
    -qmp "unix:$dir/qmp,server=on,wait=off" \
    -serial "file:$dir/serial.log" -monitor none -display none \
    -d guest_errors -D "$dir/qemu-guest-errors.log" \
    "$@" </dev/null >"$dir/qemu.out" 2>&1 &
  echo $! >"$dir/pid"
  date +%s >"$dir/started"
  aero_quiet || say "$name: booting guest ($*)"
}

guest_alive() { kill -0 "$(cat "$(guest_dir "$1")/pid")" 2>/dev/null; }

# A device that reported a guest error (NEEDS_RESET reason, refused DMA) leaves the guest waiting
# for I/O that never completes: fail at once with the device's message instead of waiting for
# the timeout. Tests that provoke device errors on purpose set AERO_EXPECT_DEVICE_ERRORS=1.
guest_device_error() {
  [ "${AERO_EXPECT_DEVICE_ERRORS:-0}" = 1 ] && return 1
  grep -m 1 '^aero-virtio-' "$(guest_dir "$1")/qemu-guest-errors.log" 2>/dev/null
}
check_device_errors() {
  local name=$1 msg
  if msg=$(guest_device_error "$name"); then
    local t0
    t0=$(cat "$(guest_dir "$name")/started" 2>/dev/null || date +%s)
    tail -n 30 "$(guest_log "$name")" >&2
    guest_stop "$name"
    fail "$name: device error $(($(date +%s) - t0)) s into the run: $msg"
  fi
}

# Wait (at most 10 minutes) for a line matching pattern in the guest's serial log; fails at once
# when the guest is gone.
wait_for_line() {
  local name=$1 pattern=$2 i
  for i in $(seq 1 2400); do
    grep -q "$pattern" "$(guest_log "$name")" 2>/dev/null && return 0
    guest_alive "$name" || return 1
    check_device_errors "$name"
    sleep 0.25
  done
  return 1
}

guest_wait() {
  local name=$1 log dir waited=0 last=0
  dir=$(guest_dir "$name")
  log=$(guest_log "$name")
  GUEST_RC=
  while :; do
    if grep -q '^AERO-GUEST-EXIT ' "$log" 2>/dev/null; then
      GUEST_RC=$(sed -n 's/^AERO-GUEST-EXIT \([0-9]*\).*/\1/p' "$log" | tail -n 1)
      break
    fi
    if ! guest_alive "$name"; then
      cat "$dir/qemu.out" >&2
      tail -n 30 "$log" >&2
      fail "$name: QEMU exited before the guest script finished"
    fi
    check_device_errors "$name"
    if [ $waited -ge "$AERO_GUEST_TIMEOUT" ]; then
      tail -n 30 "$log" >&2
      guest_stop "$name"
      fail "$name: guest did not finish within ${AERO_GUEST_TIMEOUT}s"
    fi
    sleep 1
    waited=$((waited + 1))
    if ! aero_quiet && [ $((waited - last)) -ge 30 ]; then
      say "$name: guest running (${waited}s)"
      last=$waited
    fi
  done
  # give QEMU a moment to reach the powered-off state
  local i
  for i in $(seq 1 50); do
    guest_qmp "$name" '{"execute":"query-status"}' 2>/dev/null | grep -q '"shutdown"' && break
    sleep 0.2
  done
  aero_quiet || say "$name: guest finished rc=$GUEST_RC"
}

guest_qmp() {
  local name=$1
  shift
  python3 "$AERO_REPO/tests/guest/qmp.py" "$(guest_dir "$name")/qmp" "$@"
}

guest_stop() {
  local name=$1 pid
  pid=$(cat "$(guest_dir "$name")/pid")
  guest_qmp "$name" '{"execute":"quit"}' >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

guest_run() {
  local name=$1
  guest_start "$@"
  guest_wait "$name"
  guest_stop "$name"
  return "$GUEST_RC"
}

# Read a device's QOM "stats" property (the -device id= given as DEV).
guest_stats() {
  guest_qmp "$1" "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/$2\",\"property\":\"stats\"}}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin), end="")'
}

wait_migration() { # NAME: until completed (prints the final query-migrate) or failed
  local name=$1 i out
  for i in $(seq 1 1200); do
    out=$(guest_qmp "$name" '{"execute":"query-migrate"}')
    case $out in
      *'"completed"'*) echo "$out"; return 0 ;;
      *'"failed"'* | *'"cancelled"'*) echo "$out"; return 1 ;;
    esac
    sleep 0.25
  done
  echo "$out"
  return 1
}

wait_running() {
  local name=$1 i
  for i in $(seq 1 400); do
    guest_qmp "$name" '{"execute":"query-status"}' 2>/dev/null | grep -q '"running": true' && return 0
    guest_alive "$name" || return 1
    sleep 0.25
  done
  return 1
}

guest_cleanup() {
  local d
  for d in "$AERO_TEST_DIR"/*/; do
    [ -f "$d/pid" ] && { kill -9 "$(cat "$d/pid")" 2>/dev/null || true; }
  done
  [ "$AERO_KEEP" = 1 ] || rm -rf "$AERO_TEST_DIR"
}
trap guest_cleanup EXIT
