/* libvirt through its C API (see virt.h). libvirt's own error printing is switched off: every
 * failure becomes one GError line that names the URI or the file. */
#include "virt.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <string.h>

struct MediaVirt {
    virConnectPtr conn;
    char *uri;
};

static void quiet_errors(void *user, virErrorPtr err)
{
    (void)user;
    (void)err;
}

static gpointer event_loop(gpointer data)
{
    (void)data;
    for (;;)
        virEventRunDefaultImpl();
    return NULL;
}

/* The embedded driver (qemu:///embed) and console streams need an event loop; it runs for the
 * rest of the process on a thread of its own. */
static void ensure_event_loop(void)
{
    static gsize once = 0;
    if (g_once_init_enter(&once)) {
        /* the embedded driver logs its errors to stderr besides returning them: one line is ours */
        if (!g_getenv("LIBVIRT_LOG_OUTPUTS"))
            g_setenv("LIBVIRT_LOG_OUTPUTS", "1:file:/dev/null", TRUE);
        virSetErrorFunc(NULL, quiet_errors);
        virEventRegisterDefaultImpl();
        g_thread_unref(g_thread_new("aero-media-libvirt-events", event_loop, NULL));
        g_once_init_leave(&once, 1);
    }
}

static const char *last_error(void)
{
    const char *m = virGetLastErrorMessage();
    return m && *m ? m : "unknown libvirt error";
}

MediaVirt *media_virt_open(const char *uri, GError **error)
{
    ensure_event_loop();
    const char *u = uri ? uri : "qemu:///system";
    virConnectPtr c = virConnectOpen(u);
    if (!c) {
        virErrorPtr err = virGetLastError();
        gboolean no_daemon = err && (err->code == VIR_ERR_SYSTEM_ERROR || err->code == VIR_ERR_NO_CONNECT) &&
                             err->message && (strstr(err->message, "socket") || strstr(err->message, "connect"));
        /* libvirt's QEMU driver needs the account libvirt-daemon-system creates, even embedded */
        gboolean no_account = strstr(last_error(), "Failed to parse user 'libvirt-qemu'") != NULL;
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "%s: cannot connect to libvirt%s: %s", u,
                    no_daemon ? " (is libvirtd running? or use --connect 'qemu:///embed?root=DIR', no daemon)"
                    : no_account ? " (install libvirt-daemon-system, or create the libvirt-qemu user and group)" : "",
                    last_error());
        return NULL;
    }
    MediaVirt *v = g_new0(MediaVirt, 1);
    v->conn = c;
    v->uri = g_strdup(u);
    return v;
}

void media_virt_close(MediaVirt *v)
{
    if (!v)
        return;
    virConnectClose(v->conn);
    g_free(v->uri);
    g_free(v);
}

const char *media_virt_uri(MediaVirt *v)
{
    return v->uri;
}

gboolean media_virt_is_local(MediaVirt *v)
{
    g_autoptr(GUri) u = g_uri_parse(v->uri, G_URI_FLAGS_NONE, NULL);
    if (!u)
        return FALSE;
    const char *host = g_uri_get_host(u);
    return !host || !*host || !g_ascii_strcasecmp(host, "localhost");
}

gboolean media_virt_lookup(MediaVirt *v, const char *name, gboolean *found, char **uuid, gboolean *active,
                           GError **error)
{
    *found = *active = FALSE;
    *uuid = NULL;
    virDomainPtr d = virDomainLookupByName(v->conn, name);
    if (!d) {
        virErrorPtr err = virGetLastError();
        if (err && err->code == VIR_ERR_NO_DOMAIN)
            return TRUE;
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: cannot look up domain '%s': %s", v->uri, name,
                    last_error());
        return FALSE;
    }
    char buf[VIR_UUID_STRING_BUFLEN];
    *found = TRUE;
    if (virDomainGetUUIDString(d, buf) == 0)
        *uuid = g_strdup(buf);
    *active = virDomainIsActive(d) == 1;
    virDomainFree(d);
    return TRUE;
}

gboolean media_virt_define(MediaVirt *v, const char *name, const char *xml, GError **error)
{
    virDomainPtr d = virDomainDefineXMLFlags(v->conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
    if (!d) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: cannot define domain '%s': %s", v->uri, name, last_error());
        return FALSE;
    }
    virDomainFree(d);
    return TRUE;
}

gboolean media_virt_start(MediaVirt *v, const char *name, gboolean paused, GError **error)
{
    virDomainPtr d = virDomainLookupByName(v->conn, name);
    if (!d || virDomainCreateWithFlags(d, paused ? VIR_DOMAIN_START_PAUSED : 0) != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: cannot start domain '%s': %s", v->uri, name, last_error());
        if (d)
            virDomainFree(d);
        return FALSE;
    }
    virDomainFree(d);
    return TRUE;
}

void media_virt_undefine(MediaVirt *v, const char *name)
{
    virDomainPtr d = virDomainLookupByName(v->conn, name);
    if (!d)
        return;
    virDomainUndefineFlags(d, VIR_DOMAIN_UNDEFINE_NVRAM);
    virDomainFree(d);
}

/* A volume in the storage pool whose target folder holds path, when libvirt has one (the disk
 * is then known to libvirt, and this works on remote hosts). FALSE with *no_pool when there is
 * no such pool or no storage driver (the embedded driver has none). */
static gboolean create_volume(MediaVirt *v, const char *path, const char *format, guint64 size, gboolean *no_pool,
                              GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    *no_pool = FALSE;
    virStoragePoolPtr pool = virStoragePoolLookupByTargetPath(v->conn, dir);
    if (!pool) {
        *no_pool = TRUE;
        return FALSE;
    }
    g_autofree char *xml = g_markup_printf_escaped(
        "<volume><name>%s</name><capacity unit='bytes'>%" G_GUINT64_FORMAT "</capacity>"
        "<target><format type='%s'/></target></volume>", base, size, format);
    virStorageVolPtr vol = virStorageVolCreateXML(pool, xml, 0);
    virStoragePoolFree(pool);
    if (!vol) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: cannot create the disk volume: %s", path, last_error());
        return FALSE;
    }
    virStorageVolFree(vol);
    return TRUE;
}

gboolean media_virt_create_disk(MediaVirt *v, const char *path, const char *format, guint64 size, GError **error)
{
    gboolean no_pool = FALSE;
    if (create_volume(v, path, format, size, &no_pool, error))
        return TRUE;
    if (!no_pool)
        return FALSE;
    if (!media_virt_is_local(v)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "%s: no storage pool on %s holds this folder: define one (virsh pool-define-as) or create the "
                    "disk there and pass --reuse-disk", path, v->uri);
        return FALSE;
    }
    g_autofree char *qemu_img = g_find_program_in_path("qemu-img");
    if (!qemu_img) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: cannot create the disk: qemu-img is not installed "
                    "(Debian package qemu-utils)", path);
        return FALSE;
    }
    g_autofree char *bytes = g_strdup_printf("%" G_GUINT64_FORMAT, size);
    const char *argv[] = {qemu_img, "create", "-q", "-f", format, path, bytes, NULL};
    g_autofree char *err = NULL;
    int status = 0;
    GError *e = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status, &e)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: cannot run qemu-img: %s", path, e->message);
        g_error_free(e);
        return FALSE;
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_strstrip(err);
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: qemu-img create failed: %s", path, err);
        g_unlink(path);
        return FALSE;
    }
    return TRUE;
}
