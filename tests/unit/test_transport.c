/* CONTRACT §1 transport rules, one test per rule: PCI identity and capabilities, the BAR0
 * register file, feature negotiation, reset, ISR/INTx and MSI-X.
 */
#include "aero_blk.h"
#include "driver.h"

#include <check.h>
#include "check_main.h"
#include <stdlib.h>
#include <string.h>

struct tdev {
    unsigned notified[AERO_MAX_QUEUES];
    unsigned resets;
    uint8_t cfg[16];
};

static void t_cfg_read(void *dev, uint32_t off, uint8_t *buf, unsigned len)
{
    memcpy(buf, ((struct tdev *)dev)->cfg + off, len);
}
static void t_cfg_write(void *dev, uint32_t off, const uint8_t *buf, unsigned len)
{
    memcpy(((struct tdev *)dev)->cfg + off, buf, len);
}
static void t_notify(void *dev, uint16_t q) { ((struct tdev *)dev)->notified[q]++; }
static void t_reset(void *dev) { ((struct tdev *)dev)->resets++; }

static const struct aero_device_ops tdev_ops = {
    .config_read = t_cfg_read,
    .config_write = t_cfg_write,
    .queue_notify = t_notify,
    .reset = t_reset,
};

#define OFFERED ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_INDIRECT_DESC) | (1ull << 5))

static struct fake_guest g;
static struct tdev td;
static struct aero_vdev *vdev;
static struct drv d;

static void setup_vdev(uint16_t msix)
{
    fg_init(&g);
    memset(&td, 0, sizeof(td));
    for (int i = 0; i < 16; i++)
        td.cfg[i] = (uint8_t)(0xa0 + i);
    struct aero_vdev_params p = {
        .id = {.vendor_id = 0x1af4, .device_id = 0x1041, .subsystem_vendor_id = 0x1af4,
               .subsystem_id = 1, .revision = 1, .class_code = 0x020000, .interrupt_pin = 1},
        .num_queues = 2,
        .queue_max_size = {256, 256},
        .device_features = OFFERED,
        .msix_vectors = msix,
        .device_config_len = 16,
    };
    vdev = aero_vdev_new(&p, &fake_host_ops, &g, &tdev_ops, &td);
    ck_assert_ptr_nonnull(vdev);
    memset(&d, 0, sizeof(d));
    d.g = &g;
    d.vdev = vdev;
}

static void setup(void) { setup_vdev(0); }
static void setup_msix(void) { setup_vdev(3); }
static void teardown(void)
{
    aero_vdev_free(vdev);
    fg_free(&g);
}

static void no_submit(void *opaque, struct aero_blk_io *io) { ck_abort_msg("no I/O expected"); }

/* ---- PCI identity --------------------------------------------------------------------- */

START_TEST(test_blk_pci_identity_and_revision)
{
    static const struct aero_blk_backend_ops none = {.submit = no_submit};
    struct aero_blk_params bp = {.capacity_bytes = 1 << 20, .logical_block_size = 512};
    struct aero_blk *blk = aero_blk_new(&bp, &fake_host_ops, &g, &none, NULL, NULL);
    ck_assert_ptr_nonnull(blk);
    uint8_t cfg[256];
    aero_vdev_pci_config_image(aero_blk_vdev(blk), cfg);
    ck_assert_uint_eq(aero_le16(cfg + 0x00), 0x1af4);
    ck_assert_uint_eq(aero_le16(cfg + 0x02), 0x1042);
    ck_assert_uint_eq(cfg[0x08], 0x01);
    ck_assert_uint_eq(cfg[0x0b], 0x01); /* mass storage */
    ck_assert_uint_eq(cfg[0x0a], 0x00);
    ck_assert_uint_eq(aero_le16(cfg + 0x2c), 0x1af4);
    ck_assert_uint_eq(aero_le16(cfg + 0x2e), 0x0002);
    ck_assert_uint_eq(cfg[0x3d], 1); /* INTA# */
    ck_assert_uint_eq(cfg[0x10] & 0x7, 0x4); /* 64-bit memory BAR */
    aero_blk_free(blk);
}
END_TEST

START_TEST(test_caps_chain_layout)
{
    uint8_t cfg[256];
    aero_vdev_pci_config_image(vdev, cfg);
    ck_assert(aero_le16(cfg + 0x06) & 0x10);
    static const struct {
        uint8_t type;
        uint32_t off, len;
    } want[] = {{1, 0x0000, 0x100}, {2, 0x1000, 0x100}, {3, 0x2000, 0x20}, {4, 0x3000, 0x100}};
    bool seen[5] = {false};
    uint8_t p = cfg[0x34];
    unsigned hops = 0;
    while (p) {
        ck_assert_uint_lt(++hops, 48); /* acyclic */
        ck_assert_uint_eq(p % 4, 0);
        ck_assert_uint_ge(p, 0x40);
        ck_assert_uint_eq(cfg[p], 0x09);
        uint8_t cap_len = cfg[p + 2], type = cfg[p + 3];
        ck_assert_uint_ge(cap_len, 16);
        ck_assert(type >= 1 && type <= 4);
        ck_assert_uint_eq(cfg[p + 4], 0); /* BAR0 */
        ck_assert_uint_eq(aero_le32(cfg + p + 8), want[type - 1].off);
        ck_assert_uint_eq(aero_le32(cfg + p + 12), want[type - 1].len);
        if (type == 2) {
            ck_assert_uint_ge(cap_len, 20);
            ck_assert_uint_eq(aero_le32(cfg + p + 16), 4);
        }
        seen[type] = true;
        p = cfg[p + 1];
    }
    ck_assert(seen[1] && seen[2] && seen[3] && seen[4]);
}
END_TEST

START_TEST(test_msix_cap_and_table_placement)
{
    uint8_t cfg[256];
    aero_vdev_pci_config_image(vdev, cfg);
    ck_assert_uint_eq(cfg[AERO_CAP_DEVICE_OFF + 1], AERO_CAP_MSIX_OFF);
    ck_assert_uint_eq(cfg[AERO_CAP_MSIX_OFF], 0x11);
    ck_assert_uint_eq(aero_le16(cfg + AERO_CAP_MSIX_OFF + 2) & 0x7ff, 2); /* 3 vectors */
    ck_assert_uint_eq(aero_le32(cfg + AERO_CAP_MSIX_OFF + 4), 0x3100);
    ck_assert_uint_eq(aero_msix_pba_offset(3), 0x3130);
}
END_TEST

/* ---- common_cfg ----------------------------------------------------------------------- */

START_TEST(test_feature_select_reserved_reads_zero)
{
    ck_assert_uint_eq(drv_device_features(&d), OFFERED);
    drv_write(&d, 0x00, 2, 4);
    ck_assert_uint_eq(drv_read(&d, 0x04, 4), 0);
    drv_write(&d, 0x00, 0xffffffff, 4);
    ck_assert_uint_eq(drv_read(&d, 0x04, 4), 0);
    /* driver_feature select 2: reads 0, writes ignored */
    drv_write(&d, 0x08, 2, 4);
    drv_write(&d, 0x0c, 0xffffffff, 4);
    ck_assert_uint_eq(drv_read(&d, 0x0c, 4), 0);
    drv_write(&d, 0x08, 0, 4);
    ck_assert_uint_eq(drv_read(&d, 0x0c, 4), 0);
    drv_write(&d, 0x08, 1, 4);
    ck_assert_uint_eq(drv_read(&d, 0x0c, 4), 0);
}
END_TEST

START_TEST(test_features_ok_accepts_subset)
{
    uint8_t s = drv_negotiate(&d, (1ull << VIRTIO_F_VERSION_1));
    ck_assert(s & VIRTIO_CONFIG_S_FEATURES_OK);
    ck_assert_uint_eq(aero_vdev_features(vdev), 1ull << VIRTIO_F_VERSION_1);
}
END_TEST

START_TEST(test_features_ok_refused_for_unoffered_bit)
{
    uint8_t s = drv_negotiate(&d, OFFERED | (1ull << VIRTIO_F_RING_EVENT_IDX));
    ck_assert(!(s & VIRTIO_CONFIG_S_FEATURES_OK));
    s = drv_negotiate(&d, OFFERED | (1ull << VIRTIO_F_RING_PACKED));
    ck_assert(!(s & VIRTIO_CONFIG_S_FEATURES_OK));
    ck_assert_uint_eq(aero_vdev_features(vdev), 0);
}
END_TEST

START_TEST(test_features_ok_refused_without_version_1)
{
    uint8_t s = drv_negotiate(&d, 1ull << VIRTIO_F_RING_INDIRECT_DESC);
    ck_assert(!(s & VIRTIO_CONFIG_S_FEATURES_OK));
}
END_TEST

START_TEST(test_driver_features_frozen_after_features_ok)
{
    drv_negotiate(&d, 1ull << VIRTIO_F_VERSION_1);
    drv_write(&d, 0x08, 0, 4);
    drv_write(&d, 0x0c, 1u << VIRTIO_F_RING_INDIRECT_DESC, 4);
    ck_assert_uint_eq(aero_vdev_features(vdev), 1ull << VIRTIO_F_VERSION_1);
    ck_assert(!aero_vdev_has_feature(vdev, VIRTIO_F_RING_INDIRECT_DESC));
}
END_TEST

START_TEST(test_num_queues_and_sizes)
{
    ck_assert_uint_eq(drv_read(&d, 0x12, 2), 2);
    drv_write(&d, 0x16, 1, 2);
    ck_assert_uint_eq(drv_read(&d, 0x18, 2), 256);
    ck_assert_uint_eq(drv_read(&d, 0x1e, 2), 1); /* notify_off(q) = q */
    drv_write(&d, 0x16, 0, 2);
    ck_assert_uint_eq(drv_read(&d, 0x1e, 2), 0);
}
END_TEST

START_TEST(test_queue_select_out_of_range)
{
    drv_write(&d, 0x16, 2, 2);
    ck_assert_uint_eq(drv_read(&d, 0x16, 2), 2);
    ck_assert_uint_eq(drv_read(&d, 0x18, 2), 0);
    ck_assert_uint_eq(drv_read(&d, 0x1e, 2), 0);
    drv_write(&d, 0x20, 0x1234000, 8);
    drv_write(&d, 0x28, 0x1235000, 8);
    drv_write(&d, 0x30, 0x1236000, 8);
    drv_write(&d, 0x1c, 1, 2);
    ck_assert_uint_eq(drv_read(&d, 0x20, 8), 0);
    ck_assert_uint_eq(drv_read(&d, 0x1c, 2), 0);
    ck_assert(!drv_needs_reset(&d));
    for (uint16_t q = 0; q < 2; q++) {
        drv_write(&d, 0x16, q, 2);
        ck_assert_uint_eq(drv_read(&d, 0x20, 8), 0);
        ck_assert_uint_eq(drv_read(&d, 0x1c, 2), 0);
    }
}
END_TEST

START_TEST(test_queue_address_halves_and_full_width)
{
    drv_write(&d, 0x16, 1, 2);
    drv_write(&d, 0x20, 0x89abc000, 4);
    drv_write(&d, 0x24, 0x1, 4);
    ck_assert_uint_eq(drv_read(&d, 0x20, 8), 0x189abc000ull);
    ck_assert_uint_eq(drv_read(&d, 0x24, 4), 1);
    drv_write(&d, 0x28, 0x123456789ull, 8);
    ck_assert_uint_eq(drv_read(&d, 0x28, 8), 0x123456789ull);
    drv_write(&d, 0x16, 0, 2);
    ck_assert_uint_eq(drv_read(&d, 0x20, 8), 0);
}
END_TEST

START_TEST(test_selectors_are_device_global)
{
    drv_write(&d, 0x00, 1, 4);
    drv_write(&d, 0x16, 1, 2);
    ck_assert_uint_eq(drv_read(&d, 0x00, 4), 1);
    ck_assert_uint_eq(drv_read(&d, 0x16, 2), 1);
    ck_assert_uint_eq(drv_read(&d, 0x04, 4), (uint32_t)(OFFERED >> 32));
}
END_TEST

START_TEST(test_undefined_offsets_read_zero_writes_ignored)
{
    static const uint32_t offs[] = {0x38, 0xfc, 0x100, 0x0ff8, 0x1100, 0x1ffc, 0x2001, 0x2004,
                                    0x201c, 0x2020, 0x3010, 0x30fc, 0x3100, 0x3ffc};
    drv_negotiate(&d, 1ull << VIRTIO_F_VERSION_1);
    uint8_t status = (uint8_t)drv_read(&d, 0x14, 1);
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        for (unsigned w = 1; w <= 4; w *= 2) {
            drv_write(&d, offs[i], 0xffffffff, w);
            ck_assert_msg(drv_read(&d, offs[i], w) == 0, "offset 0x%x width %u", offs[i], w);
        }
    }
    ck_assert_uint_eq(drv_read(&d, 0x14, 1), status);
    ck_assert_uint_eq(td.notified[0] + td.notified[1], 0);
    /* out of BAR, odd widths */
    ck_assert_uint_eq(drv_read(&d, 0x4000, 4), 0);
    ck_assert_uint_eq(drv_read(&d, 0x3ffe, 4), 0);
    ck_assert_uint_eq(drv_read(&d, 0x14, 3), 0);
}
END_TEST

START_TEST(test_device_config_window)
{
    ck_assert_uint_eq(drv_read(&d, 0x3000, 4), 0xa3a2a1a0);
    ck_assert_uint_eq(drv_read(&d, 0x300e, 4), 0xafae); /* straddles the end: tail reads 0 */
    drv_write(&d, 0x3004, 0x55, 1);
    ck_assert_uint_eq(td.cfg[4], 0x55);
    ck_assert_uint_eq(drv_read(&d, 0x15, 1), 0); /* config_generation static */
}
END_TEST

/* ---- status / reset ------------------------------------------------------------------- */

START_TEST(test_reset_clears_everything_and_deasserts_intx)
{
    drv_bring_up(&d, vdev, &g, ~0ull);
    unsigned resets_before = td.resets;
    uint16_t h = drv_add_chain(&d, 0, &(struct drv_buf){g.base + 0x8000, 8, true}, 1);
    drv_publish(&d, 0, h);
    aero_vdev_fail(vdev, 0, "forced");
    ck_assert_int_eq(g.intx, 1);
    drv_write(&d, 0x14, 0, 1);
    ck_assert_int_eq(g.intx, 0);
    ck_assert_uint_eq(drv_read(&d, 0x14, 1), 0);
    ck_assert_uint_eq(drv_read(&d, 0x2000, 1), 0);
    ck_assert_uint_eq(aero_vdev_features(vdev), 0);
    drv_write(&d, 0x08, 0, 4);
    ck_assert_uint_eq(drv_read(&d, 0x0c, 4), 0);
    ck_assert_uint_eq(drv_read(&d, 0x16, 2), 0);
    for (uint16_t q = 0; q < 2; q++) {
        drv_write(&d, 0x16, q, 2);
        ck_assert_uint_eq(drv_read(&d, 0x1c, 2), 0);
        ck_assert_uint_eq(drv_read(&d, 0x18, 2), 256);
        ck_assert_uint_eq(drv_read(&d, 0x20, 8), 0);
        ck_assert_uint_eq(drv_read(&d, 0x1a, 2), VIRTIO_MSI_NO_VECTOR);
    }
    ck_assert_uint_eq(td.resets, resets_before + 1);
    ck_assert(!aero_vdev_broken(vdev));
}
END_TEST

START_TEST(test_driver_ok_without_features_ok_needs_reset)
{
    drv_write(&d, 0x14, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, 1);
    drv_write(&d, 0x14, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                            VIRTIO_CONFIG_S_DRIVER_OK, 1);
    ck_assert(drv_needs_reset(&d));
}
END_TEST

START_TEST(test_needs_reset_is_sticky_until_reset)
{
    drv_bring_up(&d, vdev, &g, ~0ull);
    aero_vdev_fail(vdev, -1, "forced");
    uint8_t s = (uint8_t)drv_read(&d, 0x14, 1);
    drv_write(&d, 0x14, s & ~VIRTIO_CONFIG_S_NEEDS_RESET, 1);
    ck_assert(drv_needs_reset(&d));
    drv_write(&d, 0x14, 0, 1);
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

START_TEST(test_status_changes_reach_the_host)
{
    /* The host hears of every change of device_status (QEMU's set_status), and of nothing
     * else: bring-up, NEEDS_RESET from a guest error, and reset. */
    const uint8_t ad = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
    drv_write(&d, 0x14, VIRTIO_CONFIG_S_ACKNOWLEDGE, 1);
    ck_assert_uint_eq(g.status_changes, 1);
    ck_assert_uint_eq(g.status_seen, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    drv_write(&d, 0x14, ad, 1);
    drv_write(&d, 0x14, ad, 1); /* same value again: no change */
    ck_assert_uint_eq(g.status_changes, 2);
    drv_write(&d, 0x0c, 1, 4); /* driver_feature_select 0 (bit 0 not offered) */
    drv_write(&d, 0x14, ad | VIRTIO_CONFIG_S_FEATURES_OK, 1);
    /* refused FEATURES_OK: the status written back is unchanged, so nothing to report */
    ck_assert_uint_eq(g.status_changes, 2);
    drv_write(&d, 0x0c, 0, 4);
    drv_write(&d, 0x08, 1, 4);
    drv_write(&d, 0x0c, 1, 4); /* VERSION_1 */
    drv_write(&d, 0x14, ad | VIRTIO_CONFIG_S_FEATURES_OK, 1);
    drv_write(&d, 0x14, ad | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK, 1);
    ck_assert_uint_eq(g.status_changes, 4);
    ck_assert_uint_eq(g.status_seen, ad | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
    aero_vdev_fail(vdev, 0, "forced");
    ck_assert_uint_eq(g.status_changes, 5);
    ck_assert(g.status_seen & VIRTIO_CONFIG_S_NEEDS_RESET);
    drv_write(&d, 0x14, 0, 1);
    ck_assert_uint_eq(g.status_changes, 6);
    ck_assert_uint_eq(g.status_seen, 0);
    aero_vdev_reset(vdev); /* already 0 */
    ck_assert_uint_eq(g.status_changes, 6);
}
END_TEST

/* ---- notify --------------------------------------------------------------------------- */

START_TEST(test_notify_16_and_32_bit)
{
    drv_bring_up(&d, vdev, &g, ~0ull);
    memset(td.notified, 0, sizeof(td.notified)); /* DRIVER_OK processed each queue once */
    drv_write(&d, 0x1000, 0, 2);
    drv_write(&d, 0x1004, 1, 4);
    drv_write(&d, 0x1004, 1, 2);
    ck_assert_uint_eq(td.notified[0], 1);
    ck_assert_uint_eq(td.notified[1], 2);
    drv_write(&d, 0x1002, 0, 2); /* not a doorbell */
    drv_write(&d, 0x1008, 0, 4); /* queue 2 does not exist */
    ck_assert_uint_eq(td.notified[0] + td.notified[1], 3);
    struct aero_vq_stats st;
    aero_vq_get_stats(aero_vdev_queue(vdev, 1), &st);
    ck_assert_uint_eq(st.notifies, 2);
}
END_TEST

START_TEST(test_notify_before_driver_ok_is_deferred)
{
    drv_negotiate(&d, 1ull << VIRTIO_F_VERSION_1);
    drv_setup_queue(&d, 0, 256);
    drv_kick(&d, 0);
    ck_assert_uint_eq(td.notified[0], 0);
    drv_driver_ok(&d);
    ck_assert_uint_eq(td.notified[0], 1); /* processed at DRIVER_OK */
}
END_TEST

START_TEST(test_notify_deferred_until_host_runs_pending)
{
    struct aero_vdev_params p = {
        .id = {.vendor_id = 0x1af4, .device_id = 0x1041, .revision = 1},
        .num_queues = 2,
        .queue_max_size = {256, 256},
        .device_features = OFFERED,
    };
    struct aero_vdev *dv = aero_vdev_new(&p, &fake_host_ops_deferred, &g, &tdev_ops, &td);
    drv_bring_up(&d, dv, &g, ~0ull);
    memset(td.notified, 0, sizeof(td.notified));
    unsigned sched = g.schedules;
    drv_write(&d, 0x1000, 0, 2);
    drv_write(&d, 0x1004, 1, 2);
    drv_write(&d, 0x1000, 0, 2);
    ck_assert_uint_eq(td.notified[0] + td.notified[1], 0); /* nothing ran in the vCPU path */
    ck_assert_uint_eq(g.schedules, sched + 1);            /* one wake-up for the burst */
    aero_vdev_run_pending(dv);
    ck_assert_uint_eq(td.notified[0], 1);
    ck_assert_uint_eq(td.notified[1], 1);
    aero_vdev_run_pending(dv); /* nothing pending any more */
    ck_assert_uint_eq(td.notified[0], 1);
    drv_write(&d, 0x1000, 0, 2);
    drv_write(&d, 0x14, 0, 1); /* reset drops the pending doorbell */
    aero_vdev_run_pending(dv);
    ck_assert_uint_eq(td.notified[0], 1);
    aero_vdev_free(dv);
}
END_TEST

/* ---- ISR / INTx / MSI-X --------------------------------------------------------------- */

START_TEST(test_isr_read_to_ack_and_intx_level)
{
    drv_bring_up(&d, vdev, &g, ~0ull);
    ck_assert_int_eq(g.intx, 0);
    aero_vdev_config_changed(vdev);
    ck_assert_int_eq(g.intx, 1);
    ck_assert_uint_eq(drv_read(&d, 0x15, 1), 1); /* generation bumped */
    ck_assert_uint_eq(drv_read(&d, 0x2000, 4), VIRTIO_ISR_CONFIG);
    ck_assert_int_eq(g.intx, 0);
    ck_assert_uint_eq(drv_read(&d, 0x2000, 1), 0);
    /* reading other ISR bytes neither returns nor clears the pending bits */
    aero_vdev_config_changed(vdev);
    ck_assert_uint_eq(drv_read(&d, 0x2001, 1), 0);
    ck_assert_int_eq(g.intx, 1);
    ck_assert_uint_eq(drv_read(&d, 0x2000, 1), VIRTIO_ISR_CONFIG);
}
END_TEST

START_TEST(test_msix_exclusive_when_enabled)
{
    drv_bring_up(&d, vdev, &g, ~0ull);
    g.msix_enabled = true;
    drv_write(&d, 0x10, 2, 2);
    ck_assert_uint_eq(drv_read(&d, 0x10, 2), 2);
    aero_vdev_config_changed(vdev);
    ck_assert_uint_eq(g.msix_count[2], 1);
    ck_assert_int_eq(g.intx, 0);
    ck_assert_uint_eq(drv_read(&d, 0x2000, 1), 0);
}
END_TEST

START_TEST(test_msix_no_vector_means_no_interrupt)
{
    drv_bring_up(&d, vdev, &g, ~0ull);
    g.msix_enabled = true;
    drv_write(&d, 0x10, VIRTIO_MSI_NO_VECTOR, 2);
    aero_vdev_config_changed(vdev);
    ck_assert_uint_eq(g.msix_count[0] + g.msix_count[1] + g.msix_count[2], 0);
    ck_assert_int_eq(g.intx, 0);
}
END_TEST

START_TEST(test_msix_vector_out_of_range_reads_no_vector)
{
    drv_write(&d, 0x10, 3, 2);
    ck_assert_uint_eq(drv_read(&d, 0x10, 2), VIRTIO_MSI_NO_VECTOR);
    drv_write(&d, 0x16, 1, 2);
    drv_write(&d, 0x1a, 1, 2);
    ck_assert_uint_eq(drv_read(&d, 0x1a, 2), 1);
    drv_write(&d, 0x1a, 7, 2);
    ck_assert_uint_eq(drv_read(&d, 0x1a, 2), VIRTIO_MSI_NO_VECTOR);
}
END_TEST

START_TEST(test_no_msix_device_vectors_read_no_vector)
{
    drv_write(&d, 0x10, 0, 2);
    ck_assert_uint_eq(drv_read(&d, 0x10, 2), VIRTIO_MSI_NO_VECTOR);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("transport");
    TCase *tc = tcase_create("intx");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_blk_pci_identity_and_revision);
    tcase_add_test(tc, test_caps_chain_layout);
    tcase_add_test(tc, test_feature_select_reserved_reads_zero);
    tcase_add_test(tc, test_features_ok_accepts_subset);
    tcase_add_test(tc, test_features_ok_refused_for_unoffered_bit);
    tcase_add_test(tc, test_features_ok_refused_without_version_1);
    tcase_add_test(tc, test_driver_features_frozen_after_features_ok);
    tcase_add_test(tc, test_num_queues_and_sizes);
    tcase_add_test(tc, test_queue_select_out_of_range);
    tcase_add_test(tc, test_queue_address_halves_and_full_width);
    tcase_add_test(tc, test_selectors_are_device_global);
    tcase_add_test(tc, test_undefined_offsets_read_zero_writes_ignored);
    tcase_add_test(tc, test_device_config_window);
    tcase_add_test(tc, test_reset_clears_everything_and_deasserts_intx);
    tcase_add_test(tc, test_driver_ok_without_features_ok_needs_reset);
    tcase_add_test(tc, test_needs_reset_is_sticky_until_reset);
    tcase_add_test(tc, test_status_changes_reach_the_host);
    tcase_add_test(tc, test_notify_16_and_32_bit);
    tcase_add_test(tc, test_notify_before_driver_ok_is_deferred);
    tcase_add_test(tc, test_notify_deferred_until_host_runs_pending);
    tcase_add_test(tc, test_isr_read_to_ack_and_intx_level);
    tcase_add_test(tc, test_no_msix_device_vectors_read_no_vector);
    suite_add_tcase(s, tc);
    TCase *tm = tcase_create("msix");
    tcase_add_checked_fixture(tm, setup_msix, teardown);
    tcase_add_test(tm, test_msix_cap_and_table_placement);
    tcase_add_test(tm, test_msix_exclusive_when_enabled);
    tcase_add_test(tm, test_msix_no_vector_means_no_interrupt);
    tcase_add_test(tm, test_msix_vector_out_of_range_reads_no_vector);
    suite_add_tcase(s, tm);
    return s;
}
