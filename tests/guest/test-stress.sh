#!/usr/bin/env bash
# Guest test, ring-index stress (issue 16): a -smp 1 guest keeps aero blk (INTx, no EVENT_IDX:
# every completion is an avail/used index round trip) and aero net (MSI-X, EVENT_IDX) busy at
# once -- fio 4k randrw at QD32 with 2 jobs, and a TCP stream both ways through slirp to an
# echo server on the host's loopback -- while QEMU runs with tests/guest/tearcopy.c preloaded,
# which makes every 2-byte memcpy() pause between its two bytes. A device that read a ring index
# with a byte copy would see a torn value ("avail.idx ... is 256 entries ahead") within seconds
# and put itself into NEEDS_RESET; ours reads and writes each index with one 16-bit access.
# The test fails on any device error, on fio errors, or when either device moved too little.
#
#   AERO_STRESS_SECONDS  load duration (default 40)
#   AERO_TEAR_NS         pause inside a 2-byte copy (default 20000)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SECONDS_LOAD=${AERO_STRESS_SECONDS:-40}
tear=$AERO_TEST_DIR/tearcopy.so
cc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$tear" "$AERO_REPO/tests/guest/tearcopy.c" ||
  fail "cannot build tests/guest/tearcopy.c"

# Host echo server: every connection gets back what it sends (both rings of the NIC busy).
python3 - "$AERO_TEST_DIR/echo.port" <<'PY' &
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(4)
s.settimeout(900)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
def echo(c):
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)
    except OSError:
        pass
    c.close()
while True:
    try:
        c, _ = s.accept()
    except OSError:
        break
    threading.Thread(target=echo, args=(c,), daemon=True).start()
PY
echo_pid=$!
trap 'kill $echo_pid 2>/dev/null || true; guest_cleanup' EXIT
for _ in $(seq 1 50); do [ -s "$AERO_TEST_DIR/echo.port" ] && break; sleep 0.1; done
port=$(cat "$AERO_TEST_DIR/echo.port" 2>/dev/null) || fail "echo server did not start"

cat >"$AERO_TEST_DIR/stress-guest.sh" <<EOF
S=$SECONDS_LOAD
PORT=$port
EOF
cat >>"$AERO_TEST_DIR/stress-guest.sh" <<'EOF'
set -e
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null || true
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo "load-start"
fio --name=stress --filename=/dev/vda --direct=1 --ioengine=libaio --iodepth=32 --numjobs=2 \
    --rw=randrw --bs=4k --size=128M --runtime=$S --time_based --group_reporting \
    >/tmp/fio.txt 2>&1 &
fio_pid=$!
timeout $S nc 10.0.2.2 $PORT </dev/zero >/dev/null 2>&1 &
timeout $S nc 10.0.2.2 $PORT </dev/zero >/dev/null 2>&1 &
rc=0
wait $fio_pid || rc=$?
wait || true
grep -E "read: IOPS|write: IOPS|err=" /tmp/fio.txt | sed 's/^ */fio /'
[ $rc = 0 ] || { cat /tmp/fio.txt; echo "fio failed rc=$rc"; exit 1; }
for c in tx_bytes rx_bytes; do echo "net $c $(cat /sys/class/net/eth0/statistics/$c)"; done
EOF

img=$AERO_TEST_DIR/stress.img
truncate -s 256M "$img"
say "stress: ${SECONDS_LOAD}s of blk + net load with 2-byte copies torn on purpose"
LD_PRELOAD=$tear AERO_TEAR_NS=${AERO_TEAR_NS:-20000} \
  guest_start stress "$AERO_TEST_DIR/stress-guest.sh" \
  -drive "file=$img,if=none,id=d0,format=raw,cache=writeback" \
  -device aero-virtio-blk-pci,drive=d0,id=blk0,vectors=0,event-idx=off \
  -netdev user,id=n0 -device aero-virtio-net-pci,netdev=n0,id=net0,header-len=12
# Device errors are reported with the time since the load started (not since boot).
wait_for_line stress '^load-start' || fail "stress: the guest never started its load"
date +%s >"$(guest_dir stress)/started"
guest_wait stress
log=$(guest_log stress)
grep -E '^(fio|net) ' "$log" | sed 's/^/  stress: /' >&2
[ "$GUEST_RC" = 0 ] || { tail -n 30 "$log" >&2; fail "stress: guest script failed (rc=$GUEST_RC)"; }
blk_stats=$(guest_stats stress blk0)
net_stats=$(guest_stats stress net0)
echo "  stress: blk0: $(echo "$blk_stats" | tr '\n' ' ')" >&2
echo "  stress: net0: $(echo "$net_stats" | tr '\n' ' ')" >&2
guest_stop stress
grep -h '^tearcopy:' "$(guest_dir stress)/qemu.out" | sed 's/^/  stress: /' >&2 || true

python3 - "$log" "$blk_stats" "$net_stats" <<'PY' || fail "stress: too little load or device errors"
import re, sys
log, blk, net = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(log, errors="replace").read()
def total(stats, key):
    return sum(int(v) for v in re.findall(rf"\b{key}=(\d+)", stats))
ok = True
for name, stats in (("blk", blk), ("net", net)):
    req = total(stats, "requests")
    err = total(stats, "guest_errors") + total(stats, "io_errors")
    print(f"  stress: {name}: {req} requests, {err} errors", file=sys.stderr)
    ok &= err == 0 and req >= 1000
rx = int(re.search(r"^net rx_bytes (\d+)", text, re.M).group(1))
tx = int(re.search(r"^net tx_bytes (\d+)", text, re.M).group(1))
ok &= rx >= 1 << 20 and tx >= 1 << 20
sys.exit(0 if ok else 1)
PY
say "stress: no torn index, no device error; PASS"
