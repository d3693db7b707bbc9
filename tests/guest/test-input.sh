#!/usr/bin/env bash
# Guest test, input: Linux's virtio_input binds the keyboard (fn 0), mouse (fn 1) and tablet
# (fn 2). The host injects a scripted sequence through QMP input-send-event (letters, modifiers,
# arrows, F-keys, relative motion, wheel, five mouse buttons, absolute positions at the corners
# of the range); the guest reads /dev/input/event* and the exact (type, code, value) sequence per
# device must match, after the same filtering the Linux input core applies (unchanged values
# and empty frames are not reported). The guest also writes an LED event to the keyboard, which
# reaches the device through statusq and shows up in its counters. Wrong function placement must
# be refused by QEMU with a clear error.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# ---- placement errors -----------------------------------------------------------------------
check_refused() {
  local what=$1 want=$2
  shift 2
  local out
  if out=$("$AERO_QEMU" -accel tcg -machine pc -nodefaults -display none -S \
      -L /usr/share/seabios -L /usr/share/qemu "$@" -qmp stdio \
      </dev/null 2>&1); then
    fail "placement '$what' was accepted"
  fi
  echo "$out" | grep -q "$want" || fail "placement '$what': unexpected message: $out"
  say "placement '$what' refused: $(echo "$out" | grep -m1 "$want")"
}
check_refused "keyboard without multifunction" "add multifunction=on" \
  -device aero-virtio-keyboard-pci,addr=0x6.0
check_refused "mouse on function 0" "must be PCI function 1" \
  -device aero-virtio-mouse-pci,addr=0x6.0
check_refused "tablet on function 1" "must be PCI function 2" \
  -device aero-virtio-keyboard-pci,addr=0x6.0,multifunction=on \
  -device aero-virtio-tablet-pci,addr=0x6.1

# ---- the scripted sequence ------------------------------------------------------------------
cat >"$AERO_TEST_DIR/input-guest.sh" <<'EOF'
evnode() { awk -v n="$1" '/^N: Name=/ { hit = ($0 ~ n) } hit && /^H: Handlers=/ { for (i = 1; i <= NF; i++) if ($i ~ /^event/) { sub(/^.*=/, "", $i); print $i; exit } }' /proc/bus/input/devices; }
for n in Keyboard Mouse Tablet; do
  d=$(grep -l "Aero Virtio $n" /sys/bus/virtio/devices/*/input/input*/name | head -n 1)
  [ -n "$d" ] || { echo "no Aero Virtio $n"; exit 1; }
  pci=$(readlink -f "$(dirname "$(dirname "$(dirname "$d")")")/..")
  echo "dev $n $(basename $pci) $(cat $pci/device) subsys $(cat $pci/subsystem_device)"
done
# Re-bind the mouse so it becomes QEMU's most recently activated pointer: button events go
# to the mouse, absolute motion to the tablet (the only absolute device).
m=$(basename "$(readlink -f "$(dirname "$(grep -l 'Aero Virtio Mouse' /sys/bus/virtio/devices/*/input/input*/name)")/../..")")
echo "$m" > /sys/bus/virtio/drivers/virtio_input/unbind
echo "$m" > /sys/bus/virtio/drivers/virtio_input/bind
sleep 1
K=$(evnode "Aero Virtio Keyboard"); M=$(evnode "Aero Virtio Mouse"); T=$(evnode "Aero Virtio Tablet")
echo "nodes kbd=$K mouse=$M tablet=$T"
cat /dev/input/$K > /tmp/kbd.bin & p1=$!
cat /dev/input/$M > /tmp/mouse.bin & p2=$!
cat /dev/input/$T > /tmp/tablet.bin & p3=$!
sleep 1
echo "INPUT-READY"
decode() { od -An -v -w24 -td4 "$1" | awk -v dev="$2" '{ printf "ev %s %d %d %d\n", dev, $5 % 65536, int($5 / 65536), $6 }'; }
i=0
while ! decode /tmp/kbd.bin kbd | grep -q "^ev kbd 1 119 0$"; do
  i=$((i + 1)); [ $i -lt 600 ] || { echo "sentinel never arrived"; break; }
  sleep 0.2
done
sleep 1
kill $p1 $p2 $p3
decode /tmp/kbd.bin kbd
decode /tmp/mouse.bin mouse
decode /tmp/tablet.bin tablet
# LED state through statusq: EV_LED LED_CAPSL 1 written to the keyboard's event node.
printf '\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\021\0\001\0\001\0\0\0' | dd of=/dev/input/$K bs=24 2>/dev/null
printf '\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' | dd of=/dev/input/$K bs=24 2>/dev/null
sleep 1
echo "LED-WRITTEN"
sleep 4   # the host reads the device's LED state now, before poweroff resets the device
EOF

SEQ=$AERO_TEST_DIR/input-seq.json
python3 - "$SEQ" <<'PY'
import json, sys
cmds = []
def key(q, down): return {"type": "key", "data": {"down": down, "key": {"type": "qcode", "data": q}}}
def btn(b, down): return {"type": "btn", "data": {"down": down, "button": b}}
def rel(a, v): return {"type": "rel", "data": {"axis": a, "value": v}}
def ab(a, v): return {"type": "abs", "data": {"axis": a, "value": v}}
def tap(q): cmds.extend([[key(q, True)], [key(q, False)]])
for q in ["a", "z", "q", "1", "0"]: tap(q)
cmds += [[key("shift", True)], [key("h", True)], [key("h", False)], [key("shift", False)]]
cmds += [[key("ctrl", True), key("alt", True)], [key("alt", False), key("ctrl", False)]]
cmds += [[key("shift_r", True)], [key("shift_r", False)], [key("ctrl_r", True)], [key("ctrl_r", False)]]
for q in ["up", "down", "left", "right", "f1", "f5", "f12", "ret", "esc", "tab", "spc",
          "backspace", "home", "end", "pgup", "pgdn", "insert", "delete"]:
    tap(q)
cmds += [[key("b", True)], [key("b", True)], [key("b", False)]]  # repeat press: no auto-repeat
cmds += [[rel("x", 10), rel("y", -5)], [rel("x", -3)], [rel("y", 7)]]
cmds += [[btn("wheel-up", True)], [btn("wheel-up", False)], [btn("wheel-down", True)], [btn("wheel-down", False)]]
for b in ["left", "right", "middle", "side", "extra"]:
    cmds += [[btn(b, True)], [btn(b, False)]]
for x, y in [(32767, 32767), (0, 32767), (0, 0), (32767, 0), (16384, 8192)]:
    cmds.append([ab("x", x), ab("y", y)])
tap("pause")  # sentinel
json.dump(cmds, open(sys.argv[1], "w"))
PY

guest_cmds() {
  python3 -c '
import json, sys
for evs in json.load(open(sys.argv[1])):
    print(json.dumps({"execute": "input-send-event", "arguments": {"events": evs}}))
' "$SEQ"
}

AERO_APPEND="i8042.noaux i8042.nokbd" guest_start input "$AERO_TEST_DIR/input-guest.sh" \
  -device aero-virtio-keyboard-pci,id=kbd0,addr=0x6.0,multifunction=on \
  -device aero-virtio-mouse-pci,id=mouse0,addr=0x6.1 \
  -device aero-virtio-tablet-pci,id=tablet0,addr=0x6.2
log=$(guest_log input)
for i in $(seq 1 600); do
  grep -q '^INPUT-READY' "$log" 2>/dev/null && break
  guest_alive input || break
  sleep 0.5
done
grep -q '^INPUT-READY' "$log" || { tail -n 30 "$log" >&2; fail "guest never became ready for input"; }
mapfile -t cmds < <(guest_cmds)
guest_qmp input "${cmds[@]}" >/dev/null
say "input: sent ${#cmds[@]} input-send-event commands"
for i in $(seq 1 600); do
  grep -q '^LED-WRITTEN' "$log" && break
  guest_alive input || break
  sleep 0.25
done
st=$(guest_stats input kbd0)
guest_wait input
[ "$GUEST_RC" = 0 ] || { tail -n 40 "$log" >&2; fail "input guest script failed (rc=$GUEST_RC)"; }
grep -E '^(dev|nodes)' "$log" | sed 's/^/  /' >&2

python3 - "$SEQ" "$log" <<'PY' || fail "event sequences differ"
import json, re, sys
# Linux evdev numbers for the qcodes and buttons used.
KEYS = {"a": 30, "z": 44, "q": 16, "1": 2, "0": 11, "shift": 42, "h": 35, "ctrl": 29, "alt": 56,
        "shift_r": 54, "ctrl_r": 97, "up": 103, "down": 108, "left": 105, "right": 106,
        "f1": 59, "f5": 63, "f12": 88, "ret": 28, "esc": 1, "tab": 15, "spc": 57,
        "backspace": 14, "home": 102, "end": 107, "pgup": 104, "pgdn": 109, "insert": 110,
        "delete": 111, "b": 48, "pause": 119}
BTNS = {"left": 0x110, "right": 0x111, "middle": 0x112, "side": 0x113, "extra": 0x114}
state = {}
want = {"kbd": [], "mouse": [], "tablet": []}
for evs in json.load(open(sys.argv[1])):
    frames = {"kbd": [], "mouse": [], "tablet": []}
    for e in evs:
        d = e["data"]
        if e["type"] == "key":
            frames["kbd"].append((1, KEYS[d["key"]["data"]], int(d["down"])))
        elif e["type"] == "btn":
            b = d["button"]
            if b.startswith("wheel"):
                if d["down"]:
                    frames["mouse"].append((2, 8, 1 if b == "wheel-up" else -1))
            else:
                frames["mouse"].append((1, BTNS[b], int(d["down"])))
        elif e["type"] == "rel":
            frames["mouse"].append((2, 0 if d["axis"] == "x" else 1, d["value"]))
        elif e["type"] == "abs":
            frames["tablet"].append((3, 0 if d["axis"] == "x" else 1, d["value"]))
    for dev, fr in frames.items():
        out = []
        for t, c, v in fr:
            if t in (1, 3):   # input core drops unchanged key/abs values
                if state.get((dev, t, c), 0) == v:
                    continue
                state[(dev, t, c)] = v
            if t == 2 and v == 0:
                continue
            out.append((t, c, v))
        if out:
            want[dev] += out + [(0, 0, 0)]
log = open(sys.argv[2], errors="replace").read()
ok = True
for dev in want:
    got = [tuple(map(int, m)) for m in re.findall(r"^ev %s (\d+) (\d+) (-?\d+)$" % dev, log, re.M)]
    if got != want[dev]:
        ok = False
        print(f"{dev}: got {len(got)} events, want {len(want[dev])}", file=sys.stderr)
        for i, (g, w) in enumerate(zip(got + [None] * 99, want[dev] + [None] * 99)):
            if g != w:
                print(f"  first difference at {i}: got {g} want {w}", file=sys.stderr)
                break
    else:
        print(f"  {dev}: {len(got)} events match exactly", file=sys.stderr)
sys.exit(0 if ok else 1)
PY

echo "  keyboard stats: $(echo "$st" | tail -n 1)" >&2
leds=$(echo "$st" | sed -n 's/.*leds=0x\([0-9a-f]*\).*/\1/p')
[ $((0x$leds & 2)) = 2 ] || fail "keyboard LED state from statusq not recorded (leds=0x$leds)"
echo "$st" | grep -q "dropped=0" || fail "keyboard dropped events"
guest_stop input
say "test-input: PASS"
