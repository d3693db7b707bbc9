/* aero-conformance: checks of one virtio-pci function against CONTRACT.md, clause by clause.
 *
 * The expectations (IDs, layout, queue sizes, feature sets, status codes) are the contract's,
 * written here on purpose instead of taken from the library: a checker that read the model's
 * own constants would agree with any bug in them (the seeded-fault test proves the difference).
 */
#ifndef AERO_CONFORMANCE_H
#define AERO_CONFORMANCE_H

#include "vdrv.h"

enum kind_id { K_BLK, K_NET, K_KEYBOARD, K_MOUSE, K_TABLET, K_SND, K_COUNT };
#define KM(k) (1u << (k))
#define KM_ALL ((1u << K_COUNT) - 1)
#define KM_INPUT (KM(K_KEYBOARD) | KM(K_MOUSE) | KM(K_TABLET))

/* CONTRACT §1 table and §3 per device */
struct kind {
    const char *name;
    uint16_t device_id, subsys;
    uint32_t class_code;
    uint8_t header_type;
    uint16_t num_queues;
    uint16_t qsize[4];
    uint64_t dev_features; /* device-specific bits the contract offers */
    bool event_idx_default;
    uint16_t msix_vectors;
    bool boot_device; /* firmware boots from it (storage, network) */
    uint16_t probe_q; /* a queue where a harmless request completes */
    bool has_status;  /* that request carries a device-written status */
};
extern const struct kind kinds[K_COUNT];

struct ctx {
    enum kind_id kid;
    const struct kind *k;
    const char *label;
    bool strict;
    struct vd_dev d;
    struct vd_mem lo, hi;
    uint64_t offered;
    /* from the device's properties (the host passes them) */
    unsigned net_hdr_len; /* 10 (contract) or 12 */
    bool net_hdr_fixed;   /* the device has only the 12-byte header (stock) */
    bool snd_virtio;      /* snd protocol=virtio (status 0x8000.., 4-byte xfer header) */
    const char *serial;   /* blk serial= */
    uint64_t disk_sectors;
    uint8_t mac[6];
    bool have_mac;
    char netdev[32]; /* the -netdev id, for QMP set_link */
    unsigned reported[400];
    char modules_run[8]; /* id prefixes (T, R, B, N, I, S) whose module ran */
    int n_pass, n_fail, n_skip;
};

enum result { PASS, FAIL, SKIP };

/* Report one check; the section and title come from the registry (checks.c). */
void report(struct ctx *c, const char *id, enum result r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* PASS when ok, else FAIL; same detail either way. */
void verdict(struct ctx *c, const char *id, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bool applies(const struct ctx *c, const char *id);
/* Every check of a module that ran but gave no verdict is reported as a failure. */
void report_unreported(struct ctx *c);
void module_ran(struct ctx *c, char prefix);
void list_checks(void);

/* ---- shared driver steps (checks.c) ---- */
/* Reset; negotiate feats; program and enable queues [0, nq) (sizes[q] or max when NULL/0) in
 * c->lo (or hi when rings_high); DRIVER_OK. false (why set) when something does not work. */
bool bringup(struct ctx *c, uint64_t feats, struct vd_vq *vqs, unsigned nq, const uint16_t *sizes,
             bool rings_high, char *why, size_t whylen);
/* The contract's features for this kind, as offered (never EVENT_IDX). */
uint64_t base_features(const struct ctx *c);

/* A harmless request on kind->probe_q that completes (blk IN of sector 0, net TX of a frame
 * nobody answers, input statusq LED event, snd PCM_INFO). */
struct probe {
    struct vd_seg seg[8];
    unsigned n;
    volatile uint8_t *status; /* device-written status, NULL when the request has none */
    unsigned status_len;
};
void probe_build(struct ctx *c, struct vd_mem *m, struct probe *p, bool split, unsigned misalign);
bool probe_ok(struct ctx *c, const struct probe *p, char *why, size_t whylen);
/* Bring up (base features + extra), probe once; returns 1 ok, 0 not (why). */
bool probe_roundtrip(struct ctx *c, struct vd_vq *vq, struct probe *p, bool indirect,
                     char *why, size_t whylen);

/* ---- modules ---- */
void checks_transport(struct ctx *c);
void checks_ring(struct ctx *c);
void checks_blk(struct ctx *c);
void checks_net(struct ctx *c);
void checks_input(struct ctx *c);
void checks_snd(struct ctx *c);

/* Ask the host for a QMP command (scripts/conformance.sh watches the console for this line). */
void host_qmp(struct ctx *c, const char *json);

#endif
