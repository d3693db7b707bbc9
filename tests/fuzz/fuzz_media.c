/* Support for the media parser fuzz targets (see fuzz_media.h). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "fuzz_media.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fm_violated(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz invariant violated: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static char *scratch;

/* A GLib critical is a caller's bug (a NULL where a string belongs): a crash for the fuzzer,
 * through abort() (GLib's own fatal criticals trap, which libFuzzer does not catch). */
static void on_log(const char *domain, GLogLevelFlags level, const char *message, gpointer user)
{
    if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
        fm_violated("%s-CRITICAL: %s", domain ? domain : "", message);
    g_log_default_handler(domain, level, message, user);
}

/* As aero-media's main (media/cli.c) in a UTF-8 locale: libisofs takes file names in the
 * locale's character set. */
__attribute__((constructor)) static void fm_init(void)
{
    g_log_set_default_handler(on_log, NULL);
    setlocale(LC_ALL, "C.UTF-8");
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

void fm_remove(const char *path)
{
    if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        fm_violated("cannot remove %s: %s", path, g_strerror(errno));
}

static void remove_scratch(void)
{
    if (scratch)
        fm_remove(scratch);
}

const char *fm_dir(void)
{
    if (!scratch) {
        GError *e = NULL;
        scratch = g_dir_make_tmp("aero-fuzz-XXXXXX", &e);
        if (!scratch) {
            fprintf(stderr, "fuzz: %s\n", e->message);
            exit(1);
        }
        atexit(remove_scratch);
    }
    return scratch;
}

char *fm_write(const char *name, const void *data, size_t len)
{
    char *path = g_build_filename(fm_dir(), name, NULL);
    GError *e = NULL;
    if (!g_file_set_contents(path, data, (gssize)len, &e)) {
        fprintf(stderr, "fuzz: %s\n", e->message);
        exit(1);
    }
    return path;
}

gboolean fm_file_equals(const char *path, const void *data, size_t len)
{
    g_autofree char *now = NULL;
    gsize n = 0;
    if (!g_file_get_contents(path, &now, &n, NULL))
        return FALSE;
    return n == len && memcmp(now, data, len) == 0;
}

void fm_check_dir(const char *const *names)
{
    GDir *d = g_dir_open(fm_dir(), 0, NULL);
    const char *e;
    while (d && (e = g_dir_read_name(d))) {
        if (!g_strv_contains(names, e))
            fm_violated("the parser left %s/%s behind", fm_dir(), e);
    }
    if (d)
        g_dir_close(d);
}

void fm_check_error(const GError *e, const char *names)
{
    if (!e)
        fm_violated("refused without an error");
    if (e->domain != MEDIA_ERROR || e->code < MEDIA_ERROR_FAILED || e->code > MEDIA_ERROR_CANCELLED)
        fm_violated("error outside aero-media's domain: %s/%d: %s", g_quark_to_string(e->domain), e->code,
                    e->message);
    if (!e->message || !strstr(e->message, names))
        fm_violated("error does not name %s: %s", names, e->message ? e->message : "(null)");
    if (strchr(e->message, '\n'))
        fm_violated("error is not one line: %s", e->message);
    if (!g_utf8_validate(e->message, -1, NULL))
        fm_violated("error is not UTF-8: %s", e->message);
}

/* ---- sparse images ------------------------------------------------------------------------- */

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* CRC-ITU-T of ECMA-167 3/7.2.6, for re-computing tags (written here, not taken from udf.c, so a
 * bug there does not cancel out) */
static uint16_t crc_itu(const uint8_t *p, size_t n)
{
    uint16_t crc = 0;
    while (n--) {
        crc ^= (uint16_t)(*p++ << 8);
        for (int i = 0; i < 8; i++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

/* Make one descriptor tag at d (avail bytes) pass its checksum and CRC checks, so mutations of
 * the fields behind it reach the reader's logic. */
static void retag(uint8_t *d, size_t avail)
{
    size_t crc_len = le16(d + 10);
    if (avail < 16)
        return;
    if (crc_len > avail - 16) {
        crc_len = avail - 16;
        d[10] = (uint8_t)crc_len;
        d[11] = (uint8_t)(crc_len >> 8);
    }
    uint16_t crc = crc_itu(d + 16, crc_len);
    d[8] = (uint8_t)crc;
    d[9] = (uint8_t)(crc >> 8);
    uint8_t sum = 0;
    for (int i = 0; i < 16; i++)
        if (i != 4)
            sum = (uint8_t)(sum + d[i]);
    d[4] = sum;
}

static void repair_block(uint8_t *b)
{
    static const uint16_t ids[] = {1, 2, 5, 6, 8, 256, 258, 261, 266}; /* 3/7.2.1, 4/7.2.1 */
    uint16_t id = le16(b);
    for (size_t i = 0; i < G_N_ELEMENTS(ids); i++) {
        if (id == ids[i]) {
            retag(b, FM_BLOCK);
            return;
        }
    }
    /* directory data: every file identifier descriptor (4/14.4) that starts in the block */
    for (size_t off = 0; off + 38 <= FM_BLOCK && le16(b + off) == 257;) {
        size_t n = 38 + (size_t)le16(b + off + 36) + b[off + 19];
        if (off + n > FM_BLOCK)
            break;
        retag(b + off, n);
        off += (n + 3) & ~(size_t)3;
    }
}

uint64_t fm_image(const uint8_t *data, size_t size, int fd, unsigned *flags)
{
    uint8_t head[4] = {0};
    memcpy(head, data, MIN(size, sizeof(head)));
    size_t skip = MIN(size, sizeof(head));
    data += skip;
    size -= skip;
    *flags = head[0];
    uint64_t blocks = le16(head + 1);
    if (!blocks) { /* up to the last record */
        for (size_t off = 0; off + 4 <= size;) {
            blocks = MAX(blocks, (uint64_t)le16(data + off) + 1);
            off += 4 + MIN((size_t)le16(data + off + 2), (size_t)FM_BLOCK);
        }
    }
    blocks = MIN(blocks, (uint64_t)FM_MAX_BLOCKS);
    uint64_t bytes = blocks * FM_BLOCK;
    bytes -= MIN(bytes, (uint64_t)head[3] * 8);
    if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)bytes) != 0)
        fm_violated("cannot size the image: %s", g_strerror(errno));
    uint8_t block[FM_BLOCK];
    for (size_t off = 0; off + 4 <= size;) {
        uint64_t at = (uint64_t)le16(data + off) * FM_BLOCK;
        size_t len = MIN(MIN((size_t)le16(data + off + 2), (size_t)FM_BLOCK), size - off - 4);
        memset(block, 0, sizeof(block));
        memcpy(block, data + off + 4, len);
        off += 4 + len;
        if (at >= bytes)
            continue;
        if (*flags & FM_REPAIR_TAGS)
            repair_block(block);
        size_t n = (size_t)MIN((uint64_t)FM_BLOCK, bytes - at);
        if (pwrite(fd, block, n, (off_t)at) != (ssize_t)n)
            fm_violated("cannot write the image: %s", g_strerror(errno));
    }
    return bytes;
}
