/*
 * aero-virtio-snd-pci: QEMU glue for the AERO-W7-VIRTIO sound device. The control queue, the
 * stream state machine and the transfer buffers live in the aero-virtio library; this file
 * connects it to QEMU's audio layer (any -audiodev: wav, none, alsa, pa, ...) and to PCI.
 * QEMU's audio timer is the clock: each playback callback pulls as many bytes as the backend
 * can take from the library, each capture callback pushes what the backend recorded; the
 * library completes a transfer buffer once its last byte went through. Nothing is pulled or
 * pushed while the VM is stopped (a migration's final RAM copy may be under way): the audio
 * layer plays silence meanwhile and captured sound is dropped.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/module.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "sysemu/runstate.h"
#include "audio/audio.h"
#include "aero-pci.h"
#include "aero_snd.h"

#define TYPE_AERO_VIRTIO_SND_PCI "aero-virtio-snd-pci"
OBJECT_DECLARE_SIMPLE_TYPE(AeroVirtioSndPCI, AERO_VIRTIO_SND_PCI)

#define AERO_SND_OUT_FRAME (AERO_SND_PLAYBACK_CHANNELS * 2)
#define AERO_SND_IN_FRAME (AERO_SND_CAPTURE_CHANNELS * 2)

struct AeroVirtioSndPCI {
    PCIDevice parent_obj;
    AeroPCIState pci;
    QEMUSoundCard card;
    SWVoiceOut *out;
    SWVoiceIn *in;
    bool event_idx;
    uint32_t vectors;
    char *protocol;
    struct aero_snd_params params;
    struct aero_snd *snd;
    /* Playback bytes pulled from the library (their buffers may be completed already) that
     * the audio layer has not taken yet. */
    uint8_t out_buf[4096];
    size_t out_len, out_pos;
    uint8_t in_buf[4096];
};

static void aero_snd_out_cb(void *opaque, int avail)
{
    AeroVirtioSndPCI *s = opaque;
    size_t room = avail > 0 && runstate_is_running() ? avail : 0;

    while (room > 0 && s->snd) {
        size_t w;

        if (s->out_pos == s->out_len) {
            size_t n = MIN(room, sizeof(s->out_buf));

            n -= n % AERO_SND_OUT_FRAME;
            if (n == 0) {
                break;
            }
            s->out_len = aero_snd_playback_pull(s->snd, s->out_buf, n);
            s->out_pos = 0;
            if (s->out_len == 0) {
                break;
            }
        }
        w = AUD_write(s->out, s->out_buf + s->out_pos, MIN(room, s->out_len - s->out_pos));
        if (w == 0) {
            break;
        }
        s->out_pos += w;
        room -= MIN(room, w);
    }
}

static void aero_snd_in_cb(void *opaque, int avail)
{
    AeroVirtioSndPCI *s = opaque;
    size_t left = avail > 0 && runstate_is_running() ? avail : 0;

    while (left > 0 && s->snd) {
        size_t n = MIN(left, sizeof(s->in_buf)), got;

        n -= n % AERO_SND_IN_FRAME;
        if (n == 0) {
            break;
        }
        got = AUD_read(s->in, s->in_buf, n);
        if (got == 0) {
            break;
        }
        aero_snd_capture_push(s->snd, s->in_buf, got);
        left -= MIN(left, got);
    }
}

static void aero_snd_running(void *opaque, unsigned stream, bool on)
{
    AeroVirtioSndPCI *s = opaque;

    if (stream == AERO_SND_PLAYBACK) {
        if (!on) {
            s->out_pos = s->out_len = 0; /* a stopped stream restarts with its own data */
        }
        if (s->out) {
            AUD_set_active_out(s->out, on);
        }
    } else if (s->in) {
        AUD_set_active_in(s->in, on);
    }
}

/* The streams' states came with the migration state (the library switched the voices on or off
 * through aero_snd_running); bytes pulled here before belong to this VM's previous life. */
static void aero_snd_state_loaded(void *opaque)
{
    AeroVirtioSndPCI *s = opaque;

    s->out_pos = s->out_len = 0;
}

static const struct aero_snd_backend_ops aero_snd_backend = {
    .running = aero_snd_running,
};

static struct aero_vdev *aero_virtio_snd_create(void *opaque, uint16_t vectors, const char **why)
{
    AeroVirtioSndPCI *s = opaque;

    s->params.msix_vectors = vectors;
    s->snd = aero_snd_new(&s->params, &aero_pci_host_ops, &s->pci, &aero_snd_backend, s, why);
    return s->snd ? aero_snd_vdev(s->snd) : NULL;
}

static void aero_virtio_snd_destroy(void *opaque)
{
    AeroVirtioSndPCI *s = opaque;

    aero_snd_free(s->snd);
    s->snd = NULL;
}

static void aero_virtio_snd_close_voices(AeroVirtioSndPCI *s)
{
    if (s->out) {
        AUD_close_out(&s->card, s->out);
        s->out = NULL;
    }
    if (s->in) {
        AUD_close_in(&s->card, s->in);
        s->in = NULL;
    }
    AUD_remove_card(&s->card);
}

static void aero_virtio_snd_realize(PCIDevice *pci, Error **errp)
{
    AeroVirtioSndPCI *s = AERO_VIRTIO_SND_PCI(pci);
    struct audsettings as_out = {
        .freq = AERO_SND_RATE, .nchannels = AERO_SND_PLAYBACK_CHANNELS,
        .fmt = AUDIO_FORMAT_S16, .endianness = 0,
    };
    struct audsettings as_in = {
        .freq = AERO_SND_RATE, .nchannels = AERO_SND_CAPTURE_CHANNELS,
        .fmt = AUDIO_FORMAT_S16, .endianness = 0,
    };
    const char *why;

    s->params = (struct aero_snd_params) {
        .event_idx = s->event_idx,
        .msix_vectors = MIN(s->vectors, UINT16_MAX),
    };
    why = aero_snd_parse_protocol(s->protocol, &s->params.protocol);
    if (!why) {
        why = aero_snd_check_params(&s->params);
    }
    if (why) {
        error_setg(errp, "%s", why);
        return;
    }
    AUD_register_card("aero-virtio-snd", &s->card);
    s->out = AUD_open_out(&s->card, NULL, "aero-snd.out", s, aero_snd_out_cb, &as_out);
    if (!s->out) {
        aero_virtio_snd_close_voices(s);
        error_setg(errp, "aero-virtio-snd-pci: the audiodev cannot play 2 ch S16 48 kHz");
        return;
    }
    s->in = AUD_open_in(&s->card, NULL, "aero-snd.in", s, aero_snd_in_cb, &as_in);
    if (!s->in) {
        warn_report("aero-virtio-snd-pci: audiodev %s has no capture; the capture stream "
                    "records nothing", audio_get_id(&s->card));
    }
    s->pci.hook_opaque = s;
    s->pci.state_loaded = aero_snd_state_loaded;
    if (!aero_pci_realize(pci, &s->pci, "aero-virtio-snd-bar0", s->params.msix_vectors,
                          aero_virtio_snd_create, aero_virtio_snd_destroy, s, errp)) {
        aero_virtio_snd_close_voices(s);
        return;
    }
}

static void aero_virtio_snd_exit(PCIDevice *pci)
{
    AeroVirtioSndPCI *s = AERO_VIRTIO_SND_PCI(pci);

    aero_pci_uninstall(pci, &s->pci);
    aero_virtio_snd_close_voices(s);
    aero_snd_free(s->snd);
    s->snd = NULL;
}

static void aero_virtio_snd_reset(DeviceState *dev)
{
    aero_pci_reset(&AERO_VIRTIO_SND_PCI(dev)->pci);
}

static char *aero_virtio_snd_get_stats(Object *obj, Error **errp)
{
    AeroVirtioSndPCI *s = AERO_VIRTIO_SND_PCI(obj);
    struct aero_snd_stats st;
    g_autofree char *q = aero_pci_stats(&s->pci);

    if (!s->snd) {
        return g_strdup("");
    }
    aero_snd_get_stats(s->snd, &st);
    return g_strdup_printf("%sctl_requests=%" PRIu64 " ctl_errors=%" PRIu64
                           " tx_buffers=%" PRIu64 " tx_bytes=%" PRIu64
                           " underrun_bytes=%" PRIu64 " rx_buffers=%" PRIu64
                           " rx_bytes=%" PRIu64 " overrun_bytes=%" PRIu64
                           " xfer_errors=%" PRIu64 " playback_state=%d capture_state=%d\n",
                           q, st.ctl_requests, st.ctl_errors, st.tx_buffers, st.tx_bytes,
                           st.underrun_bytes, st.rx_buffers, st.rx_bytes, st.overrun_bytes,
                           st.xfer_errors, aero_snd_stream_state(s->snd, AERO_SND_PLAYBACK),
                           aero_snd_stream_state(s->snd, AERO_SND_CAPTURE));
}

static void aero_virtio_snd_instance_init(Object *obj)
{
    aero_pci_instance_init(PCI_DEVICE(obj));
    object_property_add_str(obj, "stats", aero_virtio_snd_get_stats, NULL);
}

static Property aero_virtio_snd_properties[] = {
    DEFINE_AUDIO_PROPERTIES(AeroVirtioSndPCI, card),
    DEFINE_PROP_BOOL("event-idx", AeroVirtioSndPCI, event_idx, false),
    DEFINE_PROP_UINT32("vectors", AeroVirtioSndPCI, vectors, AERO_SND_MSIX_VECTORS),
    DEFINE_PROP_STRING("protocol", AeroVirtioSndPCI, protocol),
    DEFINE_AERO_PCI_TEST_PROPERTIES(AeroVirtioSndPCI, pci),
    DEFINE_PROP_END_OF_LIST(),
};

/* PCI config space, MSI-X table and PBA, then the library's state (aero-pci.h): stream states
 * and the transfer buffers held, which the destination re-reads from guest memory. */
static const VMStateDescription aero_virtio_snd_vmstate = {
    .name = TYPE_AERO_VIRTIO_SND_PCI,
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, AeroVirtioSndPCI),
        VMSTATE_MSIX(parent_obj, AeroVirtioSndPCI),
        VMSTATE_AERO_PCI(pci, AeroVirtioSndPCI),
        VMSTATE_END_OF_LIST()
    },
};

static void aero_virtio_snd_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = aero_virtio_snd_realize;
    k->exit = aero_virtio_snd_exit;
    aero_pci_class_set_identity(k, &aero_snd_pci_identity);
    k->romfile = NULL;
    dc->desc = "AERO-W7-VIRTIO sound device (modern virtio-pci, contract v1)";
    dc->reset = aero_virtio_snd_reset;
    dc->vmsd = &aero_virtio_snd_vmstate;
    device_class_set_props(dc, aero_virtio_snd_properties);
    set_bit(DEVICE_CATEGORY_SOUND, dc->categories);
}

static const TypeInfo aero_virtio_snd_info = {
    .name = TYPE_AERO_VIRTIO_SND_PCI,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(AeroVirtioSndPCI),
    .instance_init = aero_virtio_snd_instance_init,
    .class_init = aero_virtio_snd_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { INTERFACE_PCIE_DEVICE },
        { },
    },
};

static void aero_virtio_snd_register_types(void)
{
    type_register_static(&aero_virtio_snd_info);
}

type_init(aero_virtio_snd_register_types)
