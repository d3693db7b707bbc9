/* aero-virtio-input (CONTRACT §3.3): the selector-based config space, evdev event delivery (one
 * 8-byte event per used entry, SYN_REPORT per batch, backlog kept in order while no buffers are
 * posted) and the status queue (LED state).
 */
#include "aero_input.h"
#include "aero_virtio_device.h"
#include "aero_le.h"

#include <stdlib.h>
#include <string.h>

#define INPUT_CONFIG_LEN 136u /* select, subsel, size, reserved[5], payload[128] */
#define EVENT_SIZE 8u
#define BATCH_MAX 64u

struct ev {
    uint16_t type, code;
    int32_t value;
};

struct aero_input {
    struct aero_vdev *vdev;
    struct aero_input_params p;
    const struct aero_input_backend_ops *backend;
    void *backend_opaque;
    uint8_t select, subsel;
    uint8_t bits_syn[128], bits_key[128], bits_rel[128], bits_abs[128], bits_led[128];
    uint32_t leds;
    uint8_t keys_down[128]; /* keyboard: keys pressed and not yet released */
    /* backlog ring of committed events */
    struct ev backlog[AERO_INPUT_BACKLOG];
    unsigned head, count;
    /* the batch being built */
    struct ev batch[BATCH_MAX];
    unsigned nbatch;
    bool batch_overflow;
    struct aero_input_stats stats;
    struct aero_chain chain;
};

static void set_bit(uint8_t *bm, unsigned bit) { bm[bit / 8] |= (uint8_t)(1u << (bit % 8)); }
static void put_bit(uint8_t *bm, unsigned bit, bool on)
{
    if (on)
        set_bit(bm, bit);
    else
        bm[bit / 8] &= (uint8_t) ~(1u << (bit % 8));
}
static bool test_bit(const uint8_t *bm, unsigned bit)
{
    return bit < 1024 && (bm[bit / 8] >> (bit % 8)) & 1;
}

static const char *const names[] = {"Aero Virtio Keyboard", "Aero Virtio Mouse",
                                    "Aero Virtio Tablet"};

static void setup_bits(struct aero_input *in)
{
    set_bit(in->bits_syn, AERO_EV_SYN);
    switch (in->p.kind) {
    case AERO_INPUT_KEYBOARD:
        set_bit(in->bits_syn, AERO_EV_KEY);
        set_bit(in->bits_syn, AERO_EV_LED);
        /* Every keyboard key code (1..255): covers the contract minimum and what QEMU's
         * qcode -> Linux map produces. */
        for (unsigned k = 1; k < 256; k++)
            set_bit(in->bits_key, k);
        for (unsigned l = AERO_LED_NUML; l <= AERO_LED_KANA; l++)
            set_bit(in->bits_led, l);
        break;
    case AERO_INPUT_MOUSE:
        set_bit(in->bits_syn, AERO_EV_KEY);
        set_bit(in->bits_syn, AERO_EV_REL);
        for (unsigned b = AERO_BTN_LEFT; b <= AERO_BTN_TASK; b++)
            set_bit(in->bits_key, b);
        set_bit(in->bits_rel, AERO_REL_X);
        set_bit(in->bits_rel, AERO_REL_Y);
        set_bit(in->bits_rel, AERO_REL_WHEEL);
        set_bit(in->bits_rel, AERO_REL_HWHEEL);
        break;
    case AERO_INPUT_TABLET:
        set_bit(in->bits_syn, AERO_EV_KEY);
        set_bit(in->bits_syn, AERO_EV_ABS);
        for (unsigned b = AERO_BTN_LEFT; b <= AERO_BTN_TASK; b++)
            set_bit(in->bits_key, b);
        set_bit(in->bits_abs, AERO_ABS_X);
        set_bit(in->bits_abs, AERO_ABS_Y);
        break;
    }
}

static const uint8_t *bits_for(const struct aero_input *in, uint16_t type)
{
    switch (type) {
    case AERO_EV_SYN:
        return in->bits_syn;
    case AERO_EV_KEY:
        return in->bits_key;
    case AERO_EV_REL:
        return in->bits_rel;
    case AERO_EV_ABS:
        return in->bits_abs;
    case AERO_EV_LED:
        return in->bits_led;
    default:
        return NULL;
    }
}

bool aero_input_has_code(const struct aero_input *in, uint16_t type, uint16_t code)
{
    if (type == AERO_EV_SYN)
        return code == AERO_SYN_REPORT;
    const uint8_t *bm = bits_for(in, type);
    return bm && test_bit(in->bits_syn, type) && test_bit(bm, code);
}

/* Size of a bitmap = bytes up to its last non-zero byte (virtio 1.2 §5.8.4). */
static uint8_t bitmap_size(const uint8_t *bm)
{
    unsigned n = 128;
    while (n && !bm[n - 1])
        n--;
    return (uint8_t)n;
}

/* Render the selected config payload into cfg[8..] and return its size. */
static uint8_t render(const struct aero_input *in, uint8_t *payload)
{
    memset(payload, 0, 128);
    switch (in->select) {
    case VIRTIO_INPUT_CFG_ID_NAME: {
        if (in->subsel)
            return 0;
        const char *n = names[in->p.kind];
        size_t len = strlen(n);
        memcpy(payload, n, len);
        return (uint8_t)len;
    }
    case VIRTIO_INPUT_CFG_ID_DEVIDS:
        if (in->subsel)
            return 0;
        aero_put_le16(payload + 0, 0x0006);                     /* bustype BUS_VIRTUAL */
        aero_put_le16(payload + 2, 0x1af4);                     /* vendor */
        aero_put_le16(payload + 4, (uint16_t)(in->p.kind + 1)); /* product 1/2/3 */
        aero_put_le16(payload + 6, 1);                          /* version */
        return 8;
    case VIRTIO_INPUT_CFG_EV_BITS: {
        /* subsel 0 (EV_SYN) gives the event-type bitmap, like evdev's EVIOCGBIT(0). */
        const uint8_t *bm = bits_for(in, in->subsel);
        if (!bm || (in->subsel && !test_bit(in->bits_syn, in->subsel)))
            return 0;
        memcpy(payload, bm, 128);
        return bitmap_size(bm);
    }
    case VIRTIO_INPUT_CFG_ABS_INFO:
        if (in->p.kind != AERO_INPUT_TABLET || !test_bit(in->bits_abs, in->subsel))
            return 0;
        aero_put_le32(payload + 0, 0);                  /* min */
        aero_put_le32(payload + 4, AERO_INPUT_ABS_MAX); /* max */
        return 20;                                      /* + fuzz, flat, res = 0 */
    default:
        return 0; /* ID_SERIAL, PROP_BITS and everything else: size 0 */
    }
}

static void input_config_read(void *opaque, uint32_t off, uint8_t *buf, unsigned len)
{
    struct aero_input *in = opaque;
    uint8_t cfg[INPUT_CONFIG_LEN] = {0};
    cfg[0] = in->select;
    cfg[1] = in->subsel;
    cfg[2] = render(in, cfg + 8);
    if (off < INPUT_CONFIG_LEN)
        memcpy(buf, &cfg[off], off + len <= INPUT_CONFIG_LEN ? len : INPUT_CONFIG_LEN - off);
}

static void input_config_write(void *opaque, uint32_t off, const uint8_t *buf, unsigned len)
{
    struct aero_input *in = opaque;
    for (unsigned i = 0; i < len; i++) {
        if (off + i == 0)
            in->select = buf[i];
        else if (off + i == 1)
            in->subsel = buf[i];
        /* size and payload are read-only */
    }
}

/* Deliver backlog events into posted eventq buffers; one interrupt decision at the end. Unusable
 * buffers are returned empty. At most one ring's worth of buffers per pass (CONTRACT §2). */
static void deliver(struct aero_input *in)
{
    struct aero_vq *vq = aero_vdev_queue(in->vdev, 0);
    if (!aero_vq_ready(vq))
        return;
    unsigned budget = aero_vq_size(vq);
    while (in->count) {
        enum aero_vq_pop_result r = aero_vq_pop_budgeted(vq, &in->chain, &budget);
        if (r == AERO_VQ_EMPTY && aero_vq_rearm(vq))
            continue;
        if (r != AERO_VQ_POPPED)
            break;
        if (in->chain.writable_bytes < EVENT_SIZE) {
            /* Unusable buffer: return it empty rather than wedge the queue. */
            aero_vq_count_guest_error(vq);
            aero_vq_push(vq, in->chain.head, 0);
            continue;
        }
        const struct ev *e = &in->backlog[in->head];
        uint8_t b[EVENT_SIZE];
        aero_put_le16(b, e->type);
        aero_put_le16(b + 2, e->code);
        aero_put_le32(b + 4, (uint32_t)e->value);
        if (aero_chain_to_guest(vq, &in->chain, 0, b, EVENT_SIZE) != EVENT_SIZE)
            return;
        aero_vq_push(vq, in->chain.head, EVENT_SIZE);
        in->head = (in->head + 1) % AERO_INPUT_BACKLOG;
        in->count--;
        in->stats.events_delivered++;
    }
    aero_vq_flush(vq);
}

/* statusq: the driver reports LED state as EV_LED events; consume and complete everything, at
 * most one ring's worth per pass. */
static void process_status(struct aero_input *in)
{
    struct aero_vq *vq = aero_vdev_queue(in->vdev, 1);
    uint32_t old = in->leds;
    unsigned budget = aero_vq_size(vq);
    do {
        for (;;) {
            enum aero_vq_pop_result r = aero_vq_pop_budgeted(vq, &in->chain, &budget);
            if (r == AERO_VQ_DEFERRED)
                goto out;
            if (r != AERO_VQ_POPPED)
                break;
            uint8_t b[EVENT_SIZE];
            if (in->chain.readable_bytes >= EVENT_SIZE &&
                aero_chain_from_guest(vq, &in->chain, 0, b, EVENT_SIZE) == EVENT_SIZE) {
                uint16_t type = aero_le16(b), code = aero_le16(b + 2);
                uint32_t value = aero_le32(b + 4);
                if (type == AERO_EV_LED && code <= AERO_LED_KANA) {
                    if (value)
                        in->leds |= 1u << code;
                    else
                        in->leds &= ~(1u << code);
                }
                in->stats.status_events++;
            }
            if (aero_vdev_broken(in->vdev))
                return;
            aero_vq_push(vq, in->chain.head, 0);
        }
    } while (aero_vq_rearm(vq));
out:
    aero_vq_flush(vq);
    if (in->leds != old && in->backend && in->backend->leds_changed)
        in->backend->leds_changed(in->backend_opaque, in->leds);
}

static void input_queue_notify(void *opaque, uint16_t q)
{
    struct aero_input *in = opaque;
    if (q == 0)
        deliver(in);
    else
        process_status(in);
}

static void input_reset(void *opaque)
{
    struct aero_input *in = opaque;
    in->select = in->subsel = 0;
    in->head = in->count = 0;
    in->nbatch = 0;
    in->batch_overflow = false;
    in->leds = 0;
    memset(in->keys_down, 0, sizeof(in->keys_down)); /* the driver saw no key go down yet */
}

/* ---- migration state ------------------------------------------------------------------------
 * Section payload (version 1): u8 kind, u8 select, u8 subsel, u32 leds, keys_down[32] (key codes
 * 0..255), u16 backlog count + events, u8 batch count + events, u8 batch_overflow; an event is
 * u16 type, u16 code, u32 value. The backlog travels whole: events queued while the driver had
 * no buffers are delivered on the destination, each exactly once. */
#define KEYS_SAVED 32u

static void save_event(struct aero_state_writer *w, const struct ev *e)
{
    aero_sw_u16(w, e->type);
    aero_sw_u16(w, e->code);
    aero_sw_u32(w, (uint32_t)e->value);
}

static struct ev read_event(struct aero_state_reader *r)
{
    struct ev e;
    e.type = aero_sr_u16(r);
    e.code = aero_sr_u16(r);
    e.value = (int32_t)aero_sr_u32(r);
    return e;
}

static void input_state_save(void *opaque, struct aero_state_writer *w)
{
    struct aero_input *in = opaque;
    aero_sw_u8(w, (uint8_t)in->p.kind);
    aero_sw_u8(w, in->select);
    aero_sw_u8(w, in->subsel);
    aero_sw_u32(w, in->leds);
    aero_sw_bytes(w, in->keys_down, KEYS_SAVED);
    aero_sw_u16(w, (uint16_t)in->count);
    for (unsigned i = 0; i < in->count; i++)
        save_event(w, &in->backlog[(in->head + i) % AERO_INPUT_BACKLOG]);
    aero_sw_u8(w, (uint8_t)in->nbatch);
    for (unsigned i = 0; i < in->nbatch; i++)
        save_event(w, &in->batch[i]);
    aero_sw_u8(w, in->batch_overflow);
}

/* An event this device could have queued: SYN_REPORT, or an advertised code (keyboard keys
 * only as press/release, CONTRACT §3.3). */
static bool event_valid(const struct aero_input *in, const struct ev *e)
{
    if (e->type == AERO_EV_SYN)
        return e->code == AERO_SYN_REPORT && e->value == 0;
    if (!aero_input_has_code(in, e->type, e->code))
        return false;
    if (in->p.kind == AERO_INPUT_KEYBOARD && e->type == AERO_EV_KEY)
        return e->value == 0 || e->value == 1;
    return true;
}

static const char *input_state_check(void *opaque, const uint8_t *p, size_t len,
                                     const struct aero_state_queues *qs)
{
    struct aero_input *in = opaque;
    struct aero_state_reader r = {.p = p, .len = len};
    uint8_t kind = aero_sr_u8(&r);
    aero_sr_u8(&r); /* select, subsel: any value is a legal latch */
    aero_sr_u8(&r);
    uint32_t leds = aero_sr_u32(&r);
    uint8_t keys[KEYS_SAVED];
    aero_sr_bytes(&r, keys, KEYS_SAVED);
    if (r.short_read)
        return "input: section truncated";
    if (kind != in->p.kind)
        return "input: state of another function (keyboard/mouse/tablet)";
    if (leds & ~((2u << AERO_LED_KANA) - 1))
        return "input: undefined LED bits";
    for (unsigned k = 0; k < 8 * KEYS_SAVED; k++) {
        if (test_bit(keys, k) &&
            (in->p.kind != AERO_INPUT_KEYBOARD || !aero_input_has_code(in, AERO_EV_KEY, (uint16_t)k)))
            return "input: a key held down that this function does not have";
    }
    uint16_t count = aero_sr_u16(&r);
    if (count > AERO_INPUT_BACKLOG)
        return "input: backlog longer than the device keeps";
    struct ev e = {0, 0, 0};
    for (unsigned i = 0; i < count; i++) {
        e = read_event(&r);
        if (r.short_read)
            return "input: backlog truncated";
        if (!event_valid(in, &e))
            return "input: backlog holds an event this function cannot produce";
    }
    if (count && e.type != AERO_EV_SYN)
        return "input: backlog does not end with SYN_REPORT";
    uint8_t nbatch = aero_sr_u8(&r);
    if (nbatch > BATCH_MAX - 1)
        return "input: batch longer than the device builds";
    for (unsigned i = 0; i < nbatch; i++) {
        e = read_event(&r);
        if (r.short_read)
            return "input: batch truncated";
        if (e.type == AERO_EV_SYN || !event_valid(in, &e))
            return "input: batch holds an event this function cannot produce";
    }
    uint8_t overflow = aero_sr_u8(&r);
    if (!aero_sr_exact(&r))
        return "input: section length does not match its contents";
    if (overflow > 1)
        return "input: batch overflow flag is not a boolean";
    for (uint16_t q = 0; q < qs->num_queues; q++) {
        if (!qs->broken && qs->q[q].enabled && qs->q[q].inflight)
            return "input: chains in flight (the device completes every chain it pops at once)";
    }
    return NULL;
}

static void input_state_load(void *opaque, const uint8_t *p, size_t len)
{
    struct aero_input *in = opaque;
    struct aero_state_reader r = {.p = p, .len = len};
    aero_sr_u8(&r);
    in->select = aero_sr_u8(&r);
    in->subsel = aero_sr_u8(&r);
    in->leds = aero_sr_u32(&r);
    memset(in->keys_down, 0, sizeof(in->keys_down));
    aero_sr_bytes(&r, in->keys_down, KEYS_SAVED);
    in->head = 0;
    in->count = aero_sr_u16(&r);
    for (unsigned i = 0; i < in->count; i++)
        in->backlog[i] = read_event(&r);
    in->nbatch = aero_sr_u8(&r);
    for (unsigned i = 0; i < in->nbatch; i++)
        in->batch[i] = read_event(&r);
    in->batch_overflow = aero_sr_u8(&r);
}

static const struct aero_device_ops input_dev_ops = {
    .config_read = input_config_read,
    .config_write = input_config_write,
    .queue_notify = input_queue_notify,
    .reset = input_reset,
    .state_save = input_state_save,
    .state_check = input_state_check,
    .state_load = input_state_load,
};

/* CONTRACT §3.3: keyboard values are 1 press / 0 release, no auto-repeat, so only a change of a
 * key's state is an event. The state is what the driver will have seen: delivered batches plus
 * the batch being built (a batch that is dropped changes nothing). */
static bool key_changes(const struct aero_input *in, uint16_t code, int32_t value)
{
    if (value != 0 && value != 1)
        return false;
    bool down = test_bit(in->keys_down, code);
    for (unsigned i = in->nbatch; i-- > 0;) {
        if (in->batch[i].type == AERO_EV_KEY && in->batch[i].code == code) {
            down = in->batch[i].value == 1;
            break;
        }
    }
    return down != (value == 1);
}

bool aero_input_event(struct aero_input *in, uint16_t type, uint16_t code, int32_t value)
{
    if (type == AERO_EV_SYN || !aero_input_has_code(in, type, code))
        return false;
    bool keyboard_key = in->p.kind == AERO_INPUT_KEYBOARD && type == AERO_EV_KEY;
    if (keyboard_key && !key_changes(in, code, value))
        return false;
    if (in->nbatch >= BATCH_MAX - 1) { /* leave room for SYN_REPORT */
        in->batch_overflow = true;
        return false;
    }
    in->batch[in->nbatch++] = (struct ev){type, code, value};
    return true;
}

void aero_input_sync(struct aero_input *in)
{
    if (in->nbatch == 0 && !in->batch_overflow)
        return;
    in->batch[in->nbatch++] = (struct ev){AERO_EV_SYN, AERO_SYN_REPORT, 0};
    if (in->batch_overflow || in->count + in->nbatch > AERO_INPUT_BACKLOG) {
        in->stats.events_dropped += in->nbatch;
    } else {
        for (unsigned i = 0; i < in->nbatch; i++) {
            const struct ev *e = &in->batch[i];
            in->backlog[(in->head + in->count + i) % AERO_INPUT_BACKLOG] = *e;
            if (in->p.kind == AERO_INPUT_KEYBOARD && e->type == AERO_EV_KEY)
                put_bit(in->keys_down, e->code, e->value == 1);
        }
        in->count += in->nbatch;
        in->stats.batches++;
    }
    in->nbatch = 0;
    in->batch_overflow = false;
    deliver(in);
}

uint32_t aero_input_leds(const struct aero_input *in) { return in->leds; }
void aero_input_get_stats(const struct aero_input *in, struct aero_input_stats *out)
{
    *out = in->stats;
}

#define INPUT_ID(kind, hdr)                                                                        \
    {                                                                                              \
        .vendor_id = AERO_PCI_VENDOR, .device_id = 0x1040 + VIRTIO_ID_INPUT,                       \
        .subsystem_vendor_id = AERO_PCI_VENDOR, .subsystem_id = (uint16_t)(0x0010 + (kind)),       \
        .revision = AERO_PCI_REVISION, .class_code = 0x098000, .header_type = (hdr),               \
        .interrupt_pin = 1,                                                                        \
    }

/* CONTRACT §3.3: function 0 (keyboard) carries the multi-function bit. */
const struct aero_pci_identity aero_input_pci_identity[AERO_INPUT_KINDS] = {
    [AERO_INPUT_KEYBOARD] = INPUT_ID(AERO_INPUT_KEYBOARD, 0x80),
    [AERO_INPUT_MOUSE] = INPUT_ID(AERO_INPUT_MOUSE, 0x00),
    [AERO_INPUT_TABLET] = INPUT_ID(AERO_INPUT_TABLET, 0x00),
};

const char *aero_input_check_params(const struct aero_input_params *p)
{
    if (p->kind > AERO_INPUT_TABLET)
        return "input kind must be keyboard, mouse or tablet";
    if (p->msix_vectors != 0 && p->msix_vectors != AERO_INPUT_MSIX_VECTORS)
        return "vectors must be 0 (INTx only) or 3 (config + eventq + statusq)";
    return NULL;
}

struct aero_input *aero_input_new(const struct aero_input_params *p,
                                  const struct aero_host_ops *host, void *host_opaque,
                                  const struct aero_input_backend_ops *backend,
                                  void *backend_opaque, const char **why)
{
    if (!p)
        return aero_refuse(why, "no parameters");
    const char *bad = aero_input_check_params(p);
    if (bad)
        return aero_refuse(why, bad);
    struct aero_input *in = calloc(1, sizeof(*in));
    if (!in)
        return aero_refuse(why, "out of memory");
    in->p = *p;
    in->backend = backend;
    in->backend_opaque = backend_opaque;
    setup_bits(in);
    struct aero_vdev_params vp = {
        .id = aero_input_pci_identity[p->kind],
        .num_queues = 2,
        .queue_max_size = {AERO_INPUT_QUEUE_SIZE, AERO_INPUT_QUEUE_SIZE},
        .device_features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_INDIRECT_DESC),
        .msix_vectors = p->msix_vectors,
        .device_config_len = INPUT_CONFIG_LEN,
    };
    if (p->event_idx)
        vp.device_features |= 1ull << VIRTIO_F_RING_EVENT_IDX;
    in->vdev = aero_vdev_new(&vp, host, host_opaque, &input_dev_ops, in);
    if (!in->vdev) {
        free(in);
        return aero_refuse(why, "the host lacks a required operation");
    }
    return in;
}

void aero_input_free(struct aero_input *in)
{
    if (!in)
        return;
    aero_vdev_free(in->vdev);
    free(in);
}

struct aero_vdev *aero_input_vdev(struct aero_input *in) { return in->vdev; }
