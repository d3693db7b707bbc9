/* CONTRACT §3.2 net checks (N3.xx): features and config, TX with the header in its own or a
 * shared descriptor, RX header and length (an ARP request to QEMU's user network gets a reply),
 * too-small RX buffers, bad TX frames, link status with its config interrupt, backpressure. */
#include "conformance.h"

#include <stdio.h>
#include <string.h>

#define RXQ 0
#define TXQ 1
#define RXBUF 1600

static const uint8_t ip_guest[4] = {10, 0, 2, 15}, ip_host[4] = {10, 0, 2, 2};

/* an ARP request for 10.0.2.2 from our MAC (60 bytes with padding) */
static unsigned arp_request(const struct ctx *c, volatile uint8_t *p)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t arp_hdr[8] = {0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01};
    for (int i = 0; i < 60; i++)
        p[i] = 0;
    for (int i = 0; i < 6; i++) {
        p[i] = bcast[i];
        p[6 + i] = c->mac[i];
        p[22 + i] = c->mac[i];
    }
    p[12] = 0x08, p[13] = 0x06;
    for (int i = 0; i < 8; i++)
        p[14 + i] = arp_hdr[i];
    for (int i = 0; i < 4; i++) {
        p[28 + i] = ip_guest[i];
        p[38 + i] = ip_host[i];
    }
    return 60;
}

struct net {
    struct ctx *c;
    struct vd_vq vq[2];
    uint64_t rx_gpa[8];
    volatile uint8_t *rx[8];
    uint16_t rx_head[8];
    unsigned nrx;
};

static bool net_up(struct net *n, struct ctx *c, unsigned nrx, uint32_t rxlen, struct vd_mem *rxmem)
{
    char why[160];
    memset(n, 0, sizeof(*n));
    n->c = c;
    vd_mem_rewind(&c->lo);
    vd_mem_rewind(&c->hi);
    uint16_t sizes[2] = {16, 16};
    if (!bringup(c, base_features(c), n->vq, 2, sizes, false, why, sizeof(why)))
        return false;
    for (unsigned i = 0; i < nrx; i++) {
        n->rx[i] = vd_alloc(rxmem, rxlen, 16, &n->rx_gpa[i]);
        for (unsigned b = 0; b < rxlen; b++)
            n->rx[i][b] = 0xcc;
        struct vd_seg s = {n->rx_gpa[i], rxlen, true};
        n->rx_head[i] = vd_vq_add(&n->vq[RXQ], &s, 1, NULL);
        vd_vq_publish(&n->vq[RXQ], n->rx_head[i]);
    }
    n->nrx = nrx;
    if (nrx)
        vd_vq_kick(&n->vq[RXQ], 2);
    return true;
}

/* TX one frame after the header (zeroed); split: header in its own descriptor. Returns the
 * TX used.len, or -1 when TX did not complete. extra_write adds a device-writable descriptor. */
static long net_tx(struct net *n, const uint8_t *frame, unsigned flen, bool split, bool extra_write)
{
    struct ctx *c = n->c;
    unsigned h = c->net_hdr_len;
    uint64_t g;
    volatile uint8_t *p = vd_alloc(&c->lo, h + flen + 16, 16, &g);
    for (unsigned i = 0; i < flen; i++)
        p[h + i] = frame[i];
    struct vd_seg s[3];
    unsigned ns = 0;
    if (split) {
        s[ns++] = (struct vd_seg){g, h, false};
        s[ns++] = (struct vd_seg){g + h, flen, false};
    } else {
        s[ns++] = (struct vd_seg){g, h + flen, false};
    }
    if (extra_write)
        s[ns++] = (struct vd_seg){g + h + flen, 16, true};
    uint16_t head = vd_vq_add(&n->vq[TXQ], s, ns, NULL);
    vd_vq_publish(&n->vq[TXQ], head);
    vd_vq_kick(&n->vq[TXQ], 2);
    uint32_t id, len;
    if (vd_vq_wait(&n->vq[TXQ], 2000, &id, &len) != 1 || id != head)
        return -1;
    return len;
}

/* next RX completion within ms: the buffer index, or -1 */
static int net_rx(struct net *n, int ms, uint32_t *len)
{
    uint32_t id;
    if (vd_vq_wait(&n->vq[RXQ], ms, &id, len) != 1)
        return -1;
    for (unsigned i = 0; i < n->nrx; i++)
        if (n->rx_head[i] == id)
            return (int)i;
    return -1;
}

static bool is_arp_reply(const struct ctx *c, volatile const uint8_t *f, uint32_t flen)
{
    if (flen < 42 || f[12] != 0x08 || f[13] != 0x06 || f[20] != 0 || f[21] != 2)
        return false;
    for (int i = 0; i < 6; i++)
        if (f[i] != c->mac[i] || f[32 + i] != c->mac[i])
            return false;
    return f[28] == 10 && f[29] == 0 && f[30] == 2 && f[31] == 2;
}

/* send ARP requests until a reply arrives (slirp may need a moment); reply index or -1 */
static int arp_exchange(struct net *n, bool split, long *txlen, uint32_t *rxlen)
{
    uint8_t frame[60];
    volatile uint8_t tmp[60];
    unsigned fl = arp_request(n->c, tmp);
    for (unsigned i = 0; i < fl; i++)
        frame[i] = tmp[i];
    for (int tries = 0; tries < 3; tries++) {
        *txlen = net_tx(n, frame, fl, split, false);
        int b = net_rx(n, 2000, rxlen);
        if (b >= 0)
            return b;
    }
    return -1;
}

void checks_net(struct ctx *c)
{
    struct vd_dev *d = &c->d;
    struct net n;
    module_ran(c, 'N');
    uint64_t f = c->offered;
    verdict(c, "N3.01", (f & BIT(5)) && (f & BIT(16)), "MAC %s, STATUS %s",
            (f & BIT(5)) ? "yes" : "no", (f & BIT(16)) ? "yes" : "no");
    uint64_t forbidden = f & 0xffffffull & ~(BIT(5) | BIT(16));
    verdict(c, "N3.02", !forbidden, "other device bits 0x%llx%s", (unsigned long long)forbidden,
            (forbidden & BIT(15)) ? " (MRG_RXBUF)" : "");
    volatile uint8_t *cfg = d->device.p;
    uint8_t mac[6];
    for (int i = 0; i < 6; i++)
        mac[i] = mm_rd8(cfg, (unsigned)i);
    if (!c->have_mac) {
        memcpy(c->mac, mac, 6);
        c->have_mac = true;
    }
    verdict(c, "N3.03", !memcmp(mac, c->mac, 6), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
            mac[2], mac[3], mac[4], mac[5]);
    uint16_t st = mm_rd16(cfg, 6), pairs = mm_rd16(cfg, 8);
    verdict(c, "N3.04", st & 1, "status 0x%04x", st);
    verdict(c, "N3.05", pairs == 1, "%u", pairs);

    unsigned h = c->net_hdr_len;
    long txlen = -1;
    uint32_t rxlen = 0;
    int b = -1;
    if (net_up(&n, c, 4, RXBUF, &c->lo))
        b = arp_exchange(&n, false, &txlen, &rxlen);
    verdict(c, "N3.06", b >= 0, "%s", b >= 0 ? "ARP request sent, reply received" : "no ARP reply");
    verdict(c, "N3.08", txlen == 0, "TX used.len %ld", txlen);
    if (b >= 0) {
        volatile uint8_t *rx = n.rx[b];
        unsigned nz = 0;
        for (unsigned i = 0; i < 10; i++)
            nz += rx[i] != 0;
        uint32_t flen = rxlen - h;
        verdict(c, "N3.09", !nz && rxlen > h && rxlen <= h + 1522,
                "header bytes non-zero: %u; used.len %u = %u + frame %u", nz, rxlen, h, flen);
        uint16_t nb = (uint16_t)(rx[10] | rx[11] << 8);
        bool fixed12 = c->net_hdr_fixed;
        if (h == 12)
            verdict(c, "N3.10", nb == 1 && !fixed12, "12-byte header, num_buffers %u%s", nb,
                    fixed12 ? "; the device knows no 10-byte mode (CONTRACT §3.2 wants 10)" : "");
        else
            verdict(c, "N3.10", rx[10] != 0xcc || rxlen == 10 + flen, "10-byte header, frame at 10");
        verdict(c, "N3.11", is_arp_reply(c, rx + h, flen), "%s",
                is_arp_reply(c, rx + h, flen) ? "ARP reply from 10.0.2.2 to our MAC"
                                              : "not the ARP reply expected");
    } else {
        report(c, "N3.09", FAIL, "no frame received");
        report(c, "N3.10", FAIL, "no frame received");
        report(c, "N3.11", FAIL, "no frame received");
    }
    b = -1;
    if (net_up(&n, c, 4, RXBUF, &c->lo))
        b = arp_exchange(&n, true, &txlen, &rxlen);
    verdict(c, "N3.07", b >= 0 && txlen == 0, "%s, TX used.len %ld",
            b >= 0 ? "reply received" : "no reply", txlen);

    /* bad TX frames: completed (dropped), the device keeps working */
    uint8_t big[1600];
    memset(big, 0x5a, sizeof(big));
    long l1 = -1, l2 = -1, l3 = -1;
    if (net_up(&n, c, 0, 0, &c->lo)) {
        l1 = net_tx(&n, big, 10, false, false);
        l2 = net_tx(&n, big, 1600, false, false);
        volatile uint8_t tmp[60];
        uint8_t arp[60];
        arp_request(c, tmp);
        for (int i = 0; i < 60; i++)
            arp[i] = tmp[i];
        l3 = net_tx(&n, arp, 60, false, true);
    }
    uint8_t s2 = vd_status(d);
    verdict(c, "N3.13", l1 == 0 && !(s2 & S_NEEDS_RESET), "10-byte frame: used.len %ld", l1);
    verdict(c, "N3.14", l2 == 0 && !(s2 & S_NEEDS_RESET), "1600-byte frame: used.len %ld", l2);
    verdict(c, "N3.15", l3 == 0 && !(s2 & S_NEEDS_RESET), "chain with a WRITE descriptor: used.len %ld",
            l3);

    /* too-small RX buffer: not consumed */
    if (net_up(&n, c, 1, h + 20, &c->lo)) {
        volatile uint8_t tmp[60];
        uint8_t arp[60];
        arp_request(c, tmp);
        for (int i = 0; i < 60; i++)
            arp[i] = tmp[i];
        net_tx(&n, arp, 60, false, false);
        vd_msleep(1500);
        uint16_t ui = vd_used_idx(&n.vq[RXQ]);
        verdict(c, "N3.12", ui == 0 && !(vd_status(d) & S_NEEDS_RESET),
                "%u-byte buffer: used.idx %u after an ARP reply was due", h + 20, ui);
    } else {
        report(c, "N3.12", FAIL, "bring-up failed");
    }

    /* no RX buffer when the reply arrives: delivered once one is posted */
    b = -1;
    if (net_up(&n, c, 0, 0, &c->lo)) {
        volatile uint8_t tmp[60];
        uint8_t arp[60];
        arp_request(c, tmp);
        for (int i = 0; i < 60; i++)
            arp[i] = tmp[i];
        net_tx(&n, arp, 60, false, false);
        vd_msleep(800);
        n.rx[0] = vd_alloc(&c->lo, RXBUF, 16, &n.rx_gpa[0]);
        struct vd_seg s = {n.rx_gpa[0], RXBUF, true};
        n.rx_head[0] = vd_vq_add(&n.vq[RXQ], &s, 1, NULL);
        n.nrx = 1;
        vd_vq_publish(&n.vq[RXQ], n.rx_head[0]);
        vd_vq_kick(&n.vq[RXQ], 2);
        b = net_rx(&n, 3000, &rxlen);
    }
    verdict(c, "N3.19", b >= 0 && is_arp_reply(c, n.rx[0] + h, rxlen - h), "%s",
            b >= 0 ? "the held reply arrived in the buffer posted later" : "nothing arrived");

    /* RX into a buffer above 4 GiB */
    b = -1;
    if (net_up(&n, c, 2, RXBUF, &c->hi))
        b = arp_exchange(&n, false, &txlen, &rxlen);
    verdict(c, "N3.20", b >= 0 && is_arp_reply(c, n.rx[b >= 0 ? b : 0] + h, rxlen - h),
            "buffer at 0x%llx: %s", (unsigned long long)n.rx_gpa[0],
            b >= 0 ? "reply received" : "nothing received");

    /* link status */
    if (!c->netdev[0] || !net_up(&n, c, 0, 0, &c->lo)) {
        const char *ids[] = {"N3.16", "N3.17", "N3.18"};
        for (int i = 0; i < 3; i++)
            report(c, ids[i], SKIP, "no -netdev name given (the host sets link state through QMP)");
    } else {
        uint8_t g0 = CC8(d, CC_CFGGEN);
        (void)vd_isr(d);
        vd_uio_unmask(d);
        char q[160];
        snprintf(q, sizeof(q),
                 "{\"execute\":\"set_link\",\"arguments\":{\"name\":\"%s\",\"up\":false}}",
                 c->netdev);
        host_qmp(c, q);
        double t0 = vd_now();
        while ((mm_rd16(cfg, 6) & 1) && vd_now() - t0 < 15)
            vd_msleep(20);
        vd_msleep(30);
        bool down = !(mm_rd16(cfg, 6) & 1);
        bool lvl = vd_intx_level(d);
        uint8_t isr = vd_isr(d);
        vd_uio_unmask(d);
        uint8_t g1 = CC8(d, CC_CFGGEN);
        verdict(c, "N3.16", down && (isr & 2) && lvl, "LINK_UP %s, ISR 0x%02x, INTx %s",
                down ? "cleared" : "still set", isr, lvl ? "asserted" : "quiet");
        verdict(c, "N3.17", down && g1 != g0, "config_generation %u -> %u", g0, g1);
        snprintf(q, sizeof(q),
                 "{\"execute\":\"set_link\",\"arguments\":{\"name\":\"%s\",\"up\":true}}",
                 c->netdev);
        host_qmp(c, q);
        t0 = vd_now();
        while (!(mm_rd16(cfg, 6) & 1) && vd_now() - t0 < 15)
            vd_msleep(20);
        bool upb = mm_rd16(cfg, 6) & 1;
        verdict(c, "N3.18", upb, "LINK_UP %s", upb ? "set again" : "still clear");
    }
    vd_reset(d);
}
