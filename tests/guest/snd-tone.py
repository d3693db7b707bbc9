#!/usr/bin/env python3
"""Measures the tone in a WAV file written by QEMU's wav audiodev (S16_LE, 2 ch, 48 kHz): where
the sound is, how long it lasts, its frequency (from zero crossings of the left channel) and its
peak level. Used by scripts/demo.sh to show what the guest played.

    snd-tone.py FILE
"""
import math
import struct
import sys

raw = open(sys.argv[1], "rb").read()
off = raw.find(b"data")
if raw[:4] != b"RIFF" or off < 0:
    sys.exit(f"{sys.argv[1]}: not a WAV file with a data chunk")
body = raw[off + 8:]
body = body[:len(body) // 4 * 4]  # by file size: a hard-killed QEMU leaves the length 0
left = struct.unpack(f"<{len(body) // 2}h", body)[0::2]
loud = [i for i, v in enumerate(left) if abs(v) > 64]
if not loud:
    sys.exit("no sound in the file")
a, b = loud[0], loud[-1]
seg = left[a:b + 1]
ups = sum(1 for x, y in zip(seg, seg[1:]) if x < 0 <= y)
secs = len(seg) / 48000
peak = max(abs(v) for v in seg)
print(f"host measured: {ups / secs:.1f} Hz for {secs:.3f} s starting at {a / 48000:.3f} s, "
      f"peak {20 * math.log10(peak / 32768):.1f} dBFS")
