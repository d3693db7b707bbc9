/* The firmware a device carries (firmware/, embedded in the library): blk's and net's UEFI
 * option ROMs are well-formed PCI expansion ROM images that a UEFI PCI bus driver will load for
 * the contract's identities. The rule behind them: OVMF's virtio 1.0 transport driver ignores
 * modern devices whose subsystem ID is below 0x40, so a boot device with such an ID must bring
 * its own driver. Net's ROM also carries the header length the VMM writes into its copy. */
#include "aero_blk.h"
#include "aero_firmware.h"
#include "aero_le.h"
#include "aero_net.h"
#include "rom_params.h"

#include <stdlib.h>
#include <string.h>

#include "check_main.h"

#define OVMF_MIN_SUBSYSTEM_ID 0x40 /* virtio 1.0 §4.1.2.1 SHOULD, enforced by OVMF's Virtio10Dxe */

START_TEST(test_blk_contract_subsystem_id_needs_own_uefi_driver)
{
    size_t size;
    ck_assert_uint_lt(aero_blk_pci_identity.subsystem_id, OVMF_MIN_SUBSYSTEM_ID);
    ck_assert_ptr_nonnull(aero_firmware_option_rom(aero_blk_pci_identity.device_id, &size));
    ck_assert_uint_gt(size, 0);
}
END_TEST

static void check_efi_rom(const struct aero_pci_identity *id)
{
    size_t size;
    const uint8_t *rom = aero_firmware_option_rom(id->device_id, &size);
    ck_assert_ptr_nonnull(rom);
    ck_assert_uint_eq(size % 512, 0);
    ck_assert_uint_eq(aero_le16(rom + 0x00), 0xAA55);
    ck_assert_uint_eq(aero_le16(rom + 0x02) * 512u, size); /* InitializationSize */
    ck_assert_uint_eq(aero_le32(rom + 0x04), 0x0EF1);      /* EFI signature */
    ck_assert_uint_eq(aero_le16(rom + 0x08), 11);          /* boot-services driver */
    ck_assert_uint_eq(aero_le16(rom + 0x0A), 0x8664);      /* x64 */
    ck_assert_uint_eq(aero_le16(rom + 0x0C), 0);           /* uncompressed */
    uint16_t pe = aero_le16(rom + 0x16), pcir = aero_le16(rom + 0x18);
    ck_assert_uint_lt(pe, size);
    ck_assert(rom[pe] == 'M' && rom[pe + 1] == 'Z');
    ck_assert_uint_eq(pcir % 4, 0);
    ck_assert(rom[pcir] == 'P' && rom[pcir + 1] == 'C' && rom[pcir + 2] == 'I' &&
              rom[pcir + 3] == 'R');
    ck_assert_uint_eq(aero_le16(rom + pcir + 4), id->vendor_id);
    ck_assert_uint_eq(aero_le16(rom + pcir + 6), id->device_id);
    ck_assert_uint_eq(rom[pcir + 0x0D] | rom[pcir + 0x0E] << 8 | rom[pcir + 0x0F] << 16,
                      id->class_code);
    ck_assert_uint_eq(aero_le16(rom + pcir + 0x10) * 512u, size); /* image length */
    ck_assert_uint_eq(rom[pcir + 0x14], 3);                       /* code type EFI */
    ck_assert_uint_eq(rom[pcir + 0x15] & 0x80, 0x80);             /* last image */
    /* the settings block lies between the PCI data structure and the image, zero as built */
    ck_assert_uint_le(pcir + 0x18u, AERO_ROM_PARAMS_OFFSET);
    ck_assert_uint_ge(pe, AERO_ROM_PARAMS_OFFSET + AERO_ROM_PARAMS_SIZE);
    for (unsigned i = 0; i < AERO_ROM_PARAMS_SIZE; i++)
        ck_assert_uint_eq(rom[AERO_ROM_PARAMS_OFFSET + i], 0);
}

START_TEST(test_blk_option_rom_is_an_efi_pci_expansion_rom)
{
    check_efi_rom(&aero_blk_pci_identity);
}
END_TEST

START_TEST(test_net_option_rom_is_an_efi_pci_expansion_rom)
{
    ck_assert_uint_lt(aero_net_pci_identity.subsystem_id, OVMF_MIN_SUBSYSTEM_ID);
    check_efi_rom(&aero_net_pci_identity);
}
END_TEST

static uint8_t *net_rom_copy(size_t *size)
{
    const uint8_t *rom = aero_firmware_option_rom(aero_net_pci_identity.device_id, size);
    ck_assert_ptr_nonnull(rom);
    uint8_t *copy = malloc(*size);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, rom, *size);
    return copy;
}

/* CONTRACT §3.2: the driver in the ROM learns 10 or 12 from the block; the image is untouched */
START_TEST(test_net_rom_carries_the_header_length)
{
    size_t size;
    uint8_t *copy = net_rom_copy(&size);
    const uint8_t *p = copy + AERO_ROM_PARAMS_OFFSET;
    const uint8_t *orig = aero_firmware_option_rom(aero_net_pci_identity.device_id, &size);
    for (unsigned hl = 10; hl <= 12; hl += 2) {
        ck_assert(aero_firmware_rom_set_net_header_len(copy, size, hl));
        ck_assert(p[0] == 'A' && p[1] == 'E' && p[2] == 'R' && p[3] == 'P');
        ck_assert_uint_eq(p[4], AERO_ROM_PARAMS_VERSION);
        ck_assert_uint_eq(p[AERO_ROM_PARAMS_NET_HEADER_LEN], hl);
        ck_assert_int_eq(memcmp(copy + AERO_ROM_PARAMS_IMAGE_OFFSET,
                                orig + AERO_ROM_PARAMS_IMAGE_OFFSET,
                                size - AERO_ROM_PARAMS_IMAGE_OFFSET),
                         0);
    }
    free(copy);
}
END_TEST

START_TEST(test_net_rom_refuses_other_header_lengths_and_foreign_roms)
{
    size_t size;
    uint8_t *copy = net_rom_copy(&size);
    uint8_t *before = malloc(size);
    ck_assert_ptr_nonnull(before);
    memcpy(before, copy, size);
    ck_assert(!aero_firmware_rom_set_net_header_len(copy, size, 11));
    ck_assert(!aero_firmware_rom_set_net_header_len(copy, size, 0));
    ck_assert(!aero_firmware_rom_set_net_header_len(copy, 0x20, 12)); /* too short */
    ck_assert(!aero_firmware_rom_set_net_header_len(NULL, size, 12));
    ck_assert_int_eq(memcmp(copy, before, size), 0);
    /* a ROM that uses those bytes for something else (say iPXE's) is left alone */
    copy[AERO_ROM_PARAMS_OFFSET] = 0x5A;
    ck_assert(!aero_firmware_rom_set_net_header_len(copy, size, 12));
    copy[AERO_ROM_PARAMS_OFFSET] = 0;
    copy[0] = 0;
    ck_assert(!aero_firmware_rom_set_net_header_len(copy, size, 12));
    free(before);
    free(copy);
}
END_TEST

START_TEST(test_devices_without_a_rom_get_null)
{
    size_t size = 123;
    ck_assert_ptr_null(aero_firmware_option_rom(0x1052, &size));
    ck_assert_uint_eq(size, 0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("firmware");
    TCase *tc = tcase_create("option-rom");
    tcase_add_test(tc, test_blk_contract_subsystem_id_needs_own_uefi_driver);
    tcase_add_test(tc, test_blk_option_rom_is_an_efi_pci_expansion_rom);
    tcase_add_test(tc, test_net_option_rom_is_an_efi_pci_expansion_rom);
    tcase_add_test(tc, test_net_rom_carries_the_header_length);
    tcase_add_test(tc, test_net_rom_refuses_other_header_lengths_and_foreign_roms);
    tcase_add_test(tc, test_devices_without_a_rom_get_null);
    suite_add_tcase(s, tc);
    return s;
}
