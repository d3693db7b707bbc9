/* A file of a written image whose bytes come from two places (see iso_internal.h): the changed
 * ranges from a local work copy, everything else from the input image through its extents, so a
 * WIM updated by appending is never copied in full. With no work copy it is a file of the input
 * read through its extents (the UDF tree of a bridge image, boot images in no directory).
 */
#include "iso_internal.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- a patched file: changed ranges from the work copy, the rest from the input image ---- */
/* With no work copy (disk_path NULL) the stream is a file of the input's UDF tree. */

typedef struct PatchStream PatchStream;
struct PatchStream {
    MediaIso *iso;
    Extents old;
    char *disk_path;
    int fd;
    GArray *ranges; /* MediaRange, sorted */
    guint64 size, pos;
    guint cursor;   /* first range that may contain the next composed byte */
    guint8 *buf;    /* composed bytes [buf_start, buf_start + buf_len) */
    guint64 buf_start, buf_len;
    ino_t ino;
};

#define PATCH_BUFFER (4u << 20)

static int patch_open(IsoStream *s)
{
    PatchStream *d = s->data;
    d->fd = d->disk_path ? g_open(d->disk_path, O_RDONLY | O_CLOEXEC, 0) : -1;
    d->pos = 0;
    d->cursor = 0;
    d->buf_start = d->buf_len = 0;
    if (!d->buf)
        d->buf = g_malloc(PATCH_BUFFER);
    return d->disk_path && d->fd < 0 ? (int)ISO_FILE_ERROR : ISO_SUCCESS;
}

static int patch_close(IsoStream *s)
{
    PatchStream *d = s->data;
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
    g_clear_pointer(&d->buf, g_free);
    return ISO_SUCCESS;
}

static off_t patch_get_size(IsoStream *s) { return (off_t)((PatchStream *)s->data)->size; }

/* Bytes [pos, pos+count) of the patched file, from the work copy or the input image. Reads are
 * sequential, so a cursor walks the sorted ranges. */
static gboolean patch_compose(PatchStream *d, guint64 pos, guint8 *p, gsize count)
{
    while (count) {
        while (d->cursor < d->ranges->len) {
            const MediaRange *r = &g_array_index(d->ranges, MediaRange, d->cursor);
            if (pos < r->offset + r->length)
                break;
            d->cursor++;
        }
        const MediaRange *r = d->cursor < d->ranges->len ? &g_array_index(d->ranges, MediaRange, d->cursor) : NULL;
        gboolean from_disk;
        guint64 until;
        if (r && pos >= r->offset) { /* a changed range */
            from_disk = TRUE;
            until = r->offset + r->length;
        } else if (pos >= d->old.size) { /* appended after the old end */
            from_disk = TRUE;
            until = r ? r->offset : d->size;
        } else { /* unchanged: the input image's bytes */
            from_disk = FALSE;
            until = r ? MIN(r->offset, d->old.size) : d->old.size;
        }
        until = MIN(until, d->size);
        gsize n = (gsize)MIN((guint64)count, until - pos);
        gboolean ok = from_disk ? iso_pread_all(d->fd, p, n, pos) : iso_read_file_range(d->iso, &d->old, pos, p, n);
        if (!ok)
            return FALSE;
        p += n;
        pos += n;
        count -= n;
    }
    return TRUE;
}

/* libisofs asks for 2 KiB at a time: serve them from a big buffer. */
static int patch_read(IsoStream *s, void *buf, size_t count)
{
    PatchStream *d = s->data;
    if (d->pos >= d->size)
        return 0;
    count = (size_t)MIN((guint64)count, d->size - d->pos);
    guint8 *out = buf;
    size_t left = count;
    while (left) {
        if (d->pos < d->buf_start || d->pos >= d->buf_start + d->buf_len) {
            gsize n = (gsize)MIN(d->size - d->pos, (guint64)PATCH_BUFFER);
            if (!patch_compose(d, d->pos, d->buf, n))
                return (int)ISO_FILE_READ_ERROR;
            d->buf_start = d->pos;
            d->buf_len = n;
        }
        gsize n = (gsize)MIN((guint64)left, d->buf_start + d->buf_len - d->pos);
        memcpy(out, d->buf + (d->pos - d->buf_start), n);
        out += n;
        d->pos += n;
        left -= n;
    }
    return (int)count;
}

static int patch_is_repeatable(IsoStream *s) { (void)s; return 1; }

static void patch_get_id(IsoStream *s, unsigned int *fs_id, dev_t *dev_id, ino_t *ino_id)
{
    /* libisofs' convention for streams with no file system identity */
    *fs_id = 0;
    *dev_id = 0;
    *ino_id = ((PatchStream *)s->data)->ino;
}

static void patch_free(IsoStream *s)
{
    PatchStream *d = s->data;
    iso_extents_clear(&d->old);
    g_free(d->buf);
    g_free(d->disk_path);
    g_array_unref(d->ranges);
    g_free(d);
}

static int patch_update_size(IsoStream *s) { (void)s; return ISO_SUCCESS; }
static IsoStream *patch_input(IsoStream *s, int flag) { (void)s; (void)flag; return NULL; }

static IsoStreamIface patch_class = {
    .version = 2, .type = "user", .open = patch_open, .close = patch_close, .get_size = patch_get_size,
    .read = patch_read, .is_repeatable = patch_is_repeatable, .get_id = patch_get_id, .free = patch_free,
    .update_size = patch_update_size, .get_input_stream = patch_input,
};

/* Takes old. With disk_path and ranges NULL it is a file of the input read through its extents. */
IsoStream *iso_patch_stream_new(MediaIso *iso, const Extents *old, const char *disk_path,
                                   const GArray *ranges, guint64 size)
{
    PatchStream *d = g_new0(PatchStream, 1);
    d->iso = iso;
    d->old = *old;
    d->disk_path = g_strdup(disk_path);
    d->fd = -1;
    d->ranges = g_array_sized_new(FALSE, FALSE, sizeof(MediaRange), ranges ? ranges->len : 0);
    if (ranges)
        g_array_append_vals(d->ranges, ranges->data, ranges->len);
    d->size = size;
    d->ino = serial_id++;
    IsoStream *s = calloc(1, sizeof(*s)); /* libisofs frees streams with free() */
    s->class = &patch_class;
    s->refcount = 1;
    s->data = d;
    return s;
}

const Extents *iso_input_extents(IsoFile *f)
{
    IsoStream *s = iso_file_get_stream(f);
    if (!s || s->class != &patch_class || ((PatchStream *)s->data)->disk_path)
        return NULL;
    return &((PatchStream *)s->data)->old;
}
