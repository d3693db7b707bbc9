/* Hands the embedded option ROM images (generated from firmware/ at build time by mkrom.py) to
 * the VMM glue. */
#include "aero_firmware.h"

#ifdef AERO_HAVE_FIRMWARE
extern const uint8_t aero_rom_blk[];
extern const size_t aero_rom_blk_size;
#endif

const uint8_t *aero_firmware_option_rom(uint16_t pci_device_id, size_t *size)
{
#ifdef AERO_HAVE_FIRMWARE
    if (pci_device_id == 0x1042) {
        *size = aero_rom_blk_size;
        return aero_rom_blk;
    }
#endif
    (void)pci_device_id;
    *size = 0;
    return NULL;
}
