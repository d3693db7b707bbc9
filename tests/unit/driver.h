/* Test support: a fake guest-memory arena (placed above 4 GiB) that serves the library's host
 * ops, and a driver-side helper that programs BAR0 and builds rings and descriptor chains the way
 * a virtio driver would, including deliberately hostile ones.
 */
#ifndef AERO_TEST_DRIVER_H
#define AERO_TEST_DRIVER_H

/* Unit tests play both the host (BAR0, run_pending) and, with test devices, the device side. */
#define AERO_VIRTIO_BOTH_SIDES
#include "aero_le.h"
#include "aero_virtio_device.h"
#include "aero_virtio_host.h"

#include <stdbool.h>
#include <stdint.h>

#define GUEST_BASE 0x100000000ull /* 4 GiB: every address the device sees needs 64 bits */
#define GUEST_SIZE (16u << 20)

struct fake_guest {
    uint64_t base, size;
    uint8_t *mem;
    uint64_t next_alloc;
    int intx;
    unsigned intx_asserts; /* 0 -> 1 transitions */
    bool msix_enabled;
    unsigned msix_count[8];
    unsigned dma_rejects; /* accesses refused for being outside the arena */
    unsigned guest_errors;
    unsigned schedules; /* host->schedule calls (deferred doorbells) */
    char last_error[256];
    /* Optional observer of every device write into the arena (ordering tests). */
    void (*on_write)(struct fake_guest *g, uint64_t gpa, size_t len);
    void *user;
    /* Optional: dma_read copies byte by byte, like a memcpy that is not one load, and calls
     * this between the first and second byte of every 2-byte read (the driver's vCPU storing
     * an index in the middle of the copy). Ring indices must never be read this way. */
    void (*mid_copy)(struct fake_guest *g, uint64_t gpa);
    unsigned index_loads, index_stores; /* load16/store16 calls */
    unsigned status_changes;            /* host status_changed calls */
    /* Optional: called after every dma_read from the arena (double-fetch tests: the driver
     * rewrites what the device just copied). */
    void (*after_read)(struct fake_guest *g, uint64_t gpa, size_t len);
    uint8_t status_seen;                /* new_status of the last one */
    /* Optional: guest-physical window that maps a device's BAR0 (re-entrancy tests). */
    struct aero_vdev *bar_vdev;
    uint64_t bar_base;
};

extern const struct aero_host_ops fake_host_ops;
/* Same, with a "process later" schedule op that only counts. */
extern const struct aero_host_ops fake_host_ops_deferred;

void fg_init(struct fake_guest *g);
void fg_init_size(struct fake_guest *g, uint64_t size); /* fuzzing: a smaller arena */
void fg_free(struct fake_guest *g);
uint64_t fg_alloc(struct fake_guest *g, uint64_t len, uint64_t align);
void *fg_ptr(struct fake_guest *g, uint64_t gpa);

struct drv_vq {
    uint16_t size;
    uint64_t desc, avail, used;
    uint16_t avail_idx;
    uint16_t last_used;
    uint16_t next_desc;
};

struct drv {
    struct fake_guest *g;
    struct aero_vdev *vdev;
    struct drv_vq vq[AERO_MAX_QUEUES];
};

struct drv_buf {
    uint64_t addr;
    uint32_t len;
    bool write;
};

uint64_t drv_read(struct drv *d, uint32_t off, unsigned len);
void drv_write(struct drv *d, uint32_t off, uint64_t val, unsigned len);

/* ACKNOWLEDGE | DRIVER, write features, set FEATURES_OK; returns the status read back. */
uint8_t drv_negotiate(struct drv *d, uint64_t features);
uint64_t drv_device_features(struct drv *d);
/* Allocate rings for queue q in the arena, program them and enable the queue. */
void drv_setup_queue(struct drv *d, uint16_t q, uint16_t size);
void drv_driver_ok(struct drv *d);
/* Full bring-up: negotiate all offered features (masked by `mask`), all queues, DRIVER_OK. */
void drv_bring_up(struct drv *d, struct aero_vdev *vdev, struct fake_guest *g, uint64_t mask);

/* Raw descriptor write into queue q's table (hostile tests). */
void drv_set_desc(struct drv *d, uint16_t q, uint16_t i, uint64_t addr, uint32_t len,
                  uint16_t flags, uint16_t next);
/* Write a descriptor chain for bufs using consecutive table slots; returns the head. */
uint16_t drv_add_chain(struct drv *d, uint16_t q, const struct drv_buf *bufs, unsigned n);
/* One INDIRECT descriptor pointing at a table in the arena describing bufs; returns the head. */
uint16_t drv_add_indirect(struct drv *d, uint16_t q, const struct drv_buf *bufs, unsigned n);
/* Put head into the avail ring and publish avail.idx (no kick). */
void drv_publish(struct drv *d, uint16_t q, uint16_t head);
void drv_set_avail_idx(struct drv *d, uint16_t q, uint16_t idx);
void drv_kick(struct drv *d, uint16_t q);
/* Pop one used element; false when none. */
bool drv_get_used(struct drv *d, uint16_t q, uint32_t *id, uint32_t *len);
uint16_t drv_used_idx(struct drv *d, uint16_t q);
void drv_set_used_event(struct drv *d, uint16_t q, uint16_t v);
uint16_t drv_avail_event(struct drv *d, uint16_t q);
void drv_set_avail_flags(struct drv *d, uint16_t q, uint16_t flags);
/* Read (and acknowledge) the ISR byte. */
uint8_t drv_isr(struct drv *d);
bool drv_needs_reset(struct drv *d);

#endif
