/* CONTRACT §3.3 input checks (I3.xx), for each of the three functions: the config selector
 * scheme (names, IDs, bitmaps, ABS_INFO, unknown selectors), the evdev event stream after a QMP
 * injection by the host, events queued while no buffer is posted, statusq, no auto-repeat. */
#include "conformance.h"

#include <stdio.h>
#include <string.h>

enum { SEL_NAME = 1, SEL_SERIAL = 2, SEL_DEVIDS = 3, SEL_PROP = 0x10, SEL_EV = 0x11, SEL_ABS = 0x12 };
enum { EV_SYN = 0, EV_KEY = 1, EV_REL = 2, EV_ABS = 3, EV_LED = 0x11, EV_SND = 0x12, EV_FF = 0x15 };

static uint8_t cfg_select(struct ctx *c, uint8_t sel, uint8_t sub, uint8_t *payload)
{
    volatile uint8_t *cfg = c->d.device.p;
    mm_wr8(cfg, 0, sel);
    mm_wr8(cfg, 1, sub);
    uint8_t size = mm_rd8(cfg, 2);
    for (unsigned i = 0; i < 128; i++)
        payload[i] = mm_rd8(cfg, 8 + i);
    return size;
}

static bool bit(const uint8_t *bm, unsigned size, unsigned n)
{
    return n / 8 < size && ((bm[n / 8] >> (n % 8)) & 1);
}

/* codes the contract requires, per function and event type */
static const uint16_t kbd_keys[] = {
    30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50, 49, 24, 25, 16, 19, 31, 20, 22, 47, 17,
    45, 21, 44,                           /* A..Z */
    2, 3, 4, 5, 6, 7, 8, 9, 10, 11,       /* 1..0 */
    28, 1, 14, 15, 57,                    /* ENTER ESC BACKSPACE TAB SPACE */
    42, 54, 29, 97, 56, 100,              /* shifts, ctrls, alts */
    58, 69, 70,                           /* CAPS NUM SCROLL lock */
    59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 87, 88, /* F1..F12 */
    103, 105, 106, 108,                   /* arrows */
    110, 111, 102, 107, 104, 109,         /* INSERT DELETE HOME END PAGEUP PAGEDOWN */
};
static const uint16_t mouse_btns[] = {0x110, 0x111, 0x112, 0x113, 0x114};

static void config_checks(struct ctx *c)
{
    uint8_t p[128];
    static const char *names[] = {[K_KEYBOARD] = "Aero Virtio Keyboard",
                                  [K_MOUSE] = "Aero Virtio Mouse",
                                  [K_TABLET] = "Aero Virtio Tablet"};
    vd_reset(&c->d);
    uint8_t n = cfg_select(c, SEL_NAME, 0, p);
    char name[129] = {0};
    memcpy(name, p, n < 128 ? n : 128);
    verdict(c, "I3.02", n && !strcmp(name, names[c->kid]), "\"%s\" (size %u)", name, n);

    n = cfg_select(c, SEL_DEVIDS, 0, p);
    uint16_t bus = (uint16_t)(p[0] | p[1] << 8), ven = (uint16_t)(p[2] | p[3] << 8),
             prod = (uint16_t)(p[4] | p[5] << 8), ver = (uint16_t)(p[6] | p[7] << 8);
    uint16_t want_prod = (uint16_t)(c->kid - K_KEYBOARD + 1);
    verdict(c, "I3.03", n >= 8 && bus == 6 && ven == 0x1af4 && prod == want_prod && ver == 1,
            "size %u bustype 0x%04x vendor 0x%04x product %u version %u", n, bus, ven, prod, ver);
    n = cfg_select(c, SEL_SERIAL, 0, p);
    verdict(c, "I3.04", n == 0, "size %u", n);
    n = cfg_select(c, SEL_PROP, 0, p);
    verdict(c, "I3.05", n == 0, "size %u", n);

    uint8_t skey = cfg_select(c, SEL_EV, EV_KEY, p);
    uint8_t key[128];
    memcpy(key, p, 128);
    uint8_t srel = cfg_select(c, SEL_EV, EV_REL, p);
    uint8_t rel[128];
    memcpy(rel, p, 128);
    uint8_t sabs = cfg_select(c, SEL_EV, EV_ABS, p);
    uint8_t abs[128];
    memcpy(abs, p, 128);
    uint8_t sled = cfg_select(c, SEL_EV, EV_LED, p);
    uint8_t led[128];
    memcpy(led, p, 128);
    bool types_ok;
    char missing[200] = "";
    if (c->kid == K_KEYBOARD) {
        types_ok = skey && sled && !srel && !sabs;
        unsigned miss = 0;
        for (size_t i = 0; i < sizeof(kbd_keys) / sizeof(kbd_keys[0]); i++)
            if (!bit(key, skey, kbd_keys[i]) && miss++ < 6)
                snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), " key %u",
                         kbd_keys[i]);
        for (unsigned l = 0; l < 3; l++)
            if (!bit(led, sled, l))
                snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), " led %u", l);
    } else if (c->kid == K_MOUSE) {
        types_ok = skey && srel && !sabs;
        for (size_t i = 0; i < 5; i++)
            if (!bit(key, skey, mouse_btns[i]))
                snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), " btn 0x%x",
                         mouse_btns[i]);
        static const unsigned rels[] = {0, 1, 8};
        for (int i = 0; i < 3; i++)
            if (!bit(rel, srel, rels[i]))
                snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), " rel %u",
                         rels[i]);
    } else {
        types_ok = sabs && !sled;
        for (unsigned a = 0; a < 2; a++)
            if (!bit(abs, sabs, a))
                snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), " abs %u", a);
    }
    verdict(c, "I3.06", types_ok, "bitmap sizes KEY %u REL %u ABS %u LED %u", skey, srel, sabs,
            sled);
    verdict(c, "I3.07", !*missing, "%s", *missing ? missing : "every required code present");

    uint8_t lack = c->kid == K_KEYBOARD ? EV_REL : c->kid == K_MOUSE ? EV_ABS : EV_LED;
    uint8_t s1 = cfg_select(c, SEL_EV, lack, p), s2 = cfg_select(c, SEL_EV, EV_SND, p),
            s3 = cfg_select(c, SEL_EV, EV_FF, p);
    verdict(c, "I3.08", !s1 && !s2 && !s3, "type 0x%x size %u, EV_SND size %u, EV_FF size %u",
            lack, s1, s2, s3);

    if (c->kid == K_TABLET) {
        uint8_t sx = cfg_select(c, SEL_ABS, 0, p);
        int32_t minx = (int32_t)(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24);
        int32_t maxx = (int32_t)(p[4] | p[5] << 8 | p[6] << 16 | (uint32_t)p[7] << 24);
        uint8_t sy = cfg_select(c, SEL_ABS, 1, p);
        int32_t maxy = (int32_t)(p[4] | p[5] << 8 | p[6] << 16 | (uint32_t)p[7] << 24);
        verdict(c, "I3.09", sx >= 8 && sy >= 8 && maxx > minx && maxy > 0,
                "ABS_X size %u min %d max %d, ABS_Y size %u max %d", sx, minx, maxx, sy, maxy);
    } else {
        uint8_t sx = cfg_select(c, SEL_ABS, 0, p);
        verdict(c, "I3.09", sx == 0, "ABS_INFO(ABS_X) size %u", sx);
    }
    n = cfg_select(c, 0x7f, 0, p);
    uint8_t n2 = cfg_select(c, SEL_NAME, 0x55, p); /* ID_NAME ignores subsel */
    verdict(c, "I3.10", n == 0, "selector 0x7f size %u (ID_NAME with subsel 0x55: size %u)", n, n2);

    /* select and subsel in one 16-bit write */
    volatile uint8_t *cfg = c->d.device.p;
    mm_wr16(cfg, 0, (uint16_t)(SEL_EV | EV_KEY << 8));
    uint8_t s16 = mm_rd8(cfg, 2);
    verdict(c, "I3.16", s16 == skey, "EV_BITS/EV_KEY size %u (byte writes: %u)", s16, skey);
}

struct evq {
    struct vd_vq vq[2];
    uint16_t heads[64];
    volatile uint8_t *buf[64];
    unsigned n;
};

static void post_events(struct ctx *c, struct evq *e, unsigned n)
{
    for (unsigned i = 0; i < n && e->n < 64; i++) {
        uint64_t g;
        e->buf[e->n] = vd_alloc(&c->lo, 8, 8, &g);
        struct vd_seg s = {g, 8, true};
        e->heads[e->n] = vd_vq_add(&e->vq[0], &s, 1, NULL);
        vd_vq_publish(&e->vq[0], e->heads[e->n]);
        e->n++;
    }
    vd_vq_kick(&e->vq[0], 2);
}

struct ev {
    uint16_t type, code;
    int32_t value;
    uint32_t len;
};

/* collect events until want arrived or ms passed */
static unsigned collect(struct ctx *c, struct evq *e, struct ev *out, unsigned want, int ms)
{
    unsigned got = 0;
    double t0 = vd_now();
    while (got < want && (vd_now() - t0) * 1000 < ms) {
        uint32_t id, len;
        if (vd_vq_wait(&e->vq[0], 100, &id, &len) != 1)
            continue;
        for (unsigned i = 0; i < e->n; i++) {
            if (e->heads[i] != id)
                continue;
            volatile uint8_t *b = e->buf[i];
            out[got].type = (uint16_t)(b[0] | b[1] << 8);
            out[got].code = (uint16_t)(b[2] | b[3] << 8);
            out[got].value = (int32_t)(b[4] | b[5] << 8 | b[6] << 16 | (uint32_t)b[7] << 24);
            out[got].len = len;
            got++;
            break;
        }
    }
    (void)c;
    return got;
}

static void fmt_events(char *s, size_t n, const struct ev *e, unsigned cnt)
{
    s[0] = 0;
    for (unsigned i = 0; i < cnt && strlen(s) + 24 < n; i++)
        snprintf(s + strlen(s), n - strlen(s), "%s%u/%u/%d", i ? " " : "", e[i].type, e[i].code,
                 e[i].value);
}

static bool evq_up(struct ctx *c, struct evq *e)
{
    char why[160];
    memset(e, 0, sizeof(*e));
    vd_mem_rewind(&c->lo);
    return bringup(c, base_features(c), e->vq, 2, NULL, false, why, sizeof(why));
}

/* the injection for this function and the events it must produce */
static void injection(const struct ctx *c, int variant, char *qmp, size_t qn, struct ev *want,
                      unsigned *nwant)
{
    const char *key = variant ? "b" : "a";
    uint16_t code = variant ? 48 : 30;
    if (c->kid == K_KEYBOARD) {
        /* two input batches (two commands): each ends with its own SYN_REPORT */
        snprintf(qmp, qn,
                 "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":[{\"type\":\"key\","
                 "\"data\":{\"down\":true,\"key\":{\"type\":\"qcode\",\"data\":\"%s\"}}}]}}\n"
                 "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":[{\"type\":"
                 "\"key\",\"data\":{\"down\":false,\"key\":{\"type\":\"qcode\",\"data\":\"%s\"}}}]}}",
                 key, key);
        struct ev w[] = {{EV_KEY, code, 1, 8}, {EV_SYN, 0, 0, 8}, {EV_KEY, code, 0, 8}, {EV_SYN, 0, 0, 8}};
        memcpy(want, w, sizeof(w));
        *nwant = 4;
    } else if (c->kid == K_MOUSE) {
        int dx = variant ? 7 : 5, dy = variant ? 2 : -3;
        snprintf(qmp, qn,
                 "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":[{\"type\":\"rel\","
                 "\"data\":{\"axis\":\"x\",\"value\":%d}},{\"type\":\"rel\",\"data\":{\"axis\":"
                 "\"y\",\"value\":%d}}]}}", dx, dy);
        struct ev w[] = {{EV_REL, 0, dx, 8}, {EV_REL, 1, dy, 8}, {EV_SYN, 0, 0, 8}};
        memcpy(want, w, sizeof(w));
        *nwant = 3;
    } else {
        int x = variant ? 1000 : 16384, y = variant ? 2000 : 8192;
        snprintf(qmp, qn,
                 "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":[{\"type\":\"abs\","
                 "\"data\":{\"axis\":\"x\",\"value\":%d}},{\"type\":\"abs\",\"data\":{\"axis\":"
                 "\"y\",\"value\":%d}}]}}", x, y);
        struct ev w[] = {{EV_ABS, 0, x, 8}, {EV_ABS, 1, y, 8}, {EV_SYN, 0, 0, 8}};
        memcpy(want, w, sizeof(w));
        *nwant = 3;
    }
}

static bool same(const struct ev *a, const struct ev *b, unsigned n, bool values)
{
    for (unsigned i = 0; i < n; i++)
        if (a[i].type != b[i].type || a[i].code != b[i].code || (values && a[i].value != b[i].value))
            return false;
    return true;
}

static void event_checks(struct ctx *c)
{
    struct evq e;
    struct ev want[8], got[16];
    unsigned nwant, ngot;
    char qmp[512], s1[200], s2[200];
    /* tablet values depend on the host's scaling: compare types and codes only */
    bool values = c->kid != K_TABLET;

    if (!evq_up(c, &e)) {
        report(c, "I3.11", FAIL, "bring-up failed");
        return;
    }
    post_events(c, &e, 16);
    injection(c, 0, qmp, sizeof(qmp), want, &nwant);
    host_qmp(c, qmp);
    ngot = collect(c, &e, got, nwant, 10000);
    fmt_events(s1, sizeof(s1), want, nwant);
    fmt_events(s2, sizeof(s2), got, ngot);
    bool ok = ngot == nwant && same(got, want, nwant, values);
    verdict(c, "I3.11", ok, "want %s, got %s", s1, ngot ? s2 : "nothing");
    bool lens = ngot > 0;
    for (unsigned i = 0; i < ngot; i++)
        lens &= got[i].len == 8;
    verdict(c, "I3.12", lens, "%u events, used.len %u", ngot, ngot ? got[0].len : 0);

    /* statusq: an LED event consumed and completed */
    uint64_t g;
    volatile uint8_t *led = vd_alloc(&c->lo, 8, 8, &g);
    led[0] = EV_LED;
    led[4] = 1;
    struct vd_seg s = {g, 8, false};
    uint16_t h = vd_vq_add(&e.vq[1], &s, 1, NULL);
    vd_vq_publish(&e.vq[1], h);
    h = vd_vq_add(&e.vq[1], &s, 1, NULL);
    vd_vq_publish(&e.vq[1], h);
    vd_vq_kick(&e.vq[1], 2);
    uint32_t id, len;
    int r1 = vd_vq_wait(&e.vq[1], 2000, &id, &len);
    int r2 = vd_vq_wait(&e.vq[1], 2000, &id, &len);
    verdict(c, "I3.14", r1 == 1 && r2 == 1, "%d of 2 statusq buffers completed", (r1 == 1) + (r2 == 1));

    /* no auto-repeat: a key held for 1.5 s gives one press */
    if (c->kid == K_KEYBOARD) {
        host_qmp(c, "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":[{\"type\":\"key\","
                    "\"data\":{\"down\":true,\"key\":{\"type\":\"qcode\",\"data\":\"c\"}}}]}}");
        vd_msleep(1500);
        host_qmp(c, "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":[{\"type\":\"key\","
                    "\"data\":{\"down\":false,\"key\":{\"type\":\"qcode\",\"data\":\"c\"}}}]}}");
        ngot = collect(c, &e, got, 16, 3000);
        unsigned press = 0, repeat = 0, release = 0;
        for (unsigned i = 0; i < ngot; i++) {
            if (got[i].type == EV_KEY && got[i].code == 46) {
                press += got[i].value == 1;
                repeat += got[i].value == 2;
                release += got[i].value == 0;
            }
        }
        verdict(c, "I3.15", press == 1 && !repeat && release == 1,
                "%u press, %u repeat, %u release events", press, repeat, release);
    } else {
        report(c, "I3.15", SKIP, "auto-repeat concerns the keyboard only");
    }

    /* events while no eventq buffer is posted: delivered later, in order */
    if (!evq_up(c, &e)) {
        report(c, "I3.13", FAIL, "bring-up failed");
        return;
    }
    injection(c, 1, qmp, sizeof(qmp), want, &nwant);
    host_qmp(c, qmp);
    vd_msleep(2000);
    post_events(c, &e, 16);
    ngot = collect(c, &e, got, nwant, 5000);
    fmt_events(s1, sizeof(s1), want, nwant);
    fmt_events(s2, sizeof(s2), got, ngot);
    verdict(c, "I3.13", ngot == nwant && same(got, want, nwant, values), "want %s, got %s", s1,
            ngot ? s2 : "nothing (dropped)");
}

void checks_input(struct ctx *c)
{
    module_ran(c, 'I');
    uint64_t dev = c->offered & 0xffffffull;
    verdict(c, "I3.01", !dev, "device bits 0x%llx", (unsigned long long)dev);
    config_checks(c);
    event_checks(c);
    vd_reset(&c->d);
}
