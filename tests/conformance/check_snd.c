/* CONTRACT §3.4 snd checks (S3.xx) in the wire encoding the device was configured for (aero:
 * status 0..3, 8-byte xfer header; virtio: 0x8000.., 4 bytes): config, PCM_INFO, SET_PARAMS
 * and its refusals, the PREPARE/START/STOP/RELEASE state machine, tx held until START and paced
 * by the audio clock, rx states, BAD_MSG limits, eventq, RELEASE completing pending I/O. */
#include "conformance.h"

#include <stdio.h>
#include <string.h>

#define CTLQ 0
#define EVQ 1
#define TXQ 2
#define RXQ 3
#define R_JACK_INFO 1
#define R_PCM_INFO 0x0100
#define R_SET_PARAMS 0x0101
#define R_PREPARE 0x0102
#define R_RELEASE 0x0103
#define R_START 0x0104
#define R_STOP 0x0105
#define R_CHMAP_INFO 0x0200
#define FMT_S16 5
#define RATE_48000 7
#define MAX_PAYLOAD 262144u
#define PERIOD_OUT 1920u /* 10 ms of 2 ch S16 at 48 kHz */
#define PERIOD_IN 960u   /* 10 ms of 1 ch */

enum { OK, BAD_MSG, NOT_SUPP, IO_ERR };

struct snd {
    struct ctx *c;
    struct vd_vq vq[4];
};

static uint32_t code(const struct ctx *c, int s) { return (c->snd_virtio ? 0x8000u : 0u) + (uint32_t)s; }
static unsigned xhdr(const struct ctx *c) { return c->snd_virtio ? 4 : 8; }

static const char *sname(const struct ctx *c, long st)
{
    static const char *n[] = {"OK", "BAD_MSG", "NOT_SUPP", "IO_ERR"};
    if (st == -1)
        return "NEEDS_RESET";
    if (st == -2)
        return "no answer";
    for (int i = 0; i < 4; i++)
        if ((uint32_t)st == code(c, i))
            return n[i];
    static char buf[4][32]; /* a few per verdict line */
    static unsigned k;
    char *b = buf[k++ % 4];
    snprintf(b, 32, "%s 0x%lx", st == 0xffffffffL ? "untouched" : "unknown code", st);
    return b;
}

static bool snd_up(struct snd *s, struct ctx *c)
{
    char why[160];
    memset(s, 0, sizeof(*s));
    s->c = c;
    vd_mem_rewind(&c->lo);
    return bringup(c, base_features(c), s->vq, 4, NULL, false, why, sizeof(why));
}

/* One control request: req (readable) then 4-byte status + resp_len payload (writable).
 * Returns the status code, -1 NEEDS_RESET, -2 no answer. */
static long ctl(struct snd *s, const uint8_t *req, unsigned rlen, uint8_t *resp, unsigned resp_len)
{
    struct ctx *c = s->c;
    uint64_t rg, sg;
    volatile uint8_t *rq = vd_alloc(&c->lo, rlen ? rlen : 1, 16, &rg);
    for (unsigned i = 0; i < rlen; i++)
        rq[i] = req[i];
    volatile uint8_t *st = vd_alloc(&c->lo, 4 + resp_len, 16, &sg);
    for (unsigned i = 0; i < 4 + resp_len; i++)
        st[i] = 0xff;
    struct vd_seg seg[3] = {{rg, rlen, false}, {sg, 4, true}, {sg + 4, resp_len, true}};
    uint16_t h = vd_vq_add(&s->vq[CTLQ], seg, resp_len ? 3 : 2, NULL);
    vd_vq_publish(&s->vq[CTLQ], h);
    vd_vq_kick(&s->vq[CTLQ], 2);
    uint32_t id, len;
    int w = vd_vq_wait(&s->vq[CTLQ], 2000, &id, &len);
    if (w != 1)
        return w < 0 ? -1 : -2;
    for (unsigned i = 0; resp && i < resp_len; i++)
        resp[i] = st[4 + i];
    return (long)(st[0] | st[1] << 8 | st[2] << 16 | (uint32_t)st[3] << 24);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static long pcm_cmd(struct snd *s, uint32_t cmd, uint32_t stream)
{
    uint8_t r[8];
    put32(r, cmd);
    put32(r + 4, stream);
    return ctl(s, r, 8, NULL, 0);
}

static long set_params(struct snd *s, uint32_t stream, uint32_t period, uint8_t ch, uint8_t fmt,
                       uint8_t rate)
{
    uint8_t r[24] = {0};
    put32(r, R_SET_PARAMS);
    put32(r + 4, stream);
    put32(r + 8, period * 4); /* buffer_bytes */
    put32(r + 12, period);    /* period_bytes */
    r[20] = ch, r[21] = fmt, r[22] = rate;
    return ctl(s, r, 24, NULL, 0);
}

struct xfer {
    volatile uint8_t *status;
    uint16_t head;
};

/* an I/O buffer: header (stream) + payload (readable for tx, writable for rx) + 8-byte status */
static void xfer_add(struct snd *s, int q, uint32_t stream, uint32_t payload, struct xfer *x,
                     bool publish)
{
    struct ctx *c = s->c;
    unsigned h = xhdr(c);
    uint64_t g;
    volatile uint8_t *p = vd_alloc(&c->lo, h + payload + 8, 16, &g);
    put32((uint8_t *)p, stream); /* mapped memory: plain stores are fine */
    for (uint32_t i = 0; q == TXQ && i < payload; i++)
        p[h + i] = (uint8_t)(i * 13);
    for (unsigned i = 0; i < 8; i++)
        p[h + payload + i] = 0xff;
    x->status = p + h + payload;
    struct vd_seg seg[3];
    unsigned n = 0;
    seg[n++] = (struct vd_seg){g, h, false};
    if (payload)
        seg[n++] = (struct vd_seg){g + h, payload, q == RXQ};
    seg[n++] = (struct vd_seg){g + h + payload, 8, true};
    x->head = vd_vq_add(&s->vq[q], seg, n, NULL);
    if (publish)
        vd_vq_publish(&s->vq[q], x->head);
}

static long xstatus(const struct xfer *x)
{
    return (long)(x->status[0] | x->status[1] << 8 | x->status[2] << 16 |
                  (uint32_t)x->status[3] << 24);
}

/* submit one I/O buffer and wait for it: status, -1 NEEDS_RESET, -2 none */
static long xfer_run(struct snd *s, int q, uint32_t stream, uint32_t payload, uint32_t *len, int ms)
{
    struct xfer x;
    xfer_add(s, q, stream, payload, &x, true);
    vd_vq_kick(&s->vq[q], 2);
    uint32_t id = 0;
    int w;
    /* entries completed by an earlier RELEASE may come first: wait for this head */
    do
        w = vd_vq_wait(&s->vq[q], ms, &id, len);
    while (w == 1 && id != x.head);
    if (w != 1)
        return w < 0 ? -1 : -2;
    return xstatus(&x);
}

static void info_checks(struct snd *s, struct ctx *c)
{
    uint8_t req[16] = {0}, resp[96];
    put32(req, R_PCM_INFO);
    put32(req + 4, 0);
    put32(req + 8, 2);
    put32(req + 12, 32);
    long st = ctl(s, req, 16, resp, 64);
    bool ok = st == (long)code(c, OK);
    const uint8_t *i0 = resp, *i1 = resp + 32;
    uint64_t f0 = 0, r0 = 0, f1 = 0, r1 = 0;
    for (int i = 0; i < 8; i++) {
        f0 |= (uint64_t)i0[8 + i] << (8 * i);
        r0 |= (uint64_t)i0[16 + i] << (8 * i);
        f1 |= (uint64_t)i1[8 + i] << (8 * i);
        r1 |= (uint64_t)i1[16 + i] << (8 * i);
    }
    verdict(c, "S3.03", ok && i0[24] == 0 && i0[25] <= 2 && i0[26] >= 2 && (f0 & BIT(FMT_S16)) &&
                            (r0 & BIT(RATE_48000)),
            "%s; dir %u ch %u..%u formats 0x%llx rates 0x%llx", sname(c, st), i0[24], i0[25],
            i0[26], (unsigned long long)f0, (unsigned long long)r0);
    verdict(c, "S3.04", ok && i1[24] == 1 && i1[25] <= 1 && i1[26] >= 1 && (f1 & BIT(FMT_S16)) &&
                            (r1 & BIT(RATE_48000)),
            "dir %u ch %u..%u formats 0x%llx rates 0x%llx", i1[24], i1[25], i1[26],
            (unsigned long long)f1, (unsigned long long)r1);
    put32(req + 4, 1);
    put32(req + 8, 2); /* streams 1..2: 2 does not exist */
    st = ctl(s, req, 16, resp, 64);
    verdict(c, "S3.05", st == (long)code(c, BAD_MSG), "start 1 count 2: %s", sname(c, st));

    uint8_t r4[16] = {0};
    put32(r4, R_JACK_INFO);
    put32(r4 + 8, 1);
    put32(r4 + 12, 24);
    long j = ctl(s, r4, 16, resp, 24);
    put32(r4, R_CHMAP_INFO);
    long m = ctl(s, r4, 16, resp, 24);
    put32(r4, 0x0999);
    long u = ctl(s, r4, 16, NULL, 0);
    long ns = (long)code(c, NOT_SUPP);
    verdict(c, "S3.06", j == ns && m == ns && u == ns, "JACK_INFO %s, CHMAP_INFO %s, 0x0999 %s",
            sname(c, j), sname(c, m), sname(c, u));
    uint8_t two[2] = {0x00, 0x01};
    long sh = ctl(s, two, 2, NULL, 0);
    verdict(c, "S3.12", sh == (long)code(c, BAD_MSG), "2-byte request: %s", sname(c, sh));
}

static void params_checks(struct snd *s, struct ctx *c)
{
    long okc = (long)code(c, OK);
    long a = set_params(s, 0, PERIOD_OUT, 2, FMT_S16, RATE_48000);
    long b = set_params(s, 1, PERIOD_IN, 1, FMT_S16, RATE_48000);
    verdict(c, "S3.07", a == okc && b == okc, "stream 0 %s, stream 1 %s", sname(c, a), sname(c, b));
    long x1 = set_params(s, 0, PERIOD_OUT, 1, FMT_S16, RATE_48000);
    long x2 = set_params(s, 0, PERIOD_OUT, 2, 6 /* S24 */, RATE_48000);
    long x3 = set_params(s, 0, PERIOD_OUT, 2, FMT_S16, 6 /* 44100 */);
    long x4 = set_params(s, 0, PERIOD_OUT, 2, 200, RATE_48000);
    verdict(c, "S3.08", x1 != okc && x2 != okc && x3 != okc && x4 != okc && x1 >= 0 && x2 >= 0 &&
                            x3 >= 0 && x4 >= 0,
            "1 channel %s, S24 %s, 44.1 kHz %s, format 200 %s", sname(c, x1), sname(c, x2),
            sname(c, x3), sname(c, x4));
    long x5 = set_params(s, 7, PERIOD_OUT, 2, FMT_S16, RATE_48000);
    verdict(c, "S3.09", x5 == (long)code(c, BAD_MSG), "stream 7: %s", sname(c, x5));
}

void checks_snd(struct ctx *c)
{
    struct vd_dev *d = &c->d;
    struct snd s;
    module_ran(c, 'S');
    volatile uint8_t *cfg = d->device.p;
    uint32_t jacks = mm_rd32(cfg, 0), streams = mm_rd32(cfg, 4), chmaps = mm_rd32(cfg, 8);
    verdict(c, "S3.01", (jacks == 0 || jacks == 2) && streams == 2 && chmaps == 0,
            "jacks %u streams %u chmaps %u", jacks, streams, chmaps);
    uint64_t dev = c->offered & 0xffffffull;
    verdict(c, "S3.02", !dev, "device bits 0x%llx", (unsigned long long)dev);
    if (!snd_up(&s, c)) {
        report(c, "S3.03", FAIL, "bring-up failed");
        return;
    }
    /* eventq: buffers posted now must still be there at the end */
    for (int i = 0; i < 4; i++) {
        uint64_t g;
        vd_alloc(&c->lo, 8, 8, &g);
        struct vd_seg sg = {g, 8, true};
        vd_vq_publish(&s.vq[EVQ], vd_vq_add(&s.vq[EVQ], &sg, 1, NULL));
    }
    vd_vq_kick(&s.vq[EVQ], 2);
    info_checks(&s, c);
    params_checks(&s, c);
    long okc = (long)code(c, OK);

    /* Each group starts from a working device: one refused the contract's way with NEEDS_RESET
     * would otherwise fail every later check for that one reason. */
#define FRESH()                                                                                    \
    do {                                                                                           \
        if ((vd_status(d) & S_NEEDS_RESET) && !snd_up(&s, c))                                      \
            return;                                                                                \
    } while (0)
    /* state machine */
    FRESH();
    set_params(&s, 0, PERIOD_OUT, 2, FMT_S16, RATE_48000);
    long st0 = pcm_cmd(&s, R_START, 0); /* params set, not prepared */
    verdict(c, "S3.11", st0 != okc && st0 >= 0, "START after SET_PARAMS only: %s", sname(c, st0));
    long p = pcm_cmd(&s, R_PREPARE, 0), st = pcm_cmd(&s, R_START, 0), sp = pcm_cmd(&s, R_STOP, 0),
         rl = pcm_cmd(&s, R_RELEASE, 0);
    verdict(c, "S3.10", p == okc && st == okc && sp == okc && rl == okc,
            "PREPARE %s, START %s, STOP %s, RELEASE %s", sname(c, p), sname(c, st), sname(c, sp),
            sname(c, rl));

    /* tx held until START, then paced */
    FRESH();
    set_params(&s, 0, PERIOD_OUT, 2, FMT_S16, RATE_48000);
    pcm_cmd(&s, R_PREPARE, 0);
    struct xfer x[10];
    for (int i = 0; i < 10; i++)
        xfer_add(&s, TXQ, 0, PERIOD_OUT, &x[i], true);
    vd_vq_kick(&s.vq[TXQ], 2);
    vd_msleep(300);
    uint16_t before = vd_used_idx(&s.vq[TXQ]);
    verdict(c, "S3.13", before == 0, "%u of 10 completed in 300 ms before START", before);
    double t0 = vd_now();
    long sst = pcm_cmd(&s, R_START, 0);
    unsigned got = 0, inorder = 0, okst = 0;
    double tlast = t0;
    for (int i = 0; i < 10; i++) {
        uint32_t id, len;
        if (vd_vq_wait(&s.vq[TXQ], 3000, &id, &len) != 1)
            break;
        tlast = vd_now();
        inorder += id == x[i].head;
        okst += xstatus(&x[i]) == okc;
        got++;
    }
    double ms = (tlast - t0) * 1000;
    verdict(c, "S3.14", sst == okc && got == 10 && inorder == 10 && okst == 10 && ms >= 60,
            "START %s; %u of 10 periods (100 ms of audio) completed in %.0f ms, %u in order, %u OK",
            sname(c, sst), got, ms, inorder, okst);
    pcm_cmd(&s, R_STOP, 0);
    pcm_cmd(&s, R_RELEASE, 0);

    /* RELEASE completes pending tx first */
    FRESH();
    set_params(&s, 0, PERIOD_OUT, 2, FMT_S16, RATE_48000);
    pcm_cmd(&s, R_PREPARE, 0);
    uint16_t base = vd_used_idx(&s.vq[TXQ]);
    for (int i = 0; i < 3; i++)
        xfer_add(&s, TXQ, 0, PERIOD_OUT, &x[i], true);
    vd_vq_kick(&s.vq[TXQ], 2);
    vd_msleep(100);
    long rel = pcm_cmd(&s, R_RELEASE, 0);
    uint16_t after = (uint16_t)(vd_used_idx(&s.vq[TXQ]) - base);
    s.vq[TXQ].last_used = vd_used_idx(&s.vq[TXQ]); /* consumed here */
    verdict(c, "S3.22", rel == okc && after == 3, "RELEASE %s with %u of 3 pending completed",
            sname(c, rel), after);

    /* tx limits */
    FRESH();
    uint32_t len = 0;
    set_params(&s, 0, PERIOD_OUT, 2, FMT_S16, RATE_48000);
    pcm_cmd(&s, R_PREPARE, 0);
    long big = xfer_run(&s, TXQ, 0, MAX_PAYLOAD + 4, &len, 2000);
    verdict(c, "S3.15", big == (long)code(c, BAD_MSG), "%u bytes: %s", MAX_PAYLOAD + 4,
            sname(c, big));
    if (big == -1 && !snd_up(&s, c))
        return;
    long wrong = xfer_run(&s, TXQ, 1, PERIOD_OUT, &len, 2000);
    verdict(c, "S3.16", wrong == (long)code(c, BAD_MSG), "stream 1 on txq: %s", sname(c, wrong));
    if (wrong == -1 && !snd_up(&s, c))
        return;
    pcm_cmd(&s, R_RELEASE, 0);

    /* rx states */
    FRESH();
    set_params(&s, 1, PERIOD_IN, 1, FMT_S16, RATE_48000);
    long notrun = xfer_run(&s, RXQ, 1, PERIOD_IN, &len, 2000);
    verdict(c, "S3.17", notrun == (long)code(c, IO_ERR), "stream 1 not prepared: %s",
            sname(c, notrun));
    pcm_cmd(&s, R_PREPARE, 1);
    pcm_cmd(&s, R_START, 1);
    len = 0;
    long run = xfer_run(&s, RXQ, 1, PERIOD_IN, &len, 3000);
    verdict(c, "S3.18", run == okc && len == PERIOD_IN + 8, "%s, used.len %u (want %u)",
            sname(c, run), len, PERIOD_IN + 8);
    long rbig = xfer_run(&s, RXQ, 1, MAX_PAYLOAD + 2, &len, 3000);
    verdict(c, "S3.19", rbig == (long)code(c, BAD_MSG), "%u bytes: %s", MAX_PAYLOAD + 2,
            sname(c, rbig));
    if (rbig == -1)
        snd_up(&s, c);
    long none = xfer_run(&s, RXQ, 1, 0, &len, 3000);
    uint8_t dst = vd_status(d);
    struct probe pr;
    char why[120];
    bool alive = snd_up(&s, c);
    probe_build(c, &c->lo, &pr, false, 0);
    alive = alive && probe_roundtrip(c, &s.vq[CTLQ], &pr, false, why, sizeof(why));
    bool known = none == -1;
    for (int i = 0; i < 4; i++)
        known |= none == (long)code(c, i);
    verdict(c, "S3.20", known && alive, "%s%s; a later request %s", sname(c, none),
            (dst & S_NEEDS_RESET) ? " (NEEDS_RESET)" : "", alive ? "works" : "fails");

    /* eventq: posted at the start of this bring-up's predecessor; post again and wait */
    for (int i = 0; i < 4; i++) {
        uint64_t g;
        vd_alloc(&c->lo, 8, 8, &g);
        struct vd_seg sg = {g, 8, true};
        vd_vq_publish(&s.vq[EVQ], vd_vq_add(&s.vq[EVQ], &sg, 1, NULL));
    }
    vd_vq_kick(&s.vq[EVQ], 2);
    long inf = set_params(&s, 0, PERIOD_OUT, 2, FMT_S16, RATE_48000);
    vd_msleep(500);
    uint16_t ev = vd_used_idx(&s.vq[EVQ]);
    verdict(c, "S3.21", ev == 0, "%u of 4 eventq buffers completed", ev);
    verdict(c, "S3.23", inf == okc,
            "%s encoding: OK is 0x%x, xfer header %u bytes; SET_PARAMS answered 0x%lx",
            c->snd_virtio ? "virtio 1.2" : "aero (contract)", code(c, OK), xhdr(c), inf);
    vd_reset(d);
}
