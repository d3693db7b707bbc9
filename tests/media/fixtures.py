#!/usr/bin/env python3
"""Builds driver trees for the media tests (nothing Microsoft-made exists here).

    fixtures.py drivers DEST [--layout virtio-win|aero|guest-tools|flat|multiarch]
                [--archs x86,amd64] [--break missing-sys|missing-cat|no-hwid|bad-version]
                [--utf16] [--rev01] [--long-name] [--net-service NAME]

Layouts: virtio-win <dev>/w7/<arch>/ (plus older-OS copies), aero drivers/<dev>/<x64|x86>/,
guest-tools drivers/<arch>/<pkg>/, flat <arch>/w7/*.inf (every INF in one folder), multiarch
<dev>/<dev>.inf with NTx86 and NTamd64 models and the binaries in <dev>/<arch>/.
--rev01: the models name only ...&REV_01 hardware IDs; --long-name: viostor also ships a file
whose name is longer than Joliet's default 64 characters. --net-service: the net package's
service name (default netkvm, virtio-win's; Aero's own driver has another).

Writes real INF text (Version, Manufacturer with NTx86/NTamd64 decorations, models, install
and .Services sections, SourceDisksNames/Files, Strings) plus placeholder .sys/.cat files.
"""
import argparse
import os
import struct

DEVICES = {
    # name: (service, class, classguid, dev id, subsys)
    "viostor": ("viostor", "SCSIAdapter", "{4D36E97B-E325-11CE-BFC1-08002BE10318}", "1042", "0002"),
    "netkvm": ("netkvm", "Net", "{4D36E972-E325-11CE-BFC1-08002BE10318}", "1041", "0001"),
    "vioinput": ("vioinput", "HIDClass", "{745A17A0-74D3-11D0-B6FE-00A0C90F57DA}", "1052", "0010"),
    "viosnd": ("aero_virtio_snd", "MEDIA", "{4D36E96C-E325-11CE-BFC1-08002BE10318}", "1059", "0019"),
    "balloon": ("balloon", "System", "{4D36E97D-E325-11CE-BFC1-08002BE10318}", "1045", "0005"),
}


def fake_sys(name, arch):
    """A driver binary stand-in: a PE header with the architecture's machine type, then text."""
    machine = 0x8664 if arch == "amd64" else 0x14C
    head = bytearray(0x80)
    head[0:2] = b"MZ"
    struct.pack_into("<I", head, 0x3C, 0x80)
    pe = b"PE\0\0" + struct.pack("<HH", machine, 0) + bytes(16)
    return bytes(head) + pe + f"{name}-{arch}-driver".encode() * 64


LONG_FILE = "viostor_coinstaller_with_a_name_longer_than_sixty_four_characters_for_joliet.dll"


def inf_text(name, arch, brk, rev01=False, long_name=False, multiarch=False):
    svc, cls, guid, dev, sub = DEVICES[name]
    decs = ["NTx86", "NTamd64"] if multiarch else ["NTamd64" if arch == "amd64" else "NTx86"]
    if brk == "no-hwid" and name == "viostor":
        dev = "1001"  # the transitional ID: not what the contract device reports
    hw = f"PCI\\VEN_1AF4&DEV_{dev}&SUBSYS_{sub}1AF4&REV_01"
    hw2 = hw if rev01 else f"PCI\\VEN_1AF4&DEV_{dev}&SUBSYS_{sub}1AF4"
    extra = f"\n{LONG_FILE} = 1,," if long_name and name == "viostor" else ""
    models = "".join(f"""
[Models.{d}.6.1]
%DeviceDesc% = {name}_inst, {hw}
%DeviceDesc% = {name}_inst, {hw2}
""" for d in decs)
    disks = ("""[SourceDisksNames.x86]
1 = %DiskName%,,,x86

[SourceDisksNames.amd64]
1 = %DiskName%,,,amd64""" if multiarch else """[SourceDisksNames]
1 = %DiskName%,,,\"\"""")
    version = [f"Signature=\"$WINDOWS NT$\"", f"Class={cls}", f"ClassGuid={guid}",
               "Provider=%Vendor%", f"CatalogFile={name}.cat", "DriverVer=06/21/2024,100.95.104.26000"]
    if brk == "bad-version" and name == "viostor":
        version = [v for v in version if not v.startswith("ClassGuid")]
    group = "\nLoadOrderGroup = SCSI miniport" if cls == "SCSIAdapter" else ""
    return f"""; {name}.inf -- test fixture written by tests/media/fixtures.py
[Version]
{chr(10).join(version)}

[DestinationDirs]
DefaultDestDir = 12

{disks}

[SourceDisksFiles]
{svc}.sys = 1,,{extra}

[Manufacturer]
%Vendor% = Models, {", ".join(d + ".6.1" for d in decs)}
{models}
[{name}_inst]
CopyFiles = {name}_files

[{name}_files]
{svc}.sys

[{name}_inst.Services]
AddService = {svc}, 0x00000002, {name}_service

[{name}_service]
ServiceType = 1
StartType = 0
ErrorControl = 1
ServiceBinary = %12%\\{svc}.sys{group}

[Strings]
Vendor = "Aero Test"
DiskName = "Aero test driver disk"
DeviceDesc = "Aero test device ({name})"
"""


def write_inf(path, text, utf16):
    if utf16:
        with open(path, "wb") as f:
            f.write(b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le"))
    else:
        with open(path, "w", newline="\r\n") as f:
            f.write(text)


def write_files(d, name, arch, brk, long_name):
    svc = DEVICES[name][0]
    if not (brk == "missing-sys" and name == "viostor"):
        with open(os.path.join(d, f"{svc}.sys"), "wb") as f:
            f.write(fake_sys(name, arch))
    if long_name and name == "viostor":
        with open(os.path.join(d, LONG_FILE), "wb") as f:
            f.write(b"MZ long-named co-installer")


def write_cat(d, name, arch, brk):
    if not (brk == "missing-cat" and name == "netkvm"):
        with open(os.path.join(d, f"{name}.cat"), "wb") as f:
            f.write(b"0\x82" + f"{name}-{arch}-catalog".encode() * 16)


def package_dir(dest, layout, name, arch):
    x64 = "x64" if arch == "amd64" else "x86"
    return {"virtio-win": os.path.join(dest, name, "w7", arch),
            "aero": os.path.join(dest, "drivers", name, x64),
            "guest-tools": os.path.join(dest, "drivers", arch, name),
            "flat": os.path.join(dest, arch, "w7")}[layout]


def write_tree(dest, layout, archs, brk, utf16, rev01=False, long_name=False):
    for name in DEVICES:
        if layout == "multiarch":  # one INF for both architectures, binaries per arch folder
            d = os.path.join(dest, name)
            os.makedirs(d, exist_ok=True)
            write_inf(os.path.join(d, f"{name}.inf"), inf_text(name, None, brk, rev01, long_name, True), utf16)
            write_cat(d, name, "both", brk)
            for arch in archs:
                os.makedirs(os.path.join(d, arch), exist_ok=True)
                write_files(os.path.join(d, arch), name, arch, brk, long_name)
            continue
        for arch in archs:
            d = package_dir(dest, layout, name, arch)
            os.makedirs(d, exist_ok=True)
            text = inf_text(name, arch, brk, rev01, long_name)
            write_inf(os.path.join(d, f"{name}.inf"), text, utf16)
            write_files(d, name, arch, brk, long_name)
            write_cat(d, name, arch, brk)
            if layout == "virtio-win":  # an older-OS copy that must not be chosen over w7
                svc = DEVICES[name][0]
                o = os.path.join(dest, name, "2k8", arch)
                os.makedirs(o, exist_ok=True)
                with open(os.path.join(o, f"{name}.inf"), "w", newline="\r\n") as f:
                    f.write(text)
                for fn in (f"{svc}.sys", f"{name}.cat"):
                    with open(os.path.join(o, fn), "wb") as f:
                        f.write(b"old")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["drivers"])
    ap.add_argument("dest")
    ap.add_argument("--layout", default="virtio-win",
                    choices=["virtio-win", "aero", "guest-tools", "flat", "multiarch"])
    ap.add_argument("--archs", default="x86,amd64")
    ap.add_argument("--break", dest="brk", default=None)
    ap.add_argument("--utf16", action="store_true")
    ap.add_argument("--rev01", action="store_true")
    ap.add_argument("--long-name", action="store_true")
    ap.add_argument("--net-service", default=None)
    a = ap.parse_args()
    if a.net_service:
        DEVICES["netkvm"] = (a.net_service,) + DEVICES["netkvm"][1:]
    write_tree(a.dest, a.layout, a.archs.split(","), a.brk, a.utf16, a.rev01, a.long_name)


if __name__ == "__main__":
    main()
