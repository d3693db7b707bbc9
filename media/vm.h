/* `aero-media vm`: the one command from a Windows 7 ISO and a driver tree to a running libvirt
 * domain: driver-iso, win7 (unattended by default), disk, define, start. Built ISOs are kept in a
 * cache folder under names keyed by the hashes of their inputs, so a re-run reuses them.
 */
#ifndef MEDIA_VM_H
#define MEDIA_VM_H

#include "domain.h"
#include "win7.h"

typedef struct {
    const char *iso;       /* the user's Windows 7 ISO */
    const char *drivers;   /* driver tree: folder or ISO */
    const char *cert;      /* may be NULL */
    MediaSigning signing;
    MediaUnattend unattend;
    const char *product_key;
    gboolean allow_unsigned;
    const char *cache_dir; /* NULL: the disk's folder */
    gboolean xml_only;     /* build (or reuse) the ISOs and write the XML; no libvirt */
    MediaDomainOptions domain; /* iso and drivers_iso are filled in by media_vm */
} MediaVmOptions;

gboolean media_vm(MediaVmOptions *o, GError **error);

#endif
