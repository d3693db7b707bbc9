/* Driver-side helpers of aero-conformance (see vdrv.h). */
#define _GNU_SOURCE
#include "vdrv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define mb() __sync_synchronize()

double vd_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void vd_msleep(int ms) { usleep((useconds_t)ms * 1000u); }

static bool write_file(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return false;
    ssize_t n = write(fd, s, strlen(s));
    close(fd);
    return n == (ssize_t)strlen(s);
}

/* ---- config space ------------------------------------------------------------------------ */

static void cfg_rw(struct vd_dev *d, unsigned off, void *buf, size_t len, bool wr)
{
    ssize_t n = wr ? pwrite(d->cfg_fd, buf, len, off) : pread(d->cfg_fd, buf, len, off);
    if (n != (ssize_t)len) {
        fprintf(stderr, "aero-conformance: %s config %s at 0x%x failed: %s\n", d->bdf,
                wr ? "write" : "read", off, strerror(errno));
        if (!wr)
            memset(buf, 0xff, len);
    }
}
uint8_t cfg_rd8(struct vd_dev *d, unsigned off)
{
    uint8_t v;
    cfg_rw(d, off, &v, 1, false);
    return v;
}
uint16_t cfg_rd16(struct vd_dev *d, unsigned off)
{
    uint8_t b[2];
    cfg_rw(d, off, b, 2, false);
    return (uint16_t)(b[0] | b[1] << 8);
}
uint32_t cfg_rd32(struct vd_dev *d, unsigned off)
{
    uint8_t b[4];
    cfg_rw(d, off, b, 4, false);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
void cfg_wr8(struct vd_dev *d, unsigned off, uint8_t v) { cfg_rw(d, off, &v, 1, true); }
void cfg_wr16(struct vd_dev *d, unsigned off, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    cfg_rw(d, off, b, 2, true);
}
void cfg_wr32(struct vd_dev *d, unsigned off, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    cfg_rw(d, off, b, 4, true);
}

/* ---- MMIO: one access of the named width each ---------------------------------------------- */

uint8_t mm_rd8(volatile uint8_t *p, unsigned off) { return p[off]; }
uint16_t mm_rd16(volatile uint8_t *p, unsigned off) { return *(volatile uint16_t *)(p + off); }
uint32_t mm_rd32(volatile uint8_t *p, unsigned off) { return *(volatile uint32_t *)(p + off); }
uint64_t mm_rd64(volatile uint8_t *p, unsigned off) { return *(volatile uint64_t *)(p + off); }
void mm_wr8(volatile uint8_t *p, unsigned off, uint8_t v) { p[off] = v; }
void mm_wr16(volatile uint8_t *p, unsigned off, uint16_t v) { *(volatile uint16_t *)(p + off) = v; }
void mm_wr32(volatile uint8_t *p, unsigned off, uint32_t v) { *(volatile uint32_t *)(p + off) = v; }
void mm_wr64(volatile uint8_t *p, unsigned off, uint64_t v) { *(volatile uint64_t *)(p + off) = v; }

uint64_t cc_rd64(struct vd_dev *d, unsigned off)
{
    return (uint64_t)CC32(d, off) | (uint64_t)CC32(d, off + 4) << 32;
}
void cc_wr64(struct vd_dev *d, unsigned off, uint64_t v)
{
    CC_W32(d, off, (uint32_t)v);
    CC_W32(d, off + 4, (uint32_t)(v >> 32));
}

/* ---- open ---------------------------------------------------------------------------------- */

static bool fail(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return false;
}

static bool bind_uio(struct vd_dev *d, char *why, size_t whylen)
{
    char path[256], link[256];
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", d->bdf);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    if (n > 0) {
        link[n] = 0;
        if (!strstr(link, "uio_pci_generic")) {
            snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", d->bdf);
            if (!write_file(path, d->bdf))
                return fail(why, whylen, "cannot unbind %s from its driver", d->bdf);
        }
    }
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", d->bdf);
    if (!write_file(path, "uio_pci_generic"))
        return fail(why, whylen, "cannot set driver_override of %s", d->bdf);
    if (n <= 0 || !strstr(link, "uio_pci_generic"))
        write_file("/sys/bus/pci/drivers_probe", d->bdf);
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/uio", d->bdf);
    DIR *dir = opendir(path);
    if (!dir)
        return fail(why, whylen, "%s is not bound to uio_pci_generic (no INTx masking?)", d->bdf);
    struct dirent *e;
    char dev[300] = "";
    while ((e = readdir(dir)))
        if (!strncmp(e->d_name, "uio", 3))
            snprintf(dev, sizeof(dev), "/dev/%s", e->d_name);
    closedir(dir);
    d->uio_fd = open(dev, O_RDWR);
    if (d->uio_fd < 0)
        return fail(why, whylen, "%s: %s", dev, strerror(errno));
    return true;
}

static bool map_bars(struct vd_dev *d, char *why, size_t whylen)
{
    char path[256];
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", d->bdf);
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(why, whylen, "%s: %s", path, strerror(errno));
    for (int i = 0; i < 6; i++) {
        uint64_t s, e, fl;
        if (fscanf(f, "%" SCNx64 " %" SCNx64 " %" SCNx64, &s, &e, &fl) != 3)
            break;
        d->bar_start[i] = s;
        d->bar_size[i] = (s || e) ? e - s + 1 : 0;
        d->bar_flags[i] = fl;
        if (!d->bar_size[i] || !(fl & 0x200)) /* IORESOURCE_MEM */
            continue;
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d", d->bdf, i);
        int fd = open(path, O_RDWR | O_SYNC);
        if (fd < 0)
            continue;
        void *p = mmap(NULL, d->bar_size[i], PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (p != MAP_FAILED)
            d->bar[i] = p;
    }
    fclose(f);
    return true;
}

static void parse_caps(struct vd_dev *d)
{
    unsigned ptr = cfg_rd8(d, 0x34) & 0xfc;
    for (int guard = 0; ptr >= 0x40 && guard < 48; guard++) {
        uint8_t id = cfg_rd8(d, ptr), next = cfg_rd8(d, ptr + 1) & 0xfc;
        if (id == 0x09) {
            uint8_t type = cfg_rd8(d, ptr + 3);
            struct vd_region *r = NULL;
            if (type == CAP_COMMON)
                r = &d->common;
            else if (type == CAP_NOTIFY)
                r = &d->notify;
            else if (type == CAP_ISR)
                r = &d->isr;
            else if (type == CAP_DEVICE)
                r = &d->device;
            else if (type == CAP_PCI_CFG && !d->pci_cfg_cap)
                d->pci_cfg_cap = (uint8_t)ptr;
            if (r && !r->present) { /* the first of each type is the one to use */
                r->present = true;
                r->cap_off = (uint8_t)ptr;
                r->cap_len = cfg_rd8(d, ptr + 2);
                r->bar = cfg_rd8(d, ptr + 4);
                r->off = cfg_rd32(d, ptr + 8);
                r->len = cfg_rd32(d, ptr + 12);
                if (type == CAP_NOTIFY)
                    d->notify_mult = cfg_rd32(d, ptr + 16);
            }
        } else if (id == 0x11 && !d->msix_cap) {
            d->msix_cap = (uint8_t)ptr;
            d->msix_n = (uint16_t)((cfg_rd16(d, ptr + 2) & 0x7ff) + 1);
            uint32_t t = cfg_rd32(d, ptr + 4), p = cfg_rd32(d, ptr + 8);
            d->msix_table_bir = t & 7;
            d->msix_table_off = t & ~7u;
            d->msix_pba_bir = p & 7;
            d->msix_pba_off = p & ~7u;
        }
        ptr = next;
    }
    struct vd_region *rs[] = {&d->common, &d->notify, &d->isr, &d->device};
    for (int i = 0; i < 4; i++) {
        struct vd_region *r = rs[i];
        if (r->present && r->bar < 6 && d->bar[r->bar] && (uint64_t)r->off + r->len <= d->bar_size[r->bar])
            r->p = d->bar[r->bar] + r->off;
    }
}

bool vd_open(struct vd_dev *d, const char *bdf, bool want_uio, char *why, size_t whylen)
{
    char path[256];
    memset(d, 0, sizeof(*d));
    d->uio_fd = -1;
    snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
    if (want_uio && !bind_uio(d, why, whylen))
        return false;
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
    d->cfg_fd = open(path, O_RDWR);
    if (d->cfg_fd < 0)
        return fail(why, whylen, "%s: %s", path, strerror(errno));
    /* memory space + bus master; INTx enabled */
    cfg_wr16(d, 0x04, (uint16_t)((cfg_rd16(d, 0x04) | 0x6) & ~0x400));
    if (!map_bars(d, why, whylen))
        return false;
    parse_caps(d);
    if (!d->common.p || !d->notify.p || !d->isr.p)
        return fail(why, whylen, "%s: no usable common/notify/ISR capability", bdf);
    return true;
}

/* ---- guest memory ---------------------------------------------------------------------- */

bool vd_mem_open(struct vd_mem *m, uint64_t gpa, uint64_t len, char *why, size_t whylen)
{
    memset(m, 0, sizeof(*m));
    int fd = open("/dev/mem", O_RDWR | O_SYNC);
    if (fd < 0)
        return fail(why, whylen, "/dev/mem: %s", strerror(errno));
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)gpa);
    close(fd);
    if (p == MAP_FAILED)
        return fail(why, whylen, "/dev/mem mmap of 0x%" PRIx64 "+0x%" PRIx64 ": %s (memmap= missing?)",
                    gpa, len, strerror(errno));
    m->va = p;
    m->gpa = gpa;
    m->len = len;
    return true;
}

void vd_mem_rewind(struct vd_mem *m) { m->used = 0; }

volatile uint8_t *vd_alloc(struct vd_mem *m, uint64_t len, uint64_t align, uint64_t *gpa)
{
    uint64_t start = (m->gpa + m->used + align - 1) & ~(align - 1);
    if (start + len > m->gpa + m->len) {
        fprintf(stderr, "aero-conformance: DMA region 0x%" PRIx64 " exhausted\n", m->gpa);
        exit(3);
    }
    m->used = start + len - m->gpa;
    volatile uint8_t *va = m->va + (start - m->gpa);
    for (uint64_t i = 0; i < len; i++)
        va[i] = 0;
    if (gpa)
        *gpa = start;
    return va;
}

volatile uint8_t *vd_va(struct vd_mem *m, uint64_t gpa) { return m->va + (gpa - m->gpa); }

/* ---- status / features ------------------------------------------------------------------ */

uint8_t vd_status(struct vd_dev *d) { return CC8(d, CC_STATUS); }

bool vd_reset(struct vd_dev *d)
{
    CC_W8(d, CC_STATUS, 0);
    double t0 = vd_now();
    while (CC8(d, CC_STATUS) != 0) {
        if (vd_now() - t0 > 1.0)
            return false;
        vd_msleep(1);
    }
    return true;
}

uint64_t vd_device_features(struct vd_dev *d)
{
    CC_W32(d, CC_DFSELECT, 0);
    uint64_t lo = CC32(d, CC_DF);
    CC_W32(d, CC_DFSELECT, 1);
    uint64_t hi = CC32(d, CC_DF);
    return lo | hi << 32;
}

void vd_write_driver_features(struct vd_dev *d, uint64_t f)
{
    CC_W32(d, CC_GFSELECT, 0);
    CC_W32(d, CC_GF, (uint32_t)f);
    CC_W32(d, CC_GFSELECT, 1);
    CC_W32(d, CC_GF, (uint32_t)(f >> 32));
}

bool vd_negotiate(struct vd_dev *d, uint64_t features)
{
    CC_W8(d, CC_STATUS, S_ACK);
    CC_W8(d, CC_STATUS, S_ACK | S_DRIVER);
    vd_write_driver_features(d, features);
    CC_W8(d, CC_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    return (CC8(d, CC_STATUS) & S_FEATURES_OK) != 0;
}

void vd_driver_ok(struct vd_dev *d)
{
    CC_W8(d, CC_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

uint8_t vd_isr(struct vd_dev *d) { return mm_rd8(d->isr.p, 0); }

/* ---- interrupts --------------------------------------------------------------------------- */

bool vd_intx_level(struct vd_dev *d) { return (cfg_rd16(d, 0x06) & 0x08) != 0; }

void vd_uio_unmask(struct vd_dev *d)
{
    cfg_wr16(d, 0x04, (uint16_t)(cfg_rd16(d, 0x04) & ~0x400));
}

int vd_uio_wait(struct vd_dev *d, int ms)
{
    if (d->uio_fd < 0)
        return 0;
    struct pollfd p = {.fd = d->uio_fd, .events = POLLIN};
    if (poll(&p, 1, ms) != 1)
        return 0;
    uint32_t count;
    if (read(d->uio_fd, &count, 4) != 4)
        return 0;
    int n = (int)(count - d->uio_count);
    d->uio_count = count;
    return n > 0 ? n : 1;
}

bool vd_msix_enable(struct vd_dev *d, bool on)
{
    if (!d->msix_cap)
        return false;
    uint16_t ctl = cfg_rd16(d, d->msix_cap + 2);
    ctl = on ? (uint16_t)((ctl | 0x8000) & ~0x4000) : (uint16_t)(ctl & ~0x8000);
    cfg_wr16(d, d->msix_cap + 2, ctl);
    return ((cfg_rd16(d, d->msix_cap + 2) & 0x8000) != 0) == on;
}

bool vd_msix_pending(struct vd_dev *d, uint16_t vector)
{
    volatile uint8_t *b = d->bar[d->msix_pba_bir];
    if (!b)
        return false;
    uint32_t w = mm_rd32(b, d->msix_pba_off + 4u * (vector / 32));
    return (w >> (vector % 32)) & 1;
}

/* ---- queues ------------------------------------------------------------------------------- */

bool vd_vq_program(struct vd_dev *d, struct vd_vq *vq, uint16_t q, uint16_t size, struct vd_mem *m,
                   bool event_idx, bool minimal_align)
{
    memset(vq, 0, sizeof(*vq));
    vq->d = d;
    vq->index = q;
    CC_W16(d, CC_Q_SELECT, q);
    uint16_t max = CC16(d, CC_Q_SIZE);
    if (max == 0)
        return false;
    if (size == 0 || size > max)
        size = max;
    vq->size = size;
    CC_W16(d, CC_Q_SIZE, size);
    (void)event_idx; /* the event fields are always allocated: sentinels sit there without it */
    vq->desc = vd_alloc(m, 16ull * size, 16, &vq->desc_gpa);
    if (minimal_align) {
        /* avail at 2 mod 16, used at 4 mod 8: the smallest alignments CONTRACT §2 allows */
        uint64_t base;
        volatile uint8_t *p = vd_alloc(m, 2 + 6 + 2ull * size + 2, 16, &base);
        vq->avail = p + 2;
        vq->avail_gpa = base + 2;
        p = vd_alloc(m, 4 + 6 + 8ull * size + 2, 8, &base);
        vq->used = p + 4;
        vq->used_gpa = base + 4;
    } else {
        vq->avail = vd_alloc(m, 6 + 2ull * size + 2, 16, &vq->avail_gpa);
        vq->used = vd_alloc(m, 6 + 8ull * size + 2, 16, &vq->used_gpa);
    }
    CC_W16(d, CC_Q_MSIX, NO_VECTOR);
    cc_wr64(d, CC_Q_DESC, vq->desc_gpa);
    cc_wr64(d, CC_Q_AVAIL, vq->avail_gpa);
    cc_wr64(d, CC_Q_USED, vq->used_gpa);
    vq->notify_off = CC16(d, CC_Q_NOFF);
    return true;
}

void vd_vq_enable(struct vd_vq *vq)
{
    CC_W16(vq->d, CC_Q_SELECT, vq->index);
    CC_W16(vq->d, CC_Q_ENABLE, 1);
}

void vd_desc_put(volatile uint8_t *table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                 uint16_t next)
{
    volatile uint8_t *p = table + 16u * i;
    *(volatile uint64_t *)p = addr;
    *(volatile uint32_t *)(p + 8) = len;
    *(volatile uint16_t *)(p + 12) = flags;
    *(volatile uint16_t *)(p + 14) = next;
}

uint16_t vd_vq_add(struct vd_vq *vq, const struct vd_seg *segs, unsigned n,
                   struct vd_mem *indirect_mem)
{
    if (indirect_mem) {
        uint64_t tg;
        volatile uint8_t *t = vd_alloc(indirect_mem, 16ull * n, 16, &tg);
        for (unsigned i = 0; i < n; i++)
            vd_desc_put(t, i, segs[i].gpa, segs[i].len,
                        (uint16_t)((segs[i].write ? D_WRITE : 0) | (i + 1 < n ? D_NEXT : 0)),
                        (uint16_t)(i + 1 < n ? i + 1 : 0));
        uint16_t h = vq->next_desc;
        vq->next_desc = (uint16_t)((vq->next_desc + 1) % vq->size);
        vd_desc_put(vq->desc, h, tg, 16u * n, D_INDIRECT, 0);
        return h;
    }
    uint16_t head = vq->next_desc;
    for (unsigned i = 0; i < n; i++) {
        uint16_t cur = vq->next_desc;
        uint16_t nxt = (uint16_t)((cur + 1) % vq->size);
        vd_desc_put(vq->desc, cur, segs[i].gpa, segs[i].len,
                    (uint16_t)((segs[i].write ? D_WRITE : 0) | (i + 1 < n ? D_NEXT : 0)),
                    i + 1 < n ? nxt : 0);
        vq->next_desc = nxt;
    }
    return head;
}

void vd_vq_publish(struct vd_vq *vq, uint16_t head)
{
    volatile uint16_t *ring = (volatile uint16_t *)(vq->avail + 4);
    ring[vq->avail_idx % vq->size] = head;
    mb();
    vq->avail_idx++;
    *(volatile uint16_t *)(vq->avail + 2) = vq->avail_idx;
    mb();
}

void vd_vq_kick(struct vd_vq *vq, unsigned width)
{
    unsigned off = vq->notify_off * vq->d->notify_mult;
    if (width == 4)
        mm_wr32(vq->d->notify.p, off, vq->index);
    else if (width == 1)
        mm_wr8(vq->d->notify.p, off, (uint8_t)vq->index);
    else
        mm_wr16(vq->d->notify.p, off, vq->index);
}

uint16_t vd_used_idx(struct vd_vq *vq) { return *(volatile uint16_t *)(vq->used + 2); }

void vd_used_elem(struct vd_vq *vq, uint16_t slot, uint32_t *id, uint32_t *len)
{
    volatile uint8_t *e = vq->used + 4 + 8u * (slot % vq->size);
    *id = *(volatile uint32_t *)e;
    *len = *(volatile uint32_t *)(e + 4);
}

int vd_vq_wait(struct vd_vq *vq, int ms, uint32_t *id, uint32_t *len)
{
    double t0 = vd_now();
    for (;;) {
        if (vd_used_idx(vq) != vq->last_used) {
            mb();
            uint32_t i, l;
            vd_used_elem(vq, vq->last_used, &i, &l);
            vq->last_used++;
            if (id)
                *id = i;
            if (len)
                *len = l;
            return 1;
        }
        if (vd_status(vq->d) & S_NEEDS_RESET)
            return -1;
        if ((vd_now() - t0) * 1000 > ms)
            return 0;
        usleep(500);
    }
}

void vd_set_avail_flags(struct vd_vq *vq, uint16_t flags)
{
    *(volatile uint16_t *)vq->avail = flags;
    mb();
}
void vd_set_used_event(struct vd_vq *vq, uint16_t v)
{
    *(volatile uint16_t *)(vq->avail + 4 + 2u * vq->size) = v;
    mb();
}
uint16_t vd_avail_event(struct vd_vq *vq)
{
    return *(volatile uint16_t *)(vq->used + 4 + 8u * vq->size);
}
