#!/usr/bin/env bash
# Guest test, input: Linux's virtio_input binds the keyboard (fn 0), mouse (fn 1) and tablet
# (fn 2) of one multi-function device (IDs and subsystem IDs checked). The host injects
# scripted sequences through QMP input-send-event; the guest reads /dev/input/event* and the
# exact (type, code, value) sequence per device must match, after the same filtering the Linux
# input core applies (unchanged values and empty frames are not reported). Three phases:
#   p1   as booted: the tablet probed last, so it is QEMU's active pointer and gets buttons and
#        the wheel; buttons appear on the tablet, the wheel (vertical and horizontal) on the
#        mouse node (the tablet glue forwards it) -- no unbind/rebind workaround;
#   p1b  mouse driver unbound: the tablet's wheel is dropped and counted (wheel_dropped);
#   p2   mouse re-bound, so it is the active pointer: letters, modifiers, arrows, F-keys, a
#        repeated press, relative motion, wheel, five buttons, absolute corners.
# The keyboard's own counters must show exactly the events it sent, SYN_REPORTs included
# (the glue's no-auto-repeat filter drops a repeated press, which the guest's input core would
# hide). The guest also writes an LED event, which reaches the device through statusq. Wrong
# function placement must be refused by QEMU with a clear error.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# ---- placement errors -----------------------------------------------------------------------
qemu_probe() {
  printf '%s\n' '{"execute":"qmp_capabilities"}' "$@" '{"execute":"quit"}' |
    "$AERO_QEMU" -accel tcg -machine pc -nodefaults -display none -S \
      -L /usr/share/seabios -L /usr/share/qemu "${QARGS[@]}" -qmp stdio 2>&1
}
check_refused() {
  local what=$1 want=$2
  shift 2
  local out
  QARGS=("$@")
  if out=$(qemu_probe </dev/null); then
    fail "placement '$what' was accepted"
  fi
  echo "$out" | grep -q "$want" || fail "placement '$what': unexpected message: $out"
  say "placement '$what' refused: $(echo "$out" | grep -m1 "$want")"
}
check_accepted() {
  local what=$1 out
  shift
  QARGS=("$@")
  out=$(qemu_probe) || fail "placement '$what' was refused: $out"
  say "placement '$what' accepted"
}
check_refused "keyboard without multifunction" "add multifunction=on" \
  -device aero-virtio-keyboard-pci,addr=0x6.0
check_refused "mouse on function 0" "must be PCI function 1" \
  -device aero-virtio-mouse-pci,addr=0x6.0
check_refused "tablet on function 1" "must be PCI function 2" \
  -device aero-virtio-keyboard-pci,addr=0x6.0,multifunction=on \
  -device aero-virtio-tablet-pci,addr=0x6.1
check_refused "mouse without a keyboard at function 0" \
  "aero-virtio-mouse-pci at 06.1 needs aero-virtio-keyboard-pci .* function 0 is empty" \
  -device aero-virtio-mouse-pci,addr=0x6.1
check_refused "tablet without a keyboard at function 0" \
  "aero-virtio-tablet-pci at 06.2 needs aero-virtio-keyboard-pci .* function 0 is empty" \
  -device aero-virtio-tablet-pci,addr=0x6.2
check_refused "mouse next to a foreign function 0" "function 0 is qemu-xhci" \
  -device qemu-xhci,addr=0x6.0,multifunction=on -device aero-virtio-mouse-pci,addr=0x6.1
check_refused "foreign function 0 after the tablet" "function 0 is qemu-xhci" \
  -device aero-virtio-tablet-pci,addr=0x6.2 -device qemu-xhci,addr=0x6.0,multifunction=on
check_accepted "keyboard given after mouse and tablet" \
  -device aero-virtio-mouse-pci,addr=0x6.1 -device aero-virtio-tablet-pci,addr=0x6.2 \
  -device aero-virtio-keyboard-pci,addr=0x6.0,multifunction=on
QARGS=()
# Hot-plug adds functions > 0 first and function 0 last (QEMU refuses them once function 0 is
# present): that order must be accepted, the mouse and tablet waiting for their keyboard.
out=$(qemu_probe '{"execute":"device_add","arguments":{"driver":"aero-virtio-mouse-pci","addr":"0x7.1"}}' \
  '{"execute":"device_add","arguments":{"driver":"aero-virtio-tablet-pci","addr":"0x7.2"}}' \
  '{"execute":"device_add","arguments":{"driver":"aero-virtio-keyboard-pci","addr":"0x7.0","multifunction":"on"}}' \
  '{"execute":"query-pci"}' 2>&1 || true)
if echo "$out" | grep -q '"error"'; then
  fail "hot-plugging mouse, tablet, then keyboard was refused: $out"
fi
for f in 0 1 2; do
  echo "$out" | python3 -c '
import json, sys
fn = int(sys.argv[1])
for line in sys.stdin:
    r = json.loads(line).get("return")
    if isinstance(r, list):
        devs = [d for b in r for d in b["devices"]]
        sys.exit(0 if any(d["slot"] == 7 and d["function"] == fn and d["id"]["device"] == 0x1052 for d in devs) else 1)
sys.exit(1)' "$f" || fail "hot-plugged input function 7.$f is not on the bus: $out"
done
say "placement 'hot-plug: mouse and tablet, then keyboard' accepted"

# ---- the scripted sequences -----------------------------------------------------------------
cat >"$AERO_TEST_DIR/input-guest.sh" <<'EOF'
evnode() { awk -v n="$1" '/^N: Name=/ { hit = ($0 ~ n) } hit && /^H: Handlers=/ { for (i = 1; i <= NF; i++) if ($i ~ /^event/) { sub(/^.*=/, "", $i); print $i; exit } }' /proc/bus/input/devices; }
for n in Keyboard Mouse Tablet; do
  d=$(grep -l "Aero Virtio $n" /sys/bus/virtio/devices/*/input/input*/name | head -n 1)
  [ -n "$d" ] || { echo "no Aero Virtio $n"; exit 1; }
  vdev=$(readlink -f "$(dirname "$(dirname "$(dirname "$d")")")")
  pci=$(readlink -f "$vdev/..")
  echo "dev $n $(basename $pci) $(cat $pci/vendor) $(cat $pci/device) rev $(cat $pci/revision) subsys $(cat $pci/subsystem_vendor) $(cat $pci/subsystem_device) driver $(basename "$(readlink $vdev/driver)")"
done
m=$(basename "$(readlink -f "$(dirname "$(grep -l 'Aero Virtio Mouse' /sys/bus/virtio/devices/*/input/input*/name)")/../..")")
decode() { od -An -v -w24 -td4 "$1" | awk -v dev="$2" '{ printf "ev %s %d %d %d\n", dev, $5 % 65536, int($5 / 65536), $6 }'; }
# phase TAG DEV=NODE...: record the nodes until the keyboard sentinel (PAUSE released) arrives.
phase() {
  tag=$1; shift
  pids=
  for spec in "$@"; do
    cat /dev/input/${spec#*=} > /tmp/$tag-${spec%%=*}.bin & pids="$pids $!"
  done
  sleep 1
  echo "$tag-READY"
  i=0
  while ! decode /tmp/$tag-kbd.bin "$tag kbd" | grep -q "^ev $tag kbd 1 119 0$"; do
    i=$((i + 1)); [ $i -lt 600 ] || { echo "$tag: sentinel never arrived"; break; }
    sleep 0.2
  done
  sleep 1
  kill $pids
  for spec in "$@"; do
    decode /tmp/$tag-${spec%%=*}.bin "$tag ${spec%%=*}"
  done
}
K=$(evnode "Aero Virtio Keyboard"); M=$(evnode "Aero Virtio Mouse"); T=$(evnode "Aero Virtio Tablet")
echo "nodes kbd=$K mouse=$M tablet=$T"
phase p1 kbd=$K mouse=$M tablet=$T
echo "$m" > /sys/bus/virtio/drivers/virtio_input/unbind
phase p1b kbd=$K tablet=$T
# Re-binding makes the mouse QEMU's most recently activated pointer: buttons go to it now.
echo "$m" > /sys/bus/virtio/drivers/virtio_input/bind
sleep 1
M=$(evnode "Aero Virtio Mouse")
echo "nodes kbd=$K mouse=$M tablet=$T"
phase p2 kbd=$K mouse=$M tablet=$T
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
def key(q, down): return {"type": "key", "data": {"down": down, "key": {"type": "qcode", "data": q}}}
def btn(b, down): return {"type": "btn", "data": {"down": down, "button": b}}
def rel(a, v): return {"type": "rel", "data": {"axis": a, "value": v}}
def ab(a, v): return {"type": "abs", "data": {"axis": a, "value": v}}
def click(b): return [[btn(b, True)], [btn(b, False)]]
sentinel = [[key("pause", True)], [key("pause", False)]]
# p1: tablet active. Wheel both ways and sideways, wheel in the same batch as mouse motion,
# a tablet button, tablet motion, wheel in the same batch as tablet motion.
p1 = click("wheel-up") + click("wheel-down") + click("wheel-right") + click("wheel-left")
p1 += [[rel("x", 5), btn("wheel-up", True)], [btn("wheel-up", False)]]
p1 += click("left") + [[ab("x", 1000), ab("y", 2000)]]
p1 += [[btn("wheel-down", True), ab("x", 3000)], [btn("wheel-down", False)]]
p1 += sentinel
# p1b: mouse driver unbound: the tablet has nowhere to send its wheel.
p1b = click("wheel-up") + click("wheel-left") + sentinel
# p2: mouse active (the original sequence).
p2 = []
def tap(q): p2.extend([[key(q, True)], [key(q, False)]])
for q in ["a", "z", "q", "1", "0"]: tap(q)
p2 += [[key("shift", True)], [key("h", True)], [key("h", False)], [key("shift", False)]]
p2 += [[key("ctrl", True), key("alt", True)], [key("alt", False), key("ctrl", False)]]
p2 += [[key("shift_r", True)], [key("shift_r", False)], [key("ctrl_r", True)], [key("ctrl_r", False)]]
for q in ["up", "down", "left", "right", "f1", "f5", "f12", "ret", "esc", "tab", "spc",
          "backspace", "home", "end", "pgup", "pgdn", "insert", "delete"]:
    tap(q)
p2 += [[key("b", True)], [key("b", True)], [key("b", False)]]  # repeat press: no auto-repeat
p2 += [[rel("x", 10), rel("y", -5)], [rel("x", -3)], [rel("y", 7)]]
p2 += click("wheel-up") + click("wheel-down")
for b in ["left", "right", "middle", "side", "extra"]:
    p2 += click(b)
for x, y in [(32767, 32767), (0, 32767), (0, 0), (32767, 0), (16384, 8192)]:
    p2.append([ab("x", x), ab("y", y)])
p2 += sentinel
json.dump({"p1": p1, "p1b": p1b, "p2": p2}, open(sys.argv[1], "w"))
PY

phase_cmds() {
  python3 -c '
import json, sys
for evs in json.load(open(sys.argv[1]))[sys.argv[2]]:
    print(json.dumps({"execute": "input-send-event", "arguments": {"events": evs}}))
' "$SEQ" "$1"
}


current_pointer() {
  guest_qmp input '{"execute":"query-mice"}' |
    python3 -c 'import json, sys; print([m["name"] for m in json.load(sys.stdin) if m["current"]][0])'
}

# Commands go in groups of 8 with a pause between groups: the guest reads each node with cat,
# and evdev keeps at most 64 unread keyboard events per reader -- a vCPU starved by a loaded host
# would otherwise see SYN_DROPPED instead of the sequence. The device has no such limit.
send_phase() {
  local tag=$1 cmds i
  mapfile -t cmds < <(phase_cmds "$tag")
  for ((i = 0; i < ${#cmds[@]}; i += 8)); do
    guest_qmp input "${cmds[@]:i:8}" >/dev/null
    sleep 0.5
  done
  say "input: $tag: sent ${#cmds[@]} input-send-event commands"
}

tablet_wheel() { guest_stats input tablet0 | tail -n 1 | sed -n "s/.* wheel_$1=\([0-9]*\).*/\1/p"; }

AERO_APPEND="i8042.noaux i8042.nokbd" guest_start input "$AERO_TEST_DIR/input-guest.sh" \
  -device aero-virtio-keyboard-pci,id=kbd0,addr=0x6.0,multifunction=on \
  -device aero-virtio-mouse-pci,id=mouse0,addr=0x6.1 \
  -device aero-virtio-tablet-pci,id=tablet0,addr=0x6.2
log=$(guest_log input)

wait_for_line input '^p1-READY' || { tail -n 30 "$log" >&2; fail "guest never became ready for input"; }
cur=$(current_pointer)
[ "$cur" = "Aero Virtio Tablet" ] || fail "p1: expected the tablet to be QEMU's active pointer after boot, got '$cur'"
send_phase p1
wait_for_line input '^p1b-READY' || { tail -n 30 "$log" >&2; fail "guest never reached phase p1b"; }
fwd=$(tablet_wheel forwarded)
cur=$(current_pointer)
[ "$cur" = "Aero Virtio Tablet" ] || fail "p1b: expected the tablet as active pointer, got '$cur'"
send_phase p1b
dropped=$(tablet_wheel dropped)
wait_for_line input '^p2-READY' || { tail -n 30 "$log" >&2; fail "guest never reached phase p2"; }
cur=$(current_pointer)
[ "$cur" = "Aero Virtio Mouse" ] || fail "p2: expected the re-bound mouse as active pointer, got '$cur'"
send_phase p2
wait_for_line input '^LED-WRITTEN' || { tail -n 30 "$log" >&2; fail "guest never wrote the LED event"; }
st=$(guest_stats input kbd0)
guest_wait input
[ "$GUEST_RC" = 0 ] || { tail -n 40 "$log" >&2; fail "input guest script failed (rc=$GUEST_RC)"; }
grep -E '^(dev|nodes)' "$log" | sed 's/^/  /' >&2

# CONTRACT §3.3 identity: one device 0x1052, functions 0/1/2 with subsystems 0x10/0x11/0x12.
for spec in "Keyboard 0 0x0010" "Mouse 1 0x0011" "Tablet 2 0x0012"; do
  read -r n fn sub <<<"$spec"
  grep -qE "^dev $n [0-9a-f:]+\.$fn 0x1af4 0x1052 rev 0x01 subsys 0x1af4 $sub driver virtio_input" "$log" ||
    fail "$n: want 1af4:1052 rev 01 at function $fn, subsystem 1af4:$sub, driver virtio_input"
done
[ "$fwd" = 6 ] || fail "p1: tablet forwarded $fwd wheel events to the mouse, expected 6"
[ "$dropped" = 2 ] || fail "p1b: tablet dropped $dropped wheel events, expected 2"
say "input: tablet wheel forwarded=$fwd (p1) dropped=$dropped (p1b, no mouse driver)"

python3 - "$SEQ" "$log" "$st" <<'PY' || fail "event sequences or keyboard counters differ"
import json, re, sys
# Linux evdev numbers for the qcodes and buttons used.
KEYS = {"a": 30, "z": 44, "q": 16, "1": 2, "0": 11, "shift": 42, "h": 35, "ctrl": 29, "alt": 56,
        "shift_r": 54, "ctrl_r": 97, "up": 103, "down": 108, "left": 105, "right": 106,
        "f1": 59, "f5": 63, "f12": 88, "ret": 28, "esc": 1, "tab": 15, "spc": 57,
        "backspace": 14, "home": 102, "end": 107, "pgup": 104, "pgdn": 109, "insert": 110,
        "delete": 111, "b": 48, "pause": 119}
BTNS = {"left": 0x110, "right": 0x111, "middle": 0x112, "side": 0x113, "extra": 0x114}
WHEEL = {"wheel-up": (8, 1), "wheel-down": (8, -1), "wheel-right": (6, 1), "wheel-left": (6, -1)}
seq = json.load(open(sys.argv[1]))
log = open(sys.argv[2], errors="replace").read()
kstats = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", sys.argv[3].splitlines()[-1]))

evstate = {}        # what each guest input device last reported (Linux drops unchanged values)
glue_keys = set()   # keys the keyboard glue holds down (it drops repeated presses)
kbd_events = kbd_batches = 0

def expect(phase, pointer, mouse_bound):
    """Per-node expected events of one phase; pointer = device that gets buttons."""
    global kbd_events, kbd_batches
    want = {"kbd": [], "mouse": [], "tablet": []}
    for evs in seq[phase]:
        frames = {"kbd": [], "mouse": [], "tablet": []}
        sent = 0
        for e in evs:
            d = e["data"]
            if e["type"] == "key":
                code, down = KEYS[d["key"]["data"]], int(d["down"])
                if bool(down) != (code in glue_keys):
                    (glue_keys.add if down else glue_keys.discard)(code)
                    frames["kbd"].append((1, code, down))
                    sent += 1
            elif e["type"] == "btn":
                b = d["button"]
                if b in WHEEL:
                    # the active pointer's wheel; the tablet hands it to the mouse
                    if d["down"] and mouse_bound:
                        frames["mouse"].append((2,) + WHEEL[b])
                else:
                    frames[pointer].append((1, BTNS[b], int(d["down"])))
            elif e["type"] == "rel":
                frames["mouse"].append((2, 0 if d["axis"] == "x" else 1, d["value"]))
            elif e["type"] == "abs":
                frames["tablet"].append((3, 0 if d["axis"] == "x" else 1, d["value"]))
        if sent:
            kbd_events += sent + 1
            kbd_batches += 1
        for dev, fr in frames.items():
            out = []
            for t, c, v in fr:
                if t in (1, 3):   # input core drops unchanged key/abs values
                    if evstate.get((dev, t, c), 0) == v:
                        continue
                    evstate[(dev, t, c)] = v
                if t == 2 and v == 0:
                    continue
                out.append((t, c, v))
            if out:
                want[dev] += out + [(0, 0, 0)]
    return want

ok = True
def compare(phase, want):
    global ok
    for dev in want:
        got = [tuple(map(int, m)) for m in
               re.findall(r"^ev %s %s (\d+) (\d+) (-?\d+)" % (phase, dev), log, re.M)]
        if dev == "mouse" and phase == "p1b":
            continue  # no mouse node while its driver is unbound
        if got != want[dev]:
            ok = False
            print(f"  {phase} {dev}: got {len(got)} events, want {len(want[dev])}", file=sys.stderr)
            for i, (g, w) in enumerate(zip(got + [None] * 99, want[dev] + [None] * 99)):
                if g != w:
                    print(f"    first difference at {i}: got {g} want {w}", file=sys.stderr)
                    break
        else:
            print(f"  {phase} {dev}: {len(got)} events match exactly", file=sys.stderr)

compare("p1", expect("p1", "tablet", True))
compare("p1b", expect("p1b", "tablet", False))
for k in [k for k in evstate if k[0] == "mouse"]:
    del evstate[k]    # the re-bound mouse is a new input device
compare("p2", expect("p2", "mouse", True))
# The device side, SYN_REPORTs included: what the keyboard put on its eventq.
if (kstats.get("events"), kstats.get("batches")) != (kbd_events, kbd_batches):
    ok = False
    print(f"  keyboard device counters events={kstats.get('events')} batches={kstats.get('batches')}, "
          f"want events={kbd_events} batches={kbd_batches}", file=sys.stderr)
else:
    print(f"  keyboard device counters: events={kbd_events} batches={kbd_batches} exactly",
          file=sys.stderr)
sys.exit(0 if ok else 1)
PY

echo "  keyboard stats: $(echo "$st" | tail -n 1)" >&2
leds=$(echo "$st" | sed -n 's/.*leds=0x\([0-9a-f]*\).*/\1/p')
[ $((0x$leds & 2)) = 2 ] || fail "keyboard LED state from statusq not recorded (leds=0x$leds)"
echo "$st" | grep -q "dropped=0" || fail "keyboard dropped events"
guest_stop input
say "test-input: PASS"
