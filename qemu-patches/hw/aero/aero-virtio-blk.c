/*
 * aero-virtio-blk-pci: QEMU glue for the AERO-W7-VIRTIO block device. The request logic is in
 * the aero-virtio library; this file wires its backend interface to a BlockBackend (so every
 * image format, cache mode and aio engine works) and its transport to PCI.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/iov.h"
#include "qemu/module.h"
#include "qapi/error.h"
#include "hw/block/block.h"
#include "hw/pci/pci.h"
#include "hw/qdev-properties.h"
#include "hw/qdev-properties-system.h"
#include "migration/vmstate.h"
#include "block/accounting.h"
#include "sysemu/block-backend.h"
#include "sysemu/sysemu.h"
#include "aero-pci.h"
#include "aero_blk.h"

#define TYPE_AERO_VIRTIO_BLK_PCI "aero-virtio-blk-pci"
OBJECT_DECLARE_SIMPLE_TYPE(AeroVirtioBlkPCI, AERO_VIRTIO_BLK_PCI)

struct AeroVirtioBlkPCI {
    PCIDevice parent_obj;
    AeroPCIState pci;
    BlockConf conf;
    bool event_idx;
    char *serial;
    uint32_t vectors;
    struct aero_blk *blk;
};

typedef struct AeroBlkAIO {
    QEMUIOVector qiov;
    BlockAcctCookie acct;
    BlockBackend *blk;
    struct aero_blk_io *io;
} AeroBlkAIO;

static void aero_blk_aio_done(void *opaque, int ret)
{
    AeroBlkAIO *aio = opaque;
    struct aero_blk_io *io = aio->io;

    /* Accounted like QEMU's own disks: query-blockstats shows reads, writes and flushes. */
    if (ret < 0) {
        block_acct_failed(blk_get_stats(aio->blk), &aio->acct);
    } else {
        block_acct_done(blk_get_stats(aio->blk), &aio->acct);
    }
    g_free(aio);
    aero_blk_io_complete(io, ret < 0);
}

static void aero_blk_submit(void *opaque, struct aero_blk_io *io)
{
    AeroVirtioBlkPCI *s = opaque;
    AeroBlkAIO *aio = g_new0(AeroBlkAIO, 1);
    static const enum BlockAcctType acct_type[] = {
        [AERO_BLK_OP_READ] = BLOCK_ACCT_READ,
        [AERO_BLK_OP_WRITE] = BLOCK_ACCT_WRITE,
        [AERO_BLK_OP_FLUSH] = BLOCK_ACCT_FLUSH,
    };

    aio->io = io;
    aio->blk = s->conf.blk;
    block_acct_start(blk_get_stats(s->conf.blk), &aio->acct, io->len, acct_type[io->op]);
    switch (io->op) {
    case AERO_BLK_OP_READ:
        qemu_iovec_init_buf(&aio->qiov, io->buf, io->len);
        blk_aio_preadv(s->conf.blk, io->offset, &aio->qiov, 0, aero_blk_aio_done, aio);
        break;
    case AERO_BLK_OP_WRITE:
        qemu_iovec_init_buf(&aio->qiov, io->buf, io->len);
        blk_aio_pwritev(s->conf.blk, io->offset, &aio->qiov, 0, aero_blk_aio_done, aio);
        break;
    case AERO_BLK_OP_FLUSH:
        blk_aio_flush(s->conf.blk, aero_blk_aio_done, aio);
        break;
    }
}

/* Requests popped for one notification are submitted as one plugged batch. */
static void aero_blk_batch_begin(void *opaque)
{
    blk_io_plug(((AeroVirtioBlkPCI *)opaque)->conf.blk);
}

static void aero_blk_batch_end(void *opaque)
{
    blk_io_unplug(((AeroVirtioBlkPCI *)opaque)->conf.blk);
}

static const struct aero_blk_backend_ops aero_blk_backend = {
    .submit = aero_blk_submit,
    .batch_begin = aero_blk_batch_begin,
    .batch_end = aero_blk_batch_end,
};

static void aero_virtio_blk_realize(PCIDevice *pci, Error **errp)
{
    AeroVirtioBlkPCI *s = AERO_VIRTIO_BLK_PCI(pci);
    struct aero_blk_params bp = { 0 };
    int64_t len;

    if (!s->conf.blk) {
        error_setg(errp, "drive property not set");
        return;
    }
    if (!blk_is_inserted(s->conf.blk)) {
        error_setg(errp, "device needs media, but drive is empty");
        return;
    }
    /* CONTRACT §3.1 never offers VIRTIO_BLK_F_RO: the drive must be writable. */
    if (!blkconf_apply_backend_options(&s->conf, false, true, errp)) {
        return;
    }
    if (!blkconf_blocksizes(&s->conf, errp)) {
        return;
    }
    if (s->conf.logical_block_size != 512 && s->conf.logical_block_size != 4096) {
        error_setg(errp, "logical_block_size must be 512 or 4096");
        return;
    }
    if (s->vectors != 0 && s->vectors != 2) {
        error_setg(errp, "vectors must be 0 (INTx only) or 2 (config + requestq)");
        return;
    }
    if (s->serial && strlen(s->serial) > AERO_BLK_ID_BYTES) {
        error_setg(errp, "serial is longer than %d bytes", AERO_BLK_ID_BYTES);
        return;
    }
    len = blk_getlength(s->conf.blk);
    if (len < 0) {
        error_setg_errno(errp, -len, "cannot get the drive's size");
        return;
    }
    if (!aero_pci_prepare(pci, &s->pci, "aero-virtio-blk-bar0", s->vectors, errp)) {
        return;
    }
    bp.capacity_bytes = len;
    bp.logical_block_size = s->conf.logical_block_size;
    bp.event_idx = s->event_idx;
    bp.msix_vectors = s->pci.vectors;
    if (s->serial) {
        pstrcpy(bp.serial, sizeof(bp.serial), s->serial);
    }
    s->blk = aero_blk_new(&bp, &aero_pci_host_ops, &s->pci, &aero_blk_backend, s);
    if (!s->blk) {
        aero_pci_uninstall(pci, &s->pci);
        error_setg(errp, "aero-virtio library refused the block device parameters");
        return;
    }
    if (!aero_pci_install(pci, &s->pci, aero_blk_vdev(s->blk), errp)) {
        aero_pci_uninstall(pci, &s->pci);
        aero_blk_free(s->blk);
        s->blk = NULL;
        return;
    }
}

static void aero_virtio_blk_exit(PCIDevice *pci)
{
    AeroVirtioBlkPCI *s = AERO_VIRTIO_BLK_PCI(pci);

    blk_drain(s->conf.blk);
    aero_pci_uninstall(pci, &s->pci);
    aero_blk_free(s->blk);
    s->blk = NULL;
}

static void aero_virtio_blk_reset(DeviceState *dev)
{
    AeroVirtioBlkPCI *s = AERO_VIRTIO_BLK_PCI(dev);

    if (s->blk) {
        blk_drain(s->conf.blk);
        aero_pci_reset(&s->pci);
    }
}

static char *aero_virtio_blk_get_stats(Object *obj, Error **errp)
{
    return aero_pci_stats(&AERO_VIRTIO_BLK_PCI(obj)->pci);
}

static void aero_virtio_blk_instance_init(Object *obj)
{
    AeroVirtioBlkPCI *s = AERO_VIRTIO_BLK_PCI(obj);

    aero_pci_instance_init(PCI_DEVICE(obj));
    device_add_bootindex_property(obj, &s->conf.bootindex, "bootindex", "/disk@0,0",
                                  DEVICE(obj));
    object_property_add_str(obj, "stats", aero_virtio_blk_get_stats, NULL);
}

static Property aero_virtio_blk_properties[] = {
    DEFINE_BLOCK_PROPERTIES(AeroVirtioBlkPCI, conf),
    DEFINE_PROP_BOOL("event-idx", AeroVirtioBlkPCI, event_idx, true),
    DEFINE_PROP_STRING("serial", AeroVirtioBlkPCI, serial),
    DEFINE_PROP_UINT32("vectors", AeroVirtioBlkPCI, vectors, 2),
    DEFINE_PROP_END_OF_LIST(),
};

static const VMStateDescription aero_virtio_blk_vmstate = {
    .name = TYPE_AERO_VIRTIO_BLK_PCI,
    .unmigratable = 1,
};

static void aero_virtio_blk_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = aero_virtio_blk_realize;
    k->exit = aero_virtio_blk_exit;
    /* The library sets the final identity at realize; these are the contract values. */
    k->vendor_id = AERO_PCI_VENDOR;
    k->device_id = 0x1040 + VIRTIO_ID_BLOCK;
    k->revision = AERO_PCI_REVISION;
    k->class_id = PCI_CLASS_STORAGE_SCSI;
    k->subsystem_vendor_id = AERO_PCI_VENDOR;
    k->subsystem_id = 0x0002;
    dc->desc = "AERO-W7-VIRTIO block device (modern virtio-pci, contract v1)";
    dc->reset = aero_virtio_blk_reset;
    dc->vmsd = &aero_virtio_blk_vmstate;
    device_class_set_props(dc, aero_virtio_blk_properties);
    set_bit(DEVICE_CATEGORY_STORAGE, dc->categories);
}

static const TypeInfo aero_virtio_blk_info = {
    .name = TYPE_AERO_VIRTIO_BLK_PCI,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(AeroVirtioBlkPCI),
    .instance_init = aero_virtio_blk_instance_init,
    .class_init = aero_virtio_blk_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { INTERFACE_PCIE_DEVICE },
        { },
    },
};

static void aero_virtio_blk_register_types(void)
{
    type_register_static(&aero_virtio_blk_info);
}

type_init(aero_virtio_blk_register_types)
