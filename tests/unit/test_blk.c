/* CONTRACT §3.1 block device rules, one test per rule, through the driver-side helper and a
 * memory backend with a volatile write cache.
 */
#include "aero_blk.h"
#include "driver.h"
#include "membackend.h"

#include <check.h>
#include "check_main.h"
#include <stdlib.h>
#include <string.h>

#define DISK_SIZE (8u << 20)
#define SECTORS (DISK_SIZE / 512)

static struct fake_guest g;
static struct membk mb;
static struct aero_blk *blk;
static struct drv d;

static void make_host(bool event_idx, uint32_t lbs, const struct aero_host_ops *host,
                      uint16_t msix)
{
    fg_init(&g);
    membk_init(&mb, DISK_SIZE);
    struct aero_blk_params p = {.capacity_bytes = DISK_SIZE, .logical_block_size = lbs,
                                .event_idx = event_idx, .msix_vectors = msix};
    p.serial = "AERO-SERIAL-1";
    blk = aero_blk_new(&p, host, &g, &membk_ops, &mb, NULL);
    ck_assert_ptr_nonnull(blk);
    drv_bring_up(&d, aero_blk_vdev(blk), &g, ~0ull);
    ck_assert(aero_vdev_driver_ok(aero_blk_vdev(blk)));
}

static void make(bool event_idx, uint32_t lbs) { make_host(event_idx, lbs, &fake_host_ops, 0); }
static void setup(void) { make(true, 512); }
static void setup_deferred(void) { make_host(false, 512, &fake_host_ops_deferred, 0); }
static void setup_msix(void) { make_host(true, 512, &fake_host_ops, 2); }
static void setup_noevent(void) { make(false, 512); }
static void setup_4k(void) { make(true, 4096); }
static void teardown(void)
{
    aero_blk_free(blk);
    membk_free(&mb);
    fg_free(&g);
}

struct req {
    uint16_t head;
    uint64_t hdr, data, status;
    uint32_t len;
};

/* Build a request: header, `nseg` equal data segments (direction from type unless
 * data_write_override >= 0), status byte; direct chain or one indirect table. */
static struct req build(uint32_t type, uint64_t sector, uint32_t len, unsigned nseg, bool indirect,
                        int data_write_override)
{
    struct req r = {.len = len};
    r.hdr = fg_alloc(&g, 16, 8);
    aero_put_le32(fg_ptr(&g, r.hdr), type);
    aero_put_le32(fg_ptr(&g, r.hdr + 4), 0);
    aero_put_le64(fg_ptr(&g, r.hdr + 8), sector);
    r.status = fg_alloc(&g, 1, 1);
    *(uint8_t *)fg_ptr(&g, r.status) = 0xff;
    struct drv_buf b[200];
    unsigned n = 0;
    b[n++] = (struct drv_buf){r.hdr, 16, false};
    bool w = data_write_override >= 0 ? data_write_override : type == VIRTIO_BLK_T_IN;
    if (len) {
        r.data = fg_alloc(&g, len, 8);
        uint32_t per = len / nseg, off = 0;
        for (unsigned i = 0; i < nseg; i++) {
            uint32_t l = i + 1 == nseg ? len - off : per;
            b[n++] = (struct drv_buf){r.data + off, l, w};
            off += l;
        }
    }
    b[n++] = (struct drv_buf){r.status, 1, true};
    r.head = indirect ? drv_add_indirect(&d, 0, b, n) : drv_add_chain(&d, 0, b, n);
    drv_publish(&d, 0, r.head);
    return r;
}

static uint8_t status_of(const struct req *r) { return *(uint8_t *)fg_ptr(&g, r->status); }

static uint8_t run(uint32_t type, uint64_t sector, uint32_t len, unsigned nseg, bool indirect)
{
    struct req r = build(type, sector, len, nseg, indirect, -1);
    drv_kick(&d, 0);
    uint32_t id, ulen;
    ck_assert(drv_get_used(&d, 0, &id, &ulen));
    ck_assert_uint_eq(id, r.head);
    ck_assert_uint_eq(ulen, 0); /* CONTRACT §3.1: used.len = 0 */
    return status_of(&r);
}

static uint8_t run_req(struct req *r)
{
    drv_kick(&d, 0);
    uint32_t id;
    ck_assert(drv_get_used(&d, 0, &id, NULL));
    ck_assert_uint_eq(id, r->head);
    return status_of(r);
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + seed + (i >> 9));
}

/* ---- identity / config ---------------------------------------------------------------- */

START_TEST(test_blk_features_offered_exactly)
{
    uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_INDIRECT_DESC) |
                    (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
                    (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_F_RING_EVENT_IDX);
    ck_assert_uint_eq(drv_device_features(&d), want);
}
END_TEST

START_TEST(test_blk_event_idx_off_gives_contract_v1_features)
{
    uint64_t f = drv_device_features(&d);
    ck_assert(!(f & (1ull << VIRTIO_F_RING_EVENT_IDX)));
    ck_assert(f & (1ull << VIRTIO_F_RING_INDIRECT_DESC));
    ck_assert(!(f & (1ull << VIRTIO_F_RING_PACKED)));
}
END_TEST

START_TEST(test_blk_config_layout)
{
    ck_assert_uint_eq(drv_read(&d, 0x3000, 8), SECTORS);
    ck_assert_uint_eq(drv_read(&d, 0x3000, 4), SECTORS);
    ck_assert_uint_eq(drv_read(&d, 0x3004, 4), 0);
    ck_assert_uint_eq(drv_read(&d, 0x3008, 4), 0);   /* size_max */
    ck_assert_uint_eq(drv_read(&d, 0x300c, 4), 126); /* seg_max */
    ck_assert_uint_eq(drv_read(&d, 0x3010, 4), 0);   /* geometry */
    ck_assert_uint_eq(drv_read(&d, 0x3014, 4), 512); /* blk_size */
    for (uint32_t off = 0x18; off < 0x100; off += 4)
        ck_assert_uint_eq(drv_read(&d, 0x3000 + off, 4), 0);
    ck_assert_uint_eq(drv_read(&d, 0x12, 2), 1);
    ck_assert_uint_eq(drv_read(&d, 0x18, 2), 128);
}
END_TEST

START_TEST(test_blk_config_4k_logical_blocks)
{
    ck_assert_uint_eq(drv_read(&d, 0x3014, 4), 4096);
    ck_assert_uint_eq(drv_read(&d, 0x3000, 8), SECTORS); /* still 512-byte sectors */
}
END_TEST

/* ---- data path ------------------------------------------------------------------------ */

START_TEST(test_blk_write_then_read_round_trip)
{
    struct req w = build(VIRTIO_BLK_T_OUT, 10, 4096, 1, false, -1);
    fill_pattern(fg_ptr(&g, w.data), 4096, 3);
    ck_assert_uint_eq(run_req(&w), VIRTIO_BLK_S_OK);
    ck_assert_mem_eq(mb.cache + 10 * 512, fg_ptr(&g, w.data), 4096);
    struct req r = build(VIRTIO_BLK_T_IN, 10, 4096, 1, false, -1);
    ck_assert_uint_eq(run_req(&r), VIRTIO_BLK_S_OK);
    ck_assert_mem_eq(fg_ptr(&g, r.data), fg_ptr(&g, w.data), 4096);
}
END_TEST

START_TEST(test_blk_multi_segment_indirect_round_trip)
{
    struct req w = build(VIRTIO_BLK_T_OUT, 100, 126 * 512, 126, true, -1);
    fill_pattern(fg_ptr(&g, w.data), 126 * 512, 9);
    ck_assert_uint_eq(run_req(&w), VIRTIO_BLK_S_OK);
    struct req r = build(VIRTIO_BLK_T_IN, 100, 126 * 512, 7, false, -1);
    ck_assert_uint_eq(run_req(&r), VIRTIO_BLK_S_OK);
    ck_assert_mem_eq(fg_ptr(&g, r.data), fg_ptr(&g, w.data), 126 * 512);
}
END_TEST

START_TEST(test_blk_large_request_spans_bounce_chunks)
{
    uint32_t len = 3 * AERO_BLK_CHUNK + 1536;
    struct req w = build(VIRTIO_BLK_T_OUT, 7, len, 3, false, -1);
    fill_pattern(fg_ptr(&g, w.data), len, 1);
    ck_assert_uint_eq(run_req(&w), VIRTIO_BLK_S_OK);
    ck_assert_mem_eq(mb.cache + 7 * 512, fg_ptr(&g, w.data), len);
    struct req r = build(VIRTIO_BLK_T_IN, 7, len, 5, true, -1);
    ck_assert_uint_eq(run_req(&r), VIRTIO_BLK_S_OK);
    ck_assert_mem_eq(fg_ptr(&g, r.data), fg_ptr(&g, w.data), len);
    ck_assert_uint_ge(mb.submits, 8); /* 4 chunks each way */
}
END_TEST

START_TEST(test_blk_last_sector_ok_beyond_capacity_ioerr)
{
    ck_assert_uint_eq(run(VIRTIO_BLK_T_IN, SECTORS - 1, 512, 1, false), VIRTIO_BLK_S_OK);
    ck_assert_uint_eq(run(VIRTIO_BLK_T_IN, SECTORS - 1, 1024, 1, false), VIRTIO_BLK_S_IOERR);
    ck_assert_uint_eq(run(VIRTIO_BLK_T_OUT, SECTORS, 512, 1, false), VIRTIO_BLK_S_IOERR);
    ck_assert_uint_eq(run(VIRTIO_BLK_T_IN, 0xffffffffffffffffull, 512, 1, false),
                      VIRTIO_BLK_S_IOERR);
    ck_assert_uint_eq(run(VIRTIO_BLK_T_IN, 0x0080000000000000ull, 512, 1, false),
                      VIRTIO_BLK_S_IOERR);
}
END_TEST

START_TEST(test_blk_misaligned_length_is_ioerr)
{
    ck_assert_uint_eq(run(VIRTIO_BLK_T_IN, 0, 100, 1, false), VIRTIO_BLK_S_IOERR);
    ck_assert_uint_eq(run(VIRTIO_BLK_T_OUT, 0, 513, 1, false), VIRTIO_BLK_S_IOERR);
    ck_assert_uint_eq(mb.submits, 0);
}
END_TEST

START_TEST(test_blk_no_data_descriptor_is_ioerr)
{
    ck_assert_uint_eq(run(VIRTIO_BLK_T_IN, 0, 0, 1, false), VIRTIO_BLK_S_IOERR);
    ck_assert_uint_eq(run(VIRTIO_BLK_T_OUT, 0, 0, 1, false), VIRTIO_BLK_S_IOERR);
}
END_TEST

START_TEST(test_blk_more_than_seg_max_segments_is_ioerr)
{
    /* 127 data segments fit a 128-entry table when the status byte shares the last one. */
    uint64_t hdr = fg_alloc(&g, 16, 8);
    aero_put_le32(fg_ptr(&g, hdr), VIRTIO_BLK_T_IN);
    aero_put_le64(fg_ptr(&g, hdr + 8), 0);
    uint64_t data = fg_alloc(&g, 127 * 512 + 1, 8);
    struct drv_buf b[128];
    b[0] = (struct drv_buf){hdr, 16, false};
    for (int i = 0; i < 127; i++)
        b[1 + i] = (struct drv_buf){data + 512u * i, i == 126 ? 513 : 512, true};
    uint16_t h = drv_add_indirect(&d, 0, b, 128);
    drv_publish(&d, 0, h);
    drv_kick(&d, 0);
    ck_assert(drv_get_used(&d, 0, NULL, NULL));
    ck_assert_uint_eq(*(uint8_t *)fg_ptr(&g, data + 127 * 512), VIRTIO_BLK_S_IOERR);
    ck_assert_uint_eq(mb.submits, 0);
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

START_TEST(test_blk_status_sharing_last_data_descriptor_is_accepted)
{
    uint64_t hdr = fg_alloc(&g, 16, 8);
    aero_put_le32(fg_ptr(&g, hdr), VIRTIO_BLK_T_IN);
    aero_put_le64(fg_ptr(&g, hdr + 8), 2);
    memset(mb.cache + 1024, 0x5a, 512);
    uint64_t data = fg_alloc(&g, 513, 8);
    struct drv_buf b[2] = {{hdr, 16, false}, {data, 513, true}};
    drv_publish(&d, 0, drv_add_chain(&d, 0, b, 2));
    drv_kick(&d, 0);
    ck_assert(drv_get_used(&d, 0, NULL, NULL));
    ck_assert_uint_eq(*(uint8_t *)fg_ptr(&g, data + 512), VIRTIO_BLK_S_OK);
    ck_assert_uint_eq(*(uint8_t *)fg_ptr(&g, data + 511), 0x5a);
}
END_TEST

START_TEST(test_blk_wrong_descriptor_direction_is_ioerr)
{
    struct req r = build(VIRTIO_BLK_T_IN, 0, 512, 1, false, 0); /* IN with read-only data */
    ck_assert_uint_eq(run_req(&r), VIRTIO_BLK_S_IOERR);
    r = build(VIRTIO_BLK_T_OUT, 0, 512, 1, false, 1); /* OUT with writable data */
    ck_assert_uint_eq(run_req(&r), VIRTIO_BLK_S_IOERR);
    ck_assert_uint_eq(mb.submits, 0);
}
END_TEST

START_TEST(test_blk_readable_after_writable_is_ioerr)
{
    uint64_t hdr = fg_alloc(&g, 16, 8), data = fg_alloc(&g, 512, 8), st = fg_alloc(&g, 1, 1);
    aero_put_le32(fg_ptr(&g, hdr), VIRTIO_BLK_T_OUT);
    struct drv_buf b[4] = {{hdr, 16, false}, {st, 1, true}, {data, 512, false}, {st, 1, true}};
    drv_publish(&d, 0, drv_add_chain(&d, 0, b, 4));
    drv_kick(&d, 0);
    ck_assert(drv_get_used(&d, 0, NULL, NULL));
    ck_assert_uint_eq(*(uint8_t *)fg_ptr(&g, st), VIRTIO_BLK_S_IOERR);
}
END_TEST

START_TEST(test_blk_short_header_is_ioerr)
{
    uint64_t hdr = fg_alloc(&g, 16, 8), st = fg_alloc(&g, 1, 1);
    struct drv_buf b[2] = {{hdr, 8, false}, {st, 1, true}};
    drv_publish(&d, 0, drv_add_chain(&d, 0, b, 2));
    drv_kick(&d, 0);
    ck_assert(drv_get_used(&d, 0, NULL, NULL));
    ck_assert_uint_eq(*(uint8_t *)fg_ptr(&g, st), VIRTIO_BLK_S_IOERR);
}
END_TEST

START_TEST(test_blk_split_header_is_accepted)
{
    /* virtio 1.2 §2.6.4: no assumptions about framing; a header in two pieces still works. */
    uint64_t hdr = fg_alloc(&g, 16, 8), data = fg_alloc(&g, 512, 8), st = fg_alloc(&g, 1, 1);
    aero_put_le32(fg_ptr(&g, hdr), VIRTIO_BLK_T_IN);
    aero_put_le64(fg_ptr(&g, hdr + 8), 0);
    struct drv_buf b[4] = {{hdr, 5, false}, {hdr + 5, 11, false}, {data, 512, true}, {st, 1, true}};
    drv_publish(&d, 0, drv_add_chain(&d, 0, b, 4));
    drv_kick(&d, 0);
    ck_assert(drv_get_used(&d, 0, NULL, NULL));
    ck_assert_uint_eq(*(uint8_t *)fg_ptr(&g, st), VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(test_blk_missing_status_byte_is_needs_reset)
{
    uint64_t hdr = fg_alloc(&g, 16, 8), data = fg_alloc(&g, 512, 8);
    aero_put_le32(fg_ptr(&g, hdr), VIRTIO_BLK_T_OUT);
    struct drv_buf b[2] = {{hdr, 16, false}, {data, 512, false}};
    drv_publish(&d, 0, drv_add_chain(&d, 0, b, 2));
    drv_kick(&d, 0);
    ck_assert(drv_needs_reset(&d));
    ck_assert_uint_eq(drv_used_idx(&d, 0), 0);
    ck_assert_uint_eq(aero_blk_inflight(blk), 0);
}
END_TEST

START_TEST(test_blk_unsupported_types_are_unsupp)
{
    static const uint32_t types[] = {2, 3, 5, 11, 13, 14, 0x7fffffff, 0xffffffff};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        ck_assert_uint_eq(run(types[i], 0, 512, 1, false), VIRTIO_BLK_S_UNSUPP);
    ck_assert_uint_eq(mb.submits, 0);
}
END_TEST

START_TEST(test_blk_get_id_returns_serial)
{
    struct req r = build(VIRTIO_BLK_T_GET_ID, 0, 20, 1, false, 1);
    ck_assert_uint_eq(run_req(&r), VIRTIO_BLK_S_OK);
    char id[21] = {0};
    memcpy(id, fg_ptr(&g, r.data), 20);
    ck_assert_str_eq(id, "AERO-SERIAL-1");
}
END_TEST

START_TEST(test_blk_flush_reaches_durable_storage)
{
    struct req w = build(VIRTIO_BLK_T_OUT, 0, 1024, 1, false, -1);
    fill_pattern(fg_ptr(&g, w.data), 1024, 5);
    ck_assert_uint_eq(run_req(&w), VIRTIO_BLK_S_OK);
    ck_assert_mem_ne(mb.durable, fg_ptr(&g, w.data), 1024); /* only in the volatile cache */
    ck_assert_uint_eq(run(VIRTIO_BLK_T_FLUSH, 0, 0, 1, false), VIRTIO_BLK_S_OK);
    ck_assert_mem_eq(mb.durable, fg_ptr(&g, w.data), 1024);
    ck_assert_uint_eq(mb.flushes, 1);
}
END_TEST

START_TEST(test_blk_flush_waits_for_backend)
{
    mb.defer = true;
    struct req w = build(VIRTIO_BLK_T_OUT, 4, 512, 1, false, -1);
    fill_pattern(fg_ptr(&g, w.data), 512, 11);
    drv_kick(&d, 0);
    membk_complete_all(&mb);
    ck_assert(drv_get_used(&d, 0, NULL, NULL));
    struct req f = build(VIRTIO_BLK_T_FLUSH, 0, 0, 1, false, -1);
    drv_kick(&d, 0);
    ck_assert_uint_eq(mb.npending, 1);
    ck_assert(!drv_get_used(&d, 0, NULL, NULL)); /* not completed before the backend flushed */
    ck_assert_uint_eq(status_of(&f), 0xff);
    membk_complete_all(&mb);
    ck_assert(drv_get_used(&d, 0, NULL, NULL));
    ck_assert_uint_eq(status_of(&f), VIRTIO_BLK_S_OK);
    ck_assert_mem_eq(mb.durable + 4 * 512, fg_ptr(&g, w.data), 512);
}
END_TEST

START_TEST(test_blk_flush_with_data_is_ioerr)
{
    ck_assert_uint_eq(run(VIRTIO_BLK_T_FLUSH, 0, 512, 1, false), VIRTIO_BLK_S_IOERR);
    ck_assert_uint_eq(mb.flushes, 0);
}
END_TEST

static uint64_t watched_status;
static bool status_seen_before_used;
static bool used_published;

static void watch_order(struct fake_guest *gg, uint64_t gpa, size_t len)
{
    uint64_t used_idx = d.vq[0].used + 2;
    if (gpa <= used_idx && gpa + len > used_idx) {
        used_published = true;
        status_seen_before_used = *(uint8_t *)fg_ptr(gg, watched_status) == VIRTIO_BLK_S_OK;
    }
}

START_TEST(test_blk_status_written_before_used_entry)
{
    mb.defer = true;
    struct req r = build(VIRTIO_BLK_T_IN, 0, 512, 1, false, -1);
    watched_status = r.status;
    g.on_write = watch_order;
    drv_kick(&d, 0);
    ck_assert(!used_published);
    ck_assert_uint_eq(status_of(&r), 0xff);
    membk_complete_all(&mb);
    ck_assert(used_published);
    ck_assert(status_seen_before_used);
    g.on_write = NULL;
}
END_TEST

START_TEST(test_blk_backend_error_is_ioerr)
{
    mb.fail_all = true;
    ck_assert_uint_eq(run(VIRTIO_BLK_T_IN, 0, 512, 1, false), VIRTIO_BLK_S_IOERR);
    ck_assert_uint_eq(run(VIRTIO_BLK_T_FLUSH, 0, 0, 1, false), VIRTIO_BLK_S_IOERR);
    struct aero_vq_stats st;
    aero_vq_get_stats(aero_vdev_queue(aero_blk_vdev(blk), 0), &st);
    ck_assert_uint_eq(st.io_errors, 2);   /* the backend's failures, */
    ck_assert_uint_eq(st.guest_errors, 0); /* not the driver's */
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

START_TEST(test_blk_data_outside_guest_memory_is_needs_reset)
{
    uint64_t hdr = fg_alloc(&g, 16, 8), st = fg_alloc(&g, 1, 1);
    aero_put_le32(fg_ptr(&g, hdr), VIRTIO_BLK_T_OUT);
    struct drv_buf b[3] = {{hdr, 16, false}, {0x4000, 512, false}, {st, 1, true}};
    drv_publish(&d, 0, drv_add_chain(&d, 0, b, 3));
    drv_kick(&d, 0);
    ck_assert(drv_needs_reset(&d));
    ck_assert_uint_eq(mb.submits, 0);
    ck_assert_uint_eq(aero_blk_inflight(blk), 0);
}
END_TEST

START_TEST(test_blk_dma_into_own_bar_is_refused)
{
    /* The guest points buffers at the device's own BAR0: a status write onto the doorbell and
     * a 1-byte read (as header) of the ISR must not re-enter the device. */
    g.bar_vdev = aero_blk_vdev(blk);
    g.bar_base = 0xfe000000;
    uint64_t hdr = fg_alloc(&g, 16, 8);
    aero_put_le32(fg_ptr(&g, hdr), VIRTIO_BLK_T_FLUSH);
    struct drv_buf b[2] = {{hdr, 16, false}, {g.bar_base + 0x1000, 1, true}};
    drv_publish(&d, 0, drv_add_chain(&d, 0, b, 2));
    aero_vdev_config_changed(aero_blk_vdev(blk)); /* leave an ISR bit pending */
    unsigned notifies_before = 0;
    struct aero_vq_stats st;
    aero_vq_get_stats(aero_vdev_queue(aero_blk_vdev(blk), 0), &st);
    notifies_before = (unsigned)st.notifies;
    drv_kick(&d, 0);
    aero_vq_get_stats(aero_vdev_queue(aero_blk_vdev(blk), 0), &st);
    ck_assert_uint_eq(st.notifies, notifies_before + 1); /* the DMA "doorbell" did not count */
    ck_assert_uint_ge(g.guest_errors, 1);
    ck_assert_str_eq(g.last_error, "DMA into the device's own BAR0 refused");
    ck_assert_uint_eq(drv_used_idx(&d, 0), 1);
    ck_assert_uint_eq(drv_isr(&d) & VIRTIO_ISR_CONFIG, VIRTIO_ISR_CONFIG); /* not consumed */
    g.bar_vdev = NULL;
}
END_TEST

START_TEST(test_blk_batch_submitted_together_one_interrupt)
{
    for (int i = 0; i < 8; i++)
        build(VIRTIO_BLK_T_IN, (uint64_t)i * 8, 4096, 2, i & 1, -1);
    unsigned before = g.intx_asserts;
    drv_kick(&d, 0);
    ck_assert_uint_eq(mb.batches_begun, 1);
    ck_assert_uint_eq(mb.batches_ended, 1);
    ck_assert_uint_eq(mb.submits, 8);
    ck_assert_uint_eq(g.intx_asserts, before + 1);
    ck_assert_uint_eq(drv_used_idx(&d, 0), 8);
}
END_TEST

START_TEST(test_blk_reset_mid_flight_late_completion_ignored)
{
    mb.defer = true;
    struct req r = build(VIRTIO_BLK_T_IN, 0, 512, 1, false, -1);
    drv_kick(&d, 0);
    ck_assert_uint_eq(aero_blk_inflight(blk), 1);
    drv_write(&d, 0x14, 0, 1); /* reset with the read in flight */
    uint8_t before[64];
    memcpy(before, fg_ptr(&g, d.vq[0].used), sizeof(before));
    membk_complete_all(&mb);
    ck_assert_mem_eq(before, fg_ptr(&g, d.vq[0].used), sizeof(before));
    ck_assert_uint_eq(status_of(&r), 0xff);
    ck_assert_int_eq(g.intx, 0);
    ck_assert_uint_eq(aero_blk_inflight(blk), 0);
    /* the device works again after a fresh bring-up */
    mb.defer = false;
    drv_bring_up(&d, aero_blk_vdev(blk), &g, ~0ull);
    ck_assert_uint_eq(run(VIRTIO_BLK_T_IN, 0, 512, 1, false), VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(test_blk_reset_then_bring_up_late_completion_ignored)
{
    /* The dangerous case: the stale completion lands after the driver set up new rings. */
    mb.defer = true;
    struct req old = build(VIRTIO_BLK_T_IN, 0, 512, 1, false, -1);
    drv_kick(&d, 0);
    ck_assert_uint_eq(aero_blk_inflight(blk), 1);
    drv_write(&d, 0x14, 0, 1);
    drv_bring_up(&d, aero_blk_vdev(blk), &g, ~0ull); /* fresh rings, used.idx 0 */
    drv_isr(&d);
    membk_complete_all(&mb);
    ck_assert_uint_eq(drv_used_idx(&d, 0), 0);
    ck_assert_uint_eq(status_of(&old), 0xff);
    ck_assert_int_eq(g.intx, 0);
    ck_assert_uint_eq(aero_blk_inflight(blk), 0);
    mb.defer = false;
    ck_assert_uint_eq(run(VIRTIO_BLK_T_IN, 0, 512, 1, false), VIRTIO_BLK_S_OK);
    ck_assert_uint_eq(drv_used_idx(&d, 0), 1);
}
END_TEST

START_TEST(test_blk_late_completions_share_one_publish_and_interrupt)
{
    /* Completions arriving one by one (QEMU AIO callbacks) are published together from the
     * host's next pass: one used.idx store, one interrupt decision. EVENT_IDX is off here, so
     * per-completion flushing would interrupt eight times. */
    mb.defer = true;
    for (int i = 0; i < 8; i++)
        build(VIRTIO_BLK_T_IN, (uint64_t)i * 8, 4096, 1, false, -1);
    drv_kick(&d, 0);
    aero_vdev_run_pending(aero_blk_vdev(blk));
    ck_assert_uint_eq(mb.submits, 8);
    unsigned sched = g.schedules, asserts = g.intx_asserts;
    membk_complete_all(&mb);
    ck_assert_uint_eq(g.schedules, sched + 1); /* one pass requested for all eight */
    ck_assert_uint_eq(drv_used_idx(&d, 0), 0); /* nothing published yet */
    aero_vdev_run_pending(aero_blk_vdev(blk));
    ck_assert_uint_eq(drv_used_idx(&d, 0), 8);
    ck_assert_uint_eq(g.intx_asserts, asserts + 1);
    struct aero_vq_stats st;
    aero_vq_get_stats(aero_vdev_queue(aero_blk_vdev(blk), 0), &st);
    ck_assert_uint_eq(st.interrupts, 1);
}
END_TEST

START_TEST(test_blk_msix_queue_interrupt_is_msix_only)
{
    g.msix_enabled = true;
    drv_write(&d, 0x16, 0, 2);
    drv_write(&d, 0x1a, 1, 2);
    ck_assert_uint_eq(run(VIRTIO_BLK_T_IN, 0, 512, 1, false), VIRTIO_BLK_S_OK);
    ck_assert_uint_eq(g.msix_count[1], 1);
    ck_assert_int_eq(g.intx, 0);
    ck_assert_uint_eq(drv_read(&d, 0x2000, 1), 0); /* ISR untouched */
    /* No vector: no interrupt at all, and none is counted as raised. */
    drv_write(&d, 0x1a, VIRTIO_MSI_NO_VECTOR, 2);
    drv_set_used_event(&d, 0, drv_used_idx(&d, 0));
    ck_assert_uint_eq(run(VIRTIO_BLK_T_IN, 0, 512, 1, false), VIRTIO_BLK_S_OK);
    ck_assert_uint_eq(g.msix_count[0] + g.msix_count[1], 1);
    ck_assert_int_eq(g.intx, 0);
    struct aero_vq_stats st;
    aero_vq_get_stats(aero_vdev_queue(aero_blk_vdev(blk), 0), &st);
    ck_assert_uint_eq(st.interrupts, 1);
}
END_TEST

START_TEST(test_blk_duplicate_heads_bounded_inflight)
{
    /* A hostile driver republishes the same head while it is in flight: the device never
     * holds more than queue-size requests, and resumes when slots free up. */
    mb.defer = true;
    struct req r = build(VIRTIO_BLK_T_IN, 0, 512, 1, false, -1);
    for (int i = 0; i < 127; i++)
        drv_publish(&d, 0, r.head);
    drv_kick(&d, 0);
    ck_assert_uint_eq(aero_blk_inflight(blk), 128);
    for (int i = 0; i < 100; i++)
        drv_publish(&d, 0, r.head);
    drv_kick(&d, 0);
    ck_assert_uint_eq(aero_blk_inflight(blk), 128);
    ck_assert(!drv_needs_reset(&d));
    membk_complete_all(&mb);
    ck_assert_uint_eq(aero_blk_inflight(blk), 0);
    ck_assert_uint_eq(drv_used_idx(&d, 0), 228);
}
END_TEST

START_TEST(test_blk_counters_track_requests_and_errors)
{
    run(VIRTIO_BLK_T_IN, 0, 512, 1, false);
    run(VIRTIO_BLK_T_IN, 0, 100, 1, false);
    run(77, 0, 512, 1, false);
    struct aero_vq_stats st;
    aero_vq_get_stats(aero_vdev_queue(aero_blk_vdev(blk), 0), &st);
    ck_assert_uint_eq(st.requests, 3);
    ck_assert_uint_eq(st.guest_errors, 2); /* bad length, unknown type */
    ck_assert_uint_eq(st.io_errors, 0);
    ck_assert_uint_eq(st.notifies, 3);
    char *s = aero_vdev_stats_string(aero_blk_vdev(blk));
    ck_assert_ptr_nonnull(strstr(s, "q0 notifies=3 "));
    ck_assert_ptr_nonnull(strstr(s, " guest_errors=2 io_errors=0\n"));
    free(s);
}
END_TEST

START_TEST(test_blk_event_idx_off_uses_no_interrupt)
{
    drv_set_avail_flags(&d, 0, VRING_AVAIL_F_NO_INTERRUPT);
    ck_assert_uint_eq(run(VIRTIO_BLK_T_IN, 0, 512, 1, false), VIRTIO_BLK_S_OK);
    ck_assert_int_eq(g.intx, 0);
}
END_TEST

static void count_write(struct fake_guest *fg, uint64_t gpa, size_t len)
{
    (void)gpa;
    (void)len;
    ++*(unsigned *)fg->user;
}

/* ---- QEMU's virtio CVE history as scenarios (shared/notes/qemu-virtio.md §5) ---------------
 * Each scenario asserts the contract outcome -- an error status, or DEVICE_NEEDS_RESET with a
 * configuration interrupt and no further processing -- and then that a reset and a new
 * bring-up give a working device again. */

/* After NEEDS_RESET: the config interrupt is pending, nothing more is processed, and a reset +
 * bring-up gives a device that serves a read again. */
static void assert_failed_then_recovers(void)
{
    ck_assert(drv_needs_reset(&d));
    ck_assert_uint_eq(drv_isr(&d) & VIRTIO_ISR_CONFIG, VIRTIO_ISR_CONFIG);
    uint16_t used = drv_used_idx(&d, 0);
    build(VIRTIO_BLK_T_IN, 0, 512, 1, false, -1);
    drv_kick(&d, 0);
    ck_assert_uint_eq(drv_used_idx(&d, 0), used); /* stopped */
    drv_write(&d, 0x14, 0, 1);
    ck_assert(!drv_needs_reset(&d));
    drv_bring_up(&d, aero_blk_vdev(blk), &g, ~0ull);
    ck_assert_uint_eq(run(VIRTIO_BLK_T_IN, 0, 512, 1, false), VIRTIO_BLK_S_OK);
}

START_TEST(test_scenario_bad_queue_index_on_notify_and_select)
{
    /* CVE-2011-2512 (a negative/oversized queue index): doorbells for queues that do not exist,
     * 16- and 32-bit, and programming through an out-of-range queue_select change nothing. */
    drv_write(&d, AERO_BAR0_NOTIFY + 4u * 1, 1, 2);
    drv_write(&d, AERO_BAR0_NOTIFY + 4u * 63, 0xffff, 4);
    drv_write(&d, AERO_BAR0_NOTIFY + 2, 0xffff, 2);
    drv_write(&d, 0x16, 0xffff, 2);
    drv_write(&d, 0x20, 0x1000, 8);
    drv_write(&d, 0x1c, 1, 2);
    ck_assert_uint_eq(drv_read(&d, 0x18, 2), 0);
    drv_write(&d, 0x16, 0, 2);
    ck_assert(!drv_needs_reset(&d));
    ck_assert_uint_eq(run(VIRTIO_BLK_T_IN, 0, 512, 1, false), VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(test_scenario_avail_index_jump)
{
    /* "Guest moved used index": avail.idx more than a ring ahead. */
    drv_set_avail_idx(&d, 0, 1000);
    drv_kick(&d, 0);
    ck_assert_uint_eq(mb.submits, 0);
    assert_failed_then_recovers();
}
END_TEST

START_TEST(test_scenario_unmappable_and_split_indirect_tables)
{
    /* An indirect table outside guest memory, and one that starts inside and runs past its
     * end: the table is refused whole, nothing of it is used. */
    uint64_t end = g.base + g.size;
    bool split = _i == 1;
    uint64_t table = split ? end - 16 : 0x80000;
    drv_set_desc(&d, 0, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    drv_publish(&d, 0, 0);
    drv_kick(&d, 0);
    ck_assert_uint_eq(mb.submits, 0);
    assert_failed_then_recovers();
}
END_TEST

START_TEST(test_scenario_zero_length_descriptors)
{
    /* CVE-2016-6490: zero-length descriptors in a chain are skipped, not looped on; the request
     * is served from the descriptors that carry bytes. A chain whose last descriptor is empty has
     * no status byte: NEEDS_RESET. */
    uint64_t hdr = fg_alloc(&g, 16, 8), data = fg_alloc(&g, 512, 8), st = fg_alloc(&g, 1, 1);
    aero_put_le32(fg_ptr(&g, hdr), VIRTIO_BLK_T_IN);
    struct drv_buf b[8] = {{hdr, 16, false}, {data, 0, true},  {data, 0, true}, {data, 512, true},
                           {data, 0, true},  {st, 0, true},    {st, 0, true},   {st, 1, true}};
    drv_publish(&d, 0, drv_add_chain(&d, 0, b, 8));
    drv_kick(&d, 0);
    ck_assert_uint_eq(*(uint8_t *)fg_ptr(&g, st), VIRTIO_BLK_S_OK);
    b[7].len = 0;
    drv_publish(&d, 0, drv_add_chain(&d, 0, b, 8));
    drv_kick(&d, 0);
    assert_failed_then_recovers();
}
END_TEST

START_TEST(test_scenario_huge_lengths_overflow_and_mmio)
{
    /* CVE-2016-7422 and friends: a 4 GiB - 1 data descriptor (IOERR: past capacity, no
     * allocation of that size), an address + length that wraps (NEEDS_RESET), a buffer in MMIO
     * space outside guest RAM (NEEDS_RESET when touched). */
    uint64_t hdr = fg_alloc(&g, 16, 8), st = fg_alloc(&g, 1, 1);
    aero_put_le32(fg_ptr(&g, hdr), VIRTIO_BLK_T_IN);
    struct drv_buf b[3] = {{hdr, 16, false}, {g.base, 0xfffffe00u, true}, {st, 1, true}};
    drv_publish(&d, 0, drv_add_chain(&d, 0, b, 3));
    drv_kick(&d, 0);
    ck_assert_uint_eq(*(uint8_t *)fg_ptr(&g, st), VIRTIO_BLK_S_IOERR);
    ck_assert_uint_eq(mb.submits, 0);
    if (_i == 0) {
        b[1] = (struct drv_buf){0xfffffffffffff000ull, 0x2000, true};
    } else {
        aero_put_le32(fg_ptr(&g, hdr), VIRTIO_BLK_T_OUT);
        b[1] = (struct drv_buf){0xfe000000ull, 512, false}; /* an MMIO window */
    }
    drv_publish(&d, 0, drv_add_chain(&d, 0, b, 3));
    drv_kick(&d, 0);
    ck_assert_uint_eq(mb.submits, 0);
    assert_failed_then_recovers();
}
END_TEST

START_TEST(test_scenario_pops_without_completion_stay_bounded)
{
    /* CVE-2016-5403: a driver that keeps publishing while nothing completes cannot make the
     * device hold more than a ring's worth of requests (or memory for them). */
    mb.defer = true;
    struct req r = build(VIRTIO_BLK_T_IN, 0, 512, 1, false, -1);
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 100; i++)
            drv_publish(&d, 0, r.head);
        drv_kick(&d, 0);
        ck_assert_uint_le(aero_blk_inflight(blk), AERO_BLK_QUEUE_SIZE);
        ck_assert_uint_le(mb.npending, AERO_BLK_QUEUE_SIZE);
        if (drv_needs_reset(&d))
            break; /* the index ran more than a ring ahead: also a contract outcome */
    }
    membk_complete_all(&mb);
    ck_assert_uint_eq(aero_blk_inflight(blk), 0);
}
END_TEST

START_TEST(test_scenario_several_in_flight_then_reset)
{
    /* CVE-2021-3748 (use of mapped buffers after they were released): several requests in
     * flight, the driver resets and reuses the memory; the late completions must not write a
     * byte into guest memory. */
    mb.defer = true;
    for (int i = 0; i < 6; i++)
        build(VIRTIO_BLK_T_IN, (uint64_t)i, 512, 1 + (i % 3), i & 1, -1);
    drv_kick(&d, 0);
    ck_assert_uint_eq(aero_blk_inflight(blk), 6);
    drv_write(&d, 0x14, 0, 1);
    unsigned writes = 0;
    g.user = &writes;
    g.on_write = count_write;
    membk_complete_all(&mb);
    ck_assert_uint_eq(writes, 0);
    g.on_write = NULL;
    ck_assert_uint_eq(aero_blk_inflight(blk), 0);
    drv_bring_up(&d, aero_blk_vdev(blk), &g, ~0ull);
    mb.defer = false;
    ck_assert_uint_eq(run(VIRTIO_BLK_T_IN, 0, 512, 1, false), VIRTIO_BLK_S_OK);
}
END_TEST

/* The driver rewrites the request header right after the device copied it. */
static uint64_t refetch_hdr;
static unsigned hdr_reads;
static void rewrite_after_read(struct fake_guest *fg, uint64_t gpa, size_t len)
{
    if (gpa == refetch_hdr && len >= 16) {
        hdr_reads++;
        aero_put_le32(fg_ptr(fg, refetch_hdr), VIRTIO_BLK_T_OUT);
        aero_put_le64(fg_ptr(fg, refetch_hdr + 8), ~0ull);
    }
}

START_TEST(test_scenario_double_fetch_header_copied_once)
{
    /* A driver rewriting the header while the device works on it (double fetch): the device
     * reads it once and acts on that copy -- a read of sector 5 -- and never again. */
    fill_pattern(mb.cache + 5 * 512, 512, 3);
    struct req r = build(VIRTIO_BLK_T_IN, 5, 512, 1, false, -1);
    refetch_hdr = r.hdr;
    hdr_reads = 0;
    g.after_read = rewrite_after_read;
    ck_assert_uint_eq(run_req(&r), VIRTIO_BLK_S_OK);
    g.after_read = NULL;
    ck_assert_uint_eq(hdr_reads, 1);
    ck_assert(memcmp(fg_ptr(&g, r.data), mb.cache + 5 * 512, 512) == 0);
}
END_TEST

START_TEST(test_scenario_config_abuse)
{
    /* Odd widths and offsets in every window, garbage selectors, queue_enable != 1, a resize
     * while enabled: reads give defined values, writes change nothing that matters. */
    static const uint32_t offs[] = {0x0001, 0x0013, 0x0037, 0x00ff, 0x1003, 0x2001,
                                    0x3001, 0x30fe, 0x30ff, 0x3fff, 0x0fff};
    for (unsigned i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        for (unsigned w = 1; w <= 8; w *= 2) {
            drv_read(&d, offs[i], w);
            if (offs[i] != 0x0013) /* not device_status */
                drv_write(&d, offs[i], 0xa5a5a5a5a5a5a5a5ull, w);
        }
    }
    drv_write(&d, 0x00, 7, 4); /* device_feature_select beyond 1 */
    ck_assert_uint_eq(drv_read(&d, 0x04, 4), 0);
    drv_write(&d, 0x16, 0, 2);
    drv_write(&d, 0x1c, 2, 2);   /* queue_enable = 2 */
    drv_write(&d, 0x18, 16, 2);  /* resize after enable */
    ck_assert_uint_eq(drv_read(&d, 0x18, 2), AERO_BLK_QUEUE_SIZE);
    ck_assert(!drv_needs_reset(&d));
    ck_assert_uint_eq(run(VIRTIO_BLK_T_IN, 0, 512, 1, false), VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(test_scenario_after_error_stop_and_recover)
{
    /* virtio_error(): a loop sets NEEDS_RESET with a configuration interrupt; notifies do
     * nothing until the reset; then the device works again. */
    drv_set_desc(&d, 0, 0, fg_alloc(&g, 16, 8), 16, VIRTQ_DESC_F_NEXT, 0);
    drv_publish(&d, 0, 0);
    drv_kick(&d, 0);
    ck_assert_ptr_nonnull(strstr(g.last_error, "loops"));
    assert_failed_then_recovers();
}
END_TEST

/* ---- aero_blk_parse_request: the pure chain -> request step, one row per CONTRACT §3.1 rule -- */

#define R(a, l) {.addr = (a), .len = (l), .write = false}
#define W(a, l) {.addr = (a), .len = (l), .write = true}
#define CAP 2048u /* sectors */

static const struct parse_case {
    const char *rule;
    uint32_t type;
    uint64_t sector;
    uint16_t nsg;
    struct aero_sg sg[4];
    int want;
    uint64_t want_offset, want_len;
} parse_cases[] = {
    {"IN, one segment", 0, 3, 3, {R(0x1000, 16), W(0x2000, 4096), W(0x3000, 1)}, 0, 3 * 512, 4096},
    {"OUT, header and data in one descriptor", 1, 0, 2, {R(0x1000, 16 + 512), W(0x3000, 1)}, 0, 0, 512},
    {"OUT, two segments", 1, 7, 4, {R(0x1000, 16), R(0x2000, 512), R(0x4000, 1024), W(0x3000, 1)}, 0, 7 * 512, 1536},
    {"IN, status shares the last data descriptor", 0, 0, 2, {R(0x1000, 16), W(0x2000, 513)}, 0, 0, 512},
    {"IN, last sector", 0, CAP - 1, 3, {R(0x1000, 16), W(0x2000, 512), W(0x3000, 1)}, 0, (CAP - 1) * 512ull, 512},
    {"IN, one sector past capacity", 0, CAP, 3, {R(0x1000, 16), W(0x2000, 512), W(0x3000, 1)}, VIRTIO_BLK_S_IOERR, 0, 0},
    {"IN, ends past capacity", 0, CAP - 1, 3, {R(0x1000, 16), W(0x2000, 1024), W(0x3000, 1)}, VIRTIO_BLK_S_IOERR, 0, 0},
    {"IN, sector near 2^64 (no overflow)", 0, UINT64_MAX / 256, 3, {R(0x1000, 16), W(0x2000, 512), W(0x3000, 1)}, VIRTIO_BLK_S_IOERR, 0, 0},
    {"IN, length not a multiple of 512", 0, 0, 3, {R(0x1000, 16), W(0x2000, 100), W(0x3000, 1)}, VIRTIO_BLK_S_IOERR, 0, 0},
    {"IN, no data", 0, 0, 2, {R(0x1000, 16), W(0x3000, 1)}, VIRTIO_BLK_S_IOERR, 0, 0},
    {"IN with device-readable data", 0, 0, 4, {R(0x1000, 16), R(0x1800, 512), W(0x2000, 512), W(0x3000, 1)}, VIRTIO_BLK_S_IOERR, 0, 0},
    {"OUT with device-writable data", 1, 0, 4, {R(0x1000, 16), R(0x1800, 512), W(0x2000, 512), W(0x3000, 1)}, VIRTIO_BLK_S_IOERR, 0, 0},
    {"readable after writable", 1, 0, 4, {R(0x1000, 16), W(0x2000, 512), R(0x1800, 512), W(0x3000, 1)}, VIRTIO_BLK_S_IOERR, 0, 0},
    {"header shorter than 16 bytes", 0, 0, 3, {R(0x1000, 8), W(0x2000, 512), W(0x3000, 1)}, VIRTIO_BLK_S_IOERR, 0, 0},
    {"FLUSH", 4, 0, 2, {R(0x1000, 16), W(0x3000, 1)}, 0, 0, 0},
    {"FLUSH with data", 4, 0, 3, {R(0x1000, 16), W(0x2000, 512), W(0x3000, 1)}, VIRTIO_BLK_S_IOERR, 0, 0},
    {"GET_ID, 20 bytes", 8, 0, 3, {R(0x1000, 16), W(0x2000, 20), W(0x3000, 1)}, 0, 0, 20},
    {"GET_ID, larger buffer gets 20", 8, 0, 3, {R(0x1000, 16), W(0x2000, 512), W(0x3000, 1)}, 0, 0, 20},
    {"GET_ID with readable data", 8, 0, 4, {R(0x1000, 16), R(0x1800, 4), W(0x2000, 20), W(0x3000, 1)}, VIRTIO_BLK_S_IOERR, 0, 0},
    {"unknown type", 77, 0, 3, {R(0x1000, 16), W(0x2000, 512), W(0x3000, 1)}, VIRTIO_BLK_S_UNSUPP, 0, 0},
    {"DISCARD is not offered", 11, 0, 3, {R(0x1000, 16), R(0x2000, 16), W(0x3000, 1)}, VIRTIO_BLK_S_UNSUPP, 0, 0},
    {"last descriptor read-only: no status", 1, 0, 2, {R(0x1000, 16), R(0x2000, 512)}, AERO_BLK_PARSE_NO_STATUS, 0, 0},
    {"last descriptor empty: no status", 0, 0, 3, {R(0x1000, 16), W(0x2000, 512), W(0x3000, 0)}, AERO_BLK_PARSE_NO_STATUS, 0, 0},
};

START_TEST(test_blk_parse_request_rules)
{
    const struct parse_case *pc = &parse_cases[_i];
    static struct aero_chain c;
    memset(&c, 0, sizeof(c));
    c.nsg = pc->nsg;
    for (uint16_t k = 0; k < pc->nsg; k++) {
        c.sg[k] = pc->sg[k];
        if (c.sg[k].write)
            c.writable_bytes += c.sg[k].len;
        else
            c.readable_bytes += c.sg[k].len;
    }
    uint8_t hdr[16] = {0};
    aero_put_le32(hdr, pc->type);
    aero_put_le64(hdr + 8, pc->sector);
    struct aero_blk_request rq;
    int got = aero_blk_parse_request(&c, c.readable_bytes >= 16 ? hdr : NULL, CAP, &rq);
    ck_assert_msg(got == pc->want, "%s: got %d, want %d", pc->rule, got, pc->want);
    if (got == AERO_BLK_PARSE_NO_STATUS)
        return;
    const struct aero_sg *last = &c.sg[c.nsg - 1];
    ck_assert_msg(rq.status_addr == last->addr + last->len - 1, "%s: status address", pc->rule);
    if (got != VIRTIO_BLK_S_OK)
        return;
    ck_assert_msg(rq.type == pc->type, "%s: type", pc->rule);
    ck_assert_msg(rq.offset == pc->want_offset, "%s: offset %llu", pc->rule,
                  (unsigned long long)rq.offset);
    ck_assert_msg(rq.data_len == pc->want_len, "%s: length %llu", pc->rule,
                  (unsigned long long)rq.data_len);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("blk");
    TCase *tc = tcase_create("event_idx_on");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_blk_features_offered_exactly);
    tcase_add_test(tc, test_blk_config_layout);
    tcase_add_test(tc, test_blk_write_then_read_round_trip);
    tcase_add_test(tc, test_blk_multi_segment_indirect_round_trip);
    tcase_add_test(tc, test_blk_large_request_spans_bounce_chunks);
    tcase_add_test(tc, test_blk_last_sector_ok_beyond_capacity_ioerr);
    tcase_add_test(tc, test_blk_misaligned_length_is_ioerr);
    tcase_add_test(tc, test_blk_no_data_descriptor_is_ioerr);
    tcase_add_test(tc, test_blk_more_than_seg_max_segments_is_ioerr);
    tcase_add_test(tc, test_blk_status_sharing_last_data_descriptor_is_accepted);
    tcase_add_test(tc, test_blk_wrong_descriptor_direction_is_ioerr);
    tcase_add_test(tc, test_blk_readable_after_writable_is_ioerr);
    tcase_add_test(tc, test_blk_short_header_is_ioerr);
    tcase_add_test(tc, test_blk_split_header_is_accepted);
    tcase_add_test(tc, test_blk_missing_status_byte_is_needs_reset);
    tcase_add_test(tc, test_blk_unsupported_types_are_unsupp);
    tcase_add_test(tc, test_blk_get_id_returns_serial);
    tcase_add_test(tc, test_blk_flush_reaches_durable_storage);
    tcase_add_test(tc, test_blk_flush_waits_for_backend);
    tcase_add_test(tc, test_blk_flush_with_data_is_ioerr);
    tcase_add_test(tc, test_blk_status_written_before_used_entry);
    tcase_add_test(tc, test_blk_backend_error_is_ioerr);
    tcase_add_test(tc, test_blk_data_outside_guest_memory_is_needs_reset);
    tcase_add_test(tc, test_blk_batch_submitted_together_one_interrupt);
    tcase_add_test(tc, test_blk_dma_into_own_bar_is_refused);
    tcase_add_test(tc, test_blk_reset_mid_flight_late_completion_ignored);
    tcase_add_test(tc, test_blk_reset_then_bring_up_late_completion_ignored);
    tcase_add_test(tc, test_blk_duplicate_heads_bounded_inflight);
    tcase_add_test(tc, test_blk_counters_track_requests_and_errors);
    suite_add_tcase(s, tc);
    TCase *ts = tcase_create("scenarios");
    tcase_add_checked_fixture(ts, setup, teardown);
    tcase_add_test(ts, test_scenario_bad_queue_index_on_notify_and_select);
    tcase_add_test(ts, test_scenario_avail_index_jump);
    tcase_add_loop_test(ts, test_scenario_unmappable_and_split_indirect_tables, 0, 2);
    tcase_add_test(ts, test_scenario_zero_length_descriptors);
    tcase_add_loop_test(ts, test_scenario_huge_lengths_overflow_and_mmio, 0, 2);
    tcase_add_test(ts, test_scenario_pops_without_completion_stay_bounded);
    tcase_add_test(ts, test_scenario_several_in_flight_then_reset);
    tcase_add_test(ts, test_scenario_double_fetch_header_copied_once);
    tcase_add_test(ts, test_scenario_config_abuse);
    tcase_add_test(ts, test_scenario_after_error_stop_and_recover);
    suite_add_tcase(s, ts);

    TCase *tp = tcase_create("parse");
    tcase_add_loop_test(tp, test_blk_parse_request_rules, 0,
                        (int)(sizeof(parse_cases) / sizeof(parse_cases[0])));
    suite_add_tcase(s, tp);

    TCase *tn = tcase_create("event_idx_off");
    tcase_add_checked_fixture(tn, setup_noevent, teardown);
    tcase_add_test(tn, test_blk_event_idx_off_gives_contract_v1_features);
    tcase_add_test(tn, test_blk_event_idx_off_uses_no_interrupt);
    suite_add_tcase(s, tn);
    TCase *td = tcase_create("deferred_host");
    tcase_add_checked_fixture(td, setup_deferred, teardown);
    tcase_add_test(td, test_blk_late_completions_share_one_publish_and_interrupt);
    suite_add_tcase(s, td);
    TCase *tm = tcase_create("msix");
    tcase_add_checked_fixture(tm, setup_msix, teardown);
    tcase_add_test(tm, test_blk_msix_queue_interrupt_is_msix_only);
    suite_add_tcase(s, tm);
    TCase *t4 = tcase_create("lbs_4k");
    tcase_add_checked_fixture(t4, setup_4k, teardown);
    tcase_add_test(t4, test_blk_config_4k_logical_blocks);
    suite_add_tcase(s, t4);
    return s;
}
