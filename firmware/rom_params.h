/* The settings block of our option ROM images: what a ROM's UEFI driver needs to know about its
 * device instance and cannot read from the device's registers. Today one setting, the network
 * device's header length (CONTRACT §3.2: 10 or 12, a QEMU property, invisible to the guest).
 * It sits in the 12 bytes between the PCI data structure (0x1C..0x33) and the EFI image (0x40)
 * that mkrom.py leaves zero; aero_firmware_rom_set_net_header_len() fills it in the copy the VMM
 * exposes, the driver reads it back from PciIo->RomImage. Shared by aero_firmware.c and the
 * drivers, and by nothing else. */
#ifndef AERO_ROM_PARAMS_H
#define AERO_ROM_PARAMS_H

#define AERO_ROM_PARAMS_OFFSET 0x34
#define AERO_ROM_PARAMS_SIZE 12
#define AERO_ROM_PARAMS_IMAGE_OFFSET 0x40 /* the EFI image starts here (mkrom.py) */
/* layout: "AERP", u8 version (1), u8 net header length, six zero bytes */
#define AERO_ROM_PARAMS_MAGIC0 'A'
#define AERO_ROM_PARAMS_MAGIC1 'E'
#define AERO_ROM_PARAMS_MAGIC2 'R'
#define AERO_ROM_PARAMS_MAGIC3 'P'
#define AERO_ROM_PARAMS_VERSION 1
#define AERO_ROM_PARAMS_NET_HEADER_LEN 5 /* byte offset inside the block */

#endif
