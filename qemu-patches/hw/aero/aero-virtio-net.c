/*
 * aero-virtio-net-pci: QEMU glue for the AERO-W7-VIRTIO network device. Frame handling lives in
 * the aero-virtio library; this file connects it to QEMU's NIC layer (any -netdev backend) and
 * to PCI. Backpressure: when the guest has no RX buffers the library refuses the frame, QEMU
 * queues it, and the library's rx_ready callback flushes the queue once buffers arrive.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/module.h"
#include "qapi/error.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "net/net.h"
#include "sysemu/sysemu.h"
#include "aero-pci.h"
#include "aero_net.h"
#include "aero_firmware.h"

#define TYPE_AERO_VIRTIO_NET_PCI "aero-virtio-net-pci"
OBJECT_DECLARE_SIMPLE_TYPE(AeroVirtioNetPCI, AERO_VIRTIO_NET_PCI)

struct AeroVirtioNetPCI {
    PCIDevice parent_obj;
    AeroPCIState pci;
    NICConf nic_conf;
    NICState *nic;
    bool event_idx;
    uint32_t header_len;
    uint32_t vectors;
    struct aero_net_params params;
    struct aero_net *net;
};

static void aero_net_transmit(void *opaque, const uint8_t *frame, size_t len)
{
    AeroVirtioNetPCI *s = opaque;

    qemu_send_packet(qemu_get_queue(s->nic), frame, len);
}

static void aero_net_rx_ready(void *opaque)
{
    AeroVirtioNetPCI *s = opaque;

    qemu_flush_queued_packets(qemu_get_queue(s->nic));
}

static const struct aero_net_backend_ops aero_net_backend = {
    .transmit = aero_net_transmit,
    .rx_ready = aero_net_rx_ready,
};

/* Like virtio-net: no frame enters guest memory while the VM is stopped (a migration's final
 * RAM copy may be taken); QEMU queues it and vm_resumed flushes the queue. */
static bool aero_net_nc_can_receive(NetClientState *nc)
{
    AeroVirtioNetPCI *s = qemu_get_nic_opaque(nc);

    return s->net && runstate_is_running() && aero_net_can_receive(s->net);
}

static ssize_t aero_net_nc_receive(NetClientState *nc, const uint8_t *buf, size_t size)
{
    AeroVirtioNetPCI *s = qemu_get_nic_opaque(nc);

    if (!s->net) {
        return -1;
    }
    if (!runstate_is_running()) {
        return 0; /* held by QEMU; vm_resumed flushes the queue */
    }
    /*
     * 0 makes QEMU hold the frame (and every later one) until qemu_flush_queued_packets(), which
     * rx_ready calls: only for "no buffer". A dropped frame -- an empty one too -- is reported as
     * consumed, or for size 0 as an error, never as 0, or the receive path would stall for good.
     */
    switch (aero_net_receive(s->net, buf, size)) {
    case AERO_NET_RX_NO_BUFFER:
        return 0;
    default:
        return size ? (ssize_t)size : -1;
    }
}

static void aero_net_nc_link_status_changed(NetClientState *nc)
{
    AeroVirtioNetPCI *s = qemu_get_nic_opaque(nc);

    if (s->net) {
        aero_net_set_link(s->net, !nc->link_down);
    }
}

static NetClientInfo aero_net_info = {
    .type = NET_CLIENT_DRIVER_NIC,
    .size = sizeof(NICState),
    .can_receive = aero_net_nc_can_receive,
    .receive = aero_net_nc_receive,
    .link_status_changed = aero_net_nc_link_status_changed,
};

static void aero_net_vm_resumed(void *opaque)
{
    AeroVirtioNetPCI *s = opaque;

    if (s->nic) {
        qemu_flush_queued_packets(qemu_get_queue(s->nic));
    }
}

/* Link and MAC came with the state (what the guest saw on the source): the NIC follows. */
static void aero_net_state_loaded(void *opaque)
{
    AeroVirtioNetPCI *s = opaque;
    NetClientState *nc = qemu_get_queue(s->nic);

    aero_net_mac(s->net, s->nic_conf.macaddr.a);
    qemu_format_nic_info_str(nc, s->nic_conf.macaddr.a);
    nc->link_down = !aero_net_link(s->net);
}

static struct aero_vdev *aero_virtio_net_create(void *opaque, uint16_t vectors, const char **why)
{
    AeroVirtioNetPCI *s = opaque;

    s->params.msix_vectors = vectors;
    s->net = aero_net_new(&s->params, &aero_pci_host_ops, &s->pci, &aero_net_backend, s, why);
    return s->net ? aero_net_vdev(s->net) : NULL;
}

static void aero_virtio_net_destroy(void *opaque)
{
    AeroVirtioNetPCI *s = opaque;

    aero_net_free(s->net);
    s->net = NULL;
}

static void aero_virtio_net_realize(PCIDevice *pci, Error **errp)
{
    AeroVirtioNetPCI *s = AERO_VIRTIO_NET_PCI(pci);
    DeviceState *dev = DEVICE(pci);
    const char *why;

    qemu_macaddr_default_if_unset(&s->nic_conf.macaddr);
    s->params = (struct aero_net_params) {
        .event_idx = s->event_idx,
        .header_len = s->header_len,
        .msix_vectors = s->vectors,
        .link_up = true,
    };
    memcpy(s->params.mac, s->nic_conf.macaddr.a, sizeof(s->params.mac));
    why = aero_net_check_params(&s->params);
    if (why) {
        error_setg(errp, "%s", why);
        return;
    }
    if (!aero_pci_realize(pci, &s->pci, "aero-virtio-net-bar0", s->vectors,
                          aero_virtio_net_create, aero_virtio_net_destroy, s, errp)) {
        return;
    }
    /* The built-in option ROM's UEFI driver learns the header length from the ROM itself. */
    if (pci->has_rom && !pci->romfile &&
        !aero_firmware_rom_set_net_header_len(memory_region_get_ram_ptr(&pci->rom),
                                              memory_region_size(&pci->rom), s->header_len)) {
        error_setg(errp, "the built-in option ROM has no settings block for header-len");
        aero_pci_uninstall(pci, &s->pci);
        aero_net_free(s->net);
        s->net = NULL;
        return;
    }
    s->pci.hook_opaque = s;
    s->pci.vm_resumed = aero_net_vm_resumed;
    s->pci.state_loaded = aero_net_state_loaded;
    s->nic = qemu_new_nic(&aero_net_info, &s->nic_conf, object_get_typename(OBJECT(dev)),
                          dev->id, &dev->mem_reentrancy_guard, s);
    qemu_format_nic_info_str(qemu_get_queue(s->nic), s->nic_conf.macaddr.a);
    aero_net_set_link(s->net, !qemu_get_queue(s->nic)->link_down);
}

static void aero_virtio_net_exit(PCIDevice *pci)
{
    AeroVirtioNetPCI *s = AERO_VIRTIO_NET_PCI(pci);

    qemu_del_nic(s->nic);
    aero_pci_uninstall(pci, &s->pci);
    aero_net_free(s->net);
    s->net = NULL;
}

static void aero_virtio_net_reset(DeviceState *dev)
{
    aero_pci_reset(&AERO_VIRTIO_NET_PCI(dev)->pci);
}

static char *aero_virtio_net_get_stats(Object *obj, Error **errp)
{
    AeroVirtioNetPCI *s = AERO_VIRTIO_NET_PCI(obj);
    struct aero_net_stats st;
    g_autofree char *q = aero_pci_stats(&s->pci);

    if (!s->net) {
        return g_strdup("");
    }
    aero_net_get_stats(s->net, &st);
    return g_strdup_printf("%stx_frames=%" PRIu64 " tx_bytes=%" PRIu64 " tx_dropped=%" PRIu64
                           " rx_frames=%" PRIu64 " rx_bytes=%" PRIu64 " rx_dropped=%" PRIu64
                           " rx_no_buffer=%" PRIu64 "\n",
                           q, st.tx_frames, st.tx_bytes, st.tx_dropped, st.rx_frames,
                           st.rx_bytes, st.rx_dropped, st.rx_no_buffer);
}

static void aero_virtio_net_instance_init(Object *obj)
{
    AeroVirtioNetPCI *s = AERO_VIRTIO_NET_PCI(obj);

    aero_pci_instance_init(PCI_DEVICE(obj));
    device_add_bootindex_property(obj, &s->nic_conf.bootindex, "bootindex",
                                  "/ethernet-phy@0", DEVICE(obj));
    object_property_add_str(obj, "stats", aero_virtio_net_get_stats, NULL);
}

static Property aero_virtio_net_properties[] = {
    DEFINE_NIC_PROPERTIES(AeroVirtioNetPCI, nic_conf),
    DEFINE_PROP_BOOL("event-idx", AeroVirtioNetPCI, event_idx, true),
    DEFINE_PROP_UINT32("header-len", AeroVirtioNetPCI, header_len, 10),
    DEFINE_PROP_UINT32("vectors", AeroVirtioNetPCI, vectors, AERO_NET_MSIX_VECTORS),
    DEFINE_AERO_PCI_TEST_PROPERTIES(AeroVirtioNetPCI, pci),
    DEFINE_PROP_END_OF_LIST(),
};

/* PCI config space, MSI-X table and PBA, then the library's state (aero-pci.h). */
static const VMStateDescription aero_virtio_net_vmstate = {
    .name = TYPE_AERO_VIRTIO_NET_PCI,
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, AeroVirtioNetPCI),
        VMSTATE_MSIX(parent_obj, AeroVirtioNetPCI),
        VMSTATE_AERO_PCI(pci, AeroVirtioNetPCI),
        VMSTATE_END_OF_LIST()
    },
};

static void aero_virtio_net_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = aero_virtio_net_realize;
    k->exit = aero_virtio_net_exit;
    aero_pci_class_set_identity(k, &aero_net_pci_identity);
    k->romfile = NULL;
    dc->desc = "AERO-W7-VIRTIO network device (modern virtio-pci, contract v1)";
    dc->reset = aero_virtio_net_reset;
    dc->vmsd = &aero_virtio_net_vmstate;
    device_class_set_props(dc, aero_virtio_net_properties);
    set_bit(DEVICE_CATEGORY_NETWORK, dc->categories);
}

static const TypeInfo aero_virtio_net_info = {
    .name = TYPE_AERO_VIRTIO_NET_PCI,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(AeroVirtioNetPCI),
    .instance_init = aero_virtio_net_instance_init,
    .class_init = aero_virtio_net_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { INTERFACE_PCIE_DEVICE },
        { },
    },
};

static void aero_virtio_net_register_types(void)
{
    type_register_static(&aero_virtio_net_info);
}

type_init(aero_virtio_net_register_types)
