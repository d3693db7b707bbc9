/*
 * aero-virtio-{keyboard,mouse,tablet}-pci: QEMU glue for the AERO-W7-VIRTIO input functions.
 * Events from QEMU's input layer (QMP input-send-event, HMP sendkey, VNC/GTK) are mapped to
 * Linux evdev codes and handed to the aero-virtio library, which owns the config selectors,
 * batching and delivery. The functions form one multi-function PCI device: keyboard on
 * function 0 (multifunction=on), mouse on 1, tablet on 2; a mouse or tablet without the aero
 * keyboard at function 0 is refused. The tablet's wheel is delivered by the mouse.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/module.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "hw/pci/pci_bus.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "sysemu/sysemu.h"
#include "ui/console.h"
#include "ui/input.h"
#include "aero-pci.h"
#include "aero_input.h"

#define TYPE_AERO_VIRTIO_INPUT_PCI "aero-virtio-input-pci"
OBJECT_DECLARE_TYPE(AeroVirtioInputPCI, AeroVirtioInputPCIClass, AERO_VIRTIO_INPUT_PCI)

struct AeroVirtioInputPCI {
    PCIDevice parent_obj;
    AeroPCIState pci;
    bool event_idx;
    uint32_t vectors;
    struct aero_input_params params;
    struct aero_input *in;
    QemuInputHandlerState *hs;
    /* Tablet: wheel events of the current batch went to the sibling mouse (looked up again at
     * sync time, never held across calls). */
    bool wheel_pending;
    uint64_t wheel_forwarded, wheel_dropped;
    /* Mouse/tablet realized before function 0 existed: re-checked once the machine is done. */
    Notifier machine_done;
    bool fn0_check_pending;
};

struct AeroVirtioInputPCIClass {
    PCIDeviceClass parent_class;
    enum aero_input_kind kind;
    QemuInputHandler *handler;
};

static const char *const aero_input_type_names[] = {
    "aero-virtio-keyboard-pci", "aero-virtio-mouse-pci", "aero-virtio-tablet-pci",
};

static void aero_input_key(AeroVirtioInputPCI *s, InputKeyEvent *key)
{
    int qcode = qemu_input_key_value_to_qcode(key->key);
    unsigned code;

    if (qcode < 0 || (unsigned)qcode >= qemu_input_map_qcode_to_linux_len) {
        return;
    }
    code = qemu_input_map_qcode_to_linux[qcode];
    if (code == 0) {
        return;
    }
    /* The library drops repeats of a held key (CONTRACT §3.3, no auto-repeat). */
    aero_input_event(s->in, AERO_EV_KEY, code, key->down);
}

static enum aero_input_kind aero_input_kind_of(AeroVirtioInputPCI *s)
{
    return AERO_VIRTIO_INPUT_PCI_GET_CLASS(s)->kind;
}

/* The aero mouse at function 1 of this slot, if there is one and its driver runs. */
static AeroVirtioInputPCI *aero_input_sibling_mouse(AeroVirtioInputPCI *s)
{
    PCIDevice *pci = PCI_DEVICE(s);
    PCIDevice *f1 = pci_get_bus(pci)->devices[PCI_DEVFN(PCI_SLOT(pci->devfn), 1)];
    AeroVirtioInputPCI *m;

    if (!f1 || !object_dynamic_cast(OBJECT(f1), aero_input_type_names[AERO_INPUT_MOUSE])) {
        return NULL;
    }
    m = AERO_VIRTIO_INPUT_PCI(f1);
    return m->in && m->pci.driver_ok ? m : NULL;
}

/*
 * QEMU routes buttons and the wheel to the most recently activated pointer handler, which with
 * keyboard + mouse + tablet is usually the tablet. The tablet advertises only SYN, ABS and KEY
 * (CONTRACT §3.3), so its wheel goes to the aero mouse at function 1 of the same slot while that
 * mouse's driver runs (REL_WHEEL / REL_HWHEEL, with a SYN_REPORT there when this batch ends);
 * without such a mouse the wheel is dropped and counted.
 */
static void aero_input_wheel(AeroVirtioInputPCI *s, uint16_t code, int32_t value)
{
    AeroVirtioInputPCI *m;

    if (aero_input_kind_of(s) != AERO_INPUT_TABLET) {
        aero_input_event(s->in, AERO_EV_REL, code, value);
        return;
    }
    m = aero_input_sibling_mouse(s);
    if (!m) {
        s->wheel_dropped++;
        return;
    }
    /* Even a refused event (the mouse's batch is full) leaves a batch to end with a sync. */
    s->wheel_pending = true;
    if (aero_input_event(m->in, AERO_EV_REL, code, value)) {
        s->wheel_forwarded++;
    } else {
        s->wheel_dropped++;
    }
}

static void aero_input_btn(AeroVirtioInputPCI *s, InputBtnEvent *btn)
{
    static const uint16_t map[INPUT_BUTTON__MAX] = {
        [INPUT_BUTTON_LEFT] = AERO_BTN_LEFT,
        [INPUT_BUTTON_RIGHT] = AERO_BTN_RIGHT,
        [INPUT_BUTTON_MIDDLE] = AERO_BTN_MIDDLE,
        [INPUT_BUTTON_SIDE] = AERO_BTN_SIDE,
        [INPUT_BUTTON_EXTRA] = AERO_BTN_EXTRA,
    };

    switch (btn->button) {
    case INPUT_BUTTON_WHEEL_UP:
    case INPUT_BUTTON_WHEEL_DOWN:
        if (btn->down) {
            aero_input_wheel(s, AERO_REL_WHEEL, btn->button == INPUT_BUTTON_WHEEL_UP ? 1 : -1);
        }
        return;
    case INPUT_BUTTON_WHEEL_LEFT:
    case INPUT_BUTTON_WHEEL_RIGHT:
        if (btn->down) {
            aero_input_wheel(s, AERO_REL_HWHEEL,
                             btn->button == INPUT_BUTTON_WHEEL_RIGHT ? 1 : -1);
        }
        return;
    default:
        if (btn->button < INPUT_BUTTON__MAX && map[btn->button]) {
            aero_input_event(s->in, AERO_EV_KEY, map[btn->button], btn->down);
        }
        return;
    }
}

static void aero_input_handle_event(DeviceState *dev, QemuConsole *src, InputEvent *evt)
{
    AeroVirtioInputPCI *s = AERO_VIRTIO_INPUT_PCI(dev);

    switch (evt->type) {
    case INPUT_EVENT_KIND_KEY:
        aero_input_key(s, evt->u.key.data);
        break;
    case INPUT_EVENT_KIND_BTN:
        aero_input_btn(s, evt->u.btn.data);
        break;
    case INPUT_EVENT_KIND_REL:
        if (evt->u.rel.data->axis <= INPUT_AXIS_Y) {
            aero_input_event(s->in, AERO_EV_REL,
                             evt->u.rel.data->axis == INPUT_AXIS_X ? AERO_REL_X : AERO_REL_Y,
                             evt->u.rel.data->value);
        }
        break;
    case INPUT_EVENT_KIND_ABS:
        /* QEMU's absolute range is 0..INPUT_EVENT_ABS_MAX, the same as our ABS_INFO. */
        if (evt->u.abs.data->axis <= INPUT_AXIS_Y) {
            aero_input_event(s->in, AERO_EV_ABS,
                             evt->u.abs.data->axis == INPUT_AXIS_X ? AERO_ABS_X : AERO_ABS_Y,
                             evt->u.abs.data->value);
        }
        break;
    default:
        break;
    }
}

static void aero_input_handle_sync(DeviceState *dev)
{
    AeroVirtioInputPCI *s = AERO_VIRTIO_INPUT_PCI(dev);

    if (s->wheel_pending) {
        AeroVirtioInputPCI *m = aero_input_sibling_mouse(s);

        s->wheel_pending = false;
        if (m) {
            aero_input_sync(m->in);
        }
    }
    aero_input_sync(s->in);
}

static QemuInputHandler aero_kbd_handler = {
    .name = "Aero Virtio Keyboard",
    .mask = INPUT_EVENT_MASK_KEY,
    .event = aero_input_handle_event,
    .sync = aero_input_handle_sync,
};

static QemuInputHandler aero_mouse_handler = {
    .name = "Aero Virtio Mouse",
    .mask = INPUT_EVENT_MASK_BTN | INPUT_EVENT_MASK_REL,
    .event = aero_input_handle_event,
    .sync = aero_input_handle_sync,
};

static QemuInputHandler aero_tablet_handler = {
    .name = "Aero Virtio Tablet",
    .mask = INPUT_EVENT_MASK_BTN | INPUT_EVENT_MASK_ABS,
    .event = aero_input_handle_event,
    .sync = aero_input_handle_sync,
};

static void aero_input_leds_changed(void *opaque, uint32_t leds)
{
    int state = 0;

    if (leds & (1u << AERO_LED_SCROLLL)) {
        state |= QEMU_SCROLL_LOCK_LED;
    }
    if (leds & (1u << AERO_LED_NUML)) {
        state |= QEMU_NUM_LOCK_LED;
    }
    if (leds & (1u << AERO_LED_CAPSL)) {
        state |= QEMU_CAPS_LOCK_LED;
    }
    kbd_put_ledstate(state);
}

static const struct aero_input_backend_ops aero_input_backend = {
    .leds_changed = aero_input_leds_changed,
};

/*
 * Like QEMU's own virtio-input, the handler is active only while the driver runs, so the PS/2
 * devices keep working in firmware and in an OS without our driver (Windows Setup).
 */
static void aero_input_driver_ok_changed(void *opaque, bool ok)
{
    AeroVirtioInputPCI *s = opaque;

    if (ok) {
        qemu_input_handler_activate(s->hs);
    } else {
        qemu_input_handler_deactivate(s->hs);
    }
}

/*
 * CONTRACT §3.3: the mouse (function 1) and tablet (function 2) belong to the multi-function
 * device whose function 0 is the aero keyboard. Without it the guest does not even enumerate
 * them (or binds them next to a foreign function 0), so refuse that instead of running silently.
 */
/* The keyboard's LED state came with the migration state: show it on the host side too. */
static void aero_input_state_loaded(void *opaque)
{
    AeroVirtioInputPCI *s = opaque;

    if (s->params.kind == AERO_INPUT_KEYBOARD) {
        aero_input_leds_changed(s, aero_input_leds(s->in));
    }
}

static bool aero_input_check_fn0(PCIDevice *pci, bool final, Error **errp)
{
    PCIDevice *f0 = pci_get_bus(pci)->devices[PCI_DEVFN(PCI_SLOT(pci->devfn), 0)];
    const char *kbd = aero_input_type_names[AERO_INPUT_KEYBOARD];

    if (f0 && object_dynamic_cast(OBJECT(f0), kbd)) {
        return true;
    }
    if (!f0 && !final) {
        return true;
    }
    error_setg(errp, "%s at %02x.%x needs %s (multifunction=on) at function 0 of the same slot "
               "(addr=0x%x.0), but function 0 is %s", object_get_typename(OBJECT(pci)),
               PCI_SLOT(pci->devfn), PCI_FUNC(pci->devfn), kbd, PCI_SLOT(pci->devfn),
               f0 ? object_get_typename(OBJECT(f0)) : "empty");
    return false;
}

static void aero_input_machine_done(Notifier *n, void *data)
{
    AeroVirtioInputPCI *s = container_of(n, AeroVirtioInputPCI, machine_done);
    Error *err = NULL;

    if (!aero_input_check_fn0(PCI_DEVICE(s), true, &err)) {
        error_report_err(err);
        exit(1);
    }
}

static struct aero_vdev *aero_virtio_input_create(void *opaque, uint16_t vectors,
                                                   const char **why)
{
    AeroVirtioInputPCI *s = opaque;

    s->params.msix_vectors = vectors;
    s->in = aero_input_new(&s->params, &aero_pci_host_ops, &s->pci, &aero_input_backend, s, why);
    return s->in ? aero_input_vdev(s->in) : NULL;
}

static void aero_virtio_input_destroy(void *opaque)
{
    AeroVirtioInputPCI *s = opaque;

    aero_input_free(s->in);
    s->in = NULL;
}

static void aero_virtio_input_realize(PCIDevice *pci, Error **errp)
{
    AeroVirtioInputPCI *s = AERO_VIRTIO_INPUT_PCI(pci);
    AeroVirtioInputPCIClass *c = AERO_VIRTIO_INPUT_PCI_GET_CLASS(pci);
    unsigned want_fn = c->kind; /* AERO_INPUT_KEYBOARD/MOUSE/TABLET = function 0/1/2 */
    const char *why;

    /* CONTRACT §3.3: keyboard function 0 (multi-function), mouse 1, tablet 2. */
    if (PCI_FUNC(pci->devfn) != want_fn) {
        error_setg(errp, "%s must be PCI function %u of the input device "
                   "(e.g. addr=0x%x.%u)", aero_input_type_names[c->kind], want_fn,
                   PCI_SLOT(pci->devfn), want_fn);
        return;
    }
    if (c->kind == AERO_INPUT_KEYBOARD && !(pci->cap_present & QEMU_PCI_CAP_MULTIFUNCTION)) {
        error_setg(errp, "aero-virtio-keyboard-pci is function 0 of a multi-function device: "
                   "add multifunction=on");
        return;
    }
    /*
     * Function 0 may still follow on the command line (checked again once the machine is
     * assembled). Hot-plug adds a multi-function device's functions > 0 first and function 0
     * last (QEMU refuses them once function 0 is present), so an empty function 0 is fine
     * then too; a foreign one never is.
     */
    if (c->kind != AERO_INPUT_KEYBOARD &&
        !aero_input_check_fn0(pci, phase_check(PHASE_MACHINE_READY) && !DEVICE(pci)->hotplugged,
                              errp)) {
        return;
    }
    s->params = (struct aero_input_params) {
        .kind = c->kind,
        .event_idx = s->event_idx,
        .msix_vectors = s->vectors,
    };
    why = aero_input_check_params(&s->params);
    if (why) {
        error_setg(errp, "%s", why);
        return;
    }
    if (!aero_pci_realize(pci, &s->pci, "aero-virtio-input-bar0", s->vectors,
                          aero_virtio_input_create, aero_virtio_input_destroy, s, errp)) {
        return;
    }
    s->pci.driver_ok_changed = aero_input_driver_ok_changed;
    s->pci.hook_opaque = s;
    s->pci.state_loaded = aero_input_state_loaded;
    s->hs = qemu_input_handler_register(DEVICE(pci), c->handler);
    if (c->kind != AERO_INPUT_KEYBOARD && !phase_check(PHASE_MACHINE_READY)) {
        s->machine_done.notify = aero_input_machine_done;
        qemu_add_machine_init_done_notifier(&s->machine_done);
        s->fn0_check_pending = true;
    }
}

static void aero_virtio_input_exit(PCIDevice *pci)
{
    AeroVirtioInputPCI *s = AERO_VIRTIO_INPUT_PCI(pci);

    if (s->fn0_check_pending) {
        qemu_remove_machine_init_done_notifier(&s->machine_done);
        s->fn0_check_pending = false;
    }
    qemu_input_handler_unregister(s->hs);
    aero_pci_uninstall(pci, &s->pci);
    aero_input_free(s->in);
    s->in = NULL;
}

static void aero_virtio_input_reset(DeviceState *dev)
{
    aero_pci_reset(&AERO_VIRTIO_INPUT_PCI(dev)->pci);
}

static char *aero_virtio_input_get_stats(Object *obj, Error **errp)
{
    AeroVirtioInputPCI *s = AERO_VIRTIO_INPUT_PCI(obj);
    struct aero_input_stats st;
    g_autofree char *q = aero_pci_stats(&s->pci);
    g_autofree char *wheel = NULL;

    if (!s->in) {
        return g_strdup("");
    }
    aero_input_get_stats(s->in, &st);
    if (aero_input_kind_of(s) == AERO_INPUT_TABLET) {
        wheel = g_strdup_printf(" wheel_forwarded=%" PRIu64 " wheel_dropped=%" PRIu64,
                                s->wheel_forwarded, s->wheel_dropped);
    }
    return g_strdup_printf("%sevents=%" PRIu64 " dropped=%" PRIu64 " batches=%" PRIu64
                           " status_events=%" PRIu64 " leds=0x%x%s\n",
                           q, st.events_delivered, st.events_dropped, st.batches,
                           st.status_events, aero_input_leds(s->in), wheel ? wheel : "");
}

static void aero_virtio_input_instance_init(Object *obj)
{
    aero_pci_instance_init(PCI_DEVICE(obj));
    object_property_add_str(obj, "stats", aero_virtio_input_get_stats, NULL);
}

static Property aero_virtio_input_properties[] = {
    /* Off by default: Aero's Win7 virtio-input driver refuses EVENT_IDX (CONTRACT). */
    DEFINE_PROP_BOOL("event-idx", AeroVirtioInputPCI, event_idx, false),
    DEFINE_PROP_UINT32("vectors", AeroVirtioInputPCI, vectors, AERO_INPUT_MSIX_VECTORS),
    DEFINE_AERO_PCI_TEST_PROPERTIES(AeroVirtioInputPCI, pci),
    DEFINE_PROP_END_OF_LIST(),
};

/* PCI config space, MSI-X table and PBA, then the library's state (aero-pci.h). */
static const VMStateDescription aero_virtio_input_vmstate = {
    .name = TYPE_AERO_VIRTIO_INPUT_PCI,
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, AeroVirtioInputPCI),
        VMSTATE_MSIX(parent_obj, AeroVirtioInputPCI),
        VMSTATE_AERO_PCI(pci, AeroVirtioInputPCI),
        VMSTATE_END_OF_LIST()
    },
};

static void aero_virtio_input_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = aero_virtio_input_realize;
    k->exit = aero_virtio_input_exit;
    dc->reset = aero_virtio_input_reset;
    dc->vmsd = &aero_virtio_input_vmstate;
    device_class_set_props(dc, aero_virtio_input_properties);
    set_bit(DEVICE_CATEGORY_INPUT, dc->categories);
}

static void aero_virtio_input_kind_class_init(ObjectClass *klass, void *data)
{
    AeroVirtioInputPCIClass *c = AERO_VIRTIO_INPUT_PCI_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    DeviceClass *dc = DEVICE_CLASS(klass);
    static QemuInputHandler *const handlers[] = {
        &aero_kbd_handler, &aero_mouse_handler, &aero_tablet_handler,
    };
    static const char *const descs[] = {
        "AERO-W7-VIRTIO keyboard (input function 0, multifunction=on)",
        "AERO-W7-VIRTIO mouse (input function 1)",
        "AERO-W7-VIRTIO tablet (input function 2)",
    };

    c->kind = (enum aero_input_kind)(uintptr_t)data;
    c->handler = handlers[c->kind];
    aero_pci_class_set_identity(k, &aero_input_pci_identity[c->kind]);
    dc->desc = descs[c->kind];
}

static const TypeInfo aero_virtio_input_types[] = {
    {
        .name = TYPE_AERO_VIRTIO_INPUT_PCI,
        .parent = TYPE_PCI_DEVICE,
        .abstract = true,
        .instance_size = sizeof(AeroVirtioInputPCI),
        .instance_init = aero_virtio_input_instance_init,
        .class_size = sizeof(AeroVirtioInputPCIClass),
        .class_init = aero_virtio_input_class_init,
        .interfaces = (InterfaceInfo[]) {
            { INTERFACE_CONVENTIONAL_PCI_DEVICE },
            { INTERFACE_PCIE_DEVICE },
            { },
        },
    }, {
        .name = "aero-virtio-keyboard-pci",
        .parent = TYPE_AERO_VIRTIO_INPUT_PCI,
        .class_init = aero_virtio_input_kind_class_init,
        .class_data = (void *)(uintptr_t)AERO_INPUT_KEYBOARD,
    }, {
        .name = "aero-virtio-mouse-pci",
        .parent = TYPE_AERO_VIRTIO_INPUT_PCI,
        .class_init = aero_virtio_input_kind_class_init,
        .class_data = (void *)(uintptr_t)AERO_INPUT_MOUSE,
    }, {
        .name = "aero-virtio-tablet-pci",
        .parent = TYPE_AERO_VIRTIO_INPUT_PCI,
        .class_init = aero_virtio_input_kind_class_init,
        .class_data = (void *)(uintptr_t)AERO_INPUT_TABLET,
    },
};

DEFINE_TYPES(aero_virtio_input_types)
