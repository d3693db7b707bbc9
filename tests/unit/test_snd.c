/* CONTRACT §3.4 sound device rules, each in both wire encodings (protocol=aero: status 0..3,
 * 8-byte transfer header; protocol=virtio: 0x8000.., 4-byte header): identity and config,
 * PCM_INFO, SET_PARAMS, the stream state machine, held playback buffers played in order at the
 * pace of a fake audio clock, capture, RELEASE, the kept event queue, and hostile chains on
 * every queue (tables, one row per shape, each checking the device's answer).
 */
#include "aero_snd.h"
#include "driver.h"

#include <check.h>
#include "check_main.h"
#include <stdlib.h>
#include <string.h>

#define CTLQ AERO_SND_CONTROLQ
#define EVQ AERO_SND_EVENTQ
#define TXQ AERO_SND_TXQ
#define RXQ AERO_SND_RXQ

static struct fake_guest g;
static struct aero_snd *snd;
static struct drv d;
static enum aero_snd_protocol proto;
static unsigned running_calls;
static bool running_on[2];

static void running_cb(void *opaque, unsigned stream, bool on)
{
    running_calls++;
    running_on[stream] = on;
}
static const struct aero_snd_backend_ops be = {.running = running_cb};

/* Status on the wire in the encoding under test. */
static uint32_t ST(uint32_t virtio_status)
{
    return proto == AERO_SND_PROTOCOL_AERO ? virtio_status - 0x8000 : virtio_status;
}
#define OK ST(VIRTIO_SND_S_OK)
#define BAD ST(VIRTIO_SND_S_BAD_MSG)
#define NOTSUPP ST(VIRTIO_SND_S_NOT_SUPP)
#define IOERR ST(VIRTIO_SND_S_IO_ERR)
static uint32_t hdr_len(void) { return proto == AERO_SND_PROTOCOL_AERO ? 8 : 4; }

static void make(enum aero_snd_protocol p, const struct aero_host_ops *host)
{
    fg_init(&g);
    proto = p;
    running_calls = 0;
    running_on[0] = running_on[1] = false;
    struct aero_snd_params sp = {.protocol = p};
    const char *why = NULL;
    snd = aero_snd_new(&sp, host, &g, &be, NULL, &why);
    ck_assert_msg(snd, "aero_snd_new: %s", why);
    drv_bring_up(&d, aero_snd_vdev(snd), &g, ~0ull);
}
static void setup_aero(void) { make(AERO_SND_PROTOCOL_AERO, &fake_host_ops); }
static void setup_virtio(void) { make(AERO_SND_PROTOCOL_VIRTIO, &fake_host_ops); }
static void setup_virtio_deferred(void) { make(AERO_SND_PROTOCOL_VIRTIO, &fake_host_ops_deferred); }
static void teardown(void)
{
    aero_snd_free(snd);
    fg_free(&g);
}

static uint64_t guest_errors(uint16_t q)
{
    struct aero_vq_stats s;
    ck_assert(aero_vdev_queue_stats(aero_snd_vdev(snd), q, &s));
    return s.guest_errors;
}

/* ---- control helpers --------------------------------------------------------------------- */

struct ctl_result {
    uint32_t status, used_len;
    uint64_t resp; /* writable area: status then items */
};

/* Send one control message: req (readable), then `wlen` writable bytes; wait for the answer. */
static struct ctl_result ctl_raw(const uint8_t *req, uint32_t rlen, uint32_t wlen, bool indirect)
{
    struct ctl_result r = {0};
    uint64_t a = fg_alloc(&g, rlen ? rlen : 1, 8);
    memcpy(fg_ptr(&g, a), req, rlen);
    r.resp = fg_alloc(&g, wlen ? wlen : 1, 8);
    memset(fg_ptr(&g, r.resp), 0xee, wlen);
    struct drv_buf b[2] = {{a, rlen, false}, {r.resp, wlen, true}};
    unsigned n = 0;
    struct drv_buf bufs[2];
    if (rlen)
        bufs[n++] = b[0];
    if (wlen)
        bufs[n++] = b[1];
    uint16_t head =
        indirect ? drv_add_indirect(&d, CTLQ, bufs, n) : drv_add_chain(&d, CTLQ, bufs, n);
    drv_publish(&d, CTLQ, head);
    drv_kick(&d, CTLQ);
    uint32_t id;
    ck_assert_msg(drv_get_used(&d, CTLQ, &id, &r.used_len), "control message not answered");
    ck_assert_uint_eq(id, head);
    r.status = wlen >= 4 ? aero_le32(fg_ptr(&g, r.resp)) : 0;
    return r;
}

static uint32_t pcm_cmd(uint32_t code, uint32_t stream)
{
    uint8_t req[8];
    aero_put_le32(req, code);
    aero_put_le32(req + 4, stream);
    struct ctl_result r = ctl_raw(req, 8, 4, false);
    ck_assert_uint_eq(r.used_len, 4);
    return r.status;
}

static uint32_t set_params_full(uint32_t stream, uint32_t buffer, uint32_t period,
                                uint32_t features, uint8_t ch, uint8_t fmt, uint8_t rate)
{
    uint8_t req[24] = {0};
    aero_put_le32(req, VIRTIO_SND_R_PCM_SET_PARAMS);
    aero_put_le32(req + 4, stream);
    aero_put_le32(req + 8, buffer);
    aero_put_le32(req + 12, period);
    aero_put_le32(req + 16, features);
    req[20] = ch;
    req[21] = fmt;
    req[22] = rate;
    return ctl_raw(req, 24, 4, false).status;
}

static uint32_t set_params(uint32_t stream)
{
    uint8_t ch = stream == AERO_SND_PLAYBACK ? 2 : 1;
    return set_params_full(stream, 4 * 1920 * ch, 1920 * ch, 0, ch, VIRTIO_SND_PCM_FMT_S16,
                           VIRTIO_SND_PCM_RATE_48000);
}

/* SET_PARAMS + PREPARE (+ START). */
static void open_stream(uint32_t stream, bool start)
{
    ck_assert_uint_eq(set_params(stream), OK);
    ck_assert_uint_eq(pcm_cmd(VIRTIO_SND_R_PCM_PREPARE, stream), OK);
    if (start)
        ck_assert_uint_eq(pcm_cmd(VIRTIO_SND_R_PCM_START, stream), OK);
}

static struct ctl_result pcm_info(uint32_t start, uint32_t count, uint32_t size, uint32_t wlen)
{
    uint8_t req[16];
    aero_put_le32(req, VIRTIO_SND_R_PCM_INFO);
    aero_put_le32(req + 4, start);
    aero_put_le32(req + 8, count);
    aero_put_le32(req + 12, size);
    return ctl_raw(req, 16, wlen, false);
}

/* ---- transfer helpers -------------------------------------------------------------------- */

struct xfer_buf {
    uint16_t head;
    uint64_t data, status;
    uint32_t len;
};

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 13 + seed + (i >> 8));
}

/* A well-formed playback buffer of len PCM bytes (nseg data descriptors), published. */
static struct xfer_buf tx_buf(uint32_t len, unsigned seed, unsigned nseg, bool kick)
{
    struct xfer_buf x = {.len = len};
    uint64_t h = fg_alloc(&g, 8, 8);
    aero_put_le32(fg_ptr(&g, h), AERO_SND_PLAYBACK);
    aero_put_le32(fg_ptr(&g, h + 4), 0xdeadbeef); /* Aero reserved word: ignored */
    x.data = fg_alloc(&g, len ? len : 1, 8);
    pattern(fg_ptr(&g, x.data), len, seed);
    x.status = fg_alloc(&g, 8, 8);
    memset(fg_ptr(&g, x.status), 0xee, 8);
    struct drv_buf b[20];
    unsigned n = 0;
    b[n++] = (struct drv_buf){h, hdr_len(), false};
    uint32_t off = 0;
    for (unsigned i = 0; i < nseg && len; i++) {
        uint32_t l = i + 1 == nseg ? len - off : len / nseg;
        b[n++] = (struct drv_buf){x.data + off, l, false};
        off += l;
    }
    b[n++] = (struct drv_buf){x.status, 8, true};
    x.head = drv_add_chain(&d, TXQ, b, n);
    drv_publish(&d, TXQ, x.head);
    if (kick)
        drv_kick(&d, TXQ);
    return x;
}

static struct xfer_buf rx_buf(uint32_t len, bool kick)
{
    struct xfer_buf x = {.len = len};
    uint64_t h = fg_alloc(&g, 8, 8);
    aero_put_le32(fg_ptr(&g, h), AERO_SND_CAPTURE);
    aero_put_le32(fg_ptr(&g, h + 4), 0);
    x.data = fg_alloc(&g, len + 8, 8);
    memset(fg_ptr(&g, x.data), 0xee, len + 8);
    x.status = x.data + len;
    struct drv_buf b[3] = {{h, hdr_len(), false}, {x.data, len, true}, {x.status, 8, true}};
    x.head = drv_add_chain(&d, RXQ, b, 3);
    drv_publish(&d, RXQ, x.head);
    if (kick)
        drv_kick(&d, RXQ);
    return x;
}

static uint32_t xfer_status(const struct xfer_buf *x) { return aero_le32(fg_ptr(&g, x->status)); }

static void expect_used(uint16_t q, uint16_t head, uint32_t len)
{
    uint32_t id, l;
    ck_assert_msg(drv_get_used(&d, q, &id, &l), "queue %u: no used entry for head %u", q, head);
    ck_assert_uint_eq(id, head);
    ck_assert_uint_eq(l, len);
}

static bool no_used(uint16_t q) { return drv_used_idx(&d, q) == d.vq[q].last_used; }

/* ---- identity and configuration ------------------------------------------------------- */

START_TEST(test_snd_identity_and_features)
{
    uint8_t cfg[256];
    aero_vdev_pci_config_image(aero_snd_vdev(snd), cfg);
    ck_assert_uint_eq(aero_le16(cfg + 0), 0x1af4);
    ck_assert_uint_eq(aero_le16(cfg + 2), 0x1059);
    ck_assert_uint_eq(cfg[0x08], 1);
    ck_assert_uint_eq(cfg[0x09] | cfg[0x0a] << 8 | cfg[0x0b] << 16, 0x040100);
    ck_assert_uint_eq(aero_le16(cfg + 0x2c), 0x1af4);
    ck_assert_uint_eq(aero_le16(cfg + 0x2e), 0x0019);
    ck_assert_uint_eq(drv_device_features(&d),
                      (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_INDIRECT_DESC));
    ck_assert_uint_eq(drv_read(&d, 0x12, 2), 4);
    static const uint16_t sizes[4] = {64, 64, 256, 64};
    for (uint16_t q = 0; q < 4; q++) {
        drv_write(&d, 0x16, q, 2);
        ck_assert_uint_eq(drv_read(&d, 0x18, 2), sizes[q]);
    }
}
END_TEST

START_TEST(test_snd_config_jacks_streams_chmaps)
{
    ck_assert_uint_eq(drv_read(&d, 0x3000, 4), 0);
    ck_assert_uint_eq(drv_read(&d, 0x3004, 4), 2);
    ck_assert_uint_eq(drv_read(&d, 0x3008, 4), 0);
    ck_assert_uint_eq(drv_read(&d, 0x300c, 4), 0);
    drv_write(&d, 0x3004, 7, 4);
    drv_write(&d, 0x3000, 3, 4);
    ck_assert_uint_eq(drv_read(&d, 0x3004, 4), 2);
    ck_assert_uint_eq(drv_read(&d, 0x3000, 4), 0);
}
END_TEST

START_TEST(test_snd_params_rules)
{
    struct aero_snd_params p = {.protocol = AERO_SND_PROTOCOL_VIRTIO, .msix_vectors = 5};
    ck_assert_ptr_null(aero_snd_check_params(&p));
    p.msix_vectors = 0;
    ck_assert_ptr_null(aero_snd_check_params(&p));
    for (uint16_t v = 1; v < 9; v++) {
        p.msix_vectors = v;
        if (v != 5)
            ck_assert_ptr_nonnull(aero_snd_check_params(&p));
    }
    p.msix_vectors = 0;
    p.protocol = (enum aero_snd_protocol)2;
    const char *why = NULL;
    ck_assert_ptr_nonnull(aero_snd_check_params(&p));
    ck_assert_ptr_null(aero_snd_new(&p, &fake_host_ops, &g, NULL, NULL, &why));
    ck_assert_ptr_nonnull(strstr(why, "protocol"));
    ck_assert_ptr_null(aero_snd_new(NULL, &fake_host_ops, &g, NULL, NULL, &why));
    enum aero_snd_protocol pr = AERO_SND_PROTOCOL_VIRTIO;
    ck_assert_ptr_null(aero_snd_parse_protocol(NULL, &pr));
    ck_assert_int_eq(pr, AERO_SND_PROTOCOL_AERO);
    ck_assert_ptr_null(aero_snd_parse_protocol("virtio", &pr));
    ck_assert_int_eq(pr, AERO_SND_PROTOCOL_VIRTIO);
    ck_assert_ptr_null(aero_snd_parse_protocol("aero", &pr));
    ck_assert_int_eq(pr, AERO_SND_PROTOCOL_AERO);
    ck_assert_ptr_nonnull(aero_snd_parse_protocol("Virtio", &pr));
    ck_assert_ptr_nonnull(aero_snd_parse_protocol("spec", &pr));
}
END_TEST

/* ---- PCM_INFO ---------------------------------------------------------------------------- */

START_TEST(test_snd_pcm_info_both_streams)
{
    struct ctl_result r = pcm_info(0, 2, 32, 4 + 64);
    ck_assert_uint_eq(r.status, OK);
    ck_assert_uint_eq(r.used_len, 4 + 64);
    for (unsigned i = 0; i < 2; i++) {
        const uint8_t *it = fg_ptr(&g, r.resp + 4 + 32 * i);
        ck_assert_uint_eq(aero_le32(it), 0);     /* hda_fn_nid: pcmC0D0p / pcmC0D0c */
        ck_assert_uint_eq(aero_le32(it + 4), 0); /* features */
        ck_assert_uint_eq(aero_le64(it + 8), 1ull << VIRTIO_SND_PCM_FMT_S16);
        ck_assert_uint_eq(aero_le64(it + 16), 1ull << VIRTIO_SND_PCM_RATE_48000);
        ck_assert_uint_eq(it[24], i == 0 ? VIRTIO_SND_D_OUTPUT : VIRTIO_SND_D_INPUT);
        ck_assert_uint_eq(it[25], i == 0 ? 2 : 1);
        ck_assert_uint_eq(it[26], i == 0 ? 2 : 1);
        for (unsigned k = 27; k < 32; k++)
            ck_assert_uint_eq(it[k], 0);
    }
}
END_TEST

START_TEST(test_snd_pcm_info_larger_item_size_zero_padded)
{
    struct ctl_result r = pcm_info(1, 1, 48, 4 + 48);
    ck_assert_uint_eq(r.status, OK);
    ck_assert_uint_eq(r.used_len, 52);
    const uint8_t *it = fg_ptr(&g, r.resp + 4);
    ck_assert_uint_eq(it[24], VIRTIO_SND_D_INPUT);
    for (unsigned k = 32; k < 48; k++)
        ck_assert_uint_eq(it[k], 0);
}
END_TEST

/* One row per PCM_INFO request the device must answer BAD_MSG (or OK). */
static const struct info_case {
    const char *name;
    uint32_t start, count, size, wlen, want; /* want: 0 OK, 1 BAD_MSG */
} info_cases[] = {
    {"count 0", 0, 0, 32, 4, 0},
    {"start 2 count 0", 2, 0, 32, 4, 0},
    {"start past streams", 3, 0, 32, 4, 1},
    {"start+count past streams", 1, 2, 32, 4 + 64, 1},
    {"count wraps start+count (CVE-2026-3196)", 1, 0xffffffffu, 32, 4 + 64, 1},
    {"start wraps start+count", 0xffffffffu, 2, 32, 4 + 64, 1},
    {"huge count", 0, 0x40000000u, 32, 4 + 64, 1},
    {"item size below 32", 0, 2, 16, 4 + 64, 1},
    {"item size 0", 0, 1, 0, 4 + 64, 1},
    {"item size huge (count*size wraps 32 bits)", 0, 2, 0x80000000u, 4 + 64, 1},
    {"response area one byte short", 0, 2, 32, 4 + 63, 1},
    {"no room for items", 0, 1, 32, 4, 1},
};

START_TEST(test_snd_pcm_info_rules)
{
    const struct info_case *c = &info_cases[_i];
    struct ctl_result r = pcm_info(c->start, c->count, c->size, c->wlen);
    ck_assert_msg(r.status == (c->want ? BAD : OK), "%s: status %#x", c->name, r.status);
    if (c->want) {
        ck_assert_msg(r.used_len == 4, "%s: used.len %u", c->name, r.used_len);
        if (c->wlen > 4) /* no item was written */
            ck_assert_uint_eq(*(uint8_t *)fg_ptr(&g, r.resp + 4), 0xee);
    }
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

/* ---- SET_PARAMS -------------------------------------------------------------------------- */

static const struct params_case {
    const char *name;
    uint32_t stream, buffer, period, features;
    uint8_t ch, fmt, rate;
    int want; /* 0 OK, 1 BAD_MSG, 2 NOT_SUPP */
} params_cases[] = {
    {"playback fixed", 0, 30720, 7680, 0, 2, VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000, 0},
    {"capture fixed", 1, 15360, 3840, 0, 1, VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000, 0},
    {"one period", 0, 3840, 3840, 0, 2, VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000, 0},
    {"playback mono", 0, 30720, 7680, 0, 1, VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000, 2},
    {"capture stereo", 1, 30720, 7680, 0, 2, VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000, 2},
    {"S8", 0, 30720, 7680, 0, 2, 3, VIRTIO_SND_PCM_RATE_48000, 2},
    {"format 64 (shift operand)", 0, 30720, 7680, 0, 2, 64, VIRTIO_SND_PCM_RATE_48000, 2},
    {"format 255", 0, 30720, 7680, 0, 2, 255, VIRTIO_SND_PCM_RATE_48000, 2},
    {"44100", 0, 30720, 7680, 0, 2, VIRTIO_SND_PCM_FMT_S16, 6, 2},
    {"rate 200 (shift operand)", 0, 30720, 7680, 0, 2, VIRTIO_SND_PCM_FMT_S16, 200, 2},
    {"features", 0, 30720, 7680, 1, 2, VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000, 2},
    {"period 0", 0, 30720, 0, 0, 2, VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000, 1},
    {"period above buffer", 0, 3840, 7680, 0, 2, VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000,
     1},
    {"period not whole frames", 0, 30720, 7682, 0, 2, VIRTIO_SND_PCM_FMT_S16,
     VIRTIO_SND_PCM_RATE_48000, 1},
    {"stream 2", 2, 30720, 7680, 0, 2, VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000, 1},
    {"stream 0xffffffff", 0xffffffffu, 30720, 7680, 0, 2, VIRTIO_SND_PCM_FMT_S16,
     VIRTIO_SND_PCM_RATE_48000, 1},
};

START_TEST(test_snd_set_params_rules)
{
    const struct params_case *c = &params_cases[_i];
    uint32_t want = c->want == 0 ? OK : c->want == 1 ? BAD : NOTSUPP;
    uint32_t s =
        set_params_full(c->stream, c->buffer, c->period, c->features, c->ch, c->fmt, c->rate);
    ck_assert_msg(s == want, "%s: status %#x want %#x", c->name, s, want);
    if (c->stream < 2)
        ck_assert_uint_eq(aero_snd_stream_state(snd, c->stream),
                          c->want ? AERO_SND_STATE_NONE : AERO_SND_STATE_PARAMS);
}
END_TEST

/* ---- the state machine ------------------------------------------------------------------- */

#define SP VIRTIO_SND_R_PCM_SET_PARAMS
#define PREP VIRTIO_SND_R_PCM_PREPARE
#define START VIRTIO_SND_R_PCM_START
#define STOP VIRTIO_SND_R_PCM_STOP
#define REL VIRTIO_SND_R_PCM_RELEASE

/* Sequences of commands on one stream; the last one gets `last_ok`, all before must be OK. */
static const struct seq_case {
    const char *name;
    uint32_t cmds[10];
    bool last_ok;
} seq_cases[] = {
    {"linux open/play/close", {SP, PREP, START, STOP, REL}, true},
    {"xrun recovery", {SP, PREP, START, STOP, REL, PREP, START}, true},
    {"pause/resume", {SP, PREP, START, STOP, START, STOP, START}, true},
    {"hw_params again after prepare", {SP, PREP, SP, PREP, START}, true},
    {"hw_params again after release", {SP, PREP, START, STOP, REL, SP, PREP, START}, true},
    {"prepare twice", {SP, PREP, PREP, START}, true},
    {"release right after prepare", {SP, PREP, REL, PREP}, true},
    {"set params twice", {SP, SP, PREP}, true},
    {"prepare before set params", {PREP}, false},
    {"start before prepare", {SP, START}, false},
    {"start in none", {START}, false},
    {"stop when not running", {SP, PREP, STOP}, false},
    {"stop twice", {SP, PREP, START, STOP, STOP}, false},
    {"start twice", {SP, PREP, START, START}, false},
    {"release while running", {SP, PREP, START, REL}, false},
    {"release in none", {REL}, false},
    {"release twice", {SP, PREP, REL, REL}, false},
    {"set params while running", {SP, PREP, START, SP}, false},
    {"set params while stopped", {SP, PREP, START, STOP, SP}, false},
    {"prepare while running", {SP, PREP, START, PREP}, false},
    {"prepare while stopped", {SP, PREP, START, STOP, PREP}, false},
    {"start after release", {SP, PREP, REL, START}, false},
};

START_TEST(test_snd_state_machine)
{
    const struct seq_case *c = &seq_cases[_i];
    for (uint32_t stream = 0; stream < 2; stream++) {
        unsigned n = 0;
        while (n < 10 && c->cmds[n])
            n++;
        for (unsigned i = 0; i < n; i++) {
            uint32_t s = c->cmds[i] == SP ? set_params(stream) : pcm_cmd(c->cmds[i], stream);
            bool want_ok = i + 1 < n || c->last_ok;
            ck_assert_msg(s == (want_ok ? OK : BAD), "%s, stream %u, step %u: status %#x", c->name,
                          stream, i, s);
        }
    }
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

START_TEST(test_snd_pcm_command_bad_stream_or_short)
{
    ck_assert_uint_eq(pcm_cmd(PREP, 2), BAD);
    ck_assert_uint_eq(pcm_cmd(START, 0x80000000u), BAD);
    uint8_t req[8];
    aero_put_le32(req, PREP);
    aero_put_le32(req + 4, 0);
    ck_assert_uint_eq(ctl_raw(req, 7, 4, false).status, BAD);
    ck_assert_uint_eq(set_params(0), OK);
    uint8_t sp[24] = {0};
    aero_put_le32(sp, SP);
    ck_assert_uint_eq(ctl_raw(sp, 23, 4, false).status, BAD); /* short SET_PARAMS */
    ck_assert_uint_ge(guest_errors(CTLQ), 4);
}
END_TEST

START_TEST(test_snd_start_stop_tell_the_host)
{
    open_stream(0, true);
    ck_assert_uint_eq(running_calls, 1);
    ck_assert(running_on[0]);
    ck_assert_uint_eq(pcm_cmd(STOP, 0), OK);
    ck_assert(!running_on[0]);
    open_stream(1, true);
    ck_assert(running_on[1]);
    drv_write(&d, 0x14, 0, 1); /* reset: a running stream stops */
    ck_assert(!running_on[1]);
    ck_assert_uint_eq(aero_snd_stream_state(snd, 1), AERO_SND_STATE_NONE);
}
END_TEST

/* ---- other commands ---------------------------------------------------------------------- */

START_TEST(test_snd_other_commands_not_supp)
{
    static const uint32_t codes[] = {VIRTIO_SND_R_JACK_INFO,
                                     VIRTIO_SND_R_JACK_REMAP,
                                     VIRTIO_SND_R_CHMAP_INFO,
                                     0,
                                     0x0106,
                                     0x0201,
                                     0x1000,
                                     0xffffffffu};
    for (unsigned i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        uint8_t req[16] = {0};
        aero_put_le32(req, codes[i]);
        aero_put_le32(req + 8, 1);
        aero_put_le32(req + 12, 64);
        struct ctl_result r = ctl_raw(req, 16, 4 + 64, false);
        ck_assert_msg(r.status == NOTSUPP, "code %#x: %#x", codes[i], r.status);
        ck_assert_uint_eq(r.used_len, 4);
    }
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

/* Hostile control chain shapes: answered (BAD_MSG) or returned unanswered, never more. */
START_TEST(test_snd_control_hostile_shapes)
{
    uint8_t req[8];
    aero_put_le32(req, PREP);
    aero_put_le32(req + 4, 0);
    /* nowhere to write the status: returned with used.len 0, a guest error */
    uint64_t ge = guest_errors(CTLQ);
    struct ctl_result r = ctl_raw(req, 8, 3, false);
    ck_assert_uint_eq(r.used_len, 0);
    ck_assert_uint_eq(*(uint8_t *)fg_ptr(&g, r.resp), 0xee);
    r = ctl_raw(req, 8, 0, false);
    ck_assert_uint_eq(r.used_len, 0);
    ck_assert_uint_eq(guest_errors(CTLQ), ge + 2);
    /* request shorter than a header, or none at all */
    ck_assert_uint_eq(ctl_raw(req, 3, 4, false).status, BAD);
    ck_assert_uint_eq(ctl_raw(req, 0, 4, false).status, BAD);
    /* a readable descriptor after the writable status */
    uint64_t st = fg_alloc(&g, 4, 4), rq = fg_alloc(&g, 8, 8);
    memcpy(fg_ptr(&g, rq), req, 8);
    struct drv_buf b[2] = {{st, 4, true}, {rq, 8, false}};
    uint16_t head = drv_add_chain(&d, CTLQ, b, 2);
    drv_publish(&d, CTLQ, head);
    drv_kick(&d, CTLQ);
    expect_used(CTLQ, head, 4);
    ck_assert_uint_eq(aero_le32(fg_ptr(&g, st)), BAD);
    /* indirect is fine */
    ck_assert_uint_eq(set_params(0), OK);
    ck_assert_uint_eq(ctl_raw(req, 8, 4, true).status, OK);
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

START_TEST(test_snd_control_buffer_outside_memory_is_needs_reset)
{
    struct drv_buf b[2] = {{GUEST_BASE + GUEST_SIZE + 4096, 8, false},
                           {fg_alloc(&g, 4, 4), 4, true}};
    drv_publish(&d, CTLQ, drv_add_chain(&d, CTLQ, b, 2));
    drv_kick(&d, CTLQ);
    ck_assert(drv_needs_reset(&d));
    ck_assert(no_used(CTLQ));
}
END_TEST

/* ---- eventq ------------------------------------------------------------------------------ */

START_TEST(test_snd_eventq_buffers_are_kept)
{
    uint64_t base = fg_alloc(&g, 8 * 64, 8);
    for (unsigned i = 0; i < 64; i++) {
        struct drv_buf b = {base + 8 * i, 8, true};
        drv_publish(&d, EVQ, drv_add_chain(&d, EVQ, &b, 1));
    }
    drv_kick(&d, EVQ);
    open_stream(0, true);
    struct xfer_buf x = tx_buf(3840, 1, 1, true);
    uint8_t pcm[3840];
    aero_snd_playback_pull(snd, pcm, sizeof(pcm));
    expect_used(TXQ, x.head, 8);
    drv_kick(&d, EVQ);
    ck_assert(no_used(EVQ));
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

/* ---- playback ---------------------------------------------------------------------------- */

START_TEST(test_snd_tx_held_before_start_then_played_in_order)
{
    open_stream(0, false);
    struct xfer_buf a = tx_buf(3840, 1, 1, true), b = tx_buf(3840, 2, 3, true);
    uint8_t pcm[7680];
    ck_assert_uint_eq(aero_snd_playback_pull(snd, pcm, sizeof(pcm)), 0); /* not started */
    ck_assert(no_used(TXQ));
    ck_assert_uint_eq(aero_snd_queued_bytes(snd, 0), 7680);
    ck_assert_uint_eq(pcm_cmd(START, 0), OK);
    ck_assert(no_used(TXQ)); /* START itself completes nothing */
    ck_assert_uint_eq(aero_snd_playback_pull(snd, pcm, sizeof(pcm)), sizeof(pcm));
    ck_assert_mem_eq(pcm, fg_ptr(&g, a.data), 3840);
    ck_assert_mem_eq(pcm + 3840, fg_ptr(&g, b.data), 3840);
    expect_used(TXQ, a.head, 8);
    expect_used(TXQ, b.head, 8);
    ck_assert_uint_eq(xfer_status(&a), OK);
    ck_assert_uint_eq(xfer_status(&b), OK);
    ck_assert_uint_eq(aero_le32(fg_ptr(&g, a.status + 4)), 3840); /* latency: b still held */
    struct aero_snd_stats s;
    aero_snd_get_stats(snd, &s);
    ck_assert_uint_eq(s.tx_buffers, 2);
    ck_assert_uint_eq(s.tx_bytes, 7680);
    ck_assert_uint_eq(s.underrun_bytes, 0);
}
END_TEST

/* A buffer completes when the clock has consumed its last byte, not before. */
START_TEST(test_snd_tx_completes_at_the_clocks_pace)
{
    open_stream(0, true);
    struct xfer_buf a = tx_buf(1920 * 4, 3, 2, true), b = tx_buf(1920 * 4, 4, 1, true);
    uint8_t tick[480 * 4]; /* 10 ms at 48 kHz stereo S16 */
    uint8_t played[1920 * 8];
    for (unsigned t = 0; t < 8; t++) {
        ck_assert_uint_eq(aero_snd_playback_pull(snd, tick, sizeof(tick)), sizeof(tick));
        memcpy(played + t * sizeof(tick), tick, sizeof(tick));
        uint16_t used = drv_used_idx(&d, TXQ);
        ck_assert_uint_eq(used, t < 3 ? 0 : t < 7 ? 1 : 2);
    }
    ck_assert_mem_eq(played, fg_ptr(&g, a.data), 1920 * 4);
    ck_assert_mem_eq(played + 1920 * 4, fg_ptr(&g, b.data), 1920 * 4);
    expect_used(TXQ, a.head, 8);
    expect_used(TXQ, b.head, 8);
}
END_TEST

START_TEST(test_snd_tx_underrun_plays_silence)
{
    open_stream(0, true);
    uint8_t pcm[4000];
    memset(pcm, 0x55, sizeof(pcm));
    ck_assert_uint_eq(aero_snd_playback_pull(snd, pcm, sizeof(pcm)), sizeof(pcm));
    for (unsigned i = 0; i < sizeof(pcm); i++)
        ck_assert_uint_eq(pcm[i], 0);
    struct xfer_buf a = tx_buf(1000, 5, 1, true);
    memset(pcm, 0x55, sizeof(pcm));
    aero_snd_playback_pull(snd, pcm, sizeof(pcm));
    ck_assert_mem_eq(pcm, fg_ptr(&g, a.data), 1000);
    for (unsigned i = 1000; i < sizeof(pcm); i++)
        ck_assert_uint_eq(pcm[i], 0);
    expect_used(TXQ, a.head, 8);
    struct aero_snd_stats s;
    aero_snd_get_stats(snd, &s);
    ck_assert_uint_eq(s.underrun_bytes, 4000 + 3000);
    /* the stream keeps going: the next buffer plays normally */
    struct xfer_buf b = tx_buf(400, 6, 1, true);
    aero_snd_playback_pull(snd, pcm, 400);
    ck_assert_mem_eq(pcm, fg_ptr(&g, b.data), 400);
    expect_used(TXQ, b.head, 8);
}
END_TEST

START_TEST(test_snd_tx_pause_holds_position)
{
    open_stream(0, true);
    struct xfer_buf a = tx_buf(4000, 7, 1, true);
    uint8_t pcm[4000];
    aero_snd_playback_pull(snd, pcm, 1000);
    ck_assert_uint_eq(pcm_cmd(STOP, 0), OK);
    ck_assert_uint_eq(aero_snd_playback_pull(snd, pcm + 1000, 3000), 0);
    ck_assert(no_used(TXQ));
    ck_assert_uint_eq(pcm_cmd(START, 0), OK);
    aero_snd_playback_pull(snd, pcm + 1000, 3000);
    ck_assert_mem_eq(pcm, fg_ptr(&g, a.data), 4000);
    expect_used(TXQ, a.head, 8);
}
END_TEST

/* RELEASE completes every pending buffer, and they are published before RELEASE's answer. */
static uint64_t used_idx_addr[4];
static unsigned order[16], norder;
static void record_used_idx(struct fake_guest *fg, uint64_t gpa, size_t len)
{
    for (unsigned q = 0; q < 4; q++)
        if (gpa == used_idx_addr[q] && norder < 16)
            order[norder++] = q;
}

START_TEST(test_snd_release_completes_pending_first)
{
    open_stream(0, true);
    struct xfer_buf x[3];
    for (unsigned i = 0; i < 3; i++)
        x[i] = tx_buf(3840, i, 1, i == 2);
    uint8_t pcm[1000];
    aero_snd_playback_pull(snd, pcm, sizeof(pcm)); /* x[0] partly played */
    ck_assert_uint_eq(pcm_cmd(STOP, 0), OK);
    struct xfer_buf late = tx_buf(3840, 9, 1, false); /* published, never kicked */
    for (unsigned q = 0; q < 4; q++)
        used_idx_addr[q] = d.vq[q].used + 2;
    norder = 0;
    g.on_write = record_used_idx;
    ck_assert_uint_eq(pcm_cmd(REL, 0), OK);
    g.on_write = NULL;
    ck_assert_uint_ge(norder, 2);
    ck_assert_uint_eq(order[0], TXQ);
    ck_assert_uint_eq(order[norder - 1], CTLQ);
    for (unsigned i = 0; i < 3; i++) {
        expect_used(TXQ, x[i].head, 8);
        ck_assert_uint_eq(xfer_status(&x[i]), OK);
    }
    expect_used(TXQ, late.head, 8);
    ck_assert_uint_eq(aero_snd_queued_bytes(snd, 0), 0);
    /* released: new buffers are refused until PREPARE */
    struct xfer_buf y = tx_buf(3840, 1, 1, true);
    expect_used(TXQ, y.head, 8);
    ck_assert_uint_eq(xfer_status(&y), IOERR);
    ck_assert_uint_eq(pcm_cmd(PREP, 0), OK);
    struct xfer_buf z = tx_buf(3840, 1, 1, true);
    ck_assert(no_used(TXQ));
    ck_assert_uint_eq(aero_snd_queued_bytes(snd, 0), 3840);
    (void)z;
}
END_TEST

START_TEST(test_snd_set_params_after_prepare_returns_held_buffers)
{
    open_stream(0, false);
    struct xfer_buf a = tx_buf(3840, 1, 1, true);
    ck_assert(no_used(TXQ));
    ck_assert_uint_eq(set_params(0), OK);
    expect_used(TXQ, a.head, 8);
    ck_assert_uint_eq(aero_snd_queued_bytes(snd, 0), 0);
}
END_TEST

START_TEST(test_snd_tx_largest_payload_and_indirect)
{
    open_stream(0, true);
    struct xfer_buf a = tx_buf(AERO_SND_MAX_PAYLOAD, 3, 16, true);
    ck_assert(no_used(TXQ));
    ck_assert_uint_eq(aero_snd_queued_bytes(snd, 0), AERO_SND_MAX_PAYLOAD);
    uint8_t *pcm = malloc(AERO_SND_MAX_PAYLOAD);
    aero_snd_playback_pull(snd, pcm, AERO_SND_MAX_PAYLOAD);
    ck_assert_mem_eq(pcm, fg_ptr(&g, a.data), AERO_SND_MAX_PAYLOAD);
    free(pcm);
    expect_used(TXQ, a.head, 8);
    /* indirect */
    uint64_t h = fg_alloc(&g, 8, 8), data = fg_alloc(&g, 64, 8), st = fg_alloc(&g, 8, 8);
    aero_put_le32(fg_ptr(&g, h), 0);
    pattern(fg_ptr(&g, data), 64, 9);
    struct drv_buf b[3] = {{h, hdr_len(), false}, {data, 64, false}, {st, 8, true}};
    uint16_t head = drv_add_indirect(&d, TXQ, b, 3);
    drv_publish(&d, TXQ, head);
    drv_kick(&d, TXQ);
    uint8_t out[64];
    aero_snd_playback_pull(snd, out, 64);
    ck_assert_mem_eq(out, fg_ptr(&g, data), 64);
    expect_used(TXQ, head, 8);
    ck_assert_uint_eq(aero_le32(fg_ptr(&g, st)), OK);
}
END_TEST

/* One row per transfer chain shape on txq or rxq. hdr: bytes of header (-1: the encoding's);
 * stream: stream_id in it; payload: PCM bytes; status: writable status bytes; the answer is
 * HELD (no completion yet), a status written into the last 8 writable bytes, or NONE (returned
 * untouched with used.len 0). */
enum outcome { HELD, S_BAD, S_IOERR, NONE };
static const struct shape_case {
    const char *name;
    uint16_t q;
    int hdr;
    uint32_t stream, payload, status;
    bool prepared, readable_after_write, extra_readable;
    enum outcome want;
} shape_cases[] = {
    {"tx well formed", TXQ, -1, 0, 3840, 8, true, false, false, HELD},
    {"tx empty payload", TXQ, -1, 0, 0, 8, true, false, false, HELD},
    {"tx payload at limit", TXQ, -1, 0, 262144, 8, true, false, false, HELD},
    {"tx payload above limit", TXQ, -1, 0, 262148, 8, true, false, false, S_BAD},
    {"tx payload not whole frames", TXQ, -1, 0, 3842, 8, true, false, false, S_BAD},
    {"tx header names capture", TXQ, -1, 1, 3840, 8, true, false, false, S_BAD},
    {"tx header names stream 2", TXQ, -1, 2, 3840, 8, true, false, false, S_BAD},
    {"tx header too short", TXQ, 3, 0, 0, 8, true, false, false, S_BAD},
    {"tx status too long", TXQ, -1, 0, 3840, 16, true, false, false, S_BAD},
    {"tx status too short", TXQ, -1, 0, 3840, 7, true, false, false, NONE},
    {"tx no status", TXQ, -1, 0, 3840, 0, true, false, false, NONE},
    {"tx readable after status", TXQ, -1, 0, 3840, 8, true, true, false, S_BAD},
    {"tx stream not prepared", TXQ, -1, 0, 3840, 8, false, false, false, S_IOERR},
    {"rx well formed", RXQ, -1, 1, 1920, 8, true, false, false, HELD},
    {"rx only a status (CVE-2024-7730)", RXQ, -1, 1, 0, 8, true, false, false, HELD},
    {"rx payload at limit", RXQ, -1, 1, 262144, 8, true, false, false, HELD},
    {"rx payload above limit", RXQ, -1, 1, 262146, 8, true, false, false, S_BAD},
    {"rx payload odd", RXQ, -1, 1, 1921, 8, true, false, false, S_BAD},
    {"rx header names playback", RXQ, -1, 0, 1920, 8, true, false, false, S_BAD},
    {"rx header too short", RXQ, 2, 1, 1920, 8, true, false, false, S_BAD},
    {"rx extra readable", RXQ, -1, 1, 1920, 8, true, false, true, S_BAD},
    {"rx status too short", RXQ, -1, 1, 0, 7, true, false, false, NONE},
    {"rx no writable", RXQ, -1, 1, 0, 0, true, false, false, NONE},
    {"rx readable after payload", RXQ, -1, 1, 1920, 8, true, true, false, S_BAD},
    {"rx stream not prepared", RXQ, -1, 1, 1920, 8, false, false, false, S_IOERR},
};

START_TEST(test_snd_xfer_chain_shapes)
{
    const struct shape_case *c = &shape_cases[_i];
    uint32_t stream = c->q == TXQ ? 0 : 1;
    if (c->prepared)
        open_stream(stream, false);
    uint32_t hl = c->hdr < 0 ? hdr_len() : (uint32_t)c->hdr;
    uint64_t h = fg_alloc(&g, 16, 8);
    memset(fg_ptr(&g, h), 0, 16);
    aero_put_le32(fg_ptr(&g, h), c->stream);
    uint64_t data = fg_alloc(&g, c->payload + 16, 8);
    uint64_t st = fg_alloc(&g, 16, 8);
    memset(fg_ptr(&g, st), 0xee, 16);
    uint64_t junk = fg_alloc(&g, 8, 8);
    struct drv_buf b[5];
    unsigned n = 0;
    bool rx = c->q == RXQ;
    if (hl)
        b[n++] = (struct drv_buf){h, hl, false};
    if (c->extra_readable)
        b[n++] = (struct drv_buf){junk, 8, false};
    if (c->payload)
        b[n++] = (struct drv_buf){data, c->payload, rx};
    if (c->status)
        b[n++] = (struct drv_buf){st, c->status, true};
    if (c->readable_after_write)
        b[n++] = (struct drv_buf){junk, 8, false};
    uint16_t head = drv_add_chain(&d, c->q, b, n);
    drv_publish(&d, c->q, head);
    uint64_t ge = guest_errors(c->q);
    drv_kick(&d, c->q);
    ck_assert_msg(!drv_needs_reset(&d), "%s: NEEDS_RESET (%s)", c->name, g.last_error);
    if (c->want == HELD) {
        ck_assert_msg(no_used(c->q), "%s: completed, should be held", c->name);
        ck_assert_uint_eq(aero_snd_queued_bytes(snd, stream), c->payload);
        ck_assert_uint_eq(guest_errors(c->q), ge);
        return;
    }
    uint32_t id, len;
    ck_assert_msg(drv_get_used(&d, c->q, &id, &len), "%s: not completed", c->name);
    ck_assert_uint_eq(id, head);
    ck_assert_uint_eq(guest_errors(c->q), ge + 1);
    ck_assert_uint_eq(aero_snd_queued_bytes(snd, stream), 0);
    if (c->want == NONE) {
        ck_assert_msg(len == 0, "%s: used.len %u", c->name, len);
        ck_assert_uint_eq(*(uint8_t *)fg_ptr(&g, st), 0xee);
        return;
    }
    ck_assert_msg(len == 8, "%s: used.len %u", c->name, len);
    /* the status sits in the last 8 writable bytes */
    uint64_t at = c->status >= 8 ? st + c->status - 8 : data + c->payload - 8;
    uint32_t want = c->want == S_BAD ? BAD : IOERR;
    ck_assert_msg(aero_le32(fg_ptr(&g, at)) == want, "%s: status %#x want %#x", c->name,
                  aero_le32(fg_ptr(&g, at)), want);
}
END_TEST

START_TEST(test_snd_tx_more_in_flight_than_queue_is_needs_reset)
{
    open_stream(0, false);
    struct xfer_buf a = tx_buf(4, 1, 1, false);
    for (unsigned round = 0; round < 2; round++) {
        for (unsigned i = 0; i < 200; i++)
            drv_publish(&d, TXQ, a.head); /* the same head again and again */
        drv_kick(&d, TXQ);
    }
    ck_assert(drv_needs_reset(&d));
    ck_assert_ptr_nonnull(strstr(g.last_error, "in flight"));
}
END_TEST

START_TEST(test_snd_tx_data_outside_memory_is_needs_reset_on_play)
{
    open_stream(0, true);
    uint64_t h = fg_alloc(&g, 8, 8), st = fg_alloc(&g, 8, 8);
    aero_put_le32(fg_ptr(&g, h), 0);
    struct drv_buf b[3] = {
        {h, hdr_len(), false}, {GUEST_BASE + GUEST_SIZE + 8192, 4096, false}, {st, 8, true}};
    drv_publish(&d, TXQ, drv_add_chain(&d, TXQ, b, 3));
    drv_kick(&d, TXQ);
    ck_assert(!drv_needs_reset(&d)); /* held: not read yet */
    uint8_t pcm[4096];
    memset(pcm, 0x55, sizeof(pcm));
    aero_snd_playback_pull(snd, pcm, sizeof(pcm));
    ck_assert(drv_needs_reset(&d));
    for (unsigned i = 0; i < sizeof(pcm); i++)
        ck_assert_uint_eq(pcm[i], 0); /* the host gets silence, never stale bytes */
    ck_assert_uint_eq(aero_snd_playback_pull(snd, pcm, sizeof(pcm)), 0);
}
END_TEST

START_TEST(test_snd_reset_drops_held_buffers)
{
    open_stream(0, false);
    tx_buf(3840, 1, 1, true);
    ck_assert_uint_eq(aero_snd_queued_bytes(snd, 0), 3840);
    drv_write(&d, 0x14, 0, 1);
    ck_assert_uint_eq(aero_snd_queued_bytes(snd, 0), 0);
    ck_assert_uint_eq(aero_snd_stream_state(snd, 0), AERO_SND_STATE_NONE);
    drv_bring_up(&d, aero_snd_vdev(snd), &g, ~0ull);
    open_stream(0, true);
    uint8_t pcm[64];
    aero_snd_playback_pull(snd, pcm, sizeof(pcm));
    ck_assert(no_used(TXQ));
}
END_TEST

/* ---- capture ----------------------------------------------------------------------------- */

START_TEST(test_snd_rx_filled_from_capture_in_order)
{
    open_stream(1, false);
    struct xfer_buf a = rx_buf(960, true), b = rx_buf(960, true);
    uint8_t rec[1920];
    pattern(rec, sizeof(rec), 77);
    ck_assert_uint_eq(aero_snd_capture_push(snd, rec, sizeof(rec)), 0); /* not started */
    ck_assert(no_used(RXQ));
    ck_assert_uint_eq(pcm_cmd(START, 1), OK);
    ck_assert_uint_eq(aero_snd_capture_push(snd, rec, 500), 500);
    ck_assert(no_used(RXQ)); /* a buffer completes when full */
    ck_assert_uint_eq(aero_snd_capture_push(snd, rec + 500, 1420), 1420);
    expect_used(RXQ, a.head, 960 + 8);
    expect_used(RXQ, b.head, 960 + 8);
    ck_assert_mem_eq(fg_ptr(&g, a.data), rec, 960);
    ck_assert_mem_eq(fg_ptr(&g, b.data), rec + 960, 960);
    ck_assert_uint_eq(xfer_status(&a), OK);
    ck_assert_uint_eq(xfer_status(&b), OK);
    /* no buffer posted: captured bytes are dropped and counted */
    aero_snd_capture_push(snd, rec, 100);
    struct aero_snd_stats s;
    aero_snd_get_stats(snd, &s);
    ck_assert_uint_eq(s.overrun_bytes, 100);
    ck_assert_uint_eq(s.rx_buffers, 2);
    ck_assert_uint_eq(s.rx_bytes, 1920);
}
END_TEST

START_TEST(test_snd_rx_release_pads_with_silence)
{
    open_stream(1, true);
    struct xfer_buf a = rx_buf(960, true), b = rx_buf(960, true);
    uint8_t rec[300];
    pattern(rec, sizeof(rec), 5);
    aero_snd_capture_push(snd, rec, sizeof(rec));
    ck_assert_uint_eq(pcm_cmd(STOP, 1), OK);
    ck_assert(no_used(RXQ)); /* STOP holds */
    ck_assert_uint_eq(pcm_cmd(REL, 1), OK);
    expect_used(RXQ, a.head, 968);
    expect_used(RXQ, b.head, 968);
    ck_assert_mem_eq(fg_ptr(&g, a.data), rec, 300);
    const uint8_t *p = fg_ptr(&g, a.data);
    for (unsigned i = 300; i < 960; i++)
        ck_assert_uint_eq(p[i], 0);
    p = fg_ptr(&g, b.data);
    for (unsigned i = 0; i < 960; i++)
        ck_assert_uint_eq(p[i], 0);
    ck_assert_uint_eq(xfer_status(&a), OK);
    ck_assert_uint_eq(xfer_status(&b), OK);
}
END_TEST

START_TEST(test_snd_rx_zero_payload_completes_with_status_only)
{
    open_stream(1, true);
    struct xfer_buf a = rx_buf(0, true);
    uint8_t rec[4] = {1, 2, 3, 4};
    aero_snd_capture_push(snd, rec, sizeof(rec));
    expect_used(RXQ, a.head, 8);
    ck_assert_uint_eq(xfer_status(&a), OK);
    ck_assert(!drv_needs_reset(&d));
}
END_TEST

/* ---- bounded work ------------------------------------------------------------------------ */

START_TEST(test_snd_control_refilling_driver_gets_bounded_passes)
{
    /* 64 control messages in one kick with a deferring host: one ring's worth per pass. */
    for (unsigned i = 0; i < 64; i++) {
        uint8_t req[8];
        aero_put_le32(req, VIRTIO_SND_R_JACK_INFO);
        uint64_t a = fg_alloc(&g, 8, 8), s = fg_alloc(&g, 4, 4);
        memcpy(fg_ptr(&g, a), req, 8);
        struct drv_buf b[2] = {{a, 8, false}, {s, 4, true}};
        drv_publish(&d, CTLQ, drv_add_chain(&d, CTLQ, b, 2));
    }
    drv_kick(&d, CTLQ);
    ck_assert_uint_eq(drv_used_idx(&d, CTLQ), 0); /* the doorbell only schedules */
    aero_vdev_run_pending(aero_snd_vdev(snd));
    ck_assert_uint_eq(drv_used_idx(&d, CTLQ), 64);
}
END_TEST

/* ---- migration state ------------------------------------------------------------------------ */

static struct aero_snd *new_peer(enum aero_snd_protocol p)
{
    struct aero_snd_params sp = {.protocol = p};
    struct aero_snd *o = aero_snd_new(&sp, &fake_host_ops, &g, &be, NULL, NULL);
    ck_assert_ptr_nonnull(o);
    return o;
}

static uint8_t *save_state(struct aero_snd *o, size_t *len)
{
    *len = aero_vdev_save(aero_snd_vdev(o), NULL, 0);
    uint8_t *b = malloc(*len);
    ck_assert_uint_eq(aero_vdev_save(aero_snd_vdev(o), b, *len), *len);
    return b;
}

/* Held buffers, part-played and part-filled, travel as identities: the destination re-reads
 * them and continues each where the source stopped; every buffer completes exactly once. */
START_TEST(test_snd_state_held_buffers_travel_and_complete_once)
{
    open_stream(AERO_SND_PLAYBACK, true);
    open_stream(AERO_SND_CAPTURE, true);
    struct xfer_buf t[3] = {tx_buf(1920, 1, 1, true), tx_buf(1920, 2, 2, true),
                            tx_buf(1920, 3, 1, true)};
    struct xfer_buf r[2] = {rx_buf(480, true), rx_buf(480, true)};
    uint8_t pcm[5760], mic[960];
    pattern(mic, sizeof(mic), 9);
    ck_assert_uint_eq(aero_snd_playback_pull(snd, pcm, 960), 960);
    ck_assert_uint_eq(aero_snd_capture_push(snd, mic, 240), 240);
    ck_assert(no_used(TXQ));
    ck_assert(no_used(RXQ));

    size_t len;
    uint8_t *blob = save_state(snd, &len);
    struct aero_snd *dst = new_peer(proto);
    running_on[0] = running_on[1] = false;
    ck_assert_ptr_null(aero_vdev_load(aero_snd_vdev(dst), blob, len));
    ck_assert(running_on[0] && running_on[1]); /* the host's audio is switched on for both */
    ck_assert_int_eq(aero_snd_stream_state(dst, 0), AERO_SND_STATE_RUNNING);
    ck_assert_uint_eq(aero_snd_queued_bytes(dst, 0), 3 * 1920 - 960);
    ck_assert_uint_eq(aero_snd_queued_bytes(dst, 1), 2 * 480 - 240);
    aero_snd_free(snd); /* the source is gone */
    snd = dst;
    d.vdev = aero_snd_vdev(dst);

    ck_assert_uint_eq(aero_snd_playback_pull(snd, pcm, sizeof(pcm)), sizeof(pcm));
    ck_assert_mem_eq(pcm, (uint8_t *)fg_ptr(&g, t[0].data) + 960, 960);
    ck_assert_mem_eq(pcm + 960, fg_ptr(&g, t[1].data), 1920);
    ck_assert_mem_eq(pcm + 2880, fg_ptr(&g, t[2].data), 1920);
    for (unsigned i = 0; i < 3; i++) {
        expect_used(TXQ, t[i].head, 8);
        ck_assert_uint_eq(xfer_status(&t[i]), OK);
    }
    ck_assert(no_used(TXQ));
    ck_assert_uint_eq(aero_snd_capture_push(snd, mic + 240, 960 - 240), 960 - 240);
    expect_used(RXQ, r[0].head, 480 + 8);
    expect_used(RXQ, r[1].head, 480 + 8);
    ck_assert_mem_eq(fg_ptr(&g, r[0].data), mic, 480);
    ck_assert_mem_eq(fg_ptr(&g, r[1].data), mic + 480, 480);
    ck_assert(no_used(RXQ));
    ck_assert(!drv_needs_reset(&d));
    free(blob);
}
END_TEST

static void fix_crc(uint8_t *b, size_t len) { aero_put_le32(b + len - 4, aero_state_crc32(b, len - 4)); }

/* One row per damaged device section (a valid CRC over it: a malicious stream, not a corrupted
 * one); each is refused with its reason and the destination stays as it was. The section is
 * {protocol, state0, count0 (2), head (2), done (4), state1, count1 (2)} with one held playback
 * buffer, just before the CRC. */
static const struct snd_state_case {
    const char *name;
    unsigned off, width;
    uint32_t value;
    const char *reason;
} snd_state_cases[] = {
    {"unknown stream state", 1, 1, 9, "unknown state"},
    {"buffers held by a stream that is not prepared", 1, 1, AERO_SND_STATE_PARAMS, "holds 1"},
    {"more buffers than the ring has in flight", 2, 2, 2, "holds 2"},
    {"head beyond the queue", 4, 2, 300, "out of range"},
    {"progress not a whole frame", 6, 4, 3, "not a frame"},
    {"progress beyond the largest payload", 6, 4, AERO_SND_MAX_PAYLOAD + 4, "not a frame"},
    {"capture holds buffers its ring does not have", 11, 2, 1, "holds 1"},
};

START_TEST(test_snd_state_damaged_section_refused)
{
    const struct snd_state_case *c = &snd_state_cases[_i];
    open_stream(AERO_SND_PLAYBACK, true);
    tx_buf(1920, 1, 1, true);
    uint8_t pcm[480];
    aero_snd_playback_pull(snd, pcm, sizeof(pcm));
    size_t len;
    uint8_t *blob = save_state(snd, &len);
    struct aero_snd *dst = new_peer(proto);
    ck_assert_ptr_null(aero_vdev_load(aero_snd_vdev(dst), blob, len)); /* intact: accepted */
    aero_snd_free(dst);
    dst = new_peer(proto);
    size_t before_len;
    uint8_t *before = save_state(dst, &before_len);
    unsigned dev = (unsigned)len - 4 - 13;
    ck_assert_uint_eq(blob[dev], (uint8_t)proto);
    for (unsigned k = 0; k < c->width; k++)
        blob[dev + c->off + k] = (uint8_t)(c->value >> (8 * k));
    fix_crc(blob, len);
    const char *why = aero_vdev_load(aero_snd_vdev(dst), blob, len);
    ck_assert_msg(why && strstr(why, c->reason), "%s: got '%s', want '%s'", c->name,
                  why ? why : "(accepted)", c->reason);
    size_t after_len;
    uint8_t *after = save_state(dst, &after_len);
    ck_assert_uint_eq(before_len, after_len);
    ck_assert(memcmp(before, after, before_len) == 0);
    free(before);
    free(after);
    free(blob);
    aero_snd_free(dst);
}
END_TEST

/* The other wire encoding on the destination is refused up front, not discovered later. */
START_TEST(test_snd_state_other_protocol_refused)
{
    open_stream(AERO_SND_PLAYBACK, false);
    tx_buf(1920, 1, 1, true);
    size_t len;
    uint8_t *blob = save_state(snd, &len);
    struct aero_snd *dst = new_peer(proto == AERO_SND_PROTOCOL_AERO ? AERO_SND_PROTOCOL_VIRTIO
                                                                    : AERO_SND_PROTOCOL_AERO);
    const char *why = aero_vdev_load(aero_snd_vdev(dst), blob, len);
    ck_assert_msg(why && strstr(why, "protocol differs"), "got '%s'", why ? why : "(accepted)");
    free(blob);
    aero_snd_free(dst);
}
END_TEST

/* A held buffer the driver rewrote behind the device's back (here: its stream id) no longer
 * parses as the buffer it was: the destination fails the device, the virtio way. */
START_TEST(test_snd_state_rewritten_buffer_is_needs_reset)
{
    open_stream(AERO_SND_PLAYBACK, true);
    struct xfer_buf x = tx_buf(1920, 1, 1, true);
    size_t len;
    uint8_t *blob = save_state(snd, &len);
    uint64_t hdr = aero_le64(fg_ptr(&g, d.vq[TXQ].desc + 16ull * x.head));
    aero_put_le32(fg_ptr(&g, hdr), AERO_SND_CAPTURE);
    struct aero_snd *dst = new_peer(proto);
    ck_assert_ptr_null(aero_vdev_load(aero_snd_vdev(dst), blob, len));
    aero_snd_free(snd);
    snd = dst;
    d.vdev = aero_snd_vdev(dst);
    ck_assert(drv_needs_reset(&d));
    uint8_t pcm[1920];
    ck_assert_uint_eq(aero_snd_playback_pull(snd, pcm, sizeof(pcm)), 0);
    free(blob);
}
END_TEST

static void add_common(TCase *tc)
{
    tcase_add_test(tc, test_snd_identity_and_features);
    tcase_add_test(tc, test_snd_config_jacks_streams_chmaps);
    tcase_add_test(tc, test_snd_params_rules);
    tcase_add_test(tc, test_snd_pcm_info_both_streams);
    tcase_add_test(tc, test_snd_pcm_info_larger_item_size_zero_padded);
    tcase_add_loop_test(tc, test_snd_pcm_info_rules, 0, sizeof(info_cases) / sizeof(info_cases[0]));
    tcase_add_loop_test(tc, test_snd_set_params_rules, 0,
                        sizeof(params_cases) / sizeof(params_cases[0]));
    tcase_add_loop_test(tc, test_snd_state_machine, 0, sizeof(seq_cases) / sizeof(seq_cases[0]));
    tcase_add_test(tc, test_snd_pcm_command_bad_stream_or_short);
    tcase_add_test(tc, test_snd_start_stop_tell_the_host);
    tcase_add_test(tc, test_snd_other_commands_not_supp);
    tcase_add_test(tc, test_snd_control_hostile_shapes);
    tcase_add_test(tc, test_snd_control_buffer_outside_memory_is_needs_reset);
    tcase_add_test(tc, test_snd_eventq_buffers_are_kept);
    tcase_add_test(tc, test_snd_tx_held_before_start_then_played_in_order);
    tcase_add_test(tc, test_snd_tx_completes_at_the_clocks_pace);
    tcase_add_test(tc, test_snd_tx_underrun_plays_silence);
    tcase_add_test(tc, test_snd_tx_pause_holds_position);
    tcase_add_test(tc, test_snd_release_completes_pending_first);
    tcase_add_test(tc, test_snd_set_params_after_prepare_returns_held_buffers);
    tcase_add_test(tc, test_snd_tx_largest_payload_and_indirect);
    tcase_add_loop_test(tc, test_snd_xfer_chain_shapes, 0,
                        sizeof(shape_cases) / sizeof(shape_cases[0]));
    tcase_add_test(tc, test_snd_tx_more_in_flight_than_queue_is_needs_reset);
    tcase_add_test(tc, test_snd_tx_data_outside_memory_is_needs_reset_on_play);
    tcase_add_test(tc, test_snd_reset_drops_held_buffers);
    tcase_add_test(tc, test_snd_rx_filled_from_capture_in_order);
    tcase_add_test(tc, test_snd_rx_release_pads_with_silence);
    tcase_add_test(tc, test_snd_rx_zero_payload_completes_with_status_only);
    tcase_add_test(tc, test_snd_state_held_buffers_travel_and_complete_once);
    tcase_add_loop_test(tc, test_snd_state_damaged_section_refused, 0,
                        sizeof(snd_state_cases) / sizeof(snd_state_cases[0]));
    tcase_add_test(tc, test_snd_state_other_protocol_refused);
    tcase_add_test(tc, test_snd_state_rewritten_buffer_is_needs_reset);
}

Suite *test_suite(void)
{
    Suite *s = suite_create("snd");
    TCase *aero = tcase_create("aero");
    tcase_add_checked_fixture(aero, setup_aero, teardown);
    add_common(aero);
    suite_add_tcase(s, aero);
    TCase *virtio = tcase_create("virtio");
    tcase_add_checked_fixture(virtio, setup_virtio, teardown);
    add_common(virtio);
    suite_add_tcase(s, virtio);
    TCase *deferred = tcase_create("deferred");
    tcase_add_checked_fixture(deferred, setup_virtio_deferred, teardown);
    tcase_add_test(deferred, test_snd_control_refilling_driver_gets_bounded_passes);
    suite_add_tcase(s, deferred);
    return s;
}
