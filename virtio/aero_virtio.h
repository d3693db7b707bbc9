/* aero-virtio core: the AERO-W7-VIRTIO modern virtio-pci transport (PCI identity, BAR0 register
 * file, interrupts) and split virtqueues, independent of any VMM. A host (QEMU glue, unit tests,
 * benchmarks) drives it through plain function calls and serves it through struct aero_host_ops.
 *
 * Threading: none of these objects are thread-safe; the host serialises all calls (QEMU: BQL).
 */
#ifndef AERO_VIRTIO_H
#define AERO_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AERO_VIRTIO_ABI_VERSION 2

/* ---- constants (virtio 1.2 names) ------------------------------------------------------- */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_RING_PACKED 34

#define VIRTIO_CONFIG_S_ACKNOWLEDGE 0x01
#define VIRTIO_CONFIG_S_DRIVER 0x02
#define VIRTIO_CONFIG_S_DRIVER_OK 0x04
#define VIRTIO_CONFIG_S_FEATURES_OK 0x08
#define VIRTIO_CONFIG_S_NEEDS_RESET 0x40
#define VIRTIO_CONFIG_S_FAILED 0x80

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY 1

#define VIRTIO_MSI_NO_VECTOR 0xffff

#define VIRTIO_ISR_QUEUE 0x1
#define VIRTIO_ISR_CONFIG 0x2

/* CONTRACT §1: fixed BAR0 layout. */
#define AERO_BAR0_SIZE 0x4000u
#define AERO_BAR0_COMMON 0x0000u
#define AERO_BAR0_COMMON_LEN 0x0100u
#define AERO_BAR0_NOTIFY 0x1000u
#define AERO_BAR0_NOTIFY_LEN 0x0100u
#define AERO_BAR0_ISR 0x2000u
#define AERO_BAR0_ISR_LEN 0x0020u
#define AERO_BAR0_DEVICE 0x3000u
#define AERO_BAR0_DEVICE_LEN 0x0100u
#define AERO_BAR0_MSIX_TABLE 0x3100u
#define AERO_NOTIFY_OFF_MULTIPLIER 4u
#define AERO_PCI_REVISION 0x01
#define AERO_PCI_VENDOR 0x1af4

/* Config-space offsets of our capabilities (same chain as Aero's reference model). */
#define AERO_CAP_COMMON_OFF 0x40
#define AERO_CAP_NOTIFY_OFF 0x50
#define AERO_CAP_ISR_OFF 0x64
#define AERO_CAP_DEVICE_OFF 0x74
#define AERO_CAP_MSIX_OFF 0x84

/* MSI-X PBA placement after a table of n vectors at AERO_BAR0_MSIX_TABLE (8-byte aligned). */
static inline uint32_t aero_msix_pba_offset(uint16_t n)
{
    return (AERO_BAR0_MSIX_TABLE + 16u * n + 7u) & ~7u;
}

#define AERO_VQ_MAX_SIZE 256 /* largest queue any contract device has */
#define AERO_MAX_QUEUES 8

/* ---- host interface ----------------------------------------------------------------------- */
struct aero_host_ops {
    /* Copy between guest-physical memory and a host buffer. Return 0 on success, non-zero when
     * any byte of [gpa, gpa+len) is not guest RAM the device may touch. Never called with a range
     * that wraps the 64-bit address space. Required. */
    int (*dma_read)(void *opaque, uint64_t gpa, void *buf, size_t len);
    int (*dma_write)(void *opaque, uint64_t gpa, const void *buf, size_t len);
    /* Ring indices -- avail.flags, avail.idx, the avail ring's entries and used_event; used.idx
     * and avail_event -- are read and written only through these: one single-copy-atomic,
     * little-endian 16-bit load or store of a 2-byte aligned guest address, under the same
     * guest-RAM-only rule as dma_read/dma_write (0 on success). The driver stores indices from
     * its vCPU while the device reads them, and a byte-wise copy can tear (0x86FF -> 0x8700 read
     * as 0x87FF), so a memcpy-based dma_read must never serve them. Required. */
    int (*load16)(void *opaque, uint64_t gpa, uint16_t *val);
    int (*store16)(void *opaque, uint64_t gpa, uint16_t val);
    /* Drive INTA# to level (0/1). Required. */
    void (*set_intx)(void *opaque, int level);
    /* MSI-X: whether the function has MSI-X enabled right now, and send one vector. Both may be
     * NULL (no MSI-X). msix_notify is only called with vectors < the configured count. */
    bool (*msix_enabled)(void *opaque);
    void (*msix_notify)(void *opaque, uint16_t vector);
    /* Optional: device_status changed (driver write, reset, NEEDS_RESET), as QEMU's
     * VirtioDeviceClass.set_status: called after the new value is in place and before queues
     * with buffers made available before DRIVER_OK are processed. */
    void (*status_changed)(void *opaque, uint8_t old_status, uint8_t new_status);
    /* Optional: one line describing a guest error (no trailing newline). */
    void (*log_guest_error)(void *opaque, const char *msg);
    /* Optional: "process later". When set, a doorbell only records the queue as pending and
     * calls this; the host then calls aero_vdev_run_pending() from its own context (QEMU: a
     * bottom half in the main loop, so the vCPU returns to the guest at once). When NULL,
     * doorbells are processed synchronously. */
    void (*schedule)(void *opaque);
};

/* ---- PCI identity ------------------------------------------------------------------------- */
struct aero_pci_identity {
    uint16_t vendor_id, device_id, subsystem_vendor_id, subsystem_id;
    uint8_t revision;
    uint32_t class_code; /* 24-bit: base, sub, prog-if */
    uint8_t header_type; /* 0x80 for function 0 of a multi-function device */
    uint8_t interrupt_pin; /* 1 = INTA# */
};

/* One vendor-specific capability as it must appear in config space. bytes[0] is the cap ID,
 * bytes[1] the next pointer (the host's own allocator may rewrite it). */
struct aero_pci_cap {
    uint8_t offset;
    uint8_t len;
    uint8_t bytes[20];
};

/* ---- device model callbacks (implemented by devices/) -------------------------------------- */
struct aero_vdev;

struct aero_device_ops {
    /* Device-specific configuration at BAR0+0x3000; off is relative, off+len <= 0x100. */
    void (*config_read)(void *dev, uint32_t off, uint8_t *buf, unsigned len);
    void (*config_write)(void *dev, uint32_t off, const uint8_t *buf, unsigned len);
    /* Queue q has (possibly) new buffers; DRIVER_OK is set and the device is not broken. */
    void (*queue_notify)(void *dev, uint16_t q);
    /* The driver reset the device: drop all state; in-flight work must not touch the rings. */
    void (*reset)(void *dev);
};

struct aero_vdev_params {
    struct aero_pci_identity id;
    uint16_t num_queues;
    uint16_t queue_max_size[AERO_MAX_QUEUES]; /* power of two, <= AERO_VQ_MAX_SIZE */
    uint64_t device_features;                 /* VERSION_1 etc. included by the caller */
    uint16_t msix_vectors;                    /* 0 = no MSI-X */
    uint32_t device_config_len;               /* bytes of device config, <= 0x100 */
};

/* ---- per-queue counters ------------------------------------------------------------------- */
struct aero_vq_stats {
    uint64_t notifies;              /* doorbell writes for this queue */
    uint64_t interrupts;            /* interrupts raised for used buffers */
    uint64_t interrupts_suppressed; /* flushes where EVENT_IDX/NO_INTERRUPT said "no interrupt" */
    uint64_t requests;              /* chains popped */
    uint64_t guest_errors; /* the driver's mistakes: NEEDS_RESET reasons, malformed requests */
    uint64_t io_errors;    /* requests completed with an error because the backend failed */
};

/* ---- split virtqueue ----------------------------------------------------------------------- */
struct aero_vq;

struct aero_sg {
    uint64_t addr;
    uint32_t len;
    bool write; /* device-writable */
};

/* A popped descriptor chain. sg[] has room for the largest chain any queue allows. */
struct aero_chain {
    uint16_t head;
    uint16_t nsg;
    uint64_t readable_bytes, writable_bytes;
    struct aero_sg sg[AERO_VQ_MAX_SIZE];
};

enum aero_vq_pop_result {
    AERO_VQ_EMPTY = 0,
    AERO_VQ_POPPED = 1,
    AERO_VQ_BROKEN = -1, /* guest error: device now reports DEVICE_NEEDS_RESET */
    AERO_VQ_DEFERRED = 2, /* aero_vq_pop_budgeted: this pass is over, the host runs another */
};

/* ---- transport API ------------------------------------------------------------------------ */

/* Create a transport. Returns NULL if params are invalid (a programming error in the caller). */
struct aero_vdev *aero_vdev_new(const struct aero_vdev_params *p, const struct aero_host_ops *host,
                                void *host_opaque, const struct aero_device_ops *dev_ops,
                                void *dev);
void aero_vdev_free(struct aero_vdev *vdev);

/* PCI identity and the capabilities the host must install (COMMON, NOTIFY, ISR, DEVICE; the MSI-X
 * capability, if any, is the host's: put it at AERO_CAP_MSIX_OFF with the table at
 * BAR0+AERO_BAR0_MSIX_TABLE and the PBA at aero_vdev_msix_pba_offset()). Returns the cap count. */
const struct aero_pci_identity *aero_vdev_identity(const struct aero_vdev *vdev);
size_t aero_vdev_pci_caps(const struct aero_vdev *vdev, struct aero_pci_cap *out, size_t max);
uint32_t aero_vdev_msix_pba_offset(const struct aero_vdev *vdev);
uint16_t aero_vdev_msix_vectors(const struct aero_vdev *vdev);
/* A full 256-byte type-0 config header image (IDs, class, caps chain, no MSI-X cap). */
void aero_vdev_pci_config_image(const struct aero_vdev *vdev, uint8_t cfg[256]);

/* BAR0 accesses, width 1, 2, 4 or 8, off + len <= AERO_BAR0_SIZE (others read 0 / are ignored).
 * The host must not route the MSI-X table/PBA here when it implements MSI-X. */
uint64_t aero_vdev_bar0_read(struct aero_vdev *vdev, uint32_t off, unsigned len);
void aero_vdev_bar0_write(struct aero_vdev *vdev, uint32_t off, uint64_t val, unsigned len);

/* Process every queue whose doorbell was deferred through host->schedule, and publish deferred
 * flushes (aero_vq_flush_later). */
void aero_vdev_run_pending(struct aero_vdev *vdev);

/* For devices: run queue_notify(q) again from the next aero_vdev_run_pending() pass. A device
 * stops after a bounded amount of work per pass (CONTRACT §2: no notify can make the device do
 * unbounded work) and calls this to continue later. Returns false when the host has no schedule
 * op; the device then simply goes on (a synchronous host has no concurrent driver). */
bool aero_vdev_notify_later(struct aero_vdev *vdev, uint16_t q);

/* Device reset as by the host (power-on, system reset). Same effect as device_status = 0. */
void aero_vdev_reset(struct aero_vdev *vdev);

/* Report a fatal guest error: DEVICE_NEEDS_RESET, config interrupt, queues stop until reset. */
void aero_vdev_fail(struct aero_vdev *vdev, int queue, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runtime config change (e.g. link status): bump config_generation, raise config interrupt. */
void aero_vdev_config_changed(struct aero_vdev *vdev);

uint8_t aero_vdev_status(const struct aero_vdev *vdev);
bool aero_vdev_driver_ok(const struct aero_vdev *vdev);
bool aero_vdev_broken(const struct aero_vdev *vdev);
uint64_t aero_vdev_features(const struct aero_vdev *vdev); /* negotiated (0 before FEATURES_OK) */
bool aero_vdev_has_feature(const struct aero_vdev *vdev, unsigned bit);
uint16_t aero_vdev_num_queues(const struct aero_vdev *vdev);
struct aero_vq *aero_vdev_queue(struct aero_vdev *vdev, uint16_t q);
/* Reset generation: bumps on every reset; lets devices recognise stale in-flight work. */
uint32_t aero_vdev_generation(const struct aero_vdev *vdev);
const struct aero_host_ops *aero_vdev_host(const struct aero_vdev *vdev, void **opaque);

/* The one bounds-checked guest-memory accessor: rejects wrapping ranges and ranges the host
 * cannot serve. Returns 0 on success. */
int aero_gm_read(struct aero_vdev *vdev, uint64_t gpa, void *buf, uint64_t len);
int aero_gm_write(struct aero_vdev *vdev, uint64_t gpa, const void *buf, uint64_t len);
/* One atomic 16-bit ring-index access (host load16/store16); gpa must be 2-byte aligned. */
int aero_gm_load16(struct aero_vdev *vdev, uint64_t gpa, uint16_t *val);
int aero_gm_store16(struct aero_vdev *vdev, uint64_t gpa, uint16_t val);

/* ---- virtqueue API ------------------------------------------------------------------------- */
bool aero_vq_ready(const struct aero_vq *vq);
uint16_t aero_vq_size(const struct aero_vq *vq);
uint16_t aero_vq_index(const struct aero_vq *vq);

/* Pop the next available chain (direct, chained, indirect; bounded, loop-checked). On
 * AERO_VQ_BROKEN the device has been failed already. */
enum aero_vq_pop_result aero_vq_pop(struct aero_vq *vq, struct aero_chain *chain);

/* aero_vq_pop under a per-pass budget (CONTRACT §2: no notify makes the device do unbounded
 * work). Start a pass with *budget = aero_vq_size(vq); once that many chains were popped, the
 * queue's notify is re-run from the host's next pass (aero_vdev_notify_later) and this returns
 * AERO_VQ_DEFERRED without popping: the caller flushes and returns, skipping aero_vq_rearm. A
 * host without a schedule op has no concurrent driver and is never deferred. */
enum aero_vq_pop_result aero_vq_pop_budgeted(struct aero_vq *vq, struct aero_chain *chain,
                                             unsigned *budget);

/* Undo the last pop (the device could not use the chain now, e.g. RX buffer too small). */
void aero_vq_unpop(struct aero_vq *vq);

/* Whether more chains are available without popping. */
bool aero_vq_has_avail(struct aero_vq *vq);

/* With EVENT_IDX: publish avail_event = next index to pop and re-check. Returns true when new
 * chains arrived meanwhile (caller should process again). Without EVENT_IDX: returns
 * aero_vq_has_avail(). Call when the caller stops processing a queue. */
bool aero_vq_rearm(struct aero_vq *vq);

/* Record one used element (head, bytes written). Not visible to the guest until flush. The ring
 * itself cannot tell a chain popped before a reset from one popped after: a device that
 * completes asynchronously must drop completions of an older aero_vdev_generation() itself. */
void aero_vq_push(struct aero_vq *vq, uint16_t head, uint32_t len);

/* Publish every pushed element (one used.idx store) and decide, once for the batch, whether
 * to interrupt (EVENT_IDX used_event, or NO_INTERRUPT). */
void aero_vq_flush(struct aero_vq *vq);

/* Publish pushed elements from the next aero_vdev_run_pending() pass instead of now, so that
 * completions arriving one at a time (QEMU: one AIO callback each) share one used.idx store and
 * one interrupt decision. Flushes at once when the host has no schedule op. */
void aero_vq_flush_later(struct aero_vq *vq);

/* Copy between a chain's writable (to_guest) or readable (from_guest) buffers, starting `skip`
 * bytes into that direction's buffers. Returns the number of bytes copied, or -1 on a DMA error
 * (the device has been failed then). */
int64_t aero_chain_to_guest(struct aero_vq *vq, const struct aero_chain *c, uint64_t skip,
                            const void *buf, uint64_t len);
int64_t aero_chain_from_guest(struct aero_vq *vq, const struct aero_chain *c, uint64_t skip,
                              void *buf, uint64_t len);

void aero_vq_get_stats(const struct aero_vq *vq, struct aero_vq_stats *out);
/* Count a request the device refused for its shape (guest error: status UNSUPP/IOERR/BAD_MSG,
 * dropped TX frame) or one the backend failed (I/O error). aero_vdev_fail counts by itself. */
void aero_vq_count_guest_error(struct aero_vq *vq);
void aero_vq_count_io_error(struct aero_vq *vq);

/* Human-readable counter dump for every queue (one line per queue), caller frees with free(). */
char *aero_vdev_stats_string(const struct aero_vdev *vdev);

#ifdef __cplusplus
}
#endif
#endif
