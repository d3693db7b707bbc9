/* The libvirt side of `aero-media domain` and `aero-media vm`, through libvirt's C API: connect
 * (any URI, the embedded driver included: an event loop thread is registered first), look up,
 * define, start and undefine domains, and create the disk image (a storage volume where libvirt
 * has a pool for its folder, else qemu-img on a local host).
 */
#ifndef MEDIA_VIRT_H
#define MEDIA_VIRT_H

#include <glib.h>

typedef struct MediaVirt MediaVirt;

/* Connect to uri (NULL: qemu:///system). The error names the URI and says why (no daemon, no
 * permission) in one line. */
MediaVirt *media_virt_open(const char *uri, GError **error);
void media_virt_close(MediaVirt *v);
const char *media_virt_uri(MediaVirt *v);
/* Whether the connection's host is this machine (paths given on the command line are valid
 * there and qemu-img can create the disk). */
gboolean media_virt_is_local(MediaVirt *v);

/* Whether a domain called name is defined; if so its UUID (string) and whether it runs. */
gboolean media_virt_lookup(MediaVirt *v, const char *name, gboolean *found, char **uuid, gboolean *active,
                           GError **error);
gboolean media_virt_define(MediaVirt *v, const char *name, const char *xml, GError **error);
/* Start a defined domain, with its vCPUs paused when asked. */
gboolean media_virt_start(MediaVirt *v, const char *name, gboolean paused, GError **error);
/* Remove a definition this run made (error paths); errors are ignored. */
void media_virt_undefine(MediaVirt *v, const char *name);

/* Create a disk image of size bytes at path in format (qcow2 or raw); it must not exist. */
gboolean media_virt_create_disk(MediaVirt *v, const char *path, const char *format, guint64 size,
                                GError **error);

#endif
