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

/* ---- device model callbacks (implemented by devices/) -------------------------------------- */
struct aero_device_ops {
    /* Device-specific configuration at BAR0+0x3000; off is relative, off+len <= 0x100. */
    void (*config_read)(void *dev, uint32_t off, uint8_t *buf, unsigned len);
    void (*config_write)(void *dev, uint32_t off, const uint8_t *buf, unsigned len);
    /* Queue q has (possibly) new buffers; DRIVER_OK is set and the device is not broken. */
    void (*queue_notify)(void *dev, uint16_t q);
    /* The driver reset the device: drop all state; in-flight work must not touch the rings. */
    void (*reset)(void *dev);
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
