/* CONTRACT §3.1 blk checks (B3.xx): features and config, IN/OUT/FLUSH/GET_ID, UNSUPP, every
 * IOERR rule, the capacity edge, seg_max, status placement, requests in flight. */
#include "conformance.h"

#include <stdio.h>
#include <string.h>

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13

struct breq {
    struct vd_seg seg[260];
    unsigned n;
    volatile uint8_t *hdr, *status, *data;
    uint64_t data_gpa;
};

/* header(16) + ndata data descriptors of dlen bytes each (writable for IN) + 1-byte status */
static void breq_build(struct ctx *c, struct breq *r, uint32_t type, uint64_t sector,
                       unsigned ndata, uint32_t dlen, bool data_write)
{
    uint64_t g;
    memset(r, 0, sizeof(*r));
    r->hdr = vd_alloc(&c->lo, 16, 16, &g);
    *(volatile uint32_t *)r->hdr = type;
    *(volatile uint64_t *)(r->hdr + 8) = sector;
    r->seg[r->n++] = (struct vd_seg){g, 16, false};
    if (ndata) {
        r->data = vd_alloc(&c->lo, (uint64_t)ndata * dlen + 1, 16, &r->data_gpa);
        for (unsigned i = 0; i < ndata; i++)
            r->seg[r->n++] = (struct vd_seg){r->data_gpa + (uint64_t)i * dlen, dlen, data_write};
    }
    r->status = vd_alloc(&c->lo, 1, 16, &g);
    *r->status = 0xff;
    r->seg[r->n++] = (struct vd_seg){g, 1, true};
}

/* submit; returns the status byte, -1 NEEDS_RESET, -2 no completion */
static int breq_run(struct ctx *c, struct vd_vq *vq, struct breq *r, uint32_t *used_len)
{
    bool ind = r->n > vq->size / 2 && (c->offered & BIT(F_INDIRECT));
    uint16_t h = vd_vq_add(vq, r->seg, r->n, ind ? &c->lo : NULL);
    vd_vq_publish(vq, h);
    vd_vq_kick(vq, 2);
    uint32_t id, len;
    int w = vd_vq_wait(vq, 3000, &id, &len);
    if (w < 0)
        return -1;
    if (w == 0)
        return -2;
    if (used_len)
        *used_len = len;
    return *r->status;
}

static bool up1(struct ctx *c, struct vd_vq *vq);

/* breq_run, and a fresh device when this one ended broken */
static int run_rec(struct ctx *c, struct vd_vq *vq, struct breq *r)
{
    int s = breq_run(c, vq, r, NULL);
    if (s < 0)
        up1(c, vq);
    return s;
}

static const char *st_name(int s)
{
    switch (s) {
    case 0:
        return "OK";
    case 1:
        return "IOERR";
    case 2:
        return "UNSUPP";
    case -1:
        return "NEEDS_RESET";
    case -2:
        return "no completion";
    case 0xff:
        return "status untouched";
    default:
        return "other";
    }
}

static bool up1(struct ctx *c, struct vd_vq *vq)
{
    char why[160];
    vd_mem_rewind(&c->lo);
    return bringup(c, base_features(c), vq, 1, NULL, false, why, sizeof(why));
}

/* one request on a fresh device; verdict wants status `want` (or NEEDS_RESET when alt_reset) */
static void expect(struct ctx *c, const char *id, struct vd_vq *vq, struct breq *r, int want,
                   bool alt_reset, const char *what)
{
    int s = breq_run(c, vq, r, NULL);
    bool ok = s == want || (alt_reset && s == -1);
    verdict(c, id, ok, "%s: %s (%d)", what, st_name(s), s);
    if (s < 0)
        up1(c, vq); /* a broken device would fail every later check for this one's reason */
}

void checks_blk(struct ctx *c)
{
    struct vd_dev *d = &c->d;
    struct vd_vq vq;
    struct breq r;
    module_ran(c, 'B');
    uint64_t f = c->offered;
    uint64_t want = BIT(2) | BIT(6) | BIT(9);
    verdict(c, "B3.01", (f & want) == want, "SEG_MAX %s, BLK_SIZE %s, FLUSH %s",
            (f & BIT(2)) ? "yes" : "no", (f & BIT(6)) ? "yes" : "no", (f & BIT(9)) ? "yes" : "no");
    uint64_t dev_bits = f & 0xffffffull & ~want;
    verdict(c, "B3.02", !dev_bits, "other device bits 0x%llx", (unsigned long long)dev_bits);

    volatile uint8_t *cfg = d->device.p;
    uint64_t cap = mm_rd32(cfg, 0) | (uint64_t)mm_rd32(cfg, 4) << 32;
    uint32_t size_max = mm_rd32(cfg, 8), seg_max = mm_rd32(cfg, 0x0c), geo = mm_rd32(cfg, 0x10),
             bsz = mm_rd32(cfg, 0x14);
    verdict(c, "B3.03", c->disk_sectors ? cap == c->disk_sectors : cap > 0,
            "capacity %llu, disk %llu sectors", (unsigned long long)cap,
            (unsigned long long)c->disk_sectors);
    verdict(c, "B3.04", size_max == 0 && geo == 0, "size_max %u, geometry 0x%08x", size_max, geo);
    verdict(c, "B3.05", seg_max >= 1, "seg_max %u", seg_max);
    verdict(c, "B3.06", bsz == 512, "blk_size %u", bsz);
    unsigned cl = d->device.len < 0x100 ? d->device.len : 0x100, nz = 0, first = 0;
    for (unsigned o = 0x18; o < cl; o++)
        if (mm_rd8(cfg, o) && !nz++)
            first = o;
    verdict(c, "B3.07", !nz, "%u non-zero bytes in 0x18..0x%x%s", nz, cl - 1,
            nz ? (first < 0x40 ? " (e.g. topology/discard fields)" : "") : "");

    if (!up1(c, &vq)) {
        report(c, "B3.08", FAIL, "bring-up failed");
        return;
    }
    /* OUT a pattern to sectors 100..101, IN it back */
    breq_build(c, &r, T_OUT, 100, 1, 1024, false);
    for (unsigned i = 0; i < 1024; i++)
        r.data[i] = (uint8_t)(i * 7 + 3);
    uint32_t ulen = 0xdead;
    int s1 = breq_run(c, &vq, &r, &ulen);
    struct breq rd;
    breq_build(c, &rd, T_IN, 100, 1, 1024, true);
    uint32_t ulen2 = 0xdead;
    int s2 = breq_run(c, &vq, &rd, &ulen2);
    unsigned diff = 0;
    for (unsigned i = 0; i < 1024; i++)
        diff += rd.data[i] != (uint8_t)(i * 7 + 3);
    verdict(c, "B3.08", s1 == 0 && s2 == 0 && !diff, "OUT %s, IN %s, %u bytes differ", st_name(s1),
            st_name(s2), diff);
    verdict(c, "B3.09", ulen == 0 && ulen2 == 0, "OUT used.len %u, IN used.len %u", ulen, ulen2);

    breq_build(c, &r, T_FLUSH, 0, 0, 0, false);
    expect(c, "B3.10", &vq, &r, 0, false, "FLUSH");

    breq_build(c, &r, T_GET_ID, 0, 1, 20, true);
    int s = run_rec(c, &vq, &r);
    char id[21] = {0};
    for (int i = 0; i < 20; i++)
        id[i] = (char)r.data[i];
    bool idok = s == 0 && (!c->serial || !strcmp(id, c->serial));
    verdict(c, "B3.11", idok, "%s, id \"%s\" (serial \"%s\")", st_name(s), id,
            c->serial ? c->serial : "?");

    breq_build(c, &r, 0x99, 0, 1, 512, true);
    expect(c, "B3.12", &vq, &r, 2, false, "type 0x99");
    breq_build(c, &r, T_DISCARD, 0, 1, 16, false);
    int sd = run_rec(c, &vq, &r);
    breq_build(c, &r, T_WRITE_ZEROES, 0, 1, 16, false);
    int sz = run_rec(c, &vq, &r);
    verdict(c, "B3.13", sd == 2 && sz == 2, "DISCARD %s, WRITE_ZEROES %s", st_name(sd), st_name(sz));

    breq_build(c, &r, T_IN, cap, 1, 512, true);
    expect(c, "B3.14", &vq, &r, 1, false, "IN at sector = capacity");
    breq_build(c, &r, T_IN, cap - 1, 1, 1024, true);
    expect(c, "B3.15", &vq, &r, 1, false, "1024 bytes from the last sector");
    breq_build(c, &r, T_IN, cap - 1, 1, 512, true);
    expect(c, "B3.16", &vq, &r, 0, false, "512 bytes of the last sector");
    breq_build(c, &r, T_IN, 0, 1, 100, true);
    expect(c, "B3.17", &vq, &r, 1, false, "IN of 100 bytes");
    breq_build(c, &r, T_IN, 0, 1, 512, false);
    expect(c, "B3.18", &vq, &r, 1, true, "IN, data device-readable");
    breq_build(c, &r, T_OUT, 0, 1, 512, true);
    expect(c, "B3.19", &vq, &r, 1, true, "OUT, data device-writable");
    breq_build(c, &r, T_IN, 0, 0, 0, false);
    expect(c, "B3.21", &vq, &r, 1, false, "IN without data");

    /* header of 8 bytes */
    breq_build(c, &r, T_IN, 0, 1, 512, true);
    r.seg[0].len = 8;
    expect(c, "B3.22", &vq, &r, 1, true, "8-byte header");
    breq_build(c, &r, T_IN, 0xffffffffffffffffull, 1, 512, true);
    expect(c, "B3.23", &vq, &r, 1, false, "sector 2^64-1");
    /* scatter: two 512-byte data descriptors, read back what B3.08 wrote */
    breq_build(c, &r, T_IN, 100, 2, 512, true);
    s = run_rec(c, &vq, &r);
    diff = 0;
    for (unsigned i = 0; i < 1024; i++)
        diff += r.data[i] != (uint8_t)(i * 7 + 3);
    verdict(c, "B3.24", s == 0 && !diff, "%s, %u bytes differ", st_name(s), diff);
    breq_build(c, &r, T_IN, 100, 1, 512, true);
    *(volatile uint32_t *)(r.hdr + 4) = 0xffffffff;
    expect(c, "B3.25", &vq, &r, 0, false, "IN with ioprio 0xffffffff");
    breq_build(c, &r, T_FLUSH, 0, 1, 512, false);
    expect(c, "B3.26", &vq, &r, 1, false, "FLUSH with 512 bytes of data");

    /* virtio 1.x makes no framing assumption: the header in two descriptors of 8 bytes */
    breq_build(c, &r, T_IN, 100, 1, 512, true);
    memmove(&r.seg[2], &r.seg[1], 2 * sizeof(r.seg[0]));
    r.seg[1] = (struct vd_seg){r.seg[0].gpa + 8, 8, false};
    r.seg[0].len = 8;
    r.n++;
    s = run_rec(c, &vq, &r);
    diff = 0;
    for (unsigned i = 0; i < 512; i++)
        diff += r.data[i] != (uint8_t)(i * 7 + 3);
    verdict(c, "B3.28", s == 0 && !diff, "%s, %u bytes differ", st_name(s), diff);

    /* 16 requests in flight */
    {
        struct breq many[16];
        uint16_t heads[16];
        for (int i = 0; i < 16; i++) {
            breq_build(c, &many[i], T_IN, (uint64_t)i * 8, 1, 4096, true);
            heads[i] = vd_vq_add(&vq, many[i].seg, many[i].n, NULL);
            vd_vq_publish(&vq, heads[i]);
        }
        vd_vq_kick(&vq, 2);
        int got = 0, okst = 0;
        for (int i = 0; i < 16; i++) {
            uint32_t idd, len;
            if (vd_vq_wait(&vq, 3000, &idd, &len) != 1)
                break;
            got++;
        }
        for (int i = 0; i < 16; i++)
            okst += *many[i].status == 0;
        verdict(c, "B3.29", got == 16 && okst == 16, "%d of 16 completed, %d with OK", got, okst);
        (void)heads;
    }

    /* seg_max data descriptors; then one more */
    if (seg_max >= 1 && seg_max <= 256) {
        up1(c, &vq);
        breq_build(c, &r, T_IN, 0, seg_max, 512, true);
        s = breq_run(c, &vq, &r, NULL);
        verdict(c, "B3.30", s == 0, "%u data descriptors: %s", seg_max, st_name(s));
        up1(c, &vq);
        breq_build(c, &r, T_IN, 0, seg_max + 1, 512, true);
        s = breq_run(c, &vq, &r, NULL);
        verdict(c, "B3.20", s == 1 || s == -1, "%u data descriptors: %s%s", seg_max + 1, st_name(s),
                s == -1 ? " (the chain exceeds the queue: a ring error)" : "");
    } else {
        report(c, "B3.30", FAIL, "seg_max %u", seg_max);
        report(c, "B3.20", FAIL, "seg_max %u", seg_max);
    }

    /* no status byte: header + readable data only */
    up1(c, &vq);
    breq_build(c, &r, T_OUT, 0, 1, 512, false);
    r.n--; /* drop the status descriptor */
    s = breq_run(c, &vq, &r, NULL);
    verdict(c, "B3.27", s == -1, "%s", s == -1 ? "NEEDS_RESET" : s == -2 ? "ignored, no NEEDS_RESET"
                                                                        : "completed");
    vd_reset(d);
}
