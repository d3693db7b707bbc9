/* CONTRACT §3.3 input device rules: identity per function, the selector config scheme, event
 * delivery (one event per used entry, SYN_REPORT per batch, bounded in-order backlog), statusq.
 */
#include "aero_input.h"
#include "driver.h"

#include <check.h>
#include "check_main.h"
#include <stdlib.h>
#include <string.h>

static struct fake_guest g;
static struct aero_input *in;
static struct drv d;
static uint32_t leds_seen;
static unsigned leds_calls;

static void leds_cb(void *opaque, uint32_t leds)
{
    leds_seen = leds;
    leds_calls++;
}
static const struct aero_input_backend_ops be = {.leds_changed = leds_cb};

static void make_ev(enum aero_input_kind kind, bool event_idx)
{
    fg_init(&g);
    leds_seen = 0;
    leds_calls = 0;
    struct aero_input_params p = {.kind = kind, .event_idx = event_idx};
    in = aero_input_new(&p, &fake_host_ops, &g, &be, NULL, NULL);
    ck_assert_ptr_nonnull(in);
    drv_bring_up(&d, aero_input_vdev(in), &g, ~0ull);
}
static void make(enum aero_input_kind kind) { make_ev(kind, false); }
static void setup_kbd(void) { make(AERO_INPUT_KEYBOARD); }
static void setup_kbd_event_idx(void) { make_ev(AERO_INPUT_KEYBOARD, true); }
static void setup_mouse(void) { make(AERO_INPUT_MOUSE); }
static void setup_tablet(void) { make(AERO_INPUT_TABLET); }
static void teardown(void)
{
    aero_input_free(in);
    fg_free(&g);
}

static uint8_t cfg_select(uint8_t sel, uint8_t sub, uint8_t *payload)
{
    drv_write(&d, 0x3000, sel, 1);
    drv_write(&d, 0x3001, sub, 1);
    uint8_t size = (uint8_t)drv_read(&d, 0x3002, 1);
    for (unsigned i = 0; i < 128; i++)
        payload[i] = (uint8_t)drv_read(&d, 0x3008 + i, 1);
    return size;
}

static bool bit(const uint8_t *bm, unsigned b) { return (bm[b / 8] >> (b % 8)) & 1; }

static uint64_t post_event_bufs(unsigned n)
{
    uint64_t base = fg_alloc(&g, 8ull * n, 8);
    for (unsigned i = 0; i < n; i++) {
        struct drv_buf b = {base + 8ull * i, 8, true};
        drv_publish(&d, 0, drv_add_chain(&d, 0, &b, 1));
    }
    drv_kick(&d, 0);
    return base;
}

struct evt {
    uint16_t type, code;
    int32_t value;
};

static bool next_event(struct evt *e)
{
    uint32_t id, len;
    if (!drv_get_used(&d, 0, &id, &len))
        return false;
    ck_assert_uint_eq(len, 8);
    const uint8_t *p = fg_ptr(&g, d.vq[0].desc); /* find the buffer via the descriptor */
    uint64_t addr = aero_le64(p + 16ull * id);
    const uint8_t *b = fg_ptr(&g, addr);
    e->type = aero_le16(b);
    e->code = aero_le16(b + 2);
    e->value = (int32_t)aero_le32(b + 4);
    return true;
}

static void expect(uint16_t type, uint16_t code, int32_t value)
{
    struct evt e;
    ck_assert_msg(next_event(&e), "missing event %u/%u/%d", type, code, value);
    ck_assert_msg(e.type == type && e.code == code && e.value == value,
                  "got %u/%u/%d want %u/%u/%d", e.type, e.code, e.value, type, code, value);
}

START_TEST(test_input_keyboard_identity)
{
    uint8_t cfg[256];
    aero_vdev_pci_config_image(aero_input_vdev(in), cfg);
    ck_assert_uint_eq(aero_le16(cfg + 2), 0x1052);
    ck_assert_uint_eq(aero_le16(cfg + 0x2e), 0x0010);
    ck_assert_uint_eq(cfg[0x0e], 0x80);
    ck_assert_uint_eq(cfg[0x0b], 0x09);
    ck_assert_uint_eq(cfg[0x0a], 0x80);
    ck_assert_uint_eq(cfg[0x08], 1);
    uint64_t f = drv_device_features(&d);
    ck_assert_uint_eq(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_INDIRECT_DESC));
    ck_assert_uint_eq(drv_read(&d, 0x12, 2), 2);
    ck_assert_uint_eq(drv_read(&d, 0x18, 2), 64);
}
END_TEST

START_TEST(test_input_mouse_and_tablet_identity)
{
    struct aero_input_params p = {.kind = AERO_INPUT_TABLET};
    struct aero_input *t = aero_input_new(&p, &fake_host_ops, &g, &be, NULL, NULL);
    uint8_t cfg[256];
    aero_vdev_pci_config_image(aero_input_vdev(t), cfg);
    ck_assert_uint_eq(aero_le16(cfg + 0x2e), 0x0012);
    ck_assert_uint_eq(cfg[0x0e], 0x00);
    aero_input_free(t);
    aero_vdev_pci_config_image(aero_input_vdev(in), cfg);
    ck_assert_uint_eq(aero_le16(cfg + 0x2e), 0x0011);
}
END_TEST

START_TEST(test_input_id_name_and_devids)
{
    uint8_t pl[128];
    uint8_t n = cfg_select(VIRTIO_INPUT_CFG_ID_NAME, 0, pl);
    ck_assert_uint_eq(n, strlen("Aero Virtio Keyboard"));
    ck_assert_mem_eq(pl, "Aero Virtio Keyboard", n);
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_ID_DEVIDS, 0, pl), 8);
    ck_assert_uint_eq(aero_le16(pl), 0x0006);
    ck_assert_uint_eq(aero_le16(pl + 2), 0x1af4);
    ck_assert_uint_eq(aero_le16(pl + 4), 1);
    ck_assert_uint_eq(aero_le16(pl + 6), 1);
}
END_TEST

static void check_ids(const char *name, uint16_t product)
{
    uint8_t pl[128];
    uint8_t n = cfg_select(VIRTIO_INPUT_CFG_ID_NAME, 0, pl);
    ck_assert_uint_eq(n, strlen(name));
    ck_assert_mem_eq(pl, name, n);
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_ID_DEVIDS, 0, pl), 8);
    ck_assert_uint_eq(aero_le16(pl), 0x0006);
    ck_assert_uint_eq(aero_le16(pl + 2), 0x1af4);
    ck_assert_uint_eq(aero_le16(pl + 4), product);
    ck_assert_uint_eq(aero_le16(pl + 6), 1);
}

START_TEST(test_input_mouse_id_name_and_devids) { check_ids("Aero Virtio Mouse", 2); }
END_TEST

START_TEST(test_input_tablet_id_name_and_devids) { check_ids("Aero Virtio Tablet", 3); }
END_TEST

START_TEST(test_input_out_of_range_subsel_size_zero)
{
    uint8_t pl[128];
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_ID_NAME, 1, pl), 0);
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_ID_DEVIDS, 1, pl), 0);
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_EV_BITS, 0x05, pl), 0); /* EV_SW */
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_EV_BITS, 0x12, pl), 0); /* EV_SND */
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_EV_BITS, 0xff, pl), 0);
    for (int i = 0; i < 128; i++)
        ck_assert_uint_eq(pl[i], 0);
}
END_TEST

START_TEST(test_input_other_selectors_size_zero)
{
    uint8_t pl[128];
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_UNSET, 0, pl), 0);
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_ID_SERIAL, 0, pl), 0);
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_PROP_BITS, 0, pl), 0);
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_ABS_INFO, 0, pl), 0); /* not a tablet */
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_EV_BITS, AERO_EV_REL, pl), 0);
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_EV_BITS, AERO_EV_ABS, pl), 0);
    ck_assert_uint_eq(cfg_select(0x13, 0, pl), 0);
    ck_assert_uint_eq(cfg_select(0xff, 0xff, pl), 0);
    for (int i = 0; i < 128; i++)
        ck_assert_uint_eq(pl[i], 0);
    /* size and payload are read-only */
    drv_write(&d, 0x3002, 55, 1);
    drv_write(&d, 0x3008, 0x12345678, 4);
    ck_assert_uint_eq(drv_read(&d, 0x3002, 1), 0);
    ck_assert_uint_eq(drv_read(&d, 0x3008, 4), 0);
}
END_TEST

START_TEST(test_input_keyboard_ev_bits)
{
    uint8_t pl[128];
    ck_assert_uint_gt(cfg_select(VIRTIO_INPUT_CFG_EV_BITS, AERO_EV_SYN, pl), 0);
    ck_assert(bit(pl, AERO_EV_SYN) && bit(pl, AERO_EV_KEY) && bit(pl, AERO_EV_LED));
    ck_assert(!bit(pl, AERO_EV_REL) && !bit(pl, AERO_EV_ABS));
    ck_assert_uint_gt(cfg_select(VIRTIO_INPUT_CFG_EV_BITS, AERO_EV_KEY, pl), 0);
    /* A-Z, 0-9, Enter, Esc, BS, Tab, Space, shifts/ctrls/alts, locks, F1-F12, arrows, nav */
    static const uint16_t keys[] = {30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50, 49, 24, 25,
                                    16, 19, 31, 20, 22, 47, 17, 45, 21, 44, 2, 3, 4, 5, 6, 7, 8, 9,
                                    10, 11, 28, 1, 14, 15, 57, 42, 54, 29, 97, 56, 100, 58, 69, 70,
                                    59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 87, 88, 103, 105, 106,
                                    108, 110, 111, 102, 107, 104, 109};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        ck_assert_msg(bit(pl, keys[i]), "key %u", keys[i]);
    ck_assert_uint_gt(cfg_select(VIRTIO_INPUT_CFG_EV_BITS, AERO_EV_LED, pl), 0);
    ck_assert(bit(pl, AERO_LED_NUML) && bit(pl, AERO_LED_CAPSL) && bit(pl, AERO_LED_SCROLLL));
}
END_TEST

START_TEST(test_input_mouse_ev_bits)
{
    uint8_t pl[128];
    cfg_select(VIRTIO_INPUT_CFG_EV_BITS, AERO_EV_SYN, pl);
    ck_assert(bit(pl, AERO_EV_SYN) && bit(pl, AERO_EV_KEY) && bit(pl, AERO_EV_REL));
    ck_assert(!bit(pl, AERO_EV_ABS));
    cfg_select(VIRTIO_INPUT_CFG_EV_BITS, AERO_EV_KEY, pl);
    for (unsigned b = AERO_BTN_LEFT; b <= AERO_BTN_EXTRA; b++)
        ck_assert(bit(pl, b));
    ck_assert(!bit(pl, 30)); /* no keyboard keys */
    cfg_select(VIRTIO_INPUT_CFG_EV_BITS, AERO_EV_REL, pl);
    ck_assert(bit(pl, AERO_REL_X) && bit(pl, AERO_REL_Y) && bit(pl, AERO_REL_WHEEL));
}
END_TEST

START_TEST(test_input_mouse_has_no_led_or_abs_bits)
{
    uint8_t pl[128];
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_EV_BITS, AERO_EV_LED, pl), 0);
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_EV_BITS, AERO_EV_ABS, pl), 0);
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_ABS_INFO, AERO_ABS_X, pl), 0);
}
END_TEST

START_TEST(test_input_tablet_ev_bits)
{
    uint8_t pl[128];
    cfg_select(VIRTIO_INPUT_CFG_EV_BITS, AERO_EV_SYN, pl);
    ck_assert(bit(pl, AERO_EV_SYN) && bit(pl, AERO_EV_KEY) && bit(pl, AERO_EV_ABS));
    ck_assert(!bit(pl, AERO_EV_LED));
    cfg_select(VIRTIO_INPUT_CFG_EV_BITS, AERO_EV_KEY, pl);
    for (unsigned b = AERO_BTN_LEFT; b <= AERO_BTN_EXTRA; b++)
        ck_assert(bit(pl, b));
    ck_assert(!bit(pl, 30));
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_EV_BITS, AERO_EV_REL, pl), 0);
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_EV_BITS, AERO_EV_LED, pl), 0);
}
END_TEST

START_TEST(test_input_tablet_events_abs_and_buttons)
{
    post_event_bufs(8);
    ck_assert(aero_input_event(in, AERO_EV_ABS, AERO_ABS_X, 32767));
    ck_assert(aero_input_event(in, AERO_EV_ABS, AERO_ABS_Y, 0));
    ck_assert(aero_input_event(in, AERO_EV_KEY, AERO_BTN_LEFT, 1));
    ck_assert(!aero_input_event(in, AERO_EV_REL, AERO_REL_WHEEL, 1)); /* not advertised */
    aero_input_sync(in);
    expect(AERO_EV_ABS, AERO_ABS_X, 32767);
    expect(AERO_EV_ABS, AERO_ABS_Y, 0);
    expect(AERO_EV_KEY, AERO_BTN_LEFT, 1);
    expect(AERO_EV_SYN, AERO_SYN_REPORT, 0);
    struct evt e;
    ck_assert(!next_event(&e));
}
END_TEST

START_TEST(test_input_tablet_abs_info)
{
    uint8_t pl[128];
    cfg_select(VIRTIO_INPUT_CFG_EV_BITS, AERO_EV_SYN, pl);
    ck_assert(bit(pl, AERO_EV_ABS) && !bit(pl, AERO_EV_REL));
    cfg_select(VIRTIO_INPUT_CFG_EV_BITS, AERO_EV_ABS, pl);
    ck_assert(bit(pl, AERO_ABS_X) && bit(pl, AERO_ABS_Y));
    for (uint8_t axis = AERO_ABS_X; axis <= AERO_ABS_Y; axis++) {
        ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_ABS_INFO, axis, pl), 20);
        ck_assert_uint_eq(aero_le32(pl), 0);
        ck_assert_uint_eq(aero_le32(pl + 4), 32767);
    }
    ck_assert_uint_eq(cfg_select(VIRTIO_INPUT_CFG_ABS_INFO, 2, pl), 0);
}
END_TEST

START_TEST(test_input_events_one_per_used_entry_with_syn)
{
    post_event_bufs(8);
    ck_assert(aero_input_event(in, AERO_EV_KEY, 30, 1));
    aero_input_sync(in);
    ck_assert(aero_input_event(in, AERO_EV_KEY, 30, 0));
    aero_input_sync(in);
    expect(AERO_EV_KEY, 30, 1);
    expect(AERO_EV_SYN, AERO_SYN_REPORT, 0);
    expect(AERO_EV_KEY, 30, 0);
    expect(AERO_EV_SYN, AERO_SYN_REPORT, 0);
    struct evt e;
    ck_assert(!next_event(&e));
}
END_TEST

START_TEST(test_input_unadvertised_codes_ignored)
{
    post_event_bufs(4);
    ck_assert(!aero_input_event(in, AERO_EV_REL, AERO_REL_X, 5));
    ck_assert(!aero_input_event(in, AERO_EV_KEY, AERO_BTN_LEFT, 1));
    aero_input_sync(in);
    ck_assert_uint_eq(drv_used_idx(&d, 0), 0); /* empty batch: no SYN either */
}
END_TEST

START_TEST(test_input_events_kept_until_buffers_posted)
{
    for (int i = 0; i < 10; i++) {
        aero_input_event(in, AERO_EV_KEY, (uint16_t)(2 + i), 1);
        aero_input_sync(in);
    }
    ck_assert_uint_eq(drv_used_idx(&d, 0), 0);
    post_event_bufs(5);
    ck_assert_uint_eq(drv_used_idx(&d, 0), 5);
    post_event_bufs(20);
    ck_assert_uint_eq(drv_used_idx(&d, 0), 20);
    for (int i = 0; i < 10; i++) {
        expect(AERO_EV_KEY, (uint16_t)(2 + i), 1);
        expect(AERO_EV_SYN, AERO_SYN_REPORT, 0);
    }
}
END_TEST

START_TEST(test_input_backlog_bounded_whole_batches)
{
    /* 2 events per batch; the backlog (1024) holds 512 batches; later batches are dropped
     * whole and the kept ones stay in order. */
    for (int i = 0; i < 600; i++) {
        aero_input_event(in, AERO_EV_KEY, 30, !(i & 1)); /* press, release, ... */
        aero_input_sync(in);
    }
    struct aero_input_stats st;
    aero_input_get_stats(in, &st);
    ck_assert_uint_eq(st.batches, 512);
    /* Of the 88 later batches the presses are dropped whole; the releases after them are no
     * events at all (the driver never saw those presses). */
    ck_assert_uint_eq(st.events_dropped, 44 * 2);
    post_event_bufs(64);
    for (int i = 0; i < 32; i++) {
        expect(AERO_EV_KEY, 30, !(i & 1));
        expect(AERO_EV_SYN, AERO_SYN_REPORT, 0);
    }
}
END_TEST

START_TEST(test_input_keyboard_no_auto_repeat)
{
    /* CONTRACT §3.3: values 1 press / 0 release, no auto-repeat. A host that repeats a held key
     * (QEMU's sendkey, a VNC client) or sends value 2 adds nothing; the state the rule checks is
     * what the driver has seen, within a batch too. */
    post_event_bufs(16);
    ck_assert(aero_input_event(in, AERO_EV_KEY, 30, 1));
    ck_assert(!aero_input_event(in, AERO_EV_KEY, 30, 1)); /* repeated press, same batch */
    aero_input_sync(in);
    ck_assert(!aero_input_event(in, AERO_EV_KEY, 30, 1)); /* repeated press, next batch */
    ck_assert(!aero_input_event(in, AERO_EV_KEY, 30, 2)); /* evdev auto-repeat value */
    ck_assert(!aero_input_event(in, AERO_EV_KEY, 48, 0)); /* release of a key that is up */
    ck_assert(aero_input_event(in, AERO_EV_KEY, 30, 0));
    ck_assert(aero_input_event(in, AERO_EV_KEY, 30, 1)); /* press after release: an event */
    aero_input_sync(in);
    expect(AERO_EV_KEY, 30, 1);
    expect(AERO_EV_SYN, AERO_SYN_REPORT, 0);
    expect(AERO_EV_KEY, 30, 0);
    expect(AERO_EV_KEY, 30, 1);
    expect(AERO_EV_SYN, AERO_SYN_REPORT, 0);
    ck_assert_uint_eq(drv_used_idx(&d, 0), 5);
}
END_TEST

START_TEST(test_input_reset_releases_every_key)
{
    post_event_bufs(4);
    ck_assert(aero_input_event(in, AERO_EV_KEY, 30, 1));
    aero_input_sync(in);
    drv_write(&d, 0x14, 0, 1); /* device_status = 0 */
    drv_bring_up(&d, aero_input_vdev(in), &g, ~(1ull << VIRTIO_F_RING_EVENT_IDX));
    post_event_bufs(4);
    ck_assert(!aero_input_event(in, AERO_EV_KEY, 30, 0)); /* the new driver saw no press */
    ck_assert(aero_input_event(in, AERO_EV_KEY, 30, 1));
    aero_input_sync(in);
    expect(AERO_EV_KEY, 30, 1);
}
END_TEST

START_TEST(test_input_mouse_batch_rel_wheel_buttons)
{
    post_event_bufs(16);
    aero_input_event(in, AERO_EV_REL, AERO_REL_X, -5);
    aero_input_event(in, AERO_EV_REL, AERO_REL_Y, 7);
    aero_input_event(in, AERO_EV_REL, AERO_REL_WHEEL, -1);
    aero_input_event(in, AERO_EV_KEY, AERO_BTN_EXTRA, 1);
    aero_input_sync(in);
    expect(AERO_EV_REL, AERO_REL_X, -5);
    expect(AERO_EV_REL, AERO_REL_Y, 7);
    expect(AERO_EV_REL, AERO_REL_WHEEL, -1);
    expect(AERO_EV_KEY, AERO_BTN_EXTRA, 1);
    expect(AERO_EV_SYN, AERO_SYN_REPORT, 0);
}
END_TEST

START_TEST(test_input_small_event_buffer_returned_empty)
{
    uint64_t small = fg_alloc(&g, 4, 4);
    struct drv_buf b = {small, 4, true};
    drv_publish(&d, 0, drv_add_chain(&d, 0, &b, 1));
    post_event_bufs(2);
    aero_input_event(in, AERO_EV_KEY, 30, 1);
    aero_input_sync(in);
    uint32_t len;
    ck_assert(drv_get_used(&d, 0, NULL, &len));
    ck_assert_uint_eq(len, 0);
    expect(AERO_EV_KEY, 30, 1);
    expect(AERO_EV_SYN, AERO_SYN_REPORT, 0);
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

START_TEST(test_input_large_event_buffer_used_len_is_8)
{
    uint64_t big = fg_alloc(&g, 64, 8);
    memset(fg_ptr(&g, big), 0xcc, 64);
    struct drv_buf b = {big, 64, true};
    drv_publish(&d, 0, drv_add_chain(&d, 0, &b, 1));
    post_event_bufs(1);
    aero_input_event(in, AERO_EV_KEY, 44, 1);
    aero_input_sync(in);
    expect(AERO_EV_KEY, 44, 1); /* next_event asserts used.len == 8 */
    expect(AERO_EV_SYN, AERO_SYN_REPORT, 0);
    ck_assert_uint_eq(*(uint8_t *)fg_ptr(&g, big + 8), 0xcc); /* nothing past the event */
}
END_TEST

START_TEST(test_input_oversized_batch_dropped_whole)
{
    /* A batch is at most 63 events + SYN_REPORT; a longer one is dropped as a whole (never
     * delivered cut short), and the next batch is unaffected. */
    post_event_bufs(64);
    for (int i = 0; i < 70; i++)
        aero_input_event(in, AERO_EV_KEY, (uint16_t)(2 + i), 1);
    aero_input_sync(in);
    ck_assert_uint_eq(drv_used_idx(&d, 0), 0);
    struct aero_input_stats st;
    aero_input_get_stats(in, &st);
    ck_assert_uint_eq(st.events_dropped, 64);
    aero_input_event(in, AERO_EV_KEY, 30, 1);
    aero_input_sync(in);
    expect(AERO_EV_KEY, 30, 1);
    expect(AERO_EV_SYN, AERO_SYN_REPORT, 0);
}
END_TEST

START_TEST(test_input_event_idx_delivery_and_avail_event)
{
    ck_assert(drv_device_features(&d) & (1ull << VIRTIO_F_RING_EVENT_IDX));
    drv_set_used_event(&d, 0, 0);
    post_event_bufs(4);
    aero_input_event(in, AERO_EV_KEY, 30, 1);
    aero_input_sync(in);
    ck_assert_int_eq(g.intx, 1);
    expect(AERO_EV_KEY, 30, 1);
    expect(AERO_EV_SYN, AERO_SYN_REPORT, 0);
    /* used_event far ahead: the next batch is delivered without an interrupt */
    drv_isr(&d);
    drv_set_used_event(&d, 0, 100);
    aero_input_event(in, AERO_EV_KEY, 30, 0);
    aero_input_sync(in);
    ck_assert_int_eq(g.intx, 0);
    expect(AERO_EV_KEY, 30, 0);
    /* all four buffers consumed: the device asks for a kick at avail index 4 */
    aero_input_event(in, AERO_EV_KEY, 31, 1);
    aero_input_sync(in);
    ck_assert_uint_eq(drv_avail_event(&d, 0), 4);
}
END_TEST

START_TEST(test_input_statusq_records_leds)
{
    uint64_t ev = fg_alloc(&g, 16, 8);
    uint8_t *p = fg_ptr(&g, ev);
    aero_put_le16(p, AERO_EV_LED);
    aero_put_le16(p + 2, AERO_LED_CAPSL);
    aero_put_le32(p + 4, 1);
    aero_put_le16(p + 8, AERO_EV_LED);
    aero_put_le16(p + 10, AERO_LED_NUML);
    aero_put_le32(p + 12, 1);
    struct drv_buf b1 = {ev, 8, false}, b2 = {ev + 8, 8, false};
    drv_publish(&d, 1, drv_add_chain(&d, 1, &b1, 1));
    drv_publish(&d, 1, drv_add_chain(&d, 1, &b2, 1));
    drv_kick(&d, 1);
    ck_assert_uint_eq(drv_used_idx(&d, 1), 2);
    ck_assert_uint_eq(aero_input_leds(in), (1u << AERO_LED_CAPSL) | (1u << AERO_LED_NUML));
    ck_assert_uint_eq(leds_seen, aero_input_leds(in));
    ck_assert_uint_eq(leds_calls, 1);
    /* garbage on statusq is consumed and completed, never fatal */
    struct drv_buf junk = {fg_alloc(&g, 3, 1), 3, false};
    drv_publish(&d, 1, drv_add_chain(&d, 1, &junk, 1));
    drv_kick(&d, 1);
    ck_assert_uint_eq(drv_used_idx(&d, 1), 3);
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

START_TEST(test_input_hostile_eventq_nested_indirect_is_needs_reset)
{
    uint64_t inner = fg_alloc(&g, 16, 16), outer = fg_alloc(&g, 16, 16);
    uint8_t *p = fg_ptr(&g, outer);
    aero_put_le64(p, inner);
    aero_put_le32(p + 8, 16);
    aero_put_le16(p + 12, VIRTQ_DESC_F_INDIRECT);
    drv_set_desc(&d, 0, 0, outer, 16, VIRTQ_DESC_F_INDIRECT, 0);
    drv_publish(&d, 0, 0);
    drv_kick(&d, 0);
    aero_input_event(in, AERO_EV_KEY, 30, 1);
    aero_input_sync(in);
    ck_assert(drv_needs_reset(&d));
}
END_TEST

START_TEST(test_input_hostile_statusq_loop_is_needs_reset)
{
    uint64_t ev = fg_alloc(&g, 8, 8);
    drv_set_desc(&d, 1, 0, ev, 8, VIRTQ_DESC_F_NEXT, 1);
    drv_set_desc(&d, 1, 1, ev, 8, VIRTQ_DESC_F_NEXT, 0);
    drv_publish(&d, 1, 0);
    drv_kick(&d, 1);
    ck_assert(drv_needs_reset(&d));
    ck_assert_uint_eq(drv_used_idx(&d, 1), 0);
    ck_assert_uint_eq(aero_input_leds(in), 0);
}
END_TEST

START_TEST(test_input_hostile_eventq_buffer_outside_memory_is_needs_reset)
{
    struct drv_buf b = {0x3000, 8, true};
    drv_publish(&d, 0, drv_add_chain(&d, 0, &b, 1));
    drv_kick(&d, 0);
    aero_input_event(in, AERO_EV_KEY, 30, 1);
    aero_input_sync(in);
    ck_assert(drv_needs_reset(&d));
    ck_assert_uint_eq(drv_used_idx(&d, 0), 0);
}
END_TEST

START_TEST(test_input_reset_clears_backlog)
{
    aero_input_event(in, AERO_EV_KEY, 30, 1);
    aero_input_sync(in);
    drv_bring_up(&d, aero_input_vdev(in), &g, ~0ull);
    post_event_bufs(4);
    ck_assert_uint_eq(drv_used_idx(&d, 0), 0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("input");
    TCase *tk = tcase_create("keyboard");
    tcase_add_checked_fixture(tk, setup_kbd, teardown);
    tcase_add_test(tk, test_input_keyboard_identity);
    tcase_add_test(tk, test_input_id_name_and_devids);
    tcase_add_test(tk, test_input_other_selectors_size_zero);
    tcase_add_test(tk, test_input_keyboard_ev_bits);
    tcase_add_test(tk, test_input_events_one_per_used_entry_with_syn);
    tcase_add_test(tk, test_input_unadvertised_codes_ignored);
    tcase_add_test(tk, test_input_events_kept_until_buffers_posted);
    tcase_add_test(tk, test_input_backlog_bounded_whole_batches);
    tcase_add_test(tk, test_input_small_event_buffer_returned_empty);
    tcase_add_test(tk, test_input_statusq_records_leds);
    tcase_add_test(tk, test_input_hostile_eventq_nested_indirect_is_needs_reset);
    tcase_add_test(tk, test_input_hostile_statusq_loop_is_needs_reset);
    tcase_add_test(tk, test_input_hostile_eventq_buffer_outside_memory_is_needs_reset);
    tcase_add_test(tk, test_input_reset_clears_backlog);
    tcase_add_test(tk, test_input_out_of_range_subsel_size_zero);
    tcase_add_test(tk, test_input_large_event_buffer_used_len_is_8);
    tcase_add_test(tk, test_input_oversized_batch_dropped_whole);
    tcase_add_test(tk, test_input_keyboard_no_auto_repeat);
    tcase_add_test(tk, test_input_reset_releases_every_key);
    suite_add_tcase(s, tk);
    TCase *te = tcase_create("keyboard_event_idx");
    tcase_add_checked_fixture(te, setup_kbd_event_idx, teardown);
    tcase_add_test(te, test_input_event_idx_delivery_and_avail_event);
    suite_add_tcase(s, te);
    TCase *tm = tcase_create("mouse");
    tcase_add_checked_fixture(tm, setup_mouse, teardown);
    tcase_add_test(tm, test_input_mouse_and_tablet_identity);
    tcase_add_test(tm, test_input_mouse_ev_bits);
    tcase_add_test(tm, test_input_mouse_batch_rel_wheel_buttons);
    tcase_add_test(tm, test_input_mouse_id_name_and_devids);
    tcase_add_test(tm, test_input_mouse_has_no_led_or_abs_bits);
    suite_add_tcase(s, tm);
    TCase *tt = tcase_create("tablet");
    tcase_add_checked_fixture(tt, setup_tablet, teardown);
    tcase_add_test(tt, test_input_tablet_abs_info);
    tcase_add_test(tt, test_input_tablet_id_name_and_devids);
    tcase_add_test(tt, test_input_tablet_ev_bits);
    tcase_add_test(tt, test_input_tablet_events_abs_and_buttons);
    suite_add_tcase(s, tt);
    return s;
}
