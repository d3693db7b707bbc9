/* CONTRACT §2 split-ring rules and the EVENT_IDX extension, driven through a minimal "echo"
 * device that pops every chain, records it and completes it; plus every hostile ring case.
 */
#include "driver.h"

#include <check.h>
#include "check_main.h"
#include <stdlib.h>
#include <string.h>

#define QSIZE 16

struct echo {
    struct aero_vdev *vdev;
    unsigned popped;
    struct aero_chain last;
    bool hold;          /* pop but do not complete */
    uint16_t held[64];
    unsigned nheld;
};

static void echo_notify(void *dev, uint16_t q)
{
    struct echo *e = dev;
    struct aero_vq *vq = aero_vdev_queue(e->vdev, q);
    unsigned guard = 0;
    do {
        while (aero_vq_pop(vq, &e->last) == AERO_VQ_POPPED) {
            e->popped++;
            ck_assert_uint_lt(++guard, 100000);
            if (e->hold && e->nheld < 64)
                e->held[e->nheld++] = e->last.head;
            else
                aero_vq_push(vq, e->last.head, (uint32_t)e->last.writable_bytes);
        }
    } while (aero_vq_rearm(vq));
    aero_vq_flush(vq);
}

static const struct aero_device_ops echo_ops = {.queue_notify = echo_notify};

static struct fake_guest g;
static struct echo ec;
static struct drv d;

#define ALL ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_INDIRECT_DESC) | \
             (1ull << VIRTIO_F_RING_EVENT_IDX))

static void make(uint64_t offered, uint64_t accept)
{
    fg_init(&g);
    memset(&ec, 0, sizeof(ec));
    struct aero_vdev_params p = {
        .id = {.vendor_id = 0x1af4, .device_id = 0x1042, .revision = 1},
        .num_queues = 1,
        .queue_max_size = {QSIZE},
        .device_features = offered,
    };
    ec.vdev = aero_vdev_new(&p, &fake_host_ops, &g, &echo_ops, &ec);
    ck_assert_ptr_nonnull(ec.vdev);
    drv_bring_up(&d, ec.vdev, &g, accept);
    ck_assert(aero_vdev_driver_ok(ec.vdev));
}

static void setup_plain(void) { make(ALL, ~(1ull << VIRTIO_F_RING_EVENT_IDX)); }
static void setup_event(void) { make(ALL, ~0ull); }
static void setup_noindirect(void) { make(1ull << VIRTIO_F_VERSION_1, ~0ull); }
static void teardown(void)
{
    aero_vdev_free(ec.vdev);
    fg_free(&g);
}

static uint64_t buf(uint32_t len) { return fg_alloc(&g, len, 8); }

static uint16_t add_simple(void)
{
    struct drv_buf b[2] = {{buf(16), 16, false}, {buf(64), 64, true}};
    uint16_t h = drv_add_chain(&d, 0, b, 2);
    drv_publish(&d, 0, h);
    return h;
}

static void assert_broken(void)
{
    ck_assert(drv_needs_reset(&d));
    ck_assert(aero_vdev_broken(ec.vdev));
    ck_assert_uint_eq(drv_isr(&d) & VIRTIO_ISR_CONFIG, VIRTIO_ISR_CONFIG);
    ck_assert_uint_eq(drv_used_idx(&d, 0), 0);
}

/* ---- basic ring behaviour ------------------------------------------------------------- */

START_TEST(test_ring_direct_chain_round_trip)
{
    struct drv_buf b[3] = {{buf(16), 16, false}, {buf(100), 100, true}, {buf(1), 1, true}};
    uint16_t h = drv_add_chain(&d, 0, b, 3);
    drv_publish(&d, 0, h);
    drv_kick(&d, 0);
    uint32_t id, len;
    ck_assert(drv_get_used(&d, 0, &id, &len));
    ck_assert_uint_eq(id, h);
    ck_assert_uint_eq(len, 101);
    ck_assert_uint_eq(ec.last.nsg, 3);
    ck_assert_uint_eq(ec.last.sg[1].addr, b[1].addr);
    ck_assert(ec.last.sg[1].write && !ec.last.sg[0].write);
    ck_assert_uint_eq(ec.last.readable_bytes, 16);
    ck_assert(ec.last.sg[0].addr > 0xffffffffull); /* 64-bit guest addresses */
}
END_TEST

START_TEST(test_ring_indirect_chain)
{
    struct drv_buf b[4] = {{buf(16), 16, false}, {buf(512), 512, false}, {buf(512), 512, true},
                           {buf(1), 1, true}};
    uint16_t h = drv_add_indirect(&d, 0, b, 4);
    drv_publish(&d, 0, h);
    drv_kick(&d, 0);
    uint32_t id, len;
    ck_assert(drv_get_used(&d, 0, &id, &len));
    ck_assert_uint_eq(id, h);
    ck_assert_uint_eq(ec.last.nsg, 4);
    ck_assert_uint_eq(ec.last.readable_bytes, 528);
    ck_assert_uint_eq(ec.last.writable_bytes, 513);
}
END_TEST

START_TEST(test_ring_direct_prefix_then_indirect)
{
    /* A chain may end in an indirect descriptor (INDIRECT without NEXT). */
    struct drv_buf ind[2] = {{buf(8), 8, false}, {buf(8), 8, true}};
    uint64_t table = fg_alloc(&g, 32, 16);
    for (int i = 0; i < 2; i++) {
        uint8_t *p = fg_ptr(&g, table + 16u * i);
        aero_put_le64(p, ind[i].addr);
        aero_put_le32(p + 8, ind[i].len);
        aero_put_le16(p + 12, (uint16_t)((ind[i].write ? VIRTQ_DESC_F_WRITE : 0) |
                                          (i == 0 ? VIRTQ_DESC_F_NEXT : 0)));
        aero_put_le16(p + 14, 1);
    }
    drv_set_desc(&d, 0, 5, buf(4), 4, VIRTQ_DESC_F_NEXT, 6);
    drv_set_desc(&d, 0, 6, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    drv_publish(&d, 0, 5);
    drv_kick(&d, 0);
    ck_assert(drv_get_used(&d, 0, NULL, NULL));
    ck_assert_uint_eq(ec.last.nsg, 3);
    ck_assert_uint_eq(ec.last.readable_bytes, 12);
}
END_TEST

START_TEST(test_ring_mixed_indirect_and_chained_batch)
{
    unsigned n = 0;
    for (int i = 0; i < 6; i++) {
        struct drv_buf b[3] = {{buf(16), 16, false}, {buf(32), 32, true}, {buf(1), 1, true}};
        uint16_t h = (i & 1) ? drv_add_indirect(&d, 0, b, 3) : drv_add_chain(&d, 0, b, 3);
        drv_publish(&d, 0, h);
    }
    unsigned irq_before = g.intx_asserts;
    drv_kick(&d, 0);
    uint32_t len;
    while (drv_get_used(&d, 0, NULL, &len)) {
        ck_assert_uint_eq(len, 33);
        n++;
    }
    ck_assert_uint_eq(n, 6);
    ck_assert_uint_eq(g.intx_asserts, irq_before + 1); /* one interrupt for the batch */
    struct aero_vq_stats st;
    aero_vq_get_stats(aero_vdev_queue(ec.vdev, 0), &st);
    ck_assert_uint_eq(st.requests, 6);
    ck_assert_uint_eq(st.interrupts, 1);
    ck_assert_uint_eq(st.notifies, 1);
}
END_TEST

START_TEST(test_ring_index_wraps_at_65536)
{
    /* Drive 70000 single-chain round trips: both indices wrap through 65535 -> 0. */
    for (unsigned i = 0; i < 70000; i++) {
        add_simple();
        drv_kick(&d, 0);
        ck_assert(drv_get_used(&d, 0, NULL, NULL));
        drv_isr(&d);
    }
    ck_assert_uint_eq(drv_used_idx(&d, 0), (uint16_t)70000);
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

/* The driver's vCPU publishes one more chain while the device is between the two bytes of a
 * 2-byte copy of avail.idx (what glibc's memcpy does under QEMU's flatview_read_continue). */
static unsigned mid_copy_publishes;
static void publish_mid_copy(struct fake_guest *fg, uint64_t gpa)
{
    (void)fg;
    if (gpa != d.vq[0].avail + 2 || mid_copy_publishes >= 1000)
        return;
    if ((uint16_t)(d.vq[0].avail_idx - drv_used_idx(&d, 0)) >= 4)
        return;
    mid_copy_publishes++;
    add_simple();
}

START_TEST(test_ring_index_read_while_driver_stores_it)
{
    /* Issue 16: a byte-wise read of avail.idx across 0x00FF -> 0x0100 gives 0x01FF, "256
     * entries ahead", and a healthy device put itself into NEEDS_RESET. Indices must be read
     * with one atomic load (host load16), so the concurrent store can never split them. */
    mid_copy_publishes = 0;
    g.mid_copy = publish_mid_copy;
    unsigned completed = 0;
    for (unsigned i = 0; i < 600 && !drv_needs_reset(&d); i++) {
        add_simple();
        drv_kick(&d, 0);
        while (drv_get_used(&d, 0, NULL, NULL))
            completed++;
        drv_isr(&d);
    }
    ck_assert_msg(!drv_needs_reset(&d), "device failed: %s", g.last_error);
    ck_assert_uint_eq(completed, (uint16_t)(d.vq[0].avail_idx));
    ck_assert_uint_ge(completed, 600);
    ck_assert_uint_gt(g.index_loads, 600);
    ck_assert_uint_gt(g.index_stores, 0);
}
END_TEST

START_TEST(test_ring_full_queue_of_chains)
{
    for (int i = 0; i < QSIZE; i++) {
        struct drv_buf b = {buf(8), 8, true};
        drv_publish(&d, 0, drv_add_chain(&d, 0, &b, 1));
    }
    drv_kick(&d, 0);
    ck_assert_uint_eq(ec.popped, QSIZE);
    ck_assert_uint_eq(drv_used_idx(&d, 0), QSIZE);
}
END_TEST

START_TEST(test_ring_unaligned_buffers_are_legal)
{
    struct drv_buf b[2] = {{g.base + 0x9001, 3, false}, {g.base + 0x9107, 5, true}};
    drv_publish(&d, 0, drv_add_chain(&d, 0, b, 2));
    drv_kick(&d, 0);
    ck_assert(drv_get_used(&d, 0, NULL, NULL));
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

/* ---- interrupt suppression ----------------------------------------------------------- */

START_TEST(test_no_interrupt_flag_honoured_without_event_idx)
{
    drv_set_avail_flags(&d, 0, VRING_AVAIL_F_NO_INTERRUPT);
    add_simple();
    drv_kick(&d, 0);
    ck_assert_uint_eq(drv_used_idx(&d, 0), 1);
    ck_assert_int_eq(g.intx, 0);
    drv_set_avail_flags(&d, 0, 0);
    add_simple();
    drv_kick(&d, 0);
    ck_assert_int_eq(g.intx, 1);
    struct aero_vq_stats st;
    aero_vq_get_stats(aero_vdev_queue(ec.vdev, 0), &st);
    ck_assert_uint_eq(st.interrupts, 1);
    ck_assert_uint_eq(st.interrupts_suppressed, 1);
}
END_TEST

START_TEST(test_no_event_idx_never_writes_avail_event)
{
    uint8_t *ae = fg_ptr(&g, d.vq[0].used + 4 + 8u * QSIZE);
    aero_put_le16(ae, 0xbeef);
    for (int i = 0; i < 5; i++) {
        add_simple();
        drv_kick(&d, 0);
    }
    ck_assert_uint_eq(aero_le16(ae), 0xbeef);
}
END_TEST

START_TEST(test_no_event_idx_never_reads_used_event)
{
    /* A used_event that would suppress every interrupt under EVENT_IDX must not matter. */
    for (int i = 0; i < 4; i++) {
        drv_isr(&d);
        drv_set_used_event(&d, 0, 0x7fff);
        add_simple();
        drv_kick(&d, 0);
        ck_assert_int_eq(g.intx, 1);
    }
}
END_TEST

START_TEST(test_ring_avail_idx_going_backwards_is_needs_reset)
{
    add_simple();
    drv_kick(&d, 0);
    ck_assert_uint_eq(drv_used_idx(&d, 0), 1);
    drv_set_avail_idx(&d, 0, 0); /* 0xffff entries "ahead" of what was consumed */
    drv_kick(&d, 0);
    ck_assert(drv_needs_reset(&d));
    ck_assert_uint_eq(ec.popped, 1);
}
END_TEST

START_TEST(test_event_idx_ignores_no_interrupt_flag)
{
    drv_set_avail_flags(&d, 0, VRING_AVAIL_F_NO_INTERRUPT);
    drv_set_used_event(&d, 0, 0);
    add_simple();
    drv_kick(&d, 0);
    ck_assert_int_eq(g.intx, 1);
}
END_TEST

START_TEST(test_event_idx_writes_avail_event_after_processing)
{
    for (int i = 0; i < 3; i++)
        add_simple();
    drv_kick(&d, 0);
    ck_assert_uint_eq(drv_avail_event(&d, 0), 3);
}
END_TEST

START_TEST(test_event_idx_avail_event_wraps)
{
    /* avail_event follows the next index to pop through 65535 and back to 0. */
    for (unsigned i = 0; i < 65534; i++) {
        add_simple();
        drv_kick(&d, 0);
        drv_get_used(&d, 0, NULL, NULL);
    }
    ck_assert_uint_eq(drv_avail_event(&d, 0), 65534);
    add_simple();
    drv_kick(&d, 0);
    ck_assert_uint_eq(drv_avail_event(&d, 0), 65535);
    add_simple();
    add_simple();
    drv_kick(&d, 0);
    ck_assert_uint_eq(drv_avail_event(&d, 0), 1);
    ck_assert_uint_eq(drv_used_idx(&d, 0), 1);
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

static void complete_one_and_check(uint16_t used_event, bool want_irq)
{
    drv_isr(&d);
    drv_set_used_event(&d, 0, used_event);
    add_simple();
    drv_kick(&d, 0);
    ck_assert_msg(g.intx == (int)want_irq, "used_event %u used_idx %u: intx %d", used_event,
                  drv_used_idx(&d, 0), g.intx);
}

START_TEST(test_event_idx_used_event_decides_interrupt)
{
    /* The first completion always interrupts (no previous decision to compare with). */
    complete_one_and_check(0, true);  /* used 1 */
    complete_one_and_check(2, false); /* used 2: event 2 not yet passed */
    complete_one_and_check(2, true);  /* used 3 */
    complete_one_and_check(2, false); /* used 4: event already behind */
}
END_TEST

START_TEST(test_event_idx_around_wrap)
{
    /* Move both indices to just below 65535 with interrupts wanted each time. */
    for (unsigned i = 0; i < 65530; i++) {
        drv_set_used_event(&d, 0, (uint16_t)i);
        add_simple();
        drv_kick(&d, 0);
        drv_get_used(&d, 0, NULL, NULL);
    }
    ck_assert_uint_eq(drv_used_idx(&d, 0), 65530);
    /* used_event = 65532 asks for an interrupt once used.idx passes 65532 (becomes 65533). */
    complete_one_and_check(65532, false); /* used 65531 */
    complete_one_and_check(65532, false); /* used 65532 */
    complete_one_and_check(65532, true);  /* used 65533 */
    complete_one_and_check(1, false);     /* used 65534 */
    complete_one_and_check(1, false);     /* used 65535 */
    complete_one_and_check(1, false);     /* used 0 */
    complete_one_and_check(1, false);     /* used 1 */
    complete_one_and_check(1, true);      /* used 2: passed 1 across the wrap */
    complete_one_and_check(65535, false); /* stale event far behind: no interrupt */
}
END_TEST

START_TEST(test_event_idx_batch_spanning_used_event)
{
    drv_set_used_event(&d, 0, 0);
    add_simple();
    drv_kick(&d, 0); /* used 1, interrupt */
    drv_isr(&d);
    drv_set_used_event(&d, 0, 3);
    for (int i = 0; i < 5; i++)
        add_simple();
    drv_kick(&d, 0); /* used 1 -> 6 in one batch; event 3 lies inside: one interrupt */
    ck_assert_int_eq(g.intx, 1);
    drv_isr(&d);
    drv_set_used_event(&d, 0, 20);
    for (int i = 0; i < 5; i++)
        add_simple();
    drv_kick(&d, 0); /* 6 -> 11, event 20 not reached */
    ck_assert_int_eq(g.intx, 0);
}
END_TEST

/* ---- hostile rings -------------------------------------------------------------------- */

static int hostile_desc_loop(void)
{
    drv_set_desc(&d, 0, 0, buf(8), 8, VIRTQ_DESC_F_NEXT, 1);
    drv_set_desc(&d, 0, 1, buf(8), 8, VIRTQ_DESC_F_NEXT, 0);
    return 0;
}

static int hostile_self_loop(void)
{
    drv_set_desc(&d, 0, 3, buf(8), 8, VIRTQ_DESC_F_NEXT, 3);
    return 3;
}

static int hostile_chain_longer_than_queue(void)
{
    /* An indirect table cannot be longer than the queue either. */
    struct drv_buf b[QSIZE + 1];
    for (int i = 0; i < QSIZE + 1; i++)
        b[i] = (struct drv_buf){buf(4), 4, false};
    return drv_add_indirect(&d, 0, b, QSIZE + 1);
}

static int hostile_direct_plus_indirect_over_queue_size(void)
{
    struct drv_buf b[QSIZE];
    for (int i = 0; i < QSIZE; i++)
        b[i] = (struct drv_buf){buf(4), 4, false};
    uint64_t table = fg_alloc(&g, 16u * QSIZE, 16);
    for (int i = 0; i < QSIZE; i++) {
        uint8_t *p = fg_ptr(&g, table + 16u * i);
        aero_put_le64(p, b[i].addr);
        aero_put_le32(p + 8, 4);
        aero_put_le16(p + 12, i + 1 < QSIZE ? VIRTQ_DESC_F_NEXT : 0);
        aero_put_le16(p + 14, (uint16_t)(i + 1));
    }
    drv_set_desc(&d, 0, 0, buf(4), 4, VIRTQ_DESC_F_NEXT, 1);
    drv_set_desc(&d, 0, 1, table, 16u * QSIZE, VIRTQ_DESC_F_INDIRECT, 0);
    return 0;
}

static int hostile_nested_indirect(void)
{
    uint64_t inner = fg_alloc(&g, 16, 16);
    struct drv_buf dummy = {buf(8), 8, false};
    uint8_t *p = fg_ptr(&g, inner);
    aero_put_le64(p, dummy.addr);
    aero_put_le32(p + 8, 8);
    uint64_t outer = fg_alloc(&g, 16, 16);
    p = fg_ptr(&g, outer);
    aero_put_le64(p, inner);
    aero_put_le32(p + 8, 16);
    aero_put_le16(p + 12, VIRTQ_DESC_F_INDIRECT);
    drv_set_desc(&d, 0, 0, outer, 16, VIRTQ_DESC_F_INDIRECT, 0);
    return 0;
}

static int hostile_zero_length_indirect(void)
{
    drv_set_desc(&d, 0, 0, fg_alloc(&g, 16, 16), 0, VIRTQ_DESC_F_INDIRECT, 0);
    return 0;
}

static int hostile_indirect_len_not_multiple_of_16(void)
{
    drv_set_desc(&d, 0, 0, fg_alloc(&g, 32, 16), 24, VIRTQ_DESC_F_INDIRECT, 0);
    return 0;
}

static int hostile_indirect_with_next(void)
{
    drv_set_desc(&d, 0, 0, fg_alloc(&g, 16, 16), 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
    return 0;
}

static int hostile_indirect_table_outside_memory(void)
{
    drv_set_desc(&d, 0, 0, 0x10000, 32, VIRTQ_DESC_F_INDIRECT, 0); /* below the arena */
    return 0;
}

static int hostile_indirect_next_out_of_table(void)
{
    uint64_t table = fg_alloc(&g, 32, 16);
    uint8_t *p = fg_ptr(&g, table);
    aero_put_le64(p, buf(8));
    aero_put_le32(p + 8, 8);
    aero_put_le16(p + 12, VIRTQ_DESC_F_NEXT);
    aero_put_le16(p + 14, 2); /* table has 2 entries */
    drv_set_desc(&d, 0, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    return 0;
}

static int hostile_avail_idx_jump(void)
{
    drv_set_avail_idx(&d, 0, QSIZE + 1);
    return -1; /* nothing published: the index itself is the attack */
}

static int hostile_head_out_of_range(void)
{
    return QSIZE;
}

static int hostile_next_out_of_range(void)
{
    drv_set_desc(&d, 0, 0, buf(8), 8, VIRTQ_DESC_F_NEXT, 0xffff);
    return 0;
}

static int hostile_buffer_address_wrap(void)
{
    drv_set_desc(&d, 0, 0, 0xfffffffffffffff0ull, 0x100, VIRTQ_DESC_F_WRITE, 0);
    return 0;
}

static int hostile_total_over_4gib(void)
{
    drv_set_desc(&d, 0, 0, g.base, 0xffffffffu, VIRTQ_DESC_F_NEXT, 1);
    drv_set_desc(&d, 0, 1, g.base, 0x10, 0, 0);
    return 0;
}

static const struct hostile_ring {
    const char *attack;
    int (*build)(void); /* writes descriptors; returns the head to publish, or -1 */
    const char *reason; /* in the device's NEEDS_RESET message */
} hostile_rings[] = {
    {"desc loop", hostile_desc_loop, "loops or exceeds its table"},
    {"self loop", hostile_self_loop, "loops or exceeds its table"},
    {"chain longer than queue", hostile_chain_longer_than_queue, "entries exceeds queue size"},
    {"direct plus indirect over queue size", hostile_direct_plus_indirect_over_queue_size, "chain longer than queue size"},
    {"nested indirect", hostile_nested_indirect, "nested indirect"},
    {"zero length indirect", hostile_zero_length_indirect, "indirect table length 0"},
    {"indirect len not multiple of 16", hostile_indirect_len_not_multiple_of_16, "indirect table length 24"},
    {"indirect with next", hostile_indirect_with_next, "indirect descriptor with NEXT"},
    {"indirect table outside memory", hostile_indirect_table_outside_memory, "not in guest memory"},
    {"indirect next out of table", hostile_indirect_next_out_of_table, "next index 2 out of range 2"},
    {"avail idx jump", hostile_avail_idx_jump, "entries ahead"},
    {"head out of range", hostile_head_out_of_range, "head 16 >= size 16"},
    {"next out of range", hostile_next_out_of_range, "next index 65535 out of range"},
    {"buffer address wrap", hostile_buffer_address_wrap, "buffer wraps the address space"},
    {"total over 4gib", hostile_total_over_4gib, "chain total length exceeds 4 GiB"},
};

/* CONTRACT §2: every malformed ring ends in DEVICE_NEEDS_RESET (config interrupt, nothing
 * popped or published) with a reason that names the attack -- never a crash, a hang or an
 * access outside guest memory. One row per attack; the body is the same for all. */
START_TEST(test_ring_hostile_is_needs_reset)
{
    const struct hostile_ring *h = &hostile_rings[_i];
    int head = h->build();
    if (head >= 0)
        drv_publish(&d, 0, (uint16_t)head);
    drv_kick(&d, 0);
    ck_assert_msg(drv_needs_reset(&d), "%s: device did not fail", h->attack);
    assert_broken();
    ck_assert_uint_eq(ec.popped, 0);
    ck_assert_msg(strstr(g.last_error, h->reason), "%s: reason '%s', want '%s'", h->attack,
                  g.last_error, h->reason);
}
END_TEST

START_TEST(test_ring_indirect_without_feature_is_needs_reset)
{
    struct drv_buf b = {buf(8), 8, true};
    drv_publish(&d, 0, drv_add_indirect(&d, 0, &b, 1));
    drv_kick(&d, 0);
    assert_broken();
}
END_TEST

START_TEST(test_ring_avail_idx_exactly_queue_size_is_fine)
{
    for (int i = 0; i < QSIZE; i++) {
        struct drv_buf b = {buf(8), 8, true};
        drv_set_desc(&d, 0, (uint16_t)i, b.addr, 8, VIRTQ_DESC_F_WRITE, 0);
        drv_publish(&d, 0, (uint16_t)i);
    }
    drv_kick(&d, 0);
    ck_assert(!drv_needs_reset(&d));
    ck_assert_uint_eq(ec.popped, QSIZE);
}
END_TEST

START_TEST(test_ring_buffer_outside_memory_fails_on_access)
{
    drv_set_desc(&d, 0, 0, 0x2000, 64, VIRTQ_DESC_F_WRITE, 0);
    drv_publish(&d, 0, 0);
    drv_kick(&d, 0);
    /* The echo device does not touch data; popping alone is fine. */
    ck_assert(!drv_needs_reset(&d));
    uint8_t junk[64] = {0};
    ck_assert_int_eq(aero_chain_to_guest(aero_vdev_queue(ec.vdev, 0), &ec.last, 0, junk, 64), -1);
    ck_assert(drv_needs_reset(&d));
    ck_assert_uint_gt(g.dma_rejects, 0);
}
END_TEST

START_TEST(test_broken_device_ignores_notifies_until_reset)
{
    drv_publish(&d, 0, QSIZE + 3);
    drv_kick(&d, 0);
    assert_broken();
    unsigned popped = ec.popped;
    add_simple();
    drv_kick(&d, 0);
    ck_assert_uint_eq(ec.popped, popped);
    /* reset and bring-up recover the device */
    drv_bring_up(&d, ec.vdev, &g, ~0ull);
    ck_assert(!drv_needs_reset(&d));
    add_simple();
    drv_kick(&d, 0);
    ck_assert(drv_get_used(&d, 0, NULL, NULL));
}
END_TEST

static void enable_with_features(uint64_t features, uint16_t size, uint64_t desc, uint64_t avail,
                                 uint64_t used)
{
    drv_write(&d, 0x14, 0, 1);
    drv_negotiate(&d, features);
    drv_write(&d, 0x16, 0, 2);
    drv_write(&d, 0x18, size, 2);
    drv_write(&d, 0x20, desc, 8);
    drv_write(&d, 0x28, avail, 8);
    drv_write(&d, 0x30, used, 8);
    drv_write(&d, 0x1c, 1, 2);
}

static void enable_with(uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
    enable_with_features(1ull << VIRTIO_F_VERSION_1, size, desc, avail, used);
}

/* CONTRACT (EVENT_IDX extension): without bit 29 the rings have the no-event sizes, so rings
 * that end exactly at the end of guest memory are valid; with it they need two more bytes. */
START_TEST(test_queue_enable_ring_sizes_follow_event_idx)
{
    uint64_t end = g.base + g.size;
    uint64_t used_len = 4 + 8ull * QSIZE, avail_len = 4 + 2ull * QSIZE;
    enable_with(QSIZE, g.base, end - used_len - 64, end - used_len);
    ck_assert(!drv_needs_reset(&d));
    enable_with(QSIZE, g.base, end - avail_len, g.base + 0x1000);
    ck_assert(!drv_needs_reset(&d));
    uint64_t ev = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_EVENT_IDX);
    enable_with_features(ev, QSIZE, g.base, g.base + 0x1000, end - used_len);
    ck_assert(drv_needs_reset(&d)); /* avail_event would lie outside guest memory */
    enable_with_features(ev, QSIZE, g.base, end - avail_len, g.base + 0x1000);
    ck_assert(drv_needs_reset(&d)); /* used_event would lie outside guest memory */
    enable_with_features(ev, QSIZE, g.base, end - avail_len - 2, g.base + 0x1000);
    ck_assert(!drv_needs_reset(&d)); /* avail ring with used_event ends exactly at the end */
    enable_with_features(ev, QSIZE, g.base, g.base + 0x1000, end - used_len - 4);
    ck_assert(!drv_needs_reset(&d)); /* used ring + avail_event (+2 bytes for alignment) */
}
END_TEST

START_TEST(test_queue_enable_size_zero_is_needs_reset)
{
    enable_with(0, g.base, g.base + 0x1000, g.base + 0x2000);
    ck_assert(drv_needs_reset(&d));
    ck_assert_uint_eq(drv_read(&d, 0x1c, 2), 0);
}
END_TEST

START_TEST(test_queue_enable_size_not_power_of_two_is_needs_reset)
{
    enable_with(12, g.base, g.base + 0x1000, g.base + 0x2000);
    ck_assert(drv_needs_reset(&d));
}
END_TEST

START_TEST(test_queue_enable_size_over_max_is_needs_reset)
{
    enable_with(QSIZE * 2, g.base, g.base + 0x1000, g.base + 0x2000);
    ck_assert(drv_needs_reset(&d));
}
END_TEST

START_TEST(test_queue_enable_smaller_size_works)
{
    enable_with(4, g.base + 0x10000, g.base + 0x11000, g.base + 0x12000);
    ck_assert(!drv_needs_reset(&d));
    ck_assert_uint_eq(drv_read(&d, 0x1c, 2), 1);
    ck_assert_uint_eq(aero_vq_size(aero_vdev_queue(ec.vdev, 0)), 4);
}
END_TEST

START_TEST(test_queue_enable_rings_outside_memory_is_needs_reset)
{
    enable_with(QSIZE, 0x1000, g.base + 0x1000, g.base + 0x2000);
    ck_assert(drv_needs_reset(&d));
    enable_with(QSIZE, g.base, g.base + 0x1000, g.base + g.size - 8); /* used ring runs off */
    ck_assert(drv_needs_reset(&d));
}
END_TEST

START_TEST(test_queue_enable_misaligned_is_needs_reset)
{
    enable_with(QSIZE, g.base + 8, g.base + 0x1000, g.base + 0x2000);
    ck_assert(drv_needs_reset(&d));
    enable_with(QSIZE, g.base, g.base + 0x1001, g.base + 0x2000);
    ck_assert(drv_needs_reset(&d));
    enable_with(QSIZE, g.base, g.base + 0x1000, g.base + 0x2002);
    ck_assert(drv_needs_reset(&d));
}
END_TEST

START_TEST(test_queue_registers_frozen_while_enabled)
{
    uint64_t desc = d.vq[0].desc;
    drv_write(&d, 0x16, 0, 2);
    drv_write(&d, 0x20, 0x5000, 8);
    drv_write(&d, 0x18, 2, 2);
    ck_assert_uint_eq(drv_read(&d, 0x20, 8), desc);
    ck_assert_uint_eq(drv_read(&d, 0x18, 2), QSIZE);
}
END_TEST

START_TEST(test_reset_mid_flight_drops_held_chains)
{
    ec.hold = true;
    add_simple();
    add_simple();
    drv_kick(&d, 0);
    ck_assert_uint_eq(ec.nheld, 2);
    drv_write(&d, 0x14, 0, 1);
    /* a late completion after reset must not reach the old rings */
    uint16_t before = drv_used_idx(&d, 0);
    aero_vq_push(aero_vdev_queue(ec.vdev, 0), ec.held[0], 0);
    aero_vq_flush(aero_vdev_queue(ec.vdev, 0));
    ck_assert_uint_eq(drv_used_idx(&d, 0), before);
    ck_assert_int_eq(g.intx, 0);
}
END_TEST

START_TEST(test_notify_storm_does_bounded_work)
{
    for (int i = 0; i < 1000; i++)
        drv_kick(&d, 0);
    ck_assert_uint_eq(ec.popped, 0);
    struct aero_vq_stats st;
    aero_vq_get_stats(aero_vdev_queue(ec.vdev, 0), &st);
    ck_assert_uint_eq(st.notifies, 1000);
    ck_assert_uint_eq(st.interrupts, 0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("vring");
    TCase *tp = tcase_create("plain");
    tcase_add_checked_fixture(tp, setup_plain, teardown);
    tcase_add_test(tp, test_ring_direct_chain_round_trip);
    tcase_add_test(tp, test_ring_indirect_chain);
    tcase_add_test(tp, test_ring_direct_prefix_then_indirect);
    tcase_add_test(tp, test_ring_mixed_indirect_and_chained_batch);
    tcase_add_test(tp, test_ring_index_wraps_at_65536);
    tcase_add_test(tp, test_ring_index_read_while_driver_stores_it);
    tcase_add_test(tp, test_ring_full_queue_of_chains);
    tcase_add_test(tp, test_ring_unaligned_buffers_are_legal);
    tcase_add_test(tp, test_no_interrupt_flag_honoured_without_event_idx);
    tcase_add_test(tp, test_no_event_idx_never_writes_avail_event);
    tcase_add_test(tp, test_no_event_idx_never_reads_used_event);
    tcase_add_test(tp, test_ring_avail_idx_going_backwards_is_needs_reset);
    tcase_add_test(tp, test_queue_enable_ring_sizes_follow_event_idx);
    tcase_add_loop_test(tp, test_ring_hostile_is_needs_reset, 0,
                        (int)(sizeof(hostile_rings) / sizeof(hostile_rings[0])));
    tcase_add_test(tp, test_ring_avail_idx_exactly_queue_size_is_fine);
    tcase_add_test(tp, test_ring_buffer_outside_memory_fails_on_access);
    tcase_add_test(tp, test_broken_device_ignores_notifies_until_reset);
    tcase_add_test(tp, test_queue_enable_size_zero_is_needs_reset);
    tcase_add_test(tp, test_queue_enable_size_not_power_of_two_is_needs_reset);
    tcase_add_test(tp, test_queue_enable_size_over_max_is_needs_reset);
    tcase_add_test(tp, test_queue_enable_smaller_size_works);
    tcase_add_test(tp, test_queue_enable_rings_outside_memory_is_needs_reset);
    tcase_add_test(tp, test_queue_enable_misaligned_is_needs_reset);
    tcase_add_test(tp, test_queue_registers_frozen_while_enabled);
    tcase_add_test(tp, test_reset_mid_flight_drops_held_chains);
    tcase_add_test(tp, test_notify_storm_does_bounded_work);
    suite_add_tcase(s, tp);

    TCase *te = tcase_create("event_idx");
    tcase_add_checked_fixture(te, setup_event, teardown);
    tcase_add_test(te, test_event_idx_ignores_no_interrupt_flag);
    tcase_add_test(te, test_ring_index_read_while_driver_stores_it);
    tcase_add_test(te, test_event_idx_writes_avail_event_after_processing);
    tcase_add_test(te, test_event_idx_avail_event_wraps);
    tcase_add_test(te, test_event_idx_used_event_decides_interrupt);
    tcase_add_test(te, test_event_idx_around_wrap);
    tcase_add_test(te, test_event_idx_batch_spanning_used_event);
    suite_add_tcase(s, te);

    TCase *tn = tcase_create("no_indirect");
    tcase_add_checked_fixture(tn, setup_noindirect, teardown);
    tcase_add_test(tn, test_ring_indirect_without_feature_is_needs_reset);
    suite_add_tcase(s, tn);
    return s;
}
