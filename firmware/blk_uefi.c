/* UEFI boot-services driver for aero-virtio-blk-pci, delivered as the device's PCI option ROM.
 * OVMF's own virtio 1.0 transport (Virtio10Dxe) refuses devices whose PCI subsystem ID is below
 * 0x40, and CONTRACT §1 fixes blk's at 0x0002: this driver gives the firmware a BlockIo on the
 * device instead, built only on UEFI-standard protocols (PciIo, BlockIo, DriverBinding).
 *
 * Deliberately small: one request in flight, polled completion (no interrupts), data bounced
 * through one buffer the driver owns, so no caller buffer is ever handed to the device. */
#include "virtio_uefi.h"

#define AERO_BLK_DEVICE 0x1042

#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_S_OK 0

#define QUEUE_MAX 256   /* CONTRACT §3.1 says 128; any power of two up to 256 is driven */
#define REQ_PAGES 1     /* request header at 0, status byte at 16 */
#define BOUNCE_PAGES 64 /* 256 KiB per request */
#define BOUNCE_BYTES (BOUNCE_PAGES * VIO_PAGE)
#define REQUEST_TIMEOUT_US 30000000u

typedef struct {
    UINT64 signature;
    EFI_HANDLE controller;
    VIO vio;
    VQ vq;
    BOOLEAN broken;
    UINT64 negotiated;
    VIO_DMA req, bounce;
    EFI_EVENT exit_boot_services;
    EFI_BLOCK_IO_MEDIA media;
    EFI_BLOCK_IO_PROTOCOL block_io;
} AERO_BLK;

#define AERO_BLK_SIGNATURE 0x6b6c622d6f726561ull /* "aero-blk" */
#define FROM_BLOCK_IO(p) ((AERO_BLK *)((UINT8 *)(p) - __builtin_offsetof(AERO_BLK, block_io)))

static EFI_GUID block_io_guid = EFI_BLOCK_IO_PROTOCOL_GUID;

/* ---- device bring-up (virtio 1.2 §3.1.1) ----------------------------------------------------- */
static EFI_STATUS virtio_init(AERO_BLK *d)
{
    UINT32 blk = 512;
    UINT64 blocks;
    EFI_STATUS r;

    /* No INDIRECT, no EVENT_IDX: one three-descriptor chain in flight, completion polled. */
    r = vio_negotiate(&d->vio,
                      (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
                          (1ull << VIRTIO_BLK_F_FLUSH),
                      &d->negotiated);
    if (EFI_ERROR(r) || EFI_ERROR((r = vq_init(&d->vio, &d->vq, 0, QUEUE_MAX))))
        return r;
    if (d->vq.size < 3)
        return EFI_UNSUPPORTED;
    if (EFI_ERROR((r = vio_dma_alloc(&d->vio, REQ_PAGES, &d->req))) ||
        EFI_ERROR((r = vio_dma_alloc(&d->vio, BOUNCE_PAGES, &d->bounce))))
        return r;
    vio_set_status(&d->vio,
                   STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);

    /* CONTRACT §3.1 config: capacity (le64, 512-byte sectors) at 0x00, blk_size at 0x14 */
    blocks = vio_config_read(&d->vio, 0, 4) | (UINT64)vio_config_read(&d->vio, 4, 4) << 32;
    if (d->negotiated & (1ull << VIRTIO_BLK_F_BLK_SIZE))
        blk = vio_config_read(&d->vio, 0x14, 4);
    if (blk < 512 || blk > 4096 || (blk & (blk - 1)))
        return EFI_UNSUPPORTED;
    d->media.MediaId = 0;
    d->media.RemovableMedia = FALSE;
    d->media.LogicalPartition = FALSE;
    d->media.ReadOnly = FALSE;
    d->media.WriteCaching = (d->negotiated & (1ull << VIRTIO_BLK_F_FLUSH)) != 0;
    d->media.BlockSize = blk;
    d->media.IoAlign = 0; /* data is bounced: any caller alignment works */
    blocks /= blk / 512;
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
    volatile UINT8 *hdr = d->req.host;
    UINT16 n = 0;
    UINT32 waited = 0, id, used_len;

    *(volatile UINT32 *)hdr = type;
    *(volatile UINT32 *)(hdr + 4) = 0;
    *(volatile UINT64 *)(hdr + 8) = sector;
    hdr[16] = 0xFF;
    vq_put_desc(&d->vq, n, d->req.dev, 16, VRING_DESC_F_NEXT, (UINT16)(n + 1));
    n++;
    if (len) {
        vq_put_desc(&d->vq, n, d->bounce.dev, len,
                    VRING_DESC_F_NEXT | (type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0),
                    (UINT16)(n + 1));
        n++;
    }
    vq_put_desc(&d->vq, n, d->req.dev + 16, 1, VRING_DESC_F_WRITE, 0);
    vq_publish(&d->vq, 0);
    vq_kick(&d->vio, &d->vq);
    while (!vq_used_peek(&d->vq, &id, &used_len)) {
        /* the status register is read once a millisecond: each read is a trap to the VMM */
        if (waited >= REQUEST_TIMEOUT_US ||
            (waited % 1000 == 0 && (vio_get_status(&d->vio) & STATUS_NEEDS_RESET))) {
            d->broken = TRUE; /* the chain may still be in flight: no further requests */
            vio_say(L"aero-virtio-blk: request failed (timeout or DEVICE_NEEDS_RESET)", NULL);
            return EFI_DEVICE_ERROR;
        }
        vio_bs->Stall(10);
        waited += 10;
    }
    vq_used_pop(&d->vq);
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
    tpl = vio_bs->RaiseTPL(TPL_NOTIFY);
    while (size && !EFI_ERROR(r)) {
        UINT32 chunk = size > BOUNCE_BYTES ? BOUNCE_BYTES : (UINT32)size;
        if (write)
            vio_bs->CopyMem(d->bounce.host, p, chunk);
        r = do_request(d, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, sector, chunk);
        if (!EFI_ERROR(r) && !write)
            vio_bs->CopyMem(p, d->bounce.host, chunk);
        p += chunk, size -= chunk, sector += chunk / 512;
    }
    vio_bs->RestoreTPL(tpl);
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
    tpl = vio_bs->RaiseTPL(TPL_NOTIFY);
    r = do_request(d, VIRTIO_BLK_T_FLUSH, 0, 0);
    vio_bs->RestoreTPL(tpl);
    return r;
}

static EFI_STATUS EFIAPI blk_reset(EFI_BLOCK_IO_PROTOCOL *self, BOOLEAN extended)
{
    return EFI_SUCCESS;
}

/* The OS must find the device quiet: reset it (stops all DMA) when boot services end. */
static void EFIAPI on_exit_boot_services(EFI_EVENT ev, void *ctx)
{
    vio_set_status(&((AERO_BLK *)ctx)->vio, 0);
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
    r = vio_is_device(pci, AERO_BLK_DEVICE) ? EFI_SUCCESS : EFI_UNSUPPORTED;
    vio_bs->CloseProtocol(ctrl, &vio_pci_io_guid, self->DriverBindingHandle, ctrl);
    return r;
}

static void release(AERO_BLK *d)
{
    if (d->exit_boot_services)
        vio_bs->CloseEvent(d->exit_boot_services);
    vio_dma_free(&d->vio, &d->bounce);
    vio_dma_free(&d->vio, &d->req);
    vq_free(&d->vio, &d->vq);
    vio_close(&d->vio);
    vio_bs->FreePool(d);
}

static EFI_STATUS EFIAPI binding_start(EFI_DRIVER_BINDING_PROTOCOL *self, EFI_HANDLE ctrl,
                                       EFI_DEVICE_PATH *remaining)
{
    AERO_BLK *d = NULL;
    EFI_PCI_IO_PROTOCOL *pci;
    EFI_STATUS r =
        vio_bs->OpenProtocol(ctrl, &vio_pci_io_guid, (void **)&pci, self->DriverBindingHandle, ctrl,
                             EFI_OPEN_PROTOCOL_BY_DRIVER);
    if (EFI_ERROR(r))
        return r;
    r = vio_bs->AllocatePool(EfiBootServicesData, sizeof *d, (void **)&d);
    if (EFI_ERROR(r))
        goto close;
    vio_bs->SetMem(d, sizeof *d, 0);
    d->signature = AERO_BLK_SIGNATURE;
    d->controller = ctrl;
    if (EFI_ERROR((r = vio_open(&d->vio, pci))) || EFI_ERROR((r = virtio_init(d)))) {
        vio_say(L"aero-virtio-blk: device initialisation failed", NULL);
        vio_reset(&d->vio);
        goto free;
    }
    d->block_io.Revision = EFI_BLOCK_IO_PROTOCOL_REVISION3;
    d->block_io.Media = &d->media;
    d->block_io.Reset = blk_reset;
    d->block_io.ReadBlocks = blk_read;
    d->block_io.WriteBlocks = blk_write;
    d->block_io.FlushBlocks = blk_flush;
    r = vio_bs->CreateEvent(EVT_SIGNAL_EXIT_BOOT_SERVICES, TPL_CALLBACK, on_exit_boot_services, d,
                            &d->exit_boot_services);
    if (EFI_ERROR(r))
        goto reset;
    r = vio_bs->InstallProtocolInterface(&d->controller, &block_io_guid, EFI_NATIVE_INTERFACE,
                                         &d->block_io);
    if (EFI_ERROR(r))
        goto reset;
    vio_say(L"aero-virtio-blk: UEFI driver bound (AERO-W7-VIRTIO v1 option ROM)", NULL);
    return EFI_SUCCESS;
reset:
    vio_reset(&d->vio);
free:
    release(d);
close:
    vio_bs->CloseProtocol(ctrl, &vio_pci_io_guid, self->DriverBindingHandle, ctrl);
    return r;
}

static EFI_STATUS EFIAPI binding_stop(EFI_DRIVER_BINDING_PROTOCOL *self, EFI_HANDLE ctrl, UINTN n,
                                      EFI_HANDLE *children)
{
    EFI_BLOCK_IO_PROTOCOL *bio;
    AERO_BLK *d;
    EFI_STATUS r =
        vio_bs->OpenProtocol(ctrl, &block_io_guid, (void **)&bio, self->DriverBindingHandle, ctrl,
                             EFI_OPEN_PROTOCOL_GET_PROTOCOL);
    if (EFI_ERROR(r))
        return r;
    d = FROM_BLOCK_IO(bio);
    if (d->signature != AERO_BLK_SIGNATURE)
        return EFI_UNSUPPORTED;
    r = vio_bs->UninstallProtocolInterface(ctrl, &block_io_guid, &d->block_io);
    if (EFI_ERROR(r))
        return r;
    vio_reset(&d->vio);
    release(d);
    return vio_bs->CloseProtocol(ctrl, &vio_pci_io_guid, self->DriverBindingHandle, ctrl);
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
                              L"Aero virtio-blk (AERO-W7-VIRTIO v1) Driver");
}
