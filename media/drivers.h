/* Driver package discovery and validation: find INFs anywhere under a tree (virtio-win
 * `viostor/w7/amd64/`, Aero bundles `drivers/<dev>/x64/`, ...), decide each package's
 * architecture and contract device, and check that everything the INF needs is present.
 */
#ifndef MEDIA_DRIVERS_H
#define MEDIA_DRIVERS_H

#include "inf.h"

typedef enum {
    MEDIA_DEV_BLK,
    MEDIA_DEV_NET,
    MEDIA_DEV_INPUT,
    MEDIA_DEV_SND,
    MEDIA_DEV_COUNT,
} MediaDevice;

const char *media_device_name(MediaDevice d);      /* blk, net, input, snd */
const char *media_device_hwid(MediaDevice d);      /* PCI\VEN_1AF4&DEV_1042 ... */
gboolean media_device_required(MediaDevice d);     /* blk and net */

typedef struct {
    char *dir;      /* package folder (absolute) */
    char *inf;      /* INF path relative to dir */
    char *name;     /* package name used on the output media */
    MediaArch arch;
    MediaDevice device;
    GPtrArray *hwids;          /* every hardware/compatible ID for arch */
    GPtrArray *contract_hwids; /* those naming the contract device */
    gboolean rev01_gated;      /* every contract HWID carries &REV_01 */
    char *service;             /* AddService name */
    char *group;               /* LoadOrderGroup, may be NULL */
    char *klass, *class_guid, *driver_ver;
    char *catalog;             /* relative path or NULL (allowed with --allow-unsigned) */
    char *sys;                 /* the service binary (relative path), may be NULL */
    GPtrArray *files;          /* every file to ship, relative to dir (INF, CAT, sources) */
} MediaPackage;

void media_package_free(MediaPackage *p);

typedef struct {
    guint archs;             /* MediaArch bits to collect */
    guint required_archs;    /* blk and net must exist for each of these */
    gboolean allow_unsigned; /* a missing catalog is a warning, not an error */
} MediaScanOptions;

/* Scan root. Returns the chosen packages (one per device and arch) or NULL with a one-line
 * error naming the offending file. notes receives human-readable lines about skipped INFs. */
GPtrArray *media_drivers_scan(const char *root, const MediaScanOptions *opt, GPtrArray *notes,
                              GError **error);

#endif
