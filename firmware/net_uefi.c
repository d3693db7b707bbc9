/* UEFI boot-services driver for aero-virtio-net-pci, delivered as the device's PCI option ROM:
 * an EFI_SIMPLE_NETWORK_PROTOCOL on a child handle (PCI path + MAC node), so the firmware's own
 * network stack (MNP, IP4, DHCP4, PXE base code, HTTP boot) runs over our device. OVMF's
 * VirtioNetDxe never sees the device (Virtio10Dxe refuses subsystem IDs below 0x40, CONTRACT §1
 * gives net 0x0001), and a virtio 1.x driver would use the 12-byte header while the contract's
 * default is 10 (CONTRACT §3.2): the length comes from the ROM's settings block (rom_params.h).
 *
 * Polled (no interrupts); frames are copied between the caller and buffers the driver owns, so
 * no caller memory is handed to the device. */
#include "virtio_uefi.h"
#include "rom_params.h"

#define AERO_NET_DEVICE 0x1041

#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1

#define RXQ 0
#define TXQ 1
#define QUEUE_MAX 256
#define SLOT_BYTES 2048u /* header (10 or 12) + frame (at most 1522): one descriptor per slot */
#define RX_SLOTS 32u
#define TX_SLOTS 32u
#define ETH_HLEN 14u
#define ETH_MAX_FRAME 1522u /* CONTRACT §3.2: 14..1522 bytes, no FCS (VLAN tag included) */
#define ETH_MTU 1500u

#define SNP_FILTERS                                                                                \
    (EFI_SIMPLE_NETWORK_RECEIVE_UNICAST | EFI_SIMPLE_NETWORK_RECEIVE_MULTICAST |                   \
     EFI_SIMPLE_NETWORK_RECEIVE_BROADCAST | EFI_SIMPLE_NETWORK_RECEIVE_PROMISCUOUS |               \
     EFI_SIMPLE_NETWORK_RECEIVE_PROMISCUOUS_MULTICAST)

typedef struct {
    EFI_DEVICE_PATH_PROTOCOL header;
    EFI_MAC_ADDRESS mac;
    UINT8 if_type;
} __attribute__((packed)) MAC_NODE;

typedef struct {
    UINT64 signature;
    EFI_HANDLE controller, child;
    EFI_PCI_IO_PROTOCOL *pci;
    VIO vio;
    VQ rxq, txq;
    VIO_DMA rx, tx;
    UINT32 header_len;
    UINT64 negotiated;
    void *tx_caller[TX_SLOTS]; /* the caller's buffer while its frame is out, else NULL */
    BOOLEAN tx_busy[TX_SLOTS];
    UINT16 tx_done[TX_SLOTS]; /* completed slots, oldest first, for GetStatus */
    UINT32 tx_done_head, tx_done_count;
    EFI_DEVICE_PATH_PROTOCOL *path;
    EFI_EVENT exit_boot_services;
    EFI_SIMPLE_NETWORK_MODE mode;
    EFI_SIMPLE_NETWORK_PROTOCOL snp;
} AERO_NET;

#define AERO_NET_SIGNATURE 0x74656e2d6f726561ull /* "aero-net" */
#define FROM_SNP(p) ((AERO_NET *)((UINT8 *)(p) - __builtin_offsetof(AERO_NET, snp)))

static EFI_GUID snp_guid = EFI_SIMPLE_NETWORK_PROTOCOL_GUID;
static EFI_GUID path_guid = EFI_DEVICE_PATH_PROTOCOL_GUID;

/* ---- settings the device cannot tell us --------------------------------------------------- */
static UINT32 rom_header_len(EFI_PCI_IO_PROTOCOL *pci, BOOLEAN *found)
{
    const UINT8 *rom = pci->RomImage, *p;
    *found = FALSE;
    if (rom == NULL || pci->RomSize < AERO_ROM_PARAMS_IMAGE_OFFSET || rom[0] != 0x55 ||
        rom[1] != 0xAA)
        return 10;
    p = rom + AERO_ROM_PARAMS_OFFSET;
    if (p[0] != AERO_ROM_PARAMS_MAGIC0 || p[1] != AERO_ROM_PARAMS_MAGIC1 ||
        p[2] != AERO_ROM_PARAMS_MAGIC2 || p[3] != AERO_ROM_PARAMS_MAGIC3 ||
        p[4] != AERO_ROM_PARAMS_VERSION)
        return 10;
    if (p[AERO_ROM_PARAMS_NET_HEADER_LEN] != 10 && p[AERO_ROM_PARAMS_NET_HEADER_LEN] != 12)
        return 10;
    *found = TRUE;
    return p[AERO_ROM_PARAMS_NET_HEADER_LEN];
}

/* ---- queues -------------------------------------------------------------------------------- */
static void rx_post(AERO_NET *n, UINT16 slot)
{
    vq_put_desc(&n->rxq, slot, n->rx.dev + (UINT64)slot * SLOT_BYTES, SLOT_BYTES,
                VRING_DESC_F_WRITE, 0);
    vq_publish(&n->rxq, slot);
}

/* Move every TX chain the device completed to the done list (GetStatus hands them back). */
static void tx_reap(AERO_NET *n)
{
    UINT32 id, len, guard;
    for (guard = 0; guard < TX_SLOTS && vq_used_peek(&n->txq, &id, &len); guard++) {
        vq_used_pop(&n->txq);
        if (id >= TX_SLOTS || !n->tx_busy[id] || n->tx_done_count >= TX_SLOTS)
            continue; /* not a chain we made: ignore it */
        n->tx_busy[id] = FALSE;
        n->tx_done[(n->tx_done_head + n->tx_done_count++) % TX_SLOTS] = (UINT16)id;
    }
}

static void refresh_link(AERO_NET *n)
{
    if (n->negotiated & (1ull << VIRTIO_NET_F_STATUS))
        n->mode.MediaPresent = (vio_config_read(&n->vio, 6, 2) & VIRTIO_NET_S_LINK_UP) != 0;
    else
        n->mode.MediaPresent = TRUE;
}

static void device_stop(AERO_NET *n)
{
    UINT32 i;
    vio_reset(&n->vio);
    vq_free(&n->vio, &n->rxq);
    vq_free(&n->vio, &n->txq);
    vio_dma_free(&n->vio, &n->rx);
    vio_dma_free(&n->vio, &n->tx);
    for (i = 0; i < TX_SLOTS; i++)
        n->tx_caller[i] = NULL, n->tx_busy[i] = FALSE;
    n->tx_done_head = n->tx_done_count = 0;
}

/* virtio 1.2 §3.1.1 and §5.1.5: features, both queues, RX buffers posted, DRIVER_OK. */
static EFI_STATUS device_start(AERO_NET *n)
{
    UINT16 i;
    EFI_STATUS r = vio_negotiate(&n->vio,
                                 (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MAC) |
                                     (1ull << VIRTIO_NET_F_STATUS),
                                 &n->negotiated);
    if (EFI_ERROR(r) || EFI_ERROR((r = vq_init(&n->vio, &n->rxq, RXQ, QUEUE_MAX))) ||
        EFI_ERROR((r = vq_init(&n->vio, &n->txq, TXQ, QUEUE_MAX))) ||
        EFI_ERROR((r = vio_dma_alloc(&n->vio, RX_SLOTS * SLOT_BYTES / VIO_PAGE, &n->rx))) ||
        EFI_ERROR((r = vio_dma_alloc(&n->vio, TX_SLOTS * SLOT_BYTES / VIO_PAGE, &n->tx))))
        goto fail;
    if (n->rxq.size < RX_SLOTS || n->txq.size < TX_SLOTS) {
        r = EFI_UNSUPPORTED;
        goto fail;
    }
    for (i = 0; i < RX_SLOTS; i++)
        rx_post(n, i);
    vio_set_status(&n->vio,
                   STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    vq_kick(&n->vio, &n->rxq);
    refresh_link(n);
    return EFI_SUCCESS;
fail:
    device_stop(n);
    return r;
}

/* ---- EFI_SIMPLE_NETWORK_PROTOCOL (UEFI 2.x §24.1) ---------------------------------------------- */
/* Every call runs at TPL_CALLBACK (the network stack polls from timer events) and starts from
 * the state check the specification asks for. */
static EFI_STATUS check_state(AERO_NET *n, UINT32 need)
{
    if (n->mode.State == EfiSimpleNetworkStopped)
        return EFI_NOT_STARTED;
    return n->mode.State == need ? EFI_SUCCESS : EFI_DEVICE_ERROR;
}

static EFI_STATUS EFIAPI snp_start(EFI_SIMPLE_NETWORK_PROTOCOL *self)
{
    AERO_NET *n = FROM_SNP(self);
    EFI_TPL tpl = vio_bs->RaiseTPL(TPL_CALLBACK);
    EFI_STATUS r = EFI_ALREADY_STARTED;
    if (n->mode.State == EfiSimpleNetworkStopped) {
        n->mode.State = EfiSimpleNetworkStarted;
        r = EFI_SUCCESS;
    }
    vio_bs->RestoreTPL(tpl);
    return r;
}

static EFI_STATUS EFIAPI snp_stop(EFI_SIMPLE_NETWORK_PROTOCOL *self)
{
    AERO_NET *n = FROM_SNP(self);
    EFI_TPL tpl = vio_bs->RaiseTPL(TPL_CALLBACK);
    EFI_STATUS r = EFI_SUCCESS;
    if (n->mode.State == EfiSimpleNetworkStopped)
        r = EFI_NOT_STARTED;
    else {
        if (n->mode.State == EfiSimpleNetworkInitialized)
            device_stop(n);
        n->mode.State = EfiSimpleNetworkStopped;
    }
    vio_bs->RestoreTPL(tpl);
    return r;
}

static EFI_STATUS EFIAPI snp_initialize(EFI_SIMPLE_NETWORK_PROTOCOL *self, UINTN extra_rx,
                                        UINTN extra_tx)
{
    AERO_NET *n = FROM_SNP(self);
    EFI_TPL tpl = vio_bs->RaiseTPL(TPL_CALLBACK);
    EFI_STATUS r = check_state(n, EfiSimpleNetworkStarted);
    if (!EFI_ERROR(r) && !EFI_ERROR((r = device_start(n)))) {
        n->mode.State = EfiSimpleNetworkInitialized;
        n->mode.ReceiveFilterSetting = 0;
        n->mode.MCastFilterCount = 0;
    }
    vio_bs->RestoreTPL(tpl);
    return r;
}

static EFI_STATUS EFIAPI snp_reset(EFI_SIMPLE_NETWORK_PROTOCOL *self, BOOLEAN extended)
{
    AERO_NET *n = FROM_SNP(self);
    EFI_TPL tpl = vio_bs->RaiseTPL(TPL_CALLBACK);
    EFI_STATUS r = check_state(n, EfiSimpleNetworkInitialized);
    if (!EFI_ERROR(r)) {
        device_stop(n);
        r = device_start(n);
        if (EFI_ERROR(r))
            n->mode.State = EfiSimpleNetworkStarted;
    }
    vio_bs->RestoreTPL(tpl);
    return r;
}

static EFI_STATUS EFIAPI snp_shutdown(EFI_SIMPLE_NETWORK_PROTOCOL *self)
{
    AERO_NET *n = FROM_SNP(self);
    EFI_TPL tpl = vio_bs->RaiseTPL(TPL_CALLBACK);
    EFI_STATUS r = check_state(n, EfiSimpleNetworkInitialized);
    if (!EFI_ERROR(r)) {
        device_stop(n);
        n->mode.State = EfiSimpleNetworkStarted;
    }
    vio_bs->RestoreTPL(tpl);
    return r;
}

/* The device delivers every frame (no control queue, CONTRACT §3.2): filtering is ours. */
static EFI_STATUS EFIAPI snp_receive_filters(EFI_SIMPLE_NETWORK_PROTOCOL *self, UINT32 enable,
                                             UINT32 disable, BOOLEAN reset_mcast, UINTN count,
                                             EFI_MAC_ADDRESS *list)
{
    AERO_NET *n = FROM_SNP(self);
    EFI_TPL tpl = vio_bs->RaiseTPL(TPL_CALLBACK);
    EFI_STATUS r = check_state(n, EfiSimpleNetworkInitialized);
    UINTN i;
    if (EFI_ERROR(r))
        goto out;
    r = EFI_INVALID_PARAMETER;
    if ((enable | disable) & ~SNP_FILTERS)
        goto out;
    if (!reset_mcast && count > 0) {
        if (count > MAX_MCAST_FILTER_CNT || list == NULL)
            goto out;
        for (i = 0; i < count; i++)
            if (!(list[i].Addr[0] & 1))
                goto out;
    }
    n->mode.ReceiveFilterSetting = (n->mode.ReceiveFilterSetting | enable) & ~disable;
    if (reset_mcast)
        n->mode.MCastFilterCount = 0;
    else if (count > 0) {
        for (i = 0; i < count; i++)
            n->mode.MCastFilter[i] = list[i];
        n->mode.MCastFilterCount = (UINT32)count;
    }
    r = EFI_SUCCESS;
out:
    vio_bs->RestoreTPL(tpl);
    return r;
}

static EFI_STATUS EFIAPI snp_station_address(EFI_SIMPLE_NETWORK_PROTOCOL *self, BOOLEAN reset,
                                             EFI_MAC_ADDRESS *new_mac)
{
    AERO_NET *n = FROM_SNP(self);
    EFI_TPL tpl = vio_bs->RaiseTPL(TPL_CALLBACK);
    EFI_STATUS r = check_state(n, EfiSimpleNetworkInitialized);
    if (!EFI_ERROR(r)) {
        if (reset)
            n->mode.CurrentAddress = n->mode.PermanentAddress;
        else
            r = EFI_UNSUPPORTED; /* no control queue: the MAC is the device's (config 0x00) */
    }
    vio_bs->RestoreTPL(tpl);
    return r;
}

static EFI_STATUS EFIAPI snp_statistics(EFI_SIMPLE_NETWORK_PROTOCOL *self, BOOLEAN reset,
                                        UINTN *size, EFI_NETWORK_STATISTICS *table)
{
    return EFI_UNSUPPORTED;
}

static EFI_STATUS EFIAPI snp_mcast_ip_to_mac(EFI_SIMPLE_NETWORK_PROTOCOL *self, BOOLEAN ipv6,
                                             EFI_IP_ADDRESS *ip, EFI_MAC_ADDRESS *mac)
{
    AERO_NET *n = FROM_SNP(self);
    EFI_TPL tpl = vio_bs->RaiseTPL(TPL_CALLBACK);
    EFI_STATUS r = check_state(n, EfiSimpleNetworkInitialized);
    if (EFI_ERROR(r))
        goto out;
    r = EFI_INVALID_PARAMETER;
    if (ip == NULL || mac == NULL)
        goto out;
    vio_bs->SetMem(mac, sizeof *mac, 0);
    if (ipv6) { /* RFC 2464 §7 */
        if (ip->v6.Addr[0] != 0xFF)
            goto out;
        mac->Addr[0] = 0x33, mac->Addr[1] = 0x33;
        vio_bs->CopyMem(&mac->Addr[2], &ip->v6.Addr[12], 4);
    } else { /* RFC 1112 §6.4 */
        if ((ip->v4.Addr[0] & 0xF0) != 0xE0)
            goto out;
        mac->Addr[0] = 0x01, mac->Addr[1] = 0x00, mac->Addr[2] = 0x5E;
        mac->Addr[3] = ip->v4.Addr[1] & 0x7F;
        mac->Addr[4] = ip->v4.Addr[2];
        mac->Addr[5] = ip->v4.Addr[3];
    }
    r = EFI_SUCCESS;
out:
    vio_bs->RestoreTPL(tpl);
    return r;
}

static EFI_STATUS EFIAPI snp_nvdata(EFI_SIMPLE_NETWORK_PROTOCOL *self, BOOLEAN read, UINTN off,
                                    UINTN size, void *buf)
{
    return EFI_UNSUPPORTED;
}

static BOOLEAN rx_pending(AERO_NET *n)
{
    UINT32 id, len;
    return vq_used_peek(&n->rxq, &id, &len);
}

static EFI_STATUS EFIAPI snp_get_status(EFI_SIMPLE_NETWORK_PROTOCOL *self, UINT32 *irq,
                                        void **tx_buf)
{
    AERO_NET *n = FROM_SNP(self);
    EFI_TPL tpl = vio_bs->RaiseTPL(TPL_CALLBACK);
    EFI_STATUS r = check_state(n, EfiSimpleNetworkInitialized);
    if (EFI_ERROR(r))
        goto out;
    tx_reap(n);
    refresh_link(n);
    if (irq != NULL)
        *irq = (rx_pending(n) ? EFI_SIMPLE_NETWORK_RECEIVE_INTERRUPT : 0) |
               (n->tx_done_count ? EFI_SIMPLE_NETWORK_TRANSMIT_INTERRUPT : 0);
    if (tx_buf != NULL) {
        *tx_buf = NULL;
        if (n->tx_done_count) {
            UINT16 slot = n->tx_done[n->tx_done_head];
            n->tx_done_head = (n->tx_done_head + 1) % TX_SLOTS;
            n->tx_done_count--;
            *tx_buf = n->tx_caller[slot];
            n->tx_caller[slot] = NULL;
        }
    }
out:
    vio_bs->RestoreTPL(tpl);
    return r;
}

static EFI_STATUS EFIAPI snp_transmit(EFI_SIMPLE_NETWORK_PROTOCOL *self, UINTN header_size,
                                      UINTN size, void *buf, EFI_MAC_ADDRESS *src,
                                      EFI_MAC_ADDRESS *dst, UINT16 *protocol)
{
    AERO_NET *n = FROM_SNP(self);
    EFI_TPL tpl = vio_bs->RaiseTPL(TPL_CALLBACK);
    EFI_STATUS r = check_state(n, EfiSimpleNetworkInitialized);
    UINT8 *frame = buf, *slot_mem;
    UINT16 slot;
    if (EFI_ERROR(r))
        goto out;
    r = EFI_INVALID_PARAMETER;
    if (buf == NULL)
        goto out;
    if (header_size != 0 && (header_size != ETH_HLEN || dst == NULL || protocol == NULL))
        goto out;
    if (size < ETH_HLEN) {
        r = EFI_BUFFER_TOO_SMALL;
        goto out;
    }
    if (size > ETH_MAX_FRAME)
        goto out;
    /* a free slot: not out at the device, not waiting for GetStatus */
    tx_reap(n);
    for (slot = 0; slot < TX_SLOTS && (n->tx_busy[slot] || n->tx_caller[slot] != NULL); slot++)
        ;
    if (slot == TX_SLOTS) {
        r = EFI_NOT_READY;
        goto out;
    }
    if (header_size != 0) { /* the caller asks us to fill in the media header */
        vio_bs->CopyMem(frame, dst, 6);
        vio_bs->CopyMem(frame + 6, src != NULL ? src : &n->mode.CurrentAddress, 6);
        frame[12] = (UINT8)(*protocol >> 8);
        frame[13] = (UINT8)*protocol;
    }
    slot_mem = (UINT8 *)n->tx.host + (UINTN)slot * SLOT_BYTES;
    vio_bs->SetMem(slot_mem, n->header_len, 0); /* CONTRACT §3.2: no offloads, header ignored */
    vio_bs->CopyMem(slot_mem + n->header_len, frame, size);
    vq_put_desc(&n->txq, slot, n->tx.dev + (UINT64)slot * SLOT_BYTES,
                (UINT32)(n->header_len + size), 0, 0);
    n->tx_busy[slot] = TRUE;
    n->tx_caller[slot] = buf;
    vq_publish(&n->txq, slot);
    vq_kick(&n->vio, &n->txq);
    r = EFI_SUCCESS;
out:
    vio_bs->RestoreTPL(tpl);
    return r;
}

static BOOLEAN same_mac(const UINT8 *a, const EFI_MAC_ADDRESS *b)
{
    UINTN i;
    for (i = 0; i < 6; i++)
        if (a[i] != b->Addr[i])
            return FALSE;
    return TRUE;
}

static BOOLEAN accepted(AERO_NET *n, const UINT8 *dst)
{
    UINT32 f = n->mode.ReceiveFilterSetting, i;
    if (f & EFI_SIMPLE_NETWORK_RECEIVE_PROMISCUOUS)
        return TRUE;
    if (same_mac(dst, &n->mode.BroadcastAddress))
        return (f & EFI_SIMPLE_NETWORK_RECEIVE_BROADCAST) != 0;
    if (dst[0] & 1) {
        if (f & EFI_SIMPLE_NETWORK_RECEIVE_PROMISCUOUS_MULTICAST)
            return TRUE;
        if (f & EFI_SIMPLE_NETWORK_RECEIVE_MULTICAST)
            for (i = 0; i < n->mode.MCastFilterCount && i < MAX_MCAST_FILTER_CNT; i++)
                if (same_mac(dst, &n->mode.MCastFilter[i]))
                    return TRUE;
        return FALSE;
    }
    return (f & EFI_SIMPLE_NETWORK_RECEIVE_UNICAST) && same_mac(dst, &n->mode.CurrentAddress);
}

static EFI_STATUS EFIAPI snp_receive(EFI_SIMPLE_NETWORK_PROTOCOL *self, UINTN *header_size,
                                     UINTN *size, void *buf, EFI_MAC_ADDRESS *src,
                                     EFI_MAC_ADDRESS *dst, UINT16 *protocol)
{
    AERO_NET *n = FROM_SNP(self);
    EFI_TPL tpl = vio_bs->RaiseTPL(TPL_CALLBACK);
    EFI_STATUS r = check_state(n, EfiSimpleNetworkInitialized);
    UINT32 id, len, guard, frame_len;
    const UINT8 *frame;
    BOOLEAN posted = FALSE;
    if (EFI_ERROR(r))
        goto out;
    r = EFI_INVALID_PARAMETER;
    if (size == NULL || buf == NULL)
        goto out;
    r = EFI_NOT_READY;
    /* frames filtered out or malformed are given back to the device; at most a ring's worth */
    for (guard = 0; guard < RX_SLOTS && vq_used_peek(&n->rxq, &id, &len); guard++) {
        if (id >= RX_SLOTS) { /* not a buffer we posted */
            vq_used_pop(&n->rxq);
            continue;
        }
        frame = (const UINT8 *)n->rx.host + (UINTN)id * SLOT_BYTES + n->header_len;
        /* CONTRACT §3.2: used.len = header + frame, the frame 14..1522 bytes */
        if (len < n->header_len + ETH_HLEN || len > n->header_len + ETH_MAX_FRAME ||
            !accepted(n, frame)) {
            vq_used_pop(&n->rxq);
            rx_post(n, (UINT16)id);
            posted = TRUE;
            continue;
        }
        frame_len = len - n->header_len;
        if (*size < frame_len) { /* the frame stays first in line */
            *size = frame_len;
            r = EFI_BUFFER_TOO_SMALL;
            break;
        }
        vio_bs->CopyMem(buf, (void *)frame, frame_len);
        *size = frame_len;
        if (header_size != NULL)
            *header_size = ETH_HLEN;
        if (dst != NULL) {
            vio_bs->SetMem(dst, sizeof *dst, 0);
            vio_bs->CopyMem(dst, (void *)frame, 6);
        }
        if (src != NULL) {
            vio_bs->SetMem(src, sizeof *src, 0);
            vio_bs->CopyMem(src, (void *)(frame + 6), 6);
        }
        if (protocol != NULL)
            *protocol = (UINT16)(frame[12] << 8 | frame[13]);
        vq_used_pop(&n->rxq);
        rx_post(n, (UINT16)id);
        posted = TRUE;
        r = EFI_SUCCESS;
        break;
    }
    if (posted)
        vq_kick(&n->vio, &n->rxq);
out:
    vio_bs->RestoreTPL(tpl);
    return r;
}

static void EFIAPI on_wait_for_packet(EFI_EVENT ev, void *ctx)
{
    AERO_NET *n = ctx;
    if (n->mode.State == EfiSimpleNetworkInitialized && rx_pending(n))
        vio_bs->SignalEvent(ev);
}

/* The OS must find the device quiet: reset it (stops all DMA) when boot services end. */
static void EFIAPI on_exit_boot_services(EFI_EVENT ev, void *ctx)
{
    AERO_NET *n = ctx;
    if (n->mode.State == EfiSimpleNetworkInitialized)
        vio_set_status(&n->vio, 0);
}

/* ---- the child handle: parent's device path + MAC(...) ------------------------------------ */
static EFI_STATUS make_path(AERO_NET *n, EFI_DEVICE_PATH_PROTOCOL *parent)
{
    EFI_DEVICE_PATH_PROTOCOL *p = parent, *end;
    UINTN len = 0, hops = 0, node;
    MAC_NODE mac = {0};
    EFI_STATUS r;
    while (!(p->Type == END_DEVICE_PATH_TYPE && p->SubType == END_ENTIRE_DEVICE_PATH_SUBTYPE)) {
        node = p->Length[0] | p->Length[1] << 8;
        if (node < sizeof *p || hops++ > 64)
            return EFI_INVALID_PARAMETER;
        len += node;
        p = (EFI_DEVICE_PATH_PROTOCOL *)((UINT8 *)p + node);
    }
    r = vio_bs->AllocatePool(EfiBootServicesData, len + sizeof mac + sizeof *end,
                             (void **)&n->path);
    if (EFI_ERROR(r))
        return r;
    vio_bs->CopyMem(n->path, parent, len);
    mac.header.Type = MESSAGING_DEVICE_PATH;
    mac.header.SubType = MSG_MAC_ADDR_DP;
    mac.header.Length[0] = sizeof mac;
    mac.mac = n->mode.PermanentAddress;
    mac.if_type = n->mode.IfType;
    vio_bs->CopyMem((UINT8 *)n->path + len, &mac, sizeof mac);
    end = (EFI_DEVICE_PATH_PROTOCOL *)((UINT8 *)n->path + len + sizeof mac);
    end->Type = END_DEVICE_PATH_TYPE;
    end->SubType = END_ENTIRE_DEVICE_PATH_SUBTYPE;
    end->Length[0] = sizeof *end;
    end->Length[1] = 0;
    return EFI_SUCCESS;
}

static void init_mode(AERO_NET *n)
{
    EFI_SIMPLE_NETWORK_MODE *m = &n->mode;
    UINTN i;
    m->State = EfiSimpleNetworkStopped;
    m->HwAddressSize = 6;
    m->MediaHeaderSize = ETH_HLEN;
    m->MaxPacketSize = ETH_MTU;
    m->ReceiveFilterMask = SNP_FILTERS;
    m->MaxMCastFilterCount = MAX_MCAST_FILTER_CNT;
    for (i = 0; i < 6; i++) { /* CONTRACT §3.2 config: mac[6] at 0x00 */
        m->PermanentAddress.Addr[i] = (UINT8)vio_config_read(&n->vio, (UINT32)i, 1);
        m->BroadcastAddress.Addr[i] = 0xFF;
    }
    m->CurrentAddress = m->PermanentAddress;
    m->IfType = 1; /* RFC 1700 hardware type: Ethernet */
    m->MacAddressChangeable = FALSE;
    m->MultipleTxSupported = TRUE;
    m->MediaPresentSupported = TRUE;
    m->MediaPresent = FALSE;

    n->snp.Revision = EFI_SIMPLE_NETWORK_PROTOCOL_REVISION;
    n->snp.Start = snp_start;
    n->snp.Stop = snp_stop;
    n->snp.Initialize = snp_initialize;
    n->snp.Reset = snp_reset;
    n->snp.Shutdown = snp_shutdown;
    n->snp.ReceiveFilters = snp_receive_filters;
    n->snp.StationAddress = snp_station_address;
    n->snp.Statistics = snp_statistics;
    n->snp.MCastIpToMac = snp_mcast_ip_to_mac;
    n->snp.NvData = snp_nvdata;
    n->snp.GetStatus = snp_get_status;
    n->snp.Transmit = snp_transmit;
    n->snp.Receive = snp_receive;
    n->snp.Mode = m;
}

/* ---- DriverBinding ----------------------------------------------------------------------------- */
static EFI_STATUS EFIAPI binding_supported(EFI_DRIVER_BINDING_PROTOCOL *self, EFI_HANDLE ctrl,
                                           EFI_DEVICE_PATH *remaining)
{
    EFI_PCI_IO_PROTOCOL *pci;
    EFI_STATUS r =
        vio_bs->OpenProtocol(ctrl, &vio_pci_io_guid, (void **)&pci, self->DriverBindingHandle, ctrl,
                             EFI_OPEN_PROTOCOL_BY_DRIVER);
    if (EFI_ERROR(r))
        return r;
    r = vio_is_device(pci, AERO_NET_DEVICE) ? EFI_SUCCESS : EFI_UNSUPPORTED;
    vio_bs->CloseProtocol(ctrl, &vio_pci_io_guid, self->DriverBindingHandle, ctrl);
    return r;
}

static void release(AERO_NET *n)
{
    if (n->snp.WaitForPacket)
        vio_bs->CloseEvent(n->snp.WaitForPacket);
    if (n->exit_boot_services)
        vio_bs->CloseEvent(n->exit_boot_services);
    device_stop(n);
    vio_close(&n->vio);
    if (n->path)
        vio_bs->FreePool(n->path);
    vio_bs->FreePool(n);
}

static EFI_STATUS EFIAPI binding_start(EFI_DRIVER_BINDING_PROTOCOL *self, EFI_HANDLE ctrl,
                                       EFI_DEVICE_PATH *remaining)
{
    AERO_NET *n = NULL;
    EFI_PCI_IO_PROTOCOL *pci, *child_pci;
    EFI_DEVICE_PATH_PROTOCOL *parent;
    BOOLEAN from_rom;
    EFI_STATUS r =
        vio_bs->OpenProtocol(ctrl, &vio_pci_io_guid, (void **)&pci, self->DriverBindingHandle, ctrl,
                             EFI_OPEN_PROTOCOL_BY_DRIVER);
    if (EFI_ERROR(r))
        return r;
    r = vio_bs->OpenProtocol(ctrl, &path_guid, (void **)&parent, self->DriverBindingHandle, ctrl,
                             EFI_OPEN_PROTOCOL_GET_PROTOCOL);
    if (EFI_ERROR(r))
        goto close;
    r = vio_bs->AllocatePool(EfiBootServicesData, sizeof *n, (void **)&n);
    if (EFI_ERROR(r))
        goto close;
    vio_bs->SetMem(n, sizeof *n, 0);
    n->signature = AERO_NET_SIGNATURE;
    n->controller = ctrl;
    n->pci = pci;
    n->header_len = rom_header_len(pci, &from_rom);
    if (EFI_ERROR((r = vio_open(&n->vio, pci)))) {
        vio_say(L"aero-virtio-net: device initialisation failed", NULL);
        goto free;
    }
    vio_reset(&n->vio); /* quiet until the network stack calls Initialize */
    init_mode(n);
    if (EFI_ERROR((r = make_path(n, parent))) ||
        EFI_ERROR((r = vio_bs->CreateEvent(EVT_NOTIFY_WAIT, TPL_CALLBACK, on_wait_for_packet, n,
                                           &n->snp.WaitForPacket))) ||
        EFI_ERROR((r = vio_bs->CreateEvent(EVT_SIGNAL_EXIT_BOOT_SERVICES, TPL_CALLBACK,
                                           on_exit_boot_services, n, &n->exit_boot_services))))
        goto free;
    r = vio_bs->InstallProtocolInterface(&n->child, &path_guid, EFI_NATIVE_INTERFACE, n->path);
    if (EFI_ERROR(r))
        goto free;
    r = vio_bs->InstallProtocolInterface(&n->child, &snp_guid, EFI_NATIVE_INTERFACE, &n->snp);
    if (EFI_ERROR(r))
        goto uninstall_path;
    r = vio_bs->OpenProtocol(ctrl, &vio_pci_io_guid, (void **)&child_pci, self->DriverBindingHandle,
                             n->child, EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER);
    if (EFI_ERROR(r))
        goto uninstall_snp;
    vio_say(L"aero-virtio-net: UEFI driver bound (AERO-W7-VIRTIO v1 option ROM), header ",
            !from_rom             ? L"10 bytes (no ROM settings: the contract's default)"
            : n->header_len == 12 ? L"12 bytes"
                                  : L"10 bytes");
    return EFI_SUCCESS;
uninstall_snp:
    vio_bs->UninstallProtocolInterface(n->child, &snp_guid, &n->snp);
uninstall_path:
    vio_bs->UninstallProtocolInterface(n->child, &path_guid, n->path);
free:
    release(n);
close:
    vio_bs->CloseProtocol(ctrl, &vio_pci_io_guid, self->DriverBindingHandle, ctrl);
    return r;
}

static EFI_STATUS EFIAPI binding_stop(EFI_DRIVER_BINDING_PROTOCOL *self, EFI_HANDLE ctrl,
                                      UINTN count, EFI_HANDLE *children)
{
    EFI_SIMPLE_NETWORK_PROTOCOL *snp;
    EFI_PCI_IO_PROTOCOL *pci;
    AERO_NET *n;
    EFI_STATUS r;
    UINTN i;
    if (count == 0) /* the children are gone: let go of the controller */
        return vio_bs->CloseProtocol(ctrl, &vio_pci_io_guid, self->DriverBindingHandle, ctrl);
    for (i = 0; i < count; i++) {
        r = vio_bs->OpenProtocol(children[i], &snp_guid, (void **)&snp, self->DriverBindingHandle,
                                 ctrl, EFI_OPEN_PROTOCOL_GET_PROTOCOL);
        if (EFI_ERROR(r))
            return r;
        n = FROM_SNP(snp);
        if (n->signature != AERO_NET_SIGNATURE || n->child != children[i])
            return EFI_UNSUPPORTED;
        vio_bs->CloseProtocol(ctrl, &vio_pci_io_guid, self->DriverBindingHandle, n->child);
        r = vio_bs->UninstallProtocolInterface(n->child, &snp_guid, &n->snp);
        if (EFI_ERROR(r)) {
            vio_bs->OpenProtocol(ctrl, &vio_pci_io_guid, (void **)&pci, self->DriverBindingHandle,
                                 n->child, EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER);
            return r;
        }
        vio_bs->UninstallProtocolInterface(n->child, &path_guid, n->path);
        release(n);
    }
    return EFI_SUCCESS;
}

static EFI_DRIVER_BINDING_PROTOCOL binding = {
    .Supported = binding_supported,
    .Start = binding_start,
    .Stop = binding_stop,
    .Version = 0x10,
};

/* gnu-efi's crt0 converts the firmware's MS calling convention and calls efi_main as SysV */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab);
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    return vio_install_driver(image, systab, &binding,
                              L"Aero virtio-net (AERO-W7-VIRTIO v1) Driver");
}
