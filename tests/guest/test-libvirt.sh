#!/usr/bin/env bash
# Guest test, libvirt: the path a user takes. `aero-media domain ... --connect qemu:///embed?root=DIR
# --start` defines and starts a domain (libvirt's embedded QEMU driver: no daemon) that boots the
# Linux test guest from a bootable ISO on a SATA CD-ROM, with the disk on aero-virtio-blk-pci, the
# NIC on aero-virtio-net-pci, keyboard/mouse/tablet on the aero input functions and sound on
# aero-virtio-snd-pci (--sound on, protocol=virtio, a WAV file as libvirt's <audio>), all native
# libvirt devices switched by <qemu:override>. The guest is the 6.12 test guest (its kernel has
# virtio_snd). The host reads the serial console through libvirt (tests/guest/virt-console.c),
# injects input through libvirt, and checks what the guest saw on each device: PCI identities
# and drivers, a fio write+verify on the disk, 8 MiB each way over the NIC (MD5 on both ends),
# the key, motion, wheel and tablet events, a 1 s signal played found bit-exactly in the WAV
# file; then the device counters and libvirt's block stats of the disk (virDomainBlockStats
# matches the fio run; `virsh domblkstat` sees SeaBIOS read the Windows domain's disk).
# Also checked: the generated XML passes virt-xml-validate; a second define of the same name and
# an existing disk are refused with one line, changing nothing; and `aero-media vm` on a synthetic
# Windows 7 ISO defines and starts (paused) the Windows domain under SeaBIOS and under OVMF.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
AERO_GUEST_KIND=612 # lib.sh: the 6.12 guest, whose kernel has virtio_snd
. "$HERE/lib.sh"
. "$HERE/libvirt-lib.sh"

AM=$(aero_media)
VC=$(virt_console)
[ -x "$AM" ] || fail "$AM is missing (meson compile -C build)"
[ -x "$VC" ] || fail "$VC is missing (meson compile -C build; needs libvirt-dev)"
SIZE=$((8 << 20))
NAME=aero-libvirt-test
ROOT=$AERO_TEST_DIR/lv
URI=$(embed_root "$ROOT")
DIR=$AERO_TEST_DIR/libvirt
mkdir -p "$DIR"
srv=
cleanup() {
  [ -z "$srv" ] || kill "$srv" 2>/dev/null || true # (the server has usually exited already)
  virsh -q -c "$URI" destroy "$NAME" >/dev/null 2>&1 || true
  virsh -q -c "$URI" undefine "$NAME" >/dev/null 2>&1 || true
  [ "$AERO_KEEP" = 1 ] || rm -rf "$AERO_TEST_DIR"
}
trap cleanup EXIT

# ---- the guest's script and its ISO ---------------------------------------------------------
python3 "$AERO_REPO/tests/guest/netserver.py" $SIZE "$DIR/net.json" >"$DIR/ports" 2>"$DIR/net.err" &
srv=$!
for i in $(seq 1 50); do grep -q PORTS "$DIR/ports" && break; sleep 0.1; done
read -r _ UP DOWN <"$DIR/ports"
cat >"$DIR/guest.sh" <<EOF
SIZE=$SIZE
UP=$UP
DOWN=$DOWN
EOF
cat >>"$DIR/guest.sh" <<'EOF'
set -e
for d in /sys/bus/pci/devices/*; do
  [ "$(cat $d/vendor)" = 0x1af4 ] || continue
  drv=none; [ -e $d/driver ] && drv=$(basename $(readlink $d/driver))
  echo "pci $(basename $d) $(cat $d/vendor) $(cat $d/device) rev $(cat $d/revision) subsys $(cat $d/subsystem_device) driver $drv"
done
echo "blk serial $(cat /sys/block/vda/serial 2>/dev/null) sectors $(cat /sys/block/vda/size)"
rmmod virtio_snd && insmod /lib/modules/virtio_snd.ko pcm_buffer_ms=640 # more buffer under TCG
sleep 1
aero-snd-play play /dev/snd/pcmC0D0p 48000 --base 700000 --period 3840 --periods 4
fio --name=verify --filename=/dev/vda --direct=1 --ioengine=libaio --iodepth=8 --rw=write --bs=64k \
    --size=16M --verify=crc32c --do_verify=1 --output-format=terse --terse-version=3 >/tmp/fio.out
echo "blk fio write+verify 16MiB ok"
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
dd if=/dev/urandom of=/tmp/up bs=1M count=$((SIZE >> 20)) 2>/dev/null
want=$(md5sum /tmp/up | cut -d' ' -f1)
nc 10.0.2.2 $UP < /tmp/up > /tmp/up.reply
echo "net up guest-md5 $want server-md5 $(cut -c1-32 /tmp/up.reply)"
nc 10.0.2.2 $DOWN < /dev/null > /tmp/down
echo "net down bytes $(wc -c < /tmp/down) md5 $(md5sum /tmp/down | cut -d' ' -f1)"
evnode() { awk -v n="$1" '/^N: Name=/ { hit = ($0 ~ n) } hit && /^H: Handlers=/ { for (i = 1; i <= NF; i++) if ($i ~ /^event/) { sub(/^.*=/, "", $i); print $i; exit } }' /proc/bus/input/devices; }
decode() { od -An -v -w24 -td4 "$1" | awk -v dev="$2" '$5 % 65536 != 0 { printf "input %s type %d code %d value %d\n", dev, $5 % 65536, int($5 / 65536), $6 }'; }
pids=
for n in Keyboard Mouse Tablet; do
  cat /dev/input/$(evnode "Aero Virtio $n") > /tmp/$n.bin & pids="$pids $!"
done
sleep 1
echo "INPUT-READY"
i=0
while ! decode /tmp/Keyboard.bin kbd | grep -q "code 30 value 0"; do
  i=$((i + 1)); [ $i -lt 300 ] || { echo "no key arrived"; break; }
  sleep 0.2
done
sleep 0.5
for n in Keyboard Mouse Tablet; do decode /tmp/$n.bin $n; done
for c in rx_bytes tx_bytes; do echo "net stat $c $(cat /sys/class/net/eth0/statistics/$c)"; done
echo "COUNTERS-READY"
i=0
while ! decode /tmp/Keyboard.bin kbd | grep -q "code 48 value 0"; do
  i=$((i + 1)); [ $i -lt 300 ] || { echo "the host never finished reading the counters"; exit 5; }
  sleep 0.2
done
kill $pids
EOF
guest_iso "$DIR/guest.iso" "$DIR/guest.sh"

# ---- the XML alone: valid for libvirt's schema, nothing created ------------------------------
"$AM" domain --quiet --name "$NAME" --iso "$DIR/guest.iso" --disk "$DIR/disk.qcow2" --net-header-len 12 \
  --accel tcg --output "$DIR/domain.xml"
virt-xml-validate "$DIR/domain.xml" >/dev/null || fail "virt-xml-validate rejects the domain XML"
[ ! -e "$DIR/disk.qcow2" ] || fail "writing the XML created the disk"

# ---- define and start through libvirt, then watch the guest ---------------------------------
say "libvirt: aero-media domain --connect $URI --start"
t0=$(date +%s.%N)
"$AM" domain --name "$NAME" --iso "$DIR/guest.iso" --disk "$DIR/disk.qcow2" --disk-size 256M \
  --memory 1024 --vcpus 1 --net-header-len 12 --accel tcg --connect "$URI" --start --paused \
  --sound on --sound-protocol virtio --audio "file=$DIR/snd.wav" \
  >"$DIR/domain.out" 2>&1 || { cat "$DIR/domain.out" >&2; fail "aero-media domain --start failed"; }
t1=$(date +%s.%N)
grep -q "vncdisplay $NAME" "$DIR/domain.out" || fail "aero-media did not say how to watch the VM"
[ -f "$DIR/disk.qcow2" ] || fail "the disk was not created"
rc=0
"$VC" "$URI" "$NAME" "$AERO_GUEST_TIMEOUT" ua-aero-disk ua-aero-nic ua-aero-kbd ua-aero-mouse ua-aero-tablet \
  ua-aero-snd >"$DIR/console.raw" 2>"$DIR/console.err" || rc=$?
t2=$(date +%s.%N)
log=$DIR/console.log
tr -d '\r' <"$DIR/console.raw" >"$log" # the serial console ends its lines with CR LF
grep -E '^(pci|blk|net|input|snd-play:) ' "$log" | sed 's/^/  /' >&2
[ "$rc" = 0 ] || { tail -n 30 "$log" "$DIR/console.err" >&2; fail "guest script failed through libvirt (rc=$rc)"; }
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "  aero-media domain --start: %.1f s; start to guest result: %.1f s\n", b - a, c - b }' >&2

# every aero function is there, with its contract identity, driven by Linux's virtio drivers
for want in "0x1042 rev 0x01 subsys 0x0002 driver virtio-pci" "0x1041 rev 0x01 subsys 0x0001 driver virtio-pci" \
            "0x1052 rev 0x01 subsys 0x0010 driver virtio-pci" "0x1052 rev 0x01 subsys 0x0011 driver virtio-pci" \
            "0x1052 rev 0x01 subsys 0x0012 driver virtio-pci" "0x1059 rev 0x01 subsys 0x0019 driver virtio-pci"; do
  grep -q "^pci .* 0x1af4 $want" "$log" || fail "guest does not see 1af4:$want"
done
# the three input functions share one slot: functions 0, 1, 2
[ "$(grep '^pci .* 0x1052 ' "$log" | awk '{print $2}' | sed 's/\.[0-7]$//' | sort -u | wc -l)" = 1 ] ||
  fail "input functions are not in one slot"
grep -q "^blk serial AERO-DISK0 sectors 524288" "$log" || fail "disk serial or size wrong"
grep -q "^blk fio write+verify 16MiB ok" "$log" || fail "fio write+verify on the aero disk failed"
python3 - "$DIR/net.json" "$log" "$SIZE" <<'PY' || fail "network transfer through the aero NIC failed"
import json, re, sys
res = json.load(open(sys.argv[1])); log = open(sys.argv[2], errors="replace").read(); size = int(sys.argv[3])
up = re.search(r"^net up guest-md5 (\w+) server-md5 (\w+)", log, re.M)
down = re.search(r"^net down bytes (\d+) md5 (\w+)", log, re.M)
assert up and up.group(1) == up.group(2) == res["up"]["md5"] and res["up"]["bytes"] == size, "upload"
assert down and int(down.group(1)) == size and down.group(2) == res["down"]["md5"], "download"
PY
for ev in "Keyboard type 1 code 30 value 1" "Keyboard type 1 code 30 value 0" "Mouse type 2 code 0 value 25" \
          "Mouse type 2 code 1 value -10" "Mouse type 2 code 8 value 1" "Tablet type 3 code 0 value 16384" \
          "Tablet type 3 code 1 value 8192"; do
  grep -q "^input $ev\$" "$log" || fail "guest did not read '$ev' from its aero input device"
done
# the device counters, read over QMP through libvirt while the guest waited
python3 - "$log" "$SIZE" <<'PY' || fail "device counters do not show the guest's work"
import re, sys
log = open(sys.argv[1], errors="replace").read(); size = int(sys.argv[2])
def stats(alias):
    m = re.search(r"^-- %s\n(.*?)(?=^-- |^==|\Z)" % alias, log, re.M | re.S)
    assert m, "no stats for " + alias
    return m.group(1)
def total(text, key):  # "errors" also sums guest_errors= and io_errors=
    return sum(int(v) for v in re.findall(r"\b(?:guest_|io_)?%s=(\d+)" % key, text))
blk = stats("ua-aero-disk"); nic = stats("ua-aero-nic"); kbd = stats("ua-aero-kbd"); snd = stats("ua-aero-snd")
assert total(blk, "requests") >= 2 * 256, "blk requests: " + blk   # 16 MiB in 64 KiB, written and read
assert total(blk, "errors") == 0, "blk errors: " + blk
assert re.search(r"rx_bytes=(\d+)", nic) and int(re.search(r"rx_bytes=(\d+)", nic).group(1)) >= size, "net rx: " + nic
assert re.search(r"tx_bytes=(\d+)", nic) and int(re.search(r"tx_bytes=(\d+)", nic).group(1)) >= size, "net tx: " + nic
assert total(kbd, "requests") >= 0 and re.search(r"events=(\d+)", kbd), "kbd: " + kbd
assert re.search(r"tx_bytes=(\d+)", snd) and int(re.search(r"tx_bytes=(\d+)", snd).group(1)) >= 48000 * 4, "snd: " + snd
assert "xfer_errors=0" in snd and "ctl_errors=0" in snd, "snd errors: " + snd
for alias in ("ua-aero-disk", "ua-aero-nic", "ua-aero-kbd", "ua-aero-mouse", "ua-aero-tablet", "ua-aero-snd"):
    print("  %s: %s" % (alias, stats(alias).strip().splitlines()[-1]), file=sys.stderr)
PY
# libvirt's block stats of the aero disk (virDomainBlockStats, read at COUNTERS-READY): libvirt
# finds them under the disk's virtio-backend child (qdev /machine/peripheral/ua-aero-disk/
# virtio-backend). The guest wrote nothing to vda but fio's 16 MiB, then read them back to verify;
# every request libvirt counts is one the device counted too.
python3 - "$log" <<'PY' || fail "virDomainBlockStats on vda does not show the guest's fio run"
import re, sys
log = open(sys.argv[1], errors="replace").read()
m = re.search(r"^vda rd_req (\d+) rd_bytes (\d+) wr_req (\d+) wr_bytes (\d+)$", log, re.M)
assert m, "no block stats: " + (re.search(r"^vda: .*", log, re.M) or re.search(r"^== libvirt block stats.*", log, re.M)).group(0)
rd_req, rd_bytes, wr_req, wr_bytes = map(int, m.groups())
dev = re.search(r"^-- ua-aero-disk\n(.*?)(?=^-- |^==|\Z)", log, re.M | re.S).group(1)
device_requests = sum(int(v) for v in re.findall(r"\brequests=(\d+)", dev))
mib = 1 << 20
assert wr_bytes == 16 * mib, "wr_bytes %d, fio wrote %d" % (wr_bytes, 16 * mib)
assert rd_bytes >= 16 * mib, "rd_bytes %d, fio read back %d" % (rd_bytes, 16 * mib)
assert 1 <= wr_req <= wr_bytes // 512 and 1 <= rd_req <= rd_bytes // 512, "requests %d/%d" % (rd_req, wr_req)
assert rd_req + wr_req <= device_requests, "libvirt counts %d requests, the device %d" % (rd_req + wr_req, device_requests)
print("  virDomainBlockStats vda: rd_req %d rd_bytes %d wr_req %d wr_bytes %d (device requests %d)"
      % (rd_req, rd_bytes, wr_req, wr_bytes, device_requests), file=sys.stderr)
PY
grep -q '^snd-play: frames=48000 ' "$log" || fail "the guest's playback on the aero sound device did not finish"
# libvirt's <audio type='file'>: QEMU's wav backend, complete once QEMU has exited (the guest
# powers off when its script ends: on_poweroff destroy)
for i in $(seq 1 100); do
  [ "$(virsh -q -c "$URI" domstate "$NAME" 2>/dev/null)" = "shut off" ] && break
  sleep 0.3
done
virsh -q -c "$URI" destroy "$NAME" >/dev/null 2>&1 || true
check=$(python3 "$AERO_REPO/tests/guest/snd-wavcheck.py" "$DIR/snd.wav" libvirt:700000:48000) ||
  { echo "$check" >&2; fail "the guest's signal is not in libvirt's audio file"; }
echo "$check" | sed 's/^/  /' >&2

# ---- refusals: one line, nothing changed ----------------------------------------------------
cp "$DIR/disk.qcow2" "$DIR/disk.before"
set +e
out=$("$AM" domain --quiet --name "$NAME" --iso "$DIR/guest.iso" --disk "$DIR/other.qcow2" --net-header-len 12 \
  --accel tcg --connect "$URI" --define 2>&1); st=$?
set -e
[ $st = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "already defined" ||
  fail "a second define of $NAME was not refused with one line: $out"
[ ! -e "$DIR/other.qcow2" ] || fail "a refused define created its disk"
set +e
out=$("$AM" domain --quiet --name "$NAME-2" --iso "$DIR/guest.iso" --disk "$DIR/disk.qcow2" --net-header-len 12 \
  --accel tcg --connect "$URI" --define 2>&1); st=$?
set -e
[ $st = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "disk exists" ||
  fail "an existing disk was not refused with one line: $out"
cmp -s "$DIR/disk.qcow2" "$DIR/disk.before" || fail "a refused define changed the existing disk"
virsh -q -c "$URI" list --all --name | grep -qx "$NAME-2" && fail "a refused define left a domain"

# ---- the Windows domains themselves: libvirt defines them and QEMU starts them (paused) ------
# (no Windows here: a synthetic Windows 7 ISO; this checks libvirt and QEMU accept every element
# of the XML aero-media vm writes, under SeaBIOS and under OVMF)
W=$DIR/win
mkdir -p "$W"
/usr/bin/python3 "$AERO_REPO/tests/media/mkwin7.py" iso "$W/win7.iso" --arch x64 --images 1 >/dev/null 2>&1 ||
  fail "mkwin7.py could not write a synthetic Windows 7 ISO"
python3 "$AERO_REPO/tests/media/fixtures.py" drivers "$W/drv" --layout virtio-win
for fw in bios uefi; do
  "$AM" vm --quiet --iso "$W/win7.iso" --drivers "$W/drv" --name "aero-win7-$fw" --disk "$W/$fw.qcow2" \
    --disk-size 1G --firmware $fw --accel tcg --connect "$URI" --paused >"$W/$fw.out" 2>&1 ||
    { cat "$W/$fw.out" >&2; fail "aero-media vm --firmware $fw could not define and start the Windows domain"; }
  state=$(virsh -q -c "$URI" domstate "aero-win7-$fw")
  if [ "$fw" = bios ] && [ "$state" = paused ]; then
    # `virsh domblkstat` on the aero disk: SeaBIOS reads the empty disk's boot sector through the
    # aero option ROM before it boots the CD; libvirt's counters must show that read.
    virsh -q -c "$URI" resume "aero-win7-$fw" >/dev/null
    rd=0
    end=$((SECONDS + 120))
    while [ $SECONDS -lt $end ]; do
      virsh -q -c "$URI" domblkstat "aero-win7-$fw" vda >"$W/domblkstat.out" 2>&1 ||
        { cat "$W/domblkstat.out" >&2; fail "virsh domblkstat aero-win7-$fw vda failed"; }
      rd=$(awk '$2 == "rd_req" { print $3 }' "$W/domblkstat.out")
      [ "${rd:-0}" -gt 0 ] && break
      sleep 0.3
    done
    rdb=$(awk '$2 == "rd_bytes" { print $3 }' "$W/domblkstat.out")
    [ "${rd:-0}" -gt 0 ] && [ "${rdb:-0}" -ge 512 ] ||
      { cat "$W/domblkstat.out" >&2; fail "virsh domblkstat shows no firmware read of the aero disk"; }
    echo "  virsh domblkstat aero-win7-bios vda: rd_req $rd rd_bytes $rdb (SeaBIOS through the option ROM)" >&2
  fi
  virsh -q -c "$URI" destroy "aero-win7-$fw" >/dev/null 2>&1 || true
  virsh -q -c "$URI" undefine --nvram "aero-win7-$fw" >/dev/null 2>&1 || true
  [ "$state" = paused ] || fail "Windows domain ($fw) is '$state', not paused"
done
echo "ok - libvirt: aero-media vm defines and starts the Windows 7 domain under SeaBIOS and OVMF"
echo "ok - libvirt: Linux guest booted from a SATA CD-ROM through aero-media domain --start; blk, net, input, snd and libvirt's block stats checked"
