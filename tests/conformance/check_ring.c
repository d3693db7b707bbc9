/* CONTRACT §2 split-ring checks (R2.xx): chains direct, longer and indirect, memory above
 * 4 GiB, alignment, wrap, batches, interrupt suppression (NO_INTERRUPT, EVENT_IDX both ways),
 * and every malformed chain answered with an error status or DEVICE_NEEDS_RESET plus a config
 * interrupt, the device usable again after reset. Each check runs on the kind's probe queue. */
#include "conformance.h"

#include <stdio.h>
#include <string.h>

#define WHY char why[200] = ""
#define CAT(a, b) a##b
#define XCAT(a, b) CAT(a, b)
#define FAR_AWAY 0x7000000000ull /* 448 GiB: no guest RAM there */

/* Reset and bring the device up with the probe queue of `size` entries (0 = max), its rings in
 * mem (minimal alignments when minimal). Queues below the probe queue get small rings. */
static bool up(struct ctx *c, uint64_t feats, struct vd_vq *vq, uint16_t size, struct vd_mem *mem,
               bool minimal, char *why, size_t whylen)
{
    struct vd_dev *d = &c->d;
    struct vd_vq other;
    uint16_t pq = c->k->probe_q;
    vd_mem_rewind(&c->lo);
    vd_mem_rewind(&c->hi);
    if (!vd_reset(d)) {
        snprintf(why, whylen, "reset does not complete");
        return false;
    }
    (void)vd_isr(d);
    vd_uio_unmask(d);
    if (!vd_negotiate(d, feats)) {
        snprintf(why, whylen, "FEATURES_OK refused for 0x%llx", (unsigned long long)feats);
        return false;
    }
    for (uint16_t q = 0; q < pq; q++) {
        vd_vq_program(d, &other, q, 8, &c->lo, (feats & BIT(F_EVENT_IDX)) != 0, false);
        vd_vq_enable(&other);
    }
    if (!vd_vq_program(d, vq, pq, size, mem, (feats & BIT(F_EVENT_IDX)) != 0, minimal)) {
        snprintf(why, whylen, "queue %u has size 0", pq);
        return false;
    }
    vd_vq_enable(vq);
    vd_driver_ok(d);
    if (vd_status(d) & (S_NEEDS_RESET | S_FAILED)) {
        snprintf(why, whylen, "device_status 0x%02x after DRIVER_OK", vd_status(d));
        return false;
    }
    return true;
}

static bool roundtrip(struct ctx *c, struct vd_vq *vq, struct vd_mem *bufmem, bool split,
                      unsigned misalign, char *why, size_t whylen)
{
    struct probe p;
    probe_build(c, bufmem, &p, split, misalign);
    return probe_roundtrip(c, vq, &p, false, why, whylen);
}

/* probe_roundtrip allocates indirect tables in c->lo; this variant takes the region. */
static bool roundtrip_ind(struct ctx *c, struct vd_vq *vq, struct vd_mem *bufmem,
                          struct vd_mem *tablemem, char *why, size_t whylen)
{
    struct probe p;
    probe_build(c, bufmem, &p, false, 0);
    uint16_t head = vd_vq_add(vq, p.seg, p.n, tablemem);
    vd_vq_publish(vq, head);
    vd_vq_kick(vq, 2);
    uint32_t id, len;
    int r = vd_vq_wait(vq, 2000, &id, &len);
    if (r != 1) {
        snprintf(why, whylen, "%s", r == 0 ? "no used entry within 2 s" : "device set NEEDS_RESET");
        return false;
    }
    if (id != head) {
        snprintf(why, whylen, "used id %u, want %u", id, head);
        return false;
    }
    return probe_ok(c, &p, why, whylen);
}

static void positive(struct ctx *c)
{
    struct vd_vq vq;
    WHY;
    uint64_t f = base_features(c);
    bool ok;

    ok = up(c, f, &vq, 0, &c->lo, false, why, sizeof(why)) &&
         roundtrip(c, &vq, &c->lo, false, 0, why, sizeof(why));
    verdict(c, "R2.01", ok, "%s", ok ? "completed, used id = head" : why);
    ok = up(c, f, &vq, 0, &c->lo, false, why, sizeof(why)) &&
         roundtrip(c, &vq, &c->lo, true, 0, why, sizeof(why));
    verdict(c, "R2.02", ok, "%s", ok ? "completed" : why);
    if (!(c->offered & BIT(F_INDIRECT))) {
        report(c, "R2.03", FAIL, "RING_INDIRECT_DESC not offered");
        report(c, "R2.06", FAIL, "RING_INDIRECT_DESC not offered");
    } else {
        ok = up(c, f, &vq, 0, &c->lo, false, why, sizeof(why)) &&
             roundtrip_ind(c, &vq, &c->lo, &c->lo, why, sizeof(why));
        verdict(c, "R2.03", ok, "%s", ok ? "completed" : why);
        ok = up(c, f, &vq, 0, &c->lo, false, why, sizeof(why)) &&
             roundtrip_ind(c, &vq, &c->lo, &c->hi, why, sizeof(why));
        verdict(c, "R2.06", ok, "table at 0x%llx: %s", (unsigned long long)c->hi.gpa,
                ok ? "completed" : why);
    }
    ok = up(c, f, &vq, 0, &c->hi, false, why, sizeof(why)) &&
         roundtrip(c, &vq, &c->lo, false, 0, why, sizeof(why));
    verdict(c, "R2.04", ok, "desc 0x%llx: %s", (unsigned long long)vq.desc_gpa,
            ok ? "completed" : why);
    ok = up(c, f, &vq, 0, &c->lo, false, why, sizeof(why)) &&
         roundtrip(c, &vq, &c->hi, false, 0, why, sizeof(why));
    verdict(c, "R2.05", ok, "buffers at 0x%llx: %s", (unsigned long long)c->hi.gpa,
            ok ? "completed" : why);
    ok = up(c, f, &vq, 0, &c->lo, true, why, sizeof(why)) &&
         roundtrip(c, &vq, &c->lo, false, 0, why, sizeof(why));
    verdict(c, "R2.07", ok, "avail 0x%llx used 0x%llx: %s", (unsigned long long)vq.avail_gpa,
            (unsigned long long)vq.used_gpa, ok ? "completed" : why);
    ok = up(c, f, &vq, 0, &c->lo, false, why, sizeof(why)) &&
         roundtrip(c, &vq, &c->lo, false, 3, why, sizeof(why));
    verdict(c, "R2.08", ok, "buffers at 3 mod 16: %s", ok ? "completed" : why);

    /* size 8, 20 requests one after another: the used ring wraps twice */
    ok = up(c, f, &vq, 8, &c->lo, false, why, sizeof(why));
    int n = 0;
    for (; ok && n < 20; n++)
        ok = roundtrip(c, &vq, &c->lo, false, 0, why, sizeof(why));
    verdict(c, "R2.09", ok && vq.size == 8, "queue size %u, %d requests: %s", vq.size, n,
            ok ? "all completed" : why);

    /* a batch: six heads published, one doorbell */
    ok = up(c, f, &vq, 32, &c->lo, false, why, sizeof(why)); /* 6 chains of up to 3 */
    uint16_t heads[6];
    struct probe p[6];
    unsigned seen = 0, dup = 0;
    for (int i = 0; ok && i < 6; i++) {
        probe_build(c, &c->lo, &p[i], false, 0);
        heads[i] = vd_vq_add(&vq, p[i].seg, p[i].n, NULL);
        vd_vq_publish(&vq, heads[i]);
    }
    if (ok) {
        vd_vq_kick(&vq, 2);
        for (int i = 0; i < 6; i++) {
            uint32_t id, len;
            if (vd_vq_wait(&vq, 2000, &id, &len) != 1)
                break;
            for (int j = 0; j < 6; j++)
                if (heads[j] == id) {
                    if (seen & (1u << j))
                        dup++;
                    seen |= 1u << j;
                }
        }
    }
    verdict(c, "R2.10", ok && seen == 0x3f && !dup, "%s%d of 6 heads completed, %u twice",
            ok ? "" : why, __builtin_popcount(seen), dup);
}

/* interrupt seen after a completion (INTx mode): ISR bit 0 or the INTx level */
static bool irq_after(struct ctx *c)
{
    vd_msleep(30);
    bool lvl = vd_intx_level(&c->d);
    uint8_t isr = vd_isr(&c->d);
    vd_uio_unmask(&c->d);
    return lvl || (isr & 1);
}

static void suppression(struct ctx *c)
{
    struct vd_vq vq;
    WHY;
    uint64_t f = base_features(c);
    bool ok = up(c, f, &vq, 0, &c->lo, false, why, sizeof(why));
    if (ok) {
        *(volatile uint16_t *)(vq.used + 4 + 8u * vq.size) = 0xa5a5; /* avail_event sentinel */
        vd_set_avail_flags(&vq, 1);
        ok = roundtrip(c, &vq, &c->lo, false, 0, why, sizeof(why));
    }
    bool irq = ok && irq_after(c);
    verdict(c, "R2.11", ok && !irq, "%s", !ok ? why : irq ? "interrupt raised despite the flag"
                                                          : "no ISR bit, INTx quiet");
    uint16_t ae = ok ? vd_avail_event(&vq) : 0;
    verdict(c, "R2.16", ok && ae == 0xa5a5, "avail_event slot 0x%04x (sentinel 0xa5a5)%s%s", ae,
            ok ? "" : ": ", ok ? "" : why);

    const char *ev_ids[] = {"R2.12", "R2.13", "R2.14", "R2.15"};
    if (!(c->offered & BIT(F_EVENT_IDX))) {
        for (int i = 0; i < 4; i++)
            report(c, ev_ids[i], SKIP, "EVENT_IDX not offered (%s profile, %s)",
                   c->strict ? "strict" : "default", c->k->name);
        return;
    }
    f |= BIT(F_EVENT_IDX);
    ok = up(c, f, &vq, 0, &c->lo, false, why, sizeof(why)) &&
         roundtrip(c, &vq, &c->lo, false, 0, why, sizeof(why));
    if (ok)
        irq_after(c); /* the first completion always interrupts */
    vd_set_used_event(&vq, 100);
    bool ok2 = ok && roundtrip(c, &vq, &c->lo, false, 0, why, sizeof(why));
    irq = ok2 && irq_after(c);
    verdict(c, "R2.12", ok2 && !irq, "used_event 100, used.idx 1 -> 2: %s",
            !ok2 ? why : irq ? "interrupt" : "no interrupt");
    vd_set_used_event(&vq, vd_used_idx(&vq));
    bool ok3 = ok2 && roundtrip(c, &vq, &c->lo, false, 0, why, sizeof(why));
    irq = ok3 && irq_after(c);
    verdict(c, "R2.13", ok3 && irq, "used_event 2, used.idx 2 -> 3: %s",
            !ok3 ? why : irq ? "interrupt" : "no interrupt");
    vd_set_avail_flags(&vq, 1);
    vd_set_used_event(&vq, vd_used_idx(&vq));
    bool ok4 = ok3 && roundtrip(c, &vq, &c->lo, false, 0, why, sizeof(why));
    irq = ok4 && irq_after(c);
    verdict(c, "R2.14", ok4 && irq, "NO_INTERRUPT set, used_event reached: %s",
            !ok4 ? why : irq ? "interrupt" : "no interrupt");
    vd_msleep(20);
    ae = vd_avail_event(&vq);
    verdict(c, "R2.15", ok4 && ae == vq.avail_idx, "avail_event %u, avail.idx %u", ae, vq.avail_idx);
}

/* ---- malformed chains --------------------------------------------------------------------- */

struct outcome {
    int r; /* 1 used, 0 nothing, -1 NEEDS_RESET */
    uint32_t id, len;
    bool cfg_irq;
};

static void await(struct ctx *c, struct vd_vq *vq, struct outcome *o)
{
    o->r = vd_vq_wait(vq, 1000, &o->id, &o->len);
    if (o->r == 1 && (vd_status(&c->d) & S_NEEDS_RESET))
        o->r = -1;
    vd_msleep(30);
    bool lvl = vd_intx_level(&c->d);
    uint8_t isr = vd_isr(&c->d);
    vd_uio_unmask(&c->d);
    o->cfg_irq = lvl && (isr & 2);
}

static char recover_fail[200];

/* After a malformed case: reset, bring up again, a good request must work. */
static void recover(struct ctx *c, const char *id)
{
    struct vd_vq vq;
    WHY;
    bool ok = up(c, base_features(c), &vq, 0, &c->lo, false, why, sizeof(why)) &&
              roundtrip(c, &vq, &c->lo, false, 0, why, sizeof(why));
    if (!ok && strlen(recover_fail) < 150)
        snprintf(recover_fail + strlen(recover_fail), sizeof(recover_fail) - strlen(recover_fail),
                 "%s%s (%s)", *recover_fail ? ", " : "", id, why);
}

static void need_reset(struct ctx *c, const char *id, const struct outcome *o)
{
    if (o->r == -1)
        verdict(c, id, o->cfg_irq, "NEEDS_RESET, config interrupt %s",
                o->cfg_irq ? "raised (ISR bit 1, INTx)" : "missing");
    else
        report(c, id, FAIL, "%s", o->r == 1 ? "completed as if valid" : "ignored (no NEEDS_RESET)");
    recover(c, id);
}

/* error status, or NEEDS_RESET; for requests without a status, completion is the answer */
static void error_or_reset(struct ctx *c, const char *id, const struct outcome *o,
                           const struct probe *p, const char *what)
{
    if (o->r == -1) {
        verdict(c, id, o->cfg_irq, "%s: NEEDS_RESET, config interrupt %s", what,
                o->cfg_irq ? "raised" : "missing");
    } else if (o->r == 0) {
        report(c, id, FAIL, "%s: neither completed nor NEEDS_RESET", what);
    } else if (p->status) {
        char w[80];
        bool good = probe_ok(c, p, w, sizeof(w));
        uint32_t st = 0;
        for (unsigned i = 0; i < p->status_len; i++)
            st |= (uint32_t)p->status[i] << (8 * i);
        verdict(c, id, !good && st != 0xffffffffu && st != 0xff, "%s: status 0x%x", what, st);
    } else {
        report(c, id, PASS, "%s: completed without effect (no status on this queue)", what);
    }
    recover(c, id);
}

/* the segment the data-path cases damage: blk's data, snd's reply payload, else the first */
static unsigned zero_seg(const struct ctx *c)
{
    return c->kid == K_BLK ? 1 : c->kid == K_SND ? 2 : 0;
}

static void malformed(struct ctx *c)
{
    struct vd_vq vq;
    struct vd_dev *d = &c->d;
    struct probe p;
    struct outcome o;
    WHY;
    uint64_t f = base_features(c);
    bool ind = (c->offered & BIT(F_INDIRECT)) != 0;
    recover_fail[0] = 0;

#define SETUP()                                                                                    \
    do {                                                                                           \
        if (!up(c, f, &vq, 0, &c->lo, false, why, sizeof(why))) {                                  \
            report(c, cid, FAIL, "bring-up failed: %s", why);                                      \
            goto XCAT(next_, tag);                                                                       \
        }                                                                                          \
        probe_build(c, &c->lo, &p, false, 0);                                                      \
    } while (0)
#define GO(head)                                                                                   \
    do {                                                                                           \
        vd_vq_publish(&vq, (head));                                                                \
        vd_vq_kick(&vq, 2);                                                                        \
        await(c, &vq, &o);                                                                         \
    } while (0)

    const char *cid;
    uint64_t tg, tg2;
    volatile uint8_t *t, *t2;

    /* loop: 0 -> 1 -> 0 */
    cid = "R2.17";
#define tag loop
    SETUP();
    vd_desc_put(vq.desc, 0, p.seg[0].gpa, p.seg[0].len, D_NEXT, 1);
    vd_desc_put(vq.desc, 1, p.seg[0].gpa, p.seg[0].len, D_NEXT, 0);
    GO(0);
    need_reset(c, cid, &o);
    /* R2.32: after NEEDS_RESET (reached again the same way), a good request is ignored */
    if (up(c, f, &vq, 0, &c->lo, false, why, sizeof(why))) {
        probe_build(c, &c->lo, &p, false, 0);
        vd_desc_put(vq.desc, 0, p.seg[0].gpa, p.seg[0].len, D_NEXT, 1);
        vd_desc_put(vq.desc, 1, p.seg[0].gpa, p.seg[0].len, D_NEXT, 0);
        vq.next_desc = 2;
        GO(0);
        struct probe good;
        probe_build(c, &c->lo, &good, false, 0);
        uint16_t h = vd_vq_add(&vq, good.seg, good.n, NULL);
        vd_vq_publish(&vq, h);
        vd_vq_kick(&vq, 2);
        vd_msleep(300);
        uint16_t ui = vd_used_idx(&vq);
        verdict(c, "R2.32", o.r == -1 && ui == 0, "%s; used.idx %u after a doorbell",
                o.r == -1 ? "NEEDS_RESET" : "no NEEDS_RESET", ui);
    } else {
        report(c, "R2.32", FAIL, "bring-up failed: %s", why);
    }
next_loop:
#undef tag

    cid = "R2.18";
#define tag oor
    SETUP();
    vd_desc_put(vq.desc, 0, p.seg[0].gpa, p.seg[0].len, D_NEXT, (uint16_t)(vq.size + 3));
    GO(0);
    need_reset(c, cid, &o);
next_oor:
#undef tag

    if (!ind) {
        const char *ids[] = {"R2.19", "R2.20", "R2.21", "R2.22", "R2.23", "R2.27"};
        for (int i = 0; i < 6; i++)
            report(c, ids[i], FAIL, "RING_INDIRECT_DESC not offered");
        goto after_indirect;
    }
    cid = "R2.19";
#define tag nested
    SETUP();
    t2 = vd_alloc(&c->lo, 16u * p.n, 16, &tg2);
    for (unsigned i = 0; i < p.n; i++)
        vd_desc_put(t2, i, p.seg[i].gpa, p.seg[i].len,
                    (uint16_t)((p.seg[i].write ? D_WRITE : 0) | (i + 1 < p.n ? D_NEXT : 0)),
                    (uint16_t)(i + 1));
    t = vd_alloc(&c->lo, 16, 16, &tg);
    vd_desc_put(t, 0, tg2, 16u * p.n, D_INDIRECT, 0);
    vd_desc_put(vq.desc, 0, tg, 16, D_INDIRECT, 0);
    GO(0);
    need_reset(c, cid, &o);
next_nested:
#undef tag

    cid = "R2.20";
#define tag len24
    SETUP();
    t = vd_alloc(&c->lo, 16u * p.n, 16, &tg);
    for (unsigned i = 0; i < p.n; i++)
        vd_desc_put(t, i, p.seg[i].gpa, p.seg[i].len,
                    (uint16_t)((p.seg[i].write ? D_WRITE : 0) | (i + 1 < p.n ? D_NEXT : 0)),
                    (uint16_t)(i + 1));
    vd_desc_put(vq.desc, 0, tg, 24, D_INDIRECT, 0);
    GO(0);
    need_reset(c, cid, &o);
next_len24:
#undef tag

    cid = "R2.21";
#define tag len0
    SETUP();
    t = vd_alloc(&c->lo, 16u * p.n, 16, &tg);
    vd_desc_put(vq.desc, 0, tg, 0, D_INDIRECT, 0);
    GO(0);
    need_reset(c, cid, &o);
next_len0:
#undef tag

    cid = "R2.22";
#define tag big
    SETUP();
    {
        unsigned n = vq.size + 1u;
        t = vd_alloc(&c->lo, 16u * n, 16, &tg);
        for (unsigned i = 0; i < p.n; i++)
            vd_desc_put(t, i, p.seg[i].gpa, p.seg[i].len,
                        (uint16_t)((p.seg[i].write ? D_WRITE : 0) | (i + 1 < p.n ? D_NEXT : 0)),
                        (uint16_t)(i + 1));
        vd_desc_put(vq.desc, 0, tg, 16u * n, D_INDIRECT, 0);
    }
    GO(0);
    need_reset(c, cid, &o);
next_big:
#undef tag

    cid = "R2.23";
#define tag iloop
    SETUP();
    t = vd_alloc(&c->lo, 32, 16, &tg);
    vd_desc_put(t, 0, p.seg[0].gpa, p.seg[0].len, D_NEXT, 1);
    vd_desc_put(t, 1, p.seg[0].gpa, p.seg[0].len, D_NEXT, 0);
    vd_desc_put(vq.desc, 0, tg, 32, D_INDIRECT, 0);
    GO(0);
    need_reset(c, cid, &o);
next_iloop:
#undef tag

    cid = "R2.27";
#define tag indnext
    SETUP();
    t = vd_alloc(&c->lo, 16u * p.n, 16, &tg);
    for (unsigned i = 0; i < p.n; i++)
        vd_desc_put(t, i, p.seg[i].gpa, p.seg[i].len,
                    (uint16_t)((p.seg[i].write ? D_WRITE : 0) | (i + 1 < p.n ? D_NEXT : 0)),
                    (uint16_t)(i + 1));
    vd_desc_put(vq.desc, 0, tg, 16u * p.n, D_INDIRECT | D_NEXT, 1);
    vd_desc_put(vq.desc, 1, p.seg[0].gpa, p.seg[0].len, 0, 0);
    GO(0);
    need_reset(c, cid, &o);
next_indnext:
#undef tag
after_indirect:

    cid = "R2.24";
#define tag head
    SETUP();
    GO((uint16_t)(vq.size + 1));
    need_reset(c, cid, &o);
next_head:
#undef tag

    cid = "R2.25";
#define tag jump
    SETUP();
    vd_vq_add(&vq, p.seg, p.n, NULL);
    vq.avail_idx = (uint16_t)(vq.size + 1);
    *(volatile uint16_t *)(vq.avail + 2) = vq.avail_idx;
    vd_vq_kick(&vq, 2);
    await(c, &vq, &o);
    need_reset(c, cid, &o);
next_jump:
#undef tag

    cid = "R2.26";
#define tag noind
    if (!up(c, f & ~BIT(F_INDIRECT), &vq, 0, &c->lo, false, why, sizeof(why))) {
        report(c, cid, FAIL, "bring-up failed: %s", why);
    } else {
        probe_build(c, &c->lo, &p, false, 0);
        GO(vd_vq_add(&vq, p.seg, p.n, &c->lo));
        need_reset(c, cid, &o);
    }
#undef tag

    /* zero-length buffer: the device-writable payload (or the readable one) of length 0 */
    cid = "R2.28";
#define tag zero
    SETUP();
    {
        unsigned z = zero_seg(c);
        p.seg[z].len = 0;
        GO(vd_vq_add(&vq, p.seg, p.n, NULL));
        error_or_reset(c, cid, &o, &p, z ? "zero-length data descriptor" : "zero-length descriptor");
    }
next_zero:
#undef tag

    cid = "R2.29";
#define tag dir
    SETUP();
    p.seg[0].write = !p.seg[0].write; /* the request header (or frame) device-writable */
    /* snd answers in the first writable bytes, which the request's own buffer now is */
    if (c->kid == K_SND)
        p.status = vd_va(&c->lo, p.seg[0].gpa);
    GO(vd_vq_add(&vq, p.seg, p.n, NULL));
    error_or_reset(c, cid, &o, &p, "first descriptor with the wrong direction");
next_dir:
#undef tag

    cid = "R2.30";
#define tag far
    SETUP();
    {
        unsigned z = zero_seg(c);
        p.seg[z].gpa = FAR_AWAY;
        GO(vd_vq_add(&vq, p.seg, p.n, NULL));
        error_or_reset(c, cid, &o, &p, "buffer at 0x7000000000");
    }
next_far:
#undef tag

    cid = "R2.31";
#define tag wrap
    SETUP();
    {
        unsigned z = zero_seg(c);
        p.seg[z].gpa = 0xfffffffffffff000ull;
        p.seg[z].len = 0x2000;
        GO(vd_vq_add(&vq, p.seg, p.n, NULL));
        error_or_reset(c, cid, &o, &p, "buffer 0xfffffffffffff000+0x2000");
    }
next_wrap:
#undef tag

    /* R2.34: queue size 7 */
    if (!up(c, f, &vq, 0, &c->lo, false, why, sizeof(why))) {
        report(c, "R2.34", FAIL, "bring-up failed: %s", why);
    } else {
        vd_reset(d);
        vd_negotiate(d, f);
        struct vd_vq other;
        for (uint16_t q = 0; q < c->k->probe_q; q++) {
            vd_vq_program(d, &other, q, 8, &c->lo, false, false);
            vd_vq_enable(&other);
        }
        vd_vq_program(d, &vq, c->k->probe_q, 7, &c->lo, false, false);
        vd_vq_enable(&vq);
        vd_driver_ok(d);
        CC_W16(d, CC_Q_SELECT, c->k->probe_q);
        uint16_t en = CC16(d, CC_Q_ENABLE);
        uint8_t st = vd_status(d);
        verdict(c, "R2.34", !en || (st & S_NEEDS_RESET), "queue_enable %u, device_status 0x%02x%s",
                en, st, en && !(st & S_NEEDS_RESET) ? " (accepted)" : "");
        recover(c, "R2.34");
    }

    /* R2.35: descriptor table outside guest RAM */
    if (!vd_reset(d) || !vd_negotiate(d, f)) {
        report(c, "R2.35", FAIL, "bring-up failed");
    } else {
        vd_mem_rewind(&c->lo);
        struct vd_vq other;
        for (uint16_t q = 0; q < c->k->probe_q; q++) {
            vd_vq_program(d, &other, q, 8, &c->lo, false, false);
            vd_vq_enable(&other);
        }
        vd_vq_program(d, &vq, c->k->probe_q, 8, &c->lo, false, false);
        cc_wr64(d, CC_Q_DESC, FAR_AWAY);
        vd_vq_enable(&vq);
        vd_driver_ok(d);
        uint8_t st0 = vd_status(d);
        vd_vq_publish(&vq, 0);
        vd_vq_kick(&vq, 2);
        await(c, &vq, &o);
        uint8_t st = vd_status(d);
        verdict(c, "R2.35", o.r != 1 && (st & S_NEEDS_RESET), "NEEDS_RESET %s; %s",
                (st0 & S_NEEDS_RESET) ? "at enable" : (st & S_NEEDS_RESET) ? "at the doorbell" : "never",
                o.r == 1 ? "a request completed" : "nothing completed");
        recover(c, "R2.35");
    }

    verdict(c, "R2.33", !*recover_fail, "%s", *recover_fail ? recover_fail
                                                             : "a good request completed after each case");
}

void checks_ring(struct ctx *c)
{
    module_ran(c, 'R');
    positive(c);
    suppression(c);
    malformed(c);
    vd_reset(&c->d);
}
