/* Firmware the devices carry: the PCI expansion ROM images built from firmware/ (the UEFI drivers
 * of aero-virtio-blk-pci and aero-virtio-net-pci), embedded in the library so a VMM needs no
 * extra file. */
#ifndef AERO_FIRMWARE_H
#define AERO_FIRMWARE_H

#include "aero_virtio.h" /* AERO_API */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The option ROM for the device with this PCI device ID (CONTRACT §1 table, e.g. 0x1042 for blk),
 * to be exposed through the device's expansion ROM BAR. Returns a pointer to static storage
 * (never freed, never modified) and sets *size to its length, a multiple of 512; returns NULL
 * and sets *size to 0 when the device has no ROM or the library was built without firmware
 * (-Dfirmware=disabled). */
AERO_API const uint8_t *aero_firmware_option_rom(uint16_t pci_device_id, size_t *size);

/* The network ROM's driver cannot read the header length (CONTRACT §3.2: 10 or 12, the device's
 * header-len setting) from the device: write it into the settings block of the VMM's writable
 * copy of that ROM (rom, size bytes: the image of aero_firmware_option_rom(0x1041) or a copy
 * already configured) before the guest can read it. Returns false, changing nothing, when
 * header_len is neither 10 nor 12 or rom is not one of our images (a user's romfile=). */
AERO_API bool aero_firmware_rom_set_net_header_len(uint8_t *rom, size_t size, unsigned header_len);

#endif
