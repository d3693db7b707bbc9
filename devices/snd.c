/* aero-virtio-snd (CONTRACT §3.4, virtio 1.2 §5.14): the control queue (PCM_INFO, SET_PARAMS
 * and the PREPARE/START/STOP/RELEASE state machine), held transfer buffers played and recorded
 * at the pace of the host's audio clock, and the event queue whose buffers are kept. Every chain
 * is parsed into a typed request or a status before anything is executed.
 */
#include "aero_snd.h"
#include "aero_virtio_device.h"
#include "aero_le.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SND_CONFIG_LEN 12u   /* jacks, streams, chmaps (le32 each) */
#define CTL_HDR_LEN 4u       /* virtio_snd_hdr {code} / response {status} */
#define PCM_HDR_LEN 8u       /* {code, stream_id} */
#define PCM_INFO_REQ_LEN 16u /* hdr, start_id, count, size */
#define SET_PARAMS_REQ_LEN                                                                         \
    24u                    /* pcm hdr, buffer_bytes, period_bytes, features, ch, fmt, rate, pad */
#define XFER_STATUS_LEN 8u /* {status, latency_bytes} */
#define PCM_INFO_SIZE_MAX 4096u /* item size a driver may ask for (bounded work per request) */

/* Wire-independent status; the encoding adds its base (CONTRACT §3.4: 0, virtio: 0x8000). */
enum snd_status { S_OK = 0, S_BAD_MSG = 1, S_NOT_SUPP = 2, S_IO_ERR = 3 };

/* A transfer buffer held by the device until played, filled or released. */
struct xfer {
    struct aero_chain c;
    uint32_t payload; /* PCM bytes; XFER_RESTORING: restored from a migration state, its chain
                       * not re-read yet (stream_restore) */
    uint32_t done;    /* bytes already played or filled */
};
#define XFER_RESTORING UINT32_MAX

struct stream {
    enum aero_snd_state state;
    struct xfer *fifo;
    unsigned cap, head, count;
    uint64_t queued; /* payload bytes held and not yet played / filled */
    bool restoring;  /* some held buffers are XFER_RESTORING */
    uint16_t queue;
    unsigned frame_bytes, channels;
    uint8_t direction;
};

struct aero_snd {
    struct aero_vdev *vdev;
    struct aero_snd_params p;
    const struct aero_snd_backend_ops *backend;
    void *backend_opaque;
    uint32_t hdr_len;     /* transfer header: 8 (Aero) or 4 (virtio) */
    uint32_t status_base; /* 0 (Aero) or 0x8000 (virtio) */
    struct stream s[AERO_SND_STREAMS];
    struct aero_snd_stats stats;
    struct aero_chain chain;  /* the control message being answered */
    struct aero_chain xchain; /* the transfer chain being taken (RELEASE takes them too) */
};

static const uint8_t zeros[4096];

static uint32_t wire_status(const struct aero_snd *snd, enum snd_status st)
{
    return snd->status_base + (uint32_t)st;
}

/* virtio 1.2 §2.7.4.2 / §5.14.6: device-readable descriptors come first. */
static bool readable_first(const struct aero_chain *c)
{
    bool seen_write = false;
    for (unsigned i = 0; i < c->nsg; i++) {
        if (c->sg[i].write)
            seen_write = true;
        else if (seen_write)
            return false;
    }
    return true;
}

/* ---- configuration ----------------------------------------------------------------------- */

static void snd_config_read(void *opaque, uint32_t off, uint8_t *buf, unsigned len)
{
    uint8_t cfg[SND_CONFIG_LEN] = {0};
    aero_put_le32(cfg + 0, 0);                /* jacks */
    aero_put_le32(cfg + 4, AERO_SND_STREAMS); /* streams */
    aero_put_le32(cfg + 8, 0);                /* chmaps */
    memset(buf, 0, len);
    if (off < SND_CONFIG_LEN)
        memcpy(buf, cfg + off, off + len <= SND_CONFIG_LEN ? len : SND_CONFIG_LEN - off);
}

static void snd_config_write(void *opaque, uint32_t off, const uint8_t *buf, unsigned len)
{
    /* virtio 1.2 §5.14.4: the configuration is read-only. */
}

/* ---- transfer buffers --------------------------------------------------------------------- */

static struct stream *stream_of_queue(struct aero_snd *snd, uint16_t q)
{
    return q == AERO_SND_TXQ ? &snd->s[AERO_SND_PLAYBACK] : &snd->s[AERO_SND_CAPTURE];
}

/* Write {status, latency_bytes} at writable offset `at` and push the used element. */
static bool xfer_complete(struct aero_snd *snd, struct aero_vq *vq, const struct aero_chain *c,
                          uint64_t at, enum snd_status st, uint32_t latency, uint32_t used_len)
{
    uint8_t b[XFER_STATUS_LEN];
    aero_put_le32(b, wire_status(snd, st));
    aero_put_le32(b + 4, latency);
    if (aero_chain_to_guest(vq, c, at, b, sizeof(b)) != (int64_t)sizeof(b))
        return false;
    aero_vq_push(vq, c->head, used_len);
    return true;
}

/* A transfer chain parsed: either held (payload > 0 or not) or answered with a status. */
struct xfer_req {
    enum snd_status status; /* S_OK: hold it */
    uint32_t payload;
    uint64_t status_at; /* writable offset of the 8-byte status */
};

/* virtio 1.2 §5.14.6.8 / CONTRACT §3.4: [header (readable)] [PCM: readable for playback,
 * writable for capture] [status, 8 bytes, writable, last]. Sizes are checked before any
 * arithmetic (QEMU CVE-2024-7730/CVE-2026-3195 came from skipping that). */
static struct xfer_req parse_xfer(const struct aero_snd *snd, const struct stream *st,
                                  struct aero_vq *vq, const struct aero_chain *c)
{
    struct xfer_req r = {.status = S_BAD_MSG};
    uint64_t rd = c->readable_bytes, wr = c->writable_bytes;
    r.status_at = wr - XFER_STATUS_LEN; /* caller guarantees wr >= 8 */
    if (!readable_first(c) || rd < snd->hdr_len)
        return r;
    uint64_t payload;
    if (st->direction == VIRTIO_SND_D_OUTPUT) {
        if (wr != XFER_STATUS_LEN)
            return r;
        payload = rd - snd->hdr_len;
    } else {
        if (rd != snd->hdr_len)
            return r;
        payload = wr - XFER_STATUS_LEN;
    }
    if (payload > AERO_SND_MAX_PAYLOAD || payload % st->frame_bytes)
        return r;
    uint8_t h[4];
    if (aero_chain_from_guest(vq, c, 0, h, sizeof(h)) != (int64_t)sizeof(h)) {
        r.status = S_IO_ERR; /* device failed already; nothing will be written */
        return r;
    }
    if (aero_le32(h) != (uint32_t)(st - snd->s))
        return r; /* the Aero header's reserved word is ignored */
    r.payload = (uint32_t)payload;
    /* CONTRACT §3.4: buffers are only taken by a prepared, not released stream (held until
     * START; Linux queues both directions before START). */
    bool open = st->state == AERO_SND_STATE_PREPARED || st->state == AERO_SND_STATE_RUNNING ||
                st->state == AERO_SND_STATE_STOPPED;
    r.status = open ? S_OK : S_IO_ERR;
    return r;
}

static void xfer_accept(struct aero_snd *snd, struct stream *st, struct aero_vq *vq)
{
    const struct aero_chain *c = &snd->xchain;
    if (c->writable_bytes < XFER_STATUS_LEN) {
        /* No room for a status: return the buffer untouched and count the mistake. */
        aero_vq_count_guest_error(vq);
        snd->stats.xfer_errors++;
        aero_vq_push(vq, c->head, 0);
        return;
    }
    struct xfer_req r = parse_xfer(snd, st, vq, c);
    if (aero_vdev_broken(snd->vdev))
        return;
    if (r.status != S_OK) {
        aero_vq_count_guest_error(vq);
        snd->stats.xfer_errors++;
        xfer_complete(snd, vq, c, r.status_at, r.status, 0, XFER_STATUS_LEN);
        return;
    }
    if (st->count >= st->cap) {
        /* More buffers in flight than the queue has entries: a head was published twice. */
        aero_vdev_fail(snd->vdev, st->queue, "snd queue %u: more buffers in flight than %u",
                       st->queue, st->cap);
        return;
    }
    struct xfer *x = &st->fifo[(st->head + st->count) % st->cap];
    x->c.head = c->head;
    x->c.nsg = c->nsg;
    x->c.readable_bytes = c->readable_bytes;
    x->c.writable_bytes = c->writable_bytes;
    memcpy(x->c.sg, c->sg, c->nsg * sizeof(c->sg[0]));
    x->payload = r.payload;
    x->done = 0;
    st->count++;
    st->queued += r.payload;
}

/* Buffers held when a migration state was saved travel as {head, done}: the destination
 * re-reads each chain from guest memory (the driver has not seen it completed, so it is still
 * the driver's buffer) and parses it again before the stream touches it. A chain that no longer
 * parses as the buffer it was, or whose progress lies past its payload, fails the device. */
static bool stream_restore(struct aero_snd *snd, struct stream *st)
{
    if (!st->restoring)
        return true;
    st->restoring = false;
    struct aero_vq *vq = aero_vdev_queue(snd->vdev, st->queue);
    for (unsigned i = 0; i < st->count; i++) {
        struct xfer *x = &st->fifo[(st->head + i) % st->cap];
        if (x->payload != XFER_RESTORING)
            continue;
        if (aero_vq_chain_at(vq, x->c.head, &snd->xchain) != AERO_VQ_POPPED)
            return false; /* failed already */
        const struct aero_chain *c = &snd->xchain;
        struct xfer_req r = {.status = S_BAD_MSG};
        if (c->writable_bytes >= XFER_STATUS_LEN)
            r = parse_xfer(snd, st, vq, c);
        if (aero_vdev_broken(snd->vdev))
            return false;
        if (r.status != S_OK || x->done > r.payload) {
            aero_vdev_fail(snd->vdev, st->queue,
                           "snd queue %u: restored buffer %u is no longer the buffer it was",
                           st->queue, c->head);
            return false;
        }
        x->c.nsg = c->nsg;
        x->c.readable_bytes = c->readable_bytes;
        x->c.writable_bytes = c->writable_bytes;
        memcpy(x->c.sg, c->sg, c->nsg * sizeof(c->sg[0]));
        x->payload = r.payload;
        st->queued += r.payload - x->done;
    }
    return true;
}

/* Take every available chain of the stream's queue (at most one ring's worth per pass). */
static void xfer_intake(struct aero_snd *snd, struct stream *st)
{
    struct aero_vq *vq = aero_vdev_queue(snd->vdev, st->queue);
    if (!aero_vq_ready(vq) || aero_vdev_broken(snd->vdev) || !stream_restore(snd, st))
        return;
    unsigned budget = aero_vq_size(vq);
    do {
        for (;;) {
            enum aero_vq_pop_result r = aero_vq_pop_budgeted(vq, &snd->xchain, &budget);
            if (r == AERO_VQ_DEFERRED)
                goto out;
            if (r != AERO_VQ_POPPED)
                break;
            xfer_accept(snd, st, vq);
            if (aero_vdev_broken(snd->vdev))
                return;
        }
    } while (aero_vq_rearm(vq));
out:
    aero_vq_flush(vq);
}

/* Complete the head buffer of the stream OK and drop it. Capture buffers report the payload
 * plus the status (Linux advances its pointer by used.len - 8). */
static bool xfer_finish_head(struct aero_snd *snd, struct stream *st, struct aero_vq *vq)
{
    struct xfer *x = &st->fifo[st->head];
    bool out = st->direction == VIRTIO_SND_D_OUTPUT;
    uint64_t at = out ? 0 : x->payload;
    uint32_t used = out ? XFER_STATUS_LEN : x->payload + XFER_STATUS_LEN;
    uint32_t latency = st->queued > UINT32_MAX ? UINT32_MAX : (uint32_t)st->queued;
    st->head = (st->head + 1) % st->cap;
    st->count--;
    if (!xfer_complete(snd, vq, &x->c, at, S_OK, latency, used))
        return false;
    if (out) {
        snd->stats.tx_buffers++;
        snd->stats.tx_bytes += x->payload;
    } else {
        snd->stats.rx_buffers++;
        snd->stats.rx_bytes += x->payload;
    }
    return true;
}

/* virtio 1.2 §5.14.6.6.5.1: RELEASE completes every pending buffer first (capture buffers
 * padded with silence), published before the RELEASE reply. Also used when held buffers lose
 * their stream (SET_PARAMS from PREPARED). */
static void xfer_flush_all(struct aero_snd *snd, struct stream *st)
{
    struct aero_vq *vq = aero_vdev_queue(snd->vdev, st->queue);
    xfer_intake(snd, st);
    if (!stream_restore(snd, st))
        return;
    while (st->count && !aero_vdev_broken(snd->vdev)) {
        struct xfer *x = &st->fifo[st->head];
        if (st->direction == VIRTIO_SND_D_INPUT) {
            while (x->done < x->payload) {
                uint32_t n = x->payload - x->done;
                if (n > sizeof(zeros))
                    n = sizeof(zeros);
                if (aero_chain_to_guest(vq, &x->c, x->done, zeros, n) != n)
                    return;
                x->done += n;
            }
        }
        st->queued -= x->payload - x->done;
        x->done = x->payload;
        if (!xfer_finish_head(snd, st, vq))
            return;
    }
    aero_vq_flush(vq);
}

static void set_running(struct aero_snd *snd, unsigned stream, bool on)
{
    if (snd->backend && snd->backend->running)
        snd->backend->running(snd->backend_opaque, stream, on);
}

size_t aero_snd_playback_pull(struct aero_snd *snd, void *buf, size_t len)
{
    struct stream *st = &snd->s[AERO_SND_PLAYBACK];
    if (st->state != AERO_SND_STATE_RUNNING || aero_vdev_broken(snd->vdev) ||
        !stream_restore(snd, st))
        return 0;
    struct aero_vq *vq = aero_vdev_queue(snd->vdev, st->queue);
    uint8_t *out = buf;
    size_t n = 0;
    bool completed = false;
    while (st->count && !aero_vdev_broken(snd->vdev)) {
        struct xfer *x = &st->fifo[st->head];
        uint32_t take = x->payload - x->done;
        if (take > len - n)
            take = (uint32_t)(len - n);
        if (take) {
            if (aero_chain_from_guest(vq, &x->c, snd->hdr_len + x->done, out + n, take) != take)
                break; /* device failed: the rest is silence */
            x->done += take;
            n += take;
            st->queued -= take;
        }
        if (x->done < x->payload)
            break; /* len is used up */
        completed = xfer_finish_head(snd, st, vq) || completed;
    }
    if (n < len) {
        /* CONTRACT §3.4: an underrun plays silence. */
        memset(out + n, 0, len - n);
        snd->stats.underrun_bytes += len - n;
    }
    if (completed)
        aero_vq_flush(vq);
    return len;
}

size_t aero_snd_capture_push(struct aero_snd *snd, const void *buf, size_t len)
{
    struct stream *st = &snd->s[AERO_SND_CAPTURE];
    if (st->state != AERO_SND_STATE_RUNNING || aero_vdev_broken(snd->vdev) ||
        !stream_restore(snd, st))
        return 0;
    struct aero_vq *vq = aero_vdev_queue(snd->vdev, st->queue);
    const uint8_t *in = buf;
    size_t n = 0;
    bool completed = false;
    while (st->count && !aero_vdev_broken(snd->vdev)) {
        struct xfer *x = &st->fifo[st->head];
        uint32_t take = x->payload - x->done;
        if (take > len - n)
            take = (uint32_t)(len - n);
        if (take) {
            if (aero_chain_to_guest(vq, &x->c, x->done, in + n, take) != take)
                break;
            x->done += take;
            n += take;
            st->queued -= take;
        }
        if (x->done < x->payload)
            break;
        completed = xfer_finish_head(snd, st, vq) || completed;
    }
    if (n < len)
        snd->stats.overrun_bytes += len - n;
    if (completed)
        aero_vq_flush(vq);
    return len;
}

/* ---- control queue ------------------------------------------------------------------------ */

static bool pcm_info_item(const struct aero_snd *snd, unsigned stream, uint8_t *item)
{
    const struct stream *st = &snd->s[stream];
    memset(item, 0, AERO_SND_PCM_INFO_SIZE);
    aero_put_le32(item + 0, 0);                                  /* hda_fn_nid */
    aero_put_le32(item + 4, 0);                                  /* features */
    aero_put_le64(item + 8, 1ull << VIRTIO_SND_PCM_FMT_S16);     /* formats */
    aero_put_le64(item + 16, 1ull << VIRTIO_SND_PCM_RATE_48000); /* rates */
    item[24] = st->direction;
    item[25] = (uint8_t)st->channels; /* channels_min */
    item[26] = (uint8_t)st->channels; /* channels_max */
    return true;
}

/* PCM_INFO: items for [start_id, start_id + count) after the 4-byte status. */
static enum snd_status ctl_pcm_info(struct aero_snd *snd, struct aero_vq *vq, const uint8_t *req,
                                    uint64_t rd, uint32_t *used)
{
    if (rd < PCM_INFO_REQ_LEN)
        return S_BAD_MSG;
    uint32_t start = aero_le32(req + 4), count = aero_le32(req + 8), size = aero_le32(req + 12);
    /* Overflow-safe start_id + count <= streams (QEMU CVE-2026-3196). */
    if (start > AERO_SND_STREAMS || count > AERO_SND_STREAMS - start)
        return S_BAD_MSG;
    if (size < AERO_SND_PCM_INFO_SIZE || size > PCM_INFO_SIZE_MAX)
        return S_BAD_MSG;
    uint64_t need = CTL_HDR_LEN + (uint64_t)count * size; /* <= 4 + 2 * 4096 */
    if (snd->chain.writable_bytes < need)
        return S_BAD_MSG;
    uint8_t item[PCM_INFO_SIZE_MAX];
    for (uint32_t i = 0; i < count; i++) {
        memset(item, 0, size);
        pcm_info_item(snd, start + i, item);
        if (aero_chain_to_guest(vq, &snd->chain, CTL_HDR_LEN + (uint64_t)i * size, item, size) !=
            size)
            return S_IO_ERR;
    }
    *used = (uint32_t)need;
    return S_OK;
}

/* virtio 1.2 §5.14.6.6.1: which state a command may leave. These are exactly the transitions
 * Linux's virtio_snd sends (hw_params, prepare, trigger start/stop/pause, sync_stop ->
 * RELEASE, xrun recovery RELEASE -> PREPARE -> START); anything else is BAD_MSG. */
static bool transition_allowed(uint32_t code, enum aero_snd_state from)
{
    switch (code) {
    case VIRTIO_SND_R_PCM_SET_PARAMS:
        return from == AERO_SND_STATE_NONE || from == AERO_SND_STATE_PARAMS ||
               from == AERO_SND_STATE_PREPARED || from == AERO_SND_STATE_RELEASED;
    case VIRTIO_SND_R_PCM_PREPARE:
        return from == AERO_SND_STATE_PARAMS || from == AERO_SND_STATE_PREPARED ||
               from == AERO_SND_STATE_RELEASED;
    case VIRTIO_SND_R_PCM_START:
        return from == AERO_SND_STATE_PREPARED || from == AERO_SND_STATE_STOPPED;
    case VIRTIO_SND_R_PCM_STOP:
        return from == AERO_SND_STATE_RUNNING;
    case VIRTIO_SND_R_PCM_RELEASE:
        return from == AERO_SND_STATE_PREPARED || from == AERO_SND_STATE_STOPPED;
    default:
        return false;
    }
}

/* SET_PARAMS: CONTRACT §3.4 accepts only the stream's fixed format. */
static enum snd_status check_set_params(const struct stream *st, const uint8_t *req)
{
    uint32_t buffer_bytes = aero_le32(req + 8), period_bytes = aero_le32(req + 12);
    uint32_t features = aero_le32(req + 16);
    uint8_t channels = req[20], format = req[21], rate = req[22];
    if (period_bytes == 0 || buffer_bytes < period_bytes || period_bytes % st->frame_bytes ||
        buffer_bytes % st->frame_bytes)
        return S_BAD_MSG;
    /* Values are compared, never used as shift counts (QEMU's assertion on format >= 64). */
    if (features || channels != st->channels || format != VIRTIO_SND_PCM_FMT_S16 ||
        rate != VIRTIO_SND_PCM_RATE_48000)
        return S_NOT_SUPP;
    return S_OK;
}

static enum snd_status ctl_pcm(struct aero_snd *snd, uint32_t code, const uint8_t *req, uint64_t rd)
{
    if (rd < PCM_HDR_LEN)
        return S_BAD_MSG;
    uint32_t id = aero_le32(req + 4);
    if (id >= AERO_SND_STREAMS)
        return S_BAD_MSG;
    struct stream *st = &snd->s[id];
    if (!transition_allowed(code, st->state))
        return S_BAD_MSG;
    switch (code) {
    case VIRTIO_SND_R_PCM_SET_PARAMS: {
        if (rd < SET_PARAMS_REQ_LEN)
            return S_BAD_MSG;
        enum snd_status s = check_set_params(st, req);
        if (s != S_OK)
            return s;
        if (st->state == AERO_SND_STATE_PREPARED)
            xfer_flush_all(snd, st); /* held buffers cannot outlive the prepared stream */
        st->state = AERO_SND_STATE_PARAMS;
        return S_OK;
    }
    case VIRTIO_SND_R_PCM_PREPARE:
        st->state = AERO_SND_STATE_PREPARED;
        return S_OK;
    case VIRTIO_SND_R_PCM_START:
        st->state = AERO_SND_STATE_RUNNING;
        set_running(snd, id, true);
        return S_OK;
    case VIRTIO_SND_R_PCM_STOP:
        st->state = AERO_SND_STATE_STOPPED;
        set_running(snd, id, false);
        return S_OK;
    case VIRTIO_SND_R_PCM_RELEASE:
        xfer_flush_all(snd, st);
        st->state = AERO_SND_STATE_RELEASED;
        return S_OK;
    default:
        return S_NOT_SUPP;
    }
}

/* One control message: request (readable), 4-byte status (writable), then for PCM_INFO the
 * items (writable). Returns used.len. */
static uint32_t ctl_one(struct aero_snd *snd, struct aero_vq *vq)
{
    const struct aero_chain *c = &snd->chain;
    snd->stats.ctl_requests++;
    if (c->writable_bytes < CTL_HDR_LEN) {
        aero_vq_count_guest_error(vq); /* nowhere to answer */
        snd->stats.ctl_errors++;
        return 0;
    }
    uint8_t req[SET_PARAMS_REQ_LEN] = {0};
    uint64_t rd = c->readable_bytes;
    uint32_t used = CTL_HDR_LEN;
    enum snd_status s;
    if (!readable_first(c) || rd < CTL_HDR_LEN) {
        s = S_BAD_MSG;
    } else if (aero_chain_from_guest(vq, c, 0, req, rd < sizeof(req) ? rd : sizeof(req)) < 0) {
        return 0; /* device failed */
    } else {
        uint32_t code = aero_le32(req);
        switch (code) {
        case VIRTIO_SND_R_PCM_INFO:
            s = ctl_pcm_info(snd, vq, req, rd, &used);
            break;
        case VIRTIO_SND_R_PCM_SET_PARAMS:
        case VIRTIO_SND_R_PCM_PREPARE:
        case VIRTIO_SND_R_PCM_RELEASE:
        case VIRTIO_SND_R_PCM_START:
        case VIRTIO_SND_R_PCM_STOP:
            s = ctl_pcm(snd, code, req, rd);
            break;
        default: /* jacks, chmaps (none exist), anything else: CONTRACT §3.4 */
            s = S_NOT_SUPP;
            break;
        }
    }
    if (aero_vdev_broken(snd->vdev))
        return 0;
    if (s != S_OK) {
        used = CTL_HDR_LEN;
        snd->stats.ctl_errors++;
        if (s == S_BAD_MSG)
            aero_vq_count_guest_error(vq);
    }
    uint8_t b[CTL_HDR_LEN];
    aero_put_le32(b, wire_status(snd, s));
    if (aero_chain_to_guest(vq, c, 0, b, sizeof(b)) != (int64_t)sizeof(b))
        return 0;
    return used;
}

static void process_control(struct aero_snd *snd)
{
    struct aero_vq *vq = aero_vdev_queue(snd->vdev, AERO_SND_CONTROLQ);
    unsigned budget = aero_vq_size(vq);
    do {
        for (;;) {
            enum aero_vq_pop_result r = aero_vq_pop_budgeted(vq, &snd->chain, &budget);
            if (r == AERO_VQ_DEFERRED)
                goto out;
            if (r != AERO_VQ_POPPED)
                break;
            uint32_t used = ctl_one(snd, vq);
            if (aero_vdev_broken(snd->vdev))
                return;
            aero_vq_push(vq, snd->chain.head, used);
        }
    } while (aero_vq_rearm(vq));
out:
    aero_vq_flush(vq);
}

static void snd_queue_notify(void *opaque, uint16_t q)
{
    struct aero_snd *snd = opaque;
    switch (q) {
    case AERO_SND_CONTROLQ:
        process_control(snd);
        break;
    case AERO_SND_TXQ:
    case AERO_SND_RXQ:
        xfer_intake(snd, stream_of_queue(snd, q));
        break;
    default:
        /* CONTRACT §3.4 eventq: buffers are kept; no event is ever generated. */
        break;
    }
}

static void snd_reset(void *opaque)
{
    struct aero_snd *snd = opaque;
    for (unsigned i = 0; i < AERO_SND_STREAMS; i++) {
        struct stream *st = &snd->s[i];
        if (st->state == AERO_SND_STATE_RUNNING)
            set_running(snd, i, false);
        st->state = AERO_SND_STATE_NONE;
        st->head = st->count = 0;
        st->queued = 0;
        st->restoring = false;
    }
}

/* ---- migration state ------------------------------------------------------------------------
 * Section payload (version 1): u8 protocol (the wire encoding: both ends must speak the one the
 * driver negotiated with), then per stream (playback, then capture): u8 state, u16 count, then
 * count x {u16 head, u32 done}: the held buffers in order with the bytes already played or
 * filled. Like blk's in-flight requests only their identity travels; the destination re-reads
 * each chain (stream_restore). Bytes the host's audio layer had taken but not yet played are
 * not part of the device state (a few milliseconds of sound at the switch-over). */

static void snd_state_save(void *opaque, struct aero_state_writer *w)
{
    struct aero_snd *snd = opaque;
    bool broken = aero_vdev_broken(snd->vdev);
    aero_sw_u8(w, (uint8_t)snd->p.protocol);
    for (unsigned i = 0; i < AERO_SND_STREAMS; i++) {
        const struct stream *st = &snd->s[i];
        unsigned n = broken ? 0 : st->count;
        aero_sw_u8(w, (uint8_t)st->state);
        aero_sw_u16(w, (uint16_t)n);
        for (unsigned k = 0; k < n; k++) {
            const struct xfer *x = &st->fifo[(st->head + k) % st->cap];
            aero_sw_u16(w, x->c.head);
            aero_sw_u32(w, x->done);
        }
    }
}

static const char *snd_state_check(void *opaque, const uint8_t *p, size_t len,
                                   const struct aero_state_queues *qs)
{
    static char why[128];
    struct aero_snd *snd = opaque;
    struct aero_state_reader r = {.p = p, .len = len};
    if (!qs->broken && (qs->q[AERO_SND_CONTROLQ].inflight || qs->q[AERO_SND_EVENTQ].inflight))
        return "snd: control or event buffers in flight (the device never holds them)";
    uint8_t protocol = aero_sr_u8(&r);
    if (!r.short_read && protocol != (uint8_t)snd->p.protocol)
        return "snd: protocol differs (the state's driver speaks the other wire encoding)";
    for (unsigned i = 0; i < AERO_SND_STREAMS; i++) {
        const struct stream *st = &snd->s[i];
        uint8_t state = aero_sr_u8(&r);
        uint16_t n = aero_sr_u16(&r);
        if (r.short_read)
            return "snd: section shorter than its stream records";
        if (state > AERO_SND_STATE_RELEASED) {
            snprintf(why, sizeof(why), "snd: stream %u in unknown state %u", i, state);
            return why;
        }
        bool open = state == AERO_SND_STATE_PREPARED || state == AERO_SND_STATE_RUNNING ||
                    state == AERO_SND_STATE_STOPPED;
        uint16_t expect = qs->broken || !qs->q[st->queue].enabled ? 0 : qs->q[st->queue].inflight;
        if (n != expect || n > st->cap || (n && !open)) {
            snprintf(why, sizeof(why),
                     "snd: stream %u (state %u) holds %u buffers, its queue has %u in flight", i,
                     state, n, expect);
            return why;
        }
        uint8_t seen[AERO_SND_TXQ_SIZE > AERO_SND_RXQ_SIZE ? AERO_SND_TXQ_SIZE : AERO_SND_RXQ_SIZE];
        memset(seen, 0, sizeof(seen));
        for (uint16_t k = 0; k < n; k++) {
            uint16_t head = aero_sr_u16(&r);
            uint32_t done = aero_sr_u32(&r);
            if (r.short_read)
                return "snd: section shorter than its buffer records";
            if (head >= qs->q[st->queue].size || head >= st->cap || seen[head]++) {
                snprintf(why, sizeof(why), "snd: stream %u buffer head %u out of range or twice",
                         i, head);
                return why;
            }
            if (done > AERO_SND_MAX_PAYLOAD || done % st->frame_bytes) {
                snprintf(why, sizeof(why), "snd: stream %u buffer %u progress %u is not a frame "
                         "count within a payload", i, head, done);
                return why;
            }
        }
    }
    if (!aero_sr_exact(&r))
        return "snd: section longer than its records";
    return NULL;
}

static void snd_state_load(void *opaque, const uint8_t *p, size_t len)
{
    struct aero_snd *snd = opaque;
    struct aero_state_reader r = {.p = p, .len = len};
    (void)aero_sr_u8(&r); /* protocol: state_check compared it */
    for (unsigned i = 0; i < AERO_SND_STREAMS; i++) {
        struct stream *st = &snd->s[i];
        bool was_running = st->state == AERO_SND_STATE_RUNNING;
        st->state = (enum aero_snd_state)aero_sr_u8(&r);
        st->head = 0;
        st->count = aero_sr_u16(&r);
        st->queued = 0;
        st->restoring = st->count > 0;
        for (unsigned k = 0; k < st->count; k++) {
            struct xfer *x = &st->fifo[k];
            x->c.head = aero_sr_u16(&r);
            x->c.nsg = 0;
            x->done = aero_sr_u32(&r);
            x->payload = XFER_RESTORING;
        }
        bool running = st->state == AERO_SND_STATE_RUNNING;
        if (running != was_running)
            set_running(snd, i, running);
    }
}

static const struct aero_device_ops snd_dev_ops = {
    .config_read = snd_config_read,
    .config_write = snd_config_write,
    .queue_notify = snd_queue_notify,
    .reset = snd_reset,
    .state_save = snd_state_save,
    .state_check = snd_state_check,
    .state_load = snd_state_load,
};

/* ---- public ------------------------------------------------------------------------------- */

const struct aero_pci_identity aero_snd_pci_identity = {
    .vendor_id = AERO_PCI_VENDOR,
    .device_id = 0x1040 + VIRTIO_ID_SOUND,
    .subsystem_vendor_id = AERO_PCI_VENDOR,
    .subsystem_id = 0x0019,
    .revision = AERO_PCI_REVISION,
    .class_code = 0x040100, /* multimedia audio */
    .header_type = 0x00,
    .interrupt_pin = 1,
};

const char *aero_snd_parse_protocol(const char *name, enum aero_snd_protocol *out)
{
    if (!name || !*name || !strcmp(name, "aero")) {
        *out = AERO_SND_PROTOCOL_AERO;
        return NULL;
    }
    if (!strcmp(name, "virtio")) {
        *out = AERO_SND_PROTOCOL_VIRTIO;
        return NULL;
    }
    return "protocol must be aero (contract encoding) or virtio (virtio 1.2 encoding)";
}

const char *aero_snd_check_params(const struct aero_snd_params *p)
{
    if (p->protocol != AERO_SND_PROTOCOL_AERO && p->protocol != AERO_SND_PROTOCOL_VIRTIO)
        return "protocol must be aero (contract encoding) or virtio (virtio 1.2 encoding)";
    if (p->msix_vectors != 0 && p->msix_vectors != AERO_SND_MSIX_VECTORS)
        return "vectors must be 0 (INTx only) or 5 (config + 4 queues)";
    return NULL;
}

static struct aero_snd *refuse(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return NULL;
}

void aero_snd_free(struct aero_snd *snd)
{
    if (!snd)
        return;
    aero_vdev_free(snd->vdev);
    for (unsigned i = 0; i < AERO_SND_STREAMS; i++)
        free(snd->s[i].fifo);
    free(snd);
}

static void stream_init(struct stream *st, uint16_t queue, unsigned cap, uint8_t dir,
                        unsigned channels)
{
    st->queue = queue;
    st->cap = cap;
    st->direction = dir;
    st->channels = channels;
    st->frame_bytes = 2 * channels; /* S16 */
    st->state = AERO_SND_STATE_NONE;
}

struct aero_snd *aero_snd_new(const struct aero_snd_params *p, const struct aero_host_ops *host,
                              void *host_opaque, const struct aero_snd_backend_ops *backend,
                              void *backend_opaque, const char **why)
{
    if (!p)
        return refuse(why, "no parameters");
    const char *bad = aero_snd_check_params(p);
    if (bad)
        return refuse(why, bad);
    struct aero_snd *snd = calloc(1, sizeof(*snd));
    if (!snd)
        return refuse(why, "out of memory");
    snd->p = *p;
    snd->backend = backend;
    snd->backend_opaque = backend_opaque;
    bool aero = p->protocol == AERO_SND_PROTOCOL_AERO;
    snd->hdr_len = aero ? 8 : 4;
    snd->status_base = aero ? 0 : VIRTIO_SND_S_OK;
    stream_init(&snd->s[AERO_SND_PLAYBACK], AERO_SND_TXQ, AERO_SND_TXQ_SIZE, VIRTIO_SND_D_OUTPUT,
                AERO_SND_PLAYBACK_CHANNELS);
    stream_init(&snd->s[AERO_SND_CAPTURE], AERO_SND_RXQ, AERO_SND_RXQ_SIZE, VIRTIO_SND_D_INPUT,
                AERO_SND_CAPTURE_CHANNELS);
    for (unsigned i = 0; i < AERO_SND_STREAMS; i++) {
        snd->s[i].fifo = calloc(snd->s[i].cap, sizeof(struct xfer));
        if (!snd->s[i].fifo) {
            aero_snd_free(snd);
            return refuse(why, "out of memory");
        }
    }
    struct aero_vdev_params vp = {
        .id = aero_snd_pci_identity,
        .num_queues = 4,
        .queue_max_size = {AERO_SND_CONTROLQ_SIZE, AERO_SND_EVENTQ_SIZE, AERO_SND_TXQ_SIZE,
                           AERO_SND_RXQ_SIZE},
        .device_features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_INDIRECT_DESC),
        .msix_vectors = p->msix_vectors,
        .device_config_len = SND_CONFIG_LEN,
    };
    if (p->event_idx)
        vp.device_features |= 1ull << VIRTIO_F_RING_EVENT_IDX;
    snd->vdev = aero_vdev_new(&vp, host, host_opaque, &snd_dev_ops, snd);
    if (!snd->vdev) {
        aero_snd_free(snd);
        return refuse(why, "the host lacks a required operation");
    }
    return snd;
}

struct aero_vdev *aero_snd_vdev(struct aero_snd *snd) { return snd->vdev; }

enum aero_snd_state aero_snd_stream_state(const struct aero_snd *snd, unsigned stream)
{
    return stream < AERO_SND_STREAMS ? snd->s[stream].state : AERO_SND_STATE_NONE;
}

uint64_t aero_snd_queued_bytes(const struct aero_snd *snd, unsigned stream)
{
    return stream < AERO_SND_STREAMS ? snd->s[stream].queued : 0;
}

void aero_snd_get_stats(const struct aero_snd *snd, struct aero_snd_stats *out)
{
    *out = snd->stats;
}
