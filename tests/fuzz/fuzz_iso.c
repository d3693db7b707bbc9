/* libFuzzer target: the ISO 9660 / El Torito reader (media/iso.c, iso_boot.c, iso_udf.c,
 * iso_stream.c over libisofs, and udf.c for UDF bridge images) on a hostile image (sparse
 * encoding, fuzz_media.h; FM_REPAIR_TAGS makes the UDF descriptor tags of a bridge image pass),
 * used as aero-media uses an input ISO: open it, list and find its files, read the El Torito
 * catalog (with the hashes of the boot images), hash files, extract one file and the whole tree.
 *
 * Beyond "no crash":
 *  - a refusal is one line naming the image;
 *  - every stored path is '/'-rooted with no empty, "." or ".." part and is found under its
 *    lower-case form (nothing an image names can point outside the extraction folder);
 *  - a boot entry's file is a listed file of the image; the files of a UDF tree lie inside it;
 *  - extracting writes only below the folder it was given, exactly the listed files with their
 *    sizes, and the same bytes the hash reads (two read paths: copy_file_range and pread);
 *  - a refused single-file extraction leaves no file behind; the image itself is unchanged.
 * Trees whose files hold more than 4 MiB are listed but not read (bounded work per input).
 */
#define _GNU_SOURCE
#include "fuzz_media.h"

#include "iso_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_READ (4u << 20)

static void check_path(const char *p)
{
    if (!p || p[0] != '/' || !g_utf8_validate(p, -1, NULL))
        fm_violated("stored path %s is not a '/'-rooted UTF-8 path", p ? p : "(null)");
    g_auto(GStrv) parts = g_strsplit(p + 1, "/", -1);
    for (guint i = 0; parts[i]; i++)
        if (!*parts[i] || !strcmp(parts[i], ".") || !strcmp(parts[i], ".."))
            fm_violated("stored path %s has an empty, \".\" or \"..\" part", p);
}

/* Every regular file below dir (relative to root) must be a listed file of its size, with the
 * bytes media_iso_file_sha256 reads; nothing else than files and folders. Returns the count. */
static guint check_extracted(MediaIso *iso, const char *root, const char *rel)
{
    g_autofree char *dir = g_build_filename(root, rel, NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        fm_violated("extracted folder %s cannot be opened", dir);
    guint n = 0;
    const char *e;
    while ((e = g_dir_read_name(d))) {
        g_autofree char *r = g_strconcat(rel, "/", e, NULL);
        g_autofree char *p = g_build_filename(root, r, NULL);
        struct stat st;
        if (lstat(p, &st) != 0)
            fm_violated("%s vanished", p);
        if (S_ISDIR(st.st_mode)) {
            n += check_extracted(iso, root, r);
            continue;
        }
        if (!S_ISREG(st.st_mode))
            fm_violated("extraction made %s, not a file or folder", p);
        g_autofree char *lower = g_utf8_strdown(r, -1);
        const char *stored = media_iso_find(iso, lower);
        if (!stored)
            fm_violated("extraction wrote %s, which the image does not list", r);
        if ((gint64)st.st_size != media_iso_file_size(iso, stored))
            fm_violated("%s: %lld bytes extracted of %lld", r, (long long)st.st_size,
                        (long long)media_iso_file_size(iso, stored));
        g_autofree char *want = media_iso_file_sha256(iso, stored, NULL);
        g_autofree char *body = NULL;
        gsize len = 0;
        if (!g_file_get_contents(p, &body, &len, NULL))
            fm_violated("%s cannot be read back", p);
        g_autofree char *got = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)body, len);
        if (!want || strcmp(want, got) != 0)
            fm_violated("%s: extracted bytes differ from the bytes hashed in the image", r);
        n++;
    }
    g_dir_close(d);
    return n;
}

/* The progress bar of the extraction never runs backwards or past its total. */
static MediaProgressStatus on_progress(const MediaProgressInfo *info, void *user)
{
    guint64 *last = user;
    if (info->msg == MEDIA_PROGRESS_BEGIN)
        *last = 0;
    if (info->msg == MEDIA_PROGRESS_BYTES) {
        if (info->done < *last || (info->total && info->done > info->total))
            fm_violated("progress %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " after %" G_GUINT64_FORMAT,
                        info->done, info->total, *last);
        *last = info->done;
    }
    return MEDIA_PROGRESS_CONTINUE;
}

static void read_tree(MediaIso *iso, const char *image)
{
    struct stat st;
    if (stat(image, &st) != 0)
        fm_violated("the image vanished");
    GHashTable *files = media_iso_files(iso);
    GHashTableIter it;
    gpointer k, v;
    guint64 total = 0;
    const char *one = NULL;
    g_hash_table_iter_init(&it, files);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        check_path(v);
        g_autofree char *lower = g_utf8_strdown(v, -1);
        if (strcmp(lower, k) != 0 || media_iso_find(iso, k) != v)
            fm_violated("%s is not found under its lower-case path", (char *)v);
        gint64 size = media_iso_file_size(iso, v);
        if (size < 0)
            fm_violated("listed file %s has no size", (char *)v);
        total += (guint64)size;
        if (!one || strcmp(v, one) < 0)
            one = v;
        Extents x;
        GError *e = NULL;
        if (!iso_extents_of(iso, v, &x, &e)) {
            fm_check_error(e, image);
            g_error_free(e);
            continue;
        }
        guint64 sum = 0;
        for (guint i = 0; i < x.x->len; i++) {
            const MediaExtent *m = &g_array_index(x.x, MediaExtent, i);
            sum += m->len;
            if (media_iso_from_udf(iso) && m->off != MEDIA_EXTENT_ZERO &&
                (m->off > (guint64)st.st_size || m->len > (guint64)st.st_size - m->off))
                fm_violated("%s: UDF extent outside the image", (char *)v);
        }
        if (media_iso_from_udf(iso) && sum != x.size)
            fm_violated("%s: UDF extents hold %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes", (char *)v, sum,
                        x.size);
        iso_extents_clear(&x);
    }

    GError *e = NULL;
    GPtrArray *boots = media_iso_boot_entries(iso, &e);
    if (!boots) {
        fm_check_error(e, image);
        g_clear_error(&e);
    }
    for (guint i = 0; boots && i < boots->len; i++) {
        const MediaBootEntry *b = g_ptr_array_index(boots, i);
        if (!b->platform || !b->emulation)
            fm_violated("boot entry %u without platform or emulation", i);
        if (b->path) {
            g_autofree char *lower = g_utf8_strdown(b->path, -1);
            if (!media_iso_find(iso, lower))
                fm_violated("boot entry %u names %s, which the image does not list", i, b->path);
        }
    }
    if (boots)
        g_ptr_array_unref(boots);

    if (total > MAX_READ)
        return;
    if (one) {
        g_autofree char *dest = g_build_filename(fm_dir(), "one", NULL);
        if (media_iso_extract_file(iso, one, dest, NULL, &e)) {
            fm_remove(dest);
        } else {
            fm_check_error(e, image);
            g_clear_error(&e);
            if (g_file_test(dest, G_FILE_TEST_EXISTS))
                fm_violated("a refused extraction of %s left %s behind", one, dest);
        }
    }
    g_autofree char *out = g_build_filename(fm_dir(), "out", NULL);
    guint64 last = 0;
    MediaProgress *p = media_progress_new(on_progress, &last);
    gboolean ok = media_iso_extract_all(iso, out, p, &e);
    media_progress_free(p);
    const char *const left[] = {"in.iso", "out", NULL};
    fm_check_dir(left);
    if (ok) {
        guint n = check_extracted(iso, out, "");
        if (n != g_hash_table_size(files))
            fm_violated("%u files extracted of %u listed", n, g_hash_table_size(files));
    } else {
        fm_check_error(e, image);
        g_clear_error(&e);
    }
    fm_remove(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *image = g_build_filename(fm_dir(), "in.iso", NULL);
    int fd = open(image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        fm_violated("cannot create %s: %s", image, g_strerror(errno));
    unsigned flags;
    fm_image(data, size, fd, &flags);
    struct stat st0;
    fstat(fd, &st0);
    close(fd);

    GError *e = NULL;
    MediaIso *iso = media_iso_open(image, &e);
    if (!iso) {
        fm_check_error(e, image);
        g_error_free(e);
    } else {
        read_tree(iso, image);
        media_iso_close(iso);
    }
    struct stat st1;
    if (stat(image, &st1) != 0 || st1.st_size != st0.st_size || st1.st_mtim.tv_sec != st0.st_mtim.tv_sec ||
        st1.st_mtim.tv_nsec != st0.st_mtim.tv_nsec)
        fm_violated("the image was modified");
    const char *const left[] = {"in.iso", NULL};
    fm_check_dir(left);
    return 0;
}
