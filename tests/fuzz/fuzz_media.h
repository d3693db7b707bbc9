/* Support for the media parser fuzz targets (fuzz_inf.c, fuzz_cert.c, fuzz_hive.c, fuzz_udf.c,
 * fuzz_iso.c): a private scratch folder the inputs are written into (the parsers open files by
 * name, as aero-media does), the sparse image encoding of the UDF and ISO targets, and the checks
 * every target shares. A violated invariant aborts with "fuzz invariant violated: ...", which
 * libFuzzer reports as a crash.
 */
#ifndef TESTS_FUZZ_MEDIA_H
#define TESTS_FUZZ_MEDIA_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

G_GNUC_NORETURN G_GNUC_PRINTF(1, 2) void fm_violated(const char *fmt, ...);

/* The scratch folder, created on first use (under TMPDIR) and removed at exit. */
const char *fm_dir(void);
/* Write len bytes to NAME in the scratch folder; the path (g_free). */
char *fm_write(const char *name, const void *data, size_t len);
/* Whether a file holds exactly these bytes. */
gboolean fm_file_equals(const char *path, const void *data, size_t len);
/* The scratch folder holds exactly the names listed (NULL-terminated), nothing else: what a
 * parser writes stays where it was told to. */
void fm_check_dir(const char *const *names);
/* Remove a file or folder tree of the scratch folder (never follows symbolic links). */
void fm_remove(const char *path);

/* A refusal is one line in aero-media's error domain naming the file (media/error.h). */
void fm_check_error(const GError *e, const char *names);

/* Sparse image encoding (tests/fuzz/media_seeds.py writes it): a 4-byte header {u8 flags,
 * u16 blocks, u8 cut}, then records {u16 block, u16 length, data}, each one 2048-byte block of
 * the image, zero-padded. The image has `blocks` blocks (0: up to the last record; capped at
 * FM_MAX_BLOCKS) less cut * 8 bytes; records past its end are dropped. */
#define FM_BLOCK 2048u
#define FM_MAX_BLOCKS 16384u /* 32 MiB, a sparse file */
#define FM_REPAIR_TAGS 0x01u /* flags: re-compute UDF descriptor tags (checksum and CRC) */
/* Write the image into fd (truncated first); its size in bytes. */
uint64_t fm_image(const uint8_t *data, size_t size, int fd, unsigned *flags);

#endif
