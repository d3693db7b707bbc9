/* LD_PRELOAD library for the ring-index stress test (tests/guest/test-stress.sh): every 2-byte
 * memcpy() in QEMU copies its first byte, waits, then copies its second, so a 16-bit value the
 * vCPU stores meanwhile is read torn (new high byte, old low byte) -- what glibc's memcpy can do
 * by chance, made likely. A device that reads ring indices through such a copy fails within
 * seconds; one that reads them with a single 16-bit load never sees the difference.
 *
 *   AERO_TEAR_NS  the pause between the two bytes in nanoseconds (default 20000)
 *
 * Other sizes go to memmove(), which is a different symbol and so never comes back here.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long pause_ns = -1;
static unsigned long torn_window_copies;

static void wait_ns(long ns)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do {
        __builtin_ia32_pause();
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < ns);
}

static void *copy_two_slowly(void *dst, const void *src)
{
    volatile uint8_t *d = dst;
    const volatile uint8_t *s = src;
    if (pause_ns < 0) {
        const char *e = getenv("AERO_TEAR_NS");
        pause_ns = e ? strtol(e, NULL, 10) : 20000;
    }
    d[0] = s[0];
    wait_ns(pause_ns);
    d[1] = s[1];
    __atomic_fetch_add(&torn_window_copies, 1, __ATOMIC_RELAXED);
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    if (n == 2)
        return copy_two_slowly(dst, src);
    return memmove(dst, src, n);
}

void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen);
void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen)
{
    if (n > dstlen)
        abort();
    return memcpy(dst, src, n);
}

__attribute__((destructor)) static void report(void)
{
    static const char pre[] = "tearcopy: two-byte copies slowed: ";
    char num[32];
    int i = (int)sizeof(num);
    unsigned long v = torn_window_copies;
    num[--i] = '\n';
    do {
        num[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    /* write(2) directly: stdio may already be gone in a destructor */
    if (write(2, pre, sizeof(pre) - 1) < 0 || write(2, num + i, sizeof(num) - (size_t)i) < 0)
        return;
}
