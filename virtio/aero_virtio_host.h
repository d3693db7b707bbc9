/* aero-virtio core, the host's side: what a VMM (the QEMU glue, unit tests, benchmarks) calls to
 * present a device made by a device model (devices/aero_*.h) as a PCI function: its identity and
 * capabilities, BAR0 accesses, deferred work, reset and counters. See aero_virtio.h.
 */
#ifndef AERO_VIRTIO_HOST_H
#define AERO_VIRTIO_HOST_H

#if defined(AERO_VIRTIO_DEVICE_H) && !defined(AERO_VIRTIO_BOTH_SIDES)
#error "a device model must not use the host API (aero_virtio_host.h)"
#endif

#include "aero_virtio.h"

#ifdef __cplusplus
extern "C" {
#endif

/* PCI identity and the capabilities the host must install (COMMON, NOTIFY, ISR, DEVICE; the MSI-X
 * capability, if any, is the host's: put it at AERO_CAP_MSIX_OFF with the table at
 * BAR0+AERO_BAR0_MSIX_TABLE and the PBA at aero_msix_pba_offset(vectors)). Returns the cap
 * count (0 when max is too small). */
AERO_API const struct aero_pci_identity *aero_vdev_identity(const struct aero_vdev *vdev);
AERO_API size_t aero_vdev_pci_caps(const struct aero_vdev *vdev, struct aero_pci_cap *out,
                                   size_t max);
/* A full 256-byte type-0 config header image (IDs, class, caps chain, MSI-X cap if any). */
AERO_API void aero_vdev_pci_config_image(const struct aero_vdev *vdev, uint8_t cfg[256]);

/* BAR0 accesses, width 1, 2, 4 or 8, off + len <= AERO_BAR0_SIZE (others read 0 / are ignored).
 * The host must not route the MSI-X table/PBA here when it implements MSI-X. */
AERO_API uint64_t aero_vdev_bar0_read(struct aero_vdev *vdev, uint32_t off, unsigned len);
AERO_API void aero_vdev_bar0_write(struct aero_vdev *vdev, uint32_t off, uint64_t val,
                                   unsigned len);

/* Process every queue whose doorbell was deferred through host->schedule, and publish deferred
 * flushes. The host calls this from its own context after schedule() asked for it. */
AERO_API void aero_vdev_run_pending(struct aero_vdev *vdev);

/* Device reset as by the host (power-on, system reset). Same effect as device_status = 0. */
AERO_API void aero_vdev_reset(struct aero_vdev *vdev);

/* ---- migration -------------------------------------------------------------------------------
 * The complete device state (transport, every queue, the device model's section) as one
 * self-describing byte blob, AERO_STATE_VERSION. Guest memory is not in it: the host migrates
 * RAM itself. Save is read-only and may be called at any time (QEMU: from pre_save, VM
 * stopped); pushed-but-unpublished used elements, deferred doorbells and in-flight requests are
 * carried and finished on the destination.
 *
 * aero_vdev_save writes the blob into buf when it fits in cap and returns its size either way
 * (call with buf NULL / cap 0 to size it). aero_vdev_load treats the blob as hostile: it
 * validates every field against this device's parameters (identity, queue count and sizes,
 * offered features, MSI-X vector count) and re-probes ring addresses as guest RAM, and only
 * then commits. On refusal it returns a one-line reason (valid until the next load on this
 * device) and the device is untouched; on success it returns NULL, and the queues are
 * re-processed from the host's next pass (host->schedule; synchronously without it). */
#define AERO_STATE_VERSION 1
/* No device's blob comes near this (input, with a full backlog, is under 9 KiB): a host may
 * refuse a longer one before allocating for it. */
#define AERO_STATE_MAX_BYTES 65536u
AERO_API size_t aero_vdev_save(const struct aero_vdev *vdev, uint8_t *buf, size_t cap);
AERO_API const char *aero_vdev_load(struct aero_vdev *vdev, const uint8_t *buf, size_t len);
/* The blob's trailer: CRC-32 (IEEE 802.3, as zlib's crc32) of everything before it -- for tools
 * that inspect, build or repair state blobs (the tests damage blobs behind a valid checksum). */
AERO_API uint32_t aero_state_crc32(const uint8_t *p, size_t n);

/* TEST ONLY: break one contract rule on purpose (enum aero_seeded_fault, by its name, e.g.
 * "isr-no-ack"), so a conformance suite can prove it catches it. Call right after creating the
 * device, before installing its identity. Returns NULL, or a one-line reason for an unknown
 * name. A host must make this impossible to reach by accident (QEMU: x-seed-fault, refused
 * unless AERO_ALLOW_SEEDED_FAULTS=1 is set). */
AERO_API const char *aero_vdev_seed_fault(struct aero_vdev *vdev, const char *name);

/* Negotiated features (0 before FEATURES_OK) and whether DRIVER_OK is set. */
AERO_API uint64_t aero_vdev_features(const struct aero_vdev *vdev);
AERO_API bool aero_vdev_driver_ok(const struct aero_vdev *vdev);

/* Counters of queue q; false when q does not exist. */
AERO_API bool aero_vdev_queue_stats(const struct aero_vdev *vdev, uint16_t q,
                                    struct aero_vq_stats *out);
/* Human-readable counter dump for every queue (one line per queue), caller frees with free(). */
AERO_API char *aero_vdev_stats_string(const struct aero_vdev *vdev);

#ifdef __cplusplus
}
#endif
#endif
