/* aero-virtio-blk: CONTRACT §3.1 block device on top of the aero-virtio core. Owns request parsing,
 * validation, completion and interrupt batching; storage is an asynchronous backend (QEMU
 * BlockBackend, or a file/memory backend in tests).
 */
#ifndef AERO_BLK_H
#define AERO_BLK_H

#include "aero_virtio.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VIRTIO_ID_BLOCK 2
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define AERO_BLK_QUEUE_SIZE 128
#define AERO_BLK_MSIX_VECTORS 2   /* config + requestq */
#define AERO_BLK_SEG_MAX 126      /* queue size minus header and status descriptors */
#define AERO_BLK_ID_BYTES 20      /* VIRTIO_BLK_ID_BYTES */
#define AERO_BLK_CHUNK (1u << 20) /* bounce buffer per request; larger requests go in pieces */

enum aero_blk_op { AERO_BLK_OP_READ, AERO_BLK_OP_WRITE, AERO_BLK_OP_FLUSH };

/* One backend operation. The backend fills nothing but must eventually call
 * aero_blk_io_complete(io, err) exactly once (it may do so from inside submit). buf stays valid
 * and owned by the device until then. */
struct aero_blk_io {
    enum aero_blk_op op;
    uint64_t offset; /* bytes */
    void *buf;
    size_t len;
    void *backend_priv; /* free for the backend */
};

struct aero_blk_backend_ops {
    void (*submit)(void *opaque, struct aero_blk_io *io);
    /* Optional: bracket a batch of submits coming from one notification (QEMU: blk_io_plug). */
    void (*batch_begin)(void *opaque);
    void (*batch_end)(void *opaque);
};

struct aero_blk_params {
    uint64_t capacity_bytes;     /* rounded down to logical_block_size */
    uint32_t logical_block_size; /* 512 or 4096: blk_size in config */
    bool event_idx;              /* offer VIRTIO_F_RING_EVENT_IDX */
    uint16_t msix_vectors;       /* 0 or AERO_BLK_MSIX_VECTORS */
    const char *serial;          /* GET_ID answer, <= 20 bytes; NULL or "" = "aero-virtio-blk" */
};

/* CONTRACT §1: the block device's PCI identity (hosts register their device type with it). */
AERO_API extern const struct aero_pci_identity aero_blk_pci_identity;

struct aero_blk;

/* NULL when p is acceptable, else why not (one line a host can show its user as it is). */
AERO_API const char *aero_blk_check_params(const struct aero_blk_params *p);

/* Create the device and its transport. On NULL, *why (if why is not NULL) says why: the
 * aero_blk_check_params() reason, or a missing backend/host op, or no memory. */
AERO_API struct aero_blk *aero_blk_new(const struct aero_blk_params *p,
                                       const struct aero_host_ops *host, void *host_opaque,
                                       const struct aero_blk_backend_ops *backend,
                                       void *backend_opaque, const char **why);
AERO_API void aero_blk_free(struct aero_blk *blk);
AERO_API struct aero_vdev *aero_blk_vdev(struct aero_blk *blk);

/* Backend completion. err = 0 success, non-zero failure (IOERR to the guest). */
AERO_API void aero_blk_io_complete(struct aero_blk_io *io, int err);

/* A request as parsed from its chain (vm-virtio's Request::parse): what to do, where the status
 * byte goes. */
struct aero_blk_request {
    uint32_t type;        /* VIRTIO_BLK_T_IN, _OUT, _FLUSH or _GET_ID */
    uint64_t offset;      /* IN/OUT: byte offset on the disk */
    uint64_t data_len;    /* IN/OUT: payload bytes; GET_ID: id bytes to write */
    uint64_t status_addr; /* guest address of the status byte */
};

#define AERO_BLK_PARSE_NO_STATUS (-1)

/* Parse a popped chain (CONTRACT §3.1), a pure function: hdr is the chain's first 16 readable
 * bytes, or NULL when it has fewer. Returns VIRTIO_BLK_S_OK with *rq filled; the status to
 * complete the request with (VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP; rq->status_addr set); or
 * AERO_BLK_PARSE_NO_STATUS when the chain ends without a device-writable byte (a guest error
 * the device answers with NEEDS_RESET). */
AERO_API int aero_blk_parse_request(const struct aero_chain *c, const uint8_t *hdr,
                                    uint64_t capacity_sectors, struct aero_blk_request *rq);

/* Requests accepted from the guest and not yet completed. */
AERO_API unsigned aero_blk_inflight(const struct aero_blk *blk);

#ifdef __cplusplus
}
#endif
#endif
