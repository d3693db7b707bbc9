/* WIM access through wimlib (see wim.h). */
#include "wim.h"

#include "util.h"

#include <glib/gstdio.h>
#include <wimlib.h>

struct MediaWim {
    WIMStruct *wim;
    char *label;
    GArray *queue; /* struct pending */
    int last_percent;
    gboolean quiet;
};

struct pending {
    int image;
    char *source, *target;
};

static void global_init(void)
{
    static gsize once = 0;
    if (g_once_init_enter(&once)) {
        /* Windows paths: match case-insensitively everywhere. */
        wimlib_global_init(WIMLIB_INIT_FLAG_DEFAULT_CASE_INSENSITIVE);
        g_once_init_leave(&once, 1);
    }
}

MediaWim *media_wim_open(const char *path, const char *label, GError **error)
{
    global_init();
    WIMStruct *wim = NULL;
    int rc = wimlib_open_wim(path, 0, &wim);
    if (rc) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: not a usable WIM (%s)", label,
                    wimlib_get_error_string(rc));
        return NULL;
    }
    MediaWim *w = g_new0(MediaWim, 1);
    w->wim = wim;
    w->label = g_strdup(label);
    w->queue = g_array_new(FALSE, TRUE, sizeof(struct pending));
    return w;
}

void media_wim_close(MediaWim *w)
{
    if (!w)
        return;
    for (guint i = 0; i < w->queue->len; i++) {
        struct pending *p = &g_array_index(w->queue, struct pending, i);
        g_free(p->source);
        g_free(p->target);
    }
    g_array_unref(w->queue);
    wimlib_free(w->wim);
    g_free(w->label);
    g_free(w);
}

int media_wim_image_count(MediaWim *w)
{
    struct wimlib_wim_info info;
    wimlib_get_wim_info(w->wim, &info);
    return (int)info.image_count;
}

guint media_wim_image_arch(MediaWim *w, int image)
{
    const wimlib_tchar *a = wimlib_get_image_property(w->wim, image, "WINDOWS/ARCH");
    if (!a)
        return 0;
    if (g_strcmp0(a, "0") == 0)
        return 1; /* MEDIA_ARCH_X86 */
    if (g_strcmp0(a, "9") == 0)
        return 2; /* MEDIA_ARCH_AMD64 */
    return 0;
}

const char *media_wim_image_name(MediaWim *w, int image)
{
    const char *n = wimlib_get_image_name(w->wim, image);
    return n && *n ? n : "(unnamed)";
}

gboolean media_wim_extract_file(MediaWim *w, int image, const char *wim_path, const char *dest_file,
                                GError **error)
{
    g_autofree char *dir = g_strdup_printf("%s.x", dest_file);
    g_mkdir_with_parents(dir, 0700);
    const char *paths[] = {wim_path};
    int rc = wimlib_extract_paths(w->wim, image, dir, paths, 1,
                                  WIMLIB_EXTRACT_FLAG_NO_PRESERVE_DIR_STRUCTURE |
                                      WIMLIB_EXTRACT_FLAG_NO_ACLS);
    if (rc) {
        media_rm_rf(dir);
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s image %d: %s: %s", w->label, image,
                    wim_path, rc == WIMLIB_ERR_PATH_DOES_NOT_EXIST ? "missing from the image"
                                                                  : wimlib_get_error_string(rc));
        return FALSE;
    }
    g_autofree char *base = g_path_get_basename(wim_path);
    /* the extracted name carries the image's own case: take the only entry */
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *e = d ? g_dir_read_name(d) : NULL;
    g_autofree char *src = e ? g_build_filename(dir, e, NULL) : NULL;
    gboolean ok = src && g_rename(src, dest_file) == 0;
    media_rm_rf(dir);
    if (!ok)
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s image %d: cannot extract %s",
                    w->label, image, base);
    return ok;
}

void media_wim_queue_add(MediaWim *w, int image, const char *source, const char *target)
{
    struct pending p = {image, g_strdup(source), g_strdup(target)};
    g_array_append_val(w->queue, p);
}

static enum wimlib_progress_status progress(enum wimlib_progress_msg msg, union wimlib_progress_info *info,
                                            void *ctx)
{
    MediaWim *w = ctx;
    if (msg == WIMLIB_PROGRESS_MSG_WRITE_STREAMS && !w->quiet && info->write_streams.total_bytes) {
        int pct = (int)(info->write_streams.completed_bytes * 100 / info->write_streams.total_bytes);
        if (pct >= w->last_percent + 10 || (pct == 100 && w->last_percent != 100)) {
            g_printerr("  %s: writing %3d%%\n", w->label, pct);
            w->last_percent = pct;
        }
    }
    return WIMLIB_PROGRESS_STATUS_CONTINUE;
}

gboolean media_wim_commit(MediaWim *w, gboolean quiet, GError **error)
{
    int images = media_wim_image_count(w);
    for (int img = 1; img <= images; img++) {
        GArray *cmds = g_array_new(FALSE, TRUE, sizeof(struct wimlib_update_command));
        for (guint i = 0; i < w->queue->len; i++) {
            struct pending *p = &g_array_index(w->queue, struct pending, i);
            if (p->image != img)
                continue;
            /* reading a source bumps its access time; SOURCE_DATE_EPOCH runs reset it each time */
            media_set_tree_times(p->source);
            struct wimlib_update_command c = {.op = WIMLIB_UPDATE_OP_ADD};
            c.add.fs_source_path = p->source;
            c.add.wim_target_path = p->target;
            c.add.add_flags = WIMLIB_ADD_FLAG_NO_ACLS;
            g_array_append_val(cmds, c);
        }
        int rc = cmds->len ? wimlib_update_image(w->wim, img, (struct wimlib_update_command *)cmds->data,
                                                  cmds->len, 0)
                           : 0;
        g_array_unref(cmds);
        if (rc) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s image %d: cannot update: %s",
                        w->label, img, wimlib_get_error_string(rc));
            return FALSE;
        }
    }
    w->quiet = quiet;
    w->last_percent = -10;
    wimlib_register_progress_function(w->wim, progress, w);
    int rc = wimlib_overwrite(w->wim, 0, 0);
    const char *sde = g_getenv("SOURCE_DATE_EPOCH");
    if (!rc && sde && *sde) {
        /* wimlib stamps modified images with the current time while writing; for reproducible
         * output put SOURCE_DATE_EPOCH (as a FILETIME) back and rewrite the XML only. */
        guint64 ft = ((guint64)g_ascii_strtoull(sde, NULL, 10) + 11644473600ull) * 10000000ull;
        g_autofree char *hi = g_strdup_printf("0x%08X", (guint32)(ft >> 32));
        g_autofree char *lo = g_strdup_printf("0x%08X", (guint32)ft);
        for (int img = 1; img <= images; img++) {
            wimlib_set_image_property(w->wim, img, "LASTMODIFICATIONTIME/HIGHPART", hi);
            wimlib_set_image_property(w->wim, img, "LASTMODIFICATIONTIME/LOWPART", lo);
        }
        rc = wimlib_overwrite(w->wim, 0, 0);
    }
    if (rc) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: cannot write: %s", w->label,
                    wimlib_get_error_string(rc));
        return FALSE;
    }
    return TRUE;
}
