/* Test block backend: a memory image with a volatile write cache (writes land in `cache`, a FLUSH
 * copies it to `durable`), completing immediately or when the test says so. */
#ifndef AERO_TEST_MEMBACKEND_H
#define AERO_TEST_MEMBACKEND_H

#include "aero_blk.h"

struct membk {
    uint8_t *cache, *durable;
    size_t size;
    bool defer;
    bool fail_all;
    struct aero_blk_io *pending[512];
    unsigned npending;
    unsigned submits, flushes, batches_begun, batches_ended;
};

extern const struct aero_blk_backend_ops membk_ops;
void membk_init(struct membk *m, size_t size);
void membk_free(struct membk *m);
/* Complete every deferred operation in submission order (new ones submitted meanwhile too). */
void membk_complete_all(struct membk *m);
/* Complete the i-th deferred operation (out of order), if there is one. */
void membk_complete_one(struct membk *m, unsigned i);

#endif
