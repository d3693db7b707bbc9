/* Strict read-only UDF reader (see udf.h). Section numbers are ECMA-167 3rd edition
 * ("3/10.1" = part 3, 10.1); "UDF 2.2.x" are OSTA UDF 2.01 sections.
 */
#include "udf.h"

#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UDF_BLOCK 2048u
#define ANCHOR_BLOCK 256u

/* tag identifiers, 3/7.2.1 and 4/7.2.1 */
enum {
    TAG_PVD = 1, TAG_AVDP = 2, TAG_PD = 5, TAG_LVD = 6, TAG_TD = 8,
    TAG_FSD = 256, TAG_FID = 257, TAG_AED = 258, TAG_FE = 261, TAG_EFE = 266,
};
#define ANY_LOCATION G_MAXUINT64

/* ICB file types, 4/14.6.6 */
enum { FILE_TYPE_UNSPECIFIED = 0, FILE_TYPE_DIRECTORY = 4, FILE_TYPE_REGULAR = 5 };
/* allocation descriptor kinds in the ICB tag flags, 4/14.6.8 */
enum { AD_SHORT = 0, AD_LONG = 1, AD_EXTENDED = 2, AD_IN_ICB = 3 };
/* extent types in the top two bits of an extent length, 4/14.14.1.1 */
enum { EXT_RECORDED = 0, EXT_ALLOCATED = 1, EXT_UNALLOCATED = 2, EXT_CONTINUATION = 3 };
/* file characteristics of a file identifier descriptor, 4/14.4.3 */
enum { FID_HIDDEN = 1, FID_DIRECTORY = 2, FID_DELETED = 4, FID_PARENT = 8 };

/* Bounds on everything a damaged or hostile image could make unbounded. */
#define MAX_VDS_BLOCKS 256u            /* blocks read of one volume descriptor sequence */
#define MAX_PARTITIONS 16u             /* partition descriptors and maps */
#define MAX_DEPTH 64u                  /* folder nesting */
#define MAX_NODES (1u << 20)           /* files and folders */
#define MAX_DIR_BYTES (32u << 20)      /* one folder's directory data */
#define MAX_ALL_DIR_BYTES (512u << 20) /* all folders' directory data */
#define MAX_ADS (1u << 20)             /* allocation descriptors of one file */
#define MAX_AEDS 65536u                /* allocation extent descriptors chained from one file */

typedef struct {
    gboolean used;
    guint16 number;
    guint32 vds_number;
    guint32 start, length; /* blocks, as recorded */
    guint32 in_image;      /* blocks of it the image holds (fewer when it is truncated) */
} Partition;

typedef struct {
    int fd;
    const char *label;
    guint64 image_size, image_blocks;
    Partition pds[MAX_PARTITIONS]; /* partition descriptors */
    Partition *maps[MAX_PARTITIONS]; /* partition reference number -> descriptor */
    guint n_maps;
    guint nodes;
    guint64 dir_bytes;
    GHashTable *dirs_seen; /* ICB block (absolute) of every folder read: loops are refused */
    MediaUdf *udf;
} Reader;

typedef struct {
    guint type;        /* FILE_TYPE_* */
    guint64 size;
    gint64 mtime;
    GArray *extents;   /* MediaExtent */
} Entry;

static guint16 le16(const guint8 *p) { return (guint16)(p[0] | p[1] << 8); }
static guint32 le32(const guint8 *p) { return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 | (guint32)p[3] << 24; }
static guint64 le64(const guint8 *p) { return le32(p) | (guint64)le32(p + 4) << 32; }

G_GNUC_PRINTF(4, 5)
static void fail(Reader *r, GError **error, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (path && *path)
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s: UDF file system: %s: %s", r->label, path, what);
    else
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s: UDF file system: %s", r->label, what);
}

static gboolean pread_full(int fd, guint8 *buf, gsize len, guint64 off)
{
    while (len) {
        ssize_t n = pread(fd, buf, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return FALSE;
        }
        buf += n;
        off += (guint64)n;
        len -= (gsize)n;
    }
    return TRUE;
}

/* An absolute block of the image. */
static gboolean read_block(Reader *r, guint64 block, guint8 *buf, const char *path, GError **error)
{
    if (block >= r->image_blocks) {
        fail(r, error, path, "block %" G_GUINT64_FORMAT " is beyond the end of the image (truncated ISO?)", block);
        return FALSE;
    }
    if (!pread_full(r->fd, buf, UDF_BLOCK, block * UDF_BLOCK)) {
        g_set_error(error, MEDIA_ERROR, media_error_from_errno(errno), "%s: cannot read: %s", r->label,
                    g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

/* CRC-ITU-T (x^16 + x^12 + x^5 + 1, initial 0), the descriptor CRC of 3/7.2.6. */
static guint16 crc_itu(const guint8 *p, gsize n)
{
    guint16 crc = 0;
    while (n--) {
        crc ^= (guint16)(*p++ << 8);
        for (int i = 0; i < 8; i++)
            crc = (guint16)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

/* A descriptor tag (3/7.2): identifier, checksum, version, CRC over the descriptor body that
 * lies within avail bytes, and the location it claims (where it was read from). NULL if good,
 * else what is wrong. */
static const char *tag_problem(const guint8 *d, gsize avail, guint id, guint64 location)
{
    if (avail < 16)
        return "truncated descriptor";
    if (le16(d) != id)
        return "missing or misplaced descriptor";
    guint8 sum = 0;
    for (int i = 0; i < 16; i++)
        if (i != 4)
            sum = (guint8)(sum + d[i]);
    if (sum != d[4])
        return "descriptor tag checksum mismatch";
    guint16 version = le16(d + 2);
    if (version != 2 && version != 3)
        return "unknown descriptor version";
    gsize crc_len = le16(d + 10);
    if (crc_len > avail - 16)
        return "descriptor CRC covers more than the descriptor";
    if (crc_itu(d + 16, crc_len) != le16(d + 8))
        return "descriptor CRC mismatch";
    if (location != ANY_LOCATION && le32(d + 12) != location)
        return "descriptor recorded at another location than it claims";
    return NULL;
}

static gboolean check_tag(Reader *r, const guint8 *d, gsize avail, guint id, guint64 location, guint64 block,
                          const char *path, GError **error)
{
    const char *why = tag_problem(d, avail, id, location);
    if (why)
        fail(r, error, path, "%s (tag %u expected, block %" G_GUINT64_FORMAT ")", why, id, block);
    return why == NULL;
}

/* A timestamp (1/7.3) as seconds since the epoch; 0 when it is not a valid date. */
static gint64 timestamp(const guint8 *p)
{
    guint16 tz_type = le16(p);
    int tz = tz_type & 0x0fff;
    if (tz & 0x0800)
        tz -= 0x1000; /* 12-bit two's complement, minutes east of UTC */
    if ((tz_type >> 12) != 1 || tz < -1440 || tz > 1440)
        tz = 0; /* not local time, or no offset recorded (-2047): take it as UTC */
    int year = (gint16)le16(p + 2), month = p[4], day = p[5], hour = p[6], minute = p[7], second = p[8];
    if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
        second > 59)
        return 0;
    g_autoptr(GDateTime) t = g_date_time_new_utc(year, month, day, hour, minute, second);
    return t ? g_date_time_to_unix(t) - (gint64)tz * 60 : 0;
}

/* A file identifier (OSTA CS0 "d-characters" of 1/7.2.12, UDF 2.1.1): compression ID 8 (or 254)
 * one byte per character, 16 (or 255) UCS-2 big-endian. NULL if it is no usable file name. */
static char *file_name(const guint8 *p, gsize len)
{
    if (len < 2)
        return NULL;
    GString *s = g_string_sized_new(len);
    gboolean ok = TRUE;
    /* control characters: Windows has none in names, and each message is one line */
    if (p[0] == 8 || p[0] == 254) {
        for (gsize i = 1; i < len && ok; i++) {
            ok = p[i] >= 0x20 && p[i] != '/';
            g_string_append_unichar(s, p[i]); /* Latin-1 code points */
        }
    } else if ((p[0] == 16 || p[0] == 255) && (len - 1) % 2 == 0) {
        for (gsize i = 1; i + 1 < len && ok; i += 2) {
            gunichar c = (gunichar)(p[i] << 8 | p[i + 1]);
            ok = c >= 0x20 && c != '/' && !(c >= 0xd800 && c <= 0xdfff); /* UCS-2: no surrogates */
            g_string_append_unichar(s, c);
        }
    } else {
        ok = FALSE;
    }
    if (!ok || !strcmp(s->str, ".") || !strcmp(s->str, "..")) {
        g_string_free(s, TRUE);
        return NULL;
    }
    return g_string_free(s, FALSE);
}

static Partition *partition(Reader *r, guint ref)
{
    return ref < r->n_maps ? r->maps[ref] : NULL;
}

/* Absolute block of logical block lbn of partition reference ref (4/7.1), checked to lie in the
 * partition and in the image. */
static gboolean logical_block(Reader *r, guint ref, guint32 lbn, guint64 *block, const char *path, GError **error)
{
    Partition *p = partition(r, ref);
    if (!p) {
        fail(r, error, path, "reference to partition %u, which the volume does not have", ref);
        return FALSE;
    }
    if (lbn >= p->length) {
        fail(r, error, path, "logical block %u is outside partition %u (%u blocks)", lbn, p->number, p->length);
        return FALSE;
    }
    if (lbn >= p->in_image) {
        fail(r, error, path, "logical block %u is beyond the end of the image (truncated ISO?)", lbn);
        return FALSE;
    }
    *block = (guint64)p->start + lbn;
    return TRUE;
}

static void add_extent(GArray *extents, guint64 off, guint64 len)
{
    if (!len)
        return;
    if (extents->len) {
        MediaExtent *last = &g_array_index(extents, MediaExtent, extents->len - 1);
        gboolean zeros = off == MEDIA_EXTENT_ZERO, last_zeros = last->off == MEDIA_EXTENT_ZERO;
        if (zeros == last_zeros && (zeros || last->off + last->len == off)) {
            last->len += len;
            return;
        }
    }
    MediaExtent e = {off, len};
    g_array_append_val(extents, e);
}

/* The file's data extents from its allocation descriptors (4/14.14), following allocation extent
 * descriptors (4/14.5), until `size` bytes are covered. icb_ref is the partition of the file
 * entry (short_ad positions are relative to it). */
static gboolean map_extents(Reader *r, Entry *e, guint kind, const guint8 *ads, gsize ads_len, guint icb_ref,
                            const char *path, GError **error)
{
    const gsize ad_size = kind == AD_SHORT ? 8 : 16;
    guint8 aed[UDF_BLOCK];
    guint64 covered = 0;
    guint count = 0, chained = 0;
    const guint8 *p = ads, *end = ads + ads_len;
    while (covered < e->size) {
        if ((gsize)(end - p) < ad_size || le32(p) == 0) {
            fail(r, error, path, "its allocation descriptors cover %" G_GUINT64_FORMAT " of its %" G_GUINT64_FORMAT
                 " bytes", covered, e->size);
            return FALSE;
        }
        if (++count > MAX_ADS) {
            fail(r, error, path, "more than %u allocation descriptors", MAX_ADS);
            return FALSE;
        }
        guint32 field = le32(p);
        guint type = field >> 30;
        guint64 bytes = field & 0x3fffffffu;
        guint32 lbn = le32(p + 4);
        guint ref = kind == AD_SHORT ? icb_ref : le16(p + 8);
        p += ad_size;
        if (type == EXT_CONTINUATION) { /* the next descriptors are in an allocation extent descriptor */
            guint64 block;
            if (++chained > MAX_AEDS) {
                fail(r, error, path, "more than %u chained allocation extent descriptors", MAX_AEDS);
                return FALSE;
            }
            if (!logical_block(r, ref, lbn, &block, path, error) || !read_block(r, block, aed, path, error) ||
                !check_tag(r, aed, UDF_BLOCK, TAG_AED, lbn, block, path, error))
                return FALSE;
            guint32 len = le32(aed + 20);
            if (len > UDF_BLOCK - 24) {
                fail(r, error, path, "allocation extent descriptor longer than its block (block %" G_GUINT64_FORMAT ")",
                     block);
                return FALSE;
            }
            p = aed + 24;
            end = p + len;
            continue;
        }
        guint64 take = MIN(bytes, e->size - covered);
        if (type == EXT_RECORDED) {
            Partition *part = partition(r, ref);
            guint64 blocks = (bytes + UDF_BLOCK - 1) / UDF_BLOCK;
            if (!part || lbn >= part->length || blocks > part->length - lbn) {
                if (part)
                    fail(r, error, path, "data extent at logical block %u (%" G_GUINT64_FORMAT " bytes) is outside "
                         "partition %u", lbn, bytes, part->number);
                else
                    fail(r, error, path, "reference to partition %u, which the volume does not have", ref);
                return FALSE;
            }
            guint64 off = ((guint64)part->start + lbn) * UDF_BLOCK;
            if (off + take > r->image_size) {
                fail(r, error, path, "data extent beyond the end of the image (truncated ISO?)");
                return FALSE;
            }
            add_extent(e->extents, off, take);
        } else { /* allocated or not, nothing recorded: reads as zeros (4/14.14.1.1) */
            add_extent(e->extents, MEDIA_EXTENT_ZERO, take);
        }
        covered += take;
    }
    return TRUE;
}

/* The file entry (4/14.9) or extended file entry (4/14.17) at lbn of partition ref. */
static gboolean read_entry(Reader *r, guint ref, guint32 lbn, Entry *e, const char *path, GError **error)
{
    guint8 d[UDF_BLOCK];
    guint64 block;
    memset(e, 0, sizeof(*e));
    if (!logical_block(r, ref, lbn, &block, path, error) || !read_block(r, block, d, path, error))
        return FALSE;
    gboolean extended = le16(d) == TAG_EFE;
    if (!check_tag(r, d, UDF_BLOCK, extended ? TAG_EFE : TAG_FE, lbn, block, path, error))
        return FALSE;
    guint strategy = le16(d + 20);
    if (strategy != 4) { /* 4096 (write-once media) keeps entry histories: not on pressed discs */
        fail(r, error, path, "ICB strategy %u is not supported", strategy);
        return FALSE;
    }
    e->type = d[27];
    guint kind = le16(d + 34) & 7;
    e->size = le64(d + 56);
    e->mtime = timestamp(d + (extended ? 92 : 84));
    gsize base = extended ? 216 : 176;
    guint64 ea_len = le32(d + (extended ? 208 : 168)), ad_len = le32(d + (extended ? 212 : 172));
    if (ea_len + ad_len > UDF_BLOCK - base) {
        fail(r, error, path, "file entry fields run past its block (block %" G_GUINT64_FORMAT ")", block);
        return FALSE;
    }
    const guint8 *ads = d + base + ea_len;
    e->extents = g_array_new(FALSE, FALSE, sizeof(MediaExtent));
    switch (kind) {
    case AD_IN_ICB: /* the data is the allocation descriptor field itself */
        if (ad_len < e->size) {
            fail(r, error, path, "embedded data shorter than the file's size");
            return FALSE;
        }
        add_extent(e->extents, block * UDF_BLOCK + base + ea_len, e->size);
        return TRUE;
    case AD_SHORT:
    case AD_LONG:
        return map_extents(r, e, kind, ads, (gsize)ad_len, ref, path, error);
    default:
        fail(r, error, path, "allocation descriptor type %u is not supported", kind);
        return FALSE;
    }
}

static void entry_clear(Entry *e)
{
    if (e->extents)
        g_array_unref(e->extents);
    e->extents = NULL;
}

static MediaUdfNode *node_new(char *name, gboolean dir)
{
    MediaUdfNode *n = g_new0(MediaUdfNode, 1);
    n->name = name;
    n->dir = dir;
    if (dir)
        n->children = g_ptr_array_new_with_free_func(NULL);
    return n;
}

static void node_free(MediaUdfNode *n)
{
    if (!n)
        return;
    if (n->children) {
        for (guint i = 0; i < n->children->len; i++)
            node_free(g_ptr_array_index(n->children, i));
        g_ptr_array_unref(n->children);
    }
    if (n->extents)
        g_array_unref(n->extents);
    g_free(n->name);
    g_free(n);
}

/* A file's or folder's bytes, through its extents. */
static gboolean read_data(Reader *r, const GArray *extents, guint8 *buf, const char *path, GError **error)
{
    for (guint i = 0; i < extents->len; i++) {
        const MediaExtent *x = &g_array_index(extents, MediaExtent, i);
        if (x->off == MEDIA_EXTENT_ZERO)
            memset(buf, 0, x->len);
        else if (!pread_full(r->fd, buf, x->len, x->off)) {
            g_set_error(error, MEDIA_ERROR, media_error_from_errno(errno), "%s: UDF file system: %s: cannot read: %s",
                        r->label, path, g_strerror(errno));
            return FALSE;
        }
        buf += x->len;
    }
    return TRUE;
}

static gboolean read_dir(Reader *r, MediaUdfNode *dir, const Entry *self, const char *path, guint depth,
                         GError **error);

/* One file identifier descriptor's target: a file, a folder (read recursively) or something
 * else (skipped: pressed media have nothing else). */
static gboolean add_child(Reader *r, MediaUdfNode *dir, char *name, guint ref, guint32 lbn, const char *path,
                          guint depth, GError **error)
{
    g_autofree char *child_path = g_strconcat(path, *path && path[strlen(path) - 1] == '/' ? "" : "/", name, NULL);
    if (++r->nodes > MAX_NODES) {
        g_free(name);
        fail(r, error, NULL, "more than %u files and folders", MAX_NODES);
        return FALSE;
    }
    Entry e;
    if (!read_entry(r, ref, lbn, &e, child_path, error)) {
        entry_clear(&e);
        g_free(name);
        return FALSE;
    }
    gboolean ok = TRUE;
    if (e.type == FILE_TYPE_DIRECTORY) {
        MediaUdfNode *n = node_new(name, TRUE);
        n->mtime = e.mtime;
        g_ptr_array_add(dir->children, n);
        r->udf->dirs++;
        if (depth + 1 > MAX_DEPTH) {
            fail(r, error, child_path, "folders nested deeper than %u levels", MAX_DEPTH);
            ok = FALSE;
        } else {
            ok = read_dir(r, n, &e, child_path, depth + 1, error);
        }
    } else if (e.type == FILE_TYPE_REGULAR || e.type == FILE_TYPE_UNSPECIFIED) {
        MediaUdfNode *n = node_new(name, FALSE);
        n->size = e.size;
        n->mtime = e.mtime;
        n->extents = g_steal_pointer(&e.extents);
        g_ptr_array_add(dir->children, n);
        r->udf->files++;
    } else {
        g_free(name);
    }
    entry_clear(&e);
    return ok;
}

/* A folder's directory data: file identifier descriptors (4/14.4), each padded to 4 bytes. */
static gboolean read_dir(Reader *r, MediaUdfNode *dir, const Entry *self, const char *path, guint depth,
                         GError **error)
{
    const MediaExtent *first = self->extents->len ? &g_array_index(self->extents, MediaExtent, 0) : NULL;
    guint64 key = first ? first->off : 0;
    /* a folder is reached once: a second path to the same directory data is a loop */
    if (first && first->off != MEDIA_EXTENT_ZERO) {
        if (g_hash_table_contains(r->dirs_seen, &key)) {
            fail(r, error, path, "directory loop");
            return FALSE;
        }
        guint64 *k = g_new(guint64, 1);
        *k = key;
        g_hash_table_add(r->dirs_seen, k);
    }
    if (self->size > MAX_DIR_BYTES || r->dir_bytes + self->size > MAX_ALL_DIR_BYTES) {
        fail(r, error, path, "directory data larger than %u MiB", (self->size > MAX_DIR_BYTES ? MAX_DIR_BYTES : MAX_ALL_DIR_BYTES) >> 20);
        return FALSE;
    }
    r->dir_bytes += self->size;
    gsize size = (gsize)self->size;
    g_autofree guint8 *data = g_malloc(size ? size : 1);
    if (!read_data(r, self->extents, data, path, error))
        return FALSE;
    g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    gsize off = 0;
    while (off < size) {
        const guint8 *f = data + off;
        gsize left = size - off;
        if (left < 38) {
            fail(r, error, path, "directory data ends inside a file identifier");
            return FALSE;
        }
        const char *why = tag_problem(f, left, TAG_FID, ANY_LOCATION);
        if (why) {
            fail(r, error, path, "%s (file identifier at byte %" G_GSIZE_FORMAT " of the directory)", why, off);
            return FALSE;
        }
        guint chars = f[18], name_len = f[19], iu_len = le16(f + 36);
        gsize need = 38 + (gsize)iu_len + name_len;
        if (need > left) {
            fail(r, error, path, "file identifier runs past the directory data");
            return FALSE;
        }
        off += MIN((need + 3) & ~(gsize)3, left);
        if (chars & (FID_DELETED | FID_PARENT))
            continue;
        char *name = file_name(f + 38 + iu_len, name_len);
        if (!name) {
            fail(r, error, path, "unreadable file name (file identifier at byte %" G_GSIZE_FORMAT ")", off);
            return FALSE;
        }
        if (g_hash_table_contains(names, name)) {
            fail(r, error, path, "two entries named \"%s\"", name);
            g_free(name);
            return FALSE;
        }
        g_hash_table_add(names, g_strdup(name));
        /* the ICB: a long_ad (4/14.14.2) */
        if (!add_child(r, dir, name, le16(f + 28), le32(f + 24), path, depth, error))
            return FALSE;
    }
    return TRUE;
}

gboolean media_udf_present(int fd)
{
    guint8 d[8];
    gboolean bea = FALSE;
    for (guint64 s = 16; s < 64; s++) {
        if (!pread_full(fd, d, sizeof(d), s * UDF_BLOCK))
            return FALSE;
        if (d[0] != 0 || d[6] != 1)
            continue;
        if (!memcmp(d + 1, "BEA01", 5))
            bea = TRUE;
        else if (bea && (!memcmp(d + 1, "NSR02", 5) || !memcmp(d + 1, "NSR03", 5)))
            return TRUE;
    }
    return FALSE;
}

/* The anchor volume descriptor pointer (3/10.2) at block 256, else at the last block or 256
 * before it (UDF 2.2.3). */
static gboolean find_anchor(Reader *r, guint8 *d, GError **error)
{
    guint64 candidates[3] = {ANCHOR_BLOCK, r->image_blocks - 1, r->image_blocks - 1 - ANCHOR_BLOCK};
    for (guint i = 0; i < G_N_ELEMENTS(candidates); i++) {
        guint64 b = candidates[i];
        if (b < ANCHOR_BLOCK || b >= r->image_blocks || (i && b == ANCHOR_BLOCK))
            continue;
        if (!read_block(r, b, d, NULL, error))
            return FALSE;
        if (!tag_problem(d, UDF_BLOCK, TAG_AVDP, b))
            return TRUE;
    }
    fail(r, error, NULL, "no anchor volume descriptor (block 256)");
    return FALSE;
}

/* A volume descriptor sequence (3/8.4): the prevailing partition and logical volume
 * descriptors (highest sequence number, 3/8.4.3). */
static gboolean read_vds(Reader *r, guint32 loc, guint32 len, guint8 *lvd, GError **error)
{
    guint8 d[UDF_BLOCK];
    guint32 lvd_seq = 0;
    gboolean have_lvd = FALSE;
    guint blocks = MIN(len / UDF_BLOCK, MAX_VDS_BLOCKS);
    memset(r->pds, 0, sizeof(r->pds));
    for (guint i = 0; i < blocks; i++) {
        guint64 b = (guint64)loc + i;
        if (!read_block(r, b, d, NULL, error))
            return FALSE;
        guint id = le16(d);
        if (id == 0) /* an unrecorded block ends the sequence like a terminating descriptor */
            break;
        if (tag_problem(d, UDF_BLOCK, id, b)) {
            fail(r, error, NULL, "%s in the volume descriptor sequence (block %" G_GUINT64_FORMAT ")",
                 tag_problem(d, UDF_BLOCK, id, b), b);
            return FALSE;
        }
        if (id == TAG_TD)
            break;
        guint32 seq = le32(d + 16);
        if (id == TAG_PD) {
            guint16 number = le16(d + 22);
            Partition *slot = NULL;
            for (guint k = 0; k < MAX_PARTITIONS && !slot; k++)
                if (!r->pds[k].used || r->pds[k].number == number)
                    slot = &r->pds[k];
            if (!slot) {
                fail(r, error, NULL, "more than %u partitions", MAX_PARTITIONS);
                return FALSE;
            }
            if (!slot->used || seq >= slot->vds_number)
                *slot = (Partition){TRUE, number, seq, le32(d + 188), le32(d + 192), 0};
        } else if (id == TAG_LVD && (!have_lvd || seq >= lvd_seq)) {
            memcpy(lvd, d, UDF_BLOCK);
            lvd_seq = seq;
            have_lvd = TRUE;
        }
    }
    if (!have_lvd || !r->pds[0].used) {
        fail(r, error, NULL, "no %s descriptor in the volume descriptor sequence",
             have_lvd ? "partition" : "logical volume");
        return FALSE;
    }
    return TRUE;
}

/* The logical volume's block size and partition maps (3/10.6, 3/10.7). */
static gboolean read_lvd(Reader *r, const guint8 *lvd, GError **error)
{
    guint32 block_size = le32(lvd + 212), table_len = le32(lvd + 264), n = le32(lvd + 268);
    if (block_size != UDF_BLOCK) {
        fail(r, error, NULL, "logical block size %u is not supported (2048 expected)", block_size);
        return FALSE;
    }
    if (table_len > UDF_BLOCK - 440 || n > MAX_PARTITIONS || n == 0) {
        fail(r, error, NULL, "bad partition map table (%u maps, %u bytes)", n, table_len);
        return FALSE;
    }
    const guint8 *m = lvd + 440, *end = m + table_len;
    for (guint i = 0; i < n; i++) {
        if (end - m < 2 || m[1] < 2 || m[1] > end - m) {
            fail(r, error, NULL, "partition map %u runs past the map table", i);
            return FALSE;
        }
        if (m[0] != 1 || m[1] != 6) { /* type 2: virtual, sparable or metadata partitions (UDF 1.50+) */
            fail(r, error, NULL, "partition map type %u is not supported (UDF type 1 maps only)", m[0]);
            return FALSE;
        }
        guint16 number = le16(m + 4);
        Partition *p = NULL;
        for (guint k = 0; k < MAX_PARTITIONS && !p; k++)
            if (r->pds[k].used && r->pds[k].number == number)
                p = &r->pds[k];
        if (!p) {
            fail(r, error, NULL, "partition map %u names partition %u, which has no descriptor", i, number);
            return FALSE;
        }
        if (p->start >= r->image_blocks) {
            fail(r, error, NULL, "partition %u starts beyond the end of the image (truncated ISO?)", number);
            return FALSE;
        }
        /* a truncated image keeps what it has; what lies past its end is refused when needed */
        p->in_image = (guint32)MIN((guint64)p->length, r->image_blocks - p->start);
        r->maps[r->n_maps++] = p;
        m += m[1];
    }
    return TRUE;
}

MediaUdf *media_udf_read(int fd, const char *label, GError **error)
{
    Reader r = {.fd = fd, .label = label};
    struct stat st;
    if (fstat(fd, &st) != 0) {
        g_set_error(error, MEDIA_ERROR, media_error_from_errno(errno), "%s: cannot read: %s", label,
                    g_strerror(errno));
        return NULL;
    }
    r.image_size = (guint64)st.st_size;
    r.image_blocks = r.image_size / UDF_BLOCK;
    guint8 avdp[UDF_BLOCK], lvd[UDF_BLOCK], fsd[UDF_BLOCK];
    if (!find_anchor(&r, avdp, error))
        return NULL;
    /* the main sequence, else its reserve copy (3/10.2) */
    GError *main_error = NULL;
    if (!read_vds(&r, le32(avdp + 20), le32(avdp + 16), lvd, &main_error)) {
        if (!read_vds(&r, le32(avdp + 28), le32(avdp + 24), lvd, NULL)) {
            g_propagate_error(error, main_error);
            return NULL;
        }
        g_clear_error(&main_error);
    }
    if (!read_lvd(&r, lvd, error))
        return NULL;
    /* the file set descriptor (4/14.1) named by the logical volume contents use (a long_ad) */
    const guint8 *fsd_ad = lvd + 248;
    guint32 fsd_lbn = le32(fsd_ad + 4);
    guint64 block;
    if (!logical_block(&r, le16(fsd_ad + 8), fsd_lbn, &block, NULL, error) ||
        !read_block(&r, block, fsd, NULL, error) ||
        !check_tag(&r, fsd, UDF_BLOCK, TAG_FSD, fsd_lbn, block, "file set descriptor", error))
        return NULL;
    r.udf = g_new0(MediaUdf, 1);
    r.dirs_seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    Entry root;
    const guint8 *root_ad = fsd + 400;
    gboolean ok = read_entry(&r, le16(root_ad + 8), le32(root_ad + 4), &root, "/", error);
    if (ok && root.type != FILE_TYPE_DIRECTORY) {
        fail(&r, error, "/", "the root is not a folder");
        ok = FALSE;
    }
    if (ok) {
        r.udf->root = node_new(g_strdup(""), TRUE);
        r.udf->root->mtime = root.mtime;
        ok = read_dir(&r, r.udf->root, &root, "/", 0, error);
    }
    entry_clear(&root);
    g_hash_table_unref(r.dirs_seen);
    if (!ok) {
        media_udf_free(r.udf);
        return NULL;
    }
    return r.udf;
}

void media_udf_free(MediaUdf *udf)
{
    if (!udf)
        return;
    node_free(udf->root);
    g_free(udf);
}
