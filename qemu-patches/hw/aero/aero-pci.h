/*
 * AERO-W7-VIRTIO PCI glue shared by the aero-virtio-* devices: installs the library's PCI
 * identity and capabilities, maps BAR0 onto the library's register file, and serves the
 * library's host operations (DMA, INTx, MSI-X) from QEMU's PCI layer.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_AERO_PCI_H
#define HW_AERO_PCI_H

#include "hw/pci/pci.h"
#include "aero_virtio.h"

typedef struct AeroPCIState {
    PCIDevice *dev;
    QEMUBH *bh;
    MemoryRegion bar;
    struct aero_vdev *vdev;
    uint16_t vectors;
    /* Optional: called after a BAR0 write or reset changed DRIVER_OK (input activation). */
    void (*driver_ok_changed)(void *opaque, bool ok);
    void *hook_opaque;
    bool driver_ok;
} AeroPCIState;

/*
 * PCI Express, like QEMU's virtio-pci: only behind a PCIe port (express bus that is not a root
 * bus) the function is an Express endpoint with an Express capability (v2, 0x3c bytes) and a
 * Power Management capability (mandatory for PCIe functions). Both sit after the contract's
 * fixed vendor capabilities (0x40..0x83) and MSI-X (0x84..0x8f), so that layout never moves.
 * On a conventional bus (or a PCIe root bus) config space stays exactly as before.
 */
#define AERO_CAP_PCIE_OFF 0x90
#define AERO_CAP_PM_OFF 0xcc

/*
 * Host operations; their opaque pointer is the AeroPCIState. Doorbells are deferred to a
 * bottom half in the main loop: the vCPU returns to the guest at once and the device works in
 * parallel, like QEMU's own virtio devices with (emulated) ioeventfd.
 */
extern const struct aero_host_ops aero_pci_host_ops;

/* instance_init of every aero PCI type: lets QEMU size config space for PCI Express. */
void aero_pci_instance_init(PCIDevice *pci);

/*
 * Step 1 of realize: create BAR0 and, when vectors > 0, MSI-X with its table at BAR0+0x3100.
 * On return st->vectors holds the vector count the device model must be created with (0 when
 * the platform has no usable MSI).
 */
bool aero_pci_prepare(PCIDevice *pci, AeroPCIState *st, const char *name, uint16_t vectors,
                      Error **errp);
/* Step 2: the device model exists; install identity, capabilities, and register BAR0. */
bool aero_pci_install(PCIDevice *pci, AeroPCIState *st, struct aero_vdev *vdev, Error **errp);
void aero_pci_uninstall(PCIDevice *pci, AeroPCIState *st);
/* Device reset (system reset, device_del): library reset plus hook notification. */
void aero_pci_reset(AeroPCIState *st);
/* Counter dump for QOM "stats" properties; caller g_free()s. */
char *aero_pci_stats(AeroPCIState *st);

#endif
