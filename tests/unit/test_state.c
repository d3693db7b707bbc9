/* Migration state (aero_vdev_save / aero_vdev_load): a device's state saved mid-workload and
 * restored into a fresh device on the same guest memory continues the work, each request
 * completing exactly once; a truncated, bit-flipped or inconsistent state is refused with a
 * reason and leaves the live device untouched.
 */
#include "aero_blk.h"
#include "aero_input.h"
#include "aero_net.h"
#include "driver.h"
#include "membackend.h"

#include <check.h>
#include "check_main.h"
#include <stdlib.h>
#include <string.h>

#define DISK_SIZE (4u << 20)

/* Layout of a version-1 blob, for the tests that edit single fields (state.c's header). */
#define HDR 20u
#define T_PAY (HDR + 8u)         /* transport payload */
#define T_LEN 44u                /* transport payload length */
#define Q_PAY(q) (T_PAY + T_LEN + 8u + (q) * 50u)
#define T_STATUS (T_PAY + 4)
#define T_NEGOTIATED (T_PAY + 21)
#define T_MSIX_CONFIG (T_PAY + 29)
#define T_ISR (T_PAY + 34)
#define T_BROKEN (T_PAY + 35)
#define T_PENDING (T_PAY + 36)
#define Q_SIZE(q) (Q_PAY(q) + 2)
#define Q_VECTOR(q) (Q_PAY(q) + 4)
#define Q_ENABLED(q) (Q_PAY(q) + 6)
#define Q_DESC(q) (Q_PAY(q) + 7)
#define Q_USED(q) (Q_PAY(q) + 23)
#define Q_LAST_AVAIL(q) (Q_PAY(q) + 31)
#define Q_SHADOW(q) (Q_PAY(q) + 33)
#define Q_USED_IDX(q) (Q_PAY(q) + 35)
#define Q_PUSHED(q) (Q_PAY(q) + 37)
#define DEV_PAY(nq) Q_PAY(nq) /* the device section follows the last queue */

static struct fake_guest g;
static struct drv d;

/* ---- blob helpers ------------------------------------------------------------------------- */

static uint8_t *save(struct aero_vdev *v, size_t *len)
{
    *len = aero_vdev_save(v, NULL, 0);
    ck_assert_uint_gt(*len, HDR);
    uint8_t *b = malloc(*len);
    ck_assert_uint_eq(aero_vdev_save(v, b, *len), *len);
    return b;
}

static void fix_crc(uint8_t *b, size_t len) { aero_put_le32(b + len - 4, aero_state_crc32(b, len - 4)); }

static void put(uint8_t *b, size_t off, unsigned width, uint64_t v)
{
    for (unsigned i = 0; i < width; i++)
        b[off + i] = (uint8_t)(v >> (8 * i));
}

/* A refused load must leave the device exactly as it was: its own state blob is unchanged. */
static void assert_refused(struct aero_vdev *v, const uint8_t *b, size_t len, const char *reason)
{
    size_t before_len;
    uint8_t *before = save(v, &before_len);
    const char *why = aero_vdev_load(v, b, len);
    ck_assert_msg(why != NULL, "state accepted, expected refusal '%s'", reason ? reason : "");
    if (reason)
        ck_assert_msg(strstr(why, reason), "reason '%s' lacks '%s'", why, reason);
    size_t after_len;
    uint8_t *after = save(v, &after_len);
    ck_assert_uint_eq(before_len, after_len);
    ck_assert(memcmp(before, after, before_len) == 0);
    free(before);
    free(after);
}

/* ---- blk: requests in flight travel and complete exactly once --------------------------------- */

static struct membk mb_src, mb_dst;
static struct aero_blk *src, *dst;

struct breq {
    uint16_t head;
    uint64_t data, status;
    uint32_t type;
    uint64_t sector;
};

static struct aero_blk *new_blk(struct membk *m, const struct aero_host_ops *host, bool ev)
{
    struct aero_blk_params p = {.capacity_bytes = DISK_SIZE, .logical_block_size = 512,
                                .event_idx = ev};
    struct aero_blk *b = aero_blk_new(&p, host, &g, &membk_ops, m, NULL);
    ck_assert_ptr_nonnull(b);
    return b;
}

static void blk_setup_host(const struct aero_host_ops *host)
{
    fg_init(&g);
    membk_init(&mb_src, DISK_SIZE);
    membk_init(&mb_dst, DISK_SIZE);
    src = new_blk(&mb_src, host, true);
    dst = new_blk(&mb_dst, host, true);
    drv_bring_up(&d, aero_blk_vdev(src), &g, ~0ull);
}
static void blk_setup(void) { blk_setup_host(&fake_host_ops); }
static void blk_setup_deferred(void) { blk_setup_host(&fake_host_ops_deferred); }
static void blk_teardown(void)
{
    aero_blk_free(src);
    aero_blk_free(dst);
    membk_free(&mb_src);
    membk_free(&mb_dst);
    fg_free(&g);
}

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

static struct breq blk_req(uint32_t type, uint64_t sector, uint32_t len, unsigned seed)
{
    struct breq r = {.type = type, .sector = sector};
    uint64_t hdr = fg_alloc(&g, 16, 8);
    aero_put_le32(fg_ptr(&g, hdr), type);
    aero_put_le32(fg_ptr(&g, hdr + 4), 0);
    aero_put_le64(fg_ptr(&g, hdr + 8), sector);
    r.data = fg_alloc(&g, len, 8);
    if (type == VIRTIO_BLK_T_OUT)
        pattern(fg_ptr(&g, r.data), len, seed);
    else
        memset(fg_ptr(&g, r.data), 0xee, len);
    r.status = fg_alloc(&g, 1, 1);
    *(uint8_t *)fg_ptr(&g, r.status) = 0xff;
    struct drv_buf b[3] = {{hdr, 16, false},
                           {r.data, len, type == VIRTIO_BLK_T_IN},
                           {r.status, 1, true}};
    r.head = seed % 2 ? drv_add_indirect(&d, 0, b, 3) : drv_add_chain(&d, 0, b, 3);
    drv_publish(&d, 0, r.head);
    return r;
}

/* Collect used elements into a per-head count. */
static unsigned drain_used(unsigned *count_by_head)
{
    unsigned n = 0;
    uint32_t id;
    while (drv_get_used(&d, 0, &id, NULL)) {
        ck_assert_uint_lt(id, AERO_BLK_QUEUE_SIZE);
        count_by_head[id]++;
        n++;
    }
    return n;
}

#define NREQ 24
#define REQ_LEN 4096u

START_TEST(test_state_blk_inflight_requests_resubmitted_once)
{
    struct breq r[NREQ];
    unsigned seen[AERO_BLK_QUEUE_SIZE] = {0};
    /* The disk starts with a known pattern the reads must find. */
    pattern(mb_src.cache, DISK_SIZE, 99);
    mb_src.defer = true;
    for (unsigned i = 0; i < NREQ; i++) {
        uint32_t type = i % 3 == 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
        r[i] = blk_req(type, 8ull * i, REQ_LEN, i + 1);
    }
    drv_kick(&d, 0);
    ck_assert_uint_eq(aero_blk_inflight(src), NREQ);
    /* A third completes on the source; the rest is in flight when the state is saved. */
    for (unsigned i = 0; i < NREQ / 3; i++)
        membk_complete_one(&mb_src, 0);
    unsigned before = drain_used(seen);
    ck_assert_uint_eq(before, NREQ / 3);

    size_t len;
    uint8_t *blob = save(aero_blk_vdev(src), &len);
    /* Shared storage: the destination sees what the source wrote (the source stops here, its
     * in-flight I/O never completes). */
    memcpy(mb_dst.cache, mb_src.cache, DISK_SIZE);
    const char *why = aero_vdev_load(aero_blk_vdev(dst), blob, len);
    ck_assert_msg(why == NULL, "load refused: %s", why);
    free(blob);
    d.vdev = aero_blk_vdev(dst);

    unsigned after = drain_used(seen);
    ck_assert_uint_eq(before + after, NREQ);
    for (unsigned i = 0; i < NREQ; i++) {
        ck_assert_uint_eq(seen[r[i].head], 1);
        ck_assert_uint_eq(*(uint8_t *)fg_ptr(&g, r[i].status), VIRTIO_BLK_S_OK);
        uint8_t want[REQ_LEN];
        if (r[i].type == VIRTIO_BLK_T_OUT) {
            pattern(want, REQ_LEN, i + 1);
            ck_assert(memcmp(mb_dst.cache + r[i].sector * 512, want, REQ_LEN) == 0);
        } else {
            uint8_t *full = malloc(DISK_SIZE);
            pattern(full, DISK_SIZE, 99);
            ck_assert(memcmp(fg_ptr(&g, r[i].data), full + r[i].sector * 512, REQ_LEN) == 0);
            free(full);
        }
    }
    ck_assert_uint_eq(aero_blk_inflight(dst), 0);

    /* Work continues on the destination. */
    struct breq more = blk_req(VIRTIO_BLK_T_OUT, 4000, REQ_LEN, 77);
    drv_kick(&d, 0);
    uint32_t id;
    ck_assert(drv_get_used(&d, 0, &id, NULL));
    ck_assert_uint_eq(id, more.head);
    ck_assert_uint_eq(*(uint8_t *)fg_ptr(&g, more.status), VIRTIO_BLK_S_OK);
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

/* With a deferring host (QEMU: bottom halves), a doorbell not yet processed and completions not
 * yet published when the VM stops travel too and are finished by the destination's first pass. */
START_TEST(test_state_blk_deferred_doorbell_and_flush_travel)
{
    unsigned seen[AERO_BLK_QUEUE_SIZE] = {0};
    mb_src.defer = true;
    struct breq a = blk_req(VIRTIO_BLK_T_OUT, 0, REQ_LEN, 1);
    drv_kick(&d, 0);
    aero_vdev_run_pending(aero_blk_vdev(src)); /* a goes to the backend */
    membk_complete_all(&mb_src);               /* a completes: its publish is deferred */
    struct breq b = blk_req(VIRTIO_BLK_T_OUT, 8, REQ_LEN, 2);
    drv_kick(&d, 0); /* b's doorbell is pending */
    ck_assert_uint_eq(drain_used(seen), 0);

    size_t len;
    uint8_t *blob = save(aero_blk_vdev(src), &len);
    memcpy(mb_dst.cache, mb_src.cache, DISK_SIZE);
    unsigned sched = g.schedules;
    ck_assert_ptr_null(aero_vdev_load(aero_blk_vdev(dst), blob, len));
    free(blob);
    ck_assert_uint_gt(g.schedules, sched); /* the destination asked for its pass */
    d.vdev = aero_blk_vdev(dst);
    aero_vdev_run_pending(aero_blk_vdev(dst));
    aero_vdev_run_pending(aero_blk_vdev(dst));
    ck_assert_uint_eq(drain_used(seen), 2);
    ck_assert_uint_eq(seen[a.head], 1);
    ck_assert_uint_eq(seen[b.head], 1);
    uint8_t want[REQ_LEN];
    pattern(want, REQ_LEN, 2);
    ck_assert(memcmp(mb_dst.cache + 8 * 512, want, REQ_LEN) == 0);
}
END_TEST

/* Every truncation and every single-bit flip of a real mid-workload blob is refused, and the
 * device that refused it is untouched and keeps working. */
START_TEST(test_state_truncated_and_bit_flipped_are_refused)
{
    mb_src.defer = true;
    for (unsigned i = 0; i < 6; i++)
        blk_req(VIRTIO_BLK_T_OUT, 8ull * i, 512, i + 1);
    drv_kick(&d, 0);
    size_t len;
    uint8_t *blob = save(aero_blk_vdev(src), &len);
    struct aero_vdev *v = aero_blk_vdev(dst);
    for (size_t n = 0; n < len; n++)
        assert_refused(v, blob, n, NULL);
    uint8_t *bad = malloc(len);
    for (size_t bit = 0; bit < 8 * len; bit++) {
        memcpy(bad, blob, len);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_refused(v, bad, len, NULL);
    }
    /* Flips with the checksum repaired reach the field validation: none may crash or touch
     * memory outside the blob and the arena (ASan build), most must be refused. */
    unsigned refused = 0;
    for (size_t bit = 8 * HDR; bit < 8 * (len - 4); bit++) {
        memcpy(bad, blob, len);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        fix_crc(bad, len);
        struct membk m;
        membk_init(&m, DISK_SIZE);
        struct aero_blk *fresh = new_blk(&m, &fake_host_ops, true);
        if (aero_vdev_load(aero_blk_vdev(fresh), bad, len))
            refused++;
        aero_blk_free(fresh);
        membk_free(&m);
    }
    ck_assert_uint_gt(refused, 8 * (len - 4 - HDR) / 4);
    free(bad);
    /* The intact blob still loads, and the device works. */
    ck_assert_ptr_null(aero_vdev_load(v, blob, len));
    free(blob);
    ck_assert(!aero_vdev_broken(v));
}
END_TEST

/* ---- inconsistent states, one row per rule ---------------------------------------------------- */

struct edit {
    const char *name;
    size_t off;
    unsigned width;
    uint64_t value;
    const char *reason;
};

static const struct edit blk_edits[] = {
    {"magic", 0, 1, 'X', "bad magic"},
    {"newer version", 8, 2, 2, "version 2"},
    {"other device", 10, 2, 0x1041, "PCI device 1041"},
    {"section count", 14, 2, 5, "sections"},
    {"body length", 16, 4, 12, "body"},
    {"queue count", T_PAY, 2, 2, "2 queues"},
    {"vector count", T_PAY + 2, 2, 2, "MSI-X vectors"},
    {"undefined status bit", T_STATUS, 1, 0x1f, "undefined bits"},
    {"NEEDS_RESET without broken", T_STATUS, 1, 0x4f, "disagree"},
    {"broken not boolean", T_BROKEN, 1, 7, "boolean"},
    {"features not offered", T_NEGOTIATED, 8, (1ull << 32) | (1ull << 34), "differ"},
    {"config vector", T_MSIX_CONFIG, 2, 5, "config vector"},
    {"ISR bits", T_ISR, 1, 0x80, "ISR"},
    {"pending beyond queues", T_PENDING, 4, 0x10, "do not exist"},
    {"queue size not a power of two", Q_SIZE(0), 2, 96, "size 96"},
    {"queue size above maximum", Q_SIZE(0), 2, 256, "size 256"},
    {"queue vector", Q_VECTOR(0), 2, 3, "vector 3"},
    {"enabled not boolean", Q_ENABLED(0), 1, 2, "booleans"},
    {"desc ring outside guest memory", Q_DESC(0), 8, 0x10000000ull, "outside guest memory"},
    {"desc ring misaligned", Q_DESC(0), 8, 0x100000008ull, "misaligned"},
    {"used ring at the arena's end", Q_USED(0), 8, 0x100000000ull + (16u << 20) - 8,
     "outside guest memory"},
    {"avail ahead by more than a ring", Q_SHADOW(0), 2, 0x4000, "ahead"},
    {"more in flight than the ring", Q_USED_IDX(0), 2, 0x8000, "in flight"},
    {"pushed beyond the ring", Q_PUSHED(0), 2, 500, "unpublished"},
    {"blk in-flight count", DEV_PAY(1), 2, 1, "blk:"},
    {"blk head beyond the queue", DEV_PAY(1) + 2, 2, 200, "head 200"},
    {"blk head twice", DEV_PAY(1) + 4, 2, 0, "twice"},
};

START_TEST(test_state_inconsistent_states_are_refused)
{
    const struct edit *e = &blk_edits[_i];
    mb_src.defer = true;
    blk_req(VIRTIO_BLK_T_OUT, 0, 512, 2);
    blk_req(VIRTIO_BLK_T_OUT, 8, 512, 4);
    drv_kick(&d, 0);
    size_t len;
    uint8_t *blob = save(aero_blk_vdev(src), &len);
    ck_assert_ptr_null(aero_vdev_load(aero_blk_vdev(dst), blob, len)); /* the base is good */
    put(blob, e->off, e->width, e->value);
    fix_crc(blob, len);
    struct membk m;
    membk_init(&m, DISK_SIZE);
    struct aero_blk *fresh = new_blk(&m, &fake_host_ops, true);
    ck_assert_msg(aero_vdev_load(aero_blk_vdev(fresh), blob, len) != NULL, "row '%s' accepted",
                  e->name);
    assert_refused(aero_blk_vdev(fresh), blob, len, e->reason);
    aero_blk_free(fresh);
    membk_free(&m);
    free(blob);
}
END_TEST

/* The destination offers fewer features than the source negotiated (event-idx=off there). */
START_TEST(test_state_feature_not_offered_here_is_refused)
{
    size_t len;
    uint8_t *blob = save(aero_blk_vdev(src), &len);
    struct membk m;
    membk_init(&m, DISK_SIZE);
    struct aero_blk *noev = new_blk(&m, &fake_host_ops, false);
    assert_refused(aero_blk_vdev(noev), blob, len, "not all offered here");
    aero_blk_free(noev);
    membk_free(&m);
    free(blob);
}
END_TEST

/* ---- net: link and MAC travel; chains published before the stop are served after ---------- */

static unsigned frames_sent;
static void be_transmit(void *opaque, const uint8_t *frame, size_t len) { frames_sent++; }
static const struct aero_net_backend_ops net_be = {.transmit = be_transmit};

static struct aero_net *new_net(const uint8_t mac[6], unsigned hl, bool link)
{
    struct aero_net_params p = {.event_idx = true, .header_len = hl, .link_up = link};
    memcpy(p.mac, mac, 6);
    struct aero_net *n = aero_net_new(&p, &fake_host_ops, &g, &net_be, NULL, NULL);
    ck_assert_ptr_nonnull(n);
    return n;
}

START_TEST(test_state_net_link_mac_and_pending_tx)
{
    static const uint8_t mac_a[6] = {0x52, 0x54, 0, 1, 2, 3}, mac_b[6] = {0x52, 0x54, 0, 9, 9, 9};
    fg_init(&g);
    frames_sent = 0;
    struct aero_net *a = new_net(mac_a, 12, true), *b = new_net(mac_b, 12, true);
    drv_bring_up(&d, aero_net_vdev(a), &g, ~0ull);
    aero_net_set_link(a, false);
    /* A TX frame published without a kick (the driver relies on avail_event). */
    uint64_t hdr = fg_alloc(&g, 12, 2), data = fg_alloc(&g, 60, 2);
    memset(fg_ptr(&g, data), 0x11, 60);
    struct drv_buf bufs[2] = {{hdr, 12, false}, {data, 60, false}};
    uint16_t head = drv_add_chain(&d, AERO_NET_TXQ, bufs, 2);
    drv_publish(&d, AERO_NET_TXQ, head);
    ck_assert_uint_eq(frames_sent, 0);

    size_t len;
    uint8_t *blob = save(aero_net_vdev(a), &len);
    ck_assert_ptr_null(aero_vdev_load(aero_net_vdev(b), blob, len));
    d.vdev = aero_net_vdev(b);
    ck_assert_uint_eq(frames_sent, 1); /* the destination's first pass served it */
    uint32_t id;
    ck_assert(drv_get_used(&d, AERO_NET_TXQ, &id, NULL));
    ck_assert_uint_eq(id, head);
    ck_assert(!aero_net_link(b));
    uint8_t mac[6];
    aero_net_mac(b, mac);
    ck_assert(memcmp(mac, mac_a, 6) == 0);
    ck_assert_uint_eq(drv_read(&d, 0x3006, 2), 0); /* the guest reads link down */

    /* A destination with another header length refuses, and says why. */
    struct aero_net *c = new_net(mac_a, 10, true);
    assert_refused(aero_net_vdev(c), blob, len, "header-len differs");
    /* A multicast MAC is not a state this device can be in. */
    put(blob, DEV_PAY(2) + 2, 1, 0x01);
    fix_crc(blob, len);
    assert_refused(aero_net_vdev(b), blob, len, "multicast");
    free(blob);
    aero_net_free(a);
    aero_net_free(b);
    aero_net_free(c);
    fg_free(&g);
}
END_TEST

/* ---- input: backlog, keys down and LEDs travel ---------------------------------------------- */

static struct aero_input *new_input(enum aero_input_kind kind)
{
    struct aero_input_params p = {.kind = kind};
    struct aero_input *in = aero_input_new(&p, &fake_host_ops, &g, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(in);
    return in;
}

static void post_event_buffers(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        struct drv_buf b = {fg_alloc(&g, 8, 8), 8, true};
        drv_publish(&d, 0, drv_add_chain(&d, 0, &b, 1));
    }
    drv_kick(&d, 0);
}

static bool next_event(uint16_t *type, uint16_t *code, int32_t *value)
{
    uint32_t id, len;
    if (!drv_get_used(&d, 0, &id, &len))
        return false;
    ck_assert_uint_eq(len, 8);
    /* Buffers are 8 bytes each, allocated in order: find this head's buffer through its
     * descriptor. */
    uint8_t *desc = fg_ptr(&g, d.vq[0].desc + 16ull * id);
    uint8_t *ev = fg_ptr(&g, aero_le64(desc));
    *type = aero_le16(ev);
    *code = aero_le16(ev + 2);
    *value = (int32_t)aero_le32(ev + 4);
    return true;
}

START_TEST(test_state_input_backlog_keys_and_leds)
{
    fg_init(&g);
    struct aero_input *a = new_input(AERO_INPUT_KEYBOARD), *b = new_input(AERO_INPUT_KEYBOARD);
    drv_bring_up(&d, aero_input_vdev(a), &g, ~0ull);
    /* LED state through statusq. */
    uint64_t led = fg_alloc(&g, 8, 8);
    aero_put_le16(fg_ptr(&g, led), AERO_EV_LED);
    aero_put_le16(fg_ptr(&g, led + 2), AERO_LED_CAPSL);
    aero_put_le32(fg_ptr(&g, led + 4), 1);
    struct drv_buf lb = {led, 8, false};
    drv_publish(&d, 1, drv_add_chain(&d, 1, &lb, 1));
    drv_kick(&d, 1);
    ck_assert_uint_eq(aero_input_leds(a), 1u << AERO_LED_CAPSL);
    /* Two batches while no event buffer is posted: kept in the backlog. */
    ck_assert(aero_input_event(a, AERO_EV_KEY, 30, 1));
    aero_input_sync(a);
    ck_assert(aero_input_event(a, AERO_EV_KEY, 48, 1));
    ck_assert(aero_input_event(a, AERO_EV_KEY, 48, 0));
    aero_input_sync(a);

    size_t len;
    uint8_t *blob = save(aero_input_vdev(a), &len);
    struct aero_input *mouse = new_input(AERO_INPUT_MOUSE);
    assert_refused(aero_input_vdev(mouse), blob, len, "PCI device"); /* same id, other subsys */
    aero_input_free(mouse);
    ck_assert_ptr_null(aero_vdev_load(aero_input_vdev(b), blob, len));
    d.vdev = aero_input_vdev(b);
    ck_assert_uint_eq(aero_input_leds(b), 1u << AERO_LED_CAPSL);

    post_event_buffers(8);
    static const struct {
        uint16_t type, code;
        int32_t value;
    } want[] = {{AERO_EV_KEY, 30, 1}, {0, 0, 0}, {AERO_EV_KEY, 48, 1}, {AERO_EV_KEY, 48, 0},
                {0, 0, 0}};
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        uint16_t t, c;
        int32_t v;
        ck_assert_msg(next_event(&t, &c, &v), "event %u missing", i);
        ck_assert_uint_eq(t, want[i].type);
        ck_assert_uint_eq(c, want[i].code);
        ck_assert_int_eq(v, want[i].value);
    }
    uint16_t t, c;
    int32_t v;
    ck_assert(!next_event(&t, &c, &v)); /* exactly once */
    /* Key 30 is still down on the destination: a second press is no event, a release is. */
    ck_assert(!aero_input_event(b, AERO_EV_KEY, 30, 1));
    ck_assert(aero_input_event(b, AERO_EV_KEY, 30, 0));
    aero_input_sync(b);
    ck_assert(next_event(&t, &c, &v));
    ck_assert_uint_eq(c, 30);
    ck_assert_int_eq(v, 0);

    /* A backlog event the keyboard cannot produce (REL_X) is refused. */
    size_t ev0 = DEV_PAY(2) + 7 + 32 + 2;
    put(blob, ev0, 2, AERO_EV_REL);
    put(blob, ev0 + 2, 2, AERO_REL_X);
    fix_crc(blob, len);
    assert_refused(aero_input_vdev(b), blob, len, "cannot produce");
    free(blob);
    aero_input_free(a);
    aero_input_free(b);
    fg_free(&g);
}
END_TEST

/* Random damage behind a repaired checksum, many bytes at a time, into every device kind's
 * parser: refused or accepted, never a crash or an access outside the blob or the arena (the
 * ASan build runs this too). Deterministic: a fixed seed. */
static uint32_t rng = 0x2545f491u;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

START_TEST(test_state_random_damage_is_survived)
{
    fg_init(&g);
    struct aero_input *kbd = new_input(AERO_INPUT_KEYBOARD);
    drv_bring_up(&d, aero_input_vdev(kbd), &g, ~0ull);
    for (unsigned i = 0; i < 40; i++) { /* a backlog to parse */
        aero_input_event(kbd, AERO_EV_KEY, (uint16_t)(2 + i), 1);
        aero_input_sync(kbd);
    }
    size_t len;
    uint8_t *blob = save(aero_input_vdev(kbd), &len);
    uint8_t *bad = malloc(len);
    unsigned refused = 0, accepted = 0;
    for (unsigned it = 0; it < 4000; it++) {
        memcpy(bad, blob, len);
        unsigned n = 1 + next_rand() % 6;
        for (unsigned k = 0; k < n; k++)
            bad[HDR + next_rand() % (len - HDR - 4)] = (uint8_t)next_rand();
        fix_crc(bad, len);
        struct aero_input *fresh = new_input(AERO_INPUT_KEYBOARD);
        if (aero_vdev_load(aero_input_vdev(fresh), bad, len))
            refused++;
        else
            accepted++;
        aero_input_free(fresh);
    }
    ck_assert_uint_gt(refused, 2000);
    free(bad);
    free(blob);
    aero_input_free(kbd);
    fg_free(&g);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("state");
    TCase *tb = tcase_create("blk");
    tcase_add_checked_fixture(tb, blk_setup, blk_teardown);
    tcase_add_test(tb, test_state_blk_inflight_requests_resubmitted_once);
    tcase_add_test(tb, test_state_truncated_and_bit_flipped_are_refused);
    tcase_add_loop_test(tb, test_state_inconsistent_states_are_refused, 0,
                        sizeof(blk_edits) / sizeof(blk_edits[0]));
    tcase_add_test(tb, test_state_feature_not_offered_here_is_refused);
    suite_add_tcase(s, tb);
    TCase *td = tcase_create("blk-deferred");
    tcase_add_checked_fixture(td, blk_setup_deferred, blk_teardown);
    tcase_add_test(td, test_state_blk_deferred_doorbell_and_flush_travel);
    suite_add_tcase(s, td);
    TCase *tn = tcase_create("net-input");
    tcase_add_test(tn, test_state_net_link_mac_and_pending_tx);
    tcase_add_test(tn, test_state_input_backlog_keys_and_leds);
    tcase_add_test(tn, test_state_random_damage_is_survived);
    suite_add_tcase(s, tn);
    return s;
}
