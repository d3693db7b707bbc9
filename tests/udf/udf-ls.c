/* Test helper: list the UDF tree of an image with media/udf.c, one line per entry:
 *   D /path            (a folder)
 *   F /path SIZE SHA256 (a file, its data read through its extents)
 * then "files N dirs M". Exit 1 with the reader's one-line error on stderr when the image is
 * refused. Used to compare against 7-Zip's UDF reader and as the fuzz target under sanitizers.
 *   udf-ls IMAGE
 */
#include "udf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static gboolean file_sha256(int fd, const MediaUdfNode *n, char **out)
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    guint8 *buf = g_malloc(1u << 20);
    gboolean ok = TRUE;
    for (guint i = 0; i < n->extents->len && ok; i++) {
        const MediaExtent *x = &g_array_index(n->extents, MediaExtent, i);
        for (guint64 done = 0; done < x->len && ok;) {
            gsize len = (gsize)MIN(x->len - done, (guint64)(1u << 20));
            if (x->off == MEDIA_EXTENT_ZERO)
                memset(buf, 0, len);
            else
                ok = pread(fd, buf, len, (off_t)(x->off + done)) == (ssize_t)len;
            g_checksum_update(sum, buf, len);
            done += len;
        }
    }
    *out = ok ? g_strdup(g_checksum_get_string(sum)) : NULL;
    g_checksum_free(sum);
    g_free(buf);
    return ok;
}

static gboolean list(int fd, const MediaUdfNode *dir, const char *path)
{
    for (guint i = 0; i < dir->children->len; i++) {
        const MediaUdfNode *n = g_ptr_array_index(dir->children, i);
        g_autofree char *p = g_strconcat(path, "/", n->name, NULL);
        if (n->dir) {
            printf("D %s\n", p);
            if (!list(fd, n, p))
                return FALSE;
            continue;
        }
        guint64 sum = 0;
        for (guint k = 0; k < n->extents->len; k++)
            sum += g_array_index(n->extents, MediaExtent, k).len;
        if (sum != n->size) {
            fprintf(stderr, "%s: extents hold %llu bytes, size is %llu\n", p, (unsigned long long)sum,
                    (unsigned long long)n->size);
            return FALSE;
        }
        g_autofree char *sha = NULL;
        if (!file_sha256(fd, n, &sha)) {
            fprintf(stderr, "%s: cannot read its data\n", p);
            return FALSE;
        }
        printf("F %s %llu %s\n", p, (unsigned long long)n->size, sha);
    }
    return TRUE;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: udf-ls IMAGE\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    GError *error = NULL;
    MediaUdf *udf = media_udf_read(fd, argv[1], &error);
    if (!udf) {
        fprintf(stderr, "%s\n", error->message);
        g_error_free(error);
        close(fd);
        return 1;
    }
    gboolean ok = list(fd, udf->root, "");
    if (ok)
        printf("files %u dirs %u\n", udf->files, udf->dirs);
    media_udf_free(udf);
    close(fd);
    return ok ? 0 : 3;
}
