/* aero-virtio-blk (CONTRACT §3.1): one request queue of 128; requests are validated in full
 * before any backend I/O, data moves through a bounded bounce buffer in chunks, and every
 * request completes through complete_request(): status byte first, then the used entry.
 */
#include "aero_blk.h"
#include "aero_virtio_device.h"
#include "aero_le.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLK_SECTOR 512u
#define BLK_HDR_LEN 16u
#define BLK_CONFIG_LEN 0x40u

struct blk_req {
    struct aero_blk *blk;
    bool in_use;
    uint32_t gen; /* vdev generation at pop; stale after a reset */
    struct aero_blk_request rq;
    uint64_t done; /* payload bytes moved so far */
    uint8_t *bounce;
    struct aero_blk_io io;
    struct aero_chain chain;
};

struct aero_blk {
    struct aero_vdev *vdev;
    struct aero_blk_params p;
    char serial[AERO_BLK_ID_BYTES + 1];
    const struct aero_blk_backend_ops *backend;
    void *backend_opaque;
    uint64_t capacity_sectors;
    unsigned inflight;
    bool in_process;
    bool again;
    bool starved;
    struct blk_req req[AERO_BLK_QUEUE_SIZE];
    /* Requests in flight when the state was saved, re-submitted from their heads (restore). */
    uint16_t restart[AERO_BLK_QUEUE_SIZE];
    unsigned nrestart, restart_pos;
};

static void process_queue(struct aero_blk *blk);

/* ---- config space ------------------------------------------------------------------------- */

static void blk_config_read(void *opaque, uint32_t off, uint8_t *buf, unsigned len)
{
    struct aero_blk *blk = opaque;
    uint8_t cfg[BLK_CONFIG_LEN] = {0};
    aero_put_le64(&cfg[0x00], blk->capacity_sectors);
    aero_put_le32(&cfg[0x08], 0); /* size_max: SIZE_MAX not offered */
    aero_put_le32(&cfg[0x0c], AERO_BLK_SEG_MAX);
    aero_put_le32(&cfg[0x14], blk->p.logical_block_size);
    if (off < BLK_CONFIG_LEN)
        memcpy(buf, &cfg[off], off + len <= BLK_CONFIG_LEN ? len : BLK_CONFIG_LEN - off);
}

static void blk_reset(void *opaque)
{
    struct aero_blk *blk = opaque;
    /* In-flight backend I/O keeps its slot until it completes; the generation check in
     * complete_request() keeps it away from the (now reprogrammed) rings. */
    blk->starved = false;
    blk->nrestart = blk->restart_pos = 0;
}

static void blk_queue_notify(void *opaque, uint16_t q)
{
    if (q == 0)
        process_queue(opaque);
}

/* ---- migration state ------------------------------------------------------------------------
 * Section payload (version 1): u16 count, then the head of every request in flight (popped, not
 * yet completed). Like QEMU's virtio-blk, nothing of a request but its identity travels: the
 * destination re-reads and re-parses each chain from guest memory and runs it again (reads and
 * writes are idempotent; a write that half happened on the source is simply written again). */
static void blk_state_save(void *opaque, struct aero_state_writer *w)
{
    struct aero_blk *blk = opaque;
    uint16_t heads[AERO_BLK_QUEUE_SIZE * 2];
    unsigned n = 0;
    uint32_t gen = aero_vdev_generation(blk->vdev);
    if (!aero_vdev_broken(blk->vdev)) {
        /* Not yet restarted ones first: they were popped before anything running now. */
        for (unsigned i = blk->restart_pos; i < blk->nrestart; i++)
            heads[n++] = blk->restart[i];
        for (unsigned i = 0; i < AERO_BLK_QUEUE_SIZE; i++) {
            if (blk->req[i].in_use && blk->req[i].gen == gen)
                heads[n++] = blk->req[i].chain.head;
        }
    }
    aero_sw_u16(w, (uint16_t)n);
    for (unsigned i = 0; i < n; i++)
        aero_sw_u16(w, heads[i]);
}

static const char *blk_state_check(void *opaque, const uint8_t *p, size_t len,
                                   const struct aero_state_queues *qs)
{
    static char why[120];
    struct aero_state_reader r = {.p = p, .len = len};
    uint16_t n = aero_sr_u16(&r);
    uint8_t seen[AERO_BLK_QUEUE_SIZE] = {0};
    if (r.short_read || len != 2u + 2u * n)
        return "blk: section length does not match its request count";
    uint16_t expect = qs->broken || !qs->q[0].enabled ? 0 : qs->q[0].inflight;
    if (n != expect) {
        snprintf(why, sizeof(why), "blk: %u requests in flight, the ring says %u", n, expect);
        return why;
    }
    for (uint16_t i = 0; i < n; i++) {
        uint16_t head = aero_sr_u16(&r);
        if (head >= qs->q[0].size || head >= AERO_BLK_QUEUE_SIZE) {
            snprintf(why, sizeof(why), "blk: in-flight head %u >= queue size %u", head,
                     qs->q[0].size);
            return why;
        }
        if (seen[head]++) {
            snprintf(why, sizeof(why), "blk: head %u in flight twice", head);
            return why;
        }
    }
    return NULL;
}

static void blk_state_load(void *opaque, const uint8_t *p, size_t len)
{
    struct aero_blk *blk = opaque;
    struct aero_state_reader r = {.p = p, .len = len};
    blk->nrestart = aero_sr_u16(&r);
    blk->restart_pos = 0;
    for (unsigned i = 0; i < blk->nrestart; i++)
        blk->restart[i] = aero_sr_u16(&r);
    blk->starved = false;
}

static const struct aero_device_ops blk_dev_ops = {
    .config_read = blk_config_read,
    .queue_notify = blk_queue_notify,
    .reset = blk_reset,
    .state_save = blk_state_save,
    .state_check = blk_state_check,
    .state_load = blk_state_load,
};

/* ---- completion --------------------------------------------------------------------------- */

static void release(struct blk_req *r)
{
    free(r->bounce);
    r->bounce = NULL;
    r->in_use = false;
    r->blk->inflight--;
}

enum blk_cause { CAUSE_NONE, CAUSE_GUEST, CAUSE_IO };

/* The one completion path: status byte, then the used entry (CONTRACT §3.1: used.len = 0). The
 * interrupt decision is made by the caller once per batch (aero_vq_flush). A non-OK status is
 * counted as the guest's mistake (a request refused for its shape) or as an I/O error. */
static void complete_request(struct blk_req *r, uint8_t status, enum blk_cause cause)
{
    struct aero_blk *blk = r->blk;
    struct aero_vq *vq = aero_vdev_queue(blk->vdev, 0);
    bool live = r->gen == aero_vdev_generation(blk->vdev) && !aero_vdev_broken(blk->vdev);
    uint16_t head = r->chain.head;
    if (live && cause == CAUSE_GUEST)
        aero_vq_count_guest_error(vq);
    else if (live && cause == CAUSE_IO)
        aero_vq_count_io_error(vq);
    if (live && aero_gm_write(blk->vdev, r->rq.status_addr, &status, 1) == 0) {
        aero_vq_push(vq, head, 0);
    } else if (live) {
        aero_vdev_fail(blk->vdev, 0, "blk: status byte at 0x%llx not in guest memory",
                       (unsigned long long)r->rq.status_addr);
    }
    release(r);
}

static void finish_outside_batch(struct aero_blk *blk)
{
    if (blk->in_process)
        return; /* process_queue flushes once at the end of its batch */
    /* Completions arriving one by one (QEMU AIO callbacks) share one publish + decision. */
    aero_vq_flush_later(aero_vdev_queue(blk->vdev, 0));
    if (blk->starved) {
        blk->starved = false;
        process_queue(blk);
    }
}

/* ---- request parsing (pure) ----------------------------------------------------------------- */

/* Count descriptors carrying payload: readable ones past the header (OUT) or writable ones
 * before the status byte (IN). */
static unsigned count_data_descs(const struct aero_chain *c, bool writable)
{
    unsigned n = 0;
    uint64_t pos = 0;
    for (uint16_t i = 0; i < c->nsg; i++) {
        const struct aero_sg *sg = &c->sg[i];
        if (sg->write != writable || sg->len == 0)
            continue;
        uint64_t start = pos, end = pos + sg->len;
        pos = end;
        if (!writable && end <= BLK_HDR_LEN)
            continue; /* header only */
        if (writable && start >= c->writable_bytes - 1)
            continue; /* status byte only */
        n++;
    }
    return n;
}

static bool readable_after_writable(const struct aero_chain *c)
{
    bool seen_write = false;
    for (uint16_t i = 0; i < c->nsg; i++) {
        if (c->sg[i].write)
            seen_write = true;
        else if (seen_write)
            return true;
    }
    return false;
}

int aero_blk_parse_request(const struct aero_chain *c, const uint8_t *hdr,
                           uint64_t capacity_sectors, struct aero_blk_request *rq)
{
    memset(rq, 0, sizeof(*rq));
    if (c->nsg == 0)
        return AERO_BLK_PARSE_NO_STATUS;
    /* Without a device-writable last byte there is nowhere to report anything. */
    const struct aero_sg *last = &c->sg[c->nsg - 1];
    if (!last->write || last->len == 0)
        return AERO_BLK_PARSE_NO_STATUS;
    rq->status_addr = last->addr + last->len - 1;
    if (!hdr || c->readable_bytes < BLK_HDR_LEN || readable_after_writable(c))
        return VIRTIO_BLK_S_IOERR;
    rq->type = aero_le32(hdr);
    uint64_t sector = aero_le64(hdr + 8);
    uint64_t extra_readable = c->readable_bytes - BLK_HDR_LEN;
    uint64_t extra_writable = c->writable_bytes - 1;

    switch (rq->type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT: {
        bool in = rq->type == VIRTIO_BLK_T_IN;
        /* CONTRACT §3.1: data all WRITE for IN, all read-only for OUT. */
        if (in ? extra_readable != 0 : extra_writable != 0)
            return VIRTIO_BLK_S_IOERR;
        rq->data_len = in ? extra_writable : extra_readable;
        unsigned segs = count_data_descs(c, in);
        /* CONTRACT §3.1: 1..seg_max segments, whole sectors, entirely inside capacity. */
        if (segs < 1 || segs > AERO_BLK_SEG_MAX || rq->data_len == 0 || rq->data_len % BLK_SECTOR ||
            sector > capacity_sectors || rq->data_len / BLK_SECTOR > capacity_sectors - sector)
            return VIRTIO_BLK_S_IOERR;
        rq->offset = sector * BLK_SECTOR;
        return VIRTIO_BLK_S_OK;
    }
    case VIRTIO_BLK_T_FLUSH:
        return extra_readable || extra_writable ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
    case VIRTIO_BLK_T_GET_ID:
        if (extra_readable)
            return VIRTIO_BLK_S_IOERR;
        /* virtio 1.2 §5.2.6: up to 20 bytes, NUL-padded, into the writable data. */
        rq->data_len = extra_writable < AERO_BLK_ID_BYTES ? extra_writable : AERO_BLK_ID_BYTES;
        return VIRTIO_BLK_S_OK;
    default:
        return VIRTIO_BLK_S_UNSUPP;
    }
}

/* ---- request execution -------------------------------------------------------------------- */

static void submit_next_chunk(struct blk_req *r)
{
    struct aero_blk *blk = r->blk;
    uint64_t left = r->rq.data_len - r->done;
    size_t n = left < AERO_BLK_CHUNK ? (size_t)left : AERO_BLK_CHUNK;
    r->io.op = r->rq.type == VIRTIO_BLK_T_IN ? AERO_BLK_OP_READ : AERO_BLK_OP_WRITE;
    r->io.offset = r->rq.offset + r->done;
    r->io.buf = r->bounce;
    r->io.len = n;
    if (r->rq.type == VIRTIO_BLK_T_OUT) {
        struct aero_vq *vq = aero_vdev_queue(blk->vdev, 0);
        if (aero_chain_from_guest(vq, &r->chain, BLK_HDR_LEN + r->done, r->bounce, n) !=
            (int64_t)n) {
            complete_request(r, VIRTIO_BLK_S_IOERR, CAUSE_GUEST);
            return;
        }
    }
    blk->backend->submit(blk->backend_opaque, &r->io);
}

void aero_blk_io_complete(struct aero_blk_io *io, int err)
{
    struct blk_req *r = (struct blk_req *)((char *)io - offsetof(struct blk_req, io));
    struct aero_blk *blk = r->blk;
    bool live = r->gen == aero_vdev_generation(blk->vdev) && !aero_vdev_broken(blk->vdev);

    if (err || !live || io->op == AERO_BLK_OP_FLUSH) {
        complete_request(r, err ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK,
                         err ? CAUSE_IO : CAUSE_NONE);
        finish_outside_batch(blk);
        return;
    }
    if (io->op == AERO_BLK_OP_READ) {
        struct aero_vq *vq = aero_vdev_queue(blk->vdev, 0);
        if (aero_chain_to_guest(vq, &r->chain, r->done, r->bounce, io->len) != (int64_t)io->len) {
            complete_request(r, VIRTIO_BLK_S_IOERR, CAUSE_GUEST);
            finish_outside_batch(blk);
            return;
        }
    }
    r->done += io->len;
    if (r->done < r->rq.data_len) {
        submit_next_chunk(r);
        return;
    }
    complete_request(r, VIRTIO_BLK_S_OK, CAUSE_NONE);
    finish_outside_batch(blk);
}

/* Run a parsed request: complete it at once (GET_ID) or hand its first backend operation out. */
static void execute_request(struct aero_blk *blk, struct blk_req *r)
{
    struct aero_vq *vq = aero_vdev_queue(blk->vdev, 0);
    switch (r->rq.type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT: {
        size_t chunk = r->rq.data_len < AERO_BLK_CHUNK ? (size_t)r->rq.data_len : AERO_BLK_CHUNK;
        r->bounce = malloc(chunk);
        if (!r->bounce) {
            complete_request(r, VIRTIO_BLK_S_IOERR, CAUSE_IO);
            return;
        }
        submit_next_chunk(r);
        return;
    }
    case VIRTIO_BLK_T_FLUSH:
        r->io.op = AERO_BLK_OP_FLUSH;
        r->io.offset = 0;
        r->io.buf = NULL;
        r->io.len = 0;
        blk->backend->submit(blk->backend_opaque, &r->io);
        return;
    default: { /* VIRTIO_BLK_T_GET_ID */
        char id[AERO_BLK_ID_BYTES] = {0};
        memcpy(id, blk->serial, strlen(blk->serial));
        if (aero_chain_to_guest(vq, &r->chain, 0, id, r->rq.data_len) != (int64_t)r->rq.data_len) {
            release(r); /* the device failed: nothing more goes to this ring */
            return;
        }
        complete_request(r, VIRTIO_BLK_S_OK, CAUSE_NONE);
        return;
    }
    }
}

/* Copy the header (the only guest bytes parsing needs), parse, then execute or complete. */
static void start_request(struct aero_blk *blk, struct blk_req *r)
{
    struct aero_vq *vq = aero_vdev_queue(blk->vdev, 0);
    const struct aero_chain *c = &r->chain;
    uint8_t hdr[BLK_HDR_LEN];
    const uint8_t *h = NULL;

    r->gen = aero_vdev_generation(blk->vdev);
    r->done = 0;
    r->bounce = NULL;
    if (c->readable_bytes >= BLK_HDR_LEN) {
        if (aero_chain_from_guest(vq, c, 0, hdr, BLK_HDR_LEN) != BLK_HDR_LEN) {
            release(r);
            return; /* device already failed */
        }
        h = hdr;
    }
    int st = aero_blk_parse_request(c, h, blk->capacity_sectors, &r->rq);
    if (st == AERO_BLK_PARSE_NO_STATUS) {
        aero_vdev_fail(blk->vdev, 0, "blk: request %u has no status byte", c->head);
        release(r);
        return;
    }
    if (st == VIRTIO_BLK_S_UNSUPP && aero_vdev_faulty(blk->vdev, AERO_FAULT_BLK_UNSUPP_IOERR))
        st = VIRTIO_BLK_S_IOERR; /* seeded fault, test only */
    if (st != VIRTIO_BLK_S_OK) {
        complete_request(r, (uint8_t)st, CAUSE_GUEST);
        return;
    }
    execute_request(blk, r);
}

static struct blk_req *free_slot(struct aero_blk *blk)
{
    for (unsigned i = 0; i < AERO_BLK_QUEUE_SIZE; i++) {
        if (!blk->req[i].in_use)
            return &blk->req[i];
    }
    return NULL;
}

/* Re-submit the requests restored from a saved state, in their saved order, before anything new
 * is popped: re-read each chain from its head and parse it again (its buffers are still the
 * driver's, it has not seen them completed). False when the device failed or slots ran out. */
static bool restart_requests(struct aero_blk *blk, struct aero_vq *vq)
{
    while (blk->restart_pos < blk->nrestart) {
        struct blk_req *r = free_slot(blk);
        if (!r) {
            blk->starved = true; /* old requests still hold slots: resumed by a completion */
            return false;
        }
        uint16_t head = blk->restart[blk->restart_pos++];
        if (aero_vq_chain_at(vq, head, &r->chain) != AERO_VQ_POPPED) {
            blk->nrestart = blk->restart_pos = 0;
            return false;
        }
        r->in_use = true;
        blk->inflight++;
        start_request(blk, r);
    }
    blk->nrestart = blk->restart_pos = 0;
    return true;
}

/* Drain the request queue: pop until empty (re-arming EVENT_IDX and re-checking), submit the
 * whole batch between batch_begin/batch_end, then one used.idx publish + interrupt decision.
 * Re-entrant calls (a backend completing synchronously) are folded into the running loop. At
 * most one ring's worth of chains per pass: a driver refilling concurrently cannot keep the
 * device here (CONTRACT §2); the rest continues in the next deferred pass. */
static void process_queue(struct aero_blk *blk)
{
    struct aero_vq *vq = aero_vdev_queue(blk->vdev, 0);
    if (blk->in_process) {
        blk->again = true;
        return;
    }
    if (!aero_vq_ready(vq))
        return;
    blk->in_process = true;
    bool batching = false;
    unsigned budget = aero_vq_size(vq);
    if (blk->nrestart) {
        if (blk->backend->batch_begin)
            blk->backend->batch_begin(blk->backend_opaque);
        batching = true;
        if (!restart_requests(blk, vq))
            goto out;
    }
    do {
        blk->again = false;
        for (;;) {
            struct blk_req *r = free_slot(blk);
            if (!r) {
                blk->starved = true; /* resumed by the next completion */
                break;
            }
            enum aero_vq_pop_result pr = aero_vq_pop_budgeted(vq, &r->chain, &budget);
            if (pr == AERO_VQ_DEFERRED)
                goto out;
            if (pr != AERO_VQ_POPPED)
                break;
            if (!batching && blk->backend->batch_begin)
                blk->backend->batch_begin(blk->backend_opaque);
            batching = true;
            r->in_use = true;
            blk->inflight++;
            start_request(blk, r);
        }
    } while (blk->again || (!blk->starved && aero_vq_rearm(vq)));
out:
    if (batching && blk->backend->batch_end)
        blk->backend->batch_end(blk->backend_opaque);
    blk->in_process = false;
    aero_vq_flush(vq);
}

/* ---- construction ------------------------------------------------------------------------- */

const struct aero_pci_identity aero_blk_pci_identity = {
    .vendor_id = AERO_PCI_VENDOR,
    .device_id = 0x1040 + VIRTIO_ID_BLOCK,
    .subsystem_vendor_id = AERO_PCI_VENDOR,
    .subsystem_id = 0x0002,
    .revision = AERO_PCI_REVISION,
    .class_code = 0x010000, /* mass storage, SCSI */
    .header_type = 0x00,
    .interrupt_pin = 1,
};

const char *aero_blk_check_params(const struct aero_blk_params *p)
{
    if (p->logical_block_size != 512 && p->logical_block_size != 4096)
        return "logical_block_size must be 512 or 4096";
    if (p->msix_vectors != 0 && p->msix_vectors != AERO_BLK_MSIX_VECTORS)
        return "vectors must be 0 (INTx only) or 2 (config + requestq)";
    if (p->serial && strlen(p->serial) > AERO_BLK_ID_BYTES)
        return "serial is longer than 20 bytes (VIRTIO_BLK_ID_BYTES)";
    return NULL;
}

struct aero_blk *aero_blk_new(const struct aero_blk_params *p, const struct aero_host_ops *host,
                              void *host_opaque, const struct aero_blk_backend_ops *backend,
                              void *backend_opaque, const char **why)
{
    if (!p || !backend || !backend->submit)
        return aero_refuse(why, "no block backend");
    const char *bad = aero_blk_check_params(p);
    if (bad)
        return aero_refuse(why, bad);
    struct aero_blk *blk = calloc(1, sizeof(*blk));
    if (!blk)
        return aero_refuse(why, "out of memory");
    blk->p = *p;
    if (p->serial && p->serial[0])
        memcpy(blk->serial, p->serial, strlen(p->serial));
    else
        memcpy(blk->serial, "aero-virtio-blk", sizeof("aero-virtio-blk"));
    blk->p.serial = blk->serial;
    blk->backend = backend;
    blk->backend_opaque = backend_opaque;
    blk->capacity_sectors =
        (p->capacity_bytes / p->logical_block_size) * (p->logical_block_size / BLK_SECTOR);
    for (unsigned i = 0; i < AERO_BLK_QUEUE_SIZE; i++)
        blk->req[i].blk = blk;

    struct aero_vdev_params vp = {
        .id = aero_blk_pci_identity,
        .num_queues = 1,
        .queue_max_size = {AERO_BLK_QUEUE_SIZE},
        .device_features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_INDIRECT_DESC) |
                           (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
                           (1ull << VIRTIO_BLK_F_FLUSH),
        .msix_vectors = p->msix_vectors,
        .device_config_len = BLK_CONFIG_LEN,
    };
    if (p->event_idx)
        vp.device_features |= 1ull << VIRTIO_F_RING_EVENT_IDX;
    blk->vdev = aero_vdev_new(&vp, host, host_opaque, &blk_dev_ops, blk);
    if (!blk->vdev) {
        free(blk);
        return aero_refuse(why, "the host lacks a required operation");
    }
    return blk;
}

void aero_blk_free(struct aero_blk *blk)
{
    if (!blk)
        return;
    for (unsigned i = 0; i < AERO_BLK_QUEUE_SIZE; i++)
        free(blk->req[i].bounce);
    aero_vdev_free(blk->vdev);
    free(blk);
}

struct aero_vdev *aero_blk_vdev(struct aero_blk *blk) { return blk->vdev; }
unsigned aero_blk_inflight(const struct aero_blk *blk) { return blk->inflight; }
