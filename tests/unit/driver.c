/* Fake guest arena and driver-side helper for the unit tests (see driver.h). */
#include "driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool in_arena(struct fake_guest *g, uint64_t gpa, size_t len)
{
    return gpa >= g->base && len <= g->size && gpa - g->base <= g->size - len;
}

static bool in_bar(struct fake_guest *g, uint64_t gpa, size_t len)
{
    return g->bar_vdev && gpa >= g->bar_base && len <= 8 && gpa + len <= g->bar_base + 0x4000;
}

static int fg_dma_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    struct fake_guest *g = opaque;
    if (in_bar(g, gpa, len)) {
        uint64_t v = aero_vdev_bar0_read(g->bar_vdev, (uint32_t)(gpa - g->bar_base), (unsigned)len);
        memcpy(buf, &v, len);
        return 0;
    }
    if (!in_arena(g, gpa, len)) {
        g->dma_rejects++;
        return -1;
    }
    if (g->mid_copy && len == 2) {
        uint8_t *b = buf;
        b[0] = g->mem[gpa - g->base];
        g->mid_copy(g, gpa);
        b[1] = g->mem[gpa - g->base + 1];
        return 0;
    }
    memcpy(buf, g->mem + (gpa - g->base), len);
    if (g->after_read)
        g->after_read(g, gpa, len);
    return 0;
}

/* Ring indices: one atomic 16-bit access, as the host contract requires. */
static int fg_load16(void *opaque, uint64_t gpa, uint16_t *val)
{
    struct fake_guest *g = opaque;
    if (in_bar(g, gpa, 2)) {
        *val = (uint16_t)aero_vdev_bar0_read(g->bar_vdev, (uint32_t)(gpa - g->bar_base), 2);
        return 0;
    }
    if (!in_arena(g, gpa, 2) || (gpa & 1)) {
        g->dma_rejects++;
        return -1;
    }
    uint16_t v = __atomic_load_n((uint16_t *)(void *)(g->mem + (gpa - g->base)), __ATOMIC_RELAXED);
    *val = aero_le16((const uint8_t *)&v);
    g->index_loads++;
    return 0;
}

static int fg_store16(void *opaque, uint64_t gpa, uint16_t val)
{
    struct fake_guest *g = opaque;
    if (in_bar(g, gpa, 2)) {
        aero_vdev_bar0_write(g->bar_vdev, (uint32_t)(gpa - g->bar_base), val, 2);
        return 0;
    }
    if (!in_arena(g, gpa, 2) || (gpa & 1)) {
        g->dma_rejects++;
        return -1;
    }
    uint16_t v;
    aero_put_le16((uint8_t *)&v, val);
    __atomic_store_n((uint16_t *)(void *)(g->mem + (gpa - g->base)), v, __ATOMIC_RELAXED);
    g->index_stores++;
    if (g->on_write)
        g->on_write(g, gpa, 2);
    return 0;
}

static int fg_dma_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
    struct fake_guest *g = opaque;
    if (in_bar(g, gpa, len)) {
        uint64_t v = 0;
        memcpy(&v, buf, len);
        aero_vdev_bar0_write(g->bar_vdev, (uint32_t)(gpa - g->bar_base), v, (unsigned)len);
        return 0;
    }
    if (!in_arena(g, gpa, len)) {
        g->dma_rejects++;
        return -1;
    }
    memcpy(g->mem + (gpa - g->base), buf, len);
    if (g->on_write)
        g->on_write(g, gpa, len);
    return 0;
}

static void fg_set_intx(void *opaque, int level)
{
    struct fake_guest *g = opaque;
    if (level && !g->intx)
        g->intx_asserts++;
    g->intx = level;
}

static bool fg_msix_enabled(void *opaque) { return ((struct fake_guest *)opaque)->msix_enabled; }

static void fg_msix_notify(void *opaque, uint16_t vector)
{
    struct fake_guest *g = opaque;
    if (vector < 8)
        g->msix_count[vector]++;
}

static void fg_status_changed(void *opaque, uint8_t old_status, uint8_t new_status)
{
    struct fake_guest *g = opaque;
    if (old_status == new_status)
        g->status_seen = 0xee; /* never reported as a change: a test will see the bogus value */
    else
        g->status_seen = new_status;
    g->status_changes++;
}

static void fg_log(void *opaque, const char *msg)
{
    struct fake_guest *g = opaque;
    g->guest_errors++;
    snprintf(g->last_error, sizeof(g->last_error), "%s", msg);
}

/* The synchronous host (doorbells processed at once) and the deferred one differ only in
 * schedule. */
#define FAKE_HOST_OPS                                                                              \
    .dma_read = fg_dma_read, .dma_write = fg_dma_write, .load16 = fg_load16,                       \
    .store16 = fg_store16, .set_intx = fg_set_intx, .msix_enabled = fg_msix_enabled,               \
    .msix_notify = fg_msix_notify, .status_changed = fg_status_changed, .log_guest_error = fg_log

const struct aero_host_ops fake_host_ops = {FAKE_HOST_OPS};

static void fg_schedule(void *opaque) { ((struct fake_guest *)opaque)->schedules++; }

const struct aero_host_ops fake_host_ops_deferred = {FAKE_HOST_OPS, .schedule = fg_schedule};

void fg_init_size(struct fake_guest *g, uint64_t size)
{
    memset(g, 0, sizeof(*g));
    g->base = GUEST_BASE;
    g->size = size;
    g->mem = calloc(1, size);
    g->next_alloc = g->base + 0x1000;
}

void fg_init(struct fake_guest *g) { fg_init_size(g, GUEST_SIZE); }

void fg_free(struct fake_guest *g) { free(g->mem); }

uint64_t fg_alloc(struct fake_guest *g, uint64_t len, uint64_t align)
{
    uint64_t a = (g->next_alloc + align - 1) & ~(align - 1);
    if (a + len > g->base + g->size) {
        fprintf(stderr, "fake guest arena exhausted\n");
        abort();
    }
    g->next_alloc = a + len;
    return a;
}

void *fg_ptr(struct fake_guest *g, uint64_t gpa) { return g->mem + (gpa - g->base); }

uint64_t drv_read(struct drv *d, uint32_t off, unsigned len)
{
    return aero_vdev_bar0_read(d->vdev, off, len);
}

void drv_write(struct drv *d, uint32_t off, uint64_t val, unsigned len)
{
    aero_vdev_bar0_write(d->vdev, off, val, len);
}

uint64_t drv_device_features(struct drv *d)
{
    drv_write(d, 0x00, 0, 4);
    uint64_t lo = drv_read(d, 0x04, 4);
    drv_write(d, 0x00, 1, 4);
    uint64_t hi = drv_read(d, 0x04, 4);
    return lo | (hi << 32);
}

uint8_t drv_negotiate(struct drv *d, uint64_t features)
{
    drv_write(d, 0x14, 0, 1);
    drv_write(d, 0x14, VIRTIO_CONFIG_S_ACKNOWLEDGE, 1);
    drv_write(d, 0x14, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, 1);
    drv_write(d, 0x08, 0, 4);
    drv_write(d, 0x0c, (uint32_t)features, 4);
    drv_write(d, 0x08, 1, 4);
    drv_write(d, 0x0c, (uint32_t)(features >> 32), 4);
    drv_write(d, 0x14,
              VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK, 1);
    return (uint8_t)drv_read(d, 0x14, 1);
}

void drv_setup_queue(struct drv *d, uint16_t q, uint16_t size)
{
    struct drv_vq *v = &d->vq[q];
    memset(v, 0, sizeof(*v));
    v->size = size;
    v->desc = fg_alloc(d->g, 16ull * size, 16);
    v->avail = fg_alloc(d->g, 6 + 2ull * size, 2);
    v->used = fg_alloc(d->g, 6 + 8ull * size, 4);
    drv_write(d, 0x16, q, 2);
    drv_write(d, 0x18, size, 2);
    /* 64-bit fields as two 32-bit halves, like Linux's vp_iowrite64_twopart. */
    drv_write(d, 0x20, (uint32_t)v->desc, 4);
    drv_write(d, 0x24, (uint32_t)(v->desc >> 32), 4);
    drv_write(d, 0x28, (uint32_t)v->avail, 4);
    drv_write(d, 0x2c, (uint32_t)(v->avail >> 32), 4);
    drv_write(d, 0x30, v->used, 8);
    drv_write(d, 0x1c, 1, 2);
}

void drv_driver_ok(struct drv *d)
{
    uint8_t s = (uint8_t)drv_read(d, 0x14, 1);
    drv_write(d, 0x14, s | VIRTIO_CONFIG_S_DRIVER_OK, 1);
}

void drv_bring_up(struct drv *d, struct aero_vdev *vdev, struct fake_guest *g, uint64_t mask)
{
    memset(d, 0, sizeof(*d));
    d->g = g;
    d->vdev = vdev;
    drv_negotiate(d, drv_device_features(d) & mask);
    uint16_t nq = (uint16_t)drv_read(d, 0x12, 2);
    for (uint16_t q = 0; q < nq; q++) {
        drv_write(d, 0x16, q, 2);
        drv_setup_queue(d, q, (uint16_t)drv_read(d, 0x18, 2));
    }
    drv_driver_ok(d);
}

void drv_set_desc(struct drv *d, uint16_t q, uint16_t i, uint64_t addr, uint32_t len,
                  uint16_t flags, uint16_t next)
{
    uint8_t *p = fg_ptr(d->g, d->vq[q].desc + 16ull * i);
    aero_put_le64(p, addr);
    aero_put_le32(p + 8, len);
    aero_put_le16(p + 12, flags);
    aero_put_le16(p + 14, next);
}

static void put_desc(uint8_t *p, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    aero_put_le64(p, addr);
    aero_put_le32(p + 8, len);
    aero_put_le16(p + 12, flags);
    aero_put_le16(p + 14, next);
}

uint16_t drv_add_chain(struct drv *d, uint16_t q, const struct drv_buf *bufs, unsigned n)
{
    struct drv_vq *v = &d->vq[q];
    uint16_t head = v->next_desc;
    for (unsigned i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)((head + i) % v->size);
        uint16_t next = (uint16_t)((head + i + 1) % v->size);
        uint16_t flags = (uint16_t)((bufs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
                                    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
        drv_set_desc(d, q, idx, bufs[i].addr, bufs[i].len, flags, next);
    }
    v->next_desc = (uint16_t)((head + n) % v->size);
    return head;
}

uint16_t drv_add_indirect(struct drv *d, uint16_t q, const struct drv_buf *bufs, unsigned n)
{
    struct drv_vq *v = &d->vq[q];
    uint64_t table = fg_alloc(d->g, 16ull * n, 16);
    for (unsigned i = 0; i < n; i++) {
        uint16_t flags = (uint16_t)((bufs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
                                    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
        put_desc(fg_ptr(d->g, table + 16ull * i), bufs[i].addr, bufs[i].len, flags,
                 (uint16_t)(i + 1));
    }
    uint16_t head = v->next_desc;
    drv_set_desc(d, q, head, table, 16u * n, VIRTQ_DESC_F_INDIRECT, 0);
    v->next_desc = (uint16_t)((head + 1) % v->size);
    return head;
}

void drv_set_avail_idx(struct drv *d, uint16_t q, uint16_t idx)
{
    aero_put_le16(fg_ptr(d->g, d->vq[q].avail + 2), idx);
}

void drv_publish(struct drv *d, uint16_t q, uint16_t head)
{
    struct drv_vq *v = &d->vq[q];
    aero_put_le16(fg_ptr(d->g, v->avail + 4 + 2ull * (v->avail_idx % v->size)), head);
    v->avail_idx++;
    drv_set_avail_idx(d, q, v->avail_idx);
}

void drv_kick(struct drv *d, uint16_t q) { drv_write(d, AERO_BAR0_NOTIFY + 4u * q, q, 2); }

uint16_t drv_used_idx(struct drv *d, uint16_t q)
{
    return aero_le16(fg_ptr(d->g, d->vq[q].used + 2));
}

bool drv_get_used(struct drv *d, uint16_t q, uint32_t *id, uint32_t *len)
{
    struct drv_vq *v = &d->vq[q];
    if (drv_used_idx(d, q) == v->last_used)
        return false;
    const uint8_t *e = fg_ptr(d->g, v->used + 4 + 8ull * (v->last_used % v->size));
    if (id)
        *id = aero_le32(e);
    if (len)
        *len = aero_le32(e + 4);
    v->last_used++;
    return true;
}

void drv_set_used_event(struct drv *d, uint16_t q, uint16_t val)
{
    struct drv_vq *v = &d->vq[q];
    aero_put_le16(fg_ptr(d->g, v->avail + 4 + 2ull * v->size), val);
}

uint16_t drv_avail_event(struct drv *d, uint16_t q)
{
    struct drv_vq *v = &d->vq[q];
    return aero_le16(fg_ptr(d->g, v->used + 4 + 8ull * v->size));
}

void drv_set_avail_flags(struct drv *d, uint16_t q, uint16_t flags)
{
    aero_put_le16(fg_ptr(d->g, d->vq[q].avail), flags);
}

uint8_t drv_isr(struct drv *d) { return (uint8_t)drv_read(d, AERO_BAR0_ISR, 1); }

bool drv_needs_reset(struct drv *d)
{
    return (drv_read(d, 0x14, 1) & VIRTIO_CONFIG_S_NEEDS_RESET) != 0;
}
