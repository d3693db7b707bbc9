/* Memory block backend for unit tests (see membackend.h). */
#include "membackend.h"

#include <stdlib.h>
#include <string.h>

static void run(struct membk *m, struct aero_blk_io *io)
{
    int err = m->fail_all;
    if (!err && io->op != AERO_BLK_OP_FLUSH && (io->offset > m->size || io->len > m->size - io->offset))
        err = 1;
    if (!err) {
        if (io->op == AERO_BLK_OP_READ)
            memcpy(io->buf, m->cache + io->offset, io->len);
        else if (io->op == AERO_BLK_OP_WRITE)
            memcpy(m->cache + io->offset, io->buf, io->len);
        else {
            memcpy(m->durable, m->cache, m->size);
            m->flushes++;
        }
    }
    aero_blk_io_complete(io, err);
}

static void membk_submit(void *opaque, struct aero_blk_io *io)
{
    struct membk *m = opaque;
    m->submits++;
    if (m->defer && m->npending < sizeof(m->pending) / sizeof(m->pending[0])) {
        m->pending[m->npending++] = io;
        return;
    }
    run(m, io);
}

static void membk_begin(void *opaque) { ((struct membk *)opaque)->batches_begun++; }
static void membk_end(void *opaque) { ((struct membk *)opaque)->batches_ended++; }

const struct aero_blk_backend_ops membk_ops = {
    .submit = membk_submit,
    .batch_begin = membk_begin,
    .batch_end = membk_end,
};

void membk_init(struct membk *m, size_t size)
{
    memset(m, 0, sizeof(*m));
    m->size = size;
    m->cache = calloc(1, size);
    m->durable = calloc(1, size);
}

void membk_free(struct membk *m)
{
    free(m->cache);
    free(m->durable);
}

void membk_complete_one(struct membk *m, unsigned i)
{
    if (i >= m->npending)
        return;
    struct aero_blk_io *io = m->pending[i];
    memmove(&m->pending[i], &m->pending[i + 1], (m->npending - 1 - i) * sizeof(m->pending[0]));
    m->npending--;
    run(m, io);
}

void membk_complete_all(struct membk *m)
{
    while (m->npending)
        membk_complete_one(m, 0);
}
