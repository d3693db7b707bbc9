/* The UDF bridge (see iso.h): a bridge image whose ISO 9660 tree is a stub (Microsoft's install
 * media) is read through its UDF tree (udf.h), which replaces the ISO 9660 tree in the imported
 * image; its files are streams over the input's extents (iso_stream.c).
 */
#include "iso_internal.h"

#include "error.h"
#include "udf.h"

#include <stdlib.h>

static void set_node_times(IsoNode *n, time_t t)
{
    iso_node_set_mtime(n, t);
    iso_node_set_atime(n, t);
    iso_node_set_ctime(n, t);
}

/* The UDF folder's children under parent; starts maps each file's first data byte in the image
 * to its node, to find the El Torito boot images among them. */
static gboolean add_udf_nodes(MediaIso *iso, IsoDir *parent, const MediaUdfNode *dir, const char *path,
                              GHashTable *starts, GError **error)
{
    for (guint i = 0; i < dir->children->len; i++) {
        const MediaUdfNode *c = g_ptr_array_index(dir->children, i);
        g_autofree char *p = g_strconcat(path, "/", c->name, NULL);
        IsoNode *node = NULL;
        int r;
        if (c->dir) {
            r = iso_image_add_new_dir(iso->image, parent, c->name, (IsoDir **)&node);
        } else {
            Extents x = {g_array_copy(c->extents), c->size};
            IsoStream *s = iso_patch_stream_new(iso, &x, NULL, NULL, c->size);
            r = iso_image_add_new_file(iso->image, parent, c->name, s, (IsoFile **)&node);
            if (r < 0)
                iso_stream_unref(s);
            else if (x.x->len && g_array_index(x.x, MediaExtent, 0).off != MEDIA_EXTENT_ZERO &&
                     !g_hash_table_contains(starts, &g_array_index(x.x, MediaExtent, 0).off))
                g_hash_table_insert(starts, g_memdup2(&g_array_index(x.x, MediaExtent, 0).off, sizeof(guint64)), node);
        }
        if (r < 0) {
            g_autofree char *where = g_strdup_printf("%s: UDF file system: %s", iso->path, p);
            iso_set_lib_error(error, r, where, "cannot take it into the ISO 9660 tree");
            return FALSE;
        }
        iso_node_set_uid(node, 0);
        iso_node_set_gid(node, 0);
        iso_node_set_permissions(node, c->dir ? 0555 : 0444);
        set_node_times(node, (time_t)c->mtime);
        if (c->dir && !add_udf_nodes(iso, (IsoDir *)node, c, p, starts, error))
            return FALSE;
    }
    return TRUE;
}

/* A UDF bridge image whose ISO 9660 tree holds fewer files than its UDF tree (Microsoft's
 * CDIMAGE -u2 media: README.TXT only) is read through its UDF tree, which then replaces the
 * ISO 9660 tree for everything after: finding, reading, patching and writing files. */
gboolean iso_use_udf_tree(MediaIso *iso, GError **error)
{
    guint iso_files = g_hash_table_size(iso->files);
    gboolean stub = iso_files == 1 && g_hash_table_contains(iso->files, "/readme.txt");
    if (!media_udf_present(iso->fd)) {
        if (stub)
            g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID,
                        "%s: its ISO 9660 tree holds just README.TXT and it has no UDF file system", iso->path);
        return !stub;
    }
    GError *e = NULL;
    MediaUdf *udf = media_udf_read(iso->fd, iso->path, &e);
    if (!udf) {
        if (stub || !iso_files) {
            g_propagate_error(error, e);
            return FALSE;
        }
        iso->udf_problem = g_strdup(e->message); /* the ISO 9660 tree may do */
        g_error_free(e);
        return TRUE;
    }
    gboolean ok = TRUE;
    if (udf->files > iso_files) {
        IsoDir *root = iso_image_get_root(iso->image);
        IsoDirIter *it = NULL;
        IsoNode *n;
        if (iso_dir_get_children(root, &it) >= 0) {
            while (iso_dir_iter_next(it, &n) == 1)
                iso_dir_iter_remove(it);
            iso_dir_iter_free(it);
        }
        GHashTable *starts = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
        set_node_times((IsoNode *)root, (time_t)udf->root->mtime);
        ok = add_udf_nodes(iso, root, udf->root, "", starts, error) && iso_keep_boot_images(iso, starts, error);
        g_hash_table_unref(starts);
        g_hash_table_remove_all(iso->files);
        iso_collect_files(root, iso->files, NULL); /* udf.c gives usable names only */
        iso->from_udf = TRUE;
    }
    media_udf_free(udf);
    return ok;
}
