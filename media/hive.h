/* Offline registry hive editing through hivex: create key paths, set typed values, read values,
 * commit. Names are matched case-insensitively (hivex does, like Windows).
 */
#ifndef MEDIA_HIVE_H
#define MEDIA_HIVE_H

#include <glib.h>
#include <hivex.h>

typedef struct {
    hive_h *h;
    char *path;  /* the file on disk */
    char *label; /* what error messages call it, e.g. "install.wim[2]:Windows/System32/config/SYSTEM" */
} MediaHive;

MediaHive *media_hive_open(const char *path, const char *label, gboolean write, GError **error);
void media_hive_close(MediaHive *hv);
gboolean media_hive_commit(MediaHive *hv, GError **error);

/* Node at a backslash-separated path from the root; 0 when absent (or unreadable). */
hive_node_h media_hive_lookup(MediaHive *hv, const char *path);
/* Same, creating missing keys; 0 with error set when a key cannot be created, or when a key on
 * the way cannot be read (hivex answers 0 for "no such child" and for "a child's name cannot be
 * read": taking the second for the first would add a second key of the same name). */
hive_node_h media_hive_ensure(MediaHive *hv, const char *path, GError **error);
/* The child key `name` of n, created when absent; 0 with error set as for media_hive_ensure
 * (messages call the child `shown`, e.g. its path). */
hive_node_h media_hive_ensure_child(MediaHive *hv, hive_node_h n, const char *name, const char *shown,
                                   GError **error);

gboolean media_hive_set_sz(MediaHive *hv, hive_node_h n, const char *name, const char *v, GError **error);
gboolean media_hive_set_expand_sz(MediaHive *hv, hive_node_h n, const char *name, const char *v, GError **error);
gboolean media_hive_set_dword(MediaHive *hv, hive_node_h n, const char *name, guint32 v, GError **error);
gboolean media_hive_set_binary(MediaHive *hv, hive_node_h n, const char *name, const void *d, gsize len, GError **error);

/* String value (REG_SZ/REG_EXPAND_SZ) as UTF-8, or NULL. */
char *media_hive_get_string(MediaHive *hv, hive_node_h n, const char *name);
gboolean media_hive_get_dword(MediaHive *hv, hive_node_h n, const char *name, guint32 *out);
/* Raw value data, or NULL. */
GBytes *media_hive_get_data(MediaHive *hv, hive_node_h n, const char *name, hive_type *type);

#endif
