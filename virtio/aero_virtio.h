/* aero-virtio core: the AERO-W7-VIRTIO modern virtio-pci transport (PCI identity, BAR0 register
 * file, interrupts) and split virtqueues, independent of any VMM.
 *
 * Two audiences, two headers, both built on this one (constants, the host operations, shared
 * types): aero_virtio_host.h is what a host/VMM calls (BAR0, PCI identity and capabilities,
 * run_pending, reset, stats); aero_virtio_device.h is what a device model calls (queues, chains,
 * fail, config_changed, notify_later). A file includes one of them, never both (the library's
 * own sources and its tests excepted): a device cannot reach BAR0 and a host cannot push used
 * elements.
 *
 * Threading: none of these objects are thread-safe; the host serialises all calls (QEMU: BQL).
 * Everything marked AERO_API is exported from the shared library; nothing else is.
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

#if defined(__GNUC__)
#define AERO_API __attribute__((visibility("default")))
#else
#define AERO_API
#endif

/* The ABI version the library was built with: a host compares it with the
 * AERO_VIRTIO_ABI_VERSION it was compiled against and refuses to run on a mismatch. */
AERO_API unsigned aero_virtio_abi_version(void);

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
    uint32_t class_code;   /* 24-bit: base, sub, prog-if */
    uint8_t header_type;   /* 0x80 for function 0 of a multi-function device */
    uint8_t interrupt_pin; /* 1 = INTA# */
};

/* One vendor-specific capability as it must appear in config space. bytes[0] is the cap ID,
 * bytes[1] the next pointer (the host's own allocator may rewrite it). */
struct aero_pci_cap {
    uint8_t offset;
    uint8_t len;
    uint8_t bytes[20];
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
struct aero_vdev;
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
    AERO_VQ_BROKEN = -1,  /* guest error: device now reports DEVICE_NEEDS_RESET */
    AERO_VQ_DEFERRED = 2, /* aero_vq_pop_budgeted: this pass is over, the host runs another */
};

/* Seeded faults (virtio/fault.c): test-only breakage of single rules, for the conformance
 * suite's proof that it can fail. Never set in normal use. */
enum aero_seeded_fault {
    AERO_FAULT_ISR_NO_ACK,       /* "isr-no-ack": reading the ISR does not clear it */
    AERO_FAULT_REVISION,         /* "revision": PCI revision 0x00 instead of 0x01 */
    AERO_FAULT_NO_AVAIL_EVENT,   /* "no-avail-event": avail_event is never written */
    AERO_FAULT_BLK_UNSUPP_IOERR, /* "blk-unsupp-ioerr": blk answers unknown types IOERR */
};

#ifdef __cplusplus
}
#endif
#endif
