/*
 * aero-virtio-probe: a tiny user-space virtio-blk driver for the Linux test guest. It drives a
 * modern virtio-pci block function that no kernel driver is bound to (BAR0 through sysfs
 * resource0, rings in mlock'ed pages whose guest-physical addresses come from
 * /proc/self/pagemap) and sends one request per case, so the guest tests can aim a data buffer
 * at addresses no kernel driver would ever use: ROM, another device's MMIO, the device's own
 * BAR, a range running from RAM into MMIO. Built statically by scripts/build-guest.sh.
 *
 *   aero-virtio-probe BDF CASE...
 *
 * CASE is DIR:TARGET:LEN with DIR "in" (device writes guest memory: VIRTIO_BLK_T_IN) or "out"
 * (device reads guest memory: VIRTIO_BLK_T_OUT), TARGET "ram" (a page of our own) or a
 * guest-physical address, LEN a multiple of 512 (<= 4096 for "ram"). For each case it resets
 * and initialises the device (VERSION_1 only, one queue of 8, interrupts suppressed), submits
 * header + data + status, waits up to 5 s for the used entry and prints
 *
 *   case DIR:TARGET:LEN status S used U device_status D
 *
 * S is the status byte (0 OK, 1 IOERR, 2 UNSUPP, 255 untouched), U the used index, D the device
 * status register in hex (bit 0x40 = DEVICE_NEEDS_RESET). Exit status 0 unless the tool itself
 * failed (the verdict is the caller's).
 *
 * DIR "late" (late:ram:LEN) is a read reset while it is in flight (give the drive a slow
 * backend, e.g. QEMU's throttling): 50 ms after the doorbell the device is reset, the memory the
 * request named is refilled (data 0x33, status 0x77, used ring 0xcc), and 2 s later it must be
 * unchanged -- a completion arriving after the reset may not write into guest memory. It prints
 *
 *   case late:ram:LEN untouched T device_status D
 *
 * with T 1 when data, status and used ring are all as refilled, 0 when the device wrote there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define QSIZE 8u

/* virtio 1.2 §4.1.4.3 common configuration, at BAR0 offset 0 per CONTRACT §1. */
#define COMMON_DFSELECT 0x00
#define COMMON_DF 0x04
#define COMMON_GFSELECT 0x08
#define COMMON_GF 0x0c
#define COMMON_STATUS 0x14
#define COMMON_Q_SELECT 0x16
#define COMMON_Q_SIZE 0x18
#define COMMON_Q_MSIX 0x1a
#define COMMON_Q_ENABLE 0x1c
#define COMMON_Q_NOFF 0x1e
#define COMMON_Q_DESC 0x20
#define COMMON_Q_AVAIL 0x28
#define COMMON_Q_USED 0x30
#define BAR0_NOTIFY 0x1000
#define BAR0_ISR 0x2000
#define NOTIFY_MULT 4

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8

static volatile uint8_t *bar;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "aero-virtio-probe: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static uint8_t rd8(unsigned off) { return bar[off]; }
static uint16_t rd16(unsigned off) { return *(volatile uint16_t *)(bar + off); }
static void wr8(unsigned off, uint8_t v) { bar[off] = v; }
static void wr16(unsigned off, uint16_t v) { *(volatile uint16_t *)(bar + off) = v; }
static void wr32(unsigned off, uint32_t v) { *(volatile uint32_t *)(bar + off) = v; }
static uint32_t rd32(unsigned off) { return *(volatile uint32_t *)(bar + off); }
static void wr64(unsigned off, uint64_t v)
{
    wr32(off, (uint32_t)v);
    wr32(off + 4, (uint32_t)(v >> 32));
}

struct page {
    uint8_t *va;
    uint64_t gpa;
};

static struct page page_alloc(void)
{
    struct page p;
    uint64_t ent;
    int fd;

    p.va = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED,
                -1, 0);
    if (p.va == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    memset(p.va, 0, PAGE);
    fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0)
        die("/proc/self/pagemap: %s", strerror(errno));
    if (pread(fd, &ent, sizeof(ent), (off_t)((uintptr_t)p.va / PAGE) * 8) != sizeof(ent))
        die("pagemap read: %s", strerror(errno));
    close(fd);
    if (!(ent >> 63) || (ent & ((1ull << 55) - 1)) == 0)
        die("pagemap gives no frame (not root?)");
    p.gpa = (ent & ((1ull << 55) - 1)) * PAGE;
    return p;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void reset_device(void)
{
    double t0 = now();
    wr8(COMMON_STATUS, 0);
    while (rd8(COMMON_STATUS) != 0) {
        if (now() - t0 > 5)
            die("device does not reset");
        usleep(1000);
    }
    (void)rd8(BAR0_ISR); /* ack anything left, deassert INTx */
}

/* Reset, negotiate VERSION_1 only, program queue 0; returns its doorbell offset. */
static unsigned init_device(struct page *rings)
{
    uint8_t st;
    unsigned noff;

    reset_device();
    wr8(COMMON_STATUS, S_ACK);
    wr8(COMMON_STATUS, S_ACK | S_DRIVER);
    wr32(COMMON_DFSELECT, 1);
    if (!(rd32(COMMON_DF) & 1))
        die("device does not offer VERSION_1");
    wr32(COMMON_GFSELECT, 0);
    wr32(COMMON_GF, 0);
    wr32(COMMON_GFSELECT, 1);
    wr32(COMMON_GF, 1);
    wr8(COMMON_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    st = rd8(COMMON_STATUS);
    if (!(st & S_FEATURES_OK))
        die("FEATURES_OK did not stick (status 0x%x)", st);
    wr16(COMMON_Q_SELECT, 0);
    if (rd16(COMMON_Q_SIZE) < QSIZE)
        die("queue 0 is smaller than %u", QSIZE);
    wr16(COMMON_Q_SIZE, QSIZE);
    wr16(COMMON_Q_MSIX, 0xffff);
    memset(rings->va, 0, PAGE);
    /* desc at 0 (16 * 8), avail at 0x100, used at 0x200: one page, all alignments met. */
    wr64(COMMON_Q_DESC, rings->gpa);
    wr64(COMMON_Q_AVAIL, rings->gpa + 0x100);
    wr64(COMMON_Q_USED, rings->gpa + 0x200);
    noff = rd16(COMMON_Q_NOFF);
    wr16(COMMON_Q_ENABLE, 1);
    wr8(COMMON_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    return BAR0_NOTIFY + NOTIFY_MULT * noff;
}

static void put_desc(uint8_t *ring, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    uint8_t *d = ring + 16 * i;
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
}

static void run_case(const char *spec, struct page *rings, struct page *hdr, struct page *data)
{
    char dir[8], target[32];
    unsigned long len;
    uint64_t gpa;
    unsigned doorbell;
    volatile uint16_t *avail, *used_idx;
    volatile uint8_t *status;
    int is_in, late;
    double t0;

    if (sscanf(spec, "%7[a-z]:%31[^:]:%lu", dir, target, &len) != 3 || len == 0 || len % 512)
        die("bad case '%s' (want in|out:ram|GPA:LEN)", spec);
    late = strcmp(dir, "late") == 0;
    is_in = strcmp(dir, "in") == 0 || late;
    if (!is_in && strcmp(dir, "out") != 0)
        die("bad direction in '%s'", spec);
    if (strcmp(target, "ram") == 0) {
        if (len > PAGE)
            die("'%s': ram buffers are at most one page", spec);
        gpa = data->gpa;
        memset(data->va, 0x5a, PAGE);
    } else {
        char *end;
        gpa = strtoull(target, &end, 0);
        if (*end)
            die("bad address in '%s'", spec);
    }

    doorbell = init_device(rings);
    /* header: type (0 IN, 1 OUT), ioprio, sector 0 */
    memset(hdr->va, 0, 64);
    hdr->va[0] = is_in ? 0 : 1;
    status = hdr->va + 64;
    *status = 0xff;
    put_desc(rings->va, 0, hdr->gpa, 16, 1 /* NEXT */, 1);
    put_desc(rings->va, 1, gpa, (uint32_t)len, 1 | (is_in ? 2 : 0) /* NEXT, WRITE */, 2);
    put_desc(rings->va, 2, hdr->gpa + 64, 1, 2 /* WRITE */, 0);
    avail = (volatile uint16_t *)(rings->va + 0x100);
    used_idx = (volatile uint16_t *)(rings->va + 0x200 + 2);
    avail[0] = 1; /* VRING_AVAIL_F_NO_INTERRUPT: we poll */
    avail[2] = 0; /* ring[0] = head 0 */
    __sync_synchronize();
    avail[1] = 1; /* idx */
    __sync_synchronize();
    wr16(doorbell, 0);
    if (late) {
        int untouched = 1;
        usleep(50000); /* the device has popped and submitted the read by now */
        reset_device();
        memset(data->va, 0x33, PAGE);
        *status = 0x77;
        memset(rings->va + 0x200, 0xcc, 0x100);
        __sync_synchronize();
        usleep(2000000); /* the throttled read completes meanwhile */
        for (unsigned i = 0; i < PAGE; i++)
            untouched &= data->va[i] == 0x33;
        for (unsigned i = 0; i < 0x100; i++)
            untouched &= rings->va[0x200 + i] == 0xcc;
        untouched &= *status == 0x77;
        printf("case %s untouched %d device_status 0x%02x\n", spec, untouched,
               rd8(COMMON_STATUS));
        fflush(stdout);
        return;
    }
    t0 = now();
    while (*used_idx == 0 && !(rd8(COMMON_STATUS) & 0x40) && now() - t0 < 5)
        usleep(1000);
    usleep(20000); /* let a late status write land before we look */
    printf("case %s status %u used %u device_status 0x%02x\n", spec, *status, *used_idx,
           rd8(COMMON_STATUS));
    fflush(stdout);
    reset_device();
}

int main(int argc, char **argv)
{
    char path[256];
    uint16_t cmd;
    int fd;
    struct page rings, hdr, data;

    if (argc < 3) {
        fprintf(stderr, "usage: aero-virtio-probe BDF CASE...\n");
        return 2;
    }
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", argv[1]);
    fd = open(path, O_RDWR);
    if (fd < 0)
        die("%s: %s", path, strerror(errno));
    if (pread(fd, &cmd, 2, 4) != 2)
        die("config read: %s", strerror(errno));
    cmd |= 0x6; /* memory space + bus master */
    if (pwrite(fd, &cmd, 2, 4) != 2)
        die("config write: %s", strerror(errno));
    close(fd);

    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", argv[1]);
    fd = open(path, O_RDWR | O_SYNC);
    if (fd < 0)
        die("%s: %s", path, strerror(errno));
    bar = mmap(NULL, 0x4000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (bar == MAP_FAILED)
        die("mmap BAR0: %s", strerror(errno));

    rings = page_alloc();
    hdr = page_alloc();
    data = page_alloc();
    for (int i = 2; i < argc; i++)
        run_case(argv[i], &rings, &hdr, &data);
    return 0;
}
