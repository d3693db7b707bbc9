/* Migration state of a device: the transport, every queue and the device model's section as one
 * versioned, self-describing blob (aero_vdev_save), and its hostile-input loader
 * (aero_vdev_load): parse into a staging copy, validate every field against this device, then
 * commit. Guest memory is not part of the blob; the host migrates RAM.
 *
 * Layout (all little-endian), AERO_STATE_VERSION 1:
 *   header   magic "AEROVST\0" (8), u16 version, u16 PCI device id, u16 PCI subsystem id,
 *            u16 section count, u32 body length                                   (20 bytes)
 *   body     sections: u16 tag, u16 flags (0), u32 payload length, payload
 *            TRANSPORT once, then QUEUE for queues 0..n-1 in order, then DEVICE when the
 *            device model has state hooks
 *   trailer  u32 CRC-32 (IEEE) of header and body
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define STATE_MAGIC "AEROVST"
#define STATE_HDR_LEN 20u
#define SECTION_HDR_LEN 8u

enum state_tag { TAG_TRANSPORT = 1, TAG_QUEUE = 2, TAG_DEVICE = 3 };

#define STATUS_KNOWN                                                                               \
    (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK |             \
     VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)

uint32_t aero_state_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

/* ---- save --------------------------------------------------------------------------------- */

static void patch_u32(struct aero_state_writer *w, size_t at, uint32_t v)
{
    if (w->buf && at + 4 <= w->cap && at + 4 <= w->len) {
        for (int i = 0; i < 4; i++)
            w->buf[at + i] = (uint8_t)(v >> (8 * i));
    }
}

static size_t section_begin(struct aero_state_writer *w, uint16_t tag)
{
    aero_sw_u16(w, tag);
    aero_sw_u16(w, 0);
    size_t at = w->len;
    aero_sw_u32(w, 0);
    return at;
}

static void section_end(struct aero_state_writer *w, size_t at)
{
    patch_u32(w, at, (uint32_t)(w->len - at - 4));
}

static void save_transport(const struct aero_vdev *vdev, struct aero_state_writer *w)
{
    aero_sw_u16(w, vdev->p.num_queues);
    aero_sw_u16(w, vdev->p.msix_vectors);
    aero_sw_u8(w, vdev->status);
    aero_sw_u32(w, vdev->device_feature_select);
    aero_sw_u32(w, vdev->driver_feature_select);
    aero_sw_u64(w, vdev->driver_features);
    aero_sw_u64(w, vdev->negotiated);
    aero_sw_u16(w, vdev->msix_config);
    aero_sw_u8(w, vdev->config_generation);
    aero_sw_u16(w, vdev->queue_select);
    aero_sw_u8(w, vdev->isr);
    aero_sw_u8(w, vdev->broken);
    aero_sw_u32(w, vdev->pending);
    aero_sw_u32(w, vdev->flush_pending);
}

static void save_queue(const struct aero_vq *vq, struct aero_state_writer *w)
{
    aero_sw_u16(w, vq->index);
    aero_sw_u16(w, vq->size);
    aero_sw_u16(w, vq->msix_vector);
    aero_sw_u8(w, vq->enabled);
    aero_sw_u64(w, vq->desc);
    aero_sw_u64(w, vq->avail);
    aero_sw_u64(w, vq->used);
    aero_sw_u16(w, vq->last_avail);
    aero_sw_u16(w, vq->shadow_avail);
    aero_sw_u16(w, vq->used_idx);
    aero_sw_u16(w, vq->pushed);
    aero_sw_u16(w, vq->signalled_used);
    aero_sw_u8(w, vq->signalled_valid);
}

static bool has_device_state(const struct aero_vdev *vdev)
{
    const struct aero_device_ops *o = vdev->dev_ops;
    return o->state_save && o->state_check && o->state_load;
}

size_t aero_vdev_save(const struct aero_vdev *vdev, uint8_t *buf, size_t cap)
{
    struct aero_state_writer w = {.buf = buf, .cap = cap, .len = 0};
    uint16_t nsec = (uint16_t)(1 + vdev->p.num_queues + (has_device_state(vdev) ? 1 : 0));

    aero_sw_bytes(&w, STATE_MAGIC, 8);
    aero_sw_u16(&w, AERO_STATE_VERSION);
    aero_sw_u16(&w, vdev->p.id.device_id);
    aero_sw_u16(&w, vdev->p.id.subsystem_id);
    aero_sw_u16(&w, nsec);
    size_t body_len_at = w.len;
    aero_sw_u32(&w, 0);

    size_t at = section_begin(&w, TAG_TRANSPORT);
    save_transport(vdev, &w);
    section_end(&w, at);
    for (uint16_t q = 0; q < vdev->p.num_queues; q++) {
        at = section_begin(&w, TAG_QUEUE);
        save_queue(&vdev->vq[q], &w);
        section_end(&w, at);
    }
    if (has_device_state(vdev)) {
        at = section_begin(&w, TAG_DEVICE);
        vdev->dev_ops->state_save(vdev->dev, &w);
        section_end(&w, at);
    }
    patch_u32(&w, body_len_at, (uint32_t)(w.len - STATE_HDR_LEN));
    if (buf && w.len <= cap)
        aero_sw_u32(&w, aero_state_crc32(buf, w.len));
    else
        aero_sw_u32(&w, 0);
    return w.len;
}

/* ---- load --------------------------------------------------------------------------------- */

struct staged {
    uint8_t status;
    uint32_t device_feature_select, driver_feature_select;
    uint64_t driver_features, negotiated;
    uint16_t msix_config;
    uint8_t config_generation;
    uint16_t queue_select;
    uint8_t isr;
    bool broken;
    uint32_t pending, flush_pending;
    struct aero_vq vq[AERO_MAX_QUEUES];
};

static const char *refuse(struct aero_vdev *vdev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *refuse(struct aero_vdev *vdev, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vdev->load_error, sizeof(vdev->load_error), fmt, ap);
    va_end(ap);
    return vdev->load_error;
}

static bool vector_ok(const struct aero_vdev *vdev, uint16_t v)
{
    return v == VIRTIO_MSI_NO_VECTOR || v < vdev->p.msix_vectors;
}

static const char *parse_transport(struct aero_vdev *vdev, const uint8_t *p, size_t len,
                                   struct staged *s)
{
    struct aero_state_reader r = {.p = p, .len = len};
    uint16_t nq = aero_sr_u16(&r), nvec = aero_sr_u16(&r);
    s->status = aero_sr_u8(&r);
    s->device_feature_select = aero_sr_u32(&r);
    s->driver_feature_select = aero_sr_u32(&r);
    s->driver_features = aero_sr_u64(&r);
    s->negotiated = aero_sr_u64(&r);
    s->msix_config = aero_sr_u16(&r);
    s->config_generation = aero_sr_u8(&r);
    s->queue_select = aero_sr_u16(&r);
    s->isr = aero_sr_u8(&r);
    uint8_t broken = aero_sr_u8(&r);
    s->pending = aero_sr_u32(&r);
    s->flush_pending = aero_sr_u32(&r);
    if (!aero_sr_exact(&r))
        return refuse(vdev, "transport section is %zu bytes, not what version %u has", len,
                      AERO_STATE_VERSION);
    if (nq != vdev->p.num_queues)
        return refuse(vdev, "source device has %u queues, this one %u", nq, vdev->p.num_queues);
    if (nvec != vdev->p.msix_vectors)
        return refuse(vdev, "source device has %u MSI-X vectors, this one %u (vectors=)", nvec,
                      vdev->p.msix_vectors);
    if (broken > 1)
        return refuse(vdev, "broken flag %u is not a boolean", broken);
    s->broken = broken;
    if (s->status & ~STATUS_KNOWN)
        return refuse(vdev, "device status 0x%02x has undefined bits", s->status);
    if (s->broken != ((s->status & VIRTIO_CONFIG_S_NEEDS_RESET) != 0))
        return refuse(vdev, "broken flag and DEVICE_NEEDS_RESET disagree (status 0x%02x)",
                      s->status);
    if (s->status & VIRTIO_CONFIG_S_FEATURES_OK) {
        if (s->negotiated != s->driver_features)
            return refuse(vdev, "negotiated features 0x%llx differ from the driver's 0x%llx",
                          (unsigned long long)s->negotiated,
                          (unsigned long long)s->driver_features);
        if (s->negotiated & ~vdev->p.device_features)
            return refuse(vdev,
                          "negotiated features 0x%llx not all offered here (0x%llx; "
                          "event-idx= differs?)",
                          (unsigned long long)s->negotiated,
                          (unsigned long long)vdev->p.device_features);
        if (!((s->negotiated >> VIRTIO_F_VERSION_1) & 1))
            return refuse(vdev, "negotiated features lack VERSION_1");
    } else if (s->negotiated) {
        return refuse(vdev, "features negotiated (0x%llx) without FEATURES_OK",
                      (unsigned long long)s->negotiated);
    }
    if ((s->status & VIRTIO_CONFIG_S_DRIVER_OK) && !(s->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
        !s->broken)
        return refuse(vdev, "DRIVER_OK without FEATURES_OK on a working device");
    if (!vector_ok(vdev, s->msix_config))
        return refuse(vdev, "config vector %u >= %u vectors", s->msix_config,
                      vdev->p.msix_vectors);
    if (s->isr & ~(VIRTIO_ISR_QUEUE | VIRTIO_ISR_CONFIG))
        return refuse(vdev, "ISR 0x%02x has undefined bits", s->isr);
    uint32_t qmask = (1u << vdev->p.num_queues) - 1;
    if ((s->pending | s->flush_pending) & ~qmask)
        return refuse(vdev, "pending work for queues that do not exist (0x%x, 0x%x)", s->pending,
                      s->flush_pending);
    return NULL;
}

static const char *parse_queue(struct aero_vdev *vdev, uint16_t q, const uint8_t *p, size_t len,
                               struct staged *s)
{
    struct aero_state_reader r = {.p = p, .len = len};
    struct aero_vq *vq = &s->vq[q];
    *vq = vdev->vq[q]; /* identity, limits and counters stay this device's */
    uint16_t index = aero_sr_u16(&r);
    vq->size = aero_sr_u16(&r);
    vq->msix_vector = aero_sr_u16(&r);
    uint8_t enabled = aero_sr_u8(&r);
    vq->desc = aero_sr_u64(&r);
    vq->avail = aero_sr_u64(&r);
    vq->used = aero_sr_u64(&r);
    vq->last_avail = aero_sr_u16(&r);
    vq->shadow_avail = aero_sr_u16(&r);
    vq->used_idx = aero_sr_u16(&r);
    vq->pushed = aero_sr_u16(&r);
    vq->signalled_used = aero_sr_u16(&r);
    uint8_t valid = aero_sr_u8(&r);
    if (!aero_sr_exact(&r))
        return refuse(vdev, "queue %u section is %zu bytes, not what version %u has", q, len,
                      AERO_STATE_VERSION);
    if (index != q)
        return refuse(vdev, "queue section %u describes queue %u", q, index);
    if (enabled > 1 || valid > 1)
        return refuse(vdev, "queue %u: enabled/signalled flags are not booleans", q);
    vq->enabled = enabled;
    vq->signalled_valid = valid;
    if (!vector_ok(vdev, vq->msix_vector))
        return refuse(vdev, "queue %u: vector %u >= %u vectors", q, vq->msix_vector,
                      vdev->p.msix_vectors);
    if (!vq->enabled) {
        /* Ring state only exists from queue_enable on (reset zeroes it, enable restarts it). */
        if (vq->last_avail || vq->shadow_avail || vq->used_idx || vq->pushed ||
            vq->signalled_used || vq->signalled_valid)
            return refuse(vdev, "queue %u: ring indices on a disabled queue", q);
        if ((s->pending | s->flush_pending) & (1u << q))
            return refuse(vdev, "queue %u: pending work on a disabled queue", q);
        return NULL;
    }
    if (vq->size == 0 || vq->size > vq->max_size || (vq->size & (vq->size - 1)))
        return refuse(vdev, "queue %u: size %u (this device allows powers of two up to %u)", q,
                      vq->size, vq->max_size);
    uint16_t n = vq->size;
    /* CONTRACT §2: the driver is at most a ring's worth ahead of the device, and the device
     * has at most a ring's worth of chains popped and not completed. */
    if ((uint16_t)(vq->shadow_avail - vq->last_avail) > n)
        return refuse(vdev, "queue %u: avail.idx %u is more than %u ahead of last_avail %u", q,
                      vq->shadow_avail, n, vq->last_avail);
    if ((uint16_t)(vq->last_avail - vq->used_idx) > n)
        return refuse(vdev, "queue %u: %u chains in flight on a ring of %u", q,
                      (uint16_t)(vq->last_avail - vq->used_idx), n);
    if (vq->pushed > n)
        return refuse(vdev, "queue %u: %u unpublished used elements on a ring of %u", q,
                      vq->pushed, n);
    if (vq->pushed && !(s->flush_pending & (1u << q)) && !s->broken)
        s->flush_pending |= 1u << q; /* unpublished pushes always get their flush */
    bool ev = (s->negotiated >> VIRTIO_F_RING_EVENT_IDX) & 1;
    const char *bad = aero_vq_check_rings(vdev, vq, ev);
    if (bad)
        return refuse(vdev, "queue %u: %s (desc 0x%llx avail 0x%llx used 0x%llx)", q, bad,
                      (unsigned long long)vq->desc, (unsigned long long)vq->avail,
                      (unsigned long long)vq->used);
    return NULL;
}

struct section {
    uint16_t tag;
    const uint8_t *p;
    uint32_t len;
};

/* Split the body into sections, checking each header and length against what remains. */
static const char *split_sections(struct aero_vdev *vdev, const uint8_t *body, size_t len,
                                  uint16_t nsec, struct section *out, uint16_t max)
{
    size_t pos = 0;
    if (nsec != max)
        return refuse(vdev, "%u sections, this device has %u", nsec, max);
    for (uint16_t i = 0; i < nsec; i++) {
        if (len - pos < SECTION_HDR_LEN)
            return refuse(vdev, "section %u header truncated", i);
        struct aero_state_reader r = {.p = body + pos, .len = SECTION_HDR_LEN};
        uint16_t tag = aero_sr_u16(&r), flags = aero_sr_u16(&r);
        uint32_t slen = aero_sr_u32(&r);
        pos += SECTION_HDR_LEN;
        if (flags)
            return refuse(vdev, "section %u has flags 0x%x (version %u defines none)", i, flags,
                          AERO_STATE_VERSION);
        if (slen > len - pos)
            return refuse(vdev, "section %u claims %u bytes, %zu remain", i, slen, len - pos);
        out[i] = (struct section){tag, body + pos, slen};
        pos += slen;
    }
    if (pos != len)
        return refuse(vdev, "%zu bytes after the last section", len - pos);
    return NULL;
}

/* Bring the live device to the staged state. Nothing here can fail. */
static void commit(struct aero_vdev *vdev, const struct staged *s)
{
    uint8_t old = vdev->status;
    vdev->status = s->status;
    vdev->device_feature_select = s->device_feature_select;
    vdev->driver_feature_select = s->driver_feature_select;
    vdev->driver_features = s->driver_features;
    vdev->negotiated = s->negotiated;
    vdev->msix_config = s->msix_config;
    vdev->config_generation = s->config_generation;
    vdev->queue_select = s->queue_select;
    vdev->isr = s->isr;
    vdev->broken = s->broken;
    vdev->pending = s->pending;
    vdev->flush_pending = s->flush_pending;
    vdev->generation++; /* whatever this device had in flight belongs to its old life */
    for (uint16_t q = 0; q < vdev->p.num_queues; q++)
        vdev->vq[q] = s->vq[q];
    if (old != s->status && vdev->host->status_changed)
        vdev->host->status_changed(vdev->host_opaque, old, s->status);
}

/* After a restore every running queue is looked at again: the driver may have published
 * buffers (avail_idx already past avail_event) that no doorbell will announce again. */
static void restart(struct aero_vdev *vdev)
{
    bool msix = vdev->p.msix_vectors && vdev->host->msix_enabled && vdev->host->msix_notify &&
                vdev->host->msix_enabled(vdev->host_opaque);
    /* CONTRACT §1: INTx follows the ISR while MSI-X is off. */
    vdev->host->set_intx(vdev->host_opaque, !msix && vdev->isr ? 1 : 0);
    if (vdev->broken || !(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK))
        return;
    for (uint16_t q = 0; q < vdev->p.num_queues; q++) {
        if (vdev->vq[q].enabled)
            vdev->pending |= 1u << q;
    }
    if (vdev->host->schedule)
        vdev->host->schedule(vdev->host_opaque);
    else
        aero_vdev_run_pending(vdev);
}

const char *aero_vdev_load(struct aero_vdev *vdev, const uint8_t *buf, size_t len)
{
    if (!buf || len < STATE_HDR_LEN + 4)
        return refuse(vdev, "state of %zu bytes is shorter than its header", len);
    if (memcmp(buf, STATE_MAGIC, 8) != 0)
        return refuse(vdev, "not an aero-virtio device state (bad magic)");
    struct aero_state_reader r = {.p = buf + 8, .len = STATE_HDR_LEN - 8};
    uint16_t version = aero_sr_u16(&r), devid = aero_sr_u16(&r), subsys = aero_sr_u16(&r);
    uint16_t nsec = aero_sr_u16(&r);
    uint32_t body_len = aero_sr_u32(&r);
    if (version != AERO_STATE_VERSION)
        return refuse(vdev, "state format version %u; this build reads version %u", version,
                      AERO_STATE_VERSION);
    if (devid != vdev->p.id.device_id || subsys != vdev->p.id.subsystem_id)
        return refuse(vdev, "state of PCI device %04x subsystem %04x, this is %04x/%04x", devid,
                      subsys, vdev->p.id.device_id, vdev->p.id.subsystem_id);
    if (body_len != len - STATE_HDR_LEN - 4)
        return refuse(vdev, "state body of %u bytes in a %zu-byte blob", body_len, len);
    struct aero_state_reader t = {.p = buf + len - 4, .len = 4};
    uint32_t crc = aero_sr_u32(&t);
    if (crc != aero_state_crc32(buf, len - 4))
        return refuse(vdev, "state checksum mismatch (corrupted in transit)");

    struct section sec[AERO_MAX_QUEUES + 2];
    uint16_t want = (uint16_t)(1 + vdev->p.num_queues + (has_device_state(vdev) ? 1 : 0));
    const char *why = split_sections(vdev, buf + STATE_HDR_LEN, body_len, nsec, sec, want);
    if (why)
        return why;
    static const struct staged zero;
    struct staged s = zero;
    if (sec[0].tag != TAG_TRANSPORT)
        return refuse(vdev, "first section has tag %u, not the transport", sec[0].tag);
    if ((why = parse_transport(vdev, sec[0].p, sec[0].len, &s)))
        return why;
    for (uint16_t q = 0; q < vdev->p.num_queues; q++) {
        const struct section *qs = &sec[1 + q];
        if (qs->tag != TAG_QUEUE)
            return refuse(vdev, "section %u has tag %u, not queue %u", 1 + q, qs->tag, q);
        if ((why = parse_queue(vdev, q, qs->p, qs->len, &s)))
            return why;
    }
    const struct section *ds = NULL;
    if (has_device_state(vdev)) {
        ds = &sec[want - 1];
        if (ds->tag != TAG_DEVICE)
            return refuse(vdev, "last section has tag %u, not the device's", ds->tag);
        struct aero_state_queues qs = {.num_queues = vdev->p.num_queues,
                                       .broken = s.broken,
                                       .driver_ok = s.status & VIRTIO_CONFIG_S_DRIVER_OK};
        for (uint16_t q = 0; q < vdev->p.num_queues; q++) {
            qs.q[q].enabled = s.vq[q].enabled;
            qs.q[q].size = s.vq[q].size;
            qs.q[q].inflight = (uint16_t)(s.vq[q].last_avail - s.vq[q].used_idx);
        }
        why = vdev->dev_ops->state_check(vdev->dev, ds->p, ds->len, &qs);
        if (why)
            return refuse(vdev, "%s", why);
    }
    commit(vdev, &s);
    if (ds)
        vdev->dev_ops->state_load(vdev->dev, ds->p, ds->len);
    restart(vdev);
    return NULL;
}
