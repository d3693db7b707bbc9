#!/usr/bin/env bash
# Guest test, migration: a guest on aero blk, net and keyboard is moved mid-workload and must
# finish that workload on the destination with everything verified in the guest.
#  Workload: fio write-then-verify (crc32c) on the aero disk; 16 MiB each way over TCP between
#            the aero NIC (root namespace) and a stock virtio-net NIC in a private network
#            namespace of the same guest, joined by a QEMU hub, so every frame crosses the aero
#            device and the whole network moves with the VM (MD5s compared in the guest);
#            keyboard events injected on the source before and on the destination after the
#            move, which the guest must read exactly once and in order.
#  save:     QMP migrate to a file (exec:cat), source quits, a new QEMU restores it (-incoming).
#  live:     two QEMU processes, migration over a local UNIX socket; downtime is printed, and
#            the device counters of source and destination together account for the workload.
#  corrupt:  a live migration whose aero blk section is damaged on the way: the destination
#            refuses it with the library's reason, the source is resumed (as libvirt does) and
#            finishes the workload itself.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SIZE_MB=16
FIO_MB=48
KEYS_A="30 48 46"   # a b c: sent on the source
KEYS_B="32 18 33"   # d e f: sent on the destination
SENTINEL=119        # PAUSE: the guest stops reading the keyboard when it sees its release

cat >"$AERO_TEST_DIR/migrate-guest.sh" <<EOF
SIZE_MB=$SIZE_MB
FIO_MB=$FIO_MB
SENTINEL=$SENTINEL
EOF
cat >>"$AERO_TEST_DIR/migrate-guest.sh" <<'EOF'
set -e
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null || true
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6 2>/dev/null || true
ifname() { for i in /sys/class/net/*; do [ "$(cat $i/address)" = "$1" ] && basename $i; done; true; }
AERO=$(ifname 52:54:00:aa:00:01); PEER=$(ifname 52:54:00:bb:00:02)
[ -n "$AERO" ] && [ -n "$PEER" ] || { echo "interfaces missing"; exit 2; }
pci=$(readlink -f /sys/class/net/$AERO/device/..)
echo "net $AERO $(cat $pci/vendor) $(cat $pci/device) subsys $(cat $pci/subsystem_device)"
# The peer NIC lives in its own network namespace: traffic between the two addresses leaves
# through the aero NIC instead of the loopback.
unshare -n sleep 100000 & NS=$!
sleep 0.5
ip link set dev $PEER netns $NS
nsenter -t $NS -n sh -c "ip link set lo up; ip link set $PEER up; ip addr add 10.9.0.2/24 dev $PEER"
ip link set $AERO up
ip addr add 10.9.0.1/24 dev $AERO
dd if=/dev/urandom of=/tmp/send bs=1M count=$SIZE_MB 2>/dev/null
dd if=/dev/urandom of=/tmp/psend bs=1M count=$SIZE_MB 2>/dev/null
mkfifo /tmp/hold
exec 3<>/tmp/hold
nsenter -t $NS -n nc -l -p 5001 > /tmp/precv <&3 & r1=$!
nsenter -t $NS -n nc -l -p 5002 < /tmp/psend > /dev/null & s1=$!
i=0; until ping -c 1 -W 1 10.9.0.2 >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 60 ] || exit 3; done
K=$(awk '/^N: Name=/ { hit = ($0 ~ /Aero Virtio Keyboard/) } hit && /^H: Handlers=/ { for (i = 1; i <= NF; i++) if ($i ~ /^event/) { print $i; exit } }' /proc/bus/input/devices)
[ -n "$K" ] || { echo "no aero keyboard"; exit 4; }
cat /dev/input/$K > /tmp/kbd.bin & kp=$!
fio --name=migrate --filename=/dev/vda --direct=1 --ioengine=libaio --iodepth=16 --rw=write \
    --bs=16k --size=${FIO_MB}M --verify=crc32c --do_verify=1 --verify_fatal=1 > /tmp/fio.out 2>&1 & fp=$!
nc 10.9.0.2 5002 > /tmp/recv <&3 & r2=$!
nc 10.9.0.2 5001 < /tmp/send > /dev/null & s2=$!
sleep 1
echo "WORKLOAD-RUNNING"
frc=0; wait $fp || frc=$?
echo "fio rc $frc"
grep -E "err=|verify" /tmp/fio.out | head -n 5
wait $s2; wait $r2; wait $s1; wait $r1
echo "net a->peer sent $(md5sum < /tmp/send | cut -c1-32) got $(md5sum < /tmp/precv | cut -c1-32) bytes $(wc -c < /tmp/precv)"
echo "net peer->a sent $(md5sum < /tmp/psend | cut -c1-32) got $(md5sum < /tmp/recv | cut -c1-32) bytes $(wc -c < /tmp/recv)"
echo "WORKLOAD-DONE"
i=0
while ! od -An -v -w24 -td4 /tmp/kbd.bin | awk '{ print $5 % 65536, int($5 / 65536), $6 }' | grep -q "^1 $SENTINEL 0$"; do
  i=$((i + 1)); [ $i -lt 600 ] || { echo "sentinel never arrived"; break; }
  sleep 0.2
done
kill $kp
od -An -v -w24 -td4 /tmp/kbd.bin | awk '$5 % 65536 == 1 { print "key", int($5 / 65536), $6 }'
[ $frc = 0 ]
EOF

DISK=$AERO_TEST_DIR/disk.img
MIG_ARGS=(-m 512
  -drive "file=$DISK,if=none,id=d0,format=raw,cache=writeback"
  -device aero-virtio-blk-pci,drive=d0,id=d0dev,addr=0x4
  -netdev hubport,id=h0,hubid=0 -netdev hubport,id=h1,hubid=0
  -device aero-virtio-net-pci,netdev=h0,mac=52:54:00:aa:00:01,header-len=12,id=nic0,addr=0x6
  -device virtio-net-pci,netdev=h1,mac=52:54:00:bb:00:02,romfile=,addr=0x7
  -device aero-virtio-keyboard-pci,addr=0x5.0,multifunction=on,id=kbd0)

wait_for_workload() { # the guest script may also end early: fail then with its output
  wait_for_line "$1" 'WORKLOAD-RUNNING\|^AERO-GUEST-EXIT' || fail "$1: workload did not start"
  grep -q WORKLOAD-RUNNING "$(guest_log "$1")" ||
    { tail -n 20 "$(guest_log "$1")" >&2; fail "$1: guest script ended before its workload ran"; }
}

# Wait until the disk is really busy (fio past its start-up) so the move happens mid-I/O.
wait_blk_busy() {
  local name=$1 i
  for i in $(seq 1 600); do
    [ "$(requests_of "$(guest_stats "$name" d0dev)")" -ge 300 ] && return 0
    sleep 0.2
  done
  fail "$name: fio never got going"
}

keys() { # NAME CODES...: press and release each key
  local name=$1 k
  shift
  for k in "$@"; do
    for down in true false; do
      guest_qmp "$name" "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":[{\"type\":\"key\",\"data\":{\"down\":$down,\"key\":{\"type\":\"number\",\"data\":$(linux_to_qnum "$k")}}}]}}" >/dev/null
    done
  done
}
# Linux key code -> QEMU "number" key (PS/2 set 1 scancode) for the keys used here.
linux_to_qnum() {
  case $1 in
    30) echo 30 ;; 48) echo 48 ;; 46) echo 46 ;; 32) echo 32 ;; 18) echo 18 ;; 33) echo 33 ;;
    119) echo 198 ;; # PAUSE
    *) fail "no scancode for key $1" ;;
  esac
}

# check_results NAME LOG...: the workload's verdicts, from the serial logs given.
check_results() {
  local name=$1
  shift
  cat "$@" | grep -E '^(net|fio rc|key|WORKLOAD)' | sed "s/^/  $name: /" >&2
  cat "$@" | python3 -c '
import re, sys
log = sys.stdin.read().replace("\r", "")
name, size = sys.argv[1], int(sys.argv[2]) << 20
want_keys = [int(k) for k in sys.argv[3].split()]
errs = []
if not re.search(r"^fio rc 0$", log, re.M): errs.append("fio failed (write or verify)")
for m in re.finditer(r"^net (\S+) sent (\w+) got (\w+) bytes (\d+)$", log, re.M):
    if m.group(2) != m.group(3) or int(m.group(4)) != size:
        errs.append(f"transfer {m.group(1)}: md5 {m.group(3)} != {m.group(2)} or {m.group(4)} bytes")
if len(re.findall(r"^net \S+ sent ", log, re.M)) != 2: errs.append("transfer results missing")
keys = [(int(c), int(v)) for c, v in re.findall(r"^key (\d+) (\d+)$", log, re.M)]
exp = [(k, v) for k in want_keys for v in (1, 0)]
if keys != exp: errs.append(f"keys {keys} != {exp} (each exactly once, in order)")
for e in errs: print(f"  {name}: {e}", file=sys.stderr)
sys.exit(1 if errs else 0)' "$name" "$SIZE_MB" "$KEYS_A $KEYS_B $SENTINEL"
}

# Counters from a device's stats property: the sum of requests over its queues.
requests_of() { echo "$1" | python3 -c 'import re,sys; print(sum(int(x) for x in re.findall(r"requests=(\d+)", sys.stdin.read())))'; }

# ---- save to a file, restore in a new QEMU ------------------------------------------------------
case_save() {
  local src=save-src dst=save-dst file=$AERO_TEST_DIR/vm.state
  truncate -s 128M "$DISK"
  guest_start $src "$AERO_TEST_DIR/migrate-guest.sh" "${MIG_ARGS[@]}"
  wait_for_workload $src
  keys $src $KEYS_A
  wait_blk_busy $src
  local out
  out=$(guest_qmp $src "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat > $file\"}}" \
    && wait_migration $src) || fail "$src: save failed: $out"
  grep -q '"status": "postmigrate"\|"postmigrate"' <<<"$(guest_qmp $src '{"execute":"query-status"}')" ||
    fail "$src: not in postmigrate after the save"
  local st_src
  st_src=$(guest_stats $src d0dev)
  guest_stop $src
  say "save: $(stat -c %s "$file") bytes saved mid-workload; restoring"
  guest_start $dst "$AERO_TEST_DIR/migrate-guest.sh" "${MIG_ARGS[@]}" -incoming "exec:cat $file"
  wait_running $dst || { cat "$(guest_dir $dst)/qemu.out" >&2; fail "$dst: restore failed"; }
  keys $dst $KEYS_B $SENTINEL
  guest_wait $dst
  check_results save "$(guest_log $src)" "$(guest_log $dst)" || fail "save/restore: workload not intact"
  [ "$GUEST_RC" = 0 ] || fail "$dst: guest script failed (rc=$GUEST_RC)"
  local st_dst
  st_dst=$(guest_stats $dst d0dev)
  say "save: blk requests source $(requests_of "$st_src") + destination $(requests_of "$st_dst")"
  guest_stop $dst
  say "save: PASS"
}

# ---- live migration over a UNIX socket -------------------------------------------------------
case_live() {
  local src=live-src dst=live-dst sock=$AERO_TEST_DIR/mig.sock
  truncate -s 128M "$DISK"
  guest_start $src "$AERO_TEST_DIR/migrate-guest.sh" "${MIG_ARGS[@]}"
  wait_for_workload $src
  guest_start $dst "$AERO_TEST_DIR/migrate-guest.sh" "${MIG_ARGS[@]}" -incoming "unix:$sock"
  local i
  for i in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.2; done
  keys $src $KEYS_A
  wait_blk_busy $src
  local out
  guest_qmp $src '{"execute":"migrate-set-parameters","arguments":{"downtime-limit":1000,"max-bandwidth":1073741824}}' >/dev/null
  out=$(guest_qmp $src "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:$sock\"}}" \
    && wait_migration $src) || fail "$src: live migration failed: $out"
  local downtime total
  downtime=$(echo "$out" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1]).get("downtime"))')
  total=$(echo "$out" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1]).get("total-time"))')
  wait_running $dst || { cat "$(guest_dir $dst)/qemu.out" >&2; fail "$dst: did not run after migration"; }
  local st_src
  st_src=$(guest_stats $src d0dev)
  guest_stop $src
  say "live: migrated in ${total} ms, downtime ${downtime} ms"
  keys $dst $KEYS_B $SENTINEL
  guest_wait $dst
  check_results live "$(guest_log $src)" "$(guest_log $dst)" || fail "live: workload not intact"
  [ "$GUEST_RC" = 0 ] || fail "$dst: guest script failed (rc=$GUEST_RC)"
  local st_dst rs rd
  st_dst=$(guest_stats $dst d0dev)
  rs=$(requests_of "$st_src"); rd=$(requests_of "$st_dst")
  say "live: blk requests source $rs + destination $rd"
  # write + verify of FIO_MB in 16 KiB requests, plus what the kernel itself reads at probe
  [ $((rs + rd)) -ge $((2 * FIO_MB * 64)) ] || fail "live: blk counters account for $((rs + rd)) requests, fio alone made $((2 * FIO_MB * 64))"
  [ "$rs" -gt 0 ] && [ "$rd" -gt 0 ] || fail "live: the workload did not run on both sides"
  guest_stop $dst
  say "live: PASS"
}

# ---- a damaged aero section is refused; the source resumes --------------------------------------
case_corrupt() {
  local src=bad-src dst=bad-dst fifo=$AERO_TEST_DIR/mig.fifo flip=$AERO_TEST_DIR/flip.py
  truncate -s 128M "$DISK"
  mkfifo "$fifo"
  # Copies the stream, flipping one byte 40 bytes into the first aero device state (the blk
  # transport section: its checksum no longer matches).
  cat >"$flip" <<'PY'
import sys
src, out = sys.stdin.buffer, sys.stdout.buffer
magic, tail, done, pos = b"AEROVST\0", b"", False, None
while True:
    chunk = src.read(65536)
    if not chunk:
        break
    buf = bytearray(tail + chunk)
    if not done:
        i = buf.find(magic)
        if i >= 0 and i + 40 < len(buf):
            buf[i + 40] ^= 0x5a
            done = True
            sys.stderr.write("flipped\n")
            sys.stderr.flush()
    keep = 0 if done else min(len(buf), 48)
    out.write(buf[:len(buf) - keep])
    tail = bytes(buf[len(buf) - keep:])
out.write(tail)
out.flush()
PY
  guest_start $src "$AERO_TEST_DIR/migrate-guest.sh" "${MIG_ARGS[@]}"
  wait_for_workload $src
  guest_start $dst "$AERO_TEST_DIR/migrate-guest.sh" "${MIG_ARGS[@]}" -incoming "exec:cat $fifo"
  keys $src $KEYS_A
  wait_blk_busy $src
  local out
  out=$(guest_qmp $src "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:python3 $flip 2>$AERO_TEST_DIR/flip.err > $fifo\"}}" \
    && wait_migration $src) || true
  echo "  corrupt: source's view: $(echo "$out" | tail -n 1 | cut -c1-120)" >&2
  local i
  for i in $(seq 1 200); do guest_alive $dst || break; sleep 0.25; done
  guest_alive $dst && fail "$dst: still running after a corrupted stream"
  grep -q flipped "$AERO_TEST_DIR/flip.err" || fail "corrupt: the aero section was not found in the stream"
  local why
  why=$(grep -m 1 'migration state refused' "$(guest_dir $dst)/qemu.out" || true)
  [ -n "$why" ] || { cat "$(guest_dir $dst)/qemu.out" >&2; fail "$dst: no refusal reason from the aero device"; }
  echo "  corrupt: destination: $why" >&2
  # The source is paused after a migration it believes complete; management resumes it when the
  # destination fails (libvirt does), and the workload finishes there.
  guest_qmp $src '{"execute":"cont"}' >/dev/null 2>&1 || true   # running already if it failed
  keys $src $KEYS_B $SENTINEL
  guest_wait $src
  check_results corrupt "$(guest_log $src)" || fail "corrupt: the resumed source's workload is not intact"
  [ "$GUEST_RC" = 0 ] || fail "$src: guest script failed (rc=$GUEST_RC)"
  guest_stop $src
  say "corrupt: PASS"
}

cases=${AERO_MIGRATE_CASES:-save live corrupt}
for c in $cases; do
  "case_$c"
done
