/* aero-virtio-net: CONTRACT §3.2 network device (rxq 0, txq 1, 256 each, no control queue, no
 * offloads). Frames go out through a backend transmit callback; frames come in through
 * aero_net_receive(), which applies backpressure (returns 0) while no RX buffer is posted.
 */
#ifndef AERO_NET_H
#define AERO_NET_H

#include "aero_virtio.h"

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VIRTIO_ID_NET 1
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17
#define VIRTIO_NET_S_LINK_UP 1

#define AERO_NET_QUEUE_SIZE 256
#define AERO_NET_MSIX_VECTORS 3 /* config + rxq + txq */
#define AERO_NET_RXQ 0
#define AERO_NET_TXQ 1
#define AERO_NET_MIN_FRAME 14
#define AERO_NET_MAX_FRAME 1522 /* 1514 + VLAN tag, no FCS */

struct aero_net_backend_ops {
    /* Send one Ethernet frame (no FCS). The buffer is only valid during the call. */
    void (*transmit)(void *opaque, const uint8_t *frame, size_t len);
    /* RX buffers became available after aero_net_receive() returned 0 (QEMU: flush queue). */
    void (*rx_ready)(void *opaque);
};

struct aero_net_params {
    uint8_t mac[6];
    bool event_idx;        /* offer VIRTIO_F_RING_EVENT_IDX */
    unsigned header_len;   /* 10 (contract, Aero Win7 driver) or 12 (virtio 1.x: Linux, NetKVM) */
    uint16_t msix_vectors; /* 0 or 3 */
    bool link_up;
};

struct aero_net_stats {
    uint64_t tx_frames, tx_bytes, tx_dropped;
    uint64_t rx_frames, rx_bytes, rx_dropped, rx_no_buffer;
};

/* CONTRACT §1: the network device's PCI identity. */
AERO_API extern const struct aero_pci_identity aero_net_pci_identity;

struct aero_net;

/* NULL when p is acceptable, else why not (one line for the user). */
AERO_API const char *aero_net_check_params(const struct aero_net_params *p);

/* Create the device and its transport; on NULL, *why (if why is not NULL) says why. */
AERO_API struct aero_net *aero_net_new(const struct aero_net_params *p,
                                       const struct aero_host_ops *host, void *host_opaque,
                                       const struct aero_net_backend_ops *backend,
                                       void *backend_opaque, const char **why);
AERO_API void aero_net_free(struct aero_net *net);
AERO_API struct aero_vdev *aero_net_vdev(struct aero_net *net);

/* Whether a frame offered now would be placed (driver ready and an RX chain posted). */
AERO_API bool aero_net_can_receive(struct aero_net *net);
enum aero_net_rx {
    AERO_NET_RX_DELIVERED, /* placed in the guest's next RX chain */
    AERO_NET_RX_DROPPED,   /* bad size (0 included), chain too small, device failed: gone */
    AERO_NET_RX_NO_BUFFER, /* no RX chain posted: keep the frame, rx_ready will be called */
};

/* Offer one received frame (CONTRACT §3.2). Only AERO_NET_RX_NO_BUFFER asks the host to hold
 * the frame; every dropped frame, an empty one too, says so. */
AERO_API enum aero_net_rx aero_net_receive(struct aero_net *net, const uint8_t *frame,
                                           size_t len);

/* Link state (config status LINK_UP; config change interrupt when it changes). */
AERO_API void aero_net_set_link(struct aero_net *net, bool up);
/* Current link state and MAC (both travel with the migration state; the host re-syncs its NIC
 * from them after aero_vdev_load). */
AERO_API bool aero_net_link(const struct aero_net *net);
AERO_API void aero_net_mac(const struct aero_net *net, uint8_t mac[6]);
AERO_API void aero_net_get_stats(const struct aero_net *net, struct aero_net_stats *out);

#ifdef __cplusplus
}
#endif
#endif
