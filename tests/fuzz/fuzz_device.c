/* libFuzzer target: a hostile driver against one device model (blk, net, input or snd, chosen at
 * build time with FUZZ_BLK / FUZZ_NET / FUZZ_INPUT / FUZZ_SND) over the unit tests' fake guest arena. The
 * input is a program of driver operations -- BAR0 reads and writes, a proper bring-up with
 * features from the input, guest memory (rings, indirect tables, buffers) written from the
 * input, publishes, doorbells, deferred passes, late backend completions, received frames and
 * input events, audio clock ticks (snd), resets -- interleaved in any order.
 *
 * Beyond "no crash" (ASan, UBSan), after every operation the harness checks:
 *  - the device wrote guest memory only inside a used ring or inside a buffer some descriptor
 *    (direct or in an indirect table) marked device-writable when the device could have read it,
 *    and after a reset nothing popped before it is written any more;
 *  - no queue's used.idx advanced past the chains the device popped from it;
 *  - a doorbell does no work by itself and one deferred pass pops at most a ring's worth of
 *    chains per queue (CONTRACT §2).
 * A violation aborts with a message, which libFuzzer reports as a crash.
 */
#include "driver.h"

#if defined(FUZZ_BLK)
#include "aero_blk.h"
#include "membackend.h"
#elif defined(FUZZ_NET)
#include "aero_net.h"
#elif defined(FUZZ_INPUT)
#include "aero_input.h"
#elif defined(FUZZ_SND)
#include "aero_snd.h"
#else
#error "define FUZZ_BLK, FUZZ_NET, FUZZ_INPUT or FUZZ_SND"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPS 512
#define DATA_SIZE 0x10000u
#define MAX_ALLOWED 8192

struct input {
    const uint8_t *p;
    size_t n;
};

static uint8_t take8(struct input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static uint64_t take(struct input *in, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)take8(in) << (8 * i);
    return v;
}

static struct fake_guest g;
static struct drv d;
static struct aero_vdev *vdev;
static uint64_t data_area;
static unsigned nq;

/* Guest memory the device may write: used rings are added when computing, buffers from
 * descriptor snapshots taken before every operation that can make the device read rings. */
static struct range {
    uint64_t a, len;
} allowed[MAX_ALLOWED];
static unsigned nallowed;
static bool allowed_overflow;
static bool unchecked;
static bool bringing_up; /* fresh, empty rings: only avail_event can be written meanwhile */       /* rings reprogrammed behind the harness' back: writes not checked */
static uint32_t generation; /* the device's reset generation when the allowed set was started */
static uint64_t popped_at_enable[AERO_MAX_QUEUES];
static uint16_t used_at_enable[AERO_MAX_QUEUES];
static bool ring_known[AERO_MAX_QUEUES];
static uint16_t device_used_idx[AERO_MAX_QUEUES]; /* what the device itself last stored */

static void violation(const char *what, uint64_t a, uint64_t b)
{
    fprintf(stderr, "fuzz invariant violated: %s (0x%llx, 0x%llx)\n", what,
            (unsigned long long)a, (unsigned long long)b);
    abort();
}

static void allow(uint64_t a, uint64_t len)
{
    if (len == 0)
        return;
    if (nallowed == MAX_ALLOWED) {
        allowed_overflow = true; /* too many to track: this input is not checked further */
        return;
    }
    allowed[nallowed++] = (struct range){a, len};
}

static bool in_guest(uint64_t a, uint64_t len)
{
    return a >= g.base && len <= g.size && a - g.base <= g.size - len;
}

/* Record every device-writable buffer the rings describe right now (one indirect level). */
static void snapshot_writable(void)
{
    for (unsigned q = 0; q < nq; q++) {
        const struct drv_vq *v = &d.vq[q];
        if (!ring_known[q] || !in_guest(v->desc, 16ull * v->size))
            continue;
        for (unsigned i = 0; i < v->size; i++) {
            const uint8_t *e = fg_ptr(&g, v->desc + 16ull * i);
            uint64_t addr = aero_le64(e);
            uint32_t len = aero_le32(e + 8);
            uint16_t flags = aero_le16(e + 12);
            if (flags & VIRTQ_DESC_F_WRITE)
                allow(addr, len);
            if ((flags & VIRTQ_DESC_F_INDIRECT) && in_guest(addr, len) && len <= 16u * 256) {
                for (uint32_t k = 0; k + 16 <= len; k += 16) {
                    const uint8_t *ie = fg_ptr(&g, addr + k);
                    if (aero_le16(ie + 12) & VIRTQ_DESC_F_WRITE)
                        allow(aero_le64(ie), aero_le32(ie + 8));
                }
            }
        }
    }
}

static void on_device_write(struct fake_guest *fg, uint64_t gpa, size_t len)
{
    (void)fg;
    for (unsigned q = 0; q < nq; q++) {
        const struct drv_vq *v = &d.vq[q];
        if (ring_known[q] && gpa >= v->used && gpa + len <= v->used + 6 + 8ull * v->size) {
            if (gpa == v->used + 2 && len == 2) /* the hostile driver may scribble there too */
                device_used_idx[q] = drv_used_idx(&d, (uint16_t)q);
            return;
        }
    }
    if (allowed_overflow || unchecked || bringing_up)
        return;
    for (unsigned i = 0; i < nallowed; i++) {
        if (gpa >= allowed[i].a && gpa - allowed[i].a + len <= allowed[i].len)
            return;
    }
    violation("device wrote guest memory no descriptor made device-writable", gpa, len);
}

static void forget_rings(void)
{
    /* After a reset nothing popped before it may be written: start the allowed set afresh. */
    nallowed = 0;
    allowed_overflow = false;
    unchecked = false;
    memset(ring_known, 0, sizeof(ring_known));
    if (vdev)
        generation = aero_vdev_generation(vdev);
}

static uint64_t popped(unsigned q)
{
    struct aero_vq_stats st;
    aero_vdev_queue_stats(vdev, (uint16_t)q, &st);
    return st.requests;
}

static void check_used_idx(void)
{
    if (aero_vdev_broken(vdev))
        return;
    for (unsigned q = 0; q < nq; q++) {
        if (!ring_known[q] || !in_guest(d.vq[q].used, 4))
            continue;
        uint16_t advanced = (uint16_t)(device_used_idx[q] - used_at_enable[q]);
        uint64_t pops = popped(q) - popped_at_enable[q];
        if (pops < 0x10000 && advanced > pops)
            violation("used.idx ran ahead of the chains popped", advanced, pops);
    }
}

/* ---- the device -------------------------------------------------------------------------- */

#if defined(FUZZ_BLK)
static struct membk mb;
static struct aero_blk *dev;
static void dev_create(struct input *in)
{
    membk_init(&mb, 1u << 20);
    mb.defer = take8(in) & 1;
    struct aero_blk_params p = {.capacity_bytes = 1u << 20,
                                .logical_block_size = (take8(in) & 1) ? 4096 : 512,
                                .event_idx = true,
                                .msix_vectors = (take8(in) & 1) ? AERO_BLK_MSIX_VECTORS : 0};
    dev = aero_blk_new(&p, &fake_host_ops_deferred, &g, &membk_ops, &mb, NULL);
    if (!dev)
        abort();
    vdev = aero_blk_vdev(dev);
}
static void dev_event(struct input *in)
{
    if (take8(in) & 1)
        membk_complete_all(&mb);
    else if (mb.npending) /* one late completion, out of order */
        membk_complete_one(&mb, take8(in) % mb.npending);
}
static void dev_destroy(void)
{
    membk_complete_all(&mb); /* the backend owns nothing once the device is gone */
    aero_blk_free(dev);
    membk_free(&mb);
}
#elif defined(FUZZ_NET)
static struct aero_net *dev;
static void tx(void *opaque, const uint8_t *frame, size_t len)
{
    (void)opaque;
    if (len < AERO_NET_MIN_FRAME || len > AERO_NET_MAX_FRAME)
        violation("transmitted a frame outside 14..1522 bytes", len, 0);
    (void)frame;
}
static void rx_ready(void *opaque) { (void)opaque; }
static const struct aero_net_backend_ops net_be = {.transmit = tx, .rx_ready = rx_ready};
static void dev_create(struct input *in)
{
    struct aero_net_params p = {.mac = {0x52, 0x54, 0, 1, 2, 3},
                                .event_idx = take8(in) & 1,
                                .header_len = (take8(in) & 1) ? 12 : 10,
                                .msix_vectors = (take8(in) & 1) ? AERO_NET_MSIX_VECTORS : 0,
                                .link_up = true};
    dev = aero_net_new(&p, &fake_host_ops_deferred, &g, &net_be, NULL, NULL);
    if (!dev)
        abort();
    vdev = aero_net_vdev(dev);
}
static void dev_event(struct input *in)
{
    uint8_t frame[1600];
    size_t len = (size_t)take(in, 2) % sizeof(frame);
    for (size_t i = 0; i < len && i < 64; i++)
        frame[i] = take8(in);
    if (len > 64)
        memset(frame + 64, 0xa5, len - 64);
    snapshot_writable();
    if (take8(in) & 1)
        aero_net_set_link(dev, take8(in) & 1);
    else if (aero_net_receive(dev, frame, len) == AERO_NET_RX_NO_BUFFER &&
             (len < AERO_NET_MIN_FRAME || len > AERO_NET_MAX_FRAME))
        violation("a frame the device must drop was held as 'no buffer'", len, 0);
}
static void dev_destroy(void) { aero_net_free(dev); }
#elif defined(FUZZ_SND)
static struct aero_snd *dev;
static void dev_create(struct input *in)
{
    struct aero_snd_params p = {.protocol = (enum aero_snd_protocol)(take8(in) & 1),
                                .msix_vectors = (take8(in) & 1) ? AERO_SND_MSIX_VECTORS : 0};
    dev = aero_snd_new(&p, &fake_host_ops_deferred, &g, NULL, NULL, NULL);
    if (!dev)
        abort();
    vdev = aero_snd_vdev(dev);
}
/* One tick of the host's audio clock: playback pulls or capture pushes up to 8 KiB. */
static void dev_event(struct input *in)
{
    static uint8_t pcm[8192];
    uint8_t sel = take8(in);
    size_t len = (size_t)take(in, 2) % sizeof(pcm);
    snapshot_writable();
    if (sel & 1) {
        size_t got = aero_snd_playback_pull(dev, pcm, len);
        if (got != 0 && got != len)
            violation("playback pull returned neither 0 nor the length asked", len, got);
    } else {
        memset(pcm, 0x5a, len);
        aero_snd_capture_push(dev, pcm, len);
    }
}
static void dev_destroy(void) { aero_snd_free(dev); }
#else
static struct aero_input *dev;
static void dev_create(struct input *in)
{
    struct aero_input_params p = {.kind = (enum aero_input_kind)(take8(in) % AERO_INPUT_KINDS),
                                  .event_idx = take8(in) & 1,
                                  .msix_vectors =
                                      (take8(in) & 1) ? AERO_INPUT_MSIX_VECTORS : 0};
    dev = aero_input_new(&p, &fake_host_ops_deferred, &g, NULL, NULL, NULL);
    if (!dev)
        abort();
    vdev = aero_input_vdev(dev);
}
static void dev_event(struct input *in)
{
    unsigned n = take8(in) % 80;
    for (unsigned i = 0; i < n; i++)
        aero_input_event(dev, (uint16_t)take(in, 2), (uint16_t)take(in, 2), (int32_t)take(in, 4));
    snapshot_writable();
    aero_input_sync(dev);
}
static void dev_destroy(void) { aero_input_free(dev); }
#endif

/* ---- the hostile driver ------------------------------------------------------------------ */

static void bring_up(struct input *in)
{
    uint64_t mask = take(in, 8) | (1ull << VIRTIO_F_VERSION_1);
    bringing_up = true;
    drv_bring_up(&d, vdev, &g, mask); /* starts with a reset */
    bringing_up = false;
    forget_rings();
    nq = (uint16_t)drv_read(&d, 0x12, 2);
    for (unsigned q = 0; q < nq && q < AERO_MAX_QUEUES; q++) {
        ring_known[q] = true;
        popped_at_enable[q] = popped(q);
        used_at_enable[q] = device_used_idx[q] = drv_used_idx(&d, (uint16_t)q);
    }
}

/* Write input bytes into a ring area or the data area. */
static void poke(struct input *in)
{
    unsigned q = take8(in) % (nq ? nq : 1);
    unsigned which = take8(in) % 4;
    const struct drv_vq *v = &d.vq[q];
    uint64_t base, size;
    switch (which) {
    case 0:
        base = v->desc, size = 16ull * v->size;
        break;
    case 1:
        base = v->avail, size = 6 + 2ull * v->size;
        break;
    case 2:
        base = v->used, size = 6 + 8ull * v->size;
        break;
    default:
        base = data_area, size = DATA_SIZE;
        break;
    }
    if (!ring_known[q] && which < 3)
        return;
    uint64_t off = take(in, 2) % size;
    unsigned len = take8(in) % 64 + 1;
    for (unsigned i = 0; i < len && off + i < size; i++)
        *(uint8_t *)fg_ptr(&g, base + off + i) = take8(in);
}

/* A well-formed-looking descriptor (addresses mostly in the data area) and a publish. */
static void add_desc_and_publish(struct input *in)
{
    unsigned q = take8(in) % (nq ? nq : 1);
    if (!ring_known[q])
        return;
    struct drv_vq *v = &d.vq[q];
    uint16_t i = (uint16_t)(take(in, 2) % v->size);
    uint64_t addr = data_area + take(in, 2) % DATA_SIZE;
    uint32_t len = (uint32_t)take(in, 2);
    uint16_t flags = (uint16_t)(take8(in) & 7);
    uint16_t next = (uint16_t)(take(in, 2) % (v->size + 2));
    drv_set_desc(&d, (uint16_t)q, i, addr, len, flags, next);
    if (take8(in) & 1)
        drv_publish(&d, (uint16_t)q, i);
}

static void run_pending_checked(void)
{
    uint64_t before[AERO_MAX_QUEUES];
    for (unsigned q = 0; q < nq; q++)
        before[q] = popped(q);
    snapshot_writable();
    aero_vdev_run_pending(vdev);
    for (unsigned q = 0; q < nq; q++) {
        uint64_t n = popped(q) - before[q];
        if (n > d.vq[q].size)
            violation("one pass popped more than a ring's worth", q, n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    fg_init_size(&g, 1u << 20); /* small: the arena is allocated for every input */
    g.on_write = on_device_write;
    memset(&d, 0, sizeof(d));
    d.g = &g;
    nq = 0;
    vdev = NULL;
    forget_rings();
    dev_create(&in);
    d.vdev = vdev;
    generation = aero_vdev_generation(vdev);
    data_area = fg_alloc(&g, DATA_SIZE, 4096);

    for (unsigned op = 0; op < MAX_OPS && in.n; op++) {
        snapshot_writable();
        switch (take8(&in) % 12) {
        case 0: { /* raw BAR0 write */
            uint32_t off = (uint32_t)take(&in, 2) % AERO_BAR0_SIZE;
            static const unsigned widths[] = {1, 2, 4, 8};
            unsigned w = widths[take8(&in) % 4];
            uint64_t val = take(&in, 8);
            /* queue_size/enable/addresses: the rings may move where the harness cannot see */
            if (off + w > 0x18 && off < 0x38)
                unchecked = true;
            uint64_t before = 0;
            for (unsigned q = 0; q < nq; q++)
                before += popped(q);
            drv_write(&d, off, val, w);
            uint64_t after = 0;
            for (unsigned q = 0; q < nq; q++)
                after += popped(q);
            /* CONTRACT §2: a doorbell only marks the queue; the host's next pass does the work. */
            if (off >= AERO_BAR0_NOTIFY && off < AERO_BAR0_NOTIFY + AERO_BAR0_NOTIFY_LEN &&
                after != before)
                violation("a doorbell popped chains itself", off, after - before);
            break;
        }
        case 1:
            drv_read(&d, (uint32_t)take(&in, 2) % AERO_BAR0_SIZE, 1u << (take8(&in) % 4));
            break;
        case 2:
            bring_up(&in);
            break;
        case 3:
        case 4:
            poke(&in);
            break;
        case 5:
        case 6:
            add_desc_and_publish(&in);
            break;
        case 7:
            if (nq)
                drv_kick(&d, (uint16_t)(take8(&in) % nq));
            break;
        case 8:
        case 9:
            run_pending_checked();
            break;
        case 10:
            dev_event(&in);
            break;
        case 11:
            drv_write(&d, 0x14, 0, 1); /* reset */
            break;
        }
        if (aero_vdev_generation(vdev) != generation)
            forget_rings(); /* the device was reset (by any path) */
        check_used_idx();
    }
    run_pending_checked();
    dev_destroy();
    fg_free(&g);
    return 0;
}
