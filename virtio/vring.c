/* Split virtqueues (virtio 1.2 §2.7, CONTRACT §2): pop descriptor chains (direct, chained,
 * indirect) into a bounded scatter-gather list, push and publish used entries in batches, and
 * EVENT_IDX / NO_INTERRUPT suppression in both directions. Every guest mistake fails the device
 * through aero_vdev_fail(); nothing here trusts a guest index or length.
 */
#include "internal.h"

#include <string.h>

#define DESC_SIZE 16u

static uint64_t avail_idx_addr(const struct aero_vq *vq) { return vq->avail + 2; }
static uint64_t avail_ring_addr(const struct aero_vq *vq, uint16_t slot)
{
    return vq->avail + 4 + 2ull * slot;
}
static uint64_t used_event_addr(const struct aero_vq *vq)
{
    return vq->avail + 4 + 2ull * vq->size;
}
static uint64_t used_idx_addr(const struct aero_vq *vq) { return vq->used + 2; }
static uint64_t used_ring_addr(const struct aero_vq *vq, uint16_t slot)
{
    return vq->used + 4 + 8ull * slot;
}
static uint64_t avail_event_addr(const struct aero_vq *vq)
{
    return vq->used + 4 + 8ull * vq->size;
}

static bool event_idx(const struct aero_vq *vq)
{
    return aero_vdev_has_feature(vq->vdev, VIRTIO_F_RING_EVENT_IDX);
}

/* virtio 1.2 §2.7.10: true when new_idx has passed event since old (all mod 2^16). */
static bool vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

void aero_vq_init(struct aero_vq *vq, struct aero_vdev *vdev, uint16_t index, uint16_t max_size)
{
    memset(vq, 0, sizeof(*vq));
    vq->vdev = vdev;
    vq->index = index;
    vq->max_size = max_size;
    aero_vq_reset(vq);
}

void aero_vq_reset(struct aero_vq *vq)
{
    struct aero_vq_stats keep = vq->stats; /* counters survive resets: tools read totals */
    struct aero_vdev *vdev = vq->vdev;
    uint16_t index = vq->index, max = vq->max_size;
    memset(vq, 0, sizeof(*vq));
    vq->vdev = vdev;
    vq->index = index;
    vq->max_size = max;
    vq->size = max;
    vq->msix_vector = VIRTIO_MSI_NO_VECTOR;
    vq->stats = keep;
}

bool aero_vq_probe(struct aero_vdev *vdev, uint64_t addr, uint64_t len)
{
    uint8_t b;
    if (len == 0 || addr + len < addr)
        return false;
    return aero_gm_read(vdev, addr, &b, 1) == 0 && aero_gm_read(vdev, addr + len - 1, &b, 1) == 0;
}

const char *aero_vq_check_rings(struct aero_vdev *vdev, const struct aero_vq *vq, bool ev_idx)
{
    uint16_t n = vq->size;
    if (n == 0 || n > vq->max_size || (n & (n - 1)))
        return "invalid size";
    /* CONTRACT §2: required alignment desc 16, avail 2, used 4. */
    if ((vq->desc & 15) || (vq->avail & 1) || (vq->used & 3))
        return "ring addresses misaligned";
    /* CONTRACT (EVENT_IDX extension): without bit 29 the rings follow the no-event sizes. */
    uint64_t ev = ev_idx ? 2 : 0;
    if (!aero_vq_probe(vdev, vq->desc, DESC_SIZE * n) ||
        !aero_vq_probe(vdev, vq->avail, 4 + 2ull * n + ev) ||
        !aero_vq_probe(vdev, vq->used, 4 + 8ull * n + ev))
        return "rings outside guest memory";
    return NULL;
}

void aero_vq_enable(struct aero_vq *vq)
{
    struct aero_vdev *vdev = vq->vdev;
    uint16_t n = vq->size;
    if (n == 0 || n > vq->max_size || (n & (n - 1))) {
        aero_vdev_fail(vdev, vq->index, "queue %u enabled with invalid size %u", vq->index, n);
        return;
    }
    const char *bad = aero_vq_check_rings(vdev, vq, event_idx(vq));
    if (bad) {
        aero_vdev_fail(vdev, vq->index, "queue %u %s", vq->index, bad);
        return;
    }
    vq->last_avail = 0;
    vq->shadow_avail = 0;
    vq->used_idx = 0;
    vq->pushed = 0;
    vq->signalled_valid = false;
    vq->enabled = true;
}

bool aero_vq_ready(const struct aero_vq *vq)
{
    return vq->enabled && !vq->vdev->broken && aero_vdev_driver_ok(vq->vdev);
}
uint16_t aero_vq_size(const struct aero_vq *vq) { return vq->size; }

void aero_vq_get_stats(const struct aero_vq *vq, struct aero_vq_stats *out) { *out = vq->stats; }
void aero_vq_count_guest_error(struct aero_vq *vq) { vq->stats.guest_errors++; }
void aero_vq_count_io_error(struct aero_vq *vq) { vq->stats.io_errors++; }

/* Ring indices: one atomic 16-bit access each, never a byte copy (see aero_host_ops.load16). */
static bool read_u16(struct aero_vq *vq, uint64_t addr, uint16_t *out)
{
    return aero_gm_load16(vq->vdev, addr, out) == 0;
}

static bool write_u16(struct aero_vq *vq, uint64_t addr, uint16_t v)
{
    return aero_gm_store16(vq->vdev, addr, v) == 0;
}

/* Refresh the cached avail.idx. Returns false (device failed) on a DMA error or an index that
 * runs more than a ring's worth ahead of what we consumed (CONTRACT §2). */
static bool refresh_avail(struct aero_vq *vq)
{
    uint16_t idx;
    if (!read_u16(vq, avail_idx_addr(vq), &idx)) {
        aero_vdev_fail(vq->vdev, vq->index, "queue %u: avail ring unreadable", vq->index);
        return false;
    }
    if ((uint16_t)(idx - vq->last_avail) > vq->size) {
        /* What the driver could have seen: used.idx as published and as guest memory holds it
         * (they differ only if something else wrote there). */
        uint16_t in_memory = 0;
        bool readable = read_u16(vq, used_idx_addr(vq), &in_memory);
        aero_vdev_fail(
            vq->vdev, vq->index,
            "queue %u: avail.idx %u is %u entries ahead (size %u; %u consumed, used.idx %u "
            "published, %u%s in guest memory)",
            vq->index, idx, (uint16_t)(idx - vq->last_avail), vq->size, vq->last_avail,
            vq->used_idx, in_memory, readable ? "" : " (unreadable)");
        return false;
    }
    vq->shadow_avail = idx;
    /* Ring entries and descriptors are read only after the index that published them. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return true;
}

bool aero_vq_has_avail(struct aero_vq *vq)
{
    if (!vq->enabled || vq->vdev->broken)
        return false;
    if (vq->shadow_avail != vq->last_avail)
        return true;
    if (!refresh_avail(vq))
        return false;
    return vq->shadow_avail != vq->last_avail;
}

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

static bool read_desc(struct aero_vq *vq, uint64_t addr, struct desc *d)
{
    uint8_t b[DESC_SIZE];
    if (aero_gm_read(vq->vdev, addr, b, DESC_SIZE))
        return false;
    /* Copied once, validated from the copy: the guest may rewrite it concurrently. */
    d->addr = aero_le64(b);
    d->len = aero_le32(b + 8);
    d->flags = aero_le16(b + 12);
    d->next = aero_le16(b + 14);
    return true;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        aero_vdev_fail(vq->vdev, vq->index, __VA_ARGS__);                                          \
        return false;                                                                              \
    } while (0)

/* Walk the chain starting at head. Bounds: at most `size` descriptors in the ring part and at
 * most `size` in total (virtio 1.2 §2.7.5.3.1), so loops end with an error, never a hang. */
static bool walk_chain(struct aero_vq *vq, uint16_t head, struct aero_chain *c)
{
    uint16_t q = vq->index;
    uint64_t table = vq->desc;
    uint32_t table_n = vq->size;
    uint32_t ttl = vq->size;
    bool indirect = false;
    uint16_t i = head;

    c->head = head;
    c->nsg = 0;
    c->readable_bytes = c->writable_bytes = 0;
    for (;;) {
        struct desc d;
        if (ttl-- == 0)
            FAIL("queue %u: descriptor chain from head %u loops or exceeds its table", q, head);
        if (!read_desc(vq, table + (uint64_t)DESC_SIZE * i, &d))
            FAIL("queue %u: descriptor %u not in guest memory", q, i);
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (indirect)
                FAIL("queue %u: nested indirect descriptor", q);
            if (!aero_vdev_has_feature(vq->vdev, VIRTIO_F_RING_INDIRECT_DESC))
                FAIL("queue %u: INDIRECT used but not negotiated", q);
            if (d.flags & VIRTQ_DESC_F_NEXT)
                FAIL("queue %u: indirect descriptor with NEXT", q);
            if (d.len == 0 || d.len % DESC_SIZE)
                FAIL("queue %u: indirect table length %u", q, d.len);
            if (d.len / DESC_SIZE > vq->size)
                FAIL("queue %u: indirect table of %u entries exceeds queue size", q,
                     d.len / DESC_SIZE);
            if (d.addr + d.len < d.addr)
                FAIL("queue %u: indirect table wraps the address space", q);
            indirect = true;
            table = d.addr;
            table_n = d.len / DESC_SIZE;
            ttl = table_n;
            i = 0;
            continue;
        }
        if (c->nsg >= vq->size)
            FAIL("queue %u: chain longer than queue size %u", q, vq->size);
        if (d.addr + d.len < d.addr)
            FAIL("queue %u: buffer wraps the address space", q);
        struct aero_sg *sg = &c->sg[c->nsg++];
        sg->addr = d.addr;
        sg->len = d.len;
        sg->write = (d.flags & VIRTQ_DESC_F_WRITE) != 0;
        if (sg->write)
            c->writable_bytes += d.len;
        else
            c->readable_bytes += d.len;
        if (c->readable_bytes + c->writable_bytes > UINT32_MAX)
            FAIL("queue %u: chain total length exceeds 4 GiB", q);
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return true;
        if (d.next >= table_n)
            FAIL("queue %u: next index %u out of range %u", q, d.next, table_n);
        i = d.next;
    }
}

enum aero_vq_pop_result aero_vq_pop(struct aero_vq *vq, struct aero_chain *chain)
{
    if (!vq->enabled || vq->vdev->broken)
        return AERO_VQ_EMPTY;
    if (vq->shadow_avail == vq->last_avail) {
        if (!refresh_avail(vq))
            return AERO_VQ_BROKEN;
        if (vq->shadow_avail == vq->last_avail)
            return AERO_VQ_EMPTY;
    }
    uint16_t head;
    if (!read_u16(vq, avail_ring_addr(vq, vq->last_avail & (vq->size - 1)), &head)) {
        aero_vdev_fail(vq->vdev, vq->index, "queue %u: avail ring unreadable", vq->index);
        return AERO_VQ_BROKEN;
    }
    if (head >= vq->size) {
        aero_vdev_fail(vq->vdev, vq->index, "queue %u: head %u >= size %u", vq->index, head,
                       vq->size);
        return AERO_VQ_BROKEN;
    }
    if (!walk_chain(vq, head, chain))
        return AERO_VQ_BROKEN;
    vq->last_avail++;
    vq->stats.requests++;
    return AERO_VQ_POPPED;
}

enum aero_vq_pop_result aero_vq_pop_budgeted(struct aero_vq *vq, struct aero_chain *chain,
                                             unsigned *budget)
{
    if (*budget == 0 && aero_vdev_notify_later(vq->vdev, vq->index))
        return AERO_VQ_DEFERRED;
    enum aero_vq_pop_result r = aero_vq_pop(vq, chain);
    if (r == AERO_VQ_POPPED && *budget)
        (*budget)--;
    return r;
}

enum aero_vq_pop_result aero_vq_chain_at(struct aero_vq *vq, uint16_t head,
                                         struct aero_chain *chain)
{
    if (!vq->enabled || vq->vdev->broken)
        return AERO_VQ_EMPTY;
    if (head >= vq->size) {
        aero_vdev_fail(vq->vdev, vq->index, "queue %u: head %u >= size %u", vq->index, head,
                       vq->size);
        return AERO_VQ_BROKEN;
    }
    return walk_chain(vq, head, chain) ? AERO_VQ_POPPED : AERO_VQ_BROKEN;
}

void aero_vq_unpop(struct aero_vq *vq)
{
    vq->last_avail--;
    if (vq->stats.requests)
        vq->stats.requests--;
}

bool aero_vq_rearm(struct aero_vq *vq)
{
    if (!vq->enabled || vq->vdev->broken)
        return false;
    if (!event_idx(vq))
        return aero_vq_has_avail(vq);
    /* virtio 1.2 §2.7.10: ask for a kick when the driver publishes index last_avail. The full
     * barrier orders the store before the re-read so a concurrent add is never missed. */
    if (!aero_vdev_faulty(vq->vdev, AERO_FAULT_NO_AVAIL_EVENT) && /* seeded fault, test only */
        !write_u16(vq, avail_event_addr(vq), vq->last_avail)) {
        aero_vdev_fail(vq->vdev, vq->index, "queue %u: used ring unwritable", vq->index);
        return false;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!refresh_avail(vq))
        return false;
    return vq->shadow_avail != vq->last_avail;
}

void aero_vq_push(struct aero_vq *vq, uint16_t head, uint32_t len)
{
    if (!vq->enabled || vq->vdev->broken || head >= vq->size)
        return;
    uint8_t e[8];
    aero_put_le32(e, head);
    aero_put_le32(e + 4, len);
    if (aero_gm_write(vq->vdev, used_ring_addr(vq, vq->used_idx & (vq->size - 1)), e, 8)) {
        aero_vdev_fail(vq->vdev, vq->index, "queue %u: used ring unwritable", vq->index);
        return;
    }
    vq->used_idx++;
    vq->pushed++;
}

static bool should_interrupt(struct aero_vq *vq, uint16_t pushed)
{
    /* Order the used.idx store before reading the driver's suppression state. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (event_idx(vq)) {
        /* CONTRACT (EVENT_IDX extension): flags are ignored, used_event alone decides. */
        uint16_t used_event;
        if (!read_u16(vq, used_event_addr(vq), &used_event)) {
            aero_vdev_fail(vq->vdev, vq->index, "queue %u: avail ring unreadable", vq->index);
            return false;
        }
        uint16_t old = vq->signalled_used;
        bool valid = vq->signalled_valid && pushed < 0x8000;
        vq->signalled_used = vq->used_idx;
        vq->signalled_valid = true;
        return !valid || vring_need_event(used_event, vq->used_idx, old);
    }
    uint16_t flags;
    if (!read_u16(vq, vq->avail, &flags)) {
        aero_vdev_fail(vq->vdev, vq->index, "queue %u: avail ring unreadable", vq->index);
        return false;
    }
    return !(flags & VRING_AVAIL_F_NO_INTERRUPT);
}

void aero_vq_flush(struct aero_vq *vq)
{
    uint16_t pushed = vq->pushed;
    if (pushed == 0 || !vq->enabled || vq->vdev->broken)
        return;
    vq->pushed = 0;
    /* Used elements (and the data they describe) become visible before used.idx. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (!write_u16(vq, used_idx_addr(vq), vq->used_idx)) {
        aero_vdev_fail(vq->vdev, vq->index, "queue %u: used ring unwritable", vq->index);
        return;
    }
    if (should_interrupt(vq, pushed)) {
        if (aero_vdev_raise_queue_irq(vq->vdev, vq))
            vq->stats.interrupts++;
    } else if (!vq->vdev->broken) {
        vq->stats.interrupts_suppressed++;
    }
}

void aero_vq_flush_later(struct aero_vq *vq)
{
    if (vq->pushed == 0)
        return;
    if (!aero_vdev_defer_flush(vq->vdev, vq->index))
        aero_vq_flush(vq);
}

static int64_t chain_copy(struct aero_vq *vq, const struct aero_chain *c, bool to_guest,
                          uint64_t skip, uint8_t *buf, uint64_t len)
{
    uint64_t done = 0;
    for (uint16_t s = 0; s < c->nsg && done < len; s++) {
        const struct aero_sg *sg = &c->sg[s];
        if (sg->write != to_guest)
            continue;
        if (skip >= sg->len) {
            skip -= sg->len;
            continue;
        }
        uint64_t n = sg->len - skip;
        if (n > len - done)
            n = len - done;
        int rc = to_guest ? aero_gm_write(vq->vdev, sg->addr + skip, buf + done, n)
                          : aero_gm_read(vq->vdev, sg->addr + skip, buf + done, n);
        if (rc) {
            aero_vdev_fail(vq->vdev, vq->index, "queue %u: buffer 0x%llx+%llu not in guest memory",
                           vq->index, (unsigned long long)(sg->addr + skip), (unsigned long long)n);
            return -1;
        }
        done += n;
        skip = 0;
    }
    return (int64_t)done;
}

int64_t aero_chain_to_guest(struct aero_vq *vq, const struct aero_chain *c, uint64_t skip,
                            const void *buf, uint64_t len)
{
    return chain_copy(vq, c, true, skip, (uint8_t *)(uintptr_t)buf, len);
}

int64_t aero_chain_from_guest(struct aero_vq *vq, const struct aero_chain *c, uint64_t skip,
                              void *buf, uint64_t len)
{
    return chain_copy(vq, c, false, skip, buf, len);
}
