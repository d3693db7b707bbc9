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
#include "migration/vmstate.h"
#include "sysemu/runstate.h"
#include "aero_virtio_host.h"

typedef struct AeroPCIState {
    PCIDevice *dev;
    QEMUBH *bh;
    MemoryRegion bar;
    struct aero_vdev *vdev;
    uint16_t vectors;
    /* Optional: DRIVER_OK went on or off (the library's status_changed; input activation). */
    void (*driver_ok_changed)(void *opaque, bool ok);
    void *hook_opaque;
    bool driver_ok;
    /* Optional: the device's state was just restored (re-sync host-side state from it). */
    void (*state_loaded)(void *opaque);
    /* Optional: the VM runs again (after a stop, or after an incoming migration). */
    void (*vm_resumed)(void *opaque);
    /* Migration: the library's state blob while it is being sent or received. */
    uint8_t *state;
    uint32_t state_len;
    /* Work is only done while the VM runs: a pass asked for while it is stopped (after the
     * final RAM copy of a migration, say) waits for the VM to run again. */
    VMChangeStateEntry *vmse;
    bool run_on_resume;
    /* TEST ONLY (x-seed-fault): a library seeded fault, see aero_vdev_seed_fault(). */
    char *seed_fault;
} AeroPCIState;

/*
 * x-seed-fault=NAME: break one contract rule on purpose (the conformance suite's seeded-fault
 * test). Refused unless QEMU runs with AERO_ALLOW_SEEDED_FAULTS=1 in its environment.
 */
#define DEFINE_AERO_PCI_TEST_PROPERTIES(_state, _field) \
    DEFINE_PROP_STRING("x-seed-fault", _state, _field.seed_fault)

/*
 * The device's part of a migration stream: the library's state blob (aero_vdev_save/load) as
 * a length-prefixed buffer. Put it after VMSTATE_PCI_DEVICE and VMSTATE_MSIX so that config
 * space and MSI-X are in place when it is applied. A blob the library refuses fails the
 * migration with the library's reason.
 */
extern const VMStateDescription aero_pci_vmstate;
#define VMSTATE_AERO_PCI(_field, _state) \
    VMSTATE_STRUCT(_field, _state, 1, aero_pci_vmstate, AeroPCIState)

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

/* class_init of every aero PCI type: the IDs come from the library's identity constant. */
void aero_pci_class_set_identity(PCIDeviceClass *k, const struct aero_pci_identity *id);

/* instance_init of every aero PCI type: lets QEMU size config space for PCI Express. */
void aero_pci_instance_init(PCIDevice *pci);

/*
 * Realize: create BAR0 and, when vectors > 0, MSI-X with its table at BAR0+0x3100; call
 * create() with the vector count the platform allows (0 without usable MSI) to build the device
 * model, which returns its transport or NULL and the library's reason; install identity,
 * capabilities and BAR0. Any failure unwinds what was done (destroy() frees the model).
 */
typedef struct aero_vdev *AeroPCICreate(void *opaque, uint16_t vectors, const char **why);
typedef void AeroPCIDestroy(void *opaque);
bool aero_pci_realize(PCIDevice *pci, AeroPCIState *st, const char *bar_name, uint16_t vectors,
                      AeroPCICreate *create, AeroPCIDestroy *destroy, void *opaque,
                      Error **errp);
void aero_pci_uninstall(PCIDevice *pci, AeroPCIState *st);
/* Device reset (system reset, device_del): library reset plus hook notification. */
void aero_pci_reset(AeroPCIState *st);
/* Counter dump for QOM "stats" properties; caller g_free()s. */
char *aero_pci_stats(AeroPCIState *st);

#endif
