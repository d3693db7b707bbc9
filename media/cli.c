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
#include "vm.h"
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

/* Options `domain` and `vm` share. */
typedef struct {
    char *name, *disk, *disk_size, *firmware, *emulator, *accel, *sound, *audio, *sound_protocol, *network,
        *output, *connect;
    int memory, vcpus, header_len;
    gboolean paused, replace, reuse_disk, quiet;
} DomainArgs;

static void domain_args_clear(DomainArgs *a)
{
    g_free(a->name);
    g_free(a->disk);
    g_free(a->disk_size);
    g_free(a->firmware);
    g_free(a->emulator);
    g_free(a->accel);
    g_free(a->sound);
    g_free(a->audio);
    g_free(a->sound_protocol);
    g_free(a->network);
    g_free(a->output);
    g_free(a->connect);
}

/* The shared options go into the command's main group (GLib copies the entries). */
static void add_domain_entries(GOptionContext *ctx, DomainArgs *a)
{
    GOptionEntry entries[] = {
        {"name", 'n', 0, G_OPTION_ARG_STRING, &a->name, "Domain name", "NAME"},
        {"disk", 0, 0, G_OPTION_ARG_FILENAME, &a->disk, "Disk image on aero-virtio-blk-pci (created unless it exists)", "DISK.qcow2"},
        {"disk-size", 0, 0, G_OPTION_ARG_STRING, &a->disk_size, "Size of a disk this run creates (default 64G)", "SIZE"},
        {"memory", 'm', 0, G_OPTION_ARG_INT, &a->memory, "Memory in MiB (default 2048)", "MIB"},
        {"vcpus", 0, 0, G_OPTION_ARG_INT, &a->vcpus, "Virtual CPUs (default 2)", "N"},
        {"firmware", 0, 0, G_OPTION_ARG_STRING, &a->firmware, "bios (SeaBIOS, default) or uefi (OVMF; x64 media only)", "FW"},
        {"emulator", 0, 0, G_OPTION_ARG_FILENAME, &a->emulator, "Patched QEMU (default: the one this project built)", "PATH"},
        {"accel", 0, 0, G_OPTION_ARG_STRING, &a->accel, "auto (KVM where it really runs a guest, default), kvm or tcg", "ACCEL"},
        {"sound", 0, 0, G_OPTION_ARG_STRING, &a->sound, "Sound on aero-virtio-snd-pci (default off)", "on|off"},
        {"audio", 0, 0, G_OPTION_ARG_STRING, &a->audio, "Where --sound on plays and records: none (default), pulseaudio, alsa, or file=PATH (a WAV file)", "BACKEND"},
        {"sound-protocol", 0, 0, G_OPTION_ARG_STRING, &a->sound_protocol, "Sound wire encoding: aero (the contract's, Aero's driver; default) or virtio (virtio 1.2: Linux)", "P"},
        {"network", 0, 0, G_OPTION_ARG_STRING, &a->network, "user (default), bridge=NAME or network=NAME", "NET"},
        {"net-header-len", 0, 0, G_OPTION_ARG_INT, &a->header_len, "NIC header length: 10 (Aero driver) or 12 (virtio-win, Linux); default from the driver ISO's manifest", "N"},
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &a->output, "Also write the domain XML here", "FILE"},
        {"connect", 'c', 0, G_OPTION_ARG_STRING, &a->connect, "libvirt URI (default qemu:///system; qemu:///embed?root=DIR needs no daemon)", "URI"},
        {"paused", 0, 0, G_OPTION_ARG_NONE, &a->paused, "Start with the vCPUs paused until 'virsh resume'", NULL},
        {"replace", 0, 0, G_OPTION_ARG_NONE, &a->replace, "Redefine a domain of that name (it must not be running)", NULL},
        {"reuse-disk", 0, 0, G_OPTION_ARG_NONE, &a->reuse_disk, "Use an existing disk image as it is", NULL},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &a->quiet, "No progress output", NULL},
        {NULL},
    };
    g_option_context_add_main_entries(ctx, entries, NULL);
}

/* Check the shared values into o; a usage status (2) when one is bad, 0 when all are fine. */
static int domain_values(const char *cmd, const DomainArgs *a, MediaDomainOptions *o)
{
    o->name = a->name;
    o->disk = a->disk;
    o->emulator = a->emulator;
    o->output = a->output;
    o->connect = a->connect;
    o->paused = a->paused;
    o->replace = a->replace;
    o->reuse_disk = a->reuse_disk;
    if (a->disk_size && !media_parse_size(a->disk_size, &o->disk_size))
        return usage_error(cmd, "--disk-size '%s': give a size such as 64G, 512M or 1T", a->disk_size);
    if (a->memory < 0 || (a->memory && a->memory < 256) || a->memory > 4 * 1024 * 1024)
        return usage_error(cmd, "--memory must be between 256 and 4194304 MiB");
    if (a->vcpus < 0 || a->vcpus > 255)
        return usage_error(cmd, "--vcpus must be between 1 and 255");
    if (a->header_len && a->header_len != 10 && a->header_len != 12)
        return usage_error(cmd, "--net-header-len must be 10 or 12");
    o->memory_mib = (guint)a->memory;
    o->vcpus = (guint)a->vcpus;
    o->net_header_len = (guint)a->header_len;
    if (!a->firmware || !strcmp(a->firmware, "bios"))
        o->firmware = MEDIA_FIRMWARE_BIOS;
    else if (!strcmp(a->firmware, "uefi"))
        o->firmware = MEDIA_FIRMWARE_UEFI;
    else
        return usage_error(cmd, "--firmware must be bios or uefi");
    if (!a->accel || !strcmp(a->accel, "auto"))
        o->accel = MEDIA_ACCEL_AUTO;
    else if (!strcmp(a->accel, "kvm"))
        o->accel = MEDIA_ACCEL_KVM;
    else if (!strcmp(a->accel, "tcg"))
        o->accel = MEDIA_ACCEL_TCG;
    else
        return usage_error(cmd, "--accel must be auto, kvm or tcg");
    if (a->sound && strcmp(a->sound, "on") && strcmp(a->sound, "off"))
        return usage_error(cmd, "--sound must be on or off");
    o->sound = a->sound && !strcmp(a->sound, "on");
    if ((a->audio || a->sound_protocol) && !o->sound)
        return usage_error(cmd, "--audio and --sound-protocol need --sound on");
    if (a->sound_protocol && strcmp(a->sound_protocol, "aero") && strcmp(a->sound_protocol, "virtio"))
        return usage_error(cmd, "--sound-protocol must be aero or virtio");
    o->sound_protocol = a->sound_protocol;
    if (!a->audio || !strcmp(a->audio, "none"))
        o->audio = MEDIA_AUDIO_NONE;
    else if (!strcmp(a->audio, "pulseaudio"))
        o->audio = MEDIA_AUDIO_PULSEAUDIO;
    else if (!strcmp(a->audio, "alsa"))
        o->audio = MEDIA_AUDIO_ALSA;
    else if (g_str_has_prefix(a->audio, "file=") && a->audio[5]) {
        o->audio = MEDIA_AUDIO_FILE;
        o->audio_file = a->audio + 5;
    } else {
        return usage_error(cmd, "--audio must be none, pulseaudio, alsa or file=PATH");
    }
    if (!a->network || !strcmp(a->network, "user")) {
        o->net = MEDIA_NET_USER;
    } else if (g_str_has_prefix(a->network, "bridge=") && a->network[7]) {
        o->net = MEDIA_NET_BRIDGE;
        o->net_source = a->network + 7;
    } else if (g_str_has_prefix(a->network, "network=") && a->network[8]) {
        o->net = MEDIA_NET_NETWORK;
        o->net_source = a->network + 8;
    } else {
        return usage_error(cmd, "--network must be user, bridge=NAME or network=NAME");
    }
    return 0;
}

static const char domain_description[] =
    "q35 machine; disk on aero-virtio-blk-pci, NIC on aero-virtio-net-pci, keyboard/mouse/tablet as\n"
    "functions 0/1/2 of one aero-virtio input slot: native libvirt <disk>, <interface> and <input>\n"
    "devices whose QEMU driver <qemu:override> switches to the aero one. Both ISOs on SATA CD-ROMs,\n"
    "boot order disk then install CD; VNC on 127.0.0.1 with std VGA; serial console on a pty.\n"
    "--sound on: aero-virtio-snd-pci as a libvirt <sound> (es1370 model, overridden) with an <audio>\n"
    "backend (--audio).\n"
    "type='kvm' when /dev/kvm really runs a guest with the emulator (probed), else 'qemu' (TCG).";

static int cmd_domain(int argc, char **argv)
{
    g_autofree char *iso = NULL, *drivers_iso = NULL;
    gboolean define = FALSE, start = FALSE;
    DomainArgs a = {0};
    GOptionEntry entries[] = {
        {"iso", 'i', 0, G_OPTION_ARG_FILENAME, &iso, "Install ISO (aero-media win7 output), a SATA CD-ROM", "INSTALL.iso"},
        {"drivers-iso", 0, 0, G_OPTION_ARG_FILENAME, &drivers_iso, "Driver ISO (aero-media driver-iso output), a second CD-ROM", "DRIVERS.iso"},
        {"define", 0, 0, G_OPTION_ARG_NONE, &define, "Create the disk and define the domain (else: XML only, to --output or stdout)", NULL},
        {"start", 0, 0, G_OPTION_ARG_NONE, &start, "Define and start it", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- write, define and start a libvirt domain on AERO-W7-VIRTIO devices");
    g_option_context_add_main_entries(ctx, entries, NULL);
    add_domain_entries(ctx, &a);
    g_option_context_set_description(ctx, domain_description);
    GError *e = NULL;
    int rc = 0;
    MediaDomainOptions o = {.iso = iso, .drivers_iso = drivers_iso, .define = define, .start = start};
    if (!g_option_context_parse(ctx, &argc, &argv, &e)) {
        rc = usage_error("domain", "%s", e->message);
        g_error_free(e);
    } else if (argc > 1) {
        rc = usage_error("domain", "unexpected argument '%s'", argv[1]);
    } else if (!a.name || !iso || !a.disk) {
        rc = usage_error("domain", "--name, --iso and --disk are required");
    } else if ((rc = domain_values("domain", &a, &o)) == 0) {
        o.iso = iso;
        o.drivers_iso = drivers_iso;
        o.define = define;
        o.start = start;
        if (a.paused && !start)
            rc = usage_error("domain", "--paused needs --start");
        else if ((a.replace || a.reuse_disk) && !define && !start)
            rc = usage_error("domain", "--replace and --reuse-disk need --define or --start");
    }
    if (rc == 0) {
        Reporter r;
        o.progress = reporter(&r, a.quiet);
        gboolean ok = media_domain(&o, &e);
        media_progress_free(r.p);
        rc = ok ? 0 : fail(e);
    }
    domain_args_clear(&a);
    return rc;
}

static int cmd_vm(int argc, char **argv)
{
    g_autofree char *iso = NULL, *drivers = NULL, *cert = NULL, *signing = NULL, *unattend = NULL, *key = NULL;
    g_autofree char *cache = NULL;
    gboolean allow_unsigned = FALSE, xml_only = FALSE;
    DomainArgs a = {0};
    GOptionEntry entries[] = {
        {"iso", 'i', 0, G_OPTION_ARG_FILENAME, &iso, "Your Windows 7 SP1 install ISO (x86 or x64); never modified", "WIN7.iso"},
        {"drivers", 'd', 0, G_OPTION_ARG_FILENAME, &drivers, "Driver tree: folder or ISO (virtio-win, Aero bundle)", "PATH"},
        {"cert", 0, 0, G_OPTION_ARG_FILENAME, &cert, "Test-signing certificate (PEM or DER) to trust", "CERT"},
        {"signing", 0, 0, G_OPTION_ARG_STRING, &signing, "testsigning (default), nointegritychecks or none", "POLICY"},
        {"unattend", 0, 0, G_OPTION_ARG_STRING, &unattend, "full (default: unattended install), drivers or none", "MODE"},
        {"product-key", 0, 0, G_OPTION_ARG_STRING, &key, "Product key for --unattend full", "KEY"},
        {"allow-unsigned", 0, 0, G_OPTION_ARG_NONE, &allow_unsigned, "Accept packages without a catalog", NULL},
        {"cache", 0, 0, G_OPTION_ARG_FILENAME, &cache, "Folder for the built ISOs (default: the disk's folder)", "DIR"},
        {"xml-only", 0, 0, G_OPTION_ARG_NONE, &xml_only, "Build (or reuse) the ISOs and write the XML; no libvirt", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- from a Windows 7 ISO and drivers to a running libvirt VM on AERO-W7-VIRTIO devices");
    g_option_context_add_main_entries(ctx, entries, NULL);
    add_domain_entries(ctx, &a);
    g_option_context_set_description(ctx,
        "Runs driver-iso and win7 (with --unattend full unless told otherwise), creates the disk, defines\n"
        "and starts the domain, and says how to watch it. The ISOs are kept in the cache folder under names\n"
        "keyed by the hashes of their inputs and options: a re-run with the same inputs reuses them.\n\n"
        "Domain: as 'aero-media domain'. " "Use --replace --reuse-disk to redefine an existing VM.");
    GError *e = NULL;
    int rc = 0;
    MediaVmOptions o = {.iso = iso, .drivers = drivers, .cert = cert, .signing = MEDIA_SIGNING_TESTSIGNING,
                        .unattend = MEDIA_UNATTEND_FULL, .allow_unsigned = allow_unsigned};
    if (!g_option_context_parse(ctx, &argc, &argv, &e)) {
        rc = usage_error("vm", "%s", e->message);
        g_error_free(e);
    } else if (argc > 1) {
        rc = usage_error("vm", "unexpected argument '%s'", argv[1]);
    } else if (!a.name || !iso || !drivers || !a.disk) {
        rc = usage_error("vm", "--name, --iso, --drivers and --disk are required");
    } else if ((rc = domain_values("vm", &a, &o.domain)) == 0) {
        o.iso = iso;
        o.drivers = drivers;
        o.cert = cert;
        o.product_key = key;
        o.allow_unsigned = allow_unsigned;
        o.cache_dir = cache;
        o.xml_only = xml_only;
        if (signing && !strcmp(signing, "nointegritychecks"))
            o.signing = MEDIA_SIGNING_NOINTEGRITYCHECKS;
        else if (signing && !strcmp(signing, "none"))
            o.signing = MEDIA_SIGNING_NONE;
        else if (signing && strcmp(signing, "testsigning"))
            rc = usage_error("vm", "--signing must be testsigning, nointegritychecks or none");
        if (unattend && !strcmp(unattend, "none"))
            o.unattend = MEDIA_UNATTEND_NONE;
        else if (unattend && !strcmp(unattend, "drivers"))
            o.unattend = MEDIA_UNATTEND_DRIVERS;
        else if (unattend && strcmp(unattend, "full"))
            rc = usage_error("vm", "--unattend must be full, drivers or none");
        if (!rc && key && o.unattend != MEDIA_UNATTEND_FULL)
            rc = usage_error("vm", "--product-key needs --unattend full");
        if (!rc && a.paused && xml_only)
            rc = usage_error("vm", "--paused starts nothing with --xml-only");
    }
    if (rc == 0) {
        Reporter r;
        o.domain.progress = reporter(&r, a.quiet);
        gboolean ok = media_vm(&o, &e);
        media_progress_free(r.p);
        rc = ok ? 0 : fail(e);
    }
    domain_args_clear(&a);
    return rc;
}

static const struct {
    const char *name, *summary;
    int (*fn)(int, char **);
} commands[] = {
    {"driver-iso", "validate driver packages and write a driver ISO", cmd_driver_iso},
    {"win7", "patch a Windows 7 install ISO (drivers, certificate, BCD, unattend)", cmd_win7},
    {"verify", "check a patched ISO (with its manifest, if any)", cmd_verify},
    {"domain", "write, define and start a libvirt domain on the aero devices", cmd_domain},
    {"vm", "driver ISO + Windows 7 ISO + disk + domain, defined and started: the one command", cmd_vm},
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
