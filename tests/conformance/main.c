/*
 * aero-conformance: scores one virtio-pci function against CONTRACT.md (AERO-W7-VIRTIO v1 plus
 * this project's EVENT_IDX extension), clause by clause, from Linux user space inside the test
 * guest. Built static into the guest initramfs by scripts/build-guest.sh; scripts/conformance.sh
 * boots the guest and runs it once per device.
 *
 *   aero-conformance --list
 *   aero-conformance [--profile strict|default] --kind blk|net|keyboard|mouse|tablet|snd
 *                    [--label NAME] --lo GPA:LEN --hi GPA:LEN [--prop KEY=VALUE]...
 *                    [--disk-sectors N] BDF
 *
 * --lo/--hi name guest-physical ranges reserved with memmap= (the second above 4 GiB) for rings
 * and buffers. --prop passes the device's QEMU properties that change what the contract allows
 * (net header-len, snd protocol, blk serial, net mac). One line per check on stdout:
 *
 *   AERO-CONF <TAB> id <TAB> section <TAB> device <TAB> pass|fail|skip <TAB> title: detail
 *
 * and "AERO-CONF-QMP {json}" when the host must act (input injection, link changes). Exit 0 when
 * no check failed, 1 otherwise, 2 for usage errors, 3 when the tool itself could not run.
 */
#include "conformance.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fprintf(stderr, "usage: aero-conformance --list\n"
                    "       aero-conformance [--profile strict|default] --kind KIND [--label NAME]\n"
                    "                        --lo GPA:LEN --hi GPA:LEN [--prop KEY=VALUE]...\n"
                    "                        [--disk-sectors N] BDF\n");
    exit(2);
}

static bool parse_range(const char *s, uint64_t *gpa, uint64_t *len)
{
    char *end;
    *gpa = strtoull(s, &end, 0);
    if (*end != ':')
        return false;
    *len = strtoull(end + 1, &end, 0);
    return !*end && *len >= (1u << 20);
}

static void apply_prop(struct ctx *c, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq)
        return;
    size_t kl = (size_t)(eq - kv);
    const char *v = eq + 1;
    if (kl == 10 && !strncmp(kv, "header-len", kl))
        c->net_hdr_len = (unsigned)atoi(v);
    else if (kl == 8 && !strncmp(kv, "protocol", kl))
        c->snd_virtio = !strcmp(v, "virtio");
    else if (kl == 6 && !strncmp(kv, "serial", kl))
        c->serial = v;
    else if (kl == 12 && !strncmp(kv, "header-fixed", kl))
        c->net_hdr_fixed = atoi(v) != 0;
    else if (kl == 6 && !strncmp(kv, "netdev", kl))
        snprintf(c->netdev, sizeof(c->netdev), "%s", v);
    else if (kl == 3 && !strncmp(kv, "mac", kl)) {
        unsigned m[6];
        if (sscanf(v, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) == 6) {
            for (int i = 0; i < 6; i++)
                c->mac[i] = (uint8_t)m[i];
            c->have_mac = true;
        }
    }
}

int main(int argc, char **argv)
{
    static struct ctx c;
    const char *kind = NULL, *bdf = NULL, *lo = NULL, *hi = NULL;
    c.net_hdr_len = 10;
    c.label = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--list")) {
            list_checks();
            return 0;
        }
        if (i + 1 >= argc && a[0] == '-' && a[1] == '-')
            usage();
        if (!strcmp(a, "--profile")) {
            const char *p = argv[++i];
            if (strcmp(p, "strict") && strcmp(p, "default"))
                usage();
            c.strict = !strcmp(p, "strict");
        } else if (!strcmp(a, "--kind")) {
            kind = argv[++i];
        } else if (!strcmp(a, "--label")) {
            c.label = argv[++i];
        } else if (!strcmp(a, "--lo")) {
            lo = argv[++i];
        } else if (!strcmp(a, "--hi")) {
            hi = argv[++i];
        } else if (!strcmp(a, "--prop")) {
            apply_prop(&c, argv[++i]);
        } else if (!strcmp(a, "--disk-sectors")) {
            c.disk_sectors = strtoull(argv[++i], NULL, 0);
        } else if (a[0] == '-') {
            usage();
        } else {
            bdf = a;
        }
    }
    if (!kind || !bdf || !lo || !hi)
        usage();
    c.kid = K_COUNT;
    for (int k = 0; k < K_COUNT; k++)
        if (!strcmp(kind, kinds[k].name))
            c.kid = (enum kind_id)k;
    if (c.kid == K_COUNT)
        usage();
    c.k = &kinds[c.kid];
    if (!c.label)
        c.label = c.k->name;

    char why[256];
    uint64_t g, l;
    if (!parse_range(lo, &g, &l) || !vd_mem_open(&c.lo, g, l, why, sizeof(why)) ||
        !parse_range(hi, &g, &l) || !vd_mem_open(&c.hi, g, l, why, sizeof(why))) {
        fprintf(stderr, "aero-conformance: DMA memory: %s\n", why);
        return 3;
    }
    if (c.hi.gpa < (1ull << 32))
        fprintf(stderr, "aero-conformance: warning: --hi 0x%" PRIx64 " is below 4 GiB\n", c.hi.gpa);
    if (!vd_open(&c.d, bdf, true, why, sizeof(why))) {
        fprintf(stderr, "aero-conformance: %s\n", why);
        return 3;
    }
    vd_reset(&c.d);
    c.offered = vd_device_features(&c.d);

    checks_transport(&c);
    checks_ring(&c);
    switch (c.kid) {
    case K_BLK:
        checks_blk(&c);
        break;
    case K_NET:
        checks_net(&c);
        break;
    case K_SND:
        checks_snd(&c);
        break;
    default:
        checks_input(&c);
        break;
    }
    report_unreported(&c);
    vd_reset(&c.d);
    fprintf(stderr, "aero-conformance: %s: %d pass, %d fail, %d skip\n", c.label, c.n_pass,
            c.n_fail, c.n_skip);
    return c.n_fail ? 1 : 0;
}
