/* Private structures shared by the transport (transport.c) and the split ring (vring.c).
 * Nothing outside virtio/ includes this file.
 */
#ifndef AERO_VIRTIO_INTERNAL_H
#define AERO_VIRTIO_INTERNAL_H

/* The library implements both sides of its boundary. */
#define AERO_VIRTIO_BOTH_SIDES
#include "aero_virtio_device.h"
#include "aero_virtio_host.h"
#include "aero_le.h"

struct aero_vq {
    struct aero_vdev *vdev;
    uint16_t index;
    uint16_t max_size;
    /* Driver-programmed registers (common_cfg). */
    uint16_t size;
    uint16_t msix_vector;
    bool enabled;
    uint64_t desc, avail, used;
    /* Device-side ring state. */
    uint16_t last_avail;     /* next avail ring slot to pop */
    uint16_t shadow_avail;   /* last avail.idx read from the guest */
    uint16_t used_idx;       /* shadow of used.idx including unflushed pushes */
    uint16_t pushed;         /* elements pushed since the last flush */
    uint16_t signalled_used; /* used.idx at the last interrupt decision */
    bool signalled_valid;
    struct aero_vq_stats stats;
};

struct aero_vdev {
    struct aero_vdev_params p;
    const struct aero_host_ops *host;
    void *host_opaque;
    const struct aero_device_ops *dev_ops;
    void *dev;

    uint32_t device_feature_select;
    uint32_t driver_feature_select;
    uint64_t driver_features;
    uint64_t negotiated;
    uint16_t msix_config;
    uint8_t status;
    uint8_t config_generation;
    uint16_t queue_select;
    uint8_t isr;
    bool broken;
    uint32_t pending;       /* queues whose doorbell awaits aero_vdev_run_pending() */
    uint32_t flush_pending; /* queues whose pushed elements await a deferred flush */
    bool in_dma;            /* a host DMA call is running: BAR0 accesses now are re-entrant */
    uint32_t generation;
    struct aero_vq vq[AERO_MAX_QUEUES];
    char load_error[200]; /* aero_vdev_load's last refusal */
    uint32_t faults;      /* seeded faults (fault.c), test only */
};

void aero_vq_init(struct aero_vq *vq, struct aero_vdev *vdev, uint16_t index, uint16_t max_size);
void aero_vq_reset(struct aero_vq *vq);
/* Validate and enable (queue_enable = 1). Fails the device on bad programming. */
void aero_vq_enable(struct aero_vq *vq);
/* Raise the queue interrupt (ISR bit 0 + INTx, or the queue's MSI-X vector). Returns false when
 * nothing could be delivered (MSI-X on and the queue has no usable vector). */
bool aero_vdev_raise_queue_irq(struct aero_vdev *vdev, struct aero_vq *vq);
/* One atomic 16-bit ring-index access (host load16/store16); gpa must be 2-byte aligned. */
int aero_gm_load16(struct aero_vdev *vdev, uint64_t gpa, uint16_t *val);
int aero_gm_store16(struct aero_vdev *vdev, uint64_t gpa, uint16_t val);
/* Flush queue q from the next aero_vdev_run_pending(); false when the host has no schedule op. */
bool aero_vdev_defer_flush(struct aero_vdev *vdev, uint16_t q);
/* Whether [addr, addr+len) starts and ends in guest RAM the host lets the device read. */
bool aero_vq_probe(struct aero_vdev *vdev, uint64_t addr, uint64_t len);
/* Validate a queue's programmed size and ring addresses as aero_vq_enable does, with event_idx
 * telling the ring sizes; NULL or the reason. */
const char *aero_vq_check_rings(struct aero_vdev *vdev, const struct aero_vq *vq, bool event_idx);

#endif
