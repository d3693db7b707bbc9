/* Hands the embedded option ROM images (generated from firmware/ at build time by mkrom.py) to
 * the VMM glue, and fills in the per-instance settings block their drivers read (rom_params.h). */
#include "aero_firmware.h"
#include "rom_params.h"

#include <string.h>

#ifdef AERO_HAVE_FIRMWARE
extern const uint8_t aero_rom_blk[];
extern const size_t aero_rom_blk_size;
extern const uint8_t aero_rom_net[];
extern const size_t aero_rom_net_size;
#endif

const uint8_t *aero_firmware_option_rom(uint16_t pci_device_id, size_t *size)
{
#ifdef AERO_HAVE_FIRMWARE
    if (pci_device_id == 0x1042) {
        *size = aero_rom_blk_size;
        return aero_rom_blk;
    }
    if (pci_device_id == 0x1041) {
        *size = aero_rom_net_size;
        return aero_rom_net;
    }
#endif
    (void)pci_device_id;
    *size = 0;
    return NULL;
}

bool aero_firmware_rom_set_net_header_len(uint8_t *rom, size_t size, unsigned header_len)
{
    static const uint8_t zero[AERO_ROM_PARAMS_SIZE];
    uint8_t *p;
    /* CONTRACT §3.2: 10 (contract) or 12 (virtio 1.x) */
    if (rom == NULL || (header_len != 10 && header_len != 12))
        return false;
    /* ours: an option ROM whose PCI data structure ends and whose EFI image starts where
     * mkrom.py puts them, with the block either still zero or already ours */
    if (size < AERO_ROM_PARAMS_IMAGE_OFFSET || rom[0] != 0x55 || rom[1] != 0xAA ||
        (rom[0x16] | rom[0x17] << 8) != AERO_ROM_PARAMS_IMAGE_OFFSET ||
        (rom[0x18] | rom[0x19] << 8) + 0x18 > AERO_ROM_PARAMS_OFFSET)
        return false;
    p = rom + AERO_ROM_PARAMS_OFFSET;
    if (memcmp(p, zero, sizeof zero) != 0 &&
        !(p[0] == AERO_ROM_PARAMS_MAGIC0 && p[1] == AERO_ROM_PARAMS_MAGIC1 &&
          p[2] == AERO_ROM_PARAMS_MAGIC2 && p[3] == AERO_ROM_PARAMS_MAGIC3))
        return false;
    memset(p, 0, AERO_ROM_PARAMS_SIZE);
    p[0] = AERO_ROM_PARAMS_MAGIC0;
    p[1] = AERO_ROM_PARAMS_MAGIC1;
    p[2] = AERO_ROM_PARAMS_MAGIC2;
    p[3] = AERO_ROM_PARAMS_MAGIC3;
    p[4] = AERO_ROM_PARAMS_VERSION;
    p[AERO_ROM_PARAMS_NET_HEADER_LEN] = (uint8_t)header_len;
    return true;
}
