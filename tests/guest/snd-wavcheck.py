#!/usr/bin/env python3
"""Finds aero-snd-play's signal in a WAV file written by QEMU's wav audiodev (S16_LE, 2 ch).

Frame i of a run is L = i & 0xffff, R = 0x4000 + (i >> 16) with i counted from the run's base, so
every frame is found bit-exactly or not at all. For each run NAME:BASE:FRAMES it prints how many
of the run's frames were found, whether they came in order, and the span they cover in the file
(at 48 kHz), and fails when fewer than MIN (default 0.95) of them were found or any came out of
order. The data chunk is read by file size (a QEMU killed hard leaves its length 0).

    snd-wavcheck.py FILE [--then FILE2 ...] NAME:BASE:FRAMES[:MIN] ...

--then appends FILE2's data to FILE's: one signal played across a migration, its first part in
the source's file and the rest in the destination's.
"""
import struct
import sys


def data_of(path):
    raw = open(path, "rb").read()
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        sys.exit(f"{path}: not a WAV file")
    off = 12
    while off + 8 <= len(raw):
        cid, size = raw[off:off + 4], struct.unpack("<I", raw[off + 4:off + 8])[0]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", raw[off + 8:off + 24])
            if fmt[1] != 2 or fmt[2] != 48000 or fmt[5] != 16:
                sys.exit(f"{path}: format {fmt}, want 2 ch 48000 Hz 16 bit")
        if cid == b"data":
            body = raw[off + 8:]
            return body[:len(body) // 4 * 4]
        off += 8 + size
    sys.exit(f"{path}: no data chunk")


def main():
    args = sys.argv[1:]
    data = data_of(args.pop(0))
    while args and args[0] == "--then":
        data += data_of(args[1])
        args = args[2:]
    frames = struct.unpack(f"<{len(data) // 2}h", data)
    runs = []
    for spec in args:
        parts = spec.split(":")
        runs.append((parts[0], int(parts[1]), int(parts[2]),
                     float(parts[3]) if len(parts) > 3 else 0.95))
    found = {name: [] for name, *_ in runs}
    for pos in range(len(frames) // 2):
        left, right = frames[2 * pos] & 0xffff, frames[2 * pos + 1]
        hi = right - 0x4000
        if hi < 0 or hi > 0xff:
            continue
        i = (hi << 16) | left
        for name, base, n, _ in runs:
            if base <= i < base + n:
                found[name].append((i - base, pos))
                break
    ok = True
    for name, base, n, need in runs:
        hits = found[name]
        distinct = len({i for i, _ in hits})
        in_order = all(a[0] < b[0] for a, b in zip(hits, hits[1:]))
        span = (hits[-1][1] - hits[0][1] + 1) / 48000 if hits else 0.0
        frac = distinct / n
        print(f"{name}: {distinct}/{n} frames bit-exact ({frac:.4f}), "
              f"{'in order' if in_order else 'OUT OF ORDER'}, span {span:.3f} s "
              f"(signal {n / 48000:.3f} s)")
        if frac < need or not in_order:
            ok = False
    total = len(frames) // 2
    print(f"file: {total} frames ({total / 48000:.3f} s)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
