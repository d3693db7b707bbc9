#!/usr/bin/env bash
# Guest test, snd: Linux's own virtio_snd (bookworm-backports' 6.12 kernel: build/guest-612 from
# `scripts/build-guest.sh --backports`) on aero-virtio-snd-pci through QEMU's real audio layer.
#   virtio   protocol=virtio: PCI identity; one card with one playback and one capture PCM;
#            aero-snd-play (tests/guest/snd-play.c, the kernel's ALSA ioctls) plays a signal
#            whose every frame is identifiable; the host finds >= 95 % of its frames bit-exactly
#            and in order in the wav audiodev's file, and 3 s of audio take about 3 s in the
#            guest. Then, in the same stream: an underrun (the player stalls 1.5 s: xrun,
#            recovery through STOP/RELEASE/PREPARE/START, nothing lost), pause/resume (1 s), and
#            DROP with buffers queued (RELEASE must complete them all, or the next PREPARE fails).
#   capture  (when QEMU has the ALSA backend, as scripts/build-qemu.sh builds it) a known
#            signal fed through alsa-lib's file plugin arrives bit-exactly in the guest's
#            recording (copied out through an aero-virtio-blk-pci disk). The file plugin's null
#            slave is not paced (QEMU reads it about 4x real time), so only the data is checked.
#   migrate  a save to a file in the middle of a 20 s playback, restored in a new QEMU with its own
#            wav file: the player finishes on the destination, the held buffers travel (the
#            destination re-reads them), and >= 95 % of the signal's frames are found in order
#            across the source's and the destination's files.
#   aero     protocol=aero (the default, the contract's encoding): Linux's driver refuses the
#            device cleanly (no card) and QEMU stays healthy.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
AERO_GUEST_KIND=612 # lib.sh: the 6.12 guest, whose kernel has virtio_snd
. "$HERE/lib.sh"

WAVCHECK=$HERE/snd-wavcheck.py

# ---- protocol=virtio: playback ----------------------------------------------------------------
cat >"$AERO_TEST_DIR/play.sh" <<'EOF'
set -e
for d in /sys/bus/pci/devices/*; do
  if [ "$(cat $d/vendor)" = 0x1af4 ] && [ "$(cat $d/device)" = 0x1059 ]; then
    echo "PCI $(cat $d/vendor):$(cat $d/device) rev $(cat $d/revision) subsys $(cat $d/subsystem_device) class $(cat $d/class)"
  fi
done
# a larger ALSA buffer than the default 160 ms: the guest runs under TCG on a shared host
rmmod virtio_snd
insmod /lib/modules/virtio_snd.ko pcm_buffer_ms=640
sleep 1
echo "CARDS:"; cat /proc/asound/cards
echo "PCMS:"; cat /proc/asound/pcm
P=/dev/snd/pcmC0D0p
aero-snd-play play $P 144000 --period 3840 --periods 4
aero-snd-play play $P 48000 --base 200000 --period 3840 --periods 4 --stall-at 23040 --stall-ms 1500
aero-snd-play play $P 48000 --base 300000 --period 3840 --periods 4 --pause-at 23040 --pause-ms 1000
aero-snd-play play $P 48000 --base 400000 --period 3840 --periods 4 --drop-at 23040
EOF
wav=$AERO_TEST_DIR/out.wav
guest_start play "$AERO_TEST_DIR/play.sh" \
  -audiodev "wav,id=a0,path=$wav,out.frequency=48000,out.channels=2,out.format=s16" \
  -device aero-virtio-snd-pci,audiodev=a0,protocol=virtio,id=snd0
guest_wait play
stats=$(guest_stats play snd0)
guest_stop play
log=$(guest_log play)
aero_quiet || sed -n '/AERO-GUEST-START/,$p' "$log" >&2
[ "$GUEST_RC" = 0 ] || { tail -n 30 "$log" >&2; fail "virtio: guest script failed (rc $GUEST_RC)"; }
grep -q 'PCI 0x1af4:0x1059 rev 0x01 subsys 0x0019 class 0x040100' "$log" ||
  fail "virtio: PCI identity not seen by the guest"
[ "$(grep -c '^ *[0-9]* \[' "$log")" = 1 ] || fail "virtio: not exactly one sound card"
grep -q '^00-00: .* : playback 1 : capture 1' "$log" ||
  fail "virtio: no PCM with one playback and one capture substream"
[ "$(grep -c '^[0-9][0-9]-[0-9][0-9]: ' "$log")" = 1 ] || fail "virtio: more than one PCM device"
runs=$(grep '^snd-play: frames=' "$log")
[ "$(echo "$runs" | wc -l)" = 4 ] || fail "virtio: not every playback run finished: $runs"
ms=$(echo "$runs" | sed -n '1s/.* ms=\([0-9]*\).*/\1/p')
say "virtio: 3.000 s of signal (+0.120 s silence) took $ms ms in the guest"
[ "$ms" -ge 2700 ] && [ "$ms" -le 4500 ] || fail "virtio: 3 s of audio took $ms ms (not paced)"
echo "$runs" | sed -n 2p | grep -q 'xruns=[1-9]' || fail "virtio: the stalled run saw no underrun"
pms=$(echo "$runs" | sed -n '3s/.* ms=\([0-9]*\).*/\1/p')
[ "$pms" -ge 1800 ] || fail "virtio: the paused run took $pms ms: the pause did not hold"
echo "$runs" | sed -n 4p | grep -q 'drops=1' || fail "virtio: DROP with queued buffers failed"
check=$(python3 "$WAVCHECK" "$wav" main:0:144000 underrun:200000:48000 pause:300000:48000 \
  drop:400000:48000:0.4) || { echo "$check" >&2; fail "virtio: the played signal is not in the wav file"; }
echo "$check" | sed 's/^/  /' >&2
echo "$stats" | grep -q 'xfer_errors=0' || fail "virtio: transfer errors: $stats"
echo "$stats" | grep -q 'ctl_errors=0' || fail "virtio: control errors: $stats"
aero_quiet || echo "$stats" | sed 's/^/  /' >&2
say "virtio: playback, underrun, pause/resume and DROP ok"

# ---- protocol=virtio: save and restore mid-playback -------------------------------------------
cat >"$AERO_TEST_DIR/mig.sh" <<'EOF'
set -e
rmmod virtio_snd
insmod /lib/modules/virtio_snd.ko pcm_buffer_ms=2000 # ALSA's write timeout grows with it
sleep 1
echo "PLAY-START"
aero-snd-play play /dev/snd/pcmC0D0p 960000 --base 600000 --period 3840 --periods 4
EOF
snd_dev() { echo "-audiodev wav,id=a0,path=$1,out.frequency=48000,out.channels=2,out.format=s16 -device aero-virtio-snd-pci,audiodev=a0,protocol=virtio,id=snd0"; }
tx_buffers() { echo "$1" | sed -n 's/.*tx_buffers=\([0-9]*\).*/\1/p'; }
state=$AERO_TEST_DIR/snd.state
# shellcheck disable=SC2046
guest_start msrc "$AERO_TEST_DIR/mig.sh" $(snd_dev "$AERO_TEST_DIR/src.wav")
wait_for_line msrc 'PLAY-START\|^AERO-GUEST-EXIT' || fail "migrate: the guest did not start playing"
for i in $(seq 1 600); do
  [ "$(tx_buffers "$(guest_stats msrc snd0)")" -ge 60 ] 2>/dev/null && break
  guest_alive msrc || fail "migrate: the source died"
  ! grep -q '^AERO-GUEST-EXIT' "$(guest_log msrc)" ||
    { tail -n 5 "$(guest_log msrc)" >&2; fail "migrate: the player ended before the move"; }
  sleep 0.2
done
[ "$(tx_buffers "$(guest_stats msrc snd0)")" -ge 60 ] || fail "migrate: playback never got going"
out=$(guest_qmp msrc "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat > $state\"}}" \
  && wait_migration msrc) || fail "migrate: save failed: $out"
src_stats=$(guest_stats msrc snd0)
guest_stop msrc
# shellcheck disable=SC2046
guest_start mdst "$AERO_TEST_DIR/mig.sh" $(snd_dev "$AERO_TEST_DIR/dst.wav") -incoming "exec:cat $state"
wait_running mdst || { cat "$(guest_dir mdst)/qemu.out" >&2; fail "migrate: restore failed"; }
guest_wait mdst
dst_stats=$(guest_stats mdst snd0)
guest_stop mdst
[ "$GUEST_RC" = 0 ] || { tail -n 20 "$(guest_log mdst)" >&2; fail "migrate: the player failed on the destination (rc $GUEST_RC)"; }
cat "$(guest_log msrc)" "$(guest_log mdst)" | tr -d '\r' | grep -q "^snd-play: frames=960000 " ||
  fail "migrate: the player did not report the whole run"
ts=$(tx_buffers "$src_stats"); td=$(tx_buffers "$dst_stats")
[ "${td:-0}" -gt 0 ] || fail "migrate: the destination played nothing: $dst_stats"
echo "$dst_stats" | grep -q 'xfer_errors=0' || fail "migrate: transfer errors on the destination: $dst_stats"
check=$(python3 "$WAVCHECK" "$AERO_TEST_DIR/src.wav" --then "$AERO_TEST_DIR/dst.wav" mig:600000:960000) ||
  { echo "$check" >&2; fail "migrate: the signal is not intact across the move"; }
echo "$check" | sed 's/^/  /' >&2
say "migrate: saved after $ts buffers, $td more played on the destination; signal intact"

# ---- protocol=virtio: capture through the ALSA backend (file plugin) ---------------------------
if "$AERO_QEMU" -audiodev help 2>/dev/null | grep -qx alsa; then
  raw=$AERO_TEST_DIR/in.raw
  # 4 s of S16 stereo: left j % 32000 + 1 (never silence, position known mod 32000), right 0.
  # QEMU 7.2's mixer turns a capture into the device's mono by adding left and right (a mono
  # audiodev would double every sample), so the audiodev captures stereo and the sum is exact.
  python3 -c 'import struct,sys; sys.stdout.buffer.write(b"".join(struct.pack("<hh", j % 32000 + 1, 0) for j in range(192000)))' >"$raw"
  cat >"$AERO_TEST_DIR/asoundrc" <<EOF
pcm.filecap { type file; slave.pcm "null"; file "/dev/null"; infile "$raw"; format "raw" }
EOF
  img=$AERO_TEST_DIR/rec.img
  truncate -s 1M "$img"
  cat >"$AERO_TEST_DIR/rec.sh" <<'EOF'
set -e
rmmod virtio_snd
insmod /lib/modules/virtio_snd.ko pcm_buffer_ms=640
sleep 1
aero-snd-play record /dev/snd/pcmC0D0c 48000 /tmp/rec.raw --period 3840 --periods 4
dd if=/tmp/rec.raw of=/dev/vda bs=96000 count=1 conv=fsync 2>/dev/null
EOF
  ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:$AERO_TEST_DIR/asoundrc \
    guest_start rec "$AERO_TEST_DIR/rec.sh" \
    -audiodev "alsa,id=a0,in.dev=filecap,out.dev=null,in.frequency=48000,in.channels=2,in.format=s16,in.try-poll=off,in.period-length=10000,in.buffer-length=40000" \
    -device aero-virtio-snd-pci,audiodev=a0,protocol=virtio,id=snd0 \
    -drive "file=$img,if=none,id=d0,format=raw" -device aero-virtio-blk-pci,drive=d0
  guest_wait rec
  guest_stop rec
  [ "$GUEST_RC" = 0 ] || { tail -n 30 "$(guest_log rec)" >&2; fail "capture: guest script failed"; }
  grep '^snd-play: recorded' "$(guest_log rec)" >&2 || true
  python3 - "$img" <<'PY' || fail "capture: the recording does not hold the fed signal"
import struct, sys
rec = struct.unpack("<48000h", open(sys.argv[1], "rb").read(96000))
first = next((k for k, s in enumerate(rec) if s), None)
if first is None:
    sys.exit("capture: only silence recorded")
# the fed signal continues from the first non-silent sample: count samples that match it
start = rec[first] - 1
ok = sum(1 for k in range(first, 48000) if rec[k] == (start + k - first) % 32000 + 1)
frac = ok / 48000
print(f"  capture: {ok}/48000 samples bit-exact ({frac:.4f}), signal from sample {first}")
sys.exit(0 if frac >= 0.95 else 1)
PY
  say "capture: ok"
else
  say "capture: SKIPPED (QEMU without the ALSA backend)"
fi

# ---- protocol=aero (default): Linux refuses, QEMU stays healthy ---------------------------------
cat >"$AERO_TEST_DIR/aero.sh" <<'EOF'
echo "CARDS:"; cat /proc/asound/cards
dmesg | grep -i virtio_snd || true
ls /sys/bus/virtio/drivers/virtio_snd/ 2>/dev/null | grep -c virtio || true
EOF
guest_start aero "$AERO_TEST_DIR/aero.sh" -audiodev none,id=a0 -device aero-virtio-snd-pci,audiodev=a0,id=snd0
guest_wait aero
astats=$(guest_stats aero snd0)
status=$(guest_qmp aero '{"execute":"query-status"}')
guest_stop aero
alog=$(guest_log aero)
aero_quiet || sed -n '/AERO-GUEST-START/,$p' "$alog" >&2
grep -q 'no soundcards' "$alog" || fail "aero: Linux's virtio_snd created a card on the Aero encoding"
grep -qi 'virtio_snd.*\(error\|fail\|-[0-9]\)' "$alog" || fail "aero: no probe failure reported by virtio_snd"
echo "$status" | grep -q '"status"' || fail "aero: QEMU did not answer query-status"
echo "$astats" | grep -q 'ctl_requests=[1-9]' || fail "aero: the driver sent no control request"
say "aero: Linux refused the device ($(grep -m1 -o 'virtio_snd virtio[0-9]*: .*' "$alog")); QEMU healthy"
say "snd: all cases passed"
