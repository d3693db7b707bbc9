#!/usr/bin/env python3
"""Rewrites UDF structures of a UDF bridge image (made by genisoimage -udf) for the UDF reader's
tests: layouts genisoimage does not write (data embedded in the file entry, Extended File
Entries, long allocation descriptors, descriptors continued in an allocation extent
descriptor), damage aimed at one rule each (random damage: tests/fuzz/fuzz_udf.c). It has its own small
UDF walker (ECMA-167), independent of media/udf.c, and re-computes descriptor checksums and CRCs
wherever a change must get past them.

  udfimg.py MUTATION[:PATH] IN OUT         write a changed copy of IN to OUT (PATH: the file that
                                          truncate, outside, short-ads, bad-crc aim at)
  udfimg.py info IN                       print what the walker sees
"""
import shutil
import struct
import sys

B = 2048


def crc_itu(data):
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def retag(buf, off, crc_len=None):
    """Recompute the tag at buf[off:] (CRC over crc_len body bytes, default: as recorded)."""
    if crc_len is None:
        crc_len = struct.unpack_from("<H", buf, off + 10)[0]
    struct.pack_into("<HH", buf, off + 8, crc_itu(bytes(buf[off + 16:off + 16 + crc_len])), crc_len)
    buf[off + 4] = 0
    buf[off + 4] = sum(buf[off:off + 16]) & 0xFF


class Image:
    def __init__(self, path):
        self.data = bytearray(open(path, "rb").read())
        avdp = self.block(256)
        assert struct.unpack_from("<H", avdp)[0] == 2, "no anchor at 256"
        vds_len, vds_loc = struct.unpack_from("<II", avdp, 16)
        self.vds = [vds_loc + i for i in range(vds_len // B)]
        rvds_len, rvds_loc = struct.unpack_from("<II", avdp, 24)
        self.vds += [rvds_loc + i for i in range(rvds_len // B)]
        self.pds = []
        for b in self.vds:
            tag = struct.unpack_from("<H", self.data, b * B)[0]
            if tag == 5:
                self.pds.append(b)
                self.part_start, self.part_len = struct.unpack_from("<II", self.data, b * B + 188)
            elif tag == 6:
                self.lvd = b
        fsd_lbn = struct.unpack_from("<I", self.data, self.lvd * B + 252)[0]
        fsd = self.abs(fsd_lbn) * B
        root_lbn = struct.unpack_from("<I", self.data, fsd + 404)[0]
        self.nodes = []  # (path, kind, fe_block, fid_offset)
        self.walk(root_lbn, "", None)

    def block(self, n):
        return self.data[n * B:(n + 1) * B]

    def abs(self, lbn):
        return self.part_start + lbn

    def fe(self, block):
        """(tag, size, ad_kind, base, l_ea, l_ad) of the file entry in block."""
        o = block * B
        tag = struct.unpack_from("<H", self.data, o)[0]
        kind = struct.unpack_from("<H", self.data, o + 34)[0] & 7
        size = struct.unpack_from("<Q", self.data, o + 56)[0]
        base, l_ea, l_ad = (216, *struct.unpack_from("<II", self.data, o + 208)) if tag == 266 else \
            (176, *struct.unpack_from("<II", self.data, o + 168))
        return tag, size, kind, base, l_ea, l_ad

    def short_ads(self, block):
        tag, size, kind, base, l_ea, l_ad = self.fe(block)
        assert kind == 0, f"block {block}: allocation descriptors of kind {kind}"
        o = block * B + base + l_ea
        return [struct.unpack_from("<II", self.data, o + i) for i in range(0, l_ad, 8)]

    def file_bytes(self, block):
        tag, size, kind, base, l_ea, l_ad = self.fe(block)
        out = bytearray()
        for length, pos in self.short_ads(block):
            n = length & 0x3FFFFFFF
            out += self.data[self.abs(pos) * B:self.abs(pos) * B + n]
        return bytes(out[:size])

    def walk(self, lbn, path, fid_off):
        block = self.abs(lbn)
        file_type = self.data[block * B + 27]
        self.nodes.append((path or "/", "dir" if file_type == 4 else "file", block, fid_off))
        if file_type != 4:
            return
        data_off = self.abs(self.short_ads(block)[0][1]) * B
        size = self.fe(block)[1]
        off = 0
        while off < size:
            f = data_off + off
            chars, l_fi = self.data[f + 18], self.data[f + 19]
            icb = struct.unpack_from("<I", self.data, f + 24)[0]
            l_iu = struct.unpack_from("<H", self.data, f + 36)[0]
            name_raw = bytes(self.data[f + 38 + l_iu:f + 38 + l_iu + l_fi])
            off += (38 + l_iu + l_fi + 3) & ~3
            if chars & 8:
                continue
            name = name_raw[1:].decode("latin-1") if name_raw[0] == 8 else name_raw[1:].decode("utf-16-be")
            self.walk(icb, f"{path}/{name}", f)

    def find(self, path):
        return next(n for n in self.nodes if n[0] == path)

    def append_blocks(self, n):
        """Grow the image and its partition by n blocks; return the first new logical block."""
        first_abs = len(self.data) // B
        self.data += bytes(n * B)
        new_len = first_abs + n - self.part_start
        for pd in self.pds:
            struct.pack_into("<I", self.data, pd * B + 192, new_len)
            retag(self.data, pd * B)
        self.part_len = new_len
        return first_abs - self.part_start


def fe_header(img, block):
    return img.data[block * B:block * B + 176]


def to_inline(img, block):
    """Embed the file's data in its file entry (allocation descriptor kind 3)."""
    body = img.file_bytes(block)
    tag, size, kind, base, l_ea, l_ad = img.fe(block)
    assert tag == 261 and l_ea == 0 and size <= B - base
    o = block * B
    flags = struct.unpack_from("<H", img.data, o + 34)[0]
    struct.pack_into("<H", img.data, o + 34, (flags & ~7) | 3)
    struct.pack_into("<I", img.data, o + 172, size)
    img.data[o + base:o + B] = body + bytes(B - base - size)
    retag(img.data, o, base - 16 + size)


def to_efe(img, block):
    """Rewrite a file entry as an Extended File Entry (4/14.17) with the same fields."""
    o = block * B
    old = bytes(img.data[o:o + B])
    tag, size, kind, base, l_ea, l_ad = img.fe(block)
    new = bytearray(B)
    new[0:56] = old[0:56]                                  # tag, ICB tag, uid, gid, perms, links, record fmt
    struct.pack_into("<H", new, 0, 266)
    struct.pack_into("<QQQ", new, 56, size, size, struct.unpack_from("<Q", old, 64)[0])
    new[80:92] = old[72:84]                                # access time
    new[92:104] = old[84:96]                               # modification time
    new[104:116] = old[84:96]                              # creation time
    new[116:128] = old[96:108]                             # attribute time
    new[128:132] = old[108:112]                            # checkpoint
    new[136:152] = old[112:128]                            # extended attribute ICB
    new[168:200] = old[128:160]                            # implementation identifier
    new[200:208] = old[160:168]                            # unique ID
    struct.pack_into("<II", new, 208, l_ea, l_ad)
    new[216:216 + l_ea + l_ad] = old[176:176 + l_ea + l_ad]
    img.data[o:o + B] = new
    retag(img.data, o, 216 - 16 + l_ea + l_ad)


def to_long_ads(img, block):
    """Short allocation descriptors become long ones (partition reference 0)."""
    ads = img.short_ads(block)
    tag, size, kind, base, l_ea, l_ad = img.fe(block)
    o = block * B
    flags = struct.unpack_from("<H", img.data, o + 34)[0]
    struct.pack_into("<H", img.data, o + 34, (flags & ~7) | 1)
    area = b"".join(struct.pack("<IIH6x", length, pos, 0) for length, pos in ads)
    struct.pack_into("<I", img.data, o + 172, len(area))
    img.data[o + base:o + base + len(area)] = area
    retag(img.data, o, base - 16 + l_ea + len(area))


def split_via_aed(img, block):
    """Split the file's data into one-block extents and record all but the first in a chain of
    allocation extent descriptors (4/14.5) in blocks appended to the partition."""
    ads = img.short_ads(block)
    tag, size, kind, base, l_ea, l_ad = img.fe(block)
    pieces = []
    for length, pos in ads:
        n = length & 0x3FFFFFFF
        for k in range(0, n, B):
            pieces.append((min(B, n - k), pos + k // B))
    per_aed = 8  # a few descriptors per block, so the chain is several blocks long
    chunks = [pieces[1:][i:i + per_aed] for i in range(0, len(pieces) - 1, per_aed)]
    first = img.append_blocks(len(chunks))
    for i, chunk in enumerate(chunks):
        area = b"".join(struct.pack("<II", n, pos) for n, pos in chunk)
        if i + 1 < len(chunks):
            area += struct.pack("<II", (3 << 30) | B, first + i + 1)
        o = img.abs(first + i) * B
        img.data[o:o + B] = bytes(B)
        struct.pack_into("<HHBBHHHI", img.data, o, 258, 2, 0, 0, 0, 0, 0, first + i)
        struct.pack_into("<II", img.data, o + 16, 0, len(area))
        img.data[o + 24:o + 24 + len(area)] = area
        retag(img.data, o, 8 + len(area))
    area = struct.pack("<II", *pieces[0]) + struct.pack("<II", (3 << 30) | B, first)
    o = block * B
    struct.pack_into("<I", img.data, o + 172, len(area))
    img.data[o + base + l_ea:o + base + l_ea + max(l_ad, len(area))] = area + bytes(max(0, l_ad - len(area)))
    retag(img.data, o, base - 16 + l_ea + len(area))


def fid_retarget(img, fid_off, lbn):
    struct.pack_into("<I", img.data, fid_off + 24, lbn)
    l_fi = img.data[fid_off + 19]
    l_iu = struct.unpack_from("<H", img.data, fid_off + 36)[0]
    retag(img.data, fid_off, 38 + l_iu + l_fi - 16)


def main():
    what, src = sys.argv[1], sys.argv[2]
    img = Image(src)
    if what == "info":
        for n in img.nodes:
            print(n[0], n[1], "block", n[2], "kind", img.fe(n[2])[2])
        print("partition", img.part_start, img.part_len, "image blocks", len(img.data) // B)
        return
    out = sys.argv[3]
    what, _, target = what.partition(":")  # e.g. bad-crc:/sources/install.wim
    target = target or "/dir/mid.bin"
    node = lambda p: img.find(p)[2]
    if what == "inline":
        to_inline(img, node("/small.txt"))
    elif what == "efe":
        to_efe(img, node("/dir/mid.bin"))
        to_efe(img, node("/dir"))
    elif what == "long-ad":
        to_long_ads(img, node("/dir/mid.bin"))
    elif what == "aed":
        split_via_aed(img, node("/dir/mid.bin"))
    elif what == "truncate":
        block = img.short_ads(node(target))[0][1]
        del img.data[(img.abs(block) + 1) * B:]
    elif what == "no-anchor":
        for b in (256, len(img.data) // B - 1, len(img.data) // B - 257):
            if 0 <= b < len(img.data) // B and struct.unpack_from("<H", img.data, b * B)[0] == 2:
                img.data[b * B + 20] ^= 0xFF
    elif what == "loop":
        fid_retarget(img, img.find("/dir/sub")[3], struct.unpack_from("<I", img.data, img.find("/dir")[3] + 24)[0])
    elif what == "outside":
        o = node(target) * B
        tag, size, kind, base, l_ea, l_ad = img.fe(node(target))
        struct.pack_into("<I", img.data, o + base + l_ea + 4, 0x7FFFFFF0)
        retag(img.data, o)
    elif what == "short-ads":
        o = node(target) * B
        struct.pack_into("<Q", img.data, o + 56, img.fe(node(target))[1] + (1 << 20))
        retag(img.data, o)
    elif what == "bad-crc":
        img.data[node(target) * B + 60] ^= 0x40
    elif what == "ctl-name":  # "mid\nbin": a control character in a name
        f = img.find("/dir/mid.bin")[3]
        l_iu, l_fi = struct.unpack_from("<H", img.data, f + 36)[0], img.data[f + 19]
        img.data[f + 38 + l_iu + 1 + 3] = 0x0A
        retag(img.data, f, 38 + l_iu + l_fi - 16)
    elif what == "name-overrun":
        f = img.find("/dir/sub")[3]  # the folder's last entry: its name now runs past the data
        img.data[f + 19] = 255
        retag(img.data, f)
    else:
        sys.exit(f"unknown mutation {what}")
    with open(out, "wb") as f:
        f.write(img.data)


if __name__ == "__main__":
    main()
