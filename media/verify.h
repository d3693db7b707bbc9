/* `aero-media verify`: check a patched ISO from the image itself. The library reports every check
 * and note through a callback, in order; it prints nothing (the CLI turns them into the
 * checklist).
 */
#ifndef MEDIA_VERIFY_H
#define MEDIA_VERIFY_H

#include "progress.h"

#include <glib.h>

typedef enum {
    MEDIA_VERIFY_PASS, /* a check that holds */
    MEDIA_VERIFY_FAIL, /* a check that does not */
    MEDIA_VERIFY_NOTE, /* what was found or assumed, e.g. where the storage driver came from */
} MediaVerifyKind;

/* text is one line, valid during the call. Called on the thread that runs media_verify. */
typedef void (*MediaVerifyFunc)(MediaVerifyKind kind, const char *text, void *user);

typedef struct {
    const char *iso;
    const char *manifest;   /* NULL: <iso>.manifest.json if it exists */
    MediaVerifyFunc report; /* every check and note; NULL: none */
    void *user;
    MediaProgress *progress; /* long steps (hashing, copying WIMs); NULL: quiet */
    guint checks, fails;     /* out: how many checks ran and how many failed */
} MediaVerifyOptions;

/* Check every boot.wim image and the patched install.wim images (those the manifest lists, else
 * those found patched; at least one), every BCD store present, the storage driver, certificates,
 * staged drivers, El Torito entries and autounattend.xml. The manifest adds what only the run
 * knows: hashes, the input's boot entries, the signing policy, the certificate.
 * FALSE with MEDIA_ERROR_CHECKS_FAILED ("ISO: F of N checks failed") when a check fails, or with
 * another error when the checks could not run (unreadable ISO or manifest, cancelled). */
gboolean media_verify(MediaVerifyOptions *o, GError **error);

#endif
