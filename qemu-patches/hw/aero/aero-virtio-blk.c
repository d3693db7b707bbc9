/*
 * aero-virtio-blk-pci: QEMU glue for the AERO-W7-VIRTIO block device. The request logic is in
 * the aero-virtio library; this file wires its backend interface to a BlockBackend (so every
 * image format, cache mode and aio engine works) and its transport to PCI.
 *
 * The BlockBackend is attached to a child device named "virtio-backend", as with QEMU's own
 * virtio-blk-pci: query-block/query-blockstats then report its qdev as
 * /machine/peripheral/ID/virtio-backend, the path libvirt looks a virtio disk up by (block stats,
 * I/O tuning). The child owns the block properties; the PCI device carries aliases of them, so
 * "-device aero-virtio-blk-pci,drive=..." works as before. It has no state of its own to migrate.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/iov.h"
#include "qemu/module.h"
#include "qapi/error.h"
#include "hw/block/block.h"
#include "hw/pci/msix.h"
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
#define TYPE_AERO_VIRTIO_BLK_BACKEND "aero-virtio-blk-backend"
OBJECT_DECLARE_SIMPLE_TYPE(AeroVirtioBlkBackend, AERO_VIRTIO_BLK_BACKEND)

/* The device the BlockBackend is attached to (the "virtio-backend" child). */
struct AeroVirtioBlkBackend {
    DeviceState parent_obj;
    BlockConf conf;
};

struct AeroVirtioBlkPCI {
    PCIDevice parent_obj;
    AeroPCIState pci;
    AeroVirtioBlkBackend backend;
    bool event_idx;
    char *serial;
    uint32_t vectors;
    struct aero_blk_params params;
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
    BlockBackend *blk = s->backend.conf.blk;
    AeroBlkAIO *aio = g_new0(AeroBlkAIO, 1);
    static const enum BlockAcctType acct_type[] = {
        [AERO_BLK_OP_READ] = BLOCK_ACCT_READ,
        [AERO_BLK_OP_WRITE] = BLOCK_ACCT_WRITE,
        [AERO_BLK_OP_FLUSH] = BLOCK_ACCT_FLUSH,
    };

    aio->io = io;
    aio->blk = blk;
    block_acct_start(blk_get_stats(blk), &aio->acct, io->len, acct_type[io->op]);
    switch (io->op) {
    case AERO_BLK_OP_READ:
        qemu_iovec_init_buf(&aio->qiov, io->buf, io->len);
        blk_aio_preadv(blk, io->offset, &aio->qiov, 0, aero_blk_aio_done, aio);
        break;
    case AERO_BLK_OP_WRITE:
        qemu_iovec_init_buf(&aio->qiov, io->buf, io->len);
        blk_aio_pwritev(blk, io->offset, &aio->qiov, 0, aero_blk_aio_done, aio);
        break;
    case AERO_BLK_OP_FLUSH:
        blk_aio_flush(blk, aero_blk_aio_done, aio);
        break;
    }
}

/* Requests popped for one notification are submitted as one plugged batch. */
static void aero_blk_batch_begin(void *opaque)
{
    blk_io_plug(((AeroVirtioBlkPCI *)opaque)->backend.conf.blk);
}

static void aero_blk_batch_end(void *opaque)
{
    blk_io_unplug(((AeroVirtioBlkPCI *)opaque)->backend.conf.blk);
}

static const struct aero_blk_backend_ops aero_blk_backend = {
    .submit = aero_blk_submit,
    .batch_begin = aero_blk_batch_begin,
    .batch_end = aero_blk_batch_end,
};

static struct aero_vdev *aero_virtio_blk_create(void *opaque, uint16_t vectors, const char **why)
{
    AeroVirtioBlkPCI *s = opaque;

    s->params.msix_vectors = vectors;
    s->blk = aero_blk_new(&s->params, &aero_pci_host_ops, &s->pci, &aero_blk_backend, s, why);
    return s->blk ? aero_blk_vdev(s->blk) : NULL;
}

static void aero_virtio_blk_destroy(void *opaque)
{
    AeroVirtioBlkPCI *s = opaque;

    aero_blk_free(s->blk);
    s->blk = NULL;
}

static void aero_virtio_blk_realize(PCIDevice *pci, Error **errp)
{
    AeroVirtioBlkPCI *s = AERO_VIRTIO_BLK_PCI(pci);
    const char *why;
    int64_t len;

    if (!s->backend.conf.blk) {
        error_setg(errp, "drive property not set");
        return;
    }
    if (!blk_is_inserted(s->backend.conf.blk)) {
        error_setg(errp, "device needs media, but drive is empty");
        return;
    }
    /* The library never offers VIRTIO_BLK_F_RO (CONTRACT §3.1): the drive must be writable. */
    if (!blkconf_apply_backend_options(&s->backend.conf, false, true, errp)) {
        return;
    }
    if (!blkconf_blocksizes(&s->backend.conf, errp)) {
        return;
    }
    len = blk_getlength(s->backend.conf.blk);
    if (len < 0) {
        error_setg_errno(errp, -len, "cannot get the drive's size");
        return;
    }
    s->params = (struct aero_blk_params) {
        .capacity_bytes = len,
        .logical_block_size = s->backend.conf.logical_block_size,
        .event_idx = s->event_idx,
        .msix_vectors = s->vectors,
        .serial = s->serial,
    };
    why = aero_blk_check_params(&s->params);
    if (why) {
        error_setg(errp, "%s", why);
        return;
    }
    /* Realized first, unrealized last: the drive's owner outlives the device's use of it. */
    if (!qdev_realize(DEVICE(&s->backend), NULL, errp)) {
        return;
    }
    if (!aero_pci_realize(pci, &s->pci, "aero-virtio-blk-bar0", s->vectors,
                          aero_virtio_blk_create, aero_virtio_blk_destroy, s, errp)) {
        qdev_unrealize(DEVICE(&s->backend));
    }
}

static void aero_virtio_blk_exit(PCIDevice *pci)
{
    AeroVirtioBlkPCI *s = AERO_VIRTIO_BLK_PCI(pci);

    blk_drain(s->backend.conf.blk);
    aero_pci_uninstall(pci, &s->pci);
    aero_blk_free(s->blk);
    s->blk = NULL;
    qdev_unrealize(DEVICE(&s->backend));
}

static void aero_virtio_blk_reset(DeviceState *dev)
{
    AeroVirtioBlkPCI *s = AERO_VIRTIO_BLK_PCI(dev);

    if (s->blk) {
        blk_drain(s->backend.conf.blk);
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
    object_initialize_child(obj, "virtio-backend", &s->backend, TYPE_AERO_VIRTIO_BLK_BACKEND);
    qdev_alias_all_properties(DEVICE(&s->backend), obj);
    device_add_bootindex_property(obj, &s->backend.conf.bootindex, "bootindex", "/disk@0,0",
                                  DEVICE(obj));
    object_property_add_str(obj, "stats", aero_virtio_blk_get_stats, NULL);
}

static Property aero_virtio_blk_backend_properties[] = {
    DEFINE_BLOCK_PROPERTIES(AeroVirtioBlkBackend, conf),
    DEFINE_PROP_END_OF_LIST(),
};

static void aero_virtio_blk_backend_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);

    dc->desc = "block backend owner of an aero-virtio-blk-pci (its virtio-backend child)";
    dc->user_creatable = false;
    device_class_set_props(dc, aero_virtio_blk_backend_properties);
}

static const TypeInfo aero_virtio_blk_backend_info = {
    .name = TYPE_AERO_VIRTIO_BLK_BACKEND,
    .parent = TYPE_DEVICE,
    .instance_size = sizeof(AeroVirtioBlkBackend),
    .class_init = aero_virtio_blk_backend_class_init,
};

/* The block properties (drive, logical_block_size, write-cache...) are the child's, aliased. */
static Property aero_virtio_blk_properties[] = {
    DEFINE_PROP_BOOL("event-idx", AeroVirtioBlkPCI, event_idx, true),
    DEFINE_PROP_STRING("serial", AeroVirtioBlkPCI, serial),
    DEFINE_PROP_UINT32("vectors", AeroVirtioBlkPCI, vectors, AERO_BLK_MSIX_VECTORS),
    DEFINE_AERO_PCI_TEST_PROPERTIES(AeroVirtioBlkPCI, pci),
    DEFINE_PROP_END_OF_LIST(),
};

/* PCI config space, MSI-X table and PBA, then the library's state (aero-pci.h). */
static const VMStateDescription aero_virtio_blk_vmstate = {
    .name = TYPE_AERO_VIRTIO_BLK_PCI,
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, AeroVirtioBlkPCI),
        VMSTATE_MSIX(parent_obj, AeroVirtioBlkPCI),
        VMSTATE_AERO_PCI(pci, AeroVirtioBlkPCI),
        VMSTATE_END_OF_LIST()
    },
};

static void aero_virtio_blk_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = aero_virtio_blk_realize;
    k->exit = aero_virtio_blk_exit;
    aero_pci_class_set_identity(k, &aero_blk_pci_identity);
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
    type_register_static(&aero_virtio_blk_backend_info);
    type_register_static(&aero_virtio_blk_info);
}

type_init(aero_virtio_blk_register_types)
