/* El Torito (see iso.h): the boot entries as the image has them, and boot images that no file
 * holds kept whole through a rebuild (libisofs imports them as one-block stand-ins).
 */
#include "iso_internal.h"

#include "udf.h"

#include <stdlib.h>
#include <sys/stat.h>

/* In no directory of any tree, but written: boot images that no file holds (iso_keep_boot_images). */
#define IN_NO_DIRECTORY (LIBISO_HIDE_ON_RR | LIBISO_HIDE_ON_JOLIET | LIBISO_HIDE_ON_1999 | LIBISO_HIDE_ON_HFSPLUS | \
                         LIBISO_HIDE_ON_FAT | LIBISO_HIDE_BUT_WRITE)

/* How many bytes from block lba make up a boot image that no file holds: what the firmware
 * loads (load_size sectors, at least one block), and for UEFI the whole FAT image, whose boot
 * sector gives its size (UEFI firmware reads the FAT file system, whatever the load size says:
 * Microsoft's media record 1 sector). */
static guint64 hidden_boot_size(MediaIso *iso, guint64 off, int platform, int load_size)
{
    guint64 size = MAX((guint64)MAX(load_size, 0) * 512, (guint64)ISO_BLOCK);
    guint8 bs[512];
    if (platform == 0xef && iso_pread_all(iso->fd, bs, sizeof(bs), off) && bs[510] == 0x55 && bs[511] == 0xaa) {
        guint bytes_per_sector = bs[11] | bs[12] << 8;
        guint64 sectors = (guint)(bs[19] | bs[20] << 8);
        if (!sectors)
            sectors = (guint64)bs[32] | (guint64)bs[33] << 8 | (guint64)bs[34] << 16 | (guint64)bs[35] << 24;
        if (bytes_per_sector >= 512 && bytes_per_sector <= 4096 && !(bytes_per_sector & (bytes_per_sector - 1)) &&
            sectors * bytes_per_sector <= (64u << 20))
            size = MAX(size, sectors * bytes_per_sector);
    }
    struct stat st;
    if (fstat(iso->fd, &st) == 0 && off < (guint64)st.st_size)
        size = MIN(size, (guint64)st.st_size - off);
    return size;
}

/* Image byte offset where a boot image node's data starts, if it has any. */
static gboolean boot_node_start(IsoFile *f, guint64 *off)
{
    const Extents *udf = iso_input_extents(f);
    if (udf) {
        if (!udf->x->len || g_array_index(udf->x, MediaExtent, 0).off == MEDIA_EXTENT_ZERO)
            return FALSE;
        *off = g_array_index(udf->x, MediaExtent, 0).off;
        return TRUE;
    }
    struct iso_file_section *sec = NULL;
    int n = 0;
    gboolean ok = iso_file_get_old_image_sections(f, &n, &sec, 0) == 1 && n > 0;
    if (ok)
        *off = (guint64)sec[0].block * ISO_BLOCK;
    free(sec);
    return ok;
}

/* A boot image in no directory: libisofs' own stand-in (one block), or ours. */
static gboolean boot_node_hidden(IsoFile *f)
{
    return !iso_node_get_parent((IsoNode *)f) || !iso_listed_file((IsoNode *)f);
}

typedef struct {
    char *path;
    enum eltorito_boot_media_type type;
    int platform, load_seg, load_size, bootable, isolinux;
    uint8_t id[28], crit[20];
} BootCopy;

/* A file in no directory whose data is written: a boot image that no file holds. */
static char *add_hidden_boot_file(MediaIso *iso, guint64 off, guint64 size, int index, GError **error)
{
    IsoDir *root = iso_image_get_root(iso->image);
    char *name = NULL;
    IsoNode *clash = NULL;
    for (int k = 0; !name || iso_dir_get_node(root, name, &clash) == 1; k++) {
        g_free(name);
        name = k ? g_strdup_printf("boot-image-%d.%d.img", index, k) : g_strdup_printf("boot-image-%d.img", index);
    }
    Extents x = {g_array_new(FALSE, FALSE, sizeof(MediaExtent)), size};
    MediaExtent e = {off, size};
    g_array_append_val(x.x, e);
    IsoStream *s = iso_patch_stream_new(iso, &x, NULL, NULL, size);
    IsoFile *f = NULL;
    int r = iso_image_add_new_file(iso->image, root, name, s, &f);
    if (r < 0) {
        iso_stream_unref(s);
        iso_set_lib_error(error, r, iso->path, "cannot keep a boot image that no file holds");
        g_free(name);
        return NULL;
    }
    iso_node_set_hidden((IsoNode *)f, IN_NO_DIRECTORY);
    char *path = g_strconcat("/", name, NULL);
    g_free(name);
    return path;
}

static char *node_path(IsoNode *n)
{
    char *p = iso_tree_get_node_path(n);
    char *copy = g_strdup(p);
    free(p);
    return copy;
}

/* A new catalog on the entries' files, every entry as it was; like the input's (and Microsoft's
 * media), it is in no directory. */
static gboolean rebuild_catalog(MediaIso *iso, BootCopy *b, int n, GError **error)
{
    static const char *const names[] = {"/boot.catalog", "/boot.cat", "/aero-boot.catalog"};
    const char *cat = NULL;
    for (guint k = 0; k < G_N_ELEMENTS(names) && !cat; k++) {
        IsoNode *x = NULL;
        if (iso_image_path_to_node(iso->image, names[k], &x) != 1)
            cat = names[k];
    }
    iso_image_remove_boot_image(iso->image);
    for (int i = 0; i < n; i++) {
        ElToritoBootImage *e = NULL;
        int r = i == 0 ? iso_image_set_boot_image(iso->image, b[i].path, b[i].type, cat, &e)
                       : iso_image_add_boot_image(iso->image, b[i].path, b[i].type, 0, &e);
        if (r < 0) {
            g_autofree char *where = g_strdup_printf("%s:%s", iso->path, b[i].path);
            iso_set_lib_error(error, r, where, "cannot keep it as El Torito boot image");
            return FALSE;
        }
        el_torito_set_boot_platform_id(e, (uint8_t)b[i].platform);
        el_torito_set_load_seg(e, (short)b[i].load_seg);
        el_torito_set_load_size(e, (short)b[i].load_size);
        if (!b[i].bootable)
            el_torito_set_no_bootable(e);
        el_torito_set_id_string(e, b[i].id);
        el_torito_set_selection_crit(e, b[i].crit);
        el_torito_set_isolinux_options(e, b[i].isolinux, 0);
    }
    iso_image_set_boot_catalog_hidden(iso->image, IN_NO_DIRECTORY);
    return TRUE;
}

/* Libisofs imports a boot image that no file of the tree holds as a hidden one-block file, which
 * would cut a UEFI FAT image (or a BIOS image loading several blocks) short when written. Each
 * such entry is moved onto the file of udf_starts (a UDF tree's files by first data byte) that
 * starts at its block, else onto a file in no directory holding the whole image
 * (hidden_boot_size), and the catalog is rebuilt on them. */
gboolean iso_keep_boot_images(MediaIso *iso, GHashTable *udf_starts, GError **error)
{
    int n = 0;
    ElToritoBootImage **boots = NULL;
    IsoFile **nodes = NULL;
    if (iso_image_get_all_boot_imgs(iso->image, &n, &boots, &nodes, 0) != 1 || n <= 0 || !nodes) {
        free(boots);
        free(nodes);
        return TRUE;
    }
    BootCopy *b = g_new0(BootCopy, n);
    gboolean moved = FALSE, keepable = TRUE, ok = TRUE;
    for (int i = 0; i < n && keepable && ok; i++) {
        el_torito_get_boot_media_type(boots[i], &b[i].type);
        b[i].platform = el_torito_get_boot_platform_id(boots[i]);
        b[i].load_seg = el_torito_get_load_seg(boots[i]);
        b[i].load_size = el_torito_get_load_size(boots[i]);
        b[i].bootable = el_torito_get_bootable(boots[i]);
        b[i].isolinux = el_torito_get_isolinux_options(boots[i], 0);
        el_torito_get_id_string(boots[i], b[i].id);
        el_torito_get_selection_crit(boots[i], b[i].crit);
        guint64 off;
        keepable = nodes[i] && boot_node_start(nodes[i], &off); /* else no data: libisofs keeps the catalog */
        if (!keepable)
            break;
        if (!boot_node_hidden(nodes[i])) {
            b[i].path = node_path((IsoNode *)nodes[i]);
            continue;
        }
        IsoFile *f = udf_starts ? g_hash_table_lookup(udf_starts, &off) : NULL;
        b[i].path = f ? node_path((IsoNode *)f)
                      : add_hidden_boot_file(iso, off, hidden_boot_size(iso, off, b[i].platform, b[i].load_size),
                                             i + 1, error);
        ok = b[i].path != NULL;
        moved = TRUE;
    }
    free(boots);
    free(nodes);
    if (ok && keepable && moved)
        ok = rebuild_catalog(iso, b, n, error);
    for (int i = 0; i < n; i++)
        g_free(b[i].path);
    g_free(b);
    return ok;
}

/* ---- the entries as the image has them ------------------------------------------------------ */

void media_boot_entry_free(MediaBootEntry *e)
{
    if (!e)
        return;
    g_free(e->platform);
    g_free(e->emulation);
    g_free(e->path);
    g_free(e->sha256);
    g_free(e);
}

GPtrArray *media_iso_boot_entries(MediaIso *iso, GError **error)
{
    int n = 0;
    ElToritoBootImage **boots = NULL;
    IsoFile **nodes = NULL;
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)media_boot_entry_free);
    int r = iso_image_get_all_boot_imgs(iso->image, &n, &boots, &nodes, 0);
    if (r < 0) {
        iso_set_lib_error(error, r, iso->path, "cannot read the El Torito catalog");
        g_ptr_array_unref(out);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        MediaBootEntry *e = g_new0(MediaBootEntry, 1);
        int pid = el_torito_get_boot_platform_id(boots[i]);
        e->platform = pid == 0 ? g_strdup("BIOS") : pid == 0xef ? g_strdup("UEFI") : g_strdup_printf("0x%02x", pid);
        enum eltorito_boot_media_type mt = ELTORITO_NO_EMUL;
        el_torito_get_boot_media_type(boots[i], &mt);
        e->emulation = g_strdup(mt == ELTORITO_NO_EMUL ? "none" : mt == ELTORITO_FLOPPY_EMUL ? "floppy" : "hard_disk");
        e->load_size = (guint)el_torito_get_load_size(boots[i]);
        guint64 off;
        if (nodes && nodes[i] && !boot_node_hidden(nodes[i])) {
            char *p = iso_tree_get_node_path((IsoNode *)nodes[i]);
            e->path = g_strdup(p);
            free(p);
            e->sha256 = e->path ? media_iso_file_sha256(iso, e->path, NULL) : NULL;
        } else if (nodes && nodes[i] && boot_node_start(nodes[i], &off)) {
            /* in no directory: the bytes a firmware would use, by the same rule as when it is
             * kept (hidden_boot_size), so input and output compare */
            guint64 size = hidden_boot_size(iso, off, pid, (int)e->load_size);
            Extents x = {g_array_new(FALSE, FALSE, sizeof(MediaExtent)), size};
            MediaExtent one = {off, size};
            g_array_append_val(x.x, one);
            e->sha256 = iso_extents_sha256(iso, &x, iso->path, NULL);
            iso_extents_clear(&x);
        }
        g_ptr_array_add(out, e);
    }
    free(boots);
    free(nodes);
    return out;
}
