/* aero-conformance: the check registry (stable ids, the contract section each proves), result
 * reporting, and the driver steps every check module shares (bring-up, the per-kind probe). */
#include "conformance.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CONTRACT §1 table, §3 per device. Queue sizes: §3.1-§3.4. */
const struct kind kinds[K_COUNT] = {
    [K_BLK] = {"blk", 0x1042, 0x0002, 0x010000, 0x00, 1, {128}, BIT(2) | BIT(6) | BIT(9), true, 2,
               true, 0, true},
    [K_NET] = {"net", 0x1041, 0x0001, 0x020000, 0x00, 2, {256, 256}, BIT(5) | BIT(16), true, 3,
               true, 1, false},
    [K_KEYBOARD] = {"keyboard", 0x1052, 0x0010, 0x098000, 0x80, 2, {64, 64}, 0, false, 3, false, 1,
                    false},
    [K_MOUSE] = {"mouse", 0x1052, 0x0011, 0x098000, 0x00, 2, {64, 64}, 0, false, 3, false, 1,
                 false},
    [K_TABLET] = {"tablet", 0x1052, 0x0012, 0x098000, 0x00, 2, {64, 64}, 0, false, 3, false, 1,
                  false},
    [K_SND] = {"snd", 0x1059, 0x0019, 0x040100, 0x00, 4, {64, 64, 256, 64}, 0, false, 5, false, 0,
               true},
};

struct check {
    const char *id, *section;
    unsigned kinds;
    const char *title;
};

#define KB KM(K_BLK)
#define KN KM(K_NET)
#define KI KM_INPUT
#define KS KM(K_SND)
#define KA KM_ALL

static const struct check registry[] = {
    /* §1 transport */
    {"T1.01", "§1", KA, "vendor ID 0x1AF4"},
    {"T1.02", "§1", KA, "device ID 0x1040 + virtio id, modern-only"},
    {"T1.03", "§1/§4", KA, "revision ID 0x01 (contract v1)"},
    {"T1.04", "§1", KA, "subsystem vendor ID 0x1AF4"},
    {"T1.05", "§1", KA, "subsystem ID per the contract table"},
    {"T1.06", "§1", KA, "class code per the contract table"},
    {"T1.07", "§1/§3.3", KA, "header type (0x80 on input function 0)"},
    {"T1.08", "§1", KA, "interrupt pin INTA#"},
    {"T1.09", "§1", KA, "capability list present (status bit 4, pointer 0x34)"},
    {"T1.10", "§1", KA, "capability chain acyclic, 4-byte aligned pointers"},
    {"T1.11", "§1", KA, "vendor caps cap_len >= 16, notify >= 20"},
    {"T1.12", "§1", KA, "COMMON cap: BAR0 0x0000, length 0x100"},
    {"T1.13", "§1", KA, "NOTIFY cap: BAR0 0x1000, length 0x100, multiplier 4"},
    {"T1.14", "§1", KA, "ISR cap: BAR0 0x2000, length 0x20"},
    {"T1.15", "§1", KA, "DEVICE cap: BAR0 0x3000, length 0x100"},
    {"T1.16", "§1", KA, "BAR0 64-bit memory, size 0x4000"},
    {"T1.17", "§1", KA, "no I/O BARs"},
    {"T1.18", "§1", KA, "PCI_CFG capability (cfg_type 5) as the contract states it"},
    {"T1.19", "§1", KA, "firmware-bootable: subsystem ID < 0x40 needs an option ROM (OVMF)"},
    {"T1.20", "§1", KA, "undefined common_cfg/ISR bytes read 0"},
    {"T1.21", "§1", KA, "gaps of the fixed BAR0 layout read 0 at widths 1/2/4"},
    {"T1.22", "§1", KA, "writes to undefined BAR0 offsets ignored"},
    {"T1.23", "§1", KA, "VERSION_1 offered"},
    {"T1.24", "§1", KA, "RING_INDIRECT_DESC offered"},
    {"T1.25", "§1", KA, "RING_PACKED never offered"},
    {"T1.26", "EVENT_IDX", KA, "RING_EVENT_IDX offered per profile"},
    {"T1.27", "§1/§3", KA, "offered features exactly the contract set"},
    {"T1.28", "§1", KA, "device_feature_select other than 0/1 reads 0"},
    {"T1.29", "§1", KA, "driver_feature_select other than 0/1: writes ignored"},
    {"T1.30", "§1", KA, "selectors read back (device-global)"},
    {"T1.31", "§1", KA, "FEATURES_OK refused for an unoffered bit"},
    {"T1.32", "§1", KA, "FEATURES_OK refused without VERSION_1"},
    {"T1.33", "§1", KA, "FEATURES_OK accepted for the offered set"},
    {"T1.34", "§1", KA, "device_status 0 resets and reads back 0"},
    {"T1.35", "§1", KA, "reset disables queues and restores their registers"},
    {"T1.36", "§1", KA, "reset clears negotiated features"},
    {"T1.37", "§1", KA, "reset clears the ISR and deasserts INTx"},
    {"T1.38", "§1/§3", KA, "num_queues per device"},
    {"T1.39", "§3", KA, "queue sizes per device"},
    {"T1.40", "§1", KA, "queue_notify_off(q) = q"},
    {"T1.41", "§1", KA, "queue_select out of range: size and notify_off read 0"},
    {"T1.42", "§1", KA, "queue_select out of range: desc/avail/used/enable writes ignored"},
    {"T1.43", "§1", KA, "queue_enable reads back 1 once enabled"},
    {"T1.44", "§1", KA, "64-bit ring addresses read back (two 32-bit halves)"},
    {"T1.45", "§1", KA, "notify with a 16-bit write"},
    {"T1.46", "§1", KA, "notify with a 32-bit write"},
    {"T1.47", "§1", KA, "doorbell of a non-existent queue ignored"},
    {"T1.48", "§1", KA, "ISR bit 0 set for a used buffer"},
    {"T1.49", "§1", KA, "ISR read-to-ack"},
    {"T1.50", "§1", KA, "ISR bits 2..7 read 0"},
    {"T1.51", "§1", KA, "INTx asserted while an ISR bit is pending"},
    {"T1.52", "§1", KA, "INTx deasserted once the ISR is read"},
    {"T1.53", "§1", KA, "INTx delivered to the guest (uio_pci_generic)"},
    {"T1.54", "§1", KA, "MSI-X table in BAR0 at 0x3100 with queues + 1 entries"},
    {"T1.55", "§1", KA, "MSI-X enabled: the queue's vector fires, never INTx"},
    {"T1.56", "§1", KA, "MSI-X vector 0xFFFF: no interrupt at all"},
    {"T1.57", "§1", KA, "MSI-X masked entry: no message"},
    {"T1.58", "§1", KA, "unusable vector numbers read back 0xFFFF"},
    {"T1.59", "§1", KA, "config_generation stable while config is static"},
    {"T1.60", "§1", KA, "read-only common_cfg fields ignore writes"},
    {"T1.61", "§1", KA, "DRIVER_OK without FEATURES_OK is refused or reported"},
    /* §2 rings */
    {"R2.01", "§2", KA, "direct chain (ring descriptor table) completes"},
    {"R2.02", "§2", KA, "longer chain, payload split across descriptors"},
    {"R2.03", "§2", KA, "indirect descriptor table"},
    {"R2.04", "§2", KA, "rings above 4 GiB"},
    {"R2.05", "§2", KA, "buffers above 4 GiB"},
    {"R2.06", "§2", KA, "indirect table above 4 GiB"},
    {"R2.07", "§2", KA, "minimal ring alignment (desc 16, avail 2, used 4)"},
    {"R2.08", "§2", KA, "unaligned buffer addresses"},
    {"R2.09", "§2", KA, "smaller queue size; used ring wraps"},
    {"R2.10", "§2", KA, "a batch published at once, every head completed once"},
    {"R2.11", "§1/§2", KA, "VRING_AVAIL_F_NO_INTERRUPT honoured without EVENT_IDX"},
    {"R2.12", "EVENT_IDX", KA, "used_event ahead: no interrupt"},
    {"R2.13", "EVENT_IDX", KA, "used_event reached: interrupt"},
    {"R2.14", "EVENT_IDX", KA, "with EVENT_IDX, NO_INTERRUPT is ignored"},
    {"R2.15", "EVENT_IDX", KA, "avail_event published"},
    {"R2.16", "EVENT_IDX", KA, "without EVENT_IDX, avail_event never written"},
    {"R2.17", "§2", KA, "descriptor loop: NEEDS_RESET + config interrupt"},
    {"R2.18", "§2", KA, "next index out of range: NEEDS_RESET"},
    {"R2.19", "§2", KA, "nested indirect: NEEDS_RESET"},
    {"R2.20", "§2", KA, "indirect table length not a multiple of 16: NEEDS_RESET"},
    {"R2.21", "§2", KA, "indirect table of length 0: NEEDS_RESET"},
    {"R2.22", "§2", KA, "indirect table larger than the queue: NEEDS_RESET"},
    {"R2.23", "§2", KA, "loop inside an indirect table: NEEDS_RESET"},
    {"R2.24", "§2", KA, "avail ring head >= queue size: NEEDS_RESET"},
    {"R2.25", "§2", KA, "avail.idx more than a ring ahead: NEEDS_RESET"},
    {"R2.26", "§2", KA, "INDIRECT without the feature: NEEDS_RESET"},
    {"R2.27", "§2", KA, "NEXT on the indirect descriptor: NEEDS_RESET"},
    {"R2.28", "§2", KA, "zero-length buffer answered the contract way"},
    {"R2.29", "§2", KA, "bad direction answered the contract way"},
    {"R2.30", "§2", KA, "buffer outside guest RAM answered the contract way"},
    {"R2.31", "§2", KA, "buffer wrapping the address space answered the contract way"},
    {"R2.32", "§1/§2", KA, "NEEDS_RESET: doorbells ignored until reset"},
    {"R2.33", "§1/§2", KA, "every malformed case: the device works again after reset"},
    {"R2.34", "§2", KA, "queue enabled with a size that is not a power of 2: refused"},
    {"R2.35", "§2", KA, "rings outside guest RAM: NEEDS_RESET, nothing completed"},
    /* §3.1 blk */
    {"B3.01", "§3.1", KB, "features SEG_MAX, BLK_SIZE, FLUSH offered"},
    {"B3.02", "§3.1", KB, "no RO/discard/write-zeroes/MQ/other blk features"},
    {"B3.03", "§3.1", KB, "capacity = disk size in 512-byte sectors"},
    {"B3.04", "§3.1", KB, "size_max = 0, geometry = 0"},
    {"B3.05", "§3.1", KB, "seg_max >= 1"},
    {"B3.06", "§3.1", KB, "blk_size 512"},
    {"B3.07", "§3.1", KB, "config beyond blk_size reads 0"},
    {"B3.08", "§3.1", KB, "OUT then IN returns the data written"},
    {"B3.09", "§3.1", KB, "used.len = 0"},
    {"B3.10", "§3.1", KB, "FLUSH completes OK"},
    {"B3.11", "§3.1", KB, "GET_ID returns the serial"},
    {"B3.12", "§3.1", KB, "unknown type: UNSUPP"},
    {"B3.13", "§3.1", KB, "DISCARD / WRITE_ZEROES: UNSUPP"},
    {"B3.14", "§3.1", KB, "sector at capacity: IOERR"},
    {"B3.15", "§3.1", KB, "range crossing the end: IOERR"},
    {"B3.16", "§3.1", KB, "last sector readable (capacity edge)"},
    {"B3.17", "§3.1", KB, "data length not a multiple of 512: IOERR"},
    {"B3.18", "§3.1", KB, "IN with device-readable data: IOERR"},
    {"B3.19", "§3.1", KB, "OUT with device-writable data: IOERR"},
    {"B3.20", "§3.1", KB, "more data descriptors than seg_max: IOERR"},
    {"B3.21", "§3.1", KB, "IN/OUT without data: IOERR"},
    {"B3.22", "§3.1", KB, "header shorter than 16 bytes: IOERR"},
    {"B3.23", "§3.1", KB, "sector number overflow: IOERR"},
    {"B3.24", "§3.1", KB, "scatter across two data descriptors"},
    {"B3.25", "§3.1", KB, "ioprio ignored"},
    {"B3.26", "§3.1", KB, "FLUSH with data: IOERR"},
    {"B3.27", "§3.1", KB, "no status byte: NEEDS_RESET, nothing written"},
    {"B3.28", "§3.1", KB, "header split across two descriptors (no framing)"},
    {"B3.29", "§3.1", KB, "16 requests in flight all complete"},
    {"B3.30", "§3.1", KB, "seg_max data descriptors accepted"},
    /* §3.2 net */
    {"N3.01", "§3.2", KN, "features MAC, STATUS offered"},
    {"N3.02", "§3.2", KN, "no MRG_RXBUF, CTRL_VQ, offloads"},
    {"N3.03", "§3.2", KN, "config MAC as configured"},
    {"N3.04", "§3.2", KN, "status LINK_UP"},
    {"N3.05", "§3.2", KN, "max_virtqueue_pairs = 1"},
    {"N3.06", "§3.2", KN, "TX header and frame in one descriptor: sent"},
    {"N3.07", "§3.2", KN, "TX header and frame in separate descriptors: sent"},
    {"N3.08", "§3.2", KN, "TX used.len = 0"},
    {"N3.09", "§3.2", KN, "RX: header zeroed, used.len = header + frame"},
    {"N3.10", "§3.2", KN, "RX header length per header-len (10 contract, 12 spec)"},
    {"N3.11", "§3.2", KN, "RX frame intact (ARP reply addressed to our MAC)"},
    {"N3.12", "§3.2", KN, "too-small RX buffer not consumed"},
    {"N3.13", "§3.2", KN, "TX frame shorter than 14 bytes: dropped, completed"},
    {"N3.14", "§3.2", KN, "TX frame longer than 1522 bytes: dropped, completed"},
    {"N3.15", "§3.2", KN, "TX chain with a WRITE descriptor: dropped, completed"},
    {"N3.16", "§3.2", KN, "link down: status bit clears, config interrupt"},
    {"N3.17", "§3.2", KN, "link change bumps config_generation"},
    {"N3.18", "§3.2", KN, "link up again: status bit set"},
    {"N3.19", "§3.2", KN, "frames arriving with no RX buffer are delivered later"},
    {"N3.20", "§3.2", KN, "RX into a buffer above 4 GiB"},
    /* §3.3 input */
    {"I3.01", "§3.3", KI, "no device-specific features"},
    {"I3.02", "§3.3", KI, "ID_NAME"},
    {"I3.03", "§3.3", KI, "ID_DEVIDS bustype 6, vendor 0x1AF4, product, version 1"},
    {"I3.04", "§3.3", KI, "ID_SERIAL reports size 0"},
    {"I3.05", "§3.3", KI, "PROP_BITS reports size 0"},
    {"I3.06", "§3.3", KI, "EV_BITS: the event types of the function"},
    {"I3.07", "§3.3", KI, "EV_BITS: required key/button/axis/LED codes"},
    {"I3.08", "§3.3", KI, "EV_BITS of a type the function lacks: size 0"},
    {"I3.09", "§3.3", KI, "ABS_INFO (tablet X/Y range; others size 0)"},
    {"I3.10", "§3.3", KI, "unknown selector: size 0"},
    {"I3.11", "§3.3", KI, "events after a QMP injection: evdev sequence, SYN_REPORT"},
    {"I3.12", "§3.3", KI, "used.len = 8 per event"},
    {"I3.13", "§3.3", KI, "events with no buffer posted are delivered later, in order"},
    {"I3.14", "§3.3", KI, "statusq buffers consumed and completed"},
    {"I3.15", "§3.3", KI, "keyboard: no auto-repeat"},
    {"I3.16", "§3.3", KI, "selector written byte by byte"},
    /* §3.4 snd */
    {"S3.01", "§3.4", KS, "config: jacks 0 (or 2), streams 2, chmaps 0"},
    {"S3.02", "§3.4", KS, "no device-specific features"},
    {"S3.03", "§3.4", KS, "PCM_INFO stream 0: output, 2 ch, S16_LE, 48 kHz"},
    {"S3.04", "§3.4", KS, "PCM_INFO stream 1: input, 1 ch, S16_LE, 48 kHz"},
    {"S3.05", "§3.4", KS, "PCM_INFO beyond the streams: BAD_MSG"},
    {"S3.06", "§3.4", KS, "unsupported commands: NOT_SUPP"},
    {"S3.07", "§3.4", KS, "SET_PARAMS with the fixed parameters: OK"},
    {"S3.08", "§3.4", KS, "SET_PARAMS other channels/format/rate: refused"},
    {"S3.09", "§3.4", KS, "SET_PARAMS on a stream that does not exist: BAD_MSG"},
    {"S3.10", "§3.4", KS, "PREPARE, START, STOP, RELEASE in order: OK"},
    {"S3.11", "§3.4", KS, "START without PREPARE: refused"},
    {"S3.12", "§3.4", KS, "control request shorter than its header: BAD_MSG"},
    {"S3.13", "§3.4", KS, "tx held until START"},
    {"S3.14", "§3.4", KS, "tx paced by the audio clock, completed OK in order"},
    {"S3.15", "§3.4", KS, "tx payload over 262144 bytes: BAD_MSG"},
    {"S3.16", "§3.4", KS, "tx for the capture stream: BAD_MSG"},
    {"S3.17", "§3.4", KS, "rx while stream 1 is not running: IO_ERR"},
    {"S3.18", "§3.4", KS, "rx while running: OK, filled, used.len = payload + status"},
    {"S3.19", "§3.4", KS, "rx payload over 262144 bytes: BAD_MSG"},
    {"S3.20", "§3.4", KS, "rx without a payload: answered, device alive"},
    {"S3.21", "§3.4", KS, "eventq buffers kept, none completed"},
    {"S3.22", "§3.4", KS, "RELEASE completes pending tx first"},
    {"S3.23", "§3.4", KS, "status codes and xfer header in the configured wire encoding"},
};
#define NCHECKS (sizeof(registry) / sizeof(registry[0]))

static int find(const char *id)
{
    for (size_t i = 0; i < NCHECKS; i++)
        if (!strcmp(registry[i].id, id))
            return (int)i;
    return -1;
}

bool applies(const struct ctx *c, const char *id)
{
    int i = find(id);
    return i >= 0 && (registry[i].kinds & KM(c->kid));
}

static void vreport(struct ctx *c, const char *id, enum result r, const char *fmt, va_list ap)
{
    int i = find(id);
    if (i < 0) {
        fprintf(stderr, "aero-conformance: internal error: unknown check id %s\n", id);
        exit(4);
    }
    if (c->reported[i]++)
        return; /* the first verdict stands */
    char detail[512];
    vsnprintf(detail, sizeof(detail), fmt, ap);
    for (char *p = detail; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r')
            *p = ' ';
    static const char *names[] = {"pass", "fail", "skip"};
    printf("AERO-CONF\t%s\t%s\t%s\t%s\t%s: %s\n", id, registry[i].section, c->label, names[r],
           registry[i].title, detail);
    fflush(stdout);
    if (r == PASS)
        c->n_pass++;
    else if (r == FAIL)
        c->n_fail++;
    else
        c->n_skip++;
}

void report(struct ctx *c, const char *id, enum result r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(c, id, r, fmt, ap);
    va_end(ap);
}

void verdict(struct ctx *c, const char *id, bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(c, id, ok ? PASS : FAIL, fmt, ap);
    va_end(ap);
}

void report_unreported(struct ctx *c)
{
    for (size_t i = 0; i < NCHECKS; i++)
        if ((registry[i].kinds & KM(c->kid)) && !c->reported[i] &&
            strchr(c->modules_run, registry[i].id[0]))
            report(c, registry[i].id, FAIL, "no verdict (the check did not run to completion)");
}

void module_ran(struct ctx *c, char prefix)
{
    size_t n = strlen(c->modules_run);
    if (n + 1 < sizeof(c->modules_run) && !strchr(c->modules_run, prefix))
        c->modules_run[n] = prefix;
}

void list_checks(void)
{
    for (size_t i = 0; i < NCHECKS; i++) {
        char km[64] = "";
        if (registry[i].kinds == KM_ALL)
            snprintf(km, sizeof(km), "all");
        else
            for (int k = 0; k < K_COUNT; k++)
                if (registry[i].kinds & KM(k))
                    snprintf(km + strlen(km), sizeof(km) - strlen(km), "%s%s", *km ? "," : "",
                             kinds[k].name);
        printf("%s\t%s\t%s\t%s\n", registry[i].id, registry[i].section, km, registry[i].title);
    }
}

void host_qmp(struct ctx *c, const char *json)
{
    (void)c;
    /* one line per command; the host runs them in order */
    for (const char *p = json; *p;) {
        const char *e = strchr(p, '\n');
        int n = e ? (int)(e - p) : (int)strlen(p);
        printf("AERO-CONF-QMP %.*s\n", n, p);
        p += n + (e ? 1 : 0);
    }
    fflush(stdout);
}

/* ---- shared driver steps ---------------------------------------------------------------- */

uint64_t base_features(const struct ctx *c)
{
    uint64_t want = BIT(F_VERSION_1) | BIT(F_INDIRECT) | c->k->dev_features;
    return c->offered & want;
}

bool bringup(struct ctx *c, uint64_t feats, struct vd_vq *vqs, unsigned nq, const uint16_t *sizes,
             bool rings_high, char *why, size_t whylen)
{
    struct vd_dev *d = &c->d;
    if (!vd_reset(d)) {
        snprintf(why, whylen, "device_status does not read 0 after reset");
        return false;
    }
    (void)vd_isr(d);
    if (!vd_negotiate(d, feats)) {
        snprintf(why, whylen, "FEATURES_OK refused for 0x%llx", (unsigned long long)feats);
        return false;
    }
    for (unsigned q = 0; q < nq; q++) {
        if (!vd_vq_program(d, &vqs[q], (uint16_t)q, sizes ? sizes[q] : 0, rings_high ? &c->hi : &c->lo,
                           (feats & BIT(F_EVENT_IDX)) != 0, false)) {
            snprintf(why, whylen, "queue %u has size 0", q);
            return false;
        }
        vd_vq_enable(&vqs[q]);
    }
    vd_driver_ok(d);
    uint8_t st = vd_status(d);
    if (st & (S_NEEDS_RESET | S_FAILED) || !(st & S_DRIVER_OK)) {
        snprintf(why, whylen, "device_status 0x%02x after DRIVER_OK", st);
        return false;
    }
    return true;
}

/* Frames the probe sends go to a locally administered unicast MAC with a local experimental
 * ethertype (IEEE 802 0x88B5): nobody answers them, so they never come back on RX. */
static const uint8_t probe_frame_hdr[14] = {0x02, 0xae, 0x70, 0x00, 0x00, 0x01, 0x02, 0xae,
                                             0x70, 0x00, 0x00, 0x02, 0x88, 0xb5};

void probe_build(struct ctx *c, struct vd_mem *m, struct probe *p, bool split, unsigned misalign)
{
    uint64_t g;
    volatile uint8_t *v;
    memset(p, 0, sizeof(*p));
#define SEG(gpa_, len_, w_) (p->seg[p->n++] = (struct vd_seg){(gpa_), (len_), (w_)})
    switch (c->kid) {
    case K_BLK: /* IN of sector 0 */
        v = vd_alloc(m, 16 + misalign, 16, &g);
        v += misalign, g += misalign;
        SEG(g, 16, false);
        v = vd_alloc(m, 512 + misalign, 16, &g);
        g += misalign;
        if (split) {
            SEG(g, 256, true);
            SEG(g + 256, 256, true);
        } else {
            SEG(g, 512, true);
        }
        v = vd_alloc(m, 1 + misalign, 16, &g);
        v += misalign, g += misalign;
        *v = 0xff;
        p->status = v;
        p->status_len = 1;
        SEG(g, 1, true);
        break;
    case K_NET: { /* TX of a frame nobody answers */
        unsigned h = c->net_hdr_len, fl = 60;
        v = vd_alloc(m, h + fl + misalign, 16, &g);
        v += misalign, g += misalign;
        for (unsigned i = 0; i < 14; i++)
            v[h + i] = probe_frame_hdr[i];
        if (split) {
            SEG(g, h, false);
            SEG(g + h, fl, false);
        } else {
            SEG(g, h + fl, false);
        }
        break;
    }
    case K_KEYBOARD:
    case K_MOUSE:
    case K_TABLET: /* statusq: EV_LED LED_NUML 0 */
        v = vd_alloc(m, 8 + misalign, 16, &g);
        v += misalign, g += misalign;
        v[0] = 0x11;
        if (split) {
            SEG(g, 4, false);
            SEG(g + 4, 4, false);
        } else {
            SEG(g, 8, false);
        }
        break;
    case K_SND: /* PCM_INFO of stream 0 */
        v = vd_alloc(m, 16 + misalign, 16, &g);
        v += misalign, g += misalign;
        v[0] = 0x00, v[1] = 0x01; /* code 0x0100 */
        v[8] = 1;                 /* count 1 */
        v[12] = 32;               /* size 32 */
        if (split) {
            SEG(g, 8, false);
            SEG(g + 8, 8, false);
        } else {
            SEG(g, 16, false);
        }
        v = vd_alloc(m, 4 + 32 + misalign, 16, &g);
        v += misalign, g += misalign;
        for (int i = 0; i < 4; i++)
            v[i] = 0xff;
        p->status = v;
        p->status_len = 4;
        SEG(g, 4, true);
        SEG(g + 4, 32, true);
        break;
    default:
        break;
    }
#undef SEG
}

bool probe_ok(struct ctx *c, const struct probe *p, char *why, size_t whylen)
{
    if (!p->status)
        return true;
    uint32_t st = 0;
    for (unsigned i = 0; i < p->status_len; i++)
        st |= (uint32_t)p->status[i] << (8 * i);
    uint32_t ok = c->kid == K_SND && c->snd_virtio ? 0x8000 : 0;
    if (st != ok) {
        snprintf(why, whylen, "status 0x%x, want 0x%x", st, ok);
        return false;
    }
    return true;
}

bool probe_roundtrip(struct ctx *c, struct vd_vq *vq, struct probe *p, bool indirect, char *why,
                     size_t whylen)
{
    uint16_t head = vd_vq_add(vq, p->seg, p->n, indirect ? &c->lo : NULL);
    vd_vq_publish(vq, head);
    vd_vq_kick(vq, 2);
    uint32_t id, len;
    int r = vd_vq_wait(vq, 2000, &id, &len);
    if (r == 0) {
        snprintf(why, whylen, "no used entry within 2 s");
        return false;
    }
    if (r < 0) {
        snprintf(why, whylen, "device set NEEDS_RESET");
        return false;
    }
    if (id != head) {
        snprintf(why, whylen, "used id %u, want head %u", id, head);
        return false;
    }
    return probe_ok(c, p, why, whylen);
}
