/* The virtio 1.x modern PCI transport for the option ROM drivers (see virtio_uefi.h): only
 * UEFI-standard PciIo calls, so the drivers run on any firmware that loads PCI option ROMs. */
#include "virtio_uefi.h"

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

EFI_BOOT_SERVICES *vio_bs;
EFI_SYSTEM_TABLE *vio_st;
EFI_GUID vio_pci_io_guid = EFI_PCI_IO_PROTOCOL_GUID;

static void barrier(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

void vio_init_lib(EFI_SYSTEM_TABLE *systab)
{
    vio_st = systab;
    vio_bs = systab->BootServices;
}

void vio_say(const CHAR16 *a, const CHAR16 *b)
{
    if (vio_st->ConOut == NULL)
        return;
    vio_st->ConOut->OutputString(vio_st->ConOut, (CHAR16 *)a);
    if (b != NULL)
        vio_st->ConOut->OutputString(vio_st->ConOut, (CHAR16 *)b);
    vio_st->ConOut->OutputString(vio_st->ConOut, (CHAR16 *)L"\r\n");
}

BOOLEAN vio_is_device(EFI_PCI_IO_PROTOCOL *pci, UINT16 device_id)
{
    UINT32 id = 0;
    UINT8 rev = 0;
    if (EFI_ERROR(pci->Pci.Read(pci, EfiPciIoWidthUint32, 0, 1, &id)) ||
        EFI_ERROR(pci->Pci.Read(pci, EfiPciIoWidthUint8, 8, 1, &rev)))
        return FALSE;
    return id == ((UINT32)device_id << 16 | AERO_VENDOR) && rev == AERO_REVISION;
}

/* ---- BAR0 register access through PciIo ------------------------------------------------------ */
static EFI_STATUS cc_read(VIO *v, UINT32 off, EFI_PCI_IO_PROTOCOL_WIDTH w, void *val)
{
    return v->pci->Mem.Read(v->pci, w, v->common_bar, v->common_off + off, 1, val);
}

static EFI_STATUS cc_write(VIO *v, UINT32 off, EFI_PCI_IO_PROTOCOL_WIDTH w, UINT64 val)
{
    return v->pci->Mem.Write(v->pci, w, v->common_bar, v->common_off + off, 1, &val);
}

/* virtio 1.2 §4.1.4.3.2: 64-bit fields are written as two 32-bit halves, low first */
static EFI_STATUS cc_write64(VIO *v, UINT32 off, UINT64 val)
{
    EFI_STATUS r = cc_write(v, off, EfiPciIoWidthUint32, (UINT32)val);
    return EFI_ERROR(r) ? r : cc_write(v, off + 4, EfiPciIoWidthUint32, (UINT32)(val >> 32));
}

UINT8 vio_get_status(VIO *v)
{
    UINT8 s = STATUS_FAILED;
    cc_read(v, CC_DEVICE_STATUS, EfiPciIoWidthUint8, &s);
    return s;
}

void vio_set_status(VIO *v, UINT8 s) { cc_write(v, CC_DEVICE_STATUS, EfiPciIoWidthUint8, s); }

void vio_reset(VIO *v)
{
    UINTN i;
    vio_set_status(v, 0);
    /* virtio 1.2 §4.1.4.3.2: reset is complete once device_status reads back 0 */
    for (i = 0; i < 1000 && vio_get_status(v) != 0; i++)
        vio_bs->Stall(100);
}

UINT32 vio_config_read(VIO *v, UINT32 off, UINTN len)
{
    UINT32 val = 0;
    EFI_PCI_IO_PROTOCOL_WIDTH w = len == 1   ? EfiPciIoWidthUint8
                                  : len == 2 ? EfiPciIoWidthUint16
                                             : EfiPciIoWidthUint32;
    v->pci->Mem.Read(v->pci, w, v->device_bar, v->device_off + off, 1, &val);
    return val;
}

/* ---- capability walk (virtio 1.2 §4.1.4) ----------------------------------------------------- */
static EFI_STATUS find_caps(VIO *v)
{
    UINT8 ptr = 0, hops = 0, cap[20];
    UINT32 found = 0;
    v->pci->Pci.Read(v->pci, EfiPciIoWidthUint8, 0x34, 1, &ptr);
    while (ptr >= 0x40 && (ptr & 3) == 0 && hops++ < 48) {
        if (EFI_ERROR(v->pci->Pci.Read(v->pci, EfiPciIoWidthUint8, ptr, sizeof cap, cap)))
            return EFI_DEVICE_ERROR;
        if (cap[0] == PCI_CAP_ID_VNDR && cap[2] >= 16 && cap[4] <= 5) {
            UINT32 off = cap[8] | cap[9] << 8 | cap[10] << 16 | (UINT32)cap[11] << 24;
            switch (cap[3]) {
            case VIRTIO_PCI_CAP_COMMON_CFG:
                v->common_bar = cap[4], v->common_off = off, found |= 1;
                break;
            case VIRTIO_PCI_CAP_NOTIFY_CFG:
                if (cap[2] < 20)
                    break;
                v->notify_bar = cap[4], v->notify_off = off, found |= 2;
                v->notify_mult = cap[16] | cap[17] << 8 | cap[18] << 16 | (UINT32)cap[19] << 24;
                break;
            case VIRTIO_PCI_CAP_DEVICE_CFG:
                v->device_bar = cap[4], v->device_off = off, found |= 4;
                break;
            }
        }
        ptr = cap[1];
    }
    return found == 7 ? EFI_SUCCESS : EFI_UNSUPPORTED;
}

EFI_STATUS vio_open(VIO *v, EFI_PCI_IO_PROTOCOL *pci)
{
    UINT64 supported = 0;
    EFI_STATUS r;
    v->pci = pci;
    pci->Attributes(pci, EfiPciIoAttributeOperationGet, 0, &v->saved_attributes);
    pci->Attributes(pci, EfiPciIoAttributeOperationSupported, 0, &supported);
    r = pci->Attributes(pci, EfiPciIoAttributeOperationEnable,
                        supported & (EFI_PCI_IO_ATTRIBUTE_MEMORY | EFI_PCI_IO_ATTRIBUTE_BUS_MASTER),
                        NULL);
    if (EFI_ERROR(r))
        return r;
    v->attributes_changed = TRUE;
    return find_caps(v);
}

void vio_close(VIO *v)
{
    if (v->attributes_changed)
        v->pci->Attributes(v->pci, EfiPciIoAttributeOperationSet, v->saved_attributes, NULL);
    v->attributes_changed = FALSE;
}

/* ---- device bring-up (virtio 1.2 §3.1.1) ----------------------------------------------------- */
EFI_STATUS vio_negotiate(VIO *v, UINT64 wanted, UINT64 *negotiated)
{
    UINT32 lo = 0, hi = 0;
    UINT64 offered;

    vio_reset(v);
    vio_set_status(v, STATUS_ACKNOWLEDGE);
    vio_set_status(v, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    cc_write(v, CC_DEVICE_FEATURE_SELECT, EfiPciIoWidthUint32, 0);
    cc_read(v, CC_DEVICE_FEATURE, EfiPciIoWidthUint32, &lo);
    cc_write(v, CC_DEVICE_FEATURE_SELECT, EfiPciIoWidthUint32, 1);
    cc_read(v, CC_DEVICE_FEATURE, EfiPciIoWidthUint32, &hi);
    offered = lo | (UINT64)hi << 32;
    if (!(offered & (1ull << VIRTIO_F_VERSION_1)))
        return EFI_UNSUPPORTED;
    wanted &= offered;
    cc_write(v, CC_DRIVER_FEATURE_SELECT, EfiPciIoWidthUint32, 0);
    cc_write(v, CC_DRIVER_FEATURE, EfiPciIoWidthUint32, (UINT32)wanted);
    cc_write(v, CC_DRIVER_FEATURE_SELECT, EfiPciIoWidthUint32, 1);
    cc_write(v, CC_DRIVER_FEATURE, EfiPciIoWidthUint32, (UINT32)(wanted >> 32));
    vio_set_status(v, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    if (!(vio_get_status(v) & STATUS_FEATURES_OK))
        return EFI_UNSUPPORTED;
    *negotiated = wanted;
    return EFI_SUCCESS;
}

/* ---- DMA memory: allocated and mapped through PciIo, so an IOMMU-aware firmware works too ---- */
EFI_STATUS vio_dma_alloc(VIO *v, UINTN pages, VIO_DMA *d)
{
    UINTN bytes = pages * VIO_PAGE;
    EFI_STATUS r =
        v->pci->AllocateBuffer(v->pci, AllocateAnyPages, EfiBootServicesData, pages, &d->host, 0);
    if (EFI_ERROR(r)) {
        d->host = NULL;
        return r;
    }
    vio_bs->SetMem(d->host, bytes, 0);
    r = v->pci->Map(v->pci, EfiPciIoOperationBusMasterCommonBuffer, d->host, &bytes, &d->dev,
                    &d->map);
    if (EFI_ERROR(r) || bytes != pages * VIO_PAGE) {
        if (!EFI_ERROR(r))
            v->pci->Unmap(v->pci, d->map);
        v->pci->FreeBuffer(v->pci, pages, d->host);
        d->host = NULL;
        return EFI_ERROR(r) ? r : EFI_OUT_OF_RESOURCES;
    }
    d->pages = pages;
    return EFI_SUCCESS;
}

void vio_dma_free(VIO *v, VIO_DMA *d)
{
    if (d->host == NULL)
        return;
    v->pci->Unmap(v->pci, d->map);
    v->pci->FreeBuffer(v->pci, d->pages, d->host);
    d->host = NULL;
}

/* ---- split ring ------------------------------------------------------------------------------ */
static UINTN used_offset(UINT16 n)
{
    return ((16u * n + 6u + 2u * n) + VIO_PAGE - 1) & ~(VIO_PAGE - 1);
}
static volatile UINT16 *ring_avail(VQ *q)
{
    return (volatile UINT16 *)((UINT8 *)q->mem + 16u * q->size);
}
static volatile UINT16 *ring_used(VQ *q)
{
    return (volatile UINT16 *)((UINT8 *)q->mem + used_offset(q->size));
}

EFI_STATUS vq_init(VIO *v, VQ *q, UINT16 index, UINT16 max_size)
{
    UINT16 qsz = 0, qnoff = 0;
    VIO_DMA d = {0};
    EFI_STATUS r;

    cc_write(v, CC_QUEUE_SELECT, EfiPciIoWidthUint16, index);
    cc_read(v, CC_QUEUE_SIZE, EfiPciIoWidthUint16, &qsz);
    if (qsz < 2 || qsz > max_size || (qsz & (qsz - 1)))
        return EFI_UNSUPPORTED;
    cc_read(v, CC_QUEUE_NOTIFY_OFF, EfiPciIoWidthUint16, &qnoff);
    /* used ring: flags, idx, 8 bytes per entry, avail_event */
    r = vio_dma_alloc(v, (used_offset(qsz) + 6u + 8u * qsz + VIO_PAGE - 1) / VIO_PAGE, &d);
    if (EFI_ERROR(r))
        return r;
    q->index = index;
    q->size = qsz;
    q->last_used = 0;
    q->doorbell = v->notify_off + (UINT64)qnoff * v->notify_mult;
    q->pages = d.pages, q->mem = d.host, q->map = d.map, q->dev = d.dev;
    cc_write64(v, CC_QUEUE_DESC, q->dev);
    cc_write64(v, CC_QUEUE_AVAIL, q->dev + 16u * qsz);
    cc_write64(v, CC_QUEUE_USED, q->dev + used_offset(qsz));
    cc_write(v, CC_QUEUE_ENABLE, EfiPciIoWidthUint16, 1);
    return EFI_SUCCESS;
}

void vq_free(VIO *v, VQ *q)
{
    VIO_DMA d = {.pages = q->pages, .host = q->mem, .map = q->map, .dev = q->dev};
    vio_dma_free(v, &d);
    q->mem = NULL;
}

void vq_put_desc(VQ *q, UINT16 i, UINT64 addr, UINT32 len, UINT16 flags, UINT16 next)
{
    volatile UINT8 *p = (UINT8 *)q->mem + 16u * i;
    *(volatile UINT64 *)p = addr;
    *(volatile UINT32 *)(p + 8) = len;
    *(volatile UINT16 *)(p + 12) = flags;
    *(volatile UINT16 *)(p + 14) = next;
}

void vq_publish(VQ *q, UINT16 head)
{
    volatile UINT16 *avail = ring_avail(q);
    UINT16 idx = avail[1];
    avail[2 + idx % q->size] = head;
    barrier(); /* descriptors and ring entry before the index */
    avail[1] = (UINT16)(idx + 1);
    barrier();
}

void vq_kick(VIO *v, VQ *q)
{
    UINT16 index = q->index;
    v->pci->Mem.Write(v->pci, EfiPciIoWidthUint16, v->notify_bar, q->doorbell, 1, &index);
}

BOOLEAN vq_used_peek(VQ *q, UINT32 *id, UINT32 *len)
{
    volatile UINT16 *used = ring_used(q);
    volatile UINT32 *elem;
    if (used[1] == q->last_used)
        return FALSE;
    barrier(); /* the index before the entry it covers */
    elem = (volatile UINT32 *)(used + 2) + 2u * (q->last_used % q->size);
    *id = elem[0];
    *len = elem[1];
    return TRUE;
}

void vq_used_pop(VQ *q) { q->last_used++; }

/* ---- driver registration ---------------------------------------------------------------- */

static const CHAR16 *vio_driver_name;

static EFI_STATUS EFIAPI vio_name_driver(EFI_COMPONENT_NAME2_PROTOCOL *self, CHAR8 *lang,
                                         CHAR16 **name)
{
    if (lang == NULL || name == NULL)
        return EFI_INVALID_PARAMETER;
    if (lang[0] != 'e' || lang[1] != 'n')
        return EFI_UNSUPPORTED;
    *name = (CHAR16 *)vio_driver_name;
    return EFI_SUCCESS;
}

static EFI_STATUS EFIAPI vio_name_controller(EFI_COMPONENT_NAME2_PROTOCOL *self, EFI_HANDLE ctrl,
                                             EFI_HANDLE child, CHAR8 *lang, CHAR16 **name)
{
    return EFI_UNSUPPORTED;
}

static EFI_COMPONENT_NAME2_PROTOCOL vio_name2 = {
    .GetDriverName = vio_name_driver,
    .GetControllerName = vio_name_controller,
    .SupportedLanguages = (CHAR8 *)"en",
};

EFI_STATUS vio_install_driver(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab,
                              EFI_DRIVER_BINDING_PROTOCOL *binding, const CHAR16 *name)
{
    static EFI_GUID binding_guid = EFI_DRIVER_BINDING_PROTOCOL_GUID;
    static EFI_GUID name2_guid = EFI_COMPONENT_NAME2_PROTOCOL_GUID;
    EFI_STATUS r;
    vio_init_lib(systab);
    vio_driver_name = name;
    binding->ImageHandle = image;
    binding->DriverBindingHandle = image;
    r = vio_bs->InstallProtocolInterface(&image, &binding_guid, EFI_NATIVE_INTERFACE, binding);
    if (EFI_ERROR(r))
        return r;
    return vio_bs->InstallProtocolInterface(&image, &name2_guid, EFI_NATIVE_INTERFACE, &vio_name2);
}
