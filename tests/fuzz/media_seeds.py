#!/usr/bin/python3
"""Seed corpus for the media parser fuzz targets (tests/fuzz/fuzz_{inf,cert,hive,udf,iso}.c),
built at fuzz time from real structures made by real tools -- nothing is checked in:

    media_seeds.py OUTDIR {inf|cert|hive|udf|iso}

  inf   INF text as driver packages ship it (tests/media/fixtures.py): every device, each
        architecture and both at once, UTF-16LE with BOM, UTF-8 with BOM, Windows-1252, line
        continuations, quoted fields, localized [Strings.0409].
  cert  an X.509 certificate made by openssl (EC and RSA keys), as DER and PEM, and the
        CryptoAPI Blob aero-media writes for it.
  hive  one selector byte (which aero-media edit runs, fuzz_hive.c) then a registry hive written
        by tests/media/mkwin7.py through hivex: BCD stores (media, no default, no loader,
        BCD-Template), SYSTEM and SOFTWARE hives.
  udf   UDF bridge images made by genisoimage -udf, plus the layouts tests/udf/udfimg.py writes
        (data in the file entry, extended file entries, long allocation descriptors, an
        allocation extent descriptor chain), in the sparse image encoding below.
  iso   ISO 9660 images made by xorriso (Rock Ridge + Joliet, BIOS and UEFI El Torito entries)
        and genisoimage (plain ISO 9660; a UDF bridge whose ISO 9660 tree holds only
        README.TXT, as Microsoft's media), and one whose boot images are in no directory, in the
        sparse image encoding.

Sparse image encoding (fuzz_media.c, fm_image): a 4-byte header {u8 flags, u16 blocks, u8 cut},
then records {u16 block, u16 length, length bytes}: each record is one 2048-byte block of the
image (zero-padded); the image has `blocks` blocks (0: up to the last record), minus cut * 8
bytes. Only the blocks that are not all zeros are recorded, each without its trailing zeros.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # the helpers imported below stay without __pycache__ in the tree
sys.path.insert(0, os.path.join(HERE, "..", "media"))
sys.path.insert(0, os.path.join(HERE, "..", "udf"))

B = 2048
FLAG_REPAIR_TAGS = 1  # fuzz_udf: re-compute UDF descriptor checksums and CRCs (fuzz_media.h)


def run(*cmd, cwd=None):
    subprocess.run(cmd, check=True, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def sparse(data, flags=0):
    """A raw image in the sparse encoding."""
    blocks = (len(data) + B - 1) // B
    out = bytearray(struct.pack("<BHB", flags, blocks, 0))
    assert blocks < 0x10000
    for b in range(blocks):
        chunk = data[b * B:(b + 1) * B].rstrip(b"\0")
        if chunk:
            out += struct.pack("<HH", b, len(chunk)) + chunk
    return bytes(out)


# ---- inf ---------------------------------------------------------------------------------------

def inf_seeds(tmp):
    import fixtures
    out = []
    for name in fixtures.DEVICES:
        out.append(fixtures.inf_text(name, "amd64", None).replace("\n", "\r\n").encode())
    out.append(fixtures.inf_text("viostor", "x86", None, rev01=True, long_name=True).encode())
    multi = fixtures.inf_text("netkvm", None, None, multiarch=True)
    out.append(multi.encode())
    out.append(b"\xff\xfe" + multi.replace("\n", "\r\n").encode("utf-16-le"))
    out.append(b"\xef\xbb\xbf" + fixtures.inf_text("vioinput", "x86", None).encode())
    # the forms the reader handles that the fixtures do not write
    extra = """[Version]
Signature = "$Windows NT$" ; a comment
Class = System
ClassGuid = {4D36E97D-E325-11CE-BFC1-08002BE10318}
Provider = %Vendor%
CatalogFile.NTamd64 = "aero ""quoted"".cat"
CatalogFile.NTx86 = aero32.cat
DriverVer = 01/01/2024,1.0.0.0

[Manufacturer]
%Vendor% = Aero, NTamd64.6.1, NTx86, NTia64, NT

[Aero.NTamd64.6.1]
%Desc% = Install, PCI\\VEN_1AF4&DEV_1045, \\
    PCI\\VEN_1AF4&DEV_1045&SUBSYS_00051AF4

[Aero.NTx86]
%Desc% = Install, PCI\\VEN_1AF4&DEV_1045&REV_01

[Aero]
%Desc% = Install, PCI\\VEN_1AF4&DEV_1045

[Install.NTamd64.Services]
AddService = balloon, 2, Service_Inst, EventLog_Inst

[Install.Services]
AddService = balloon32, 2, Service_Inst

[Service_Inst]
LoadOrderGroup = %Group%
ServiceBinary = %12%\\balloon.sys

[SourceDisksNames.amd64]
1 = %Disk%,,,\\amd64\\

[SourceDisksNames]
2 = %Disk%,,,.\\common

[SourceDisksFiles]
balloon.sys = 2, sub\\dir
"blnsvr.exe" = 1

[SourceDisksFiles.amd64]
balloon64.sys = 1,,

[Strings.0409]
Vendor = "Aero ""Test"" Inc"
Desc = "Balloon 100%% sure"
Disk = "Disk 1"
Group = Extended Base
"""
    out.append(extra.encode())
    out.append(extra.replace("Balloon", "Ballon \u00e9t\u00e9").encode("cp1252"))
    return out


# ---- cert --------------------------------------------------------------------------------------

def cert_blob(der):
    import hashlib

    def prop(pid, data):
        return struct.pack("<III", pid, 1, len(data)) + data
    return prop(3, hashlib.sha1(der).digest()) + prop(4, hashlib.md5(der).digest()) + prop(0x20, der)


def cert_seeds(tmp):
    out = []
    for n, key in enumerate(("ec", "rsa")):
        args = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] if key == "ec" else \
            ["-newkey", "rsa:1024"]
        pem, der = os.path.join(tmp, f"c{n}.pem"), os.path.join(tmp, f"c{n}.der")
        run("openssl", "req", "-x509", *args, "-nodes", "-keyout", os.path.join(tmp, f"k{n}.pem"),
            "-subj", "/CN=Aero fuzz seed/O=Aero Test", "-days", "30", "-addext",
            "extendedKeyUsage=codeSigning", "-out", pem)
        run("openssl", "x509", "-in", pem, "-outform", "DER", "-out", der)
        with open(pem, "rb") as f:
            out.append(f.read())
        with open(der, "rb") as f:
            d = f.read()
        out.append(d)
        out.append(cert_blob(d))
    return out


# ---- hive --------------------------------------------------------------------------------------

# fuzz_hive.c's selector byte: low two bits pick the edit, the rest its options
HIVE_BCD, HIVE_SOFTWARE, HIVE_SYSTEM = 0, 1, 2


def hive_seeds(tmp):
    import mkwin7
    out = []

    def hive(make, sel, *args, **kw):
        p = os.path.join(tmp, f"h{len(out)}")
        make(p, *args, **kw)
        with open(p, "rb") as f:
            out.append(bytes([sel]) + f.read())

    # BCD: bit 2 need_loader, bits 3-4 the signing policy (0 none, 1 testsigning, 2 nointegritychecks)
    hive(mkwin7.make_bcd, HIVE_BCD | 4 | 1 << 3)
    hive(mkwin7.make_bcd, HIVE_BCD | 4 | 2 << 3, default=False)
    hive(mkwin7.make_bcd, HIVE_BCD | 1 << 3, loader=False)
    hive(mkwin7.make_bcd, HIVE_BCD | 1 << 3, template=True)
    hive(mkwin7.make_bcd, HIVE_BCD | 4)
    # SOFTWARE: bit 2 install image (DevicePath too)
    hive(mkwin7.make_software, HIVE_SOFTWARE | 4)
    hive(mkwin7.make_software, HIVE_SOFTWARE)
    hive(mkwin7.make_system, HIVE_SYSTEM)
    hive(mkwin7.make_system, HIVE_SYSTEM, control_sets=(1, 2, 3), current=2)
    return out


# ---- udf and iso -------------------------------------------------------------------------------

def tree(root, kind):
    """A small source tree: names the readers must handle, data that is not zeros."""
    os.makedirs(os.path.join(root, "dir", "sub", "a", "b"))
    os.makedirs(os.path.join(root, "emptydir"))
    with open(os.path.join(root, "small.txt"), "wb") as f:
        f.write(b"small file\n" * 9)
    open(os.path.join(root, "empty.bin"), "wb").close()
    with open(os.path.join(root, "dir", "mid.bin"), "wb") as f:
        f.write((b"mid.bin" + bytes(B - 7)) * 3)  # three blocks, mostly zeros: short seeds
    with open(os.path.join(root, "dir", "sub", "a", "b", "deep.txt"), "w") as f:
        f.write("deep\n")
    with open(os.path.join(root, "\u00dcn\u00efc\u00f8d\u00e9 \u00f1ame.txt"), "w") as f:
        f.write("latin\n")
    with open(os.path.join(root, "\u65e5\u672c\u8a9e.txt"), "w") as f:
        f.write("cjk\n")
    if kind == "boot":
        os.makedirs(os.path.join(root, "boot"))
        os.makedirs(os.path.join(root, "efi", "boot"))
        with open(os.path.join(root, "boot", "etfsboot.com"), "wb") as f:
            f.write(b"\xeb\x3cETFSBOOT" + bytes(4086))
        with open(os.path.join(root, "efi", "boot", "efisys.bin"), "wb") as f:
            f.write(fat_image())


def fat_image(sectors=64):
    """A small image whose boot sector describes a FAT12 file system (as efisys.bin on Windows
    media), so the UEFI boot image size comes from it."""
    bs = bytearray(512)
    bs[0:3] = b"\xeb\x3c\x90"
    bs[3:11] = b"MSDOS5.0"
    struct.pack_into("<HBHBHHBH", bs, 11, 512, 1, 1, 2, 16, sectors, 0xF8, 1)
    bs[510:512] = b"\x55\xaa"
    return bytes(bs) + bytes((sectors - 1) * 512)


def genisoimage_udf(src, out, extra=()):
    run("genisoimage", "-quiet", "-udf", "-D", "-input-charset", "utf-8", "-iso-level", "3",
        "-V", "UDFSEED", *extra, "-o", out, src)


def udf_seeds(tmp):
    import udfimg
    src = os.path.join(tmp, "src")
    tree(src, "plain")
    base = os.path.join(tmp, "base.iso")
    genisoimage_udf(src, base)
    out = []
    with open(base, "rb") as f:
        raw = f.read()
    out.append(sparse(raw, FLAG_REPAIR_TAGS))
    out.append(sparse(raw))
    for m in ("inline", "efe", "long-ad", "aed"):
        img = udfimg.Image(base)
        node = lambda p: img.find(p)[2]
        {"inline": lambda: udfimg.to_inline(img, node("/small.txt")),
         "efe": lambda: (udfimg.to_efe(img, node("/dir/mid.bin")), udfimg.to_efe(img, node("/dir"))),
         "long-ad": lambda: udfimg.to_long_ads(img, node("/dir/mid.bin")),
         "aed": lambda: udfimg.split_via_aed(img, node("/dir/mid.bin"))}[m]()
        out.append(sparse(bytes(img.data), FLAG_REPAIR_TAGS))
    return out


def hide_boot_images(data):
    """Every El Torito boot image moved to a copy in no directory appended to the image, the UEFI
    entry loading 1 sector (as Microsoft's media record it)."""
    img = bytearray(data)
    cat = struct.unpack_from("<I", img, 17 * B + 71)[0] * B
    entries, off = [cat + 32], cat + 64
    while img[off] in (0x90, 0x91):
        count = struct.unpack_from("<H", img, off + 2)[0]
        entries += [off + 32 * (k + 1) for k in range(count)]
        final = img[off] == 0x91
        off += 32 * (count + 1)
        if final:
            break
    for k, e in enumerate(entries):
        start = struct.unpack_from("<I", img, e + 8)[0] * B
        data = img[start:start + (len(fat_image()) if k else 4096)]
        struct.pack_into("<I", img, e + 8, len(img) // B)
        img += data + bytes(-len(data) % B)
        if k:
            struct.pack_into("<H", img, e + 6, 1)
    blocks = len(img) // B
    struct.pack_into("<I", img, 16 * B + 80, blocks)
    struct.pack_into(">I", img, 16 * B + 84, blocks)
    return bytes(img)


def iso_seeds(tmp):
    out = []
    src = os.path.join(tmp, "src")
    tree(src, "boot")
    boot = ["-b", "boot/etfsboot.com", "-no-emul-boot", "-boot-load-size", "8",
            "-eltorito-alt-boot", "-e", "efi/boot/efisys.bin", "-no-emul-boot"]
    x = os.path.join(tmp, "xorriso.iso")
    run("xorriso", "-as", "mkisofs", "-quiet", "-no-pad", "-iso-level", "3", "-J", "-joliet-long", "-r",
        "-V", "AERO_SEED", *boot, "-o", x, src)
    with open(x, "rb") as f:
        raw = f.read()
    out.append(sparse(raw))
    out.append(sparse(hide_boot_images(raw)))
    g = os.path.join(tmp, "plain.iso")
    run("genisoimage", "-quiet", "-input-charset", "utf-8", "-V", "PLAIN", "-o", g, src)
    with open(g, "rb") as f:
        out.append(sparse(f.read()))
    # a UDF bridge whose ISO 9660 tree is just README.TXT: read through its UDF tree
    with open(os.path.join(src, "README.TXT"), "wb") as f:
        f.write(b'This disc contains a "UDF" file system.\r\n')
    hide = [x for n in sorted(os.listdir(src)) if n != "README.TXT" for x in ("-hide", n)]
    u = os.path.join(tmp, "bridge.iso")
    genisoimage_udf(src, u, [*hide, "-hide", "boot.catalog", "-c", "boot.catalog",
                             "-b", "boot/etfsboot.com", "-no-emul-boot", "-boot-load-size", "8"])
    with open(u, "rb") as f:
        out.append(sparse(f.read()))
    return out


def main():
    outdir, target = sys.argv[1], sys.argv[2]
    make = {"inf": inf_seeds, "cert": cert_seeds, "hive": hive_seeds, "udf": udf_seeds,
            "iso": iso_seeds}[target]
    os.makedirs(outdir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f"aero-seeds-{target}.")
    try:
        seeds = make(tmp)
    finally:
        shutil.rmtree(tmp)
    for n, s in enumerate(seeds):
        with open(os.path.join(outdir, f"seed-{n}"), "wb") as f:
            f.write(s)


if __name__ == "__main__":
    main()
