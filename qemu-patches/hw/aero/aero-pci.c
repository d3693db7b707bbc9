/*
 * AERO-W7-VIRTIO PCI glue shared by the aero-virtio-* devices (see aero-pci.h). No device
 * behaviour lives here: every BAR0 access goes to the aero-virtio library.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/rcu.h"
#include "exec/memory.h"
#include "qapi/error.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/pcie.h"
#include "aero-pci.h"
#include "aero_firmware.h"

/*
 * DMA reaches guest RAM only (the library's host contract): not ROM, ROM devices, ram_device
 * regions or MMIO. Returns how many bytes from gpa (at most len) lie in one piece of such RAM,
 * 0 (and a guest-error log line) when gpa does not.
 */
static hwaddr aero_dma_ram_piece(AeroPCIState *st, uint64_t gpa, size_t len, bool is_write)
{
    AddressSpace *as = pci_get_address_space(st->dev);
    hwaddr xlat, plen = len;
    bool ram;

    WITH_RCU_READ_LOCK_GUARD() {
        MemoryRegion *mr = address_space_translate(as, gpa, &xlat, &plen, is_write,
                                                   MEMTXATTRS_UNSPECIFIED);
        ram = plen > 0 && memory_region_is_ram(mr) && !memory_region_is_ram_device(mr) &&
              !mr->readonly;
    }
    if (!ram) {
        qemu_log_mask(LOG_GUEST_ERROR, "%s: DMA %s of 0x%" PRIx64 "+0x%zx refused: "
                      "not guest RAM\n", object_get_typename(OBJECT(st->dev)),
                      is_write ? "write" : "read", gpa, len);
        return 0;
    }
    return MIN(plen, len);
}

/*
 * The range is copied one translated piece at a time, each piece checked right before it is
 * copied, so nothing a copy changes (e.g. IOMMU page tables living in guest RAM) can redirect
 * a later piece of the same transfer to MMIO. The copy itself goes through pci_dma_* (bus-master
 * gating, IOMMU, dirty tracking, the device's re-entrancy guard).
 */
static int aero_dma_rw(AeroPCIState *st, uint64_t gpa, void *buf, size_t len, bool is_write)
{
    uint8_t *p = buf;

    while (len > 0) {
        hwaddr plen = aero_dma_ram_piece(st, gpa, len, is_write);
        MemTxResult r;

        if (plen == 0) {
            return -1;
        }
        r = is_write ? pci_dma_write(st->dev, gpa, p, plen) : pci_dma_read(st->dev, gpa, p, plen);
        if (r != MEMTX_OK) {
            return -1;
        }
        gpa += plen;
        p += plen;
        len -= plen;
    }
    return 0;
}

/*
 * Ring indices: one 16-bit load or store, as QEMU's own virtio does (lduw/stw). pci_dma_read
 * of 2 bytes ends in memcpy(), which is not one load: a read of avail.idx while the vCPU stores
 * it could see the new high byte with the old low byte. address_space_lduw_le/stw_le access RAM
 * with a single 16-bit load/store (and stw marks the page dirty for migration).
 */
static int aero_load16(void *opaque, uint64_t gpa, uint16_t *val)
{
    AeroPCIState *st = opaque;
    MemTxResult r;

    if (aero_dma_ram_piece(st, gpa, 2, false) != 2) {
        return -1;
    }
    *val = address_space_lduw_le(pci_get_address_space(st->dev), gpa, MEMTXATTRS_UNSPECIFIED,
                                 &r);
    return r == MEMTX_OK ? 0 : -1;
}

static int aero_store16(void *opaque, uint64_t gpa, uint16_t val)
{
    AeroPCIState *st = opaque;
    MemTxResult r;

    if (aero_dma_ram_piece(st, gpa, 2, true) != 2) {
        return -1;
    }
    address_space_stw_le(pci_get_address_space(st->dev), gpa, val, MEMTXATTRS_UNSPECIFIED, &r);
    return r == MEMTX_OK ? 0 : -1;
}

static int aero_dma_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    return aero_dma_rw(opaque, gpa, buf, len, false);
}

static int aero_dma_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
    return aero_dma_rw(opaque, gpa, (void *)buf, len, true);
}

static void aero_set_intx(void *opaque, int level)
{
    AeroPCIState *st = opaque;
    pci_set_irq(st->dev, level);
}

static bool aero_msix_enabled(void *opaque)
{
    AeroPCIState *st = opaque;
    return msix_enabled(st->dev);
}

static void aero_msix_notify(void *opaque, uint16_t vector)
{
    AeroPCIState *st = opaque;
    msix_notify(st->dev, vector);
}

/* Input activation follows DRIVER_OK (the library reports every status change). */
static void aero_status_changed(void *opaque, uint8_t old_status, uint8_t new_status)
{
    AeroPCIState *st = opaque;
    bool ok = new_status & VIRTIO_CONFIG_S_DRIVER_OK;

    if (ok != st->driver_ok) {
        st->driver_ok = ok;
        if (st->driver_ok_changed) {
            st->driver_ok_changed(st->hook_opaque, ok);
        }
    }
}

static void aero_log_guest_error(void *opaque, const char *msg)
{
    AeroPCIState *st = opaque;
    qemu_log_mask(LOG_GUEST_ERROR, "%s: %s\n", object_get_typename(OBJECT(st->dev)), msg);
}

/*
 * Device work (queue passes, deferred publishes) runs only while the VM runs. Once a migration
 * has stopped the VM, its final RAM copy may already be taken: a used ring written after it
 * would be lost. Work asked for meanwhile stays in the library's pending state, which travels
 * in the migration stream, and runs when this VM (or the destination) runs again.
 */
static void aero_schedule(void *opaque)
{
    AeroPCIState *st = opaque;

    if (!runstate_is_running()) {
        st->run_on_resume = true;
        return;
    }
    qemu_bh_schedule(st->bh);
}

static void aero_pci_bh(void *opaque)
{
    AeroPCIState *st = opaque;

    if (!runstate_is_running()) {
        st->run_on_resume = true;
        return;
    }
    if (st->vdev) {
        aero_vdev_run_pending(st->vdev);
    }
}

static void aero_pci_vm_state_change(void *opaque, bool running, RunState state)
{
    AeroPCIState *st = opaque;

    if (!running) {
        return;
    }
    if (st->run_on_resume && st->bh) {
        st->run_on_resume = false;
        qemu_bh_schedule(st->bh);
    }
    if (st->vm_resumed) {
        st->vm_resumed(st->hook_opaque);
    }
}

/* ---- migration ---------------------------------------------------------------------------- */

static int aero_pci_pre_save(void *opaque)
{
    AeroPCIState *st = opaque;
    size_t len;

    /* Read-only: no guest memory is written here (the final RAM copy may be taken). */
    g_free(st->state);
    st->state = NULL;
    st->state_len = 0;
    if (!st->vdev) {
        return 0;
    }
    len = aero_vdev_save(st->vdev, NULL, 0);
    st->state = g_malloc(len);
    st->state_len = aero_vdev_save(st->vdev, st->state, len);
    return 0;
}

static int aero_pci_post_save(void *opaque)
{
    AeroPCIState *st = opaque;

    g_free(st->state);
    st->state = NULL;
    st->state_len = 0;
    return 0;
}

/* The length comes from the stream: bound it before anything is allocated for it. */
static bool aero_pci_state_len_ok(void *opaque, int version_id)
{
    AeroPCIState *st = opaque;

    if (st->state_len > AERO_STATE_MAX_BYTES) {
        error_report("%s: device state of %u bytes exceeds %u: refused",
                     st->dev ? object_get_typename(OBJECT(st->dev)) : "aero", st->state_len,
                     AERO_STATE_MAX_BYTES);
        return false;
    }
    return true;
}

static int aero_pci_post_load(void *opaque, int version_id)
{
    AeroPCIState *st = opaque;
    const char *why;

    if (!st->vdev) {
        return -EINVAL;
    }
    why = aero_vdev_load(st->vdev, st->state, st->state_len);
    g_free(st->state);
    st->state = NULL;
    st->state_len = 0;
    if (why) {
        error_report("%s (%s): migration state refused: %s",
                     object_get_typename(OBJECT(st->dev)),
                     DEVICE(st->dev)->id ? DEVICE(st->dev)->id : "no id", why);
        return -EINVAL;
    }
    if (st->state_loaded) {
        st->state_loaded(st->hook_opaque);
    }
    return 0;
}

const VMStateDescription aero_pci_vmstate = {
    .name = "aero-virtio-state",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = aero_pci_pre_save,
    .post_save = aero_pci_post_save,
    .post_load = aero_pci_post_load,
    .fields = (VMStateField[]) {
        VMSTATE_UINT32(state_len, AeroPCIState),
        VMSTATE_VALIDATE("aero device state length", aero_pci_state_len_ok),
        VMSTATE_VBUFFER_ALLOC_UINT32(state, AeroPCIState, 0, NULL, state_len),
        VMSTATE_END_OF_LIST()
    },
};

const struct aero_host_ops aero_pci_host_ops = {
    .dma_read = aero_dma_read,
    .dma_write = aero_dma_write,
    .load16 = aero_load16,
    .store16 = aero_store16,
    .set_intx = aero_set_intx,
    .msix_enabled = aero_msix_enabled,
    .msix_notify = aero_msix_notify,
    .status_changed = aero_status_changed,
    .log_guest_error = aero_log_guest_error,
    .schedule = aero_schedule,
};

static uint64_t aero_bar_read(void *opaque, hwaddr addr, unsigned size)
{
    AeroPCIState *st = opaque;
    return st->vdev ? aero_vdev_bar0_read(st->vdev, addr, size) : 0;
}

static void aero_bar_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
    AeroPCIState *st = opaque;
    if (st->vdev) {
        aero_vdev_bar0_write(st->vdev, addr, val, size);
    }
}

void aero_pci_reset(AeroPCIState *st)
{
    if (st->dev && pci_is_express(st->dev)) {
        pcie_cap_deverr_reset(st->dev);
        pcie_cap_lnkctl_reset(st->dev);
        pci_set_word(st->dev->config + AERO_CAP_PM_OFF + PCI_PM_CTRL, 0);
    }
    if (st->vdev) {
        aero_vdev_reset(st->vdev);
    }
}

static const MemoryRegionOps aero_bar_ops = {
    .read = aero_bar_read,
    .write = aero_bar_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
    .impl = { .min_access_size = 1, .max_access_size = 8 },
};

void aero_pci_instance_init(PCIDevice *pci)
{
    /*
     * The types implement both the conventional and the Express interface, for which QEMU
     * leaves QEMU_PCI_CAP_EXPRESS to the device. Set it before the PCI core allocates config
     * space (4 KiB); aero_pci_prepare() clears it again unless the bus is behind a PCIe port.
     */
    pci->cap_present |= QEMU_PCI_CAP_EXPRESS;
}

static bool aero_pci_on_express_port(PCIDevice *pci)
{
    PCIBus *bus = pci_get_bus(pci);

    return pci_bus_is_express(bus) && !pci_bus_is_root(bus);
}

/* Express endpoint + PM capabilities at fixed offsets after the contract's capabilities. */
static bool aero_pci_add_express_caps(PCIDevice *pci, Error **errp)
{
    int pos;

    /* Behind a port (never on a root bus), so this is a plain Express endpoint. */
    pos = pcie_endpoint_cap_init(pci, AERO_CAP_PCIE_OFF);
    if (pos < 0) {
        error_setg(errp, "cannot add the PCI Express capability at 0x%x", AERO_CAP_PCIE_OFF);
        return false;
    }
    pcie_cap_deverr_init(pci);
    pcie_cap_lnkctl_init(pci);
    pos = pci_add_capability(pci, PCI_CAP_ID_PM, AERO_CAP_PM_OFF, PCI_PM_SIZEOF, errp);
    if (pos < 0) {
        return false;
    }
    pci->exp.pm_cap = pos;
    /* PM interface spec 1.2, D0 and D3hot only; the state field is writable as in virtio-pci. */
    pci_set_word(pci->config + pos + PCI_PM_PMC, 0x3);
    pci_set_word(pci->wmask + pos + PCI_PM_CTRL, PCI_PM_CTRL_STATE_MASK);
    return true;
}

void aero_pci_class_set_identity(PCIDeviceClass *k, const struct aero_pci_identity *id)
{
    k->vendor_id = id->vendor_id;
    k->device_id = id->device_id;
    k->revision = id->revision;
    k->class_id = id->class_code >> 8;
    k->subsystem_vendor_id = id->subsystem_vendor_id;
    k->subsystem_id = id->subsystem_id;
}

static bool aero_pci_prepare(PCIDevice *pci, AeroPCIState *st, const char *name,
                             uint16_t vectors, Error **errp)
{
    Error *err = NULL;

    if (!aero_pci_on_express_port(pci)) {
        /* Conventional PCI (or a PCIe root bus): 256-byte config space, no Express caps. */
        pci->cap_present &= ~QEMU_PCI_CAP_EXPRESS;
    }

    st->dev = pci;
    st->vdev = NULL;
    st->vectors = 0;
    st->driver_ok = false;
    st->bh = qemu_bh_new_guarded(aero_pci_bh, st, &DEVICE(pci)->mem_reentrancy_guard);
    st->run_on_resume = false;
    st->vmse = qemu_add_vm_change_state_handler(aero_pci_vm_state_change, st);
    /* One 16 KiB BAR0; the MSI-X table and PBA are subregions that take precedence. */
    memory_region_init_io(&st->bar, OBJECT(pci), &aero_bar_ops, st, name, AERO_BAR0_SIZE);
    if (vectors == 0) {
        return true;
    }
    if (msix_init(pci, vectors, &st->bar, 0, AERO_BAR0_MSIX_TABLE, &st->bar, 0,
                  aero_msix_pba_offset(vectors), AERO_CAP_MSIX_OFF, &err) < 0) {
        if (!msi_nonbroken) {
            /* Platform without MSI: INTx only, which the contract requires anyway. */
            error_free(err);
            return true;
        }
        error_propagate(errp, err);
        qemu_del_vm_change_state_handler(st->vmse);
        st->vmse = NULL;
        qemu_bh_delete(st->bh);
        st->bh = NULL;
        return false;
    }
    for (uint16_t v = 0; v < vectors; v++) {
        msix_vector_use(pci, v);
    }
    st->vectors = vectors;
    return true;
}

static bool aero_pci_install(PCIDevice *pci, AeroPCIState *st, struct aero_vdev *vdev,
                             Error **errp)
{
    const struct aero_pci_identity *id = aero_vdev_identity(vdev);
    struct aero_pci_cap caps[8];
    size_t n = aero_vdev_pci_caps(vdev, caps, ARRAY_SIZE(caps));
    uint8_t *cfg = pci->config;

    st->vdev = vdev;
    pci_config_set_vendor_id(cfg, id->vendor_id);
    pci_config_set_device_id(cfg, id->device_id);
    pci_config_set_revision(cfg, id->revision);
    pci_config_set_prog_interface(cfg, id->class_code & 0xff);
    pci_config_set_class(cfg, id->class_code >> 8);
    pci_set_word(cfg + PCI_SUBSYSTEM_VENDOR_ID, id->subsystem_vendor_id);
    pci_set_word(cfg + PCI_SUBSYSTEM_ID, id->subsystem_id);
    pci_config_set_interrupt_pin(cfg, id->interrupt_pin);

    for (size_t i = 0; i < n; i++) {
        int pos = pci_add_capability(pci, caps[i].bytes[0], caps[i].offset, caps[i].len, errp);
        if (pos < 0) {
            return false;
        }
        memcpy(cfg + pos + 2, caps[i].bytes + 2, caps[i].len - 2);
    }
    if (pci_is_express(pci) && !aero_pci_add_express_caps(pci, errp)) {
        return false;
    }
    pci_register_bar(pci, 0, PCI_BASE_ADDRESS_SPACE_MEMORY | PCI_BASE_ADDRESS_MEM_TYPE_64,
                     &st->bar);
    return true;
}

void aero_pci_uninstall(PCIDevice *pci, AeroPCIState *st)
{
    if (st->vmse) {
        qemu_del_vm_change_state_handler(st->vmse);
        st->vmse = NULL;
    }
    g_free(st->state);
    st->state = NULL;
    if (st->bh) {
        qemu_bh_delete(st->bh);
        st->bh = NULL;
    }
    if (st->vectors) {
        msix_uninit(pci, &st->bar, &st->bar);
        st->vectors = 0;
    }
    st->vdev = NULL;
}

/*
 * The device's own firmware (firmware/, embedded in the library: the UEFI drivers of blk and
 * net) behind the expansion ROM BAR, as QEMU's NICs carry iPXE. OVMF's virtio 1.0 driver ignores
 * devices with a subsystem ID below 0x40 (CONTRACT §1 gives blk 0x0002, net 0x0001), so this ROM
 * is how a UEFI guest boots from the disk or the network. romfile= (QEMU then loads that file;
 * an empty name means no ROM) and rombar=0 switch it off.
 */
static bool aero_pci_add_firmware_rom(PCIDevice *pci, Error **errp)
{
    size_t size;
    uint64_t bar_size;
    const uint8_t *img = aero_firmware_option_rom(pci_get_word(pci->config + PCI_DEVICE_ID), &size);
    char name[64];

    if (!img || pci->romfile || !pci->rom_bar) {
        return true;
    }
    bar_size = pow2ceil(size);
    if (pci->romsize != UINT32_MAX) {
        if (pci->romsize < size) {
            error_setg(errp, "the built-in option ROM (%zu bytes) does not fit romsize=%u",
                       size, pci->romsize);
            return false;
        }
        bar_size = pci->romsize;
    }
    snprintf(name, sizeof(name), "%s.rom", object_get_typename(OBJECT(pci)));
    memory_region_init_rom(&pci->rom, OBJECT(pci), name, bar_size, &error_fatal);
    pci->has_rom = true; /* QEMU's unrealize releases it, as for a romfile= ROM */
    memset(memory_region_get_ram_ptr(&pci->rom), 0xff, bar_size);
    memcpy(memory_region_get_ram_ptr(&pci->rom), img, size);
    pci_register_bar(pci, PCI_ROM_SLOT, 0, &pci->rom);
    return true;
}

/* Test only: x-seed-fault, and only with AERO_ALLOW_SEEDED_FAULTS=1 (never by accident). */
static bool aero_pci_seed_fault(AeroPCIState *st, struct aero_vdev *vdev, Error **errp)
{
    const char *why;

    if (!st->seed_fault || !*st->seed_fault) {
        return true;
    }
    if (g_strcmp0(g_getenv("AERO_ALLOW_SEEDED_FAULTS"), "1") != 0) {
        error_setg(errp, "x-seed-fault breaks the device on purpose (conformance tests only); "
                   "refused unless AERO_ALLOW_SEEDED_FAULTS=1 is set");
        return false;
    }
    why = aero_vdev_seed_fault(vdev, st->seed_fault);
    if (why) {
        error_setg(errp, "x-seed-fault=%s: %s", st->seed_fault, why);
        return false;
    }
    warn_report("%s: seeded fault '%s' is active: this device breaks the contract on purpose",
                object_get_typename(OBJECT(st->dev)), st->seed_fault);
    return true;
}

bool aero_pci_realize(PCIDevice *pci, AeroPCIState *st, const char *bar_name, uint16_t vectors,
                      AeroPCICreate *create, AeroPCIDestroy *destroy, void *opaque,
                      Error **errp)
{
    const char *why = "unknown reason";
    struct aero_vdev *vdev;

    if (aero_virtio_abi_version() != AERO_VIRTIO_ABI_VERSION) {
        error_setg(errp, "the aero-virtio library has ABI %u, this QEMU was built against %u: "
                   "rebuild QEMU (scripts/build-qemu.sh)", aero_virtio_abi_version(),
                   AERO_VIRTIO_ABI_VERSION);
        return false;
    }
    if (!aero_pci_prepare(pci, st, bar_name, vectors, errp)) {
        return false;
    }
    vdev = create(opaque, st->vectors, &why);
    if (!vdev) {
        aero_pci_uninstall(pci, st);
        error_setg(errp, "%s", why);
        return false;
    }
    if (!aero_pci_seed_fault(st, vdev, errp) || !aero_pci_install(pci, st, vdev, errp) ||
        !aero_pci_add_firmware_rom(pci, errp)) {
        aero_pci_uninstall(pci, st);
        destroy(opaque);
        return false;
    }
    return true;
}

char *aero_pci_stats(AeroPCIState *st)
{
    char *s, *r;

    if (!st->vdev) {
        return g_strdup("");
    }
    s = aero_vdev_stats_string(st->vdev);
    r = g_strdup(s ? s : "");
    free(s);
    return r;
}
