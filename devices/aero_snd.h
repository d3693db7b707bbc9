/* aero-virtio-snd: CONTRACT §3.4 sound device (controlq 0 (64), eventq 1 (64), txq 2 (256),
 * rxq 3 (64); two fixed PCM streams: 0 playback 2 ch S16_LE 48 kHz, 1 capture 1 ch S16_LE
 * 48 kHz). The host's audio clock drives the data path: it pulls playback PCM with
 * aero_snd_playback_pull() and pushes captured PCM with aero_snd_capture_push() at the pace its
 * audio backend runs; a transfer buffer completes when its last byte has been played or its last
 * byte captured ("period elapsed"). The device tells the host when a stream starts or stops
 * through the backend's running() callback.
 *
 * Two wire encodings, everything else identical (`protocol`):
 * - AERO_SND_PROTOCOL_AERO (default, CONTRACT §3.4): status codes OK 0, BAD_MSG 1, NOT_SUPP 2,
 *   IO_ERR 3; PCM transfer header {stream_id u32, reserved u32} (8 bytes).
 * - AERO_SND_PROTOCOL_VIRTIO (virtio 1.2 §5.14, what Linux's virtio_snd speaks): status codes
 *   0x8000..0x8003; transfer header {stream_id u32} (4 bytes).
 */
#ifndef AERO_SND_H
#define AERO_SND_H

#include "aero_virtio.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VIRTIO_ID_SOUND 25
#define AERO_SND_MSIX_VECTORS 5 /* config + 4 queues */

#define AERO_SND_CONTROLQ 0
#define AERO_SND_EVENTQ 1
#define AERO_SND_TXQ 2
#define AERO_SND_RXQ 3
#define AERO_SND_CONTROLQ_SIZE 64
#define AERO_SND_EVENTQ_SIZE 64
#define AERO_SND_TXQ_SIZE 256
#define AERO_SND_RXQ_SIZE 64

/* virtio 1.2 §5.14.6 request codes (both encodings). */
#define VIRTIO_SND_R_JACK_INFO 1
#define VIRTIO_SND_R_JACK_REMAP 2
#define VIRTIO_SND_R_PCM_INFO 0x0100
#define VIRTIO_SND_R_PCM_SET_PARAMS 0x0101
#define VIRTIO_SND_R_PCM_PREPARE 0x0102
#define VIRTIO_SND_R_PCM_RELEASE 0x0103
#define VIRTIO_SND_R_PCM_START 0x0104
#define VIRTIO_SND_R_PCM_STOP 0x0105
#define VIRTIO_SND_R_CHMAP_INFO 0x0200

/* Status codes of the virtio encoding; the Aero encoding subtracts 0x8000 (CONTRACT §3.4). */
#define VIRTIO_SND_S_OK 0x8000
#define VIRTIO_SND_S_BAD_MSG 0x8001
#define VIRTIO_SND_S_NOT_SUPP 0x8002
#define VIRTIO_SND_S_IO_ERR 0x8003

#define VIRTIO_SND_D_OUTPUT 0
#define VIRTIO_SND_D_INPUT 1
#define VIRTIO_SND_PCM_FMT_S16 5
#define VIRTIO_SND_PCM_RATE_48000 7

/* CONTRACT §3.4: the two fixed streams. */
#define AERO_SND_STREAMS 2
#define AERO_SND_PLAYBACK 0
#define AERO_SND_CAPTURE 1
#define AERO_SND_RATE 48000u
#define AERO_SND_PLAYBACK_CHANNELS 2u
#define AERO_SND_CAPTURE_CHANNELS 1u
#define AERO_SND_MAX_PAYLOAD 262144u /* larger transfer payloads are BAD_MSG */
#define AERO_SND_PCM_INFO_SIZE 32u

enum aero_snd_protocol { AERO_SND_PROTOCOL_AERO = 0, AERO_SND_PROTOCOL_VIRTIO = 1 };

/* virtio 1.2 §5.14.6.6.1 stream states. A stream starts in NONE (no parameters set). */
enum aero_snd_state {
    AERO_SND_STATE_NONE,
    AERO_SND_STATE_PARAMS,   /* SET_PARAMS done */
    AERO_SND_STATE_PREPARED, /* PREPARE done: transfer buffers are accepted and held */
    AERO_SND_STATE_RUNNING,  /* START: playback plays, capture records */
    AERO_SND_STATE_STOPPED,  /* STOP: buffers held, START resumes */
    AERO_SND_STATE_RELEASED, /* RELEASE: every pending buffer completed */
};

struct aero_snd_backend_ops {
    /* Optional: stream (AERO_SND_PLAYBACK/CAPTURE) started (true) or stopped (false). The host
     * then starts or stops pulling/pushing PCM for it (QEMU: AUD_set_active_out/in). */
    void (*running)(void *opaque, unsigned stream, bool on);
};

struct aero_snd_params {
    enum aero_snd_protocol protocol;
    bool event_idx;        /* default off (CONTRACT "Our one extension") */
    uint16_t msix_vectors; /* 0 or 5 */
};

struct aero_snd_stats {
    uint64_t ctl_requests, ctl_errors; /* control messages; answered other than OK */
    uint64_t tx_buffers, tx_bytes;     /* playback buffers completed OK; their PCM bytes */
    uint64_t underrun_bytes;           /* silence the host got while running and starved */
    uint64_t rx_buffers, rx_bytes;     /* capture buffers completed OK; captured bytes */
    uint64_t overrun_bytes;            /* captured bytes dropped: no capture buffer posted */
    uint64_t xfer_errors;              /* transfer buffers answered BAD_MSG or IO_ERR */
};

/* CONTRACT §1: PCI identity (1af4:1059 rev 01, subsystem 0019, class 0x040100). */
AERO_API extern const struct aero_pci_identity aero_snd_pci_identity;

struct aero_snd;

/* The `protocol` property: "aero" or "virtio" (NULL or "" mean the default, aero). NULL when
 * name is one of them (*out set), else why not (one line for the user). */
AERO_API const char *aero_snd_parse_protocol(const char *name, enum aero_snd_protocol *out);

/* NULL when p is acceptable, else why not (one line for the user). */
AERO_API const char *aero_snd_check_params(const struct aero_snd_params *p);

/* Create the device and its transport; on NULL, *why (if why is not NULL) says why. */
AERO_API struct aero_snd *aero_snd_new(const struct aero_snd_params *p,
                                       const struct aero_host_ops *host, void *host_opaque,
                                       const struct aero_snd_backend_ops *backend,
                                       void *backend_opaque, const char **why);
AERO_API void aero_snd_free(struct aero_snd *snd);
AERO_API struct aero_vdev *aero_snd_vdev(struct aero_snd *snd);

/* Playback clock tick: the host's backend can take len bytes (S16_LE, 2 channels, 48 kHz) now.
 * While stream 0 runs, buf is filled completely: the held transfer buffers' PCM in order, then
 * silence (underrun); every buffer whose last byte went out is completed OK, one used-ring
 * publish per call. Returns len while running, 0 (buf untouched) otherwise. */
AERO_API size_t aero_snd_playback_pull(struct aero_snd *snd, void *buf, size_t len);

/* Capture clock tick: len bytes (S16_LE, 1 channel, 48 kHz) were recorded. While stream 1 runs
 * they fill the held capture buffers in order; a full buffer completes OK with used.len =
 * payload + 8. Bytes with no buffer to go to are dropped (overrun_bytes). Returns the bytes
 * consumed: len while running, 0 otherwise. */
AERO_API size_t aero_snd_capture_push(struct aero_snd *snd, const void *buf, size_t len);

AERO_API enum aero_snd_state aero_snd_stream_state(const struct aero_snd *snd, unsigned stream);
/* Bytes of PCM held for the stream (queued, not yet played / not yet filled). */
AERO_API uint64_t aero_snd_queued_bytes(const struct aero_snd *snd, unsigned stream);
AERO_API void aero_snd_get_stats(const struct aero_snd *snd, struct aero_snd_stats *out);

#ifdef __cplusplus
}
#endif
#endif
