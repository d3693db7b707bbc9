/* The firmware a device carries (firmware/, embedded in the library): blk's UEFI option ROM is
 * a well-formed PCI expansion ROM image that a UEFI PCI bus driver will load for the contract's
 * blk identity. The rule behind it: OVMF's virtio 1.0 transport driver ignores modern devices
 * whose subsystem ID is below 0x40, so a boot device with such an ID must bring its own driver. */
#include "aero_blk.h"
#include "aero_firmware.h"
#include "aero_le.h"

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

START_TEST(test_blk_option_rom_is_an_efi_pci_expansion_rom)
{
    size_t size;
    const uint8_t *rom = aero_firmware_option_rom(aero_blk_pci_identity.device_id, &size);
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
    ck_assert_uint_eq(aero_le16(rom + pcir + 4), aero_blk_pci_identity.vendor_id);
    ck_assert_uint_eq(aero_le16(rom + pcir + 6), aero_blk_pci_identity.device_id);
    ck_assert_uint_eq(aero_le16(rom + pcir + 0x10) * 512u, size); /* image length */
    ck_assert_uint_eq(rom[pcir + 0x14], 3);                       /* code type EFI */
    ck_assert_uint_eq(rom[pcir + 0x15] & 0x80, 0x80);             /* last image */
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
    tcase_add_test(tc, test_devices_without_a_rom_get_null);
    suite_add_tcase(s, tc);
    return s;
}
