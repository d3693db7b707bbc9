#!/usr/bin/env bash
# Guest test, libvirt save/restore: the operations libvirt users (and libvirt-guests at host
# shutdown) run on a VM, on a domain made by `aero-media domain` (6.12 test guest from a SATA
# CD-ROM ISO, disk on aero-virtio-blk-pci (qcow2), NIC, keyboard/mouse/tablet and sound
# (--sound on --sound-protocol virtio, libvirt's <audio type='file'>) on the aero devices), through
# libvirt's embedded QEMU driver (qemu:///embed?root=DIR, one virsh process per step):
#   start -> virsh save FILE (domain shut off) -> virsh restore FILE -> virsh managedsave (dominfo
#   says "Managed save: yes", shut off) -> virsh start (resumes from the managed save: the guest
#   does not boot again) -> virsh snapshot-create-as NAME --description ... while running
#   -> the guest finishes its workload.
# The snapshot is libvirt's default for a running domain: an internal snapshot with the memory
# state (QEMU savevm) in the qcow2 disk. libvirt 9.0 takes it with the read-only raw CD-ROM as
# it is (no --memspec or --diskspec needed); the test checks snapshot-info (internal, running)
# and that the qcow2 holds snap1 with a non-zero VM state.
# Each step's wall time is printed (virsh's own duration, seen from the host).
# Workload in the guest, spanning every operation: fio write+verify (crc32c, verify_fatal) runs
# in a loop on the aero disk until the last key; one 60 s playback on the aero sound device
# (aero-snd-play, pcm_buffer_ms=2000 as in test-snd.sh's migrate case); the guest reads the aero
# keyboard the whole time. Between operations the host sends one key with `virsh send-key` and
# waits until the guest has read it.
# Checked: every fio run rc 0 with its verify; keys a b c d read exactly once each and in order;
# the player still running at the last key and finished with all its frames; the signal found
# bit-exactly and in order across the three WAV segments (QEMU re-creates libvirt's audio file
# each time it starts, so the host copies the file after each stop: segment 1 = start..save,
# 2 = restore..managedsave, 3 = start..end); the aero devices' counters show no guest or I/O
# error at the end of each segment; and QEMU's guest-error log (enabled through libvirt after each
# QEMU start) names no aero device.
# The serial console through libvirt's pty does not survive QEMU restarts, so the domain's
# <serial> gets a <log file=... append='on'/>: the one change to aero-media's XML (the test
# redefines the domain aero-media defined with that element added); the host reads that file.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
AERO_GUEST_KIND=612 # lib.sh: the 6.12 guest, whose kernel has virtio_snd
. "$HERE/lib.sh"
. "$HERE/libvirt-lib.sh"

AM=$(aero_media)
[ -x "$AM" ] || fail "$AM is missing (meson compile -C build)"
NAME=aero-libvirt-save
ROOT=$AERO_TEST_DIR/lv
URI=$(embed_root "$ROOT")
DIR=$AERO_TEST_DIR/save
mkdir -p "$DIR"
SERIAL=$DIR/serial.log
QLOG=$ROOT/log/qemu/$NAME.log
PLAY_FRAMES=$((60 * 48000))
PLAY_BASE=600000
# (the embedded driver logs its taint warnings to stderr: kept in a file, shown when a step fails)
# libvirt 9.0's virsh on the embedded driver (a whole QEMU driver in the client, reconnecting to
# the running QEMU on each call) has been seen to die of SIGSEGV once in five runs after a
# snapshot. A query that the client itself crashed on (status >= 128) is asked again once;
# commands that change the domain are never repeated.
V() {
  local rc=0
  virsh -q -c "$URI" "$@" 2>>"$DIR/virsh.err" || rc=$?
  if [ $rc -ge 128 ]; then
    case $1 in
      domstate | dominfo | snapshot-info | snapshot-list | qemu-monitor-command)
        echo "virsh $1: client died (status $rc), asking again" >>"$DIR/virsh.err"
        rc=0
        virsh -q -c "$URI" "$@" 2>>"$DIR/virsh.err" || rc=$?
        ;;
    esac
  fi
  [ $rc = 0 ] || { tail -n 3 "$DIR/virsh.err" >&2; return 1; }
}
cleanup() {
  V snapshot-delete "$NAME" --metadata snap1 >/dev/null 2>&1 || true
  V destroy "$NAME" >/dev/null 2>&1 || true
  V undefine --managed-save --snapshots-metadata "$NAME" >/dev/null 2>&1 || true
  [ "$AERO_KEEP" = 1 ] || rm -rf "$AERO_TEST_DIR"
}
trap cleanup EXIT

# ---- the guest's script ---------------------------------------------------------------------
cat >"$DIR/guest.sh" <<EOF
PLAY_FRAMES=$PLAY_FRAMES
PLAY_BASE=$PLAY_BASE
EOF
cat >>"$DIR/guest.sh" <<'EOF'
set -e
rmmod virtio_snd
# A 1.92 s ALSA buffer (24 periods of 80 ms): ALSA fails a write with EIO when no period completes
# within 1.1 buffer times, and a TCG guest on a loaded host sees every stall of QEMU's threads
# as lost time (the default 4 periods, 352 ms, failed here under fio at load 16 on 2 cores).
insmod /lib/modules/virtio_snd.ko pcm_buffer_ms=2000 pcm_periods_max=24
sleep 1
K=$(awk '/^N: Name=/ { hit = ($0 ~ /Aero Virtio Keyboard/) } hit && /^H: Handlers=/ { for (i = 1; i <= NF; i++) if ($i ~ /^event/) { print $i; exit } }' /proc/bus/input/devices)
[ -n "$K" ] || { echo "no aero keyboard"; exit 4; }
cat /dev/input/$K > /tmp/kbd.bin & kp=$!
keys() { od -An -v -w24 -td4 /tmp/kbd.bin | awk '$5 % 65536 == 1 { print "key", int($5 / 65536), $6 }'; }
released() { keys | grep -c ' 0$' || true; }
aero-snd-play play /dev/snd/pcmC0D0p $PLAY_FRAMES --base $PLAY_BASE --period 3840 --periods 24 >/tmp/play.out 2>&1 & pp=$!
( n=0
  while [ ! -e /tmp/stop ] && [ $n -lt 1000 ]; do
    n=$((n + 1)); rc=0
    fio --name=save --filename=/dev/vda --direct=1 --ioengine=libaio --iodepth=16 --rw=write --bs=16k \
        --size=32M --verify=crc32c --do_verify=1 --verify_fatal=1 >/tmp/fio.$n 2>&1 || rc=$?
    echo "fio run $n rc $rc"
    [ $rc = 0 ] || grep -E "err=|verify" /tmp/fio.$n | head -n 5
  done ) & fl=$!
sleep 1
echo "WORKLOAD-RUNNING"
seen=0; i=0
while [ $seen -lt 4 ] && [ $i -lt 6000 ]; do
  n=$(released)
  if [ $n -gt $seen ]; then seen=$n; echo "KEYSEEN $seen"; fi
  i=$((i + 1)); sleep 0.1
done
if kill -0 $pp 2>/dev/null; then echo "player running at the last key"; fi
touch /tmp/stop
wait $fl
prc=0; wait $pp || prc=$?
cat /tmp/play.out
echo "player rc $prc"
[ $prc = 0 ] || dmesg | grep -i 'snd\|virtio' | tail -n 8 | sed 's/^/dmesg: /'
sleep 0.5
keys
echo "COUNTERS-READY"
i=0
while ! keys | grep -q '^key 18 0$'; do # e: the host has read the counters
  i=$((i + 1)); [ $i -lt 600 ] || { echo "the host never read the counters"; exit 5; }
  sleep 0.2
done
kill $kp
EOF
guest_iso "$DIR/guest.iso" "$DIR/guest.sh"

# ---- helpers ---------------------------------------------------------------------------------
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
state() { V domstate "$NAME" 2>/dev/null | head -n 1; }
# Liveness from QEMU's pid file, not virsh: each virsh of the embedded driver is a new libvirt that
# reconnects to QEMU's monitor, and one whose reconnect failed under load shut the domain down here
# ("shutting down, reason=daemon" in its log) while a loop polled virsh domstate: few virsh calls.
qemu_alive() { local pid; pid=$(cat "$ROOT/run/qemu/$NAME.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; }
device_error() { grep -m 1 '^aero-virtio-' "$QLOG" 2>/dev/null; }
# QEMU logs guest errors (the devices' NEEDS_RESET reasons) into the domain's log once asked to,
# and each QEMU start (start, restore) is a new process.
log_guest_errors() { V qemu-monitor-command --hmp "$NAME" 'log guest_errors' >/dev/null || fail "HMP log guest_errors failed"; }
wait_serial() { # PATTERN: in the serial log, failing at once on a device error or a dead domain
  local i msg
  for i in $(seq 1 1200); do
    grep -q "$1" "$SERIAL" 2>/dev/null && return 0
    if msg=$(device_error); then tail -n 20 "$SERIAL" >&2; fail "device error: $msg"; fi
    qemu_alive || { tail -n 20 "$SERIAL" >&2; fail "QEMU is gone (domain '$(state)') while waiting for '$1'"; }
    sleep 0.5
  done
  tail -n 20 "$SERIAL" >&2
  fail "guest never printed '$1'"
}
send_key() { # KEY_X N: send it, wait until the guest has read N keys
  V send-key "$NAME" "$1" >/dev/null || fail "virsh send-key $1 failed"
  wait_serial "^KEYSEEN $2"
  say "  guest read $1"
}
# Each stop happens with fio's I/O under way: wait until this QEMU has served 100 more blk requests.
requests_of() { python3 -c 'import re,sys; print(sum(int(x) for x in re.findall(r"requests=(\d+)", sys.stdin.read())))'; }
blk_requests() {
  V qemu-monitor-command "$NAME" '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/ua-aero-disk","property":"stats"}}' | requests_of
}
disk_busy() {
  local r0 r i
  r0=$(blk_requests) || fail "cannot read the blk stats"
  for i in $(seq 1 120); do
    sleep 1
    r=$(blk_requests) || fail "cannot read the blk stats"
    [ "$r" -ge $((r0 + 100)) ] && return 0
  done
  fail "fio made no progress on the aero disk (blk requests $r0 -> $r)"
}
SEGSTATS=
stats() { # LABEL: the aero devices' counters over QMP through libvirt; no guest or I/O errors
  local a out
  for a in ua-aero-disk ua-aero-nic ua-aero-kbd ua-aero-snd; do
    out=$(V qemu-monitor-command "$NAME" "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/$a\",\"property\":\"stats\"}}") ||
      fail "$1: cannot read the stats of $a"
    SEGSTATS="$SEGSTATS
$1 $a $out"
  done
}

# ---- define through aero-media, add the serial log, start ------------------------------------
"$AM" domain --name "$NAME" --iso "$DIR/guest.iso" --disk "$DIR/disk.qcow2" --disk-size 256M \
  --memory 512 --vcpus 1 --net-header-len 12 --accel tcg --connect "$URI" --define \
  --sound on --sound-protocol virtio --audio "file=$DIR/snd.wav" \
  >"$DIR/domain.out" 2>&1 || { cat "$DIR/domain.out" >&2; fail "aero-media domain --define failed"; }
V dumpxml --inactive "$NAME" >"$DIR/aero-media.xml"
python3 - "$DIR/aero-media.xml" "$DIR/with-log.xml" "$SERIAL" <<'PY' || fail "cannot add the serial log"
import sys, xml.etree.ElementTree as ET
ET.register_namespace("qemu", "http://libvirt.org/schemas/domain/qemu/1.0")
tree = ET.parse(sys.argv[1])
serials = tree.getroot().findall("./devices/serial")
assert len(serials) == 1, "want one <serial>"
ET.SubElement(serials[0], "log", {"file": sys.argv[3], "append": "on"})
tree.write(sys.argv[2])
PY
V define "$DIR/with-log.xml" >/dev/null || fail "libvirt refuses the domain with the serial log"
# the one difference between the two definitions is the <log> element
diff <(V dumpxml --inactive "$NAME" | grep -v '<log ') "$DIR/aero-media.xml" >/dev/null ||
  fail "the redefined domain differs from aero-media's in more than the serial log"

say "libvirt save: virsh start $NAME ($URI)"
t=$(now)
V start "$NAME" >/dev/null || fail "virsh start failed"
log_guest_errors
say "  start: $(took "$t") s"
wait_serial '^WORKLOAD-RUNNING'
send_key KEY_A 1
disk_busy
# ---- virsh save / restore --------------------------------------------------------------------
stats seg1
t=$(now)
V save "$NAME" "$DIR/state.save" >/dev/null || fail "virsh save failed"
say "  virsh save: $(took "$t") s ($(du -m "$DIR/state.save" | cut -f1) MiB)"
[ "$(state)" = "shut off" ] || fail "after virsh save the domain is '$(state)', not shut off"
cp "$DIR/snd.wav" "$DIR/seg1.wav"
t=$(now)
V restore "$DIR/state.save" >/dev/null || fail "virsh restore failed"
log_guest_errors
say "  virsh restore: $(took "$t") s"
[ "$(state)" = running ] || fail "after virsh restore the domain is '$(state)'"
send_key KEY_B 2
disk_busy

# ---- virsh managedsave / start ---------------------------------------------------------------
stats seg2
t=$(now)
V managedsave "$NAME" >/dev/null || fail "virsh managedsave failed"
say "  virsh managedsave: $(took "$t") s"
[ "$(state)" = "shut off" ] || fail "after managedsave the domain is '$(state)', not shut off"
V dominfo "$NAME" | grep -q '^Managed save: *yes' || fail "dominfo does not report the managed save"
cp "$DIR/snd.wav" "$DIR/seg2.wav"
t=$(now)
V start "$NAME" >/dev/null || fail "virsh start (from the managed save) failed"
log_guest_errors
say "  virsh start (managed save): $(took "$t") s"
V dominfo "$NAME" | grep -q '^Managed save: *no' || fail "the managed save is still there after start"
send_key KEY_C 3
disk_busy

# ---- snapshot with memory --------------------------------------------------------------------
t=$(now)
V snapshot-create-as "$NAME" snap1 --description "aero-virtio test: internal snapshot with memory mid-workload" \
  >"$DIR/snapshot.out" 2>&1 || { cat "$DIR/snapshot.out" >&2; fail "virsh snapshot-create-as failed"; }
say "  virsh snapshot-create-as: $(took "$t") s"
V snapshot-info "$NAME" snap1 >"$DIR/snapshot.info"
grep -q '^State: *running' "$DIR/snapshot.info" && grep -q '^Location: *internal' "$DIR/snapshot.info" ||
  { cat "$DIR/snapshot.info" >&2; fail "snap1 is not an internal snapshot of the running domain"; }
qemu-img snapshot -U -l "$DIR/disk.qcow2" | grep -q ' snap1 ' || fail "snap1 is not in the qcow2 disk"
qemu-img snapshot -U -l "$DIR/disk.qcow2" | awk '$2 == "snap1" { print $3 }' | grep -qv '^0' ||
  fail "snap1 holds no VM state (memory)"
[ "$(state)" = running ] || fail "after the snapshot the domain is '$(state)'"
send_key KEY_D 4

# ---- the guest finishes ----------------------------------------------------------------------
wait_serial '^COUNTERS-READY'
stats seg3
V send-key "$NAME" KEY_E >/dev/null || fail "virsh send-key KEY_E failed"
wait_serial '^AERO-GUEST-EXIT'
# (the guest powers off; QEMU stays until libvirt, here not listening, is told: destroy)
for _ in $(seq 1 50); do grep -q 'reboot: Power down' "$SERIAL" && break; sleep 0.2; done
V destroy "$NAME" >/dev/null 2>&1 || true
cp "$DIR/snd.wav" "$DIR/seg3.wav"

log=$DIR/serial.txt
tr -d '\r' <"$SERIAL" >"$log"
grep -E '^(fio run|player|snd-play:|dmesg)' "$log" | sed 's/^/  /' >&2
msg=$(device_error) && fail "device error: $msg"
grep -q '^AERO-GUEST-EXIT 0$' "$log" || { tail -n 20 "$log" >&2; fail "the guest script failed"; }
[ "$(grep -c '^AERO-GUEST-START' "$log")" = 1 ] || fail "the guest booted more than once (a restore booted afresh)"
runs=$(grep -c '^fio run [0-9]* rc ' "$log")
[ "$runs" -ge 2 ] || fail "only $runs fio runs"
grep '^fio run [0-9]* rc ' "$log" | grep -qv ' rc 0$' && fail "a fio write+verify run failed"
# a b c d, each pressed and released once, in order
[ "$(grep '^key ' "$log" | tr '\n' ' ')" = "key 30 1 key 30 0 key 48 1 key 48 0 key 46 1 key 46 0 key 32 1 key 32 0 " ] ||
  fail "keys not read exactly once in order: $(grep '^key ' "$log" | tr '\n' ' ')"
grep -q '^player running at the last key' "$log" || fail "the playback ended before the last operation"
grep -q "^snd-play: frames=$PLAY_FRAMES " "$log" && grep -q '^player rc 0$' "$log" ||
  fail "the playback did not finish"
python3 - "$SEGSTATS" <<'PY' || fail "device counters show errors"
import re, sys
seen = {}
for line in sys.argv[1].strip().splitlines():
    seg, alias, out = line.split(" ", 2)
    out = out.replace("\\n", " ")
    errs = sum(int(v) for v in re.findall(r"\b(?:guest_|io_|xfer_|ctl_)?errors=(\d+)", out))
    assert errs == 0, f"{seg} {alias}: {out}"
    if alias == "ua-aero-disk":
        seen.setdefault(seg, []).append("blk requests %d" % sum(int(v) for v in re.findall(r"\brequests=(\d+)", out)))
    if alias == "ua-aero-snd":
        seen.setdefault(seg, []).append("snd tx_buffers " + re.search(r"tx_buffers=(\d+)", out).group(1))
for seg, parts in seen.items():
    print(f"  {seg} counters (no errors): {', '.join(parts)}", file=sys.stderr)
PY
# each QEMU process played part of the signal, and the checker sees a wrong order
for f in seg1 seg2 seg3; do
  one=$(python3 "$HERE/snd-wavcheck.py" "$DIR/$f.wav" play:$PLAY_BASE:$PLAY_FRAMES:0) || true
  echo "$one" | grep -q '^play: [1-9]' || fail "$f.wav holds none of the signal: $one"
done
python3 "$HERE/snd-wavcheck.py" "$DIR/seg2.wav" --then "$DIR/seg1.wav" --then "$DIR/seg3.wav" \
  play:$PLAY_BASE:$PLAY_FRAMES:0 >/dev/null && fail "snd-wavcheck.py accepts the segments out of order"
check=$(python3 "$HERE/snd-wavcheck.py" "$DIR/seg1.wav" --then "$DIR/seg2.wav" --then "$DIR/seg3.wav" \
  play:$PLAY_BASE:$PLAY_FRAMES) || { echo "$check" >&2; fail "the signal is not intact across the three segments"; }
echo "$check" | sed 's/^/  /' >&2
echo "ok - libvirt: virsh save/restore, managedsave/start and an internal snapshot with memory mid-workload (fio $runs runs verified, keys once in order, signal intact)"
