/* Firmware the devices carry: the PCI expansion ROM images built from firmware/ (today one, the
 * UEFI driver of aero-virtio-blk-pci), embedded in the library so a VMM needs no extra file. */
#ifndef AERO_FIRMWARE_H
#define AERO_FIRMWARE_H

#include "aero_virtio.h" /* AERO_API */

#include <stddef.h>
#include <stdint.h>

/* The option ROM for the device with this PCI device ID (CONTRACT §1 table, e.g. 0x1042 for blk),
 * to be exposed through the device's expansion ROM BAR. Returns a pointer to static storage
 * (never freed, never modified) and sets *size to its length, a multiple of 512; returns NULL
 * and sets *size to 0 when the device has no ROM or the library was built without firmware
 * (-Dfirmware=disabled). */
AERO_API const uint8_t *aero_firmware_option_rom(uint16_t pci_device_id, size_t *size);

#endif
