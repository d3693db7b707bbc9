/* The Windows facts that patching (win7.c) and checking (verify.c) must agree on, in one place:
 * where Windows keeps what aero-media puts into an image (registry keys and values, files in the
 * WIM images), the boot-critical storage pre-seed (service values, CriticalDeviceDatabase IDs,
 * class GUID), and the layout of the patched media. A change here changes both sides.
 */
#ifndef MEDIA_WINCFG_H
#define MEDIA_WINCFG_H

#include "hive.h"

#include <glib.h>

/* ---- SYSTEM hive: the boot-critical storage driver -------------------------------------------- */

/* Select\Current names the ControlSet Windows boots with (ControlSet%03u). */
#define WIN_SELECT_KEY "Select"
#define WIN_SELECT_CURRENT "Current"
#define WIN_CONTROL_SET_FMT "ControlSet%03u"

/* <ControlSet>\Services\<service>: a boot-start kernel driver in system32\drivers. */
#define WIN_SERVICE_KEY_FMT "%s\\Services\\%s"
#define WIN_SERVICE_PNP_KEY_FMT "%s\\Services\\%s\\Parameters\\PnpInterface"
#define WIN_SERVICE_IMAGE_PATH_FMT "system32\\drivers\\%s"
#define WIN_SERVICE_TYPE_KERNEL 1u                /* Type: SERVICE_KERNEL_DRIVER */
#define WIN_SERVICE_START_BOOT 0u                 /* Start: SERVICE_BOOT_START */
#define WIN_SERVICE_ERROR_NORMAL 1u               /* ErrorControl: SERVICE_ERROR_NORMAL */
#define WIN_SERVICE_GROUP_DEFAULT "SCSI miniport" /* when the INF names no LoadOrderGroup */
#define WIN_PNP_INTERFACE_PCI "5"                 /* PnpInterface value: PCI bus, for storport */

/* <ControlSet>\Control\CriticalDeviceDatabase\<id>: Service and ClassGUID for a device Windows
 * must drive before PnP runs. */
#define WIN_CDD_KEY_FMT "%s\\Control\\CriticalDeviceDatabase\\%s"
#define WIN_SCSIADAPTER_CLASS_GUID "{4D36E97B-E325-11CE-BFC1-08002BE10318}"
/* The key names Windows matches for the blk function, least specific first
 * (CONTRACT: PCI\VEN_1AF4&DEV_1042&SUBSYS_00021AF4&REV_01); [0] is the one every blk has. */
#define WIN_BLK_CDD_COUNT 3
extern const char *const win_blk_cdd_ids[WIN_BLK_CDD_COUNT];
/* How messages name the set: "pci#ven_1af4&dev_1042 (plain, &subsys_00021af4, &rev_01)". */
#define WIN_BLK_CDD_DESCRIPTION "pci#ven_1af4&dev_1042 (plain, &subsys_00021af4, &rev_01)"
#define WIN_BLK_HWID "PCI\\VEN_1AF4&DEV_1042"

/* Whether a root key of SYSTEM is a ControlSet00N (FALSE for NULL: a name hivex cannot read). */
gboolean win_is_control_set(const char *name);
/* The number Select\Current holds; FALSE when there is none. */
gboolean win_current_control_set(MediaHive *hv, guint32 *out);

/* ---- SOFTWARE hive ------------------------------------------------------------------------------ */

/* Microsoft\SystemCertificates\<store>\Certificates\<thumbprint>, value Blob (cert.h). */
#define WIN_CERT_KEY_FMT "Microsoft\\SystemCertificates\\%s\\Certificates\\%s"
#define WIN_CERT_STORES_KEY_FMT "Microsoft\\SystemCertificates\\%s\\Certificates"
#define WIN_CERT_BLOB "Blob"
#define WIN_CERT_STORE_ROOT "ROOT"
#define WIN_CERT_STORE_TRUSTED_PUBLISHER "TrustedPublisher"
/* Where PnP looks for drivers: DevicePath lists each staged package folder. */
#define WIN_CURRENT_VERSION_KEY "Microsoft\\Windows\\CurrentVersion"
#define WIN_DEVICE_PATH "DevicePath"
#define WIN_DEVICE_PATH_DEFAULT "%SystemRoot%\\inf"
#define WIN_DEVICE_PATH_ENTRY_FMT "%%SystemRoot%%\\AeroDrivers\\%s"

/* ---- files in a Windows image (WIM) ----------------------------------------------------------- */

#define WIN_IMAGE_SOFTWARE "/Windows/System32/config/SOFTWARE"
#define WIN_IMAGE_SYSTEM "/Windows/System32/config/SYSTEM"
#define WIN_IMAGE_BCD_TEMPLATE "/Windows/System32/config/BCD-Template"
#define WIN_IMAGE_DRIVER_FMT "/Windows/System32/drivers/%s"
#define WIN_IMAGE_AERO_DRIVERS "/Windows/AeroDrivers" /* the staged packages, in install images */

/* ---- the install media (lower-case paths, as media_iso_find takes them) --------------------- */

#define WIN_MEDIA_BOOT_WIM "/sources/boot.wim"
#define WIN_MEDIA_INSTALL_WIM "/sources/install.wim"
#define WIN_MEDIA_BOOT_BCD "/boot/bcd"
#define WIN_MEDIA_EFI_BCD "/efi/microsoft/boot/bcd"
#define WIN_MEDIA_UNATTEND "/autounattend.xml"
/* The staged driver packages: AERO/DRIVERS/<arch>/<package>/ on the media. */
#define WIN_MEDIA_DRIVERS "AERO/DRIVERS"

#endif
