#!/usr/bin/env python3
"""Seed corpus for the device fuzz targets (tests/fuzz/fuzz_device.c), written in code:

    seeds.py OUTDIR {blk|net|input|state|snd}

Each seed is a short, well-formed driver program in the harness' encoding (one op byte, then the
op's arguments, little-endian): bring the device up, put real requests in its rings, kick, run
the deferred pass, complete I/O. The fuzzer mutates from there into the hostile cases.
"""
import os
import struct
import sys

OP_BAR0_WRITE, OP_BRING_UP, OP_POKE, OP_DESC, OP_KICK, OP_RUN, OP_EVENT, OP_RESET = 0, 2, 3, 5, 7, 8, 10, 11
DATA = 3  # poke target: the data area


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def bring_up(mask=0xFFFFFFFFFFFFFFFF):
    return bytes([OP_BRING_UP]) + struct.pack("<Q", mask)


def poke_data(off, data):
    out = b""
    for i in range(0, len(data), 64):
        chunk = data[i:i + 64]
        out += bytes([OP_POKE, 0, DATA]) + u16(off + i) + bytes([len(chunk) - 1]) + chunk
    return out


def desc(q, i, off, length, flags, nxt, publish):
    return bytes([OP_DESC, q]) + u16(i) + u16(off) + u16(length) + bytes([flags]) + u16(nxt) + bytes([publish])


def kick(q):
    return bytes([OP_KICK, q])


RUN = bytes([OP_RUN])
NEXT, WRITE, INDIRECT = 1, 2, 4


def blk_seeds():
    create = bytes([1, 0, 1])  # deferred backend, 512-byte blocks, MSI-X
    out = []
    for rtype, data_flags in ((0, WRITE), (1, 0), (4, None), (8, WRITE)):
        hdr = struct.pack("<IIQ", rtype, 0, 2)
        p = create + bring_up() + poke_data(0, hdr)
        if data_flags is None:  # FLUSH: header + status
            p += desc(0, 1, 0x400, 1, WRITE, 0, 0) + desc(0, 0, 0, 16, NEXT, 1, 1)
        else:
            p += desc(0, 1, 0x100, 512, NEXT | data_flags, 2, 0)
            p += desc(0, 2, 0x400, 1, WRITE, 0, 0) + desc(0, 0, 0, 16, NEXT, 1, 1)
        p += kick(0) + RUN + bytes([OP_EVENT, 1]) + RUN
        out.append(p)
    # the same read, then a reset with the I/O still in flight, then its late completion
    out.append(out[0][:-3] + bytes([OP_RESET, OP_EVENT, 1]) + RUN)
    return out


def net_seeds():
    create = bytes([1, 1, 1])  # EVENT_IDX, 12-byte header, MSI-X
    frame = bytes(range(60))
    p = create + bring_up()
    p += desc(0, 0, 0x2000, 1600, WRITE, 0, 1)  # one RX buffer
    p += poke_data(0x800, bytes(12) + frame) + desc(1, 0, 0x800, 12 + 60, 0, 0, 1)  # one TX frame
    p += kick(0) + kick(1) + RUN
    p += bytes([OP_EVENT]) + u16(60) + frame + bytes([0]) + RUN  # receive a frame
    p += bytes([OP_EVENT]) + u16(0) + bytes([1, 0]) + RUN  # link down
    return [p]


def input_seeds():
    out = []
    for kind in (0, 1, 2):
        p = bytes([kind, 0, 0]) + bring_up(~(1 << 29) & 0xFFFFFFFFFFFFFFFF)
        for i in range(4):
            p += desc(0, i, 0x100 * i, 8, WRITE, 0, 1)
        p += poke_data(0x1000, struct.pack("<HHI", 0x11, 1, 1)) + desc(1, 0, 0x1000, 8, 0, 0, 1)
        p += kick(0) + kick(1) + RUN
        ev = struct.pack("<HHi", 1, 30, 1) + struct.pack("<HHi", 1, 30, 0)
        ev = ev if kind == 0 else struct.pack("<HHi", 2 if kind == 1 else 3, 0, 5) + struct.pack("<HHi", 1, 0x110, 1)
        p += bytes([OP_EVENT, 2]) + ev + RUN
        out.append(p)
    return out


def state_seeds():
    """fuzz_state: device kind, checksum-repair flag, then (u16 offset, u8 value) edits of the
    harness' own state blob; the unedited blob of each device is the start."""
    seeds = []
    for kind in range(5):  # blk, net, keyboard, snd (aero), snd (virtio)
        seeds.append(bytes([kind, 1]))
        seeds.append(bytes([kind, 0]))
        seeds.append(bytes([kind, 1]) + u16(30) + bytes([0x0f]))   # a status edit
        seeds.append(bytes([kind, 1]) + u16(90) + bytes([0x60]))   # a queue size edit
    return seeds


def snd_seeds():
    out = []
    for proto in (1, 0):  # virtio encoding (4-byte header), Aero encoding (8-byte header)
        hdr = 4 if proto else 8
        p = bytes([proto, 1]) + bring_up(~(1 << 29) & 0xFFFFFFFFFFFFFFFF)
        msgs = [struct.pack("<IIIIIBBBB", 0x101, 0, 15360, 3840, 0, 2, 5, 7, 0),  # SET_PARAMS
                struct.pack("<II", 0x102, 0), struct.pack("<II", 0x104, 0),  # PREPARE, START
                struct.pack("<IIII", 0x100, 0, 2, 32)]  # PCM_INFO
        for k, m in enumerate(msgs):
            p += poke_data(0x100 * k, m)
            p += desc(0, 2 * k + 1, 0x100 * k + 0x80, 4 + 64, WRITE, 0, 0)
            p += desc(0, 2 * k, 0x100 * k, len(m), NEXT, 2 * k + 1, 1)
        p += poke_data(0x1000, bytes(hdr) + bytes(range(64)))  # one playback buffer
        p += desc(2, 1, 0x1100, 8, WRITE, 0, 0) + desc(2, 0, 0x1000, hdr + 64, NEXT, 1, 1)
        p += poke_data(0x1200, struct.pack("<I", 1) + bytes(hdr - 4))  # one capture buffer
        p += desc(3, 1, 0x1300, 64 + 8, WRITE, 0, 0) + desc(3, 0, 0x1200, hdr, NEXT, 1, 1)
        p += kick(0) + kick(2) + kick(3) + RUN
        p += bytes([OP_EVENT, 1]) + u16(32) + RUN + bytes([OP_EVENT, 1]) + u16(64) + RUN
        out.append(p)
    return out


def main():
    outdir, target = sys.argv[1], sys.argv[2]
    seeds = {"blk": blk_seeds, "net": net_seeds, "input": input_seeds,
             "state": state_seeds, "snd": snd_seeds}[target]()
    os.makedirs(outdir, exist_ok=True)
    for n, s in enumerate(seeds):
        with open(os.path.join(outdir, f"seed-{n}"), "wb") as f:
            f.write(s)


if __name__ == "__main__":
    main()
