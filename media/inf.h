/* Windows INF reader: just enough of the format (sections, key = value lines, comma-separated
 * fields, quoted strings, line continuations, %strkey% substitution, UTF-16LE files) to validate
 * driver packages: [Version], per-architecture models, hardware IDs, services, source files.
 */
#ifndef MEDIA_INF_H
#define MEDIA_INF_H

#include <glib.h>

typedef enum { MEDIA_ARCH_X86 = 1, MEDIA_ARCH_AMD64 = 2 } MediaArch;

const char *media_arch_name(MediaArch a); /* "x86" / "amd64" */

typedef struct MediaInf MediaInf;

/* Parse an INF file. NULL with *error set (naming the file) on I/O or encoding errors. */
MediaInf *media_inf_load(const char *path, GError **error);
void media_inf_free(MediaInf *inf);

/* [Version] value (Class, ClassGUID, DriverVer, ...), strings substituted, or NULL. */
const char *media_inf_version(const MediaInf *inf, const char *key);
/* CatalogFile for an arch (CatalogFile.NTamd64 / .NTx86 win over CatalogFile), or NULL. */
const char *media_inf_catalog(const MediaInf *inf, MediaArch arch);
/* Architectures the [Manufacturer] section has models for (bit set of MediaArch). */
guint media_inf_archs(const MediaInf *inf);
/* Hardware and compatible IDs of every model for arch (upper-cased), and the install sections. */
GPtrArray *media_inf_hardware_ids(const MediaInf *inf, MediaArch arch);
/* Service names from AddService in the .Services sections of arch's install sections. */
GPtrArray *media_inf_services(const MediaInf *inf, MediaArch arch);
/* Files the package must carry for arch: SourceDisksFiles and SourceDisksFiles.<x86|amd64>,
 * as relative paths (subdirectory from the entry, forward slashes). */
GPtrArray *media_inf_source_files(const MediaInf *inf, MediaArch arch);
/* LoadOrderGroup of the first service of arch, or NULL. */
const char *media_inf_service_group(const MediaInf *inf, MediaArch arch);

#endif
