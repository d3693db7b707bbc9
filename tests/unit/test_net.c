/* CONTRACT §3.2 network device rules, one test per rule, plus hostile chains on both queues. */
#include "aero_net.h"
#include "driver.h"

#include <check.h>
#include "check_main.h"
#include <stdlib.h>
#include <string.h>

static struct fake_guest g;
static struct aero_net *net;
static struct drv d;

struct sent {
    unsigned n;
    size_t len[64];
    uint8_t data[64][1600];
    unsigned rx_ready;
};
static struct sent tx;

static bool echo_back;
static bool refill; /* a driver on another vCPU that republishes a TX chain for every frame */
static uint16_t refill_head;
static unsigned kick_inside; /* transmit() publishes these TX heads and kicks TX right away */
static uint16_t kick_heads[4];

static void be_transmit(void *opaque, const uint8_t *frame, size_t len)
{
    if (echo_back) /* like slirp: the reply arrives from inside transmit() */
        aero_net_receive(net, frame, len);
    if (refill)
        drv_publish(&d, AERO_NET_TXQ, refill_head);
    if (kick_inside) {
        /* Synchronous host: the reply's interrupt handler queues more TX and kicks at once. */
        drv_publish(&d, AERO_NET_TXQ, kick_heads[--kick_inside]);
        drv_kick(&d, AERO_NET_TXQ);
    }
    if (tx.n < 64) {
        tx.len[tx.n] = len;
        memcpy(tx.data[tx.n], frame, len);
    }
    tx.n++;
}
static void be_rx_ready(void *opaque) { tx.rx_ready++; }
static const struct aero_net_backend_ops be = {.transmit = be_transmit, .rx_ready = be_rx_ready};

static void make_host(unsigned hl, bool event_idx, const struct aero_host_ops *host)
{
    echo_back = false;
    refill = false;
    kick_inside = 0;
    fg_init(&g);
    memset(&tx, 0, sizeof(tx));
    struct aero_net_params p = {.mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, .event_idx = event_idx,
                                .header_len = hl, .link_up = true};
    net = aero_net_new(&p, host, &g, &be, NULL, NULL);
    ck_assert_ptr_nonnull(net);
    drv_bring_up(&d, aero_net_vdev(net), &g, ~0ull);
}
static void make(unsigned hl, bool event_idx) { make_host(hl, event_idx, &fake_host_ops); }
static void setup10(void) { make(10, true); }
static void setup12(void) { make(12, false); }
static void setup_deferred(void) { make_host(10, true, &fake_host_ops_deferred); }
static void teardown(void)
{
    aero_net_free(net);
    fg_free(&g);
}

static void frame_fill(uint8_t *f, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        f[i] = (uint8_t)(seed + i * 13);
}

/* TX chain: header + frame, split into readable pieces; written, not yet published. */
static uint16_t tx_build(unsigned hl, size_t frame_len, unsigned seed, bool add_write)
{
    uint64_t hdr = fg_alloc(&g, hl, 2), data = fg_alloc(&g, frame_len + 1, 2);
    memset(fg_ptr(&g, hdr), 0xee, hl); /* garbage header must be ignored */
    frame_fill(fg_ptr(&g, data), frame_len, seed);
    struct drv_buf b[4];
    unsigned n = 0;
    b[n++] = (struct drv_buf){hdr, hl, false};
    if (frame_len > 20) {
        b[n++] = (struct drv_buf){data, 20, false};
        b[n++] = (struct drv_buf){data + 20, (uint32_t)frame_len - 20, false};
    } else if (frame_len) {
        b[n++] = (struct drv_buf){data, (uint32_t)frame_len, false};
    }
    if (add_write)
        b[n++] = (struct drv_buf){fg_alloc(&g, 4, 4), 4, true};
    return drv_add_chain(&d, AERO_NET_TXQ, b, n);
}

static uint16_t tx_chain(unsigned hl, size_t frame_len, unsigned seed, bool add_write)
{
    uint16_t h = tx_build(hl, frame_len, seed, add_write);
    drv_publish(&d, AERO_NET_TXQ, h);
    return h;
}

static uint64_t rx_post(uint32_t len)
{
    uint64_t buf = fg_alloc(&g, len, 8);
    memset(fg_ptr(&g, buf), 0xaa, len);
    struct drv_buf b = {buf, len, true};
    drv_publish(&d, AERO_NET_RXQ, drv_add_chain(&d, AERO_NET_RXQ, &b, 1));
    drv_kick(&d, AERO_NET_RXQ);
    return buf;
}

START_TEST(test_net_features_offered_exactly)
{
    uint64_t f = drv_device_features(&d);
    uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_INDIRECT_DESC) |
                    (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |
                    (1ull << VIRTIO_F_RING_EVENT_IDX);
    ck_assert_uint_eq(f, want);
    ck_assert(!(f & (1ull << VIRTIO_NET_F_MRG_RXBUF)));
    ck_assert(!(f & (1ull << VIRTIO_NET_F_CTRL_VQ)));
    ck_assert(!(f & 1)); /* CSUM */
}
END_TEST

START_TEST(test_net_config_layout)
{
    ck_assert_uint_eq(drv_read(&d, 0x3000, 4), 0x12005452);
    ck_assert_uint_eq(drv_read(&d, 0x3004, 2), 0x5634);
    ck_assert_uint_eq(drv_read(&d, 0x3006, 2), VIRTIO_NET_S_LINK_UP);
    ck_assert_uint_eq(drv_read(&d, 0x3008, 2), 1);
    ck_assert_uint_eq(drv_read(&d, 0x300a, 2), 0);
    ck_assert_uint_eq(drv_read(&d, 0x12, 2), 2);
    drv_write(&d, 0x16, 0, 2);
    ck_assert_uint_eq(drv_read(&d, 0x18, 2), 256);
    drv_write(&d, 0x16, 1, 2);
    ck_assert_uint_eq(drv_read(&d, 0x18, 2), 256);
}
END_TEST

START_TEST(test_net_tx_header_ignored_frame_sent)
{
    tx_chain(10, 60, 1, false);
    tx_chain(10, 1514, 2, false);
    drv_kick(&d, AERO_NET_TXQ);
    ck_assert_uint_eq(tx.n, 2);
    ck_assert_uint_eq(tx.len[0], 60);
    ck_assert_uint_eq(tx.len[1], 1514);
    uint8_t want[1514];
    frame_fill(want, 1514, 2);
    ck_assert_mem_eq(tx.data[1], want, 1514);
    uint32_t len;
    ck_assert(drv_get_used(&d, AERO_NET_TXQ, NULL, &len));
    ck_assert_uint_eq(len, 0);
    struct aero_net_stats st;
    aero_net_get_stats(net, &st);
    ck_assert_uint_eq(st.tx_frames, 2);
    ck_assert_uint_eq(st.tx_bytes, 1574);
}
END_TEST

START_TEST(test_net_tx_frame_size_limits)
{
    tx_chain(10, 13, 1, false);   /* too short: dropped, completed */
    tx_chain(10, 14, 1, false);   /* minimum */
    tx_chain(10, 1522, 1, false); /* VLAN maximum */
    tx_chain(10, 1523, 1, false); /* too long */
    tx_chain(10, 0, 1, false);    /* header only */
    drv_kick(&d, AERO_NET_TXQ);
    ck_assert_uint_eq(tx.n, 2);
    ck_assert_uint_eq(tx.len[0], 14);
    ck_assert_uint_eq(tx.len[1], 1522);
    ck_assert_uint_eq(drv_used_idx(&d, AERO_NET_TXQ), 5); /* every chain completed */
    struct aero_net_stats st;
    aero_net_get_stats(net, &st);
    ck_assert_uint_eq(st.tx_dropped, 3);
}
END_TEST

START_TEST(test_net_tx_chain_with_write_descriptor_dropped_but_completed)
{
    tx_chain(10, 100, 1, true);
    drv_kick(&d, AERO_NET_TXQ);
    ck_assert_uint_eq(tx.n, 0);
    uint32_t len;
    ck_assert(drv_get_used(&d, AERO_NET_TXQ, NULL, &len));
    ck_assert_uint_eq(len, 0);
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

START_TEST(test_net_tx_indirect)
{
    uint64_t hdr = fg_alloc(&g, 10, 2), data = fg_alloc(&g, 64, 2);
    frame_fill(fg_ptr(&g, data), 64, 5);
    struct drv_buf b[2] = {{hdr, 10, false}, {data, 64, false}};
    drv_publish(&d, AERO_NET_TXQ, drv_add_indirect(&d, AERO_NET_TXQ, b, 2));
    drv_kick(&d, AERO_NET_TXQ);
    ck_assert_uint_eq(tx.n, 1);
    ck_assert_mem_eq(tx.data[0], fg_ptr(&g, data), 64);
}
END_TEST

START_TEST(test_net_rx_zero_header_and_frame)
{
    uint64_t buf = rx_post(2048);
    uint8_t f[100];
    frame_fill(f, 100, 9);
    ck_assert_int_eq(aero_net_receive(net, f, 100), AERO_NET_RX_DELIVERED);
    uint32_t len;
    ck_assert(drv_get_used(&d, AERO_NET_RXQ, NULL, &len));
    ck_assert_uint_eq(len, 110);
    uint8_t zero[10] = {0};
    ck_assert_mem_eq(fg_ptr(&g, buf), zero, 10);
    ck_assert_mem_eq((uint8_t *)fg_ptr(&g, buf) + 10, f, 100);
    ck_assert_uint_eq(*((uint8_t *)fg_ptr(&g, buf) + 110), 0xaa); /* nothing past the frame */
}
END_TEST

START_TEST(test_net_rx_12_byte_header_num_buffers_1)
{
    uint64_t buf = rx_post(2048);
    uint8_t f[60] = {1, 2, 3};
    ck_assert_int_eq(aero_net_receive(net, f, 60), AERO_NET_RX_DELIVERED);
    uint32_t len;
    ck_assert(drv_get_used(&d, AERO_NET_RXQ, NULL, &len));
    ck_assert_uint_eq(len, 72);
    ck_assert_uint_eq(aero_le16(fg_ptr(&g, buf + 10)), 1);
    ck_assert_uint_eq(*(uint8_t *)fg_ptr(&g, buf + 12), 1);
}
END_TEST

START_TEST(test_net_rx_12_byte_header_rest_is_zero)
{
    uint64_t buf = rx_post(2048);
    uint8_t f[60];
    frame_fill(f, 60, 3);
    ck_assert_int_eq(aero_net_receive(net, f, 60), AERO_NET_RX_DELIVERED);
    uint8_t zero[10] = {0};
    ck_assert_mem_eq(fg_ptr(&g, buf), zero, 10);
    ck_assert_mem_eq((uint8_t *)fg_ptr(&g, buf) + 12, f, 60);
}
END_TEST

START_TEST(test_net_tx_12_byte_header_skipped)
{
    tx_chain(12, 60, 7, false);
    tx_chain(12, 1522, 8, false);
    drv_kick(&d, AERO_NET_TXQ);
    ck_assert_uint_eq(tx.n, 2);
    uint8_t want[1522];
    frame_fill(want, 60, 7);
    ck_assert_uint_eq(tx.len[0], 60);
    ck_assert_mem_eq(tx.data[0], want, 60);
    frame_fill(want, 1522, 8);
    ck_assert_uint_eq(tx.len[1], 1522);
    ck_assert_mem_eq(tx.data[1], want, 1522);
}
END_TEST

START_TEST(test_net_event_idx_off_gives_contract_v1_features)
{
    uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_INDIRECT_DESC) |
                    (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS);
    ck_assert_uint_eq(drv_device_features(&d), want);
}
END_TEST

START_TEST(test_net_tx_shorter_than_header_dropped_but_completed)
{
    uint64_t hdr = fg_alloc(&g, 8, 2);
    struct drv_buf b = {hdr, 8, false};
    drv_publish(&d, AERO_NET_TXQ, drv_add_chain(&d, AERO_NET_TXQ, &b, 1));
    drv_kick(&d, AERO_NET_TXQ);
    ck_assert_uint_eq(tx.n, 0);
    ck_assert_uint_eq(drv_used_idx(&d, AERO_NET_TXQ), 1);
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

START_TEST(test_net_config_writes_ignored)
{
    drv_write(&d, 0x3000, 0xffffffff, 4);
    drv_write(&d, 0x3006, 0, 2);
    drv_write(&d, 0x3008, 7, 2);
    ck_assert_uint_eq(drv_read(&d, 0x3000, 4), 0x12005452);
    ck_assert_uint_eq(drv_read(&d, 0x3006, 2), VIRTIO_NET_S_LINK_UP);
    ck_assert_uint_eq(drv_read(&d, 0x3008, 2), 1);
}
END_TEST

START_TEST(test_net_rx_spans_several_descriptors)
{
    /* Header in its own 10-byte buffer, the frame across two more (small-buffer drivers). */
    uint64_t a = fg_alloc(&g, 10, 2), b1 = fg_alloc(&g, 30, 2), b2 = fg_alloc(&g, 2000, 2);
    struct drv_buf b[3] = {{a, 10, true}, {b1, 30, true}, {b2, 2000, true}};
    drv_publish(&d, AERO_NET_RXQ, drv_add_chain(&d, AERO_NET_RXQ, b, 3));
    drv_kick(&d, AERO_NET_RXQ);
    uint8_t f[100];
    frame_fill(f, 100, 11);
    ck_assert_int_eq(aero_net_receive(net, f, 100), AERO_NET_RX_DELIVERED);
    uint32_t len;
    ck_assert(drv_get_used(&d, AERO_NET_RXQ, NULL, &len));
    ck_assert_uint_eq(len, 110);
    ck_assert_mem_eq(fg_ptr(&g, b1), f, 30);
    ck_assert_mem_eq(fg_ptr(&g, b2), f + 30, 70);
}
END_TEST

START_TEST(test_net_tx_kick_from_inside_transmit_is_not_a_nested_pass)
{
    /* Issue 15: on a host without a schedule op, a kick from inside transmit() ran a nested TX
     * pass over the same chain and frame buffers; the outer pass then completed one head twice
     * and lost its own. Every head must complete exactly once, every frame go out once. */
    uint16_t first = tx_build(10, 60, 1, false);
    kick_heads[1] = tx_build(10, 70, 2, false);
    kick_heads[0] = tx_build(10, 80, 3, false);
    kick_inside = 2;
    drv_publish(&d, AERO_NET_TXQ, first);
    drv_kick(&d, AERO_NET_TXQ);
    ck_assert_uint_eq(tx.n, 3);
    ck_assert_uint_eq(tx.len[0], 60);
    ck_assert_uint_eq(tx.len[1], 70);
    ck_assert_uint_eq(tx.len[2], 80);
    uint32_t id;
    bool seen[3] = {false, false, false};
    uint16_t heads[3] = {first, kick_heads[1], kick_heads[0]};
    unsigned used = 0;
    while (drv_get_used(&d, AERO_NET_TXQ, &id, NULL)) {
        used++;
        for (int k = 0; k < 3; k++) {
            if (id == heads[k]) {
                ck_assert_msg(!seen[k], "head %u completed twice", id);
                seen[k] = true;
            }
        }
    }
    ck_assert_uint_eq(used, 3);
    ck_assert(seen[0] && seen[1] && seen[2]);
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

START_TEST(test_net_empty_frame_is_dropped_not_held)
{
    /* Issue 15: an empty frame read as "no buffer, keep it" stalled the receive path for good
     * (the host waits for an rx_ready that never comes). */
    rx_post(2048);
    uint8_t f[60] = {0};
    ck_assert_int_eq(aero_net_receive(net, f, 0), AERO_NET_RX_DROPPED);
    ck_assert_int_eq(aero_net_receive(net, f, 60), AERO_NET_RX_DELIVERED);
    ck_assert_uint_eq(drv_used_idx(&d, AERO_NET_RXQ), 1);
}
END_TEST

START_TEST(test_net_tx_refilling_driver_gets_bounded_passes)
{
    /* CONTRACT §2: no notify makes the device do unbounded work. A driver that republishes a
     * chain for every frame sent would keep a naive loop running forever; the device stops
     * after one ring's worth and asks the host for another pass. */
    refill_head = tx_chain(10, 60, 1, false);
    refill = true;
    drv_kick(&d, AERO_NET_TXQ);
    unsigned sched = g.schedules;
    aero_vdev_run_pending(aero_net_vdev(net));
    ck_assert_uint_eq(tx.n, 256);
    ck_assert_uint_eq(g.schedules, sched + 1); /* continues in the next pass */
    ck_assert_uint_eq(drv_used_idx(&d, AERO_NET_TXQ), 256); /* published before yielding */
    aero_vdev_run_pending(aero_net_vdev(net));
    ck_assert_uint_eq(tx.n, 512);
    refill = false;
    aero_vdev_run_pending(aero_net_vdev(net));
    ck_assert_uint_eq(tx.n, 513); /* the last republished chain, then the ring is empty */
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

START_TEST(test_net_rx_bad_size_dropped_without_consuming_chain)
{
    rx_post(2048);
    uint8_t f[1600] = {0};
    ck_assert_int_eq(aero_net_receive(net, f, 13), AERO_NET_RX_DROPPED);
    ck_assert_int_eq(aero_net_receive(net, f, 1523), AERO_NET_RX_DROPPED);
    ck_assert_uint_eq(drv_used_idx(&d, AERO_NET_RXQ), 0);
    ck_assert_int_eq(aero_net_receive(net, f, 1522), AERO_NET_RX_DELIVERED);
    ck_assert_uint_eq(drv_used_idx(&d, AERO_NET_RXQ), 1);
}
END_TEST

START_TEST(test_net_rx_chain_too_small_drops_frame_keeps_chain)
{
    rx_post(64);
    uint8_t f[200] = {0};
    ck_assert_int_eq(aero_net_receive(net, f, 200), AERO_NET_RX_DROPPED); /* dropped */
    ck_assert_uint_eq(drv_used_idx(&d, AERO_NET_RXQ), 0);
    ck_assert_int_eq(aero_net_receive(net, f, 54), AERO_NET_RX_DELIVERED); /* fits exactly: 10 + 54 */
    uint32_t len;
    ck_assert(drv_get_used(&d, AERO_NET_RXQ, NULL, &len));
    ck_assert_uint_eq(len, 64);
    struct aero_net_stats st;
    aero_net_get_stats(net, &st);
    ck_assert_uint_eq(st.rx_dropped, 1);
    ck_assert_uint_eq(st.rx_frames, 1);
}
END_TEST

START_TEST(test_net_rx_no_buffer_backpressure_then_resume)
{
    uint8_t f[60] = {0};
    unsigned ready = tx.rx_ready;
    ck_assert(!aero_net_can_receive(net));
    ck_assert_int_eq(aero_net_receive(net, f, 60), AERO_NET_RX_NO_BUFFER);
    ck_assert_uint_eq(tx.rx_ready, ready);
    rx_post(2048); /* the kick on rxq tells the host to flush what it held */
    ck_assert_uint_eq(tx.rx_ready, ready + 1);
    ck_assert(aero_net_can_receive(net));
    ck_assert_int_eq(aero_net_receive(net, f, 60), AERO_NET_RX_DELIVERED);
    ck_assert_int_eq(aero_net_receive(net, f, 60), AERO_NET_RX_NO_BUFFER);
}
END_TEST

START_TEST(test_net_frames_held_across_reset_are_flushed_after_bring_up)
{
    /* Frames refused before a reset (e.g. before the guest driver probes, or while a driver
     * reloads) sit in the host's queue; after bring-up the host must be told to deliver them,
     * or a backend that stopped reading (tap, socket) never resumes. */
    uint8_t f[60] = {0};
    ck_assert_int_eq(aero_net_receive(net, f, 60), AERO_NET_RX_NO_BUFFER);
    drv_write(&d, 0x14, 0, 1); /* the driver resets the device */
    unsigned ready = tx.rx_ready;
    drv_bring_up(&d, aero_net_vdev(net), &g, ~0ull);
    rx_post(2048);
    ck_assert_uint_gt(tx.rx_ready, ready);
    ck_assert(aero_net_can_receive(net));
    ck_assert_int_eq(aero_net_receive(net, f, 60), AERO_NET_RX_DELIVERED);
}
END_TEST

START_TEST(test_net_rx_before_driver_ok_is_refused)
{
    drv_write(&d, 0x14, 0, 1);
    uint8_t f[60] = {0};
    ck_assert(!aero_net_can_receive(net));
    ck_assert_int_eq(aero_net_receive(net, f, 60), AERO_NET_RX_NO_BUFFER);
}
END_TEST

START_TEST(test_net_rx_event_idx_rearms_for_kick)
{
    uint8_t f[60] = {0};
    ck_assert_int_eq(aero_net_receive(net, f, 60), AERO_NET_RX_NO_BUFFER);
    /* The device asked for a kick at the next avail index. */
    ck_assert_uint_eq(drv_avail_event(&d, AERO_NET_RXQ), 0);
    rx_post(128);
    ck_assert_int_eq(aero_net_receive(net, f, 60), AERO_NET_RX_DELIVERED);
    ck_assert_int_eq(aero_net_receive(net, f, 60), AERO_NET_RX_NO_BUFFER);
    ck_assert_uint_eq(drv_avail_event(&d, AERO_NET_RXQ), 1);
}
END_TEST

START_TEST(test_net_link_status_change_interrupts)
{
    unsigned before = g.intx_asserts;
    uint8_t gen = (uint8_t)drv_read(&d, 0x15, 1);
    aero_net_set_link(net, false);
    ck_assert_uint_eq(drv_read(&d, 0x3006, 2), 0);
    ck_assert_uint_eq(g.intx_asserts, before + 1);
    ck_assert_uint_eq(drv_isr(&d), VIRTIO_ISR_CONFIG);
    ck_assert_uint_ne(drv_read(&d, 0x15, 1), gen);
    aero_net_set_link(net, false); /* no change, no interrupt */
    ck_assert_int_eq(g.intx, 0);
    aero_net_set_link(net, true);
    ck_assert_uint_eq(drv_read(&d, 0x3006, 2), VIRTIO_NET_S_LINK_UP);
}
END_TEST

START_TEST(test_net_rx_from_inside_transmit_keeps_tx_state)
{
    uint64_t rxbuf = rx_post(2048);
    echo_back = true;
    uint16_t h1 = tx_chain(10, 80, 4, false);
    uint16_t h2 = tx_chain(10, 90, 5, false);
    drv_kick(&d, AERO_NET_TXQ);
    uint32_t id;
    ck_assert(drv_get_used(&d, AERO_NET_TXQ, &id, NULL));
    ck_assert_uint_eq(id, h1);
    ck_assert(drv_get_used(&d, AERO_NET_TXQ, &id, NULL));
    ck_assert_uint_eq(id, h2);
    ck_assert_uint_eq(tx.n, 2);
    ck_assert_uint_eq(tx.len[1], 90);
    uint32_t len;
    ck_assert(drv_get_used(&d, AERO_NET_RXQ, NULL, &len));
    ck_assert_uint_eq(len, 90);
    ck_assert_mem_eq((uint8_t *)fg_ptr(&g, rxbuf) + 10, tx.data[0], 80);
}
END_TEST

START_TEST(test_net_hostile_tx_loop_is_needs_reset)
{
    drv_set_desc(&d, AERO_NET_TXQ, 0, g.base, 64, VIRTQ_DESC_F_NEXT, 0);
    drv_publish(&d, AERO_NET_TXQ, 0);
    drv_kick(&d, AERO_NET_TXQ);
    ck_assert(drv_needs_reset(&d));
    ck_assert_uint_eq(tx.n, 0);
}
END_TEST

START_TEST(test_net_hostile_rx_buffer_outside_memory_is_needs_reset)
{
    struct drv_buf b = {0x1000, 2048, true};
    drv_publish(&d, AERO_NET_RXQ, drv_add_chain(&d, AERO_NET_RXQ, &b, 1));
    drv_kick(&d, AERO_NET_RXQ);
    uint8_t f[60] = {0};
    ck_assert_int_eq(aero_net_receive(net, f, 60), AERO_NET_RX_DROPPED);
    ck_assert(drv_needs_reset(&d));
    ck_assert_uint_eq(drv_used_idx(&d, AERO_NET_RXQ), 0);
    ck_assert_int_eq(aero_net_receive(net, f, 60), AERO_NET_RX_NO_BUFFER); /* broken: nothing more accepted */
}
END_TEST

START_TEST(test_net_hostile_rx_avail_jump_is_needs_reset)
{
    drv_set_avail_idx(&d, AERO_NET_RXQ, 300);
    drv_kick(&d, AERO_NET_RXQ);
    uint8_t f[60] = {0};
    aero_net_receive(net, f, 60);
    ck_assert(drv_needs_reset(&d));
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("hdr10_event_idx");
    tcase_add_checked_fixture(tc, setup10, teardown);
    tcase_add_test(tc, test_net_tx_kick_from_inside_transmit_is_not_a_nested_pass);
    tcase_add_test(tc, test_net_empty_frame_is_dropped_not_held);
    tcase_add_test(tc, test_net_features_offered_exactly);
    tcase_add_test(tc, test_net_config_layout);
    tcase_add_test(tc, test_net_tx_header_ignored_frame_sent);
    tcase_add_test(tc, test_net_tx_frame_size_limits);
    tcase_add_test(tc, test_net_tx_chain_with_write_descriptor_dropped_but_completed);
    tcase_add_test(tc, test_net_tx_indirect);
    tcase_add_test(tc, test_net_rx_zero_header_and_frame);
    tcase_add_test(tc, test_net_rx_bad_size_dropped_without_consuming_chain);
    tcase_add_test(tc, test_net_rx_chain_too_small_drops_frame_keeps_chain);
    tcase_add_test(tc, test_net_rx_no_buffer_backpressure_then_resume);
    tcase_add_test(tc, test_net_frames_held_across_reset_are_flushed_after_bring_up);
    tcase_add_test(tc, test_net_rx_before_driver_ok_is_refused);
    tcase_add_test(tc, test_net_tx_shorter_than_header_dropped_but_completed);
    tcase_add_test(tc, test_net_config_writes_ignored);
    tcase_add_test(tc, test_net_rx_spans_several_descriptors);
    tcase_add_test(tc, test_net_rx_event_idx_rearms_for_kick);
    tcase_add_test(tc, test_net_link_status_change_interrupts);
    tcase_add_test(tc, test_net_rx_from_inside_transmit_keeps_tx_state);
    tcase_add_test(tc, test_net_hostile_tx_loop_is_needs_reset);
    tcase_add_test(tc, test_net_hostile_rx_buffer_outside_memory_is_needs_reset);
    tcase_add_test(tc, test_net_hostile_rx_avail_jump_is_needs_reset);
    suite_add_tcase(s, tc);
    TCase *t12 = tcase_create("hdr12");
    tcase_add_checked_fixture(t12, setup12, teardown);
    tcase_add_test(t12, test_net_rx_12_byte_header_num_buffers_1);
    tcase_add_test(t12, test_net_rx_12_byte_header_rest_is_zero);
    tcase_add_test(t12, test_net_tx_12_byte_header_skipped);
    tcase_add_test(t12, test_net_event_idx_off_gives_contract_v1_features);
    suite_add_tcase(s, t12);
    TCase *td = tcase_create("deferred_host");
    tcase_add_checked_fixture(td, setup_deferred, teardown);
    tcase_add_test(td, test_net_tx_refilling_driver_gets_bounded_passes);
    suite_add_tcase(s, td);
    return s;
}
