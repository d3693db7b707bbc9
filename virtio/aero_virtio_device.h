/* aero-virtio core, the device model's side: what devices/ (blk, net, input, snd) call to build
 * a device on the transport: create it, pop chains, move data, push and publish used elements,
 * report guest errors and configuration changes. See aero_virtio.h.
 */
#ifndef AERO_VIRTIO_DEVICE_H
#define AERO_VIRTIO_DEVICE_H

#if defined(AERO_VIRTIO_HOST_H) && !defined(AERO_VIRTIO_BOTH_SIDES)
#error "a host must not use the device-model API (aero_virtio_device.h)"
#endif

#include "aero_virtio.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- migration state helpers for device models --------------------------------------------- */
/* Little-endian writer into a caller's buffer: counts what it would write past cap (len may
 * exceed cap; the caller then retries with a bigger buffer). */
struct aero_state_writer {
    uint8_t *buf;
    size_t cap, len;
};

static inline void aero_sw_bytes(struct aero_state_writer *w, const void *p, size_t n)
{
    if (w->buf && w->len <= w->cap && n <= w->cap - w->len) {
        for (size_t i = 0; i < n; i++)
            w->buf[w->len + i] = ((const uint8_t *)p)[i];
    }
    w->len += n;
}
static inline void aero_sw_u8(struct aero_state_writer *w, uint8_t v) { aero_sw_bytes(w, &v, 1); }
static inline void aero_sw_u16(struct aero_state_writer *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    aero_sw_bytes(w, b, 2);
}
static inline void aero_sw_u32(struct aero_state_writer *w, uint32_t v)
{
    aero_sw_u16(w, (uint16_t)v);
    aero_sw_u16(w, (uint16_t)(v >> 16));
}
static inline void aero_sw_u64(struct aero_state_writer *w, uint64_t v)
{
    aero_sw_u32(w, (uint32_t)v);
    aero_sw_u32(w, (uint32_t)(v >> 32));
}

/* Bounds-checked little-endian reader: reading past the end yields zeros and sets `short_read`
 * (check it once at the end; never an access outside [p, p+len)). */
struct aero_state_reader {
    const uint8_t *p;
    size_t len, pos;
    bool short_read;
};

static inline bool aero_sr_bytes(struct aero_state_reader *r, void *out, size_t n)
{
    if (r->pos > r->len || n > r->len - r->pos) {
        r->short_read = true;
        for (size_t i = 0; i < n; i++)
            ((uint8_t *)out)[i] = 0;
        return false;
    }
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)out)[i] = r->p[r->pos + i];
    r->pos += n;
    return true;
}
static inline uint8_t aero_sr_u8(struct aero_state_reader *r)
{
    uint8_t v;
    aero_sr_bytes(r, &v, 1);
    return v;
}
static inline uint16_t aero_sr_u16(struct aero_state_reader *r)
{
    uint8_t b[2];
    aero_sr_bytes(r, b, 2);
    return (uint16_t)(b[0] | (b[1] << 8));
}
static inline uint32_t aero_sr_u32(struct aero_state_reader *r)
{
    uint32_t lo = aero_sr_u16(r);
    return lo | ((uint32_t)aero_sr_u16(r) << 16);
}
static inline uint64_t aero_sr_u64(struct aero_state_reader *r)
{
    uint64_t lo = aero_sr_u32(r);
    return lo | ((uint64_t)aero_sr_u32(r) << 32);
}
/* True when the payload was read exactly: nothing missing, nothing left over. */
static inline bool aero_sr_exact(const struct aero_state_reader *r)
{
    return !r->short_read && r->pos == r->len;
}

/* What a device's state_check may rely on: the incoming transport state of each queue. */
struct aero_state_queues {
    uint16_t num_queues;
    bool broken;    /* incoming state has DEVICE_NEEDS_RESET: nothing runs until reset */
    bool driver_ok; /* incoming status has DRIVER_OK */
    struct {
        bool enabled;
        uint16_t size;
        uint16_t inflight; /* chains popped and not yet pushed (last_avail - used_idx) */
    } q[AERO_MAX_QUEUES];
};

/* ---- device model callbacks (implemented by devices/) -------------------------------------- */
struct aero_device_ops {
    /* Device-specific configuration at BAR0+0x3000; off is relative, off+len <= 0x100. */
    void (*config_read)(void *dev, uint32_t off, uint8_t *buf, unsigned len);
    void (*config_write)(void *dev, uint32_t off, const uint8_t *buf, unsigned len);
    /* Queue q has (possibly) new buffers; DRIVER_OK is set and the device is not broken. */
    void (*queue_notify)(void *dev, uint16_t q);
    /* The driver reset the device: drop all state; in-flight work must not touch the rings. */
    void (*reset)(void *dev);

    /* Optional, migration (aero_vdev_save / aero_vdev_load): the device model's own state, one
     * section of the state blob. A device without these has no state beyond the transport.
     * state_save appends the section's payload through w. state_check validates a payload
     * against the device's parameters and the incoming queue state qs, changing nothing, and
     * returns NULL or a one-line reason. state_load applies a payload state_check accepted; it
     * runs after the transport state is in place and must not fail. */
    void (*state_save)(void *dev, struct aero_state_writer *w);
    const char *(*state_check)(void *dev, const uint8_t *payload, size_t len,
                               const struct aero_state_queues *qs);
    void (*state_load)(void *dev, const uint8_t *payload, size_t len);
};

struct aero_vdev_params {
    struct aero_pci_identity id;
    uint16_t num_queues;
    uint16_t queue_max_size[AERO_MAX_QUEUES]; /* power of two, <= AERO_VQ_MAX_SIZE */
    uint64_t device_features;                 /* VERSION_1 etc. included by the caller */
    uint16_t msix_vectors;                    /* 0 = no MSI-X */
    uint32_t device_config_len;               /* bytes of device config, <= 0x100 */
};

/* For a device model's *_new(): report why it refuses (to a caller-supplied `why`, may be NULL)
 * and return NULL. */
static inline void *aero_refuse(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return NULL;
}

/* Create a transport for a device model. Returns NULL if params are invalid (a programming error
 * in the device model) or the host lacks a required operation. */
AERO_API struct aero_vdev *aero_vdev_new(const struct aero_vdev_params *p,
                                         const struct aero_host_ops *host, void *host_opaque,
                                         const struct aero_device_ops *dev_ops, void *dev);
AERO_API void aero_vdev_free(struct aero_vdev *vdev);

/* For devices: run queue_notify(q) again from the next aero_vdev_run_pending() pass. A device
 * stops after a bounded amount of work per pass (CONTRACT §2: no notify can make the device do
 * unbounded work) and calls this to continue later. Returns false when the host has no schedule
 * op; the device then simply goes on (a synchronous host has no concurrent driver). */
AERO_API bool aero_vdev_notify_later(struct aero_vdev *vdev, uint16_t q);

/* Report a fatal guest error: DEVICE_NEEDS_RESET, config interrupt, queues stop until reset. */
AERO_API void aero_vdev_fail(struct aero_vdev *vdev, int queue, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runtime config change (e.g. link status): bump config_generation, raise config interrupt. */
AERO_API void aero_vdev_config_changed(struct aero_vdev *vdev);

AERO_API bool aero_vdev_broken(const struct aero_vdev *vdev);
/* Whether a seeded fault (test only, see aero_vdev_seed_fault) is set on this device. */
bool aero_vdev_faulty(const struct aero_vdev *vdev, enum aero_seeded_fault fault);
AERO_API bool aero_vdev_has_feature(const struct aero_vdev *vdev, unsigned bit);
AERO_API struct aero_vq *aero_vdev_queue(struct aero_vdev *vdev, uint16_t q);
/* Reset generation: bumps on every reset; lets devices recognise stale in-flight work. */
AERO_API uint32_t aero_vdev_generation(const struct aero_vdev *vdev);

/* The one bounds-checked guest-memory accessor: rejects wrapping ranges and ranges the host
 * cannot serve. Returns 0 on success. */
AERO_API int aero_gm_read(struct aero_vdev *vdev, uint64_t gpa, void *buf, uint64_t len);
AERO_API int aero_gm_write(struct aero_vdev *vdev, uint64_t gpa, const void *buf, uint64_t len);

/* ---- virtqueue API ------------------------------------------------------------------------- */
AERO_API bool aero_vq_ready(const struct aero_vq *vq);
AERO_API uint16_t aero_vq_size(const struct aero_vq *vq);

/* Pop the next available chain (direct, chained, indirect; bounded, loop-checked). On
 * AERO_VQ_BROKEN the device has been failed already. */
AERO_API enum aero_vq_pop_result aero_vq_pop(struct aero_vq *vq, struct aero_chain *chain);

/* aero_vq_pop under a per-pass budget (CONTRACT §2: no notify makes the device do unbounded
 * work). Start a pass with *budget = aero_vq_size(vq); once that many chains were popped, the
 * queue's notify is re-run from the host's next pass (aero_vdev_notify_later) and this returns
 * AERO_VQ_DEFERRED without popping: the caller flushes and returns, skipping aero_vq_rearm. A
 * host without a schedule op has no concurrent driver and is never deferred. */
AERO_API enum aero_vq_pop_result aero_vq_pop_budgeted(struct aero_vq *vq, struct aero_chain *chain,
                                                      unsigned *budget);

/* Re-read the chain that starts at head without consuming anything: for requests that were in
 * flight when the state was saved (aero_vdev_load) and are re-submitted on the destination, as
 * QEMU's virtio-blk re-submits its saved requests. AERO_VQ_BROKEN (device failed) when the chain
 * is invalid now. */
AERO_API enum aero_vq_pop_result aero_vq_chain_at(struct aero_vq *vq, uint16_t head,
                                                  struct aero_chain *chain);

/* Undo the last pop (the device could not use the chain now, e.g. RX buffer too small). */
AERO_API void aero_vq_unpop(struct aero_vq *vq);

/* Whether more chains are available without popping. */
AERO_API bool aero_vq_has_avail(struct aero_vq *vq);

/* With EVENT_IDX: publish avail_event = next index to pop and re-check. Returns true when new
 * chains arrived meanwhile (caller should process again). Without EVENT_IDX: returns
 * aero_vq_has_avail(). Call when the caller stops processing a queue. */
AERO_API bool aero_vq_rearm(struct aero_vq *vq);

/* Record one used element (head, bytes written). Not visible to the guest until flush. The ring
 * itself cannot tell a chain popped before a reset from one popped after: a device that
 * completes asynchronously must drop completions of an older aero_vdev_generation() itself. */
AERO_API void aero_vq_push(struct aero_vq *vq, uint16_t head, uint32_t len);

/* Publish every pushed element (one used.idx store) and decide, once for the batch, whether
 * to interrupt (EVENT_IDX used_event, or NO_INTERRUPT). */
AERO_API void aero_vq_flush(struct aero_vq *vq);

/* Publish pushed elements from the next aero_vdev_run_pending() pass instead of now, so that
 * completions arriving one at a time (QEMU: one AIO callback each) share one used.idx store and
 * one interrupt decision. Flushes at once when the host has no schedule op. */
AERO_API void aero_vq_flush_later(struct aero_vq *vq);

/* Copy between a chain's writable (to_guest) or readable (from_guest) buffers, starting `skip`
 * bytes into that direction's buffers. Returns the number of bytes copied, or -1 on a DMA error
 * (the device has been failed then). */
AERO_API int64_t aero_chain_to_guest(struct aero_vq *vq, const struct aero_chain *c, uint64_t skip,
                                     const void *buf, uint64_t len);
AERO_API int64_t aero_chain_from_guest(struct aero_vq *vq, const struct aero_chain *c,
                                       uint64_t skip, void *buf, uint64_t len);

AERO_API void aero_vq_get_stats(const struct aero_vq *vq, struct aero_vq_stats *out);
/* Count a request the device refused for its shape (guest error: status UNSUPP/IOERR/BAD_MSG,
 * dropped TX frame) or one the backend failed (I/O error). aero_vdev_fail counts by itself. */
AERO_API void aero_vq_count_guest_error(struct aero_vq *vq);
AERO_API void aero_vq_count_io_error(struct aero_vq *vq);

#ifdef __cplusplus
}
#endif
#endif
