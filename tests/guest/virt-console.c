/* aero-virt-console: the host side of a libvirt guest run (tests/guest/test-libvirt.sh and
 * scripts/demo.sh). Attaches to a domain's serial console through libvirt (virDomainOpenConsole),
 * resumes it if it was started paused (QEMU's pty drops output nobody reads), copies the console
 * to stdout, injects input through libvirt when the guest asks for it, and when the guest script
 * ends prints what libvirt and the devices report.
 *
 *   aero-virt-console URI NAME [TIMEOUT_S] [ALIAS...]
 *
 * Guest protocol: "INPUT-READY" on the console -> relative motion, a wheel step, an absolute
 * position (QMP input-send-event through virDomainQemuMonitorCommand) and the key A
 * (virDomainSendKey); "COUNTERS-READY" -> print the block stats of vda (virDomainBlockStats) and
 * the `stats` of /machine/peripheral/<ALIAS> for every ALIAS while QEMU still runs, then the key B
 * tells the guest to finish; "AERO-GUEST-EXIT <rc>" (tests/guest/init.sh) ends the run.
 * Exit status: the guest script's, 1 on timeout or when the domain stopped without a result.
 */
#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KEY_A 30 /* Linux input-event-codes.h */
#define KEY_B 48

static atomic_int input_wanted, counters_wanted, guest_rc = -1, stream_done;
static char line[4096];
static size_t line_len;

static void quiet(void *u, virErrorPtr e)
{
    (void)u;
    (void)e;
}

static void *event_loop(void *arg)
{
    (void)arg;
    for (;;)
        virEventRunDefaultImpl();
    return NULL;
}

static void scan_line(void)
{
    line[line_len] = '\0';
    if (strstr(line, "INPUT-READY"))
        atomic_store(&input_wanted, 1);
    if (strstr(line, "COUNTERS-READY"))
        atomic_store(&counters_wanted, 1);
    const char *x = strstr(line, "AERO-GUEST-EXIT ");
    if (x)
        atomic_store(&guest_rc, atoi(x + 16));
    line_len = 0;
}

/* Runs on the event loop thread: only reads the stream, never calls into the domain. */
static void on_console(virStreamPtr st, int events, void *opaque)
{
    (void)opaque;
    char buf[4096];
    if (events & (VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP)) {
        atomic_store(&stream_done, 1);
        virStreamEventRemoveCallback(st);
        return;
    }
    for (;;) {
        int n = virStreamRecv(st, buf, sizeof(buf));
        if (n == -2)
            return; /* nothing more now */
        if (n <= 0) {
            atomic_store(&stream_done, 1);
            virStreamEventRemoveCallback(st);
            return;
        }
        fwrite(buf, 1, (size_t)n, stdout);
        fflush(stdout);
        for (int i = 0; i < n; i++) {
            if (buf[i] == '\n' || line_len == sizeof(line) - 1)
                scan_line();
            else if (buf[i] != '\r')
                line[line_len++] = buf[i];
        }
    }
}

static void qmp(virDomainPtr d, const char *cmd)
{
    char *reply = NULL;
    if (virDomainQemuMonitorCommand(d, cmd, &reply, 0) != 0)
        fprintf(stderr, "aero-virt-console: QMP %s: %s\n", cmd, virGetLastErrorMessage());
    free(reply);
}

static void send_key(virDomainPtr d, unsigned int key)
{
    if (virDomainSendKey(d, VIR_KEYCODE_SET_LINUX, 50, &key, 1, 0) != 0)
        fprintf(stderr, "aero-virt-console: virDomainSendKey: %s\n", virGetLastErrorMessage());
}

static void inject_input(virDomainPtr d)
{
    /* the wheel and motion first: QEMU routes them to the pointer that activated last */
    qmp(d, "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":["
           "{\"type\":\"rel\",\"data\":{\"axis\":\"x\",\"value\":25}},"
           "{\"type\":\"rel\",\"data\":{\"axis\":\"y\",\"value\":-10}}]}}");
    qmp(d, "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":["
           "{\"type\":\"btn\",\"data\":{\"down\":true,\"button\":\"wheel-up\"}}]}}");
    qmp(d, "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":["
           "{\"type\":\"btn\",\"data\":{\"down\":false,\"button\":\"wheel-up\"}}]}}");
    qmp(d, "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":["
           "{\"type\":\"abs\",\"data\":{\"axis\":\"x\",\"value\":16384}},"
           "{\"type\":\"abs\",\"data\":{\"axis\":\"y\",\"value\":8192}}]}}");
    send_key(d, KEY_A);
}

/* Print the string a QMP reply {"return": "..."} carries, its \n escapes as new lines. */
static void print_return_string(const char *reply)
{
    const char *p = strstr(reply, "\"return\"");
    p = p ? strchr(p + 8, '"') : NULL;
    if (!p) {
        printf("%s\n", reply);
        return;
    }
    for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            putchar(*p == 'n' ? '\n' : *p == 't' ? '\t' : *p);
        } else {
            putchar(*p);
        }
    }
    if (!(p[-1] == 'n' && p[-2] == '\\'))
        putchar('\n');
}

static void report(virDomainPtr d, int nalias, char **aliases)
{
    virDomainBlockStatsStruct bs;
    printf("== libvirt block stats (virDomainBlockStats vda)\n");
    if (virDomainBlockStats(d, "vda", &bs, sizeof(bs)) == 0)
        printf("vda rd_req %lld rd_bytes %lld wr_req %lld wr_bytes %lld\n", bs.rd_req, bs.rd_bytes, bs.wr_req,
               bs.wr_bytes);
    else
        printf("vda: not available: %s\n", virGetLastErrorMessage());
    printf("== device counters (qom-get /machine/peripheral/<alias> stats)\n");
    for (int i = 0; i < nalias; i++) {
        char cmd[256], *reply = NULL;
        snprintf(cmd, sizeof(cmd),
                 "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/%s\",\"property\":\"stats\"}}",
                 aliases[i]);
        if (virDomainQemuMonitorCommand(d, cmd, &reply, 0) == 0) {
            printf("-- %s\n", aliases[i]);
            print_return_string(reply);
        } else
            printf("-- %s: %s\n", aliases[i], virGetLastErrorMessage());
        free(reply);
    }
    printf("== end of counters\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: aero-virt-console URI NAME [TIMEOUT_S] [ALIAS...]\n");
        return 2;
    }
    int timeout = argc > 3 ? atoi(argv[3]) : 600;
    virSetErrorFunc(NULL, quiet);
    virEventRegisterDefaultImpl();
    pthread_t t;
    pthread_create(&t, NULL, event_loop, NULL);
    virConnectPtr c = virConnectOpen(argv[1]);
    if (!c) {
        fprintf(stderr, "aero-virt-console: %s: %s\n", argv[1], virGetLastErrorMessage());
        return 1;
    }
    virDomainPtr d = virDomainLookupByName(c, argv[2]);
    if (!d) {
        fprintf(stderr, "aero-virt-console: %s: %s\n", argv[2], virGetLastErrorMessage());
        return 1;
    }
    virStreamPtr st = virStreamNew(c, VIR_STREAM_NONBLOCK);
    if (!st || virDomainOpenConsole(d, NULL, st, VIR_DOMAIN_CONSOLE_FORCE) != 0 ||
        virStreamEventAddCallback(st, VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP,
                                  on_console, NULL, NULL) != 0) {
        fprintf(stderr, "aero-virt-console: %s: cannot open the console: %s\n", argv[2], virGetLastErrorMessage());
        return 1;
    }
    int state = 0, reason = 0;
    if (virDomainGetState(d, &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED && virDomainResume(d) != 0) {
        fprintf(stderr, "aero-virt-console: %s: cannot resume: %s\n", argv[2], virGetLastErrorMessage());
        return 1;
    }
    time_t end = time(NULL) + timeout;
    int injected = 0, reported = 0;
    while (atomic_load(&guest_rc) < 0 && time(NULL) < end) {
        if (atomic_load(&input_wanted) && !injected) {
            inject_input(d);
            injected = 1;
        }
        if (atomic_load(&counters_wanted) && !reported) {
            report(d, argc - 4 > 0 ? argc - 4 : 0, argv + 4);
            send_key(d, KEY_B);
            reported = 1;
        }
        if (virDomainGetState(d, &state, &reason, 0) == 0 && state == VIR_DOMAIN_SHUTOFF)
            break;
        usleep(100 * 1000);
    }
    int rc = atomic_load(&guest_rc);
    if (rc < 0)
        fprintf(stderr, "aero-virt-console: %s: %s without the guest's result\n", argv[2],
                time(NULL) >= end ? "timed out" : "domain stopped");
    if (!reported)
        printf("== the guest never asked for the counters\n");
    /* the guest powers off after its result: stay until libvirt has seen it and ended QEMU (an
     * embedded driver leaves a QEMU behind that shuts down after its process has gone) */
    for (int i = 0; rc >= 0 && i < 300; i++) {
        if (virDomainGetState(d, &state, &reason, 0) != 0 || state == VIR_DOMAIN_SHUTOFF)
            break;
        usleep(100 * 1000);
    }
    if (atomic_load(&stream_done) == 0)
        virStreamAbort(st);
    virStreamFree(st);
    virDomainFree(d);
    virConnectClose(c);
    return rc < 0 ? 1 : rc;
}
