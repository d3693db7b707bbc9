/* aero-media's one error domain: every GError a media_* function sets is MEDIA_ERROR with a
 * MediaErrorCode, and its message is the one line the user sees ("<file>: <problem>"). Callers
 * branch on the code (as on wimlib's error enum), never on the message.
 */
#ifndef MEDIA_ERROR_H
#define MEDIA_ERROR_H

#include <glib.h>

#define MEDIA_ERROR (media_error_quark())
GQuark media_error_quark(void);

typedef enum {
    MEDIA_ERROR_FAILED = 1, /* a library refused (libisofs, wimlib, hivex, GnuTLS) or a system
                                * call failed for another reason; the message says why */
    MEDIA_ERROR_NOT_FOUND,  /* a file or folder that must exist does not, on disk or in an image */
    MEDIA_ERROR_INVALID,    /* an input is not what it must be: not an ISO 9660 image, a damaged
                                * UDF tree, an INF or driver package missing a part, a hive without
                                * Select\Current, a certificate that does not parse, a bad --index */
    MEDIA_ERROR_BAD_PATH,   /* a path names the wrong kind of thing: the output is a folder or
                                * one of the inputs, --drivers is neither a folder nor an ISO */
    MEDIA_ERROR_IO,         /* the disk or file system failed (EIO), or a library could not write
                                * an output or a work copy */
    MEDIA_ERROR_NO_SPACE,   /* no space left (ENOSPC, EDQUOT) */
    MEDIA_ERROR_ACCESS,     /* permission denied or read-only file system */
    MEDIA_ERROR_CHECKS_FAILED, /* verify: at least one check failed (each was reported) */
    MEDIA_ERROR_CANCELLED,     /* the progress callback asked to stop (MEDIA_PROGRESS_ABORT) */
} MediaErrorCode;

/* A short description of the code ("no such file", ...); never NULL, also for unknown codes. */
const char *media_error_string(int code);

/* The code for a failed system call's errno. */
MediaErrorCode media_error_from_errno(int err);

/* Turn an error of another domain (GLib's G_FILE_ERROR from g_file_get_contents, json-glib's) into
 * MEDIA_ERROR with the same message, so public functions only ever set MEDIA_ERROR. NULL-safe. */
void media_error_adopt(GError **error);

#endif
