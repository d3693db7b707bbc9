/* aero-media's error domain (see error.h). */
#include "error.h"

#include <errno.h>

GQuark media_error_quark(void) { return g_quark_from_static_string("aero-media-error-quark"); }

const char *media_error_string(int code)
{
    switch ((MediaErrorCode)code) {
    case MEDIA_ERROR_FAILED:
        return "failed";
    case MEDIA_ERROR_NOT_FOUND:
        return "no such file or folder";
    case MEDIA_ERROR_INVALID:
        return "invalid input";
    case MEDIA_ERROR_BAD_PATH:
        return "path names the wrong kind of thing";
    case MEDIA_ERROR_IO:
        return "input/output error";
    case MEDIA_ERROR_NO_SPACE:
        return "no space left";
    case MEDIA_ERROR_ACCESS:
        return "permission denied";
    case MEDIA_ERROR_CHECKS_FAILED:
        return "checks failed";
    case MEDIA_ERROR_CANCELLED:
        return "cancelled";
    }
    return "unknown error";
}

MediaErrorCode media_error_from_errno(int err)
{
    switch (err) {
    case ENOENT:
        return MEDIA_ERROR_NOT_FOUND;
    case EIO:
        return MEDIA_ERROR_IO;
    case ENOSPC:
    case EDQUOT:
        return MEDIA_ERROR_NO_SPACE;
    case EACCES:
    case EPERM:
    case EROFS:
        return MEDIA_ERROR_ACCESS;
    case EISDIR:
    case ENOTDIR:
        return MEDIA_ERROR_BAD_PATH;
    case ECANCELED:
        return MEDIA_ERROR_CANCELLED; /* a loop that saw the progress callback's stop */
    default:
        return MEDIA_ERROR_FAILED;
    }
}

void media_error_adopt(GError **error)
{
    if (!error || !*error || (*error)->domain == MEDIA_ERROR)
        return;
    GError *e = *error;
    int code = MEDIA_ERROR_FAILED;
    if (e->domain == G_FILE_ERROR) {
        switch (e->code) {
        case G_FILE_ERROR_NOENT:
            code = MEDIA_ERROR_NOT_FOUND;
            break;
        case G_FILE_ERROR_IO:
            code = MEDIA_ERROR_IO;
            break;
        case G_FILE_ERROR_NOSPC:
            code = MEDIA_ERROR_NO_SPACE;
            break;
        case G_FILE_ERROR_ACCES:
        case G_FILE_ERROR_PERM:
        case G_FILE_ERROR_ROFS:
            code = MEDIA_ERROR_ACCESS;
            break;
        case G_FILE_ERROR_ISDIR:
        case G_FILE_ERROR_NOTDIR:
            code = MEDIA_ERROR_BAD_PATH;
            break;
        case G_FILE_ERROR_INVAL:
            code = MEDIA_ERROR_INVALID;
            break;
        default:
            break;
        }
    } else if (e->domain == G_CONVERT_ERROR || e->domain == G_MARKUP_ERROR) {
        code = MEDIA_ERROR_INVALID;
    }
    *error = g_error_new_literal(MEDIA_ERROR, code, e->message);
    g_error_free(e);
}
