#!/usr/bin/env bash
# Guest test, network: Linux's virtio_net drives aero-virtio-net-pci (header-len=12, as virtio
# 1.x drivers expect; PCI identity 1af4:1041 rev 01, subsystem 1af4:0001 checked).
#  slirp:        the guest sends 16 MiB to a server on the host's loopback and receives 16 MiB
#                from it; MD5s are compared on both sides. QMP set_link toggles the link and the
#                guest must see carrier go down and up (config interrupt). The guest's interface
#                counters must equal the device's own counters, and both must account for at
#                least the 16 MiB each way. The same transfer runs against QEMU's
#                virtio-net-pci as the baseline; both throughputs are printed.
#  socket:       two guests, both on aero-virtio-net-pci, joined by -netdev socket
#                (listen/connect), static addresses, 16 MiB each way at the same time with MD5s
#                compared across the guests, counters checked on both.
#  backpressure: a host peer on a socket netdev sends N frames while the VM is still paused
#                (no driver: the device refuses them, QEMU keeps them queued); Linux then loads
#                virtio_net and must receive exactly those N frames. The device must have
#                refused at least once (rx_no_buffer > 0) and delivered N (rx_frames).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SIZE=$((16 << 20))

# One "pci ..." line about eth0's PCI function, for the guest scripts.
GUEST_PCI_LINE='pci=$(readlink -f /sys/class/net/eth0/device/..)
echo "pci $(cat $pci/vendor) $(cat $pci/device) rev $(cat $pci/revision) subsys $(cat $pci/subsystem_vendor) $(cat $pci/subsystem_device) driver $(basename $(readlink /sys/class/net/eth0/device/driver))"'
GUEST_NO_IPV6='echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null || true
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6 2>/dev/null || true'
GUEST_STATS='for c in tx_packets tx_bytes rx_packets rx_bytes; do
  echo "stat $c $(cat /sys/class/net/eth0/statistics/$c)"
done'

make_guest_script() {
  local up=$1 down=$2 linktest=$3 out=$4
  cat >"$out" <<EOF
set -e
SIZE=$SIZE
$GUEST_NO_IPV6
$GUEST_PCI_LINE
EOF
  cat >>"$out" <<'EOF'
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
dd if=/dev/urandom of=/tmp/up bs=1M count=$((SIZE >> 20)) 2>/dev/null
want=$(md5sum /tmp/up | cut -d' ' -f1)
nc 10.0.2.2 @UP@ < /tmp/up > /tmp/up.reply
got=$(cut -c1-32 /tmp/up.reply)
echo "up guest-md5 $want server-md5 $got"
[ "$want" = "$got" ]
nc 10.0.2.2 @DOWN@ < /dev/null > /tmp/down
echo "down bytes $(wc -c < /tmp/down) md5 $(md5sum /tmp/down | cut -d' ' -f1)"
if [ @LINK@ = 1 ]; then
  echo "LINK-READY"
  i=0; while [ "$(cat /sys/class/net/eth0/carrier)" != 0 ]; do i=$((i+1)); [ $i -lt 600 ] || exit 3; sleep 0.1; done
  echo "LINK-DOWN-SEEN"
  i=0; while [ "$(cat /sys/class/net/eth0/carrier)" != 1 ]; do i=$((i+1)); [ $i -lt 600 ] || exit 4; sleep 0.1; done
  echo "LINK-UP-SEEN"
fi
ip link set eth0 down
EOF
  echo "$GUEST_STATS" >>"$out"
  sed -i "s/@UP@/$up/; s/@DOWN@/$down/; s/@LINK@/$linktest/" "$out"
}


# The aero device's PCI identity (CONTRACT §1) and Linux's driver on it.
check_pci_id() {
  local name=$1 log=$2 aero=$3
  if [ "$aero" = 1 ]; then
    grep -q "^pci 0x1af4 0x1041 rev 0x01 subsys 0x1af4 0x0001 driver virtio_net" "$log" ||
      fail "$name: want 1af4:1041 rev 01, subsystem 1af4:0001, driver virtio_net"
  else
    grep -q "^pci 0x1af4 0x1041 rev 0x01 .*driver virtio_net" "$log" || fail "$name: virtio_net did not bind"
  fi
}

# check_counters NAME LOG STATS MIN_TX MIN_RX: the guest's "stat" lines equal the device's
# stats line, nothing dropped, and both sides moved at least MIN_TX / MIN_RX bytes.
check_counters() {
  python3 - "$@" <<'PY'
import re, sys
name, log, st = sys.argv[1], open(sys.argv[2], errors="replace").read(), sys.argv[3]
min_tx, min_rx = int(sys.argv[4]), int(sys.argv[5])
g = dict((k, int(v)) for k, v in re.findall(r"^stat (\w+) (\d+)", log, re.M))
d = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", st.splitlines()[-1]))
pairs = [("tx_packets", "tx_frames"), ("tx_bytes", "tx_bytes"),
         ("rx_packets", "rx_frames"), ("rx_bytes", "rx_bytes")]
bad = [(a, g[a], b, d[b]) for a, b in pairs if g[a] != d[b]]
for a, gv, b, dv in bad:
    print(f"  {name}: guest {a}={gv} device {b}={dv}", file=sys.stderr)
ok = not bad and d["tx_dropped"] == 0 and d["rx_dropped"] == 0
if min(d["tx_bytes"], g["tx_bytes"]) < min_tx or min(d["rx_bytes"], g["rx_bytes"]) < min_rx:
    print(f"  {name}: tx {d['tx_bytes']} / rx {d['rx_bytes']} bytes is less than the "
          f"{min_tx} / {min_rx} sent", file=sys.stderr)
    ok = False
sys.exit(0 if ok else 1)
PY
}

# ---- slirp: 16 MiB each way to a server on the host --------------------------------------
run_case() {
  local name=$1 devargs=$2 aero=$3
  local dir="$AERO_TEST_DIR/$name-srv"
  mkdir -p "$dir"
  python3 "$AERO_REPO/tests/guest/netserver.py" $SIZE "$dir/result.json" >"$dir/ports" 2>"$dir/err" &
  local srv=$!
  local i
  for i in $(seq 1 50); do grep -q PORTS "$dir/ports" && break; sleep 0.1; done
  read -r _ up down <"$dir/ports"
  make_guest_script "$up" "$down" "$aero" "$dir/guest.sh"
  guest_start "$name" "$dir/guest.sh" -netdev user,id=n0 -device "$devargs"
  if [ "$aero" = 1 ]; then
    wait_for_line "$name" LINK-READY || fail "$name: guest never reached the link test"
    guest_qmp "$name" '{"execute":"set_link","arguments":{"name":"n0","up":false}}' >/dev/null
    wait_for_line "$name" LINK-DOWN-SEEN || fail "$name: guest did not see the link go down"
    guest_qmp "$name" '{"execute":"set_link","arguments":{"name":"n0","up":true}}' >/dev/null
  fi
  guest_wait "$name"
  wait "$srv" || fail "$name: host server failed: $(cat "$dir/err")"
  local log
  log=$(guest_log "$name")
  grep -E '^(pci|up|down|stat|LINK)' "$log" | sed "s/^/  $name: /" >&2
  [ "$GUEST_RC" = 0 ] || { tail -n 30 "$log" >&2; fail "$name: guest script failed (rc=$GUEST_RC)"; }
  check_pci_id "$name" "$log" "$aero"
  python3 - "$dir/result.json" "$log" "$name" "$SIZE" <<'PY' || fail "$name: transfer check failed"
import json, re, sys
res = json.load(open(sys.argv[1])); log = open(sys.argv[2], errors="replace").read()
name, size = sys.argv[3], int(sys.argv[4])
m = re.search(r"^down bytes (\d+) md5 ([0-9a-f]{32})", log, re.M)
assert res["up"]["bytes"] == size, "server got %d bytes" % res["up"]["bytes"]
assert m and int(m.group(1)) == size and m.group(2) == res["down"]["md5"], "download mismatch"
for d in ("up", "down"):
    mbps = res[d]["bytes"] / res[d]["seconds"] / (1 << 20)
    print(f"  {name}: {d} {res[d]['bytes'] >> 20} MiB in {res[d]['seconds']:.2f}s = {mbps:.1f} MiB/s")
PY
  if [ "$aero" = 1 ]; then
    grep -q "^LINK-UP-SEEN" "$log" || fail "$name: link did not come back"
    local st
    st=$(guest_stats "$name" nic0)
    echo "  $name: device stats: $(echo "$st" | tail -n 1)" >&2
    check_counters "$name" "$log" "$st" "$SIZE" "$SIZE" || fail "$name: guest and device counters disagree"
  fi
  guest_stop "$name"
  say "$name: PASS"
}

# ---- two guests over a socket netdev ------------------------------------------------------
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listening() {
  python3 - "$1" <<'PY'
import sys
port = int(sys.argv[1])
for line in open("/proc/net/tcp").readlines()[1:]:
    f = line.split()
    if int(f[1].split(":")[1], 16) == port and f[3] == "0A":
        sys.exit(0)
sys.exit(1)
PY
}

make_pair_script() {
  local me=$1 peer=$2 role=$3 out=$4
  cat >"$out" <<EOF
set -e
SIZE=$SIZE ME=$me PEER=$peer ROLE=$role
$GUEST_NO_IPV6
$GUEST_PCI_LINE
EOF
  cat >>"$out" <<'EOF'
dd if=/dev/urandom of=/tmp/send bs=1M count=$((SIZE >> 20)) 2>/dev/null
echo "sent md5 $(md5sum /tmp/send | cut -d' ' -f1)"
# A receiver's stdin is a FIFO nobody writes to but that stays open (busybox nc half-closes
# on stdin EOF, which would end the peer's sender early); a sender half-closes after the file
# and exits when the peer closes.
mkfifo /tmp/hold
exec 3<>/tmp/hold
if [ $ROLE = listen ]; then
  nc -l -p 5001 > /tmp/recv <&3 & r=$!
  nc -l -p 5002 < /tmp/send > /dev/null & s=$!
  sleep 1
  ip link set eth0 up
  ip addr add $ME/24 dev eth0
  t0=$(cut -d' ' -f1 /proc/uptime)
else
  ip link set eth0 up
  ip addr add $ME/24 dev eth0
  i=0; until ping -c 1 -W 1 $PEER >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 600 ] || exit 3; done
  t0=$(cut -d' ' -f1 /proc/uptime)
  nc $PEER 5002 > /tmp/recv <&3 & r=$!
  nc $PEER 5001 < /tmp/send > /dev/null & s=$!
fi
wait $s
wait $r
t1=$(cut -d' ' -f1 /proc/uptime)
echo "recv bytes $(wc -c < /tmp/recv) md5 $(md5sum /tmp/recv | cut -d' ' -f1) seconds $(awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }')"
sleep 2   # let the peer finish too before the counters are frozen
ip link set eth0 down
EOF
  echo "$GUEST_STATS" >>"$out"
}

run_socket_pair() {
  local port i
  port=$(free_port)
  make_pair_script 10.9.0.1 10.9.0.2 listen "$AERO_TEST_DIR/pair-a.sh"
  make_pair_script 10.9.0.2 10.9.0.1 connect "$AERO_TEST_DIR/pair-b.sh"
  guest_start sock-a "$AERO_TEST_DIR/pair-a.sh" -netdev "socket,id=n0,listen=127.0.0.1:$port" \
    -device aero-virtio-net-pci,netdev=n0,id=nic0,header-len=12,mac=52:54:00:09:00:01
  for i in $(seq 1 100); do listening "$port" && break; sleep 0.1; done
  listening "$port" || fail "sock-a: QEMU does not listen on $port"
  guest_start sock-b "$AERO_TEST_DIR/pair-b.sh" -netdev "socket,id=n0,connect=127.0.0.1:$port" \
    -device aero-virtio-net-pci,netdev=n0,id=nic0,header-len=12,mac=52:54:00:09:00:02
  # Either guest can give up first, and the other would then wait for it until the timeout:
  # watch both, and fail as soon as one of them fails.
  local t
  for t in $(seq 1 "$AERO_GUEST_TIMEOUT"); do
    grep -q '^AERO-GUEST-EXIT ' "$(guest_log sock-a)" 2>/dev/null && break
    if grep -q '^AERO-GUEST-EXIT [1-9]' "$(guest_log sock-b)" 2>/dev/null; then
      tail -n 30 "$(guest_log sock-b)" >&2
      fail "sock-b: guest script failed ($(grep '^AERO-GUEST-EXIT' "$(guest_log sock-b)"))"
    fi
    check_device_errors sock-a
    check_device_errors sock-b
    sleep 1
  done
  guest_wait sock-a
  local rc_a=$GUEST_RC
  guest_wait sock-b
  local rc_b=$GUEST_RC
  local la lb
  la=$(guest_log sock-a)
  lb=$(guest_log sock-b)
  grep -E '^(pci|sent|recv|stat)' "$la" | sed "s/^/  sock-a: /" >&2
  grep -E '^(pci|sent|recv|stat)' "$lb" | sed "s/^/  sock-b: /" >&2
  [ "$rc_a" = 0 ] || { tail -n 30 "$la" >&2; fail "sock-a: guest script failed (rc=$rc_a)"; }
  [ "$rc_b" = 0 ] || { tail -n 30 "$lb" >&2; fail "sock-b: guest script failed (rc=$rc_b)"; }
  check_pci_id sock-a "$la" 1
  check_pci_id sock-b "$lb" 1
  python3 - "$la" "$lb" "$SIZE" <<'PY' || fail "socket: transfer check failed"
import re, sys
a, b = (open(p, errors="replace").read() for p in sys.argv[1:3])
size = int(sys.argv[3])
def get(log):
    sent = re.search(r"^sent md5 ([0-9a-f]{32})", log, re.M).group(1)
    m = re.search(r"^recv bytes (\d+) md5 ([0-9a-f]{32}) seconds ([0-9.]+)", log, re.M)
    return sent, int(m.group(1)), m.group(2), float(m.group(3))
sa, na, ra, ta = get(a)
sb, nb, rb, tb = get(b)
assert na == size and ra == sb, f"b->a: {na} bytes, md5 {ra} != {sb}"
assert nb == size and rb == sa, f"a->b: {nb} bytes, md5 {rb} != {sa}"
for who, t in (("a", ta), ("b", tb)):
    print(f"  socket: guest {who}: {size >> 20} MiB each way at once in {t:.2f}s "
          f"= {2 * size / t / (1 << 20):.1f} MiB/s both directions together", file=sys.stderr)
PY
  local g st
  for g in sock-a sock-b; do
    st=$(guest_stats "$g" nic0)
    echo "  $g: device stats: $(echo "$st" | tail -n 1)" >&2
    check_counters "$g" "$(guest_log "$g")" "$st" "$SIZE" "$SIZE" || fail "$g: guest and device counters disagree"
  done
  guest_stop sock-a
  guest_stop sock-b
  say "socket pair: PASS"
}

# ---- backpressure: frames that arrive before the driver -----------------------------------
FRAMES=600
run_backpressure() {
  local name=backpressure dir="$AERO_TEST_DIR/backpressure-peer" port peer i
  mkdir -p "$dir"
  # Host peer: accepts QEMU's socket netdev connection, sends FRAMES 60-byte frames to the
  # guest's MAC (QEMU's framing: a 4-byte big-endian length before each) in one write, and
  # keeps the connection open until QEMU goes away.
  python3 - "$FRAMES" "$dir" <<'PY' &
import os, socket, struct, sys
n, d = int(sys.argv[1]), sys.argv[2]
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
open(os.path.join(d, "port.tmp"), "w").write(str(ls.getsockname()[1]))
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
ls.settimeout(60)
c, _ = ls.accept()
dst, src = bytes.fromhex("525400123477"), bytes.fromhex("5254000000aa")
frames = b"".join(struct.pack(">I", 60) + dst + src + b"\x88\xb5" + struct.pack(">I", i) + bytes(42)
                  for i in range(n))
c.sendall(frames)
open(os.path.join(d, "sent"), "w").write(str(n))
c.settimeout(600)
try:
    while c.recv(65536):
        pass
except OSError:
    pass
PY
  peer=$!
  for i in $(seq 1 100); do [ -f "$dir/port" ] && break; sleep 0.1; done
  [ -f "$dir/port" ] || fail "$name: the host peer did not start"
  port=$(cat "$dir/port")
  cat >"$dir/guest.sh" <<EOF
FRAMES=$FRAMES
$GUEST_NO_IPV6
$GUEST_PCI_LINE
EOF
  cat >>"$dir/guest.sh" <<'EOF'
ip link set eth0 up
i=0
while [ "$(cat /sys/class/net/eth0/statistics/rx_packets)" -lt $FRAMES ]; do
  i=$((i + 1)); [ $i -lt 300 ] || break
  sleep 0.1
done
sleep 1
ip link set eth0 down
EOF
  echo "$GUEST_STATS" >>"$dir/guest.sh"
  # -S: the frames arrive while the VM is paused and nothing can take them.
  guest_start "$name" "$dir/guest.sh" -S -netdev "socket,id=n0,connect=127.0.0.1:$port" \
    -device aero-virtio-net-pci,netdev=n0,id=nic0,header-len=12,mac=52:54:00:12:34:77
  for i in $(seq 1 100); do [ -f "$dir/sent" ] && break; sleep 0.1; done
  [ -f "$dir/sent" ] || fail "$name: the host peer could not send its frames"
  sleep 1
  guest_qmp "$name" '{"execute":"cont"}' >/dev/null
  guest_wait "$name"
  local log st
  log=$(guest_log "$name")
  grep -E '^(pci|stat)' "$log" | sed "s/^/  $name: /" >&2
  [ "$GUEST_RC" = 0 ] || { tail -n 30 "$log" >&2; fail "$name: guest script failed (rc=$GUEST_RC)"; }
  check_pci_id "$name" "$log" 1
  st=$(guest_stats "$name" nic0)
  echo "  $name: device stats: $(echo "$st" | tail -n 1)" >&2
  guest_stop "$name"
  kill "$peer" 2>/dev/null || true
  wait "$peer" 2>/dev/null || true
  python3 - "$log" "$st" "$FRAMES" <<'PY' || fail "$name: frames sent before the driver loaded were lost"
import re, sys
log, st, n = open(sys.argv[1], errors="replace").read(), sys.argv[2], int(sys.argv[3])
g = dict((k, int(v)) for k, v in re.findall(r"^stat (\w+) (\d+)", log, re.M))
d = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", st.splitlines()[-1]))
ok = True
def check(cond, msg):
    global ok
    if not cond:
        print("  backpressure: " + msg, file=sys.stderr)
        ok = False
check(g["rx_packets"] == n, f"guest received {g['rx_packets']} frames, the peer sent {n}")
check(g["rx_bytes"] == 60 * n, f"guest rx_bytes {g['rx_bytes']}, want {60 * n}")
check(d["rx_frames"] == n, f"device rx_frames {d['rx_frames']}, the peer sent {n}")
check(d["rx_bytes"] == 60 * n, f"device rx_bytes {d['rx_bytes']}, want {60 * n}")
check(d["rx_no_buffer"] > 0, "the device never refused a frame (rx_no_buffer = 0)")
check(d["rx_dropped"] == 0, f"device dropped {d['rx_dropped']} frames")
sys.exit(0 if ok else 1)
PY
  say "$name: $FRAMES frames queued before the driver all arrived; PASS"
}

run_case aero "aero-virtio-net-pci,netdev=n0,id=nic0,header-len=12" 1
run_case stock "virtio-net-pci,netdev=n0,id=nic0,disable-legacy=on,romfile=" 0
run_socket_pair
run_backpressure
say "test-net: all cases passed"
