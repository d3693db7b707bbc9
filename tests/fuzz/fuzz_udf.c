/* libFuzzer target: the UDF reader (media/udf.c) on a hostile image (sparse encoding,
 * fuzz_media.h) in a memory file. With FM_REPAIR_TAGS in the header every descriptor tag of the
 * image is made to pass its checksum and CRC first, so mutations reach the walk behind them (as
 * the shell loop it replaces, tests/udf/udfimg.py fuzz, did).
 *
 * Beyond "no crash": a refusal is one line naming the image; a tree that is read keeps udf.h's
 * promises: names are UTF-8, not empty, without '/', not "." or "..", unique in their folder;
 * folders are nested at most 64 deep and counted right; every file's extents are non-empty, sum
 * to its size and lie inside the image (or are recorded zeros).
 */
#define _GNU_SOURCE /* memfd_create */
#include "fuzz_media.h"

#include "udf.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define LABEL "fuzz.udf"

typedef struct {
    guint64 image;
    guint files, dirs;
} Walk;

static void check_dir(Walk *w, const MediaUdfNode *dir, guint depth)
{
    if (depth > 64)
        fm_violated("folders nested %u deep", depth);
    if (!dir->children || dir->extents)
        fm_violated("a folder without a child list, or with extents");
    g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < dir->children->len; i++) {
        const MediaUdfNode *n = g_ptr_array_index(dir->children, i);
        if (!n->name || !*n->name || strchr(n->name, '/') || !strcmp(n->name, ".") || !strcmp(n->name, "..") ||
            !g_utf8_validate(n->name, -1, NULL))
            fm_violated("a bad name");
        if (!g_hash_table_add(names, n->name))
            fm_violated("two entries named %s", n->name);
        if (n->dir) {
            w->dirs++;
            check_dir(w, n, depth + 1);
            continue;
        }
        w->files++;
        if (!n->extents || n->children)
            fm_violated("%s: a file without extents, or with children", n->name);
        guint64 sum = 0;
        for (guint k = 0; k < n->extents->len; k++) {
            const MediaExtent *x = &g_array_index(n->extents, MediaExtent, k);
            if (!x->len)
                fm_violated("%s: an empty extent", n->name);
            if (x->off != MEDIA_EXTENT_ZERO && (x->off > w->image || x->len > w->image - x->off))
                fm_violated("%s: extent [%" G_GUINT64_FORMAT ", +%" G_GUINT64_FORMAT ") outside the %"
                            G_GUINT64_FORMAT "-byte image", n->name, x->off, x->len, w->image);
            if (sum + x->len < sum)
                fm_violated("%s: extent lengths overflow", n->name);
            sum += x->len;
        }
        if (sum != n->size)
            fm_violated("%s: extents hold %" G_GUINT64_FORMAT " bytes, size is %" G_GUINT64_FORMAT, n->name, sum,
                        n->size);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0 && (fd = memfd_create("fuzz-udf", MFD_CLOEXEC)) < 0)
        fm_violated("memfd_create failed");
    unsigned flags;
    Walk w = {fm_image(data, size, fd, &flags), 0, 0};
    (void)media_udf_present(fd);
    GError *e = NULL;
    MediaUdf *udf = media_udf_read(fd, LABEL, &e);
    if (!udf) {
        fm_check_error(e, LABEL);
        g_error_free(e);
        return 0;
    }
    if (!udf->root || udf->root->name == NULL || *udf->root->name || !udf->root->dir)
        fm_violated("the root is not an unnamed folder");
    check_dir(&w, udf->root, 0);
    if (w.files != udf->files || w.dirs != udf->dirs)
        fm_violated("counted %u files and %u folders, the tree has %u and %u", udf->files, udf->dirs, w.files,
                    w.dirs);
    media_udf_free(udf);
    return 0;
}
