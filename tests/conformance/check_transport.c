/* CONTRACT §1 transport checks (T1.xx): identity, capabilities, the fixed BAR0 layout, feature
 * negotiation, reset, queue programming, notify, ISR/INTx and MSI-X. */
#include "conformance.h"

#include <stdio.h>
#include <string.h>

#define WHY char why[200] = ""

static void identity(struct ctx *c)
{
    struct vd_dev *d = &c->d;
    const struct kind *k = c->k;
    uint16_t ven = cfg_rd16(d, 0), dev = cfg_rd16(d, 2);
    uint8_t rev = cfg_rd8(d, 8), ht = cfg_rd8(d, 0x0e), pin = cfg_rd8(d, 0x3d);
    uint16_t sven = cfg_rd16(d, 0x2c), sid = cfg_rd16(d, 0x2e);
    uint32_t cls = cfg_rd32(d, 8) >> 8;
    verdict(c, "T1.01", ven == 0x1af4, "0x%04x", ven);
    verdict(c, "T1.02", dev == k->device_id, "0x%04x, want 0x%04x", dev, k->device_id);
    verdict(c, "T1.03", rev == 0x01, "0x%02x", rev);
    verdict(c, "T1.04", sven == 0x1af4, "0x%04x", sven);
    verdict(c, "T1.05", sid == k->subsys, "0x%04x, want 0x%04x", sid, k->subsys);
    verdict(c, "T1.06", cls == k->class_code, "0x%06x, want 0x%06x", cls, k->class_code);
    verdict(c, "T1.07", ht == k->header_type, "0x%02x, want 0x%02x", ht, k->header_type);
    verdict(c, "T1.08", pin == 1, "pin %u", pin);
}

static void capabilities(struct ctx *c)
{
    struct vd_dev *d = &c->d;
    uint16_t st = cfg_rd16(d, 6);
    uint8_t ptr0 = cfg_rd8(d, 0x34);
    verdict(c, "T1.09", (st & 0x10) && ptr0 >= 0x40, "status 0x%04x, pointer 0x%02x", st, ptr0);

    /* walk: acyclic, aligned, in range; vendor cap lengths */
    bool seen[256] = {false};
    bool ok = true, lens_ok = true;
    char chain[200] = "", bad[160] = "";
    unsigned ptr = ptr0, n = 0;
    while (ptr) {
        if (ptr < 0x40 || ptr > 0xfc || (ptr & 3) || seen[ptr]) {
            ok = false;
            snprintf(bad, sizeof(bad), "pointer 0x%02x %s", ptr,
                     seen[ptr] ? "revisited (cycle)" : "misaligned or out of range");
            break;
        }
        seen[ptr] = true;
        uint8_t id = cfg_rd8(d, ptr);
        snprintf(chain + strlen(chain), sizeof(chain) - strlen(chain), "%s%02x@%02x", n ? "," : "",
                 id, ptr);
        if (id == 0x09) {
            uint8_t len = cfg_rd8(d, ptr + 2), type = cfg_rd8(d, ptr + 3);
            if (len < 16 || (type == CAP_NOTIFY && len < 20)) {
                lens_ok = false;
                snprintf(bad, sizeof(bad), "cfg_type %u cap_len %u", type, len);
            }
        }
        ptr = cfg_rd8(d, ptr + 1);
        n++;
    }
    verdict(c, "T1.10", ok, "%s%s%s", chain, *bad ? "; " : "", ok ? "" : bad);
    verdict(c, "T1.11", lens_ok, "%s", lens_ok ? "all vendor caps long enough" : bad);

    struct {
        const char *id;
        struct vd_region *r;
        uint32_t off, len;
    } want[] = {{"T1.12", &d->common, 0x0000, 0x100},
                {"T1.13", &d->notify, 0x1000, 0x100},
                {"T1.14", &d->isr, 0x2000, 0x20},
                {"T1.15", &d->device, 0x3000, 0x100}};
    for (int i = 0; i < 4; i++) {
        struct vd_region *r = want[i].r;
        if (!r->present) {
            report(c, want[i].id, FAIL, "capability missing");
            continue;
        }
        bool good = r->bar == 0 && r->off == want[i].off && r->len == want[i].len;
        if (i == 1)
            good = good && d->notify_mult == 4;
        if (i == 1)
            verdict(c, want[i].id, good, "BAR%u offset 0x%x length 0x%x multiplier %u", r->bar,
                    r->off, r->len, d->notify_mult);
        else
            verdict(c, want[i].id, good, "BAR%u offset 0x%x length 0x%x", r->bar, r->off, r->len);
    }

    /* BAR0: type from config space, size from the kernel's sizing */
    uint32_t b0 = cfg_rd32(d, 0x10);
    bool mem64 = !(b0 & 1) && ((b0 >> 1) & 3) == 2;
    verdict(c, "T1.16", mem64 && d->bar_size[0] == 0x4000, "%s, size 0x%llx",
            (b0 & 1) ? "I/O" : mem64 ? "64-bit memory" : "32-bit memory",
            (unsigned long long)d->bar_size[0]);
    char io[64] = "";
    for (int i = 0; i < 6; i++)
        if (d->bar_size[i] && (d->bar_flags[i] & 0x100)) /* IORESOURCE_IO */
            snprintf(io + strlen(io), sizeof(io) - strlen(io), " BAR%d", i);
    verdict(c, "T1.17", !*io, "%s", *io ? io : "none");

    /* CONTRACT §1 lists exactly COMMON, NOTIFY, ISR and DEVICE; virtio 1.2 §4.1.4.9 would add
     * the PCI configuration access capability. The contract does not require it (Aero's and
     * virtio-win's drivers map BAR0); when a device has one, it must work. */
    if (!d->pci_cfg_cap) {
        report(c, "T1.18", PASS,
               "absent: CONTRACT §1 lists only COMMON/NOTIFY/ISR/DEVICE (a deliberate deviation "
               "from virtio 1.2 §4.1.4.9, which Aero's and virtio-win's drivers do not use; "
               "iPXE's virtio-net probe does)");
    } else {
        /* read device_feature_select's neighbour num_queues through the window */
        unsigned cap = d->pci_cfg_cap;
        cfg_wr8(d, cap + 4, d->common.bar);
        cfg_wr8(d, cap + 3, 2);
        cfg_wr32(d, cap + 8, d->common.off + CC_NUMQ);
        cfg_wr32(d, cap + 12, 2);
        uint16_t v = cfg_rd16(d, cap + 16);
        uint16_t direct = CC16(d, CC_NUMQ);
        verdict(c, "T1.18", v == direct,
                "present at 0x%02x (not in CONTRACT §1); window read num_queues %u, direct %u", cap,
                v, direct);
    }

    /* OVMF's Virtio10Dxe binds modern devices only with subsystem ID >= 0x40: below that a
     * bootable device must bring its own UEFI driver in an option ROM (issue 13). */
    uint16_t sid = cfg_rd16(d, 0x2e);
    char rompath[128];
    snprintf(rompath, sizeof(rompath), "/sys/bus/pci/devices/%s/rom", d->bdf);
    if (!c->k->boot_device) {
        report(c, "T1.19", SKIP, "%s is not a boot device", c->k->name);
    } else if (sid >= 0x40) {
        report(c, "T1.19", PASS, "subsystem 0x%04x >= 0x40: OVMF's Virtio10Dxe binds it", sid);
    } else {
        FILE *f = fopen(rompath, "r+");
        uint8_t img[0x400];
        size_t got = 0;
        if (f) {
            fputs("1", f); /* enable reads of the ROM */
            fflush(f);
            rewind(f);
            got = fread(img, 1, sizeof(img), f);
            fclose(f);
            f = fopen(rompath, "w");
            if (f) {
                fputs("0", f);
                fclose(f);
            }
        }
        /* walk the images for an EFI one (code type 3) naming this vendor/device */
        bool efi = false;
        unsigned off = 0;
        if (got >= 0x1a && img[0] == 0x55 && img[1] == 0xaa) {
            unsigned pcir = img[0x18] | img[0x19] << 8;
            if (pcir + 0x16 <= got && !memcmp(img + pcir, "PCIR", 4)) {
                uint16_t rv = (uint16_t)(img[pcir + 4] | img[pcir + 5] << 8);
                uint16_t rd = (uint16_t)(img[pcir + 6] | img[pcir + 7] << 8);
                efi = img[pcir + 0x14] == 3 && rv == cfg_rd16(d, 0) && rd == cfg_rd16(d, 2);
                off = pcir;
            }
        }
        if (!got && c->kid == K_NET)
            report(c, "T1.19", SKIP,
                   "subsystem 0x%04x < 0x40 and no option ROM: OVMF will not drive it, so no "
                   "UEFI network boot (issue 13, net part; not a CONTRACT requirement)", sid);
        else
            verdict(c, "T1.19", efi, "subsystem 0x%04x < 0x40; option ROM %s%s", sid,
                    got ? "present" : "absent", got ? (efi ? ", first image is EFI for this device"
                                                           : ", but no EFI image for this device")
                                                    : " (OVMF cannot boot from it)");
        (void)off;
    }
}

/* Undefined offsets read 0 / ignore writes. ISR byte 0 is never read here (read-to-ack). */
static bool reads_zero(volatile uint8_t *p, unsigned from, unsigned to, char *bad, size_t blen)
{
    for (unsigned w = 1; w <= 4; w *= 2) {
        for (unsigned off = from; off + w <= to; off += (w == 1 ? 7 : 4 * w + w)) {
            uint32_t v = w == 1 ? mm_rd8(p, off) : w == 2 ? mm_rd16(p, off & ~1u) : mm_rd32(p, off & ~3u);
            if (v) {
                snprintf(bad, blen, "0x%x (width %u) reads 0x%x", off, w, v);
                return false;
            }
        }
    }
    return true;
}

static void undefined_offsets(struct ctx *c)
{
    struct vd_dev *d = &c->d;
    char bad[96] = "";
    vd_reset(d);
    bool ok = true;
    if (d->common.len > CC_END)
        ok = reads_zero(d->common.p, CC_END, d->common.len < 0x100 ? d->common.len : 0x100, bad,
                        sizeof(bad));
    if (ok && d->isr.len > 1)
        ok = reads_zero(d->isr.p, 4, d->isr.len < 0x20 ? d->isr.len : 0x20, bad, sizeof(bad));
    verdict(c, "T1.20", ok, "%s", ok ? "common_cfg 0x38.. and ISR 0x04.. read 0" : bad);

    bool layout = d->common.bar == 0 && d->common.off == 0 && d->isr.bar == 0 &&
                  d->isr.off == 0x2000 && d->notify.off == 0x1000 && d->bar[0] &&
                  d->bar_size[0] >= 0x4000;
    if (!layout) {
        report(c, "T1.21", FAIL, "BAR0 does not carry the contract layout (common cfg in BAR%u at 0x%x)",
               d->common.bar, d->common.off);
        report(c, "T1.22", FAIL, "BAR0 does not carry the contract layout");
        return;
    }
    volatile uint8_t *b = d->bar[0];
    unsigned devlen = 0x100;
    static const struct {
        unsigned from, to;
    } gaps[] = {{0x0100, 0x1000}, {0x1100, 0x2000}, {0x2020, 0x3000}};
    ok = true;
    for (unsigned i = 0; ok && i < 3; i++)
        ok = reads_zero(b, gaps[i].from, gaps[i].to, bad, sizeof(bad));
    /* the notify region reads 0 too, doorbells included */
    if (ok)
        ok = reads_zero(b, 0x1000, 0x1100, bad, sizeof(bad));
    (void)devlen;
    verdict(c, "T1.21", ok, "%s", ok ? "0x0100-0x0fff, 0x1000-0x1fff, 0x2020-0x2fff read 0" : bad);

    /* writes: garbage into the gaps, then nothing changed */
    uint32_t nq = CC16(d, CC_NUMQ);
    static const unsigned woff[] = {0x0040, 0x0ffc, 0x0800, 0x1800, 0x2004, 0x2800, 0x2ffc};
    for (unsigned i = 0; i < sizeof(woff) / sizeof(woff[0]); i++)
        mm_wr32(b, woff[i], 0xffffffff);
    mm_wr8(b, 0x2001, 0xff);
    ok = reads_zero(b, 0x0100, 0x1000, bad, sizeof(bad)) &&
         reads_zero(b, 0x2020, 0x3000, bad, sizeof(bad)) && CC16(d, CC_NUMQ) == nq &&
         vd_status(d) == 0 && mm_rd8(d->isr.p, 0) == 0;
    if (ok && CC32(d, CC_DFSELECT) != 0) {
        ok = false;
        snprintf(bad, sizeof(bad), "device_feature_select changed");
    }
    verdict(c, "T1.22", ok, "%s", ok ? "gaps still read 0, status/ISR/selectors unchanged" : bad);
}

static void features(struct ctx *c)
{
    struct vd_dev *d = &c->d;
    uint64_t f = c->offered;
    verdict(c, "T1.23", f & BIT(F_VERSION_1), "device features 0x%llx", (unsigned long long)f);
    verdict(c, "T1.24", f & BIT(F_INDIRECT), "bit 28 %s", (f & BIT(F_INDIRECT)) ? "set" : "clear");
    verdict(c, "T1.25", !(f & BIT(F_PACKED)), "bit 34 %s", (f & BIT(F_PACKED)) ? "set" : "clear");
    bool want_ev = !c->strict && c->k->event_idx_default;
    bool has_ev = (f & BIT(F_EVENT_IDX)) != 0;
    verdict(c, "T1.26", has_ev == want_ev, "bit 29 %s, %s profile wants it %s",
            has_ev ? "offered" : "not offered", c->strict ? "strict" : "default",
            want_ev ? "offered" : "not offered");
    uint64_t want = BIT(F_VERSION_1) | BIT(F_INDIRECT) | c->k->dev_features |
                    (want_ev ? BIT(F_EVENT_IDX) : 0);
    uint64_t extra = f & ~want, missing = want & ~f;
    verdict(c, "T1.27", !extra && !missing, "offered 0x%llx; extra 0x%llx, missing 0x%llx",
            (unsigned long long)f, (unsigned long long)extra, (unsigned long long)missing);

    vd_reset(d);
    CC_W32(d, CC_DFSELECT, 2);
    uint32_t v2 = CC32(d, CC_DF);
    CC_W32(d, CC_DFSELECT, 0xffffffff);
    uint32_t vff = CC32(d, CC_DF);
    verdict(c, "T1.28", v2 == 0 && vff == 0, "select 2 reads 0x%x, select 0xffffffff reads 0x%x", v2,
            vff);

    CC_W8(d, CC_STATUS, S_ACK | S_DRIVER);
    vd_write_driver_features(d, BIT(F_VERSION_1));
    CC_W32(d, CC_GFSELECT, 2);
    CC_W32(d, CC_GF, 0xffffffff);
    CC_W32(d, CC_GFSELECT, 0);
    uint32_t lo = CC32(d, CC_GF);
    CC_W32(d, CC_GFSELECT, 1);
    uint32_t hi = CC32(d, CC_GF);
    CC_W32(d, CC_GFSELECT, 2);
    uint32_t g2 = CC32(d, CC_GF);
    verdict(c, "T1.29", lo == 0 && hi == 1 && g2 == 0,
            "after a write at select 2: words 0/1 read 0x%x/0x%x, select 2 reads 0x%x", lo, hi, g2);

    CC_W32(d, CC_DFSELECT, 1);
    CC_W32(d, CC_GFSELECT, 1);
    CC_W16(d, CC_Q_SELECT, 0);
    uint32_t ds = CC32(d, CC_DFSELECT), gs = CC32(d, CC_GFSELECT);
    verdict(c, "T1.30", ds == 1 && gs == 1, "device_feature_select %u, driver_feature_select %u", ds,
            gs);

    /* an unoffered bit: the first clear bit among 0..27 */
    unsigned bad = 0;
    while (bad < 28 && (f & BIT(bad)))
        bad++;
    vd_reset(d);
    bool ok1 = vd_negotiate(d, base_features(c) | BIT(bad));
    verdict(c, "T1.31", !ok1, "driver features with unoffered bit %u: FEATURES_OK %s", bad,
            ok1 ? "stuck" : "refused");
    vd_reset(d);
    bool ok2 = vd_negotiate(d, base_features(c) & ~BIT(F_VERSION_1));
    verdict(c, "T1.32", !ok2, "FEATURES_OK %s", ok2 ? "stuck" : "refused");
    vd_reset(d);
    bool ok3 = vd_negotiate(d, base_features(c));
    verdict(c, "T1.33", ok3, "features 0x%llx: FEATURES_OK %s", (unsigned long long)base_features(c),
            ok3 ? "set" : "refused");
    vd_reset(d);

    /* DRIVER_OK without FEATURES_OK: the device must not run (refuse or report NEEDS_RESET) */
    CC_W8(d, CC_STATUS, S_ACK | S_DRIVER);
    vd_write_driver_features(d, base_features(c));
    CC_W8(d, CC_STATUS, S_ACK | S_DRIVER | S_DRIVER_OK);
    uint8_t st = vd_status(d);
    bool refused = !(st & S_DRIVER_OK) || (st & (S_NEEDS_RESET | S_FAILED));
    verdict(c, "T1.61", refused, "device_status 0x%02x", st);
    vd_reset(d);
}

static void reset_and_queues(struct ctx *c)
{
    struct vd_dev *d = &c->d;
    const struct kind *k = c->k;
    struct vd_vq vq[4];
    WHY;
    vd_reset(d);
    CC_W16(d, CC_Q_SELECT, 0);
    uint16_t max0 = CC16(d, CC_Q_SIZE);
    bool up = bringup(c, base_features(c), vq, 1, NULL, false, why, sizeof(why));
    if (!up) {
        const char *ids[] = {"T1.34", "T1.35", "T1.36", "T1.43", "T1.44"};
        for (int i = 0; i < 5; i++)
            report(c, ids[i], FAIL, "bring-up failed: %s", why);
    } else {
        CC_W16(d, CC_Q_SELECT, 0);
        uint16_t en = CC16(d, CC_Q_ENABLE);
        uint64_t desc = cc_rd64(d, CC_Q_DESC), avail = cc_rd64(d, CC_Q_AVAIL),
                 used = cc_rd64(d, CC_Q_USED);
        verdict(c, "T1.43", en == 1, "queue_enable reads %u", en);
        verdict(c, "T1.44", desc == vq[0].desc_gpa && avail == vq[0].avail_gpa && used == vq[0].used_gpa,
                "desc 0x%llx avail 0x%llx used 0x%llx", (unsigned long long)desc,
                (unsigned long long)avail, (unsigned long long)used);
        CC_W16(d, CC_Q_SIZE, 8); /* a size write after enable */
        CC_W8(d, CC_STATUS, 0);
        uint8_t st = vd_status(d);
        verdict(c, "T1.34", st == 0, "reads 0x%02x right after the write", st);
        vd_reset(d);
        CC_W16(d, CC_Q_SELECT, 0);
        en = CC16(d, CC_Q_ENABLE);
        desc = cc_rd64(d, CC_Q_DESC);
        uint16_t sz = CC16(d, CC_Q_SIZE);
        verdict(c, "T1.35", en == 0 && desc == 0 && sz == max0,
                "queue 0 after reset: enable %u, desc 0x%llx, size %u (maximum %u)", en,
                (unsigned long long)desc, sz, max0);
        CC_W32(d, CC_GFSELECT, 0);
        uint32_t g0 = CC32(d, CC_GF);
        CC_W32(d, CC_GFSELECT, 1);
        uint32_t g1 = CC32(d, CC_GF);
        verdict(c, "T1.36", g0 == 0 && g1 == 0, "driver_feature reads 0x%x/0x%x after reset", g0, g1);
    }

    uint16_t nq = CC16(d, CC_NUMQ);
    verdict(c, "T1.38", nq == k->num_queues, "%u, want %u", nq, k->num_queues);
    char sizes[64] = "";
    bool sz_ok = nq == k->num_queues, noff_ok = true;
    for (uint16_t q = 0; q < nq && q < 8; q++) {
        CC_W16(d, CC_Q_SELECT, q);
        uint16_t s = CC16(d, CC_Q_SIZE), no = CC16(d, CC_Q_NOFF);
        snprintf(sizes + strlen(sizes), sizeof(sizes) - strlen(sizes), "%s%u", q ? "," : "", s);
        if (q < 4 && s != k->qsize[q])
            sz_ok = false;
        if (no != q)
            noff_ok = false;
    }
    verdict(c, "T1.39", sz_ok, "sizes %s", sizes);
    verdict(c, "T1.40", noff_ok, "%s", noff_ok ? "queue_notify_off(q) = q for every queue"
                                               : "queue_notify_off differs from the queue index");

    CC_W16(d, CC_Q_SELECT, nq);
    uint16_t s = CC16(d, CC_Q_SIZE), no = CC16(d, CC_Q_NOFF);
    CC_W16(d, CC_Q_SELECT, 0xffff);
    uint16_t s2 = CC16(d, CC_Q_SIZE);
    verdict(c, "T1.41", s == 0 && no == 0 && s2 == 0, "select %u: size %u notify_off %u; select "
            "0xffff: size %u", nq, s, no, s2);
    CC_W16(d, CC_Q_SELECT, nq);
    cc_wr64(d, CC_Q_DESC, 0x1000);
    cc_wr64(d, CC_Q_AVAIL, 0x2000);
    cc_wr64(d, CC_Q_USED, 0x3000);
    CC_W16(d, CC_Q_ENABLE, 1);
    uint64_t rd = cc_rd64(d, CC_Q_DESC);
    uint16_t ren = CC16(d, CC_Q_ENABLE);
    uint8_t st = vd_status(d);
    CC_W16(d, CC_Q_SELECT, 0);
    uint64_t q0 = cc_rd64(d, CC_Q_DESC);
    verdict(c, "T1.42", rd == 0 && ren == 0 && q0 == 0 && !(st & S_NEEDS_RESET),
            "out-of-range queue reads desc 0x%llx enable %u; queue 0 desc 0x%llx; status 0x%02x",
            (unsigned long long)rd, ren, (unsigned long long)q0, st);

    /* read-only fields */
    CC_W16(d, CC_NUMQ, 7);
    CC_W32(d, CC_DFSELECT, 0);
    uint32_t df = CC32(d, CC_DF);
    CC_W32(d, CC_DF, ~df);
    CC_W16(d, CC_Q_NOFF, 5);
    uint16_t nq2 = CC16(d, CC_NUMQ), no0 = CC16(d, CC_Q_NOFF);
    uint32_t df2 = CC32(d, CC_DF);
    verdict(c, "T1.60", nq2 == nq && df2 == df && no0 == 0,
            "num_queues %u, device_feature 0x%x, queue_notify_off %u after writes", nq2, df2, no0);
    uint8_t g1 = CC8(d, CC_CFGGEN);
    vd_msleep(5);
    uint8_t g2 = CC8(d, CC_CFGGEN);
    verdict(c, "T1.59", g1 == g2, "%u then %u", g1, g2);
}

/* One probe through the rings: interrupt observation in INTx mode. */
static void notify_and_intx(struct ctx *c)
{
    struct vd_dev *d = &c->d;
    struct vd_vq vq[4];
    struct probe p;
    WHY;
    uint16_t q = c->k->probe_q;
    vd_mem_rewind(&c->lo);
    if (!bringup(c, base_features(c), vq, q + 1, NULL, false, why, sizeof(why))) {
        const char *ids[] = {"T1.45", "T1.46", "T1.47", "T1.48", "T1.49", "T1.50", "T1.51",
                             "T1.52", "T1.53", "T1.37"};
        for (int i = 0; i < 10; i++)
            report(c, ids[i], FAIL, "bring-up failed: %s", why);
        return;
    }
    /* 16-bit doorbell */
    probe_build(c, &c->lo, &p, false, 0);
    (void)vd_isr(d);
    vd_uio_unmask(d);
    while (vd_uio_wait(d, 0) > 0)
        vd_uio_unmask(d);
    bool ok = probe_roundtrip(c, &vq[q], &p, false, why, sizeof(why));
    verdict(c, "T1.45", ok, "%s", ok ? "request completed" : why);
    /* interrupt state after that completion (NO_INTERRUPT clear) */
    vd_msleep(20);
    bool lvl = vd_intx_level(d);
    int uio = vd_uio_wait(d, 1000);
    uint8_t isr = vd_isr(d);
    bool lvl_after = vd_intx_level(d);
    uint8_t isr2 = vd_isr(d);
    verdict(c, "T1.48", isr & 1, "ISR 0x%02x", isr);
    verdict(c, "T1.49", (isr & 1) && isr2 == 0, "first read 0x%02x, second 0x%02x", isr, isr2);
    verdict(c, "T1.50", !(isr & 0xfc), "ISR 0x%02x", isr);
    verdict(c, "T1.51", lvl, "PCI status interrupt bit %s before the ISR read", lvl ? "set" : "clear");
    verdict(c, "T1.52", lvl && !lvl_after, "interrupt bit %s after the ISR read",
            lvl_after ? "still set" : "clear");
    verdict(c, "T1.53", uio > 0, "%d interrupt(s) seen by uio_pci_generic", uio);
    vd_uio_unmask(d);

    /* 32-bit doorbell */
    probe_build(c, &c->lo, &p, false, 0);
    uint16_t head = vd_vq_add(&vq[q], p.seg, p.n, NULL);
    vd_vq_publish(&vq[q], head);
    vd_vq_kick(&vq[q], 4);
    uint32_t id, len;
    int r = vd_vq_wait(&vq[q], 2000, &id, &len);
    verdict(c, "T1.46", r == 1 && id == head, "%s", r == 1 ? "request completed" : r == 0 ? "no used entry in 2 s" : "NEEDS_RESET");

    /* a doorbell for a queue that does not exist */
    probe_build(c, &c->lo, &p, false, 0);
    head = vd_vq_add(&vq[q], p.seg, p.n, NULL);
    vd_vq_publish(&vq[q], head);
    mm_wr16(d->notify.p, (unsigned)(c->k->num_queues + 2) * d->notify_mult, (uint16_t)(c->k->num_queues + 2));
    vd_msleep(5);
    uint8_t st = vd_status(d);
    vd_vq_kick(&vq[q], 2); /* the real doorbell must still work afterwards */
    r = vd_vq_wait(&vq[q], 2000, &id, &len);
    verdict(c, "T1.47", !(st & S_NEEDS_RESET) && r == 1,
            "status 0x%02x after it; the real doorbell then %s", st,
            r == 1 ? "completed the request" : "did not");

    /* reset with an interrupt pending */
    vd_msleep(20);
    bool pend = vd_intx_level(d);
    vd_reset(d);
    bool after = vd_intx_level(d);
    uint8_t isr3 = vd_isr(d);
    verdict(c, "T1.37", pend && !after && isr3 == 0, "INTx %s before, %s after reset; ISR 0x%02x",
            pend ? "asserted" : "not asserted", after ? "asserted" : "deasserted", isr3);
    vd_uio_unmask(d);
}

static void msix(struct ctx *c)
{
    struct vd_dev *d = &c->d;
    const char *ids[] = {"T1.54", "T1.55", "T1.56", "T1.57", "T1.58"};
    if (!d->msix_cap) {
        for (int i = 0; i < 5; i++)
            report(c, ids[i], SKIP, "no MSI-X capability (optional in CONTRACT §1%s)",
                   c->strict ? "; the strict profile runs INTx only" : "");
        return;
    }
    uint16_t n = d->msix_n;
    bool placed = d->msix_table_bir == 0 && d->msix_table_off == 0x3100 &&
                  n == c->k->num_queues + 1 && d->msix_pba_bir == 0;
    verdict(c, "T1.54", placed, "table BAR%u+0x%x, %u entries (want %u), PBA BAR%u+0x%x",
            d->msix_table_bir, d->msix_table_off, n, c->k->num_queues + 1, d->msix_pba_bir,
            d->msix_pba_off);

    volatile uint8_t *tb = d->bar[d->msix_table_bir];
    if (!tb) {
        for (int i = 1; i < 5; i++)
            report(c, ids[i], FAIL, "MSI-X table BAR not mapped");
        return;
    }
    tb += d->msix_table_off;
    /* Every entry's message is a memory write into our DMA region: a delivered MSI is visible. */
    vd_mem_rewind(&c->lo);
    uint64_t slots_gpa;
    volatile uint32_t *slots = (volatile uint32_t *)vd_alloc(&c->lo, 4u * n, 16, &slots_gpa);
    for (uint16_t v = 0; v < n; v++) {
        mm_wr32(tb, 16u * v + 12, 1); /* masked while programming */
        mm_wr32(tb, 16u * v, (uint32_t)(slots_gpa + 4u * v));
        mm_wr32(tb, 16u * v + 4, (uint32_t)((slots_gpa + 4u * v) >> 32));
        mm_wr32(tb, 16u * v + 8, 0xa0e00000u | v);
    }
    vd_msix_enable(d, true);
    for (uint16_t v = 0; v < n; v++)
        mm_wr32(tb, 16u * v + 12, 0);

    struct vd_vq vq[4];
    struct probe p;
    WHY;
    uint16_t q = c->k->probe_q, qv = (uint16_t)(q + 1 < n ? q + 1 : 0);
    bool up = bringup(c, base_features(c), vq, q + 1, NULL, false, why, sizeof(why));
    if (up) {
        CC_W16(d, CC_MSIX, 0);
        CC_W16(d, CC_Q_SELECT, q);
        CC_W16(d, CC_Q_MSIX, qv);
        uint16_t rb = CC16(d, CC_Q_MSIX);
        probe_build(c, &c->lo, &p, false, 0);
        bool ok = probe_roundtrip(c, &vq[q], &p, false, why, sizeof(why));
        vd_msleep(20);
        bool lvl = vd_intx_level(d);
        uint32_t got = slots[qv];
        verdict(c, "T1.55", ok && rb == qv && got == (0xa0e00000u | qv) && !lvl,
                "queue vector %u (reads %u): message 0x%08x, INTx %s%s%s", qv, rb, got,
                lvl ? "asserted" : "quiet", ok ? "" : "; ", ok ? "" : why);

        /* vector 0xFFFF: nothing at all */
        for (uint16_t v = 0; v < n; v++)
            slots[v] = 0;
        CC_W16(d, CC_Q_SELECT, q);
        CC_W16(d, CC_Q_MSIX, NO_VECTOR);
        probe_build(c, &c->lo, &p, false, 0);
        ok = probe_roundtrip(c, &vq[q], &p, false, why, sizeof(why));
        vd_msleep(50);
        uint32_t any = 0;
        for (uint16_t v = 0; v < n; v++)
            any |= slots[v];
        lvl = vd_intx_level(d);
        verdict(c, "T1.56", ok && !any && !lvl, "messages %s, INTx %s%s%s", any ? "sent" : "none",
                lvl ? "asserted" : "quiet", ok ? "" : "; ", ok ? "" : why);

        /* masked entry: no message (the PBA may hold it pending) */
        CC_W16(d, CC_Q_SELECT, q);
        CC_W16(d, CC_Q_MSIX, qv);
        mm_wr32(tb, 16u * qv + 12, 1);
        probe_build(c, &c->lo, &p, false, 0);
        ok = probe_roundtrip(c, &vq[q], &p, false, why, sizeof(why));
        vd_msleep(50);
        got = slots[qv];
        lvl = vd_intx_level(d);
        bool pending = vd_msix_pending(d, qv);
        verdict(c, "T1.57", ok && got == 0 && !lvl, "message %s, INTx %s, PBA bit %s%s%s",
                got ? "sent" : "none", lvl ? "asserted" : "quiet", pending ? "pending" : "clear",
                ok ? "" : "; ", ok ? "" : why);

        CC_W16(d, CC_MSIX, (uint16_t)(n + 5));
        uint16_t cv = CC16(d, CC_MSIX);
        CC_W16(d, CC_Q_MSIX, 0x7ff);
        uint16_t qv2 = CC16(d, CC_Q_MSIX);
        verdict(c, "T1.58", cv == NO_VECTOR && qv2 == NO_VECTOR,
                "msix_config %u -> reads 0x%x; queue vector 0x7ff -> reads 0x%x", n + 5, cv, qv2);
    } else {
        for (int i = 1; i < 5; i++)
            report(c, ids[i], FAIL, "bring-up failed: %s", why);
    }
    vd_reset(d);
    vd_msix_enable(d, false);
    vd_isr(d);
}

void checks_transport(struct ctx *c)
{
    module_ran(c, 'T');
    identity(c);
    capabilities(c);
    undefined_offsets(c);
    features(c);
    reset_and_queues(c);
    notify_and_intx(c);
    msix(c);
}
