/* aero-virtio-input: CONTRACT §3.3 keyboard / mouse / tablet (eventq 0, statusq 1, 64 each).
 * The host feeds Linux evdev events and ends each batch with aero_input_sync(); the device keeps
 * whole batches (bounded, in order) until the driver posts event buffers.
 */
#ifndef AERO_INPUT_H
#define AERO_INPUT_H

#include "aero_virtio.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VIRTIO_ID_INPUT 18
#define AERO_INPUT_QUEUE_SIZE 64
#define AERO_INPUT_MSIX_VECTORS 3 /* config + eventq + statusq */

#define VIRTIO_INPUT_CFG_UNSET 0x00
#define VIRTIO_INPUT_CFG_ID_NAME 0x01
#define VIRTIO_INPUT_CFG_ID_SERIAL 0x02
#define VIRTIO_INPUT_CFG_ID_DEVIDS 0x03
#define VIRTIO_INPUT_CFG_PROP_BITS 0x10
#define VIRTIO_INPUT_CFG_EV_BITS 0x11
#define VIRTIO_INPUT_CFG_ABS_INFO 0x12

/* Linux evdev numbers used by the contract. */
#define AERO_EV_SYN 0x00
#define AERO_EV_KEY 0x01
#define AERO_EV_REL 0x02
#define AERO_EV_ABS 0x03
#define AERO_EV_LED 0x11
#define AERO_SYN_REPORT 0
#define AERO_REL_X 0x00
#define AERO_REL_Y 0x01
#define AERO_REL_HWHEEL 0x06
#define AERO_REL_WHEEL 0x08
#define AERO_ABS_X 0x00
#define AERO_ABS_Y 0x01
#define AERO_BTN_LEFT 0x110
#define AERO_BTN_RIGHT 0x111
#define AERO_BTN_MIDDLE 0x112
#define AERO_BTN_SIDE 0x113
#define AERO_BTN_EXTRA 0x114
#define AERO_BTN_FORWARD 0x115
#define AERO_BTN_BACK 0x116
#define AERO_BTN_TASK 0x117
#define AERO_LED_NUML 0
#define AERO_LED_CAPSL 1
#define AERO_LED_SCROLLL 2
#define AERO_LED_COMPOSE 3
#define AERO_LED_KANA 4

#define AERO_INPUT_ABS_MAX 32767
#define AERO_INPUT_BACKLOG 1024 /* events kept while no buffer is posted */

/* CONTRACT §3.3: one multi-function device; the kind is also the PCI function number. */
enum aero_input_kind { AERO_INPUT_KEYBOARD, AERO_INPUT_MOUSE, AERO_INPUT_TABLET };
#define AERO_INPUT_KINDS 3

struct aero_input_backend_ops {
    /* Optional: the driver changed the LED state (bit n = LED code n). */
    void (*leds_changed)(void *opaque, uint32_t leds);
};

struct aero_input_params {
    enum aero_input_kind kind;
    bool event_idx;        /* default off: Aero's Win7 driver refuses EVENT_IDX */
    uint16_t msix_vectors; /* 0 or 3 */
};

struct aero_input_stats {
    uint64_t events_delivered, events_dropped, batches, status_events;
};

/* CONTRACT §1/§3.3: PCI identity of each function, indexed by kind (the keyboard's header
 * type carries the multi-function bit). */
AERO_API extern const struct aero_pci_identity aero_input_pci_identity[AERO_INPUT_KINDS];

struct aero_input;

/* NULL when p is acceptable, else why not (one line for the user). */
AERO_API const char *aero_input_check_params(const struct aero_input_params *p);

/* Create the function and its transport; on NULL, *why (if why is not NULL) says why. */
AERO_API struct aero_input *aero_input_new(const struct aero_input_params *p,
                                           const struct aero_host_ops *host, void *host_opaque,
                                           const struct aero_input_backend_ops *backend,
                                           void *backend_opaque, const char **why);
AERO_API void aero_input_free(struct aero_input *in);
AERO_API struct aero_vdev *aero_input_vdev(struct aero_input *in);

/* Queue one event of the current batch. Events of a type/code this device does not advertise
 * are ignored (returns false). Keyboard keys follow CONTRACT §3.3 (1 press / 0 release, no
 * auto-repeat): a press of a key already down, a release of a key already up and any other
 * value are ignored too; reset releases every key. */
AERO_API bool aero_input_event(struct aero_input *in, uint16_t type, uint16_t code, int32_t value);
/* End the batch: append SYN_REPORT and deliver what the posted buffers allow. A batch that does
 * not fit the backlog is dropped whole (never half a batch). */
AERO_API void aero_input_sync(struct aero_input *in);

AERO_API uint32_t aero_input_leds(const struct aero_input *in);
AERO_API void aero_input_get_stats(const struct aero_input *in, struct aero_input_stats *out);
/* Whether code is advertised for type (used by hosts and tests). */
AERO_API bool aero_input_has_code(const struct aero_input *in, uint16_t type, uint16_t code);

#ifdef __cplusplus
}
#endif
#endif
