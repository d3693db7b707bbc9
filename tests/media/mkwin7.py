#!/usr/bin/python3
"""Synthetic "Windows-like" install media for the media tests. Nothing Microsoft-made is used:
registry hives are written from scratch (a minimal regf writer here, then filled through hivex's
Python binding), WIMs are captured with wimlib-imagex, the ISO is written by xorriso with BIOS
and UEFI El Torito entries.

    mkwin7.py iso OUT.iso [--arch x64|x86] [--images N] [--no-efi] [--no-default]
                          [--no-loader] [--missing-hive HIVE] [--autounattend] [--workdir DIR]
                          [--payload-mb N] [--no-install-wim] [--bad-current] [--damaged-key]
                          [--boot-machine N:0xMACHINE] [--big-file-mb N] [--integrity]
    mkwin7.py hive OUT --kind system|software|bcd|bcd-template
    mkwin7.py markers SIZE_MB    (offsets and contents of --big-file-mb's markers, for tests)
"""
import argparse
import os
import shutil
import struct
import subprocess
import tempfile

import hivex

BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
GLOBALSETTINGS = "{7ea2e1ac-2e61-4728-aaa3-896d9d0a9f0e}"
BOOTLOADERSETTINGS = "{6efb52bf-1766-41db-a6b3-0ee5eff72bd7}"
SETUP_LOADER = "{7619dcc9-fafe-11d9-b411-000476eba25f}"
RAMDISK = "{ae5534e0-a924-466c-b836-758539a3ee3a}"


def empty_hive(path, root_name="ROOT"):
    """Write an empty regf hive: base block, one 4 KiB hbin with the root nk, an sk and a free cell."""
    name = root_name.encode("ascii")
    nk_off = 0x20
    nk_size = (4 + 0x4C + len(name) + 7) & ~7
    sk_off = nk_off + nk_size
    sd = struct.pack("<BBHIIII", 1, 0, 0x8000, 0, 0, 0, 0)  # empty self-relative descriptor
    sk_size = (4 + 0x14 + len(sd) + 7) & ~7
    free_off = sk_off + sk_size
    hbin = bytearray(0x1000)
    struct.pack_into("<4sIIQQI", hbin, 0, b"hbin", 0, 0x1000, 0, 0, 0)
    nk = struct.pack("<2sHQ" + "I" * 15 + "HH", b"nk", 0x2C, 0, 0, 0xFFFFFFFF, 0, 0, 0xFFFFFFFF,
                     0xFFFFFFFF, 0, 0xFFFFFFFF, sk_off, 0xFFFFFFFF, 0, 0, 0, 0, 0, len(name), 0) + name
    struct.pack_into("<i", hbin, nk_off, -nk_size)
    hbin[nk_off + 4:nk_off + 4 + len(nk)] = nk
    sk = struct.pack("<2sHIIII", b"sk", 0, sk_off, sk_off, 1, len(sd)) + sd
    struct.pack_into("<i", hbin, sk_off, -sk_size)
    hbin[sk_off + 4:sk_off + 4 + len(sk)] = sk
    struct.pack_into("<i", hbin, free_off, 0x1000 - free_off)
    base = bytearray(0x1000)
    struct.pack_into("<4sIIQIIIIIII", base, 0, b"regf", 1, 1, 0, 1, 3, 0, 1, nk_off, 0x1000, 1)
    fname = "\\SystemRoot\\test.hiv".encode("utf-16-le")
    base[0x30:0x30 + len(fname)] = fname
    csum = 0
    for i in range(0, 0x1FC, 4):
        csum ^= struct.unpack_from("<I", base, i)[0]
    struct.pack_into("<I", base, 0x1FC, csum)
    with open(path, "wb") as f:
        f.write(base + hbin)


def sz(s):
    return (s + "\0").encode("utf-16-le")


def val(key, t, data):
    return {"key": key, "t": t, "value": data}


def dword(v):
    return struct.pack("<I", v)


class Hive:
    def __init__(self, path):
        self.h = hivex.Hivex(path, write=True)
        self.path = path

    def key(self, path):
        n = self.h.root()
        for part in path.split("\\"):
            c = self.h.node_get_child(n, part)
            n = c if c else self.h.node_add_child(n, part)
        return n

    def set(self, path, values):
        self.h.node_set_values(self.key(path), values)

    def commit(self):
        self.h.commit(self.path)


def make_system(path, control_sets=(1, 2), current=None, damaged_key=False):
    empty_hive(path, "SYSTEM")
    h = Hive(path)
    current = current or control_sets[0]
    h.set("Select", [val("Current", 4, dword(current)), val("Default", 4, dword(current))])
    for cs in control_sets:
        h.set(f"ControlSet{cs:03d}\\Services\\atapi", [val("Start", 4, dword(0)), val("Type", 4, dword(1))])
        h.key(f"ControlSet{cs:03d}\\Control\\CriticalDeviceDatabase\\pci#cc_0106")
    if damaged_key:
        h.key("Setup")  # sorts after Select: the lookups before the walk still find their keys
    h.commit()
    if damaged_key:  # its name length now runs past its record: hivex opens the hive, cannot read the name
        damage_name_length(path, b"Setup")


def damage_name_length(path, name):
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        at = data.index(name)
        struct.pack_into("<H", data, at - 4, 0x7FFF)  # the nk record's name length precedes the name
        f.seek(0)
        f.write(data)


def make_software(path):
    empty_hive(path, "SOFTWARE")
    h = Hive(path)
    h.set("Microsoft\\Windows NT\\CurrentVersion", [val("ProductName", 1, sz("Windows 7 Test")),
                                                     val("CurrentVersion", 1, sz("6.1")),
                                                     val("CurrentBuild", 1, sz("7601"))])
    h.set("Microsoft\\Windows\\CurrentVersion", [val("DevicePath", 2, sz("%SystemRoot%\\inf"))])
    h.key("Microsoft\\SystemCertificates\\ROOT\\Certificates")
    h.commit()


def make_bcd(path, default=True, loader=True, template=False):
    empty_hive(path, "BCD00000000")
    h = Hive(path)
    h.set("Description", [val("KeyName", 1, sz("BCD00000000")), val("System", 4, dword(1))])
    objs = [(GLOBALSETTINGS, 0x20100000), (BOOTLOADERSETTINGS, 0x20200003)]
    if not template:
        objs += [(BOOTMGR, 0x10100002), (RAMDISK, 0x30000000)]
        if loader:
            objs.append((SETUP_LOADER, 0x10200003))
            objs.append(("{11111111-2222-3333-4444-555555555555}", 0x10200003))
    for guid, typ in objs:
        h.set(f"Objects\\{guid}\\Description", [val("Type", 4, dword(typ))])
        h.set(f"Objects\\{guid}\\Elements\\12000004", [val("Element", 1, sz(f"object {guid}"))])
    if not template and default and loader:
        h.set(f"Objects\\{BOOTMGR}\\Elements\\23000003", [val("Element", 1, sz(SETUP_LOADER))])
    h.commit()


def fake_pe(path, arch, machine=None):
    machine = machine or (0x8664 if arch == "x64" else 0x14C)
    data = bytearray(1024)
    data[0:2] = b"MZ"
    struct.pack_into("<I", data, 0x3C, 0x80)
    data[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<HH", data, 0x84, machine, 1)
    with open(path, "wb") as f:
        f.write(data)


def image_tree(root, arch, install, missing_hive, machine=None, current=None, damaged_key=False):
    cfg = os.path.join(root, "Windows", "System32", "config")
    os.makedirs(cfg)
    os.makedirs(os.path.join(root, "Windows", "System32", "drivers"))
    fake_pe(os.path.join(root, "Windows", "System32", "kernel32.dll"), arch, machine)
    if missing_hive != "SYSTEM":
        make_system(os.path.join(cfg, "SYSTEM"), current=current, damaged_key=damaged_key)
    make_software(os.path.join(cfg, "SOFTWARE"))
    if install:
        make_bcd(os.path.join(cfg, "BCD-Template"), template=True)


def capture(tree, wim, name, compress=None):
    args = ["wimlib-imagex", "append" if os.path.exists(wim) else "capture", tree, wim, name, "--no-acls"]
    if compress:
        args.append(f"--compress={compress}")
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


LONG_NAME = "a_file_name_longer_than_the_sixty_four_characters_joliet_allows_by_default.txt"


def big_markers(size):
    """Offsets of the non-zero blocks of the big file: start, both sides of 4 GiB, end."""
    return [0, (1 << 32) - 4096, (1 << 32) + 12345, size - 4096]


def marker(off):
    return (f"marker at {off:#x} ".encode() * 256)[:4096]


def blob_after_xml(path):
    """Move the largest file resource of a WIM to after its XML data (and zero its old place)."""
    with open(path, "r+b") as f:
        h = f.read(208)
        tab_size = int.from_bytes(h[48:55], "little")
        tab_off = int.from_bytes(h[56:64], "little")
        f.seek(tab_off)
        tab = bytearray(f.read(tab_size))
        best = None
        for e in range(0, len(tab) - 49, 50):
            size = int.from_bytes(tab[e:e + 7], "little")
            flags = tab[e + 7]
            if flags & 0x12 == 0 and (best is None or size > best[1]):  # not metadata, not packed
                best = (e, size, int.from_bytes(tab[e + 8:e + 16], "little"))
        e, size, off = best
        f.seek(off)
        data = f.read(size)
        f.seek(0, 2)
        new = f.tell()
        f.write(data)
        f.seek(off)
        f.write(bytes(size))
        tab[e + 8:e + 16] = new.to_bytes(8, "little")
        f.seek(tab_off)
        f.write(tab)


def fat_floppy():
    """A 1.44 MB image whose boot sector describes a FAT12 file system, like efisys.bin."""
    bs = bytearray(512)
    bs[0:3] = b"\xeb\x3c\x90"
    bs[3:11] = b"MSDOS5.0"
    struct.pack_into("<HBHBHHBH", bs, 11, 512, 1, 1, 2, 224, 2880, 0xF0, 9)
    bs[510:512] = b"\x55\xaa"
    body = bytearray(b"EFISYS" * (1474560 // 6 + 1))[:1474560 - 512]
    return bytes(bs) + bytes(body)


def hide_boot_images(path):
    """Move every El Torito boot image to a copy in no directory (appended to the image) and
    give the UEFI entry a load size of 1 sector, as Microsoft's media record it: the boot images
    are then no file of any tree."""
    with open(path, "r+b") as f:
        img = bytearray(f.read())
        brvd = img[17 * 2048:18 * 2048]
        assert brvd[1:6] == b"CD001" and brvd[7:30] == b"EL TORITO SPECIFICATION"
        cat = struct.unpack_from("<I", brvd, 71)[0] * 2048
        entries, off = [cat + 32], cat + 64
        while img[off] in (0x90, 0x91):
            count = struct.unpack_from("<H", img, off + 2)[0]
            entries += [off + 32 * (k + 1) for k in range(count)]
            final = img[off] == 0x91
            off += 32 * (count + 1)
            if final:
                break
        for k, e in enumerate(entries):
            lba = struct.unpack_from("<I", img, e + 8)[0]
            start = lba * 2048
            data = img[start:start + (1474560 if k else 4096)]  # efisys.bin; BIOS: 8 sectors
            new_lba = len(img) // 2048
            img += data + bytes(-len(data) % 2048)
            struct.pack_into("<I", img, e + 8, new_lba)
            if k:  # the UEFI entry
                struct.pack_into("<H", img, e + 6, 1)
        blocks = len(img) // 2048
        struct.pack_into("<I", img, 16 * 2048 + 80, blocks)
        struct.pack_into(">I", img, 16 * 2048 + 84, blocks)
        f.seek(0)
        f.write(img)


def make_iso(a):
    work = a.workdir or tempfile.mkdtemp(prefix="mkwin7-")
    tree = os.path.join(work, "iso")
    os.makedirs(os.path.join(tree, "boot"))
    os.makedirs(os.path.join(tree, "sources"))
    with open(os.path.join(tree, "boot", "etfsboot.com"), "wb") as f:
        f.write(b"\xeb\x3c" + b"ETFSBOOT" * 511)
    make_bcd(os.path.join(tree, "boot", "BCD"), default=not a.no_default, loader=not a.no_loader)
    if not a.no_efi:
        efi = os.path.join(tree, "efi", "microsoft", "boot")
        os.makedirs(efi)
        with open(os.path.join(efi, "efisys.bin"), "wb") as f:
            f.write(fat_floppy())
        make_bcd(os.path.join(efi, "bcd"), default=not a.no_default, loader=not a.no_loader)  # lower case on purpose
    machines = {}
    for spec in a.boot_machine or []:  # "2:0x1c4": boot.wim image 2's kernel32.dll machine type
        idx, machine = spec.split(":")
        machines[int(idx)] = int(machine, 16)
    for i, name in enumerate(["Microsoft Windows PE (x64)", "Microsoft Windows Setup (x64)"]):
        t = os.path.join(work, f"boot{i}")
        image_tree(t, a.arch, False, a.missing_hive if i == 1 else None, machines.get(i + 1),
                   3 if a.bad_current else None, a.damaged_key)
        capture(t, os.path.join(tree, "sources", "boot.wim"), name)
    for i in range(0 if a.no_install_wim else a.images):
        t = os.path.join(work, f"install{i}")
        image_tree(t, a.arch, True, None, None, 3 if a.bad_current else None, a.damaged_key)
        if a.payload_mb and i == 0:  # bulk data, like a real install image (benchmarks)
            with open(os.path.join(t, "Windows", "payload.bin"), "wb") as f:
                for _ in range(a.payload_mb):
                    f.write(os.urandom(1 << 20))
        capture(t, os.path.join(tree, "sources", "install.wim"), f"Windows 7 TEST{i + 1}",
                "none" if a.payload_mb else None)
    if a.integrity:  # an integrity table: aero-media must copy such a WIM in full to append to it
        subprocess.run(["wimlib-imagex", "optimize", os.path.join(tree, "sources", "install.wim"), "--check"],
                       check=True, stdout=subprocess.DEVNULL)
    if a.blob_after_xml:  # a file resource moved past the XML, as other WIM writers may leave it
        blob_after_xml(os.path.join(tree, "sources", "install.wim"))
    with open(os.path.join(tree, "setup.exe"), "wb") as f:
        f.write(b"MZ setup")
    os.makedirs(os.path.join(tree, "sources", "Long Directory Name With Spaces"))
    with open(os.path.join(tree, "sources", "Long Directory Name With Spaces", "a_really_long_file_name_for_joliet.txt"), "w") as f:
        f.write("joliet long names\n")
    # Joliet allows 64 UCS-2 characters per name, 103 with the long-names relaxation
    with open(os.path.join(tree, "sources", "Long Directory Name With Spaces", LONG_NAME), "w") as f:
        f.write("longer than 64 characters\n")
    if a.big_file_mb:  # a sparse file over 4 GiB (multi-extent in ISO 9660) with markers
        big = os.path.join(tree, "sources", "big")
        os.makedirs(big)
        with open(os.path.join(big, "huge.bin"), "wb") as f:
            f.truncate(a.big_file_mb << 20)
            for off in big_markers(a.big_file_mb << 20):
                f.seek(off)
                f.write(marker(off))
    if a.autounattend:
        with open(os.path.join(tree, "autounattend.xml"), "w") as f:
            f.write("<?xml version=\"1.0\"?><unattend xmlns=\"urn:schemas-microsoft-com:unattend\"><!-- user's own --></unattend>\n")
    if a.udf_bridge:  # like Microsoft's CDIMAGE -u2: every file in UDF, the ISO 9660 tree just README.TXT
        with open(os.path.join(tree, "README.TXT"), "wb") as f:
            f.write(b'This disc contains a "UDF" file system and requires an operating system\r\n'
                    b'that supports the ISO-13346 "UDF" file system specification.\r\n')
        hide = [x for n in sorted(os.listdir(tree)) if n != "README.TXT" for x in ("-hide", n)]
        cmd = ["genisoimage", "-quiet", "-udf", "-allow-limited-size", "-iso-level", "3", "-V", "GRMCULFRER_EN_DVD", *hide,
               "-hide", "boot.catalog", "-c", "boot.catalog",
               "-b", "boot/etfsboot.com", "-no-emul-boot", "-boot-load-size", "8"]
    else:
        cmd = ["xorriso", "-as", "mkisofs", "-quiet", "-iso-level", "3", "-J", "-joliet-long", "-r",
               "-V", "GRMCULFRER_EN_DVD", "-b", "boot/etfsboot.com", "-no-emul-boot", "-boot-load-size", "8"]
    if not a.no_efi:
        cmd += ["-eltorito-alt-boot", "-e", "efi/microsoft/boot/efisys.bin", "-no-emul-boot"]
    cmd += ["-o", a.out, tree]
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL if a.udf_bridge else None)
    if a.hidden_boot:
        hide_boot_images(a.out)
    if a.big_file_mb:  # keep the test's disk use down: the ISO's zero blocks become holes
        subprocess.run(["fallocate", "--dig-holes", a.out], check=True)
    if not a.workdir:
        shutil.rmtree(work)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["iso", "hive", "markers"])
    ap.add_argument("out")
    ap.add_argument("--arch", default="x64", choices=["x64", "x86"])
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--no-efi", action="store_true")
    ap.add_argument("--no-default", action="store_true")
    ap.add_argument("--no-loader", action="store_true")
    ap.add_argument("--missing-hive", default=None)
    ap.add_argument("--autounattend", action="store_true")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--payload-mb", type=int, default=0)
    ap.add_argument("--no-install-wim", action="store_true")
    ap.add_argument("--bad-current", action="store_true")
    ap.add_argument("--damaged-key", action="store_true")  # SYSTEM: a root key whose name hivex cannot read
    ap.add_argument("--boot-machine", action="append")
    ap.add_argument("--big-file-mb", type=int, default=0)
    ap.add_argument("--integrity", action="store_true")
    ap.add_argument("--blob-after-xml", action="store_true")
    ap.add_argument("--kind", default="system")
    ap.add_argument("--udf-bridge", action="store_true")
    ap.add_argument("--hidden-boot", action="store_true")
    a = ap.parse_args()
    if a.what == "markers":
        for off in big_markers(int(a.out) << 20):
            print(off, f"marker at {off:#x}")
        return
    if a.what == "hive":
        {"system": make_system, "software": make_software, "bcd": make_bcd,
         "bcd-template": lambda p: make_bcd(p, template=True)}[a.kind](a.out)
    else:
        make_iso(a)


if __name__ == "__main__":
    main()
