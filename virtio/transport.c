/* The AERO-W7-VIRTIO modern virtio-pci transport: PCI identity and vendor capabilities, the fixed
 * BAR0 register file (CONTRACT §1), device status / feature negotiation / reset, ISR + INTx and
 * MSI-X interrupt delivery, and the single guest-memory accessor.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* common_cfg field offsets (virtio 1.2 §4.1.4.3, CONTRACT §1). */
enum {
    CC_DFSELECT = 0x00,
    CC_DF = 0x04,
    CC_GFSELECT = 0x08,
    CC_GF = 0x0c,
    CC_MSIX = 0x10,
    CC_NUMQ = 0x12,
    CC_STATUS = 0x14,
    CC_CFGGEN = 0x15,
    CC_Q_SELECT = 0x16,
    CC_Q_SIZE = 0x18,
    CC_Q_MSIX = 0x1a,
    CC_Q_ENABLE = 0x1c,
    CC_Q_NOFF = 0x1e,
    CC_Q_DESC = 0x20,
    CC_Q_AVAIL = 0x28,
    CC_Q_USED = 0x30,
    CC_END = 0x38,
};

static const struct {
    uint8_t off, len;
} common_fields[] = {
    {CC_DFSELECT, 4}, {CC_DF, 4},     {CC_GFSELECT, 4}, {CC_GF, 4},
    {CC_MSIX, 2},     {CC_NUMQ, 2},   {CC_STATUS, 1},   {CC_CFGGEN, 1},
    {CC_Q_SELECT, 2}, {CC_Q_SIZE, 2}, {CC_Q_MSIX, 2},   {CC_Q_ENABLE, 2},
    {CC_Q_NOFF, 2},   {CC_Q_DESC, 8}, {CC_Q_AVAIL, 8},  {CC_Q_USED, 8},
};

static void set_status(struct aero_vdev *vdev, uint8_t v);

static bool is_pow2(uint32_t v) { return v && !(v & (v - 1)); }

struct aero_vdev *aero_vdev_new(const struct aero_vdev_params *p, const struct aero_host_ops *host,
                                void *host_opaque, const struct aero_device_ops *dev_ops, void *dev)
{
    if (!p || !host || !host->dma_read || !host->dma_write || !host->load16 || !host->store16 ||
        !host->set_intx || !dev_ops)
        return NULL;
    if (p->num_queues == 0 || p->num_queues > AERO_MAX_QUEUES)
        return NULL;
    if (p->device_config_len > AERO_BAR0_DEVICE_LEN)
        return NULL;
    /* The MSI-X table (16 bytes per vector) and PBA must fit in BAR0 after 0x3100. */
    if (p->msix_vectors > 64)
        return NULL;
    for (uint16_t q = 0; q < p->num_queues; q++) {
        if (!is_pow2(p->queue_max_size[q]) || p->queue_max_size[q] > AERO_VQ_MAX_SIZE)
            return NULL;
    }
    struct aero_vdev *vdev = calloc(1, sizeof(*vdev));
    if (!vdev)
        return NULL;
    vdev->p = *p;
    vdev->host = host;
    vdev->host_opaque = host_opaque;
    vdev->dev_ops = dev_ops;
    vdev->dev = dev;
    for (uint16_t q = 0; q < p->num_queues; q++)
        aero_vq_init(&vdev->vq[q], vdev, q, p->queue_max_size[q]);
    vdev->msix_config = VIRTIO_MSI_NO_VECTOR;
    return vdev;
}

void aero_vdev_free(struct aero_vdev *vdev) { free(vdev); }

/* ---- PCI identity ------------------------------------------------------------------------- */

const struct aero_pci_identity *aero_vdev_identity(const struct aero_vdev *vdev)
{
    return &vdev->p.id;
}

static void fill_vendor_cap(struct aero_pci_cap *c, uint8_t off, uint8_t len, uint8_t next,
                            uint8_t cfg_type, uint32_t bar_off, uint32_t bar_len)
{
    memset(c, 0, sizeof(*c));
    c->offset = off;
    c->len = len;
    c->bytes[0] = 0x09; /* PCI_CAP_ID_VNDR */
    c->bytes[1] = next;
    c->bytes[2] = len; /* cap_len */
    c->bytes[3] = cfg_type;
    c->bytes[4] = 0; /* bar */
    c->bytes[5] = 0; /* id */
    aero_put_le32(&c->bytes[8], bar_off);
    aero_put_le32(&c->bytes[12], bar_len);
}

size_t aero_vdev_pci_caps(const struct aero_vdev *vdev, struct aero_pci_cap *out, size_t max)
{
    if (max < 4)
        return 0;
    uint8_t last_next = vdev->p.msix_vectors ? AERO_CAP_MSIX_OFF : 0;
    /* CONTRACT §1: cfg_type 1..4 at the fixed BAR0 offsets; notify cap carries multiplier 4. */
    fill_vendor_cap(&out[0], AERO_CAP_COMMON_OFF, 16, AERO_CAP_NOTIFY_OFF, 1, AERO_BAR0_COMMON,
                    AERO_BAR0_COMMON_LEN);
    fill_vendor_cap(&out[1], AERO_CAP_NOTIFY_OFF, 20, AERO_CAP_ISR_OFF, 2, AERO_BAR0_NOTIFY,
                    AERO_BAR0_NOTIFY_LEN);
    aero_put_le32(&out[1].bytes[16], AERO_NOTIFY_OFF_MULTIPLIER);
    fill_vendor_cap(&out[2], AERO_CAP_ISR_OFF, 16, AERO_CAP_DEVICE_OFF, 3, AERO_BAR0_ISR,
                    AERO_BAR0_ISR_LEN);
    fill_vendor_cap(&out[3], AERO_CAP_DEVICE_OFF, 16, last_next, 4, AERO_BAR0_DEVICE,
                    AERO_BAR0_DEVICE_LEN);
    return 4;
}

void aero_vdev_pci_config_image(const struct aero_vdev *vdev, uint8_t cfg[256])
{
    const struct aero_pci_identity *id = &vdev->p.id;
    memset(cfg, 0, 256);
    aero_put_le16(&cfg[0x00], id->vendor_id);
    aero_put_le16(&cfg[0x02], id->device_id);
    aero_put_le16(&cfg[0x06], 0x0010); /* status: capability list */
    cfg[0x08] = id->revision;
    cfg[0x09] = (uint8_t)id->class_code;
    cfg[0x0a] = (uint8_t)(id->class_code >> 8);
    cfg[0x0b] = (uint8_t)(id->class_code >> 16);
    cfg[0x0e] = id->header_type;
    cfg[0x10] = 0x04; /* BAR0: memory, 64-bit, non-prefetchable */
    aero_put_le16(&cfg[0x2c], id->subsystem_vendor_id);
    aero_put_le16(&cfg[0x2e], id->subsystem_id);
    cfg[0x34] = AERO_CAP_COMMON_OFF;
    cfg[0x3d] = id->interrupt_pin;
    struct aero_pci_cap caps[4];
    size_t n = aero_vdev_pci_caps(vdev, caps, 4);
    for (size_t i = 0; i < n; i++)
        memcpy(&cfg[caps[i].offset], caps[i].bytes, caps[i].len);
    if (vdev->p.msix_vectors == 0)
        return;
    /* Not installed by hosts (they own MSI-X), but shown so the image is complete. */
    cfg[AERO_CAP_MSIX_OFF] = 0x11;
    cfg[AERO_CAP_MSIX_OFF + 1] = 0;
    aero_put_le16(&cfg[AERO_CAP_MSIX_OFF + 2], (uint16_t)(vdev->p.msix_vectors - 1));
    aero_put_le32(&cfg[AERO_CAP_MSIX_OFF + 4], AERO_BAR0_MSIX_TABLE); /* BIR 0 */
    aero_put_le32(&cfg[AERO_CAP_MSIX_OFF + 8], aero_msix_pba_offset(vdev->p.msix_vectors));
}

/* ---- guest memory ------------------------------------------------------------------------- */

static int gm_check(uint64_t gpa, uint64_t len)
{
    if (len > SIZE_MAX || gpa + len < gpa)
        return -1;
    return 0;
}

int aero_gm_read(struct aero_vdev *vdev, uint64_t gpa, void *buf, uint64_t len)
{
    if (len == 0)
        return 0;
    if (gm_check(gpa, len))
        return -1;
    vdev->in_dma = true;
    int rc = vdev->host->dma_read(vdev->host_opaque, gpa, buf, (size_t)len);
    vdev->in_dma = false;
    return rc ? -1 : 0;
}

int aero_gm_write(struct aero_vdev *vdev, uint64_t gpa, const void *buf, uint64_t len)
{
    if (len == 0)
        return 0;
    if (gm_check(gpa, len))
        return -1;
    vdev->in_dma = true;
    int rc = vdev->host->dma_write(vdev->host_opaque, gpa, buf, (size_t)len);
    vdev->in_dma = false;
    return rc ? -1 : 0;
}

int aero_gm_load16(struct aero_vdev *vdev, uint64_t gpa, uint16_t *val)
{
    if (gpa & 1)
        return -1;
    vdev->in_dma = true;
    int rc = vdev->host->load16(vdev->host_opaque, gpa, val);
    vdev->in_dma = false;
    return rc ? -1 : 0;
}

int aero_gm_store16(struct aero_vdev *vdev, uint64_t gpa, uint16_t val)
{
    if (gpa & 1)
        return -1;
    vdev->in_dma = true;
    int rc = vdev->host->store16(vdev->host_opaque, gpa, val);
    vdev->in_dma = false;
    return rc ? -1 : 0;
}

/* ---- interrupts --------------------------------------------------------------------------- */

static bool msix_on(const struct aero_vdev *vdev)
{
    return vdev->p.msix_vectors && vdev->host->msix_enabled && vdev->host->msix_notify &&
           vdev->host->msix_enabled(vdev->host_opaque);
}

/* CONTRACT §1: with MSI-X enabled use MSI-X only (NO_VECTOR = no interrupt at all); otherwise
 * latch the ISR bit and assert INTx until the ISR is read. */
static bool raise_irq(struct aero_vdev *vdev, uint8_t isr_bit, uint16_t vector)
{
    if (msix_on(vdev)) {
        if (vector == VIRTIO_MSI_NO_VECTOR || vector >= vdev->p.msix_vectors)
            return false;
        vdev->host->msix_notify(vdev->host_opaque, vector);
        return true;
    }
    vdev->isr |= isr_bit;
    vdev->host->set_intx(vdev->host_opaque, 1);
    return true;
}

bool aero_vdev_raise_queue_irq(struct aero_vdev *vdev, struct aero_vq *vq)
{
    return raise_irq(vdev, VIRTIO_ISR_QUEUE, vq->msix_vector);
}

void aero_vdev_config_changed(struct aero_vdev *vdev)
{
    vdev->config_generation++;
    if (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK)
        raise_irq(vdev, VIRTIO_ISR_CONFIG, vdev->msix_config);
}

void aero_vdev_fail(struct aero_vdev *vdev, int queue, const char *fmt, ...)
{
    if (queue >= 0 && queue < vdev->p.num_queues)
        vdev->vq[queue].stats.guest_errors++;
    if (vdev->broken)
        return;
    vdev->broken = true;
    set_status(vdev, vdev->status | VIRTIO_CONFIG_S_NEEDS_RESET);
    if (vdev->host->log_guest_error) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        vdev->host->log_guest_error(vdev->host_opaque, msg);
    }
    /* virtio 1.2 §2.1.2: NEEDS_RESET is followed by a configuration change notification. */
    raise_irq(vdev, VIRTIO_ISR_CONFIG, vdev->msix_config);
}

/* ---- status, features, reset -------------------------------------------------------------- */

/* The one place device_status changes; the host hears of every change. */
static void set_status(struct aero_vdev *vdev, uint8_t v)
{
    uint8_t old = vdev->status;
    vdev->status = v;
    if (old != v && vdev->host->status_changed)
        vdev->host->status_changed(vdev->host_opaque, old, v);
}

void aero_vdev_reset(struct aero_vdev *vdev)
{
    uint8_t old = vdev->status;
    vdev->status = 0;
    vdev->device_feature_select = 0;
    vdev->driver_feature_select = 0;
    vdev->driver_features = 0;
    vdev->negotiated = 0;
    vdev->msix_config = VIRTIO_MSI_NO_VECTOR;
    vdev->queue_select = 0;
    vdev->isr = 0;
    vdev->broken = false;
    vdev->pending = 0;
    vdev->flush_pending = 0;
    vdev->generation++;
    for (uint16_t q = 0; q < vdev->p.num_queues; q++)
        aero_vq_reset(&vdev->vq[q]);
    vdev->host->set_intx(vdev->host_opaque, 0);
    if (vdev->dev_ops->reset)
        vdev->dev_ops->reset(vdev->dev);
    if (old != 0 && vdev->host->status_changed)
        vdev->host->status_changed(vdev->host_opaque, old, 0);
}

static bool features_acceptable(const struct aero_vdev *vdev, uint64_t f)
{
    if (f & ~vdev->p.device_features)
        return false;
    return (f >> VIRTIO_F_VERSION_1) & 1;
}

static void notify_queue(struct aero_vdev *vdev, uint16_t q)
{
    if (q >= vdev->p.num_queues)
        return;
    struct aero_vq *vq = &vdev->vq[q];
    if (vdev->broken || !vq->enabled || !(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK))
        return;
    if (vdev->dev_ops->queue_notify)
        vdev->dev_ops->queue_notify(vdev->dev, q);
}

/* Mark queue q in *mask for the next deferred pass and ask the host for that pass when none is
 * due yet. False when the host has no schedule op (everything runs synchronously then). */
static bool defer(struct aero_vdev *vdev, uint32_t *mask, uint16_t q)
{
    if (!vdev->host->schedule || q >= vdev->p.num_queues)
        return false;
    bool idle = vdev->pending == 0 && vdev->flush_pending == 0;
    *mask |= 1u << q;
    if (idle)
        vdev->host->schedule(vdev->host_opaque);
    return true;
}

bool aero_vdev_defer_flush(struct aero_vdev *vdev, uint16_t q)
{
    return defer(vdev, &vdev->flush_pending, q);
}

bool aero_vdev_notify_later(struct aero_vdev *vdev, uint16_t q)
{
    return defer(vdev, &vdev->pending, q);
}

static void doorbell(struct aero_vdev *vdev, uint16_t q)
{
    if (!aero_vdev_notify_later(vdev, q))
        notify_queue(vdev, q);
}

void aero_vdev_run_pending(struct aero_vdev *vdev)
{
    /* Bounded: each pass handles the queues pending at its start; doorbells rung and work
     * deferred meanwhile schedule a new pass. Deferred flushes first: they only publish. */
    uint32_t pending = vdev->pending, flush = vdev->flush_pending;
    vdev->pending = 0;
    vdev->flush_pending = 0;
    for (uint16_t q = 0; q < vdev->p.num_queues; q++) {
        if (flush & (1u << q))
            aero_vq_flush(&vdev->vq[q]);
    }
    for (uint16_t q = 0; q < vdev->p.num_queues; q++) {
        if (pending & (1u << q))
            notify_queue(vdev, q);
    }
}

static void write_status(struct aero_vdev *vdev, uint8_t v)
{
    if (v == 0) {
        aero_vdev_reset(vdev);
        return;
    }
    uint8_t old = vdev->status;
    if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
        /* CONTRACT §1: unoffered bits (or no VERSION_1) and FEATURES_OK does not stick. */
        if (features_acceptable(vdev, vdev->driver_features))
            vdev->negotiated = vdev->driver_features;
        else
            v &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
    }
    /* Once accepted, FEATURES_OK and NEEDS_RESET only go away through reset. */
    v |= old & (VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_NEEDS_RESET);
    set_status(vdev, v);
    if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
        if (!(v & VIRTIO_CONFIG_S_FEATURES_OK)) {
            aero_vdev_fail(vdev, -1, "DRIVER_OK set without accepted FEATURES_OK");
            return;
        }
        /* Buffers made available before DRIVER_OK are processed now. */
        for (uint16_t q = 0; q < vdev->p.num_queues; q++)
            notify_queue(vdev, q);
    }
}

/* ---- common_cfg --------------------------------------------------------------------------- */

static struct aero_vq *selected_queue(struct aero_vdev *vdev)
{
    if (vdev->queue_select >= vdev->p.num_queues)
        return NULL;
    return &vdev->vq[vdev->queue_select];
}

static uint64_t common_get(struct aero_vdev *vdev, uint8_t field)
{
    struct aero_vq *vq = selected_queue(vdev);
    switch (field) {
    case CC_DFSELECT:
        return vdev->device_feature_select;
    case CC_DF:
        if (vdev->device_feature_select > 1)
            return 0;
        return (uint32_t)(vdev->p.device_features >> (32 * vdev->device_feature_select));
    case CC_GFSELECT:
        return vdev->driver_feature_select;
    case CC_GF:
        if (vdev->driver_feature_select > 1)
            return 0;
        return (uint32_t)(vdev->driver_features >> (32 * vdev->driver_feature_select));
    case CC_MSIX:
        return vdev->msix_config;
    case CC_NUMQ:
        return vdev->p.num_queues;
    case CC_STATUS:
        return vdev->status;
    case CC_CFGGEN:
        return vdev->config_generation;
    case CC_Q_SELECT:
        return vdev->queue_select;
    case CC_Q_SIZE:
        return vq ? vq->size : 0;
    case CC_Q_MSIX:
        return vq ? vq->msix_vector : VIRTIO_MSI_NO_VECTOR;
    case CC_Q_ENABLE:
        return vq ? vq->enabled : 0;
    case CC_Q_NOFF:
        return vq ? vq->index : 0; /* CONTRACT §1: queue_notify_off(q) = q */
    case CC_Q_DESC:
        return vq ? vq->desc : 0;
    case CC_Q_AVAIL:
        return vq ? vq->avail : 0;
    case CC_Q_USED:
        return vq ? vq->used : 0;
    default:
        return 0;
    }
}

static uint16_t accept_vector(const struct aero_vdev *vdev, uint16_t v)
{
    /* virtio 1.2 §4.1.4.3: an unusable vector reads back as NO_VECTOR. */
    return v < vdev->p.msix_vectors ? v : VIRTIO_MSI_NO_VECTOR;
}

static void common_set(struct aero_vdev *vdev, uint8_t field, uint64_t v)
{
    struct aero_vq *vq = selected_queue(vdev);
    switch (field) {
    case CC_DFSELECT:
        vdev->device_feature_select = (uint32_t)v;
        return;
    case CC_GFSELECT:
        vdev->driver_feature_select = (uint32_t)v;
        return;
    case CC_GF: {
        uint32_t sel = vdev->driver_feature_select;
        if (sel > 1 || (vdev->status & VIRTIO_CONFIG_S_FEATURES_OK))
            return;
        uint64_t mask = 0xffffffffull << (32 * sel);
        vdev->driver_features =
            (vdev->driver_features & ~mask) | ((v & 0xffffffffull) << (32 * sel));
        return;
    }
    case CC_MSIX:
        vdev->msix_config = accept_vector(vdev, (uint16_t)v);
        return;
    case CC_STATUS:
        write_status(vdev, (uint8_t)v);
        return;
    case CC_Q_SELECT:
        vdev->queue_select = (uint16_t)v;
        return;
    default:
        break;
    }
    /* Queue registers: ignored for a non-existent queue, and frozen while it is enabled. */
    if (!vq)
        return;
    switch (field) {
    case CC_Q_MSIX:
        vq->msix_vector = accept_vector(vdev, (uint16_t)v);
        return;
    case CC_Q_SIZE:
        if (!vq->enabled)
            vq->size = (uint16_t)v;
        return;
    case CC_Q_ENABLE:
        /* virtio 1.2 §4.1.4.3.2: the driver only ever writes 1. Writing 0 is ignored. */
        if ((uint16_t)v == 1 && !vq->enabled)
            aero_vq_enable(vq);
        return;
    case CC_Q_DESC:
        if (!vq->enabled)
            vq->desc = v;
        return;
    case CC_Q_AVAIL:
        if (!vq->enabled)
            vq->avail = v;
        return;
    case CC_Q_USED:
        if (!vq->enabled)
            vq->used = v;
        return;
    default:
        return; /* read-only fields */
    }
}

static uint64_t common_read(struct aero_vdev *vdev, uint32_t off, unsigned len)
{
    uint8_t img[CC_END + 8] = {0};
    for (size_t i = 0; i < sizeof(common_fields) / sizeof(common_fields[0]); i++) {
        uint8_t f = common_fields[i].off;
        if (f + common_fields[i].len <= off || f >= off + len)
            continue;
        uint64_t v = common_get(vdev, f);
        for (unsigned b = 0; b < common_fields[i].len; b++)
            img[f + b] = (uint8_t)(v >> (8 * b));
    }
    uint64_t r = 0;
    for (unsigned b = 0; b < len && off + b < CC_END; b++)
        r |= (uint64_t)img[off + b] << (8 * b);
    return r;
}

/* A write may cover part of a field (64-bit addresses as two 32-bit halves) or several fields;
 * each touched field gets its current value with the written bytes merged in. */
static void common_write(struct aero_vdev *vdev, uint32_t off, uint64_t val, unsigned len)
{
    for (size_t i = 0; i < sizeof(common_fields) / sizeof(common_fields[0]); i++) {
        uint32_t f = common_fields[i].off, flen = common_fields[i].len;
        if (f + flen <= off || f >= off + len)
            continue;
        uint64_t v = common_get(vdev, (uint8_t)f);
        for (uint32_t b = 0; b < flen; b++) {
            uint32_t a = f + b;
            if (a < off || a >= off + len)
                continue;
            uint64_t byte = (val >> (8 * (a - off))) & 0xff;
            v = (v & ~(0xffull << (8 * b))) | (byte << (8 * b));
        }
        common_set(vdev, (uint8_t)f, v);
    }
}

/* ---- BAR0 dispatch ------------------------------------------------------------------------ */

static bool in_region(uint32_t off, unsigned len, uint32_t base, uint32_t size)
{
    return off >= base && off + len <= base + size;
}

/* A guest that points a DMA address at our own BAR would re-enter the library from inside one
 * of its own accesses (the CVE-2021-3929 class). Such accesses are refused. */
static bool reentrant(struct aero_vdev *vdev)
{
    if (!vdev->in_dma)
        return false;
    if (vdev->host->log_guest_error)
        vdev->host->log_guest_error(vdev->host_opaque, "DMA into the device's own BAR0 refused");
    return true;
}

uint64_t aero_vdev_bar0_read(struct aero_vdev *vdev, uint32_t off, unsigned len)
{
    if (reentrant(vdev))
        return 0;
    if ((len != 1 && len != 2 && len != 4 && len != 8) || off >= AERO_BAR0_SIZE ||
        len > AERO_BAR0_SIZE - off)
        return 0;
    if (in_region(off, len, AERO_BAR0_COMMON, AERO_BAR0_COMMON_LEN))
        return common_read(vdev, off - AERO_BAR0_COMMON, len);
    if (in_region(off, len, AERO_BAR0_ISR, AERO_BAR0_ISR_LEN)) {
        if (off != AERO_BAR0_ISR)
            return 0;
        /* CONTRACT §1: read-to-ack; INTx drops once nothing is pending. */
        uint8_t v = vdev->isr;
        if (aero_vdev_faulty(vdev, AERO_FAULT_ISR_NO_ACK)) /* seeded fault, test only */
            return v;
        vdev->isr = 0;
        vdev->host->set_intx(vdev->host_opaque, 0);
        return v;
    }
    if (in_region(off, len, AERO_BAR0_DEVICE, AERO_BAR0_DEVICE_LEN)) {
        uint8_t buf[8] = {0};
        uint32_t rel = off - AERO_BAR0_DEVICE;
        if (rel < vdev->p.device_config_len && vdev->dev_ops->config_read) {
            unsigned n = len;
            if (rel + n > vdev->p.device_config_len)
                n = vdev->p.device_config_len - rel;
            vdev->dev_ops->config_read(vdev->dev, rel, buf, n);
        }
        return aero_le64(buf);
    }
    return 0; /* notify region and undefined offsets read 0 */
}

void aero_vdev_bar0_write(struct aero_vdev *vdev, uint32_t off, uint64_t val, unsigned len)
{
    if (reentrant(vdev))
        return;
    if ((len != 1 && len != 2 && len != 4 && len != 8) || off >= AERO_BAR0_SIZE ||
        len > AERO_BAR0_SIZE - off)
        return;
    if (in_region(off, len, AERO_BAR0_COMMON, AERO_BAR0_COMMON_LEN)) {
        common_write(vdev, off - AERO_BAR0_COMMON, val, len);
        return;
    }
    if (in_region(off, len, AERO_BAR0_NOTIFY, AERO_BAR0_NOTIFY_LEN)) {
        uint32_t rel = off - AERO_BAR0_NOTIFY;
        /* CONTRACT §1: doorbell of queue q at 0x1000 + 4q; the value is not used. */
        if (rel % AERO_NOTIFY_OFF_MULTIPLIER == 0) {
            uint32_t q = rel / AERO_NOTIFY_OFF_MULTIPLIER;
            if (q < vdev->p.num_queues) {
                vdev->vq[q].stats.notifies++;
                doorbell(vdev, (uint16_t)q);
            }
        }
        return;
    }
    if (in_region(off, len, AERO_BAR0_DEVICE, AERO_BAR0_DEVICE_LEN)) {
        uint32_t rel = off - AERO_BAR0_DEVICE;
        if (rel >= vdev->p.device_config_len || !vdev->dev_ops->config_write)
            return;
        unsigned n = len;
        if (rel + n > vdev->p.device_config_len)
            n = vdev->p.device_config_len - rel;
        uint8_t buf[8];
        aero_put_le64(buf, val);
        vdev->dev_ops->config_write(vdev->dev, rel, buf, n);
    }
    /* ISR writes and undefined offsets are ignored. */
}

/* ---- accessors ---------------------------------------------------------------------------- */

unsigned aero_virtio_abi_version(void) { return AERO_VIRTIO_ABI_VERSION; }

bool aero_vdev_driver_ok(const struct aero_vdev *vdev)
{
    return (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) != 0;
}
bool aero_vdev_broken(const struct aero_vdev *vdev) { return vdev->broken; }
uint64_t aero_vdev_features(const struct aero_vdev *vdev) { return vdev->negotiated; }
bool aero_vdev_has_feature(const struct aero_vdev *vdev, unsigned bit)
{
    return bit < 64 && ((vdev->negotiated >> bit) & 1);
}
struct aero_vq *aero_vdev_queue(struct aero_vdev *vdev, uint16_t q)
{
    return q < vdev->p.num_queues ? &vdev->vq[q] : NULL;
}
uint32_t aero_vdev_generation(const struct aero_vdev *vdev) { return vdev->generation; }
bool aero_vdev_queue_stats(const struct aero_vdev *vdev, uint16_t q, struct aero_vq_stats *out)
{
    if (q >= vdev->p.num_queues)
        return false;
    *out = vdev->vq[q].stats;
    return true;
}

char *aero_vdev_stats_string(const struct aero_vdev *vdev)
{
    size_t cap = 200u * vdev->p.num_queues + 1;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t used = 0;
    s[0] = '\0';
    for (uint16_t q = 0; q < vdev->p.num_queues; q++) {
        const struct aero_vq_stats *st = &vdev->vq[q].stats;
        int n = snprintf(s + used, cap - used,
                         "q%u notifies=%llu interrupts=%llu suppressed=%llu requests=%llu "
                         "guest_errors=%llu io_errors=%llu\n",
                         q, (unsigned long long)st->notifies, (unsigned long long)st->interrupts,
                         (unsigned long long)st->interrupts_suppressed,
                         (unsigned long long)st->requests, (unsigned long long)st->guest_errors,
                         (unsigned long long)st->io_errors);
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
    return s;
}
