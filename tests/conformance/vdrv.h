/* Driver-side helpers of aero-conformance: a virtio-pci modern driver in Linux user space, made
 * to send what a hostile or merely different driver sends. Config space through sysfs, the
 * capability-described register blocks through mmap of the BARs' sysfs resources, INTx through
 * uio_pci_generic and the PCI status register's interrupt bit, MSI-X observed through masked
 * vectors and the PBA, rings and buffers in guest memory reserved with memmap= and mapped from
 * /dev/mem (so their guest-physical addresses are known, below and above 4 GiB).
 *
 * Nothing here knows the contract's expectations; it locates everything through the device's
 * own capabilities, so it drives any virtio-pci modern device (QEMU's stock devices included).
 */
#ifndef AERO_CONF_VDRV_H
#define AERO_CONF_VDRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* virtio 1.2 §4.1.4.3 common configuration offsets */
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

#define S_ACK 0x01
#define S_DRIVER 0x02
#define S_DRIVER_OK 0x04
#define S_FEATURES_OK 0x08
#define S_NEEDS_RESET 0x40
#define S_FAILED 0x80

#define F_INDIRECT 28
#define F_EVENT_IDX 29
#define F_VERSION_1 32
#define F_PACKED 34
#define BIT(n) (1ull << (n))

#define D_NEXT 1
#define D_WRITE 2
#define D_INDIRECT 4

#define NO_VECTOR 0xffff

/* virtio 1.2 §4.1.4 cfg_type values */
enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4, CAP_PCI_CFG = 5 };

struct vd_region {
    bool present;
    uint8_t cap_off; /* config-space offset of the capability */
    uint8_t cap_len;
    uint8_t bar;
    uint32_t off, len;
    volatile uint8_t *p; /* mapped */
};

struct vd_dev {
    char bdf[32];
    int cfg_fd;
    int uio_fd;
    volatile uint8_t *bar[6];
    uint64_t bar_start[6], bar_size[6];
    uint64_t bar_flags[6];
    struct vd_region common, notify, isr, device;
    uint32_t notify_mult;
    uint8_t pci_cfg_cap; /* VIRTIO_PCI_CAP_PCI_CFG offset, 0 if none */
    uint8_t msix_cap;    /* 0 if none */
    uint16_t msix_n;
    uint8_t msix_table_bir, msix_pba_bir;
    uint32_t msix_table_off, msix_pba_off;
    uint32_t uio_count;
};

/* Guest memory with known physical addresses: a memmap= reserved range mapped from /dev/mem,
 * handed out by a bump allocator that each check rewinds. */
struct vd_mem {
    volatile uint8_t *va;
    uint64_t gpa;
    uint64_t len;
    uint64_t used;
};

struct vd_seg {
    uint64_t gpa;
    uint32_t len;
    bool write;
};

struct vd_vq {
    struct vd_dev *d;
    uint16_t index, size;
    uint64_t desc_gpa, avail_gpa, used_gpa;
    volatile uint8_t *desc, *avail, *used;
    uint16_t next_desc; /* descriptors are handed out round-robin */
    uint16_t avail_idx, last_used;
    uint32_t notify_off;
};

/* ---- setup ---- */
/* Open BDF: config space, capabilities, BARs mapped, memory + bus master on. Returns NULL and
 * prints why on failure. Binds the function to uio_pci_generic when bind_uio. */
bool vd_open(struct vd_dev *d, const char *bdf, bool bind_uio, char *why, size_t whylen);
bool vd_mem_open(struct vd_mem *m, uint64_t gpa, uint64_t len, char *why, size_t whylen);
void vd_mem_rewind(struct vd_mem *m);
/* Aligned chunk, zeroed; gpa and va out. Aborts the tool when the region is exhausted. */
volatile uint8_t *vd_alloc(struct vd_mem *m, uint64_t len, uint64_t align, uint64_t *gpa);
volatile uint8_t *vd_va(struct vd_mem *m, uint64_t gpa);

/* ---- config space ---- */
uint8_t cfg_rd8(struct vd_dev *d, unsigned off);
uint16_t cfg_rd16(struct vd_dev *d, unsigned off);
uint32_t cfg_rd32(struct vd_dev *d, unsigned off);
void cfg_wr8(struct vd_dev *d, unsigned off, uint8_t v);
void cfg_wr16(struct vd_dev *d, unsigned off, uint16_t v);
void cfg_wr32(struct vd_dev *d, unsigned off, uint32_t v);

/* ---- MMIO ---- */
uint8_t mm_rd8(volatile uint8_t *p, unsigned off);
uint16_t mm_rd16(volatile uint8_t *p, unsigned off);
uint32_t mm_rd32(volatile uint8_t *p, unsigned off);
uint64_t mm_rd64(volatile uint8_t *p, unsigned off);
void mm_wr8(volatile uint8_t *p, unsigned off, uint8_t v);
void mm_wr16(volatile uint8_t *p, unsigned off, uint16_t v);
void mm_wr32(volatile uint8_t *p, unsigned off, uint32_t v);
void mm_wr64(volatile uint8_t *p, unsigned off, uint64_t v);

#define CC8(d, o) mm_rd8((d)->common.p, (o))
#define CC16(d, o) mm_rd16((d)->common.p, (o))
#define CC32(d, o) mm_rd32((d)->common.p, (o))
#define CC_W8(d, o, v) mm_wr8((d)->common.p, (o), (v))
#define CC_W16(d, o, v) mm_wr16((d)->common.p, (o), (v))
#define CC_W32(d, o, v) mm_wr32((d)->common.p, (o), (v))
uint64_t cc_rd64(struct vd_dev *d, unsigned off); /* two 32-bit halves */
void cc_wr64(struct vd_dev *d, unsigned off, uint64_t v);

/* ---- device status and features ---- */
uint8_t vd_status(struct vd_dev *d);
/* Write 0 and wait (1 s) until it reads back 0. */
bool vd_reset(struct vd_dev *d);
uint64_t vd_device_features(struct vd_dev *d);
void vd_write_driver_features(struct vd_dev *d, uint64_t f);
/* ACK, DRIVER, features, FEATURES_OK; true when FEATURES_OK stuck. */
bool vd_negotiate(struct vd_dev *d, uint64_t features);
void vd_driver_ok(struct vd_dev *d);
uint8_t vd_isr(struct vd_dev *d); /* reads (and so acknowledges) the ISR byte */

/* ---- interrupts ---- */
bool vd_intx_level(struct vd_dev *d);          /* PCI status bit 3: INTx asserted */
void vd_uio_unmask(struct vd_dev *d);           /* clear INTx Disable after uio masked it */
int vd_uio_wait(struct vd_dev *d, int ms);     /* interrupts seen by uio_pci_generic in ms */
bool vd_msix_enable(struct vd_dev *d, bool on); /* all entries masked first */
bool vd_msix_pending(struct vd_dev *d, uint16_t vector);

/* ---- queues ---- */
/* Program queue q with `size` entries (0: the device's maximum) in memory m; desc/avail/used
 * aligned to 16/2/4 at least (extra_align adds offsets to prove minimal alignments work).
 * Does not enable. */
bool vd_vq_program(struct vd_dev *d, struct vd_vq *vq, uint16_t q, uint16_t size, struct vd_mem *m,
                   bool event_idx, bool minimal_align);
void vd_vq_enable(struct vd_vq *vq);
/* Build a chain of n segments in the ring's own table (or, with indirect_mem, in an indirect
 * table allocated there); returns the head. Does not publish. */
uint16_t vd_vq_add(struct vd_vq *vq, const struct vd_seg *segs, unsigned n,
                   struct vd_mem *indirect_mem);
void vd_desc_put(volatile uint8_t *table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                 uint16_t next);
void vd_vq_publish(struct vd_vq *vq, uint16_t head);
/* Doorbell with a 16- or 32-bit write (8 also allowed). */
void vd_vq_kick(struct vd_vq *vq, unsigned width);
uint16_t vd_used_idx(struct vd_vq *vq);
void vd_used_elem(struct vd_vq *vq, uint16_t slot, uint32_t *id, uint32_t *len);
/* Wait for the next used element: 1 got it (id/len set), 0 timeout, -1 NEEDS_RESET seen. */
int vd_vq_wait(struct vd_vq *vq, int ms, uint32_t *id, uint32_t *len);
void vd_set_avail_flags(struct vd_vq *vq, uint16_t flags);
void vd_set_used_event(struct vd_vq *vq, uint16_t v);
uint16_t vd_avail_event(struct vd_vq *vq);

double vd_now(void);
void vd_msleep(int ms);

#endif
