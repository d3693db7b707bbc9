/* UEFI boot-services driver for aero-virtio-blk-pci, delivered as the device's PCI option ROM.
 * OVMF's own virtio 1.0 transport (Virtio10Dxe) refuses devices whose PCI subsystem ID is below
 * 0x40, and CONTRACT §1 fixes blk's at 0x0002: this driver gives the firmware a BlockIo on the
 * device instead, built only on UEFI-standard protocols (PciIo, BlockIo, DriverBinding).
 *
 * Deliberately small: one request in flight, polled completion (no interrupts), data bounced
 * through one buffer the driver owns, so no caller buffer is ever handed to the device. */
#include <efi.h>

#define AERO_VENDOR 0x1AF4
#define AERO_BLK_DEVICE 0x1042
#define AERO_REVISION 0x01 /* CONTRACT §1/§4: revision carries the contract major version */

/* virtio 1.2 §4.1.4: vendor capabilities and common_cfg offsets */
#define PCI_CAP_ID_VNDR 0x09
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define CC_DEVICE_FEATURE_SELECT 0x00
#define CC_DEVICE_FEATURE 0x04
#define CC_DRIVER_FEATURE_SELECT 0x08
#define CC_DRIVER_FEATURE 0x0C
#define CC_DEVICE_STATUS 0x14
#define CC_QUEUE_SELECT 0x16
#define CC_QUEUE_SIZE 0x18
#define CC_QUEUE_ENABLE 0x1C
#define CC_QUEUE_NOTIFY_OFF 0x1E
#define CC_QUEUE_DESC 0x20
#define CC_QUEUE_AVAIL 0x28
#define CC_QUEUE_USED 0x30

#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define STATUS_NEEDS_RESET 0x40
#define STATUS_FAILED 0x80

#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_F_VERSION_1 32

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_S_OK 0

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2

#define RING_PAGES 3    /* desc 16*N + avail 6+2N, used (page aligned) 6+8N: N <= 256 */
#define REQ_PAGES 1     /* request header at 0, status byte at 16 */
#define BOUNCE_PAGES 64 /* 256 KiB per request */
#define BOUNCE_BYTES (BOUNCE_PAGES * 4096u)
#define REQUEST_TIMEOUT_US 30000000u

typedef struct {
    UINT64 signature;
    EFI_HANDLE controller;
    EFI_PCI_IO_PROTOCOL *pci;
    UINT64 saved_attributes;
    UINT8 common_bar, notify_bar, device_bar;
    UINT32 common_off, notify_off, device_off, notify_mult;
    UINT64 doorbell; /* notify_off + queue_notify_off(0) * notify_off_multiplier */
    UINT16 queue_size, last_used;
    BOOLEAN broken;
    UINT64 negotiated;
    void *ring, *req, *bounce;
    void *ring_map, *req_map, *bounce_map;
    EFI_PHYSICAL_ADDRESS ring_dev, req_dev, bounce_dev;
    EFI_EVENT exit_boot_services;
    EFI_BLOCK_IO_MEDIA media;
    EFI_BLOCK_IO_PROTOCOL block_io;
} AERO_BLK;

#define AERO_BLK_SIGNATURE 0x6b6c622d6f726561ull /* "aero-blk" */
#define FROM_BLOCK_IO(p) ((AERO_BLK *)((UINT8 *)(p) - __builtin_offsetof(AERO_BLK, block_io)))

static EFI_BOOT_SERVICES *bs;
static EFI_SYSTEM_TABLE *st;
static EFI_GUID pci_io_guid = EFI_PCI_IO_PROTOCOL_GUID;
static EFI_GUID block_io_guid = EFI_BLOCK_IO_PROTOCOL_GUID;
static EFI_GUID binding_guid = EFI_DRIVER_BINDING_PROTOCOL_GUID;
static EFI_GUID name2_guid = EFI_COMPONENT_NAME2_PROTOCOL_GUID;

static void barrier(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

static void say(const CHAR16 *a, const CHAR16 *b)
{
    if (st->ConOut == NULL)
        return;
    st->ConOut->OutputString(st->ConOut, (CHAR16 *)a);
    if (b != NULL)
        st->ConOut->OutputString(st->ConOut, (CHAR16 *)b);
    st->ConOut->OutputString(st->ConOut, (CHAR16 *)L"\r\n");
}

/* ---- BAR0 register access through PciIo ------------------------------------------------------ */
static EFI_STATUS cc_read(AERO_BLK *d, UINT32 off, EFI_PCI_IO_PROTOCOL_WIDTH w, void *v)
{
    return d->pci->Mem.Read(d->pci, w, d->common_bar, d->common_off + off, 1, v);
}

static EFI_STATUS cc_write(AERO_BLK *d, UINT32 off, EFI_PCI_IO_PROTOCOL_WIDTH w, UINT64 v)
{
    return d->pci->Mem.Write(d->pci, w, d->common_bar, d->common_off + off, 1, &v);
}

static UINT8 get_status(AERO_BLK *d)
{
    UINT8 s = STATUS_FAILED;
    cc_read(d, CC_DEVICE_STATUS, EfiPciIoWidthUint8, &s);
    return s;
}

static EFI_STATUS set_status(AERO_BLK *d, UINT8 s)
{
    return cc_write(d, CC_DEVICE_STATUS, EfiPciIoWidthUint8, s);
}

/* virtio 1.2 §4.1.4.3.2: 64-bit fields are written as two 32-bit halves, low first */
static EFI_STATUS cc_write64(AERO_BLK *d, UINT32 off, UINT64 v)
{
    EFI_STATUS r = cc_write(d, off, EfiPciIoWidthUint32, (UINT32)v);
    return EFI_ERROR(r) ? r : cc_write(d, off + 4, EfiPciIoWidthUint32, (UINT32)(v >> 32));
}

static void reset_device(AERO_BLK *d)
{
    UINTN i;
    set_status(d, 0);
    /* virtio 1.2 §4.1.4.3.2: reset is complete once device_status reads back 0 */
    for (i = 0; i < 1000 && get_status(d) != 0; i++)
        bs->Stall(100);
}

/* ---- capability walk (virtio 1.2 §4.1.4) ----------------------------------------------------- */
static EFI_STATUS find_caps(AERO_BLK *d)
{
    UINT8 ptr = 0, hops = 0, cap[20];
    UINT32 found = 0;
    d->pci->Pci.Read(d->pci, EfiPciIoWidthUint8, 0x34, 1, &ptr);
    while (ptr >= 0x40 && (ptr & 3) == 0 && hops++ < 48) {
        if (EFI_ERROR(d->pci->Pci.Read(d->pci, EfiPciIoWidthUint8, ptr, sizeof cap, cap)))
            return EFI_DEVICE_ERROR;
        if (cap[0] == PCI_CAP_ID_VNDR && cap[2] >= 16 && cap[4] <= 5) {
            UINT32 off = cap[8] | cap[9] << 8 | cap[10] << 16 | (UINT32)cap[11] << 24;
            switch (cap[3]) {
            case VIRTIO_PCI_CAP_COMMON_CFG:
                d->common_bar = cap[4], d->common_off = off, found |= 1;
                break;
            case VIRTIO_PCI_CAP_NOTIFY_CFG:
                if (cap[2] < 20)
                    break;
                d->notify_bar = cap[4], d->notify_off = off, found |= 2;
                d->notify_mult = cap[16] | cap[17] << 8 | cap[18] << 16 | (UINT32)cap[19] << 24;
                break;
            case VIRTIO_PCI_CAP_DEVICE_CFG:
                d->device_bar = cap[4], d->device_off = off, found |= 4;
                break;
            }
        }
        ptr = cap[1];
    }
    return found == 7 ? EFI_SUCCESS : EFI_UNSUPPORTED;
}

/* ---- DMA memory: allocated and mapped through PciIo, so an IOMMU-aware firmware works too ---- */
static EFI_STATUS dma_alloc(AERO_BLK *d, UINTN pages, void **host, void **map,
                            EFI_PHYSICAL_ADDRESS *dev)
{
    UINTN bytes = pages * 4096;
    EFI_STATUS r =
        d->pci->AllocateBuffer(d->pci, AllocateAnyPages, EfiBootServicesData, pages, host, 0);
    if (EFI_ERROR(r))
        return r;
    bs->SetMem(*host, bytes, 0);
    r = d->pci->Map(d->pci, EfiPciIoOperationBusMasterCommonBuffer, *host, &bytes, dev, map);
    if (EFI_ERROR(r) || bytes != pages * 4096) {
        if (!EFI_ERROR(r))
            d->pci->Unmap(d->pci, *map);
        d->pci->FreeBuffer(d->pci, pages, *host);
        *host = NULL;
        return EFI_ERROR(r) ? r : EFI_OUT_OF_RESOURCES;
    }
    return EFI_SUCCESS;
}

static void dma_free(AERO_BLK *d, UINTN pages, void **host, void *map)
{
    if (*host == NULL)
        return;
    d->pci->Unmap(d->pci, map);
    d->pci->FreeBuffer(d->pci, pages, *host);
    *host = NULL;
}

/* Split-ring layout (virtio 1.2 §2.7): desc at 0, avail right after, used on the next page. */
static volatile UINT8 *ring_desc(AERO_BLK *d) { return d->ring; }
static volatile UINT16 *ring_avail(AERO_BLK *d)
{
    return (volatile UINT16 *)((UINT8 *)d->ring + 16u * d->queue_size);
}
static UINTN used_offset(UINT16 n) { return ((16u * n + 6u + 2u * n) + 4095u) & ~4095u; }
static volatile UINT16 *ring_used(AERO_BLK *d)
{
    return (volatile UINT16 *)((UINT8 *)d->ring + used_offset(d->queue_size));
}

static void put_desc(AERO_BLK *d, UINT16 i, UINT64 addr, UINT32 len, UINT16 flags, UINT16 next)
{
    volatile UINT8 *p = ring_desc(d) + 16u * i;
    *(volatile UINT64 *)p = addr;
    *(volatile UINT32 *)(p + 8) = len;
    *(volatile UINT16 *)(p + 12) = flags;
    *(volatile UINT16 *)(p + 14) = next;
}

/* ---- device bring-up (virtio 1.2 §3.1.1) ----------------------------------------------------- */
static EFI_STATUS virtio_init(AERO_BLK *d)
{
    UINT32 lo = 0, hi = 0, blk = 512, cap_lo = 0, cap_hi = 0;
    UINT16 qsz = 0, qnoff = 0;
    UINT64 offered, wanted, blocks;
    EFI_STATUS r;

    reset_device(d);
    set_status(d, STATUS_ACKNOWLEDGE);
    set_status(d, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    cc_write(d, CC_DEVICE_FEATURE_SELECT, EfiPciIoWidthUint32, 0);
    cc_read(d, CC_DEVICE_FEATURE, EfiPciIoWidthUint32, &lo);
    cc_write(d, CC_DEVICE_FEATURE_SELECT, EfiPciIoWidthUint32, 1);
    cc_read(d, CC_DEVICE_FEATURE, EfiPciIoWidthUint32, &hi);
    offered = lo | (UINT64)hi << 32;
    if (!(offered & (1ull << VIRTIO_F_VERSION_1)))
        return EFI_UNSUPPORTED;
    /* No INDIRECT, no EVENT_IDX: one three-descriptor chain in flight, completion polled. */
    wanted = offered & ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
                        (1ull << VIRTIO_BLK_F_FLUSH));
    cc_write(d, CC_DRIVER_FEATURE_SELECT, EfiPciIoWidthUint32, 0);
    cc_write(d, CC_DRIVER_FEATURE, EfiPciIoWidthUint32, (UINT32)wanted);
    cc_write(d, CC_DRIVER_FEATURE_SELECT, EfiPciIoWidthUint32, 1);
    cc_write(d, CC_DRIVER_FEATURE, EfiPciIoWidthUint32, (UINT32)(wanted >> 32));
    set_status(d, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    if (!(get_status(d) & STATUS_FEATURES_OK))
        return EFI_UNSUPPORTED;
    d->negotiated = wanted;

    cc_write(d, CC_QUEUE_SELECT, EfiPciIoWidthUint16, 0);
    cc_read(d, CC_QUEUE_SIZE, EfiPciIoWidthUint16, &qsz);
    if (qsz < 3 || qsz > 256 || (qsz & (qsz - 1)))
        return EFI_UNSUPPORTED;
    d->queue_size = qsz;
    cc_read(d, CC_QUEUE_NOTIFY_OFF, EfiPciIoWidthUint16, &qnoff);
    d->doorbell = d->notify_off + (UINT64)qnoff * d->notify_mult;
    d->last_used = 0;
    if (EFI_ERROR((r = dma_alloc(d, RING_PAGES, &d->ring, &d->ring_map, &d->ring_dev))) ||
        EFI_ERROR((r = dma_alloc(d, REQ_PAGES, &d->req, &d->req_map, &d->req_dev))) ||
        EFI_ERROR((r = dma_alloc(d, BOUNCE_PAGES, &d->bounce, &d->bounce_map, &d->bounce_dev))))
        return r;
    cc_write64(d, CC_QUEUE_DESC, d->ring_dev);
    cc_write64(d, CC_QUEUE_AVAIL, d->ring_dev + 16u * qsz);
    cc_write64(d, CC_QUEUE_USED, d->ring_dev + used_offset(qsz));
    cc_write(d, CC_QUEUE_ENABLE, EfiPciIoWidthUint16, 1);
    set_status(d, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);

    /* CONTRACT §3.1 config: capacity (le64, 512-byte sectors) at 0x00, blk_size at 0x14 */
    d->pci->Mem.Read(d->pci, EfiPciIoWidthUint32, d->device_bar, d->device_off + 0, 1, &cap_lo);
    d->pci->Mem.Read(d->pci, EfiPciIoWidthUint32, d->device_bar, d->device_off + 4, 1, &cap_hi);
    if (wanted & (1ull << VIRTIO_BLK_F_BLK_SIZE))
        d->pci->Mem.Read(d->pci, EfiPciIoWidthUint32, d->device_bar, d->device_off + 0x14, 1, &blk);
    if (blk < 512 || blk > 4096 || (blk & (blk - 1)))
        return EFI_UNSUPPORTED;
    d->media.MediaId = 0;
    d->media.RemovableMedia = FALSE;
    d->media.LogicalPartition = FALSE;
    d->media.ReadOnly = FALSE;
    d->media.WriteCaching = (wanted & (1ull << VIRTIO_BLK_F_FLUSH)) != 0;
    d->media.BlockSize = blk;
    d->media.IoAlign = 0; /* data is bounced: any caller alignment works */
    blocks = (cap_lo | (UINT64)cap_hi << 32) / (blk / 512);
    d->media.LastBlock = blocks ? blocks - 1 : 0;
    d->media.MediaPresent = blocks != 0;
    d->media.LowestAlignedLba = 0;
    d->media.LogicalBlocksPerPhysicalBlock = 1;
    d->media.OptimalTransferLengthGranularity = 0;
    return EFI_SUCCESS;
}

/* One request: header, optional data (in the bounce buffer), status; poll the used ring. */
static EFI_STATUS do_request(AERO_BLK *d, UINT32 type, UINT64 sector, UINT32 len)
{
    volatile UINT8 *hdr = d->req;
    volatile UINT16 *avail = ring_avail(d), *used = ring_used(d);
    UINT16 n = 0, idx;
    UINT32 waited = 0;
    UINT16 q = 0;

    *(volatile UINT32 *)hdr = type;
    *(volatile UINT32 *)(hdr + 4) = 0;
    *(volatile UINT64 *)(hdr + 8) = sector;
    hdr[16] = 0xFF;
    put_desc(d, n, d->req_dev, 16, VRING_DESC_F_NEXT, (UINT16)(n + 1));
    n++;
    if (len) {
        put_desc(d, n, d->bounce_dev, len,
                 VRING_DESC_F_NEXT | (type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0),
                 (UINT16)(n + 1));
        n++;
    }
    put_desc(d, n, d->req_dev + 16, 1, VRING_DESC_F_WRITE, 0);
    idx = avail[1];
    avail[2 + idx % d->queue_size] = 0;
    barrier();
    avail[1] = (UINT16)(idx + 1);
    barrier();
    d->pci->Mem.Write(d->pci, EfiPciIoWidthUint16, d->notify_bar, d->doorbell, 1, &q);
    while (used[1] == d->last_used) {
        /* the status register is read once a millisecond: each read is a trap to the VMM */
        if (waited >= REQUEST_TIMEOUT_US ||
            (waited % 1000 == 0 && (get_status(d) & STATUS_NEEDS_RESET))) {
            d->broken = TRUE; /* the chain may still be in flight: no further requests */
            say(L"aero-virtio-blk: request failed (timeout or DEVICE_NEEDS_RESET)", NULL);
            return EFI_DEVICE_ERROR;
        }
        bs->Stall(10);
        waited += 10;
    }
    barrier();
    d->last_used++;
    return hdr[16] == VIRTIO_BLK_S_OK ? EFI_SUCCESS : EFI_DEVICE_ERROR;
}

/* ---- BlockIo --------------------------------------------------------------------------------- */
static EFI_STATUS check_io(AERO_BLK *d, UINT32 media_id, EFI_LBA lba, UINTN size, void *buf)
{
    if (media_id != d->media.MediaId)
        return EFI_MEDIA_CHANGED;
    if (!d->media.MediaPresent)
        return EFI_NO_MEDIA;
    if (buf == NULL)
        return EFI_INVALID_PARAMETER;
    if (size % d->media.BlockSize)
        return EFI_BAD_BUFFER_SIZE;
    if (lba > d->media.LastBlock || size / d->media.BlockSize > d->media.LastBlock - lba + 1)
        return EFI_INVALID_PARAMETER;
    return EFI_SUCCESS;
}

static EFI_STATUS transfer(EFI_BLOCK_IO_PROTOCOL *self, UINT32 media_id, EFI_LBA lba, UINTN size,
                           void *buf, BOOLEAN write)
{
    AERO_BLK *d = FROM_BLOCK_IO(self);
    EFI_STATUS r = size ? check_io(d, media_id, lba, size, buf) : EFI_SUCCESS;
    UINT8 *p = buf;
    UINT64 sector = lba * (d->media.BlockSize / 512);
    EFI_TPL tpl;

    if (EFI_ERROR(r) || size == 0)
        return r;
    if (d->broken)
        return EFI_DEVICE_ERROR;
    tpl = bs->RaiseTPL(TPL_NOTIFY);
    while (size && !EFI_ERROR(r)) {
        UINT32 chunk = size > BOUNCE_BYTES ? BOUNCE_BYTES : (UINT32)size;
        if (write)
            bs->CopyMem(d->bounce, p, chunk);
        r = do_request(d, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, sector, chunk);
        if (!EFI_ERROR(r) && !write)
            bs->CopyMem(p, d->bounce, chunk);
        p += chunk, size -= chunk, sector += chunk / 512;
    }
    bs->RestoreTPL(tpl);
    return r;
}

static EFI_STATUS EFIAPI blk_read(EFI_BLOCK_IO_PROTOCOL *self, UINT32 media_id, EFI_LBA lba,
                                  UINTN size, void *buf)
{
    return transfer(self, media_id, lba, size, buf, FALSE);
}

static EFI_STATUS EFIAPI blk_write(EFI_BLOCK_IO_PROTOCOL *self, UINT32 media_id, EFI_LBA lba,
                                   UINTN size, void *buf)
{
    return transfer(self, media_id, lba, size, buf, TRUE);
}

static EFI_STATUS EFIAPI blk_flush(EFI_BLOCK_IO_PROTOCOL *self)
{
    AERO_BLK *d = FROM_BLOCK_IO(self);
    EFI_STATUS r;
    EFI_TPL tpl;
    if (!(d->negotiated & (1ull << VIRTIO_BLK_F_FLUSH)))
        return EFI_SUCCESS;
    if (d->broken)
        return EFI_DEVICE_ERROR;
    tpl = bs->RaiseTPL(TPL_NOTIFY);
    r = do_request(d, VIRTIO_BLK_T_FLUSH, 0, 0);
    bs->RestoreTPL(tpl);
    return r;
}

static EFI_STATUS EFIAPI blk_reset(EFI_BLOCK_IO_PROTOCOL *self, BOOLEAN extended)
{
    return EFI_SUCCESS;
}

/* The OS must find the device quiet: reset it (stops all DMA) when boot services end. */
static void EFIAPI on_exit_boot_services(EFI_EVENT ev, void *ctx) { set_status(ctx, 0); }

/* ---- DriverBinding ----------------------------------------------------------------------------- */
static EFI_STATUS EFIAPI binding_supported(EFI_DRIVER_BINDING_PROTOCOL *self, EFI_HANDLE ctrl,
                                           EFI_DEVICE_PATH *remaining)
{
    EFI_PCI_IO_PROTOCOL *pci;
    UINT32 id = 0;
    UINT8 rev = 0;
    EFI_STATUS r = bs->OpenProtocol(ctrl, &pci_io_guid, (void **)&pci, self->DriverBindingHandle,
                                    ctrl, EFI_OPEN_PROTOCOL_BY_DRIVER);
    if (EFI_ERROR(r))
        return r;
    pci->Pci.Read(pci, EfiPciIoWidthUint32, 0, 1, &id);
    pci->Pci.Read(pci, EfiPciIoWidthUint8, 8, 1, &rev);
    /* CONTRACT §1: identity is vendor, device and revision; the subsystem ID is not checked */
    r = (id == ((UINT32)AERO_BLK_DEVICE << 16 | AERO_VENDOR) && rev == AERO_REVISION)
            ? EFI_SUCCESS
            : EFI_UNSUPPORTED;
    bs->CloseProtocol(ctrl, &pci_io_guid, self->DriverBindingHandle, ctrl);
    return r;
}

static void release(AERO_BLK *d)
{
    if (d->exit_boot_services)
        bs->CloseEvent(d->exit_boot_services);
    dma_free(d, BOUNCE_PAGES, &d->bounce, d->bounce_map);
    dma_free(d, REQ_PAGES, &d->req, d->req_map);
    dma_free(d, RING_PAGES, &d->ring, d->ring_map);
    d->pci->Attributes(d->pci, EfiPciIoAttributeOperationSet, d->saved_attributes, NULL);
    bs->FreePool(d);
}

static EFI_STATUS EFIAPI binding_start(EFI_DRIVER_BINDING_PROTOCOL *self, EFI_HANDLE ctrl,
                                       EFI_DEVICE_PATH *remaining)
{
    AERO_BLK *d = NULL;
    EFI_PCI_IO_PROTOCOL *pci;
    UINT64 supported = 0;
    EFI_STATUS r = bs->OpenProtocol(ctrl, &pci_io_guid, (void **)&pci, self->DriverBindingHandle,
                                    ctrl, EFI_OPEN_PROTOCOL_BY_DRIVER);
    if (EFI_ERROR(r))
        return r;
    r = bs->AllocatePool(EfiBootServicesData, sizeof *d, (void **)&d);
    if (EFI_ERROR(r))
        goto close;
    bs->SetMem(d, sizeof *d, 0);
    d->signature = AERO_BLK_SIGNATURE;
    d->controller = ctrl;
    d->pci = pci;
    pci->Attributes(pci, EfiPciIoAttributeOperationGet, 0, &d->saved_attributes);
    pci->Attributes(pci, EfiPciIoAttributeOperationSupported, 0, &supported);
    r = pci->Attributes(pci, EfiPciIoAttributeOperationEnable,
                        supported & (EFI_PCI_IO_ATTRIBUTE_MEMORY | EFI_PCI_IO_ATTRIBUTE_BUS_MASTER),
                        NULL);
    if (EFI_ERROR(r) || EFI_ERROR((r = find_caps(d))) || EFI_ERROR((r = virtio_init(d)))) {
        say(L"aero-virtio-blk: device initialisation failed", NULL);
        reset_device(d);
        goto free;
    }
    d->block_io.Revision = EFI_BLOCK_IO_PROTOCOL_REVISION3;
    d->block_io.Media = &d->media;
    d->block_io.Reset = blk_reset;
    d->block_io.ReadBlocks = blk_read;
    d->block_io.WriteBlocks = blk_write;
    d->block_io.FlushBlocks = blk_flush;
    r = bs->CreateEvent(EVT_SIGNAL_EXIT_BOOT_SERVICES, TPL_CALLBACK, on_exit_boot_services, d,
                        &d->exit_boot_services);
    if (EFI_ERROR(r))
        goto reset;
    r = bs->InstallProtocolInterface(&d->controller, &block_io_guid, EFI_NATIVE_INTERFACE,
                                     &d->block_io);
    if (EFI_ERROR(r))
        goto reset;
    say(L"aero-virtio-blk: UEFI driver bound (AERO-W7-VIRTIO v1 option ROM)", NULL);
    return EFI_SUCCESS;
reset:
    reset_device(d);
free:
    release(d);
close:
    bs->CloseProtocol(ctrl, &pci_io_guid, self->DriverBindingHandle, ctrl);
    return r;
}

static EFI_STATUS EFIAPI binding_stop(EFI_DRIVER_BINDING_PROTOCOL *self, EFI_HANDLE ctrl, UINTN n,
                                      EFI_HANDLE *children)
{
    EFI_BLOCK_IO_PROTOCOL *bio;
    AERO_BLK *d;
    EFI_STATUS r = bs->OpenProtocol(ctrl, &block_io_guid, (void **)&bio, self->DriverBindingHandle,
                                    ctrl, EFI_OPEN_PROTOCOL_GET_PROTOCOL);
    if (EFI_ERROR(r))
        return r;
    d = FROM_BLOCK_IO(bio);
    if (d->signature != AERO_BLK_SIGNATURE)
        return EFI_UNSUPPORTED;
    r = bs->UninstallProtocolInterface(ctrl, &block_io_guid, &d->block_io);
    if (EFI_ERROR(r))
        return r;
    reset_device(d);
    release(d);
    return bs->CloseProtocol(ctrl, &pci_io_guid, self->DriverBindingHandle, ctrl);
}

static EFI_STATUS EFIAPI name_driver(EFI_COMPONENT_NAME2_PROTOCOL *self, CHAR8 *lang, CHAR16 **name)
{
    if (lang == NULL || name == NULL)
        return EFI_INVALID_PARAMETER;
    if (lang[0] != 'e' || lang[1] != 'n')
        return EFI_UNSUPPORTED;
    *name = (CHAR16 *)L"Aero virtio-blk (AERO-W7-VIRTIO v1) Driver";
    return EFI_SUCCESS;
}

static EFI_STATUS EFIAPI name_controller(EFI_COMPONENT_NAME2_PROTOCOL *self, EFI_HANDLE ctrl,
                                         EFI_HANDLE child, CHAR8 *lang, CHAR16 **name)
{
    return EFI_UNSUPPORTED;
}

static EFI_DRIVER_BINDING_PROTOCOL binding = {
    .Supported = binding_supported,
    .Start = binding_start,
    .Stop = binding_stop,
    .Version = 0x10,
};
static EFI_COMPONENT_NAME2_PROTOCOL name2 = {
    .GetDriverName = name_driver,
    .GetControllerName = name_controller,
    .SupportedLanguages = (CHAR8 *)"en",
};

/* gnu-efi's crt0 converts the firmware's MS calling convention and calls efi_main as SysV */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab);
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    EFI_STATUS r;
    st = systab;
    bs = systab->BootServices;
    binding.ImageHandle = image;
    binding.DriverBindingHandle = image;
    r = bs->InstallProtocolInterface(&image, &binding_guid, EFI_NATIVE_INTERFACE, &binding);
    if (EFI_ERROR(r))
        return r;
    return bs->InstallProtocolInterface(&image, &name2_guid, EFI_NATIVE_INTERFACE, &name2);
}
