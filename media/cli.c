/* aero-media: command-line front end. One GOptionContext per subcommand; progress messages become
 * a bar on a terminal, periodic lines otherwise, nothing with --quiet. Exit status: 0 success,
 * 1 failure (one line on stderr: "aero-media: <file>: <problem>"), 2 usage error; a signal removes
 * the temporary files first (128 + signal number). SIGINT first asks the command to stop through
 * its progress callback, so it unwinds cleanly; a second SIGINT, or a command that has not
 * stopped within STOP_GRACE_SECONDS, ends the process as the other signals do.
 */
#include "domain.h"
#include "driver_iso.h"
#include "error.h"
#include "inf.h"
#include "util.h"
#include "verify.h"
#include "win7.h"

#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define EXIT_USAGE 2
#define STOP_GRACE_SECONDS 10

/* Whoever takes it decides how the process ends: the main thread once a command has finished
 * (its one line, its status), or the signal thread (cleanup, 128 + signal). Never released: the
 * other one then waits until the process is gone, so a command failing because a signal removed
 * its work folder cannot end the process with its own status and message halfway through the
 * cleanup. */
static GMutex ending;

static int fail(GError *e)
{
    g_mutex_lock(&ending);
    /* a run stopped by SIGINT ends as SIGINT would have ended it, with nothing left behind */
    int rc = g_error_matches(e, MEDIA_ERROR, MEDIA_ERROR_CANCELLED) ? 128 + SIGINT : 1;
    g_printerr("aero-media: %s\n", e->message);
    g_error_free(e);
    return rc;
}

static int usage_error(const char *cmd, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_printerr("aero-media %s: %s (see --help)\n", cmd, msg);
    return EXIT_USAGE;
}

/* ---- progress on stderr ---------------------------------------------------------------------- */

typedef struct {
    gboolean tty, quiet;
    gint64 step_start, last_line;
    int last_decile;
} Term;

/* Set by the signal thread on the first SIGINT; the progress callback turns it into a stop. */
static gint stop_requested;

static char *human(guint64 b)
{
    return g_format_size_full(b, G_FORMAT_SIZE_IEC_UNITS);
}

static void render(const MediaProgressInfo *i, Term *t)
{
    gint64 now = g_get_monotonic_time();
    int pct = i->total ? (int)(i->done * 100 / i->total) : 0;
    g_autofree char *done = human(i->done), *total = human(i->total);
    switch (i->msg) {
    case MEDIA_PROGRESS_NOTE:
        g_printerr("%s\n", i->text);
        return;
    case MEDIA_PROGRESS_BEGIN:
        t->step_start = t->last_line = now;
        t->last_decile = 0;
        if (!t->tty)
            g_printerr("%s%s%s%s\n", i->text, i->total ? " (" : "", i->total ? total : "", i->total ? ")" : "");
        G_GNUC_FALLTHROUGH; /* a terminal shows the empty bar at once */
    case MEDIA_PROGRESS_BYTES:
        if (t->tty) {
            char bar[31];
            int fill = i->total ? (int)(i->done * 30 / i->total) : 0;
            memset(bar, '#', (size_t)fill);
            memset(bar + fill, '.', (size_t)(30 - fill));
            bar[30] = '\0';
            if (i->total)
                g_printerr("\r\033[K%s [%s] %3d%% %s/%s", i->text, bar, pct, done, total);
            else
                g_printerr("\r\033[K%s %s", i->text, done);
        } else if (i->msg == MEDIA_PROGRESS_BYTES && i->total && pct / 10 > t->last_decile &&
                   now - t->last_line >= G_USEC_PER_SEC) {
            /* a log gets a line per 10%, at most one a second */
            t->last_decile = pct / 10;
            t->last_line = now;
            g_printerr("  %s: %d%% (%s of %s)\n", i->text, pct, done, total);
        }
        return;
    case MEDIA_PROGRESS_END: {
        double secs = (double)(now - t->step_start) / G_USEC_PER_SEC;
        if (g_atomic_int_get(&stop_requested)) /* the step ends because the run stops */
            g_printerr("%s%s: stopped after %s in %.1f s\n", t->tty ? "\r\033[K" : "  ", i->text, done, secs);
        else if (t->tty)
            g_printerr("\r\033[K%s: done, %s in %.1f s\n", i->text, done, secs);
        else
            g_printerr("  %s: 100%%, %s in %.1f s\n", i->text, done, secs);
        return;
    }
    }
}

static MediaProgressStatus on_progress(const MediaProgressInfo *i, void *user)
{
    Term *t = user;
    if (!t->quiet)
        render(i, t);
    return g_atomic_int_get(&stop_requested) ? MEDIA_PROGRESS_ABORT : MEDIA_PROGRESS_CONTINUE;
}

/* ---- signals ------------------------------------------------------------------------------------ */

static sigset_t stop_signals;

/* Every other thread has these signals blocked; this one takes them. The first SIGINT asks the
 * command to stop (it unwinds and fails with MEDIA_ERROR_CANCELLED); otherwise, or when that
 * takes too long, it removes what the running command registered as temporary and ends the
 * process the way the signal would. */
static gpointer signal_thread(gpointer data)
{
    int sig = 0;
    (void)data;
    if (sigwait(&stop_signals, &sig) != 0)
        return NULL;
    if (sig == SIGINT) {
        g_atomic_int_set(&stop_requested, 1);
        const struct timespec grace = {STOP_GRACE_SECONDS, 0};
        sig = sigtimedwait(&stop_signals, NULL, &grace);
        if (sig < 0)
            sig = SIGINT; /* the command did not stop in time */
    }
    g_mutex_lock(&ending);
    media_cleanup_run();
    g_printerr("aero-media: stopped by signal %d; temporary files removed\n", sig);
    _exit(128 + sig);
}

static void watch_signals(void)
{
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    g_thread_unref(g_thread_new("aero-media-signals", signal_thread, NULL));
}

typedef struct {
    Term term;
    MediaProgress *p;
} Reporter;

/* Quiet or not, the callback is there: it is how SIGINT stops a run. */
static MediaProgress *reporter(Reporter *r, gboolean quiet)
{
    r->term = (Term){.tty = isatty(STDERR_FILENO), .quiet = quiet};
    r->p = media_progress_new(on_progress, &r->term);
    return r->p;
}

static gboolean parse_arch(const char *s, guint *out)
{
    if (!s || !strcmp(s, "both"))
        *out = MEDIA_ARCH_X86 | MEDIA_ARCH_AMD64;
    else if (!strcmp(s, "x86"))
        *out = MEDIA_ARCH_X86;
    else if (!strcmp(s, "amd64") || !strcmp(s, "x64"))
        *out = MEDIA_ARCH_AMD64;
    else
        return FALSE;
    return TRUE;
}

static int cmd_driver_iso(int argc, char **argv)
{
    g_autofree char *drivers = NULL, *output = NULL, *arch = NULL, *volid = NULL;
    gboolean allow_unsigned = FALSE, quiet = FALSE;
    GOptionEntry entries[] = {
        {"drivers", 'd', 0, G_OPTION_ARG_FILENAME, &drivers, "Driver tree: a folder or an ISO (virtio-win, Aero bundle)", "PATH"},
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "ISO to write", "OUT.iso"},
        {"require-arch", 0, 0, G_OPTION_ARG_STRING, &arch, "Architectures to put on the ISO, each with blk and net: both (default), x86 or amd64 (x64)", "ARCH"},
        {"allow-unsigned", 0, 0, G_OPTION_ARG_NONE, &allow_unsigned, "Accept packages without a catalog (.cat)", NULL},
        {"volid", 0, 0, G_OPTION_ARG_STRING, &volid, "Volume ID (default AERO_DRIVERS)", "ID"},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress output", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- write a driver ISO for AERO-W7-VIRTIO devices");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx,
        "Finds every INF under PATH, validates each package (INF sections, files it names, catalog,\n"
        "contract hardware IDs) and writes win7/<arch>/<package>/ plus manifest.json and INSTALL.txt.\n"
        "blk (PCI\\VEN_1AF4&DEV_1042) and net (DEV_1041) are required for every required arch;\n"
        "input (DEV_1052) and snd (DEV_1059) are taken when present.");
    GError *e = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &e)) {
        int rc = usage_error("driver-iso", "%s", e->message);
        g_error_free(e);
        return rc;
    }
    if (argc > 1)
        return usage_error("driver-iso", "unexpected argument '%s'", argv[1]);
    if (!drivers || !output)
        return usage_error("driver-iso", "--drivers and --output are required");
    Reporter r;
    MediaDriverIsoOptions o = {.drivers = drivers, .output = output, .allow_unsigned = allow_unsigned,
                               .volid = volid};
    if (!parse_arch(arch, &o.archs))
        return usage_error("driver-iso", "--require-arch must be both, x86 or amd64");
    o.progress = reporter(&r, quiet);
    gboolean ok = media_driver_iso(&o, &e);
    media_progress_free(r.p);
    return ok ? 0 : fail(e);
}

static int cmd_win7(int argc, char **argv)
{
    g_autofree char *iso = NULL, *drivers = NULL, *output = NULL, *cert = NULL, *signing = NULL;
    g_autofree char *index = NULL, *unattend = NULL, *key = NULL, *volid = NULL;
    gboolean allow_unsigned = FALSE, quiet = FALSE;
    GOptionEntry entries[] = {
        {"iso", 'i', 0, G_OPTION_ARG_FILENAME, &iso, "Windows 7 SP1 install ISO (x86 or x64); never modified", "WIN7.iso"},
        {"drivers", 'd', 0, G_OPTION_ARG_FILENAME, &drivers, "Driver tree: folder or ISO", "PATH"},
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Patched ISO to write (manifest: OUT.iso.manifest.json)", "OUT.iso"},
        {"cert", 0, 0, G_OPTION_ARG_FILENAME, &cert, "Test-signing certificate (PEM or DER) to trust", "CERT"},
        {"signing", 0, 0, G_OPTION_ARG_STRING, &signing, "testsigning (default), nointegritychecks or none", "POLICY"},
        {"index", 0, 0, G_OPTION_ARG_STRING, &index, "install.wim images to patch: all (default) or N,M,...", "LIST"},
        {"unattend", 0, 0, G_OPTION_ARG_STRING, &unattend, "drivers (default), full or none", "MODE"},
        {"product-key", 0, 0, G_OPTION_ARG_STRING, &key, "Product key for --unattend full", "KEY"},
        {"volid", 0, 0, G_OPTION_ARG_STRING, &volid, "Volume ID (default: the input's)", "ID"},
        {"allow-unsigned", 0, 0, G_OPTION_ARG_NONE, &allow_unsigned, "Accept packages without a catalog", NULL},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress output", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- patch a Windows 7 install ISO for AERO-W7-VIRTIO devices");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx,
        "boot.wim (every image) and the selected install.wim images get the certificate in ROOT and\n"
        "TrustedPublisher, the blk driver pre-seeded as boot-critical, and (install images) every\n"
        "driver package staged for PnP; every BCD store and BCD-Template gets the signing policy;\n"
        "autounattend.xml points Setup at the drivers. An existing autounattend.xml is kept unless\n"
        "--unattend is given (--unattend none removes it). BIOS and UEFI boot entries of the input are kept.");
    GError *e = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &e)) {
        int rc = usage_error("win7", "%s", e->message);
        g_error_free(e);
        return rc;
    }
    if (argc > 1)
        return usage_error("win7", "unexpected argument '%s'", argv[1]);
    if (!iso || !drivers || !output)
        return usage_error("win7", "--iso, --drivers and --output are required");
    Reporter r;
    MediaWin7Options o = {.iso = iso, .drivers = drivers, .output = output, .cert = cert,
                          .signing = MEDIA_SIGNING_TESTSIGNING, .index_spec = index,
                          .unattend = MEDIA_UNATTEND_DRIVERS, .unattend_given = unattend != NULL,
                          .product_key = key, .volid = volid, .allow_unsigned = allow_unsigned};
    if (signing && !media_signing_parse(signing, &o.signing))
        return usage_error("win7", "--signing must be testsigning, nointegritychecks or none");
    if (unattend && !media_unattend_parse(unattend, &o.unattend))
        return usage_error("win7", "--unattend must be drivers, full or none");
    if (key && o.unattend != MEDIA_UNATTEND_FULL)
        return usage_error("win7", "--product-key needs --unattend full");
    o.progress = reporter(&r, quiet);
    gboolean ok = media_win7(&o, &e);
    media_progress_free(r.p);
    return ok ? 0 : fail(e);
}

/* The checklist on stdout: every check, or only the failures with --quiet. */
static void print_check(MediaVerifyKind kind, const char *text, void *user)
{
    const gboolean *quiet = user;
    if (kind == MEDIA_VERIFY_FAIL)
        g_print("[FAIL] %s\n", text);
    else if (!*quiet)
        g_print("[%s] %s\n", kind == MEDIA_VERIFY_PASS ? " ok " : "info", text);
}

static int cmd_verify(int argc, char **argv)
{
    g_autofree char *manifest = NULL;
    gboolean quiet = FALSE;
    GOptionEntry entries[] = {
        {"manifest", 'm', 0, G_OPTION_ARG_FILENAME, &manifest, "Manifest of the run (default: OUT.iso.manifest.json if it exists)", "FILE"},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print failures only", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("OUT.iso - check a patched ISO");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx,
        "Re-opens the ISO with libisofs, wimlib and hivex and checks what the image itself shows:\n"
        "every boot.wim image and the install.wim images carrying the drivers (storage service and\n"
        "CriticalDeviceDatabase in every ControlSet, the driver binary equal to the staged package's,\n"
        "certificates, DevicePath, Windows\\AeroDrivers, BCD-Template), every BCD store present, the\n"
        "staged packages (valid for the media's architecture), El Torito entries and autounattend.xml.\n"
        "A manifest adds the output hash, the input's boot entries, the signing policy, the\n"
        "certificate and file hashes. Exit status 1 on any miss.");
    GError *e = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &e)) {
        int rc = usage_error("verify", "%s", e->message);
        g_error_free(e);
        return rc;
    }
    if (argc != 2)
        return usage_error("verify", "give exactly one ISO");
    Reporter r;
    MediaVerifyOptions o = {.iso = argv[1], .manifest = manifest, .report = print_check, .user = &quiet};
    o.progress = reporter(&r, quiet);
    gboolean ok = media_verify(&o, &e);
    media_progress_free(r.p);
    if (ok && !quiet)
        g_print("%s: all %u checks passed\n", o.iso, o.checks);
    return ok ? 0 : fail(e);
}

static int cmd_domain(int argc, char **argv)
{
    g_autofree char *name = NULL, *iso = NULL, *drivers_iso = NULL, *disk = NULL, *disk_size = NULL;
    g_autofree char *firmware = NULL, *emulator = NULL, *accel = NULL, *sound = NULL, *network = NULL;
    g_autofree char *output = NULL, *connect = NULL;
    int memory = 0, vcpus = 0, header_len = 0;
    gboolean define = FALSE, start = FALSE, paused = FALSE, replace = FALSE, reuse_disk = FALSE, quiet = FALSE;
    GOptionEntry entries[] = {
        {"name", 'n', 0, G_OPTION_ARG_STRING, &name, "Domain name", "NAME"},
        {"iso", 'i', 0, G_OPTION_ARG_FILENAME, &iso, "Install ISO (aero-media win7 output), a SATA CD-ROM", "INSTALL.iso"},
        {"drivers-iso", 0, 0, G_OPTION_ARG_FILENAME, &drivers_iso, "Driver ISO (aero-media driver-iso output), a second CD-ROM", "DRIVERS.iso"},
        {"disk", 0, 0, G_OPTION_ARG_FILENAME, &disk, "Disk image on aero-virtio-blk-pci (created by --define unless it exists)", "DISK.qcow2"},
        {"disk-size", 0, 0, G_OPTION_ARG_STRING, &disk_size, "Size of a disk this run creates (default 64G)", "SIZE"},
        {"memory", 'm', 0, G_OPTION_ARG_INT, &memory, "Memory in MiB (default 2048)", "MIB"},
        {"vcpus", 0, 0, G_OPTION_ARG_INT, &vcpus, "Virtual CPUs (default 2)", "N"},
        {"firmware", 0, 0, G_OPTION_ARG_STRING, &firmware, "bios (SeaBIOS, default) or uefi (OVMF; x64 media only)", "FW"},
        {"emulator", 0, 0, G_OPTION_ARG_FILENAME, &emulator, "Patched QEMU (default: the one this project built)", "PATH"},
        {"accel", 0, 0, G_OPTION_ARG_STRING, &accel, "auto (KVM where it really runs a guest, default), kvm or tcg", "ACCEL"},
        {"sound", 0, 0, G_OPTION_ARG_STRING, &sound, "off (the only value until aero-virtio-snd-pci exists)", "on|off"},
        {"network", 0, 0, G_OPTION_ARG_STRING, &network, "user (default), bridge=NAME or network=NAME", "NET"},
        {"net-header-len", 0, 0, G_OPTION_ARG_INT, &header_len, "NIC header length: 10 (Aero driver) or 12 (virtio-win, Linux); default from the driver ISO's manifest", "N"},
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Write the domain XML here (default: stdout, unless defining)", "FILE"},
        {"connect", 'c', 0, G_OPTION_ARG_STRING, &connect, "libvirt URI (default qemu:///system; qemu:///embed?root=DIR needs no daemon)", "URI"},
        {"define", 0, 0, G_OPTION_ARG_NONE, &define, "Create the disk and define the domain", NULL},
        {"start", 0, 0, G_OPTION_ARG_NONE, &start, "Define and start it", NULL},
        {"paused", 0, 0, G_OPTION_ARG_NONE, &paused, "With --start: vCPUs paused until 'virsh resume'", NULL},
        {"replace", 0, 0, G_OPTION_ARG_NONE, &replace, "Redefine a domain of that name (it must not be running)", NULL},
        {"reuse-disk", 0, 0, G_OPTION_ARG_NONE, &reuse_disk, "Use an existing disk image as it is", NULL},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress output", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- write, define and start a libvirt domain on AERO-W7-VIRTIO devices");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx,
        "q35 machine; disk on aero-virtio-blk-pci, NIC on aero-virtio-net-pci, keyboard/mouse/tablet as\n"
        "functions 0/1/2 of one aero-virtio input slot: native libvirt <disk>, <interface> and <input>\n"
        "devices whose QEMU driver <qemu:override> switches to the aero one. Both ISOs on SATA CD-ROMs,\n"
        "boot order disk then install CD; VNC on 127.0.0.1 with std VGA; serial console on a pty.\n"
        "type='kvm' when /dev/kvm really runs a guest with the emulator (probed), else 'qemu' (TCG).");
    GError *e = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &e)) {
        int rc = usage_error("domain", "%s", e->message);
        g_error_free(e);
        return rc;
    }
    if (argc > 1)
        return usage_error("domain", "unexpected argument '%s'", argv[1]);
    if (!name || !iso || !disk)
        return usage_error("domain", "--name, --iso and --disk are required");
    MediaDomainOptions o = {.name = name, .iso = iso, .drivers_iso = drivers_iso, .disk = disk,
                            .emulator = emulator, .output = output, .connect = connect, .define = define,
                            .start = start, .paused = paused, .replace = replace, .reuse_disk = reuse_disk};
    if (disk_size && !media_parse_size(disk_size, &o.disk_size))
        return usage_error("domain", "--disk-size '%s': give a size such as 64G, 512M or 1T", disk_size);
    if (memory < 0 || (memory && memory < 256) || memory > 4 * 1024 * 1024)
        return usage_error("domain", "--memory must be between 256 and 4194304 MiB");
    if (vcpus < 0 || vcpus > 255)
        return usage_error("domain", "--vcpus must be between 1 and 255");
    if (header_len && header_len != 10 && header_len != 12)
        return usage_error("domain", "--net-header-len must be 10 or 12");
    o.memory_mib = (guint)memory;
    o.vcpus = (guint)vcpus;
    o.net_header_len = (guint)header_len;
    if (!firmware || !strcmp(firmware, "bios"))
        o.firmware = MEDIA_FIRMWARE_BIOS;
    else if (!strcmp(firmware, "uefi"))
        o.firmware = MEDIA_FIRMWARE_UEFI;
    else
        return usage_error("domain", "--firmware must be bios or uefi");
    if (!accel || !strcmp(accel, "auto"))
        o.accel = MEDIA_ACCEL_AUTO;
    else if (!strcmp(accel, "kvm"))
        o.accel = MEDIA_ACCEL_KVM;
    else if (!strcmp(accel, "tcg"))
        o.accel = MEDIA_ACCEL_TCG;
    else
        return usage_error("domain", "--accel must be auto, kvm or tcg");
    if (sound && !strcmp(sound, "on"))
        return usage_error("domain", "--sound on: aero-virtio-snd-pci does not exist yet; only --sound off is accepted");
    if (sound && strcmp(sound, "off"))
        return usage_error("domain", "--sound must be off (on once aero-virtio-snd-pci exists)");
    if (!network || !strcmp(network, "user")) {
        o.net = MEDIA_NET_USER;
    } else if (g_str_has_prefix(network, "bridge=") && network[7]) {
        o.net = MEDIA_NET_BRIDGE;
        o.net_source = network + 7;
    } else if (g_str_has_prefix(network, "network=") && network[8]) {
        o.net = MEDIA_NET_NETWORK;
        o.net_source = network + 8;
    } else {
        return usage_error("domain", "--network must be user, bridge=NAME or network=NAME");
    }
    if (paused && !start)
        return usage_error("domain", "--paused needs --start");
    if ((replace || reuse_disk) && !define && !start)
        return usage_error("domain", "--replace and --reuse-disk need --define or --start");
    Reporter r;
    o.progress = reporter(&r, quiet);
    gboolean ok = media_domain(&o, &e);
    media_progress_free(r.p);
    return ok ? 0 : fail(e);
}

static const struct {
    const char *name, *summary;
    int (*fn)(int, char **);
} commands[] = {
    {"driver-iso", "validate driver packages and write a driver ISO", cmd_driver_iso},
    {"win7", "patch a Windows 7 install ISO (drivers, certificate, BCD, unattend)", cmd_win7},
    {"verify", "check a patched ISO (with its manifest, if any)", cmd_verify},
    {"domain", "write, define and start a libvirt domain on the aero devices", cmd_domain},
};

static void usage(void)
{
    g_printerr("Usage: aero-media COMMAND [OPTIONS]\n\nCommands:\n");
    for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
        g_printerr("  %-12s %s\n", commands[i].name, commands[i].summary);
    g_printerr("\n'aero-media COMMAND --help' shows a command's options.\n");
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage();
        return argc < 2 ? EXIT_USAGE : 0;
    }
    media_output_mode(); /* reads the umask once, before any thread could create a file */
    watch_signals();
    if (!strcmp(argv[1], "--version")) {
        g_print("aero-media %s\n", MEDIA_VERSION);
        return 0;
    }
    for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (!strcmp(argv[1], commands[i].name)) {
            g_autofree char *prg = g_strdup_printf("aero-media %s", commands[i].name);
            g_set_prgname(prg);
            argv[1] = prg;
            int rc = commands[i].fn(argc - 1, argv + 1);
            if (rc == 0)
                g_mutex_lock(&ending); /* fail() took it otherwise */
            return rc;
        }
    }
    g_printerr("aero-media: unknown command '%s'\n", argv[1]);
    usage();
    return EXIT_USAGE;
}
