/* The virtio 1.x modern PCI transport and split ring as the option ROM drivers (blk_uefi.c,
 * net_uefi.c) drive it from UEFI boot services: PciIo register access, the capability walk,
 * feature negotiation, DMA buffers mapped through PciIo and a polled split ring. Built into each
 * driver image; nothing here is exported from the aero-virtio library. */
#ifndef AERO_VIRTIO_UEFI_H
#define AERO_VIRTIO_UEFI_H

#include <efi.h>

#define AERO_VENDOR 0x1AF4
#define AERO_REVISION 0x01 /* CONTRACT §1/§4: revision carries the contract major version */

/* virtio 1.2 §2.1 device status */
#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define STATUS_NEEDS_RESET 0x40
#define STATUS_FAILED 0x80

#define VIRTIO_F_VERSION_1 32

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2

#define VIO_PAGE 4096u

/* One device: where its structures live in its BARs (virtio 1.2 §4.1.4). */
typedef struct {
    EFI_PCI_IO_PROTOCOL *pci;
    UINT64 saved_attributes;
    BOOLEAN attributes_changed;
    UINT8 common_bar, notify_bar, device_bar;
    UINT32 common_off, notify_off, device_off, notify_mult;
} VIO;

/* One split virtqueue in one DMA allocation: desc at 0, avail right after, used on the next page
 * boundary (virtio 1.2 §2.7). The driver polls the used ring; no interrupts. */
typedef struct {
    UINT16 index, size, last_used;
    UINT64 doorbell; /* notify_off + queue_notify_off * notify_off_multiplier */
    UINTN pages;
    void *mem, *map;
    EFI_PHYSICAL_ADDRESS dev;
} VQ;

/* A buffer of whole pages the device may read and write (PciIo AllocateBuffer + Map). */
typedef struct {
    UINTN pages;
    void *host, *map;
    EFI_PHYSICAL_ADDRESS dev;
} VIO_DMA;

extern EFI_BOOT_SERVICES *vio_bs;
extern EFI_SYSTEM_TABLE *vio_st;
extern EFI_GUID vio_pci_io_guid;

/* Remember the system table; every driver's efi_main calls this first. */
void vio_init_lib(EFI_SYSTEM_TABLE *systab);
/* The ROM image's entry: vio_init_lib, then the driver binding and an English component name
 * (one driver per image) installed on the image handle. */
EFI_STATUS vio_install_driver(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab,
                              EFI_DRIVER_BINDING_PROTOCOL *binding, const CHAR16 *name);
/* One line on the firmware console (a, then b if not NULL). */
void vio_say(const CHAR16 *a, const CHAR16 *b);

/* Whether this PciIo is the CONTRACT §1 device: vendor, device ID and revision (the subsystem
 * ID is deliberately not checked: it is what OVMF's own driver trips over). */
BOOLEAN vio_is_device(EFI_PCI_IO_PROTOCOL *pci, UINT16 device_id);

/* Enable memory decoding and bus mastering and find the COMMON, NOTIFY and DEVICE capabilities;
 * vio_close restores the attributes. */
EFI_STATUS vio_open(VIO *v, EFI_PCI_IO_PROTOCOL *pci);
void vio_close(VIO *v);

UINT8 vio_get_status(VIO *v);
void vio_set_status(VIO *v, UINT8 status);
/* Write 0 and wait (bounded) until it reads back 0: all DMA stopped, queues disabled. */
void vio_reset(VIO *v);
/* Reset, ACKNOWLEDGE | DRIVER, accept offered & wanted (VERSION_1 required), FEATURES_OK. */
EFI_STATUS vio_negotiate(VIO *v, UINT64 wanted, UINT64 *negotiated);
/* Read len (1, 2 or 4) bytes of device config at off. */
UINT32 vio_config_read(VIO *v, UINT32 off, UINTN len);

EFI_STATUS vio_dma_alloc(VIO *v, UINTN pages, VIO_DMA *d);
void vio_dma_free(VIO *v, VIO_DMA *d);

/* Select queue index, take the device's size (a power of two, at most max_size), allocate and
 * program the ring and enable it. */
EFI_STATUS vq_init(VIO *v, VQ *q, UINT16 index, UINT16 max_size);
void vq_free(VIO *v, VQ *q);
void vq_put_desc(VQ *q, UINT16 i, UINT64 addr, UINT32 len, UINT16 flags, UINT16 next);
/* Make the chain starting at head available (barriers included); vq_kick rings the doorbell. */
void vq_publish(VQ *q, UINT16 head);
void vq_kick(VIO *v, VQ *q);
/* The next used entry, if the device published one since the last vq_used_pop. */
BOOLEAN vq_used_peek(VQ *q, UINT32 *id, UINT32 *len);
void vq_used_pop(VQ *q);

#endif
