/* aero-virtio-net (CONTRACT §3.2): TX chains are drained per notification and completed in one
 * batch; RX places one frame per chain, never consuming a chain it cannot fill, and reports "no
 * buffer" so the host keeps the frame (no loss inside the device).
 */
#include "aero_net.h"
#include "aero_virtio_device.h"
#include "aero_le.h"

#include <stdlib.h>
#include <string.h>

#define NET_CONFIG_LEN 10u
#define NET_HDR_MAX 12u

struct aero_net {
    struct aero_vdev *vdev;
    struct aero_net_params p;
    const struct aero_net_backend_ops *backend;
    void *backend_opaque;
    bool rx_waiting; /* a receive was refused for lack of buffers */
    bool in_tx, tx_again; /* a TX pass is running; a notify arrived meanwhile */
    struct aero_net_stats stats;
    /* Separate TX and RX state: a backend may deliver a reply frame from inside transmit(). */
    struct aero_chain tx_chain, rx_chain;
    uint8_t tx_frame[AERO_NET_MAX_FRAME];
    uint8_t rx_frame[NET_HDR_MAX + AERO_NET_MAX_FRAME];
};

static void net_config_read(void *opaque, uint32_t off, uint8_t *buf, unsigned len)
{
    struct aero_net *net = opaque;
    uint8_t cfg[NET_CONFIG_LEN];
    memcpy(cfg, net->p.mac, 6);
    aero_put_le16(&cfg[6], net->p.link_up ? VIRTIO_NET_S_LINK_UP : 0);
    aero_put_le16(&cfg[8], 1); /* max_virtqueue_pairs */
    if (off < NET_CONFIG_LEN)
        memcpy(buf, &cfg[off], off + len <= NET_CONFIG_LEN ? len : NET_CONFIG_LEN - off);
}

/* TX: header (ignored) + frame in device-readable buffers. Bad chains are dropped but still
 * completed with used.len = 0 so the ring never wedges (CONTRACT §3.2). */
static void tx_one(struct aero_net *net, struct aero_vq *vq, const struct aero_chain *c)
{
    unsigned hl = net->p.header_len;
    uint64_t frame_len = c->readable_bytes >= hl ? c->readable_bytes - hl : 0;
    if (c->writable_bytes || c->readable_bytes < hl || frame_len < AERO_NET_MIN_FRAME ||
        frame_len > AERO_NET_MAX_FRAME) {
        net->stats.tx_dropped++;
        aero_vq_count_guest_error(vq);
        aero_vq_push(vq, c->head, 0);
        return;
    }
    if (aero_chain_from_guest(vq, c, hl, net->tx_frame, frame_len) != (int64_t)frame_len)
        return; /* device failed already */
    net->backend->transmit(net->backend_opaque, net->tx_frame, frame_len);
    net->stats.tx_frames++;
    net->stats.tx_bytes += frame_len;
    aero_vq_push(vq, c->head, 0);
}

/* At most one ring's worth of chains per pass (CONTRACT §2: bounded work per notify); a driver
 * that keeps refilling is served from the next deferred pass. A TX notify arriving while a pass
 * runs (a synchronous host: the backend answers inside transmit() with an interrupt whose handler
 * kicks TX again) is folded into the running pass, which owns tx_chain and tx_frame. */
static void process_tx(struct aero_net *net)
{
    struct aero_vq *vq = aero_vdev_queue(net->vdev, AERO_NET_TXQ);
    if (net->in_tx) {
        net->tx_again = true;
        return;
    }
    if (!aero_vq_ready(vq))
        return;
    net->in_tx = true;
    unsigned budget = aero_vq_size(vq);
    do {
        net->tx_again = false;
        for (;;) {
            enum aero_vq_pop_result r = aero_vq_pop_budgeted(vq, &net->tx_chain, &budget);
            if (r == AERO_VQ_DEFERRED)
                goto out;
            if (r != AERO_VQ_POPPED)
                break;
            tx_one(net, vq, &net->tx_chain);
        }
    } while (net->tx_again || aero_vq_rearm(vq));
out:
    net->in_tx = false;
    aero_vq_flush(vq);
}

static void net_queue_notify(void *opaque, uint16_t q)
{
    struct aero_net *net = opaque;
    if (q == AERO_NET_TXQ) {
        process_tx(net);
        return;
    }
    /* rxq: new buffers; let the host deliver what it kept back. */
    if (net->rx_waiting) {
        net->rx_waiting = false;
        if (net->backend->rx_ready)
            net->backend->rx_ready(net->backend_opaque);
    }
}

static void net_reset(void *opaque)
{
    struct aero_net *net = opaque;
    /* The host may hold frames refused before (or during) this reset: the next rxq
     * notification (DRIVER_OK notifies every queue) must tell it to deliver them. */
    net->rx_waiting = true;
}

/* ---- migration state ------------------------------------------------------------------------
 * Section payload (version 1): u8 header_len, u8 link_up, mac[6]. Frames are never held inside
 * the device (RX backpressure keeps them in the host's queue), so nothing else is in flight. */
static void net_state_save(void *opaque, struct aero_state_writer *w)
{
    struct aero_net *net = opaque;
    aero_sw_u8(w, (uint8_t)net->p.header_len);
    aero_sw_u8(w, net->p.link_up);
    aero_sw_bytes(w, net->p.mac, 6);
}

static const char *net_state_check(void *opaque, const uint8_t *p, size_t len,
                                   const struct aero_state_queues *qs)
{
    struct aero_net *net = opaque;
    struct aero_state_reader r = {.p = p, .len = len};
    uint8_t hl = aero_sr_u8(&r), link = aero_sr_u8(&r), mac[6];
    aero_sr_bytes(&r, mac, 6);
    if (!aero_sr_exact(&r))
        return "net: section is not 8 bytes";
    if (hl != net->p.header_len)
        return hl == 10 || hl == 12 ? "net: header-len differs between source and destination"
                                    : "net: header length is neither 10 nor 12";
    if (link > 1)
        return "net: link state is not a boolean";
    if (mac[0] & 1)
        return "net: MAC address is a multicast address";
    for (uint16_t q = 0; q < qs->num_queues; q++) {
        if (!qs->broken && qs->q[q].enabled && qs->q[q].inflight)
            return "net: chains in flight (the device completes every chain it pops at once)";
    }
    return NULL;
}

static void net_state_load(void *opaque, const uint8_t *p, size_t len)
{
    struct aero_net *net = opaque;
    net->p.link_up = p[1];
    memcpy(net->p.mac, p + 2, 6);
    /* The host may hold frames refused before the save: deliver them at the next rxq pass. */
    net->rx_waiting = true;
}

static const struct aero_device_ops net_dev_ops = {
    .config_read = net_config_read,
    .queue_notify = net_queue_notify,
    .reset = net_reset,
    .state_save = net_state_save,
    .state_check = net_state_check,
    .state_load = net_state_load,
};

bool aero_net_can_receive(struct aero_net *net)
{
    struct aero_vq *vq = aero_vdev_queue(net->vdev, AERO_NET_RXQ);
    if (!aero_vq_ready(vq)) {
        net->rx_waiting = true;
        return false;
    }
    if (aero_vq_has_avail(vq) || aero_vq_rearm(vq))
        return true;
    net->rx_waiting = true;
    return false;
}

enum aero_net_rx aero_net_receive(struct aero_net *net, const uint8_t *frame, size_t len)
{
    struct aero_vq *vq = aero_vdev_queue(net->vdev, AERO_NET_RXQ);
    unsigned hl = net->p.header_len;
    if (len < AERO_NET_MIN_FRAME || len > AERO_NET_MAX_FRAME) {
        net->stats.rx_dropped++; /* dropped without consuming a chain */
        return AERO_NET_RX_DROPPED;
    }
    if (!aero_net_can_receive(net)) {
        net->stats.rx_no_buffer++;
        return AERO_NET_RX_NO_BUFFER;
    }
    struct aero_chain *c = &net->rx_chain;
    enum aero_vq_pop_result r = aero_vq_pop(vq, c);
    if (r == AERO_VQ_BROKEN)
        return AERO_NET_RX_DROPPED;
    if (r == AERO_VQ_EMPTY) {
        net->rx_waiting = true;
        net->stats.rx_no_buffer++;
        return AERO_NET_RX_NO_BUFFER;
    }
    if (c->writable_bytes < hl + len) {
        aero_vq_unpop(vq); /* CONTRACT §3.2: drop the frame, keep the chain */
        net->stats.rx_dropped++;
        return AERO_NET_RX_DROPPED;
    }
    uint8_t *buf = net->rx_frame;
    memset(buf, 0, hl);
    if (hl == 12)
        aero_put_le16(buf + 10, 1); /* num_buffers */
    memcpy(buf + hl, frame, len);
    if (aero_chain_to_guest(vq, c, 0, buf, hl + len) != (int64_t)(hl + len))
        return AERO_NET_RX_DROPPED;
    aero_vq_push(vq, c->head, (uint32_t)(hl + len));
    aero_vq_flush(vq);
    net->stats.rx_frames++;
    net->stats.rx_bytes += len;
    return AERO_NET_RX_DELIVERED;
}

void aero_net_set_link(struct aero_net *net, bool up)
{
    if (net->p.link_up == up)
        return;
    net->p.link_up = up;
    aero_vdev_config_changed(net->vdev);
}

bool aero_net_link(const struct aero_net *net) { return net->p.link_up; }
void aero_net_mac(const struct aero_net *net, uint8_t mac[6]) { memcpy(mac, net->p.mac, 6); }

void aero_net_get_stats(const struct aero_net *net, struct aero_net_stats *out)
{
    *out = net->stats;
}

const struct aero_pci_identity aero_net_pci_identity = {
    .vendor_id = AERO_PCI_VENDOR,
    .device_id = 0x1040 + VIRTIO_ID_NET,
    .subsystem_vendor_id = AERO_PCI_VENDOR,
    .subsystem_id = 0x0001,
    .revision = AERO_PCI_REVISION,
    .class_code = 0x020000, /* network, Ethernet */
    .header_type = 0x00,
    .interrupt_pin = 1,
};

const char *aero_net_check_params(const struct aero_net_params *p)
{
    /* CONTRACT §3.2 header-length conflict: 10 (contract) or 12 (virtio 1.x). */
    if (p->header_len != 10 && p->header_len != 12)
        return "header-len must be 10 (contract, Aero Win7 driver) or 12 (virtio 1.x: Linux, "
               "virtio-win NetKVM)";
    if (p->msix_vectors != 0 && p->msix_vectors != AERO_NET_MSIX_VECTORS)
        return "vectors must be 0 (INTx only) or 3 (config + rxq + txq)";
    return NULL;
}

struct aero_net *aero_net_new(const struct aero_net_params *p, const struct aero_host_ops *host,
                              void *host_opaque, const struct aero_net_backend_ops *backend,
                              void *backend_opaque, const char **why)
{
    if (!p || !backend || !backend->transmit)
        return aero_refuse(why, "no network backend");
    const char *bad = aero_net_check_params(p);
    if (bad)
        return aero_refuse(why, bad);
    struct aero_net *net = calloc(1, sizeof(*net));
    if (!net)
        return aero_refuse(why, "out of memory");
    net->p = *p;
    net->backend = backend;
    net->backend_opaque = backend_opaque;
    struct aero_vdev_params vp = {
        .id = aero_net_pci_identity,
        .num_queues = 2,
        .queue_max_size = {AERO_NET_QUEUE_SIZE, AERO_NET_QUEUE_SIZE},
        .device_features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_INDIRECT_DESC) |
                           (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS),
        .msix_vectors = p->msix_vectors,
        .device_config_len = NET_CONFIG_LEN,
    };
    if (p->event_idx)
        vp.device_features |= 1ull << VIRTIO_F_RING_EVENT_IDX;
    net->vdev = aero_vdev_new(&vp, host, host_opaque, &net_dev_ops, net);
    if (!net->vdev) {
        free(net);
        return aero_refuse(why, "the host lacks a required operation");
    }
    return net;
}

void aero_net_free(struct aero_net *net)
{
    if (!net)
        return;
    aero_vdev_free(net->vdev);
    free(net);
}

struct aero_vdev *aero_net_vdev(struct aero_net *net) { return net->vdev; }
