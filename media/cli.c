/* aero-media: command-line front end. One GOptionContext per subcommand; every failure is one
 * line on stderr ("aero-media: <file>: <problem>") and a non-zero exit status.
 */
#include "driver_iso.h"
#include "inf.h"
#include "util.h"
#include "win7.h"

#include <locale.h>
#include <string.h>

static int fail(GError *e)
{
    g_printerr("aero-media: %s\n", e->message);
    g_error_free(e);
    return 1;
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
        {"require-arch", 0, 0, G_OPTION_ARG_STRING, &arch, "Architectures that must be complete: both (default), x86, amd64", "ARCH"},
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
    if (!g_option_context_parse(ctx, &argc, &argv, &e))
        return fail(e);
    if (!drivers || !output) {
        g_printerr("aero-media driver-iso: --drivers and --output are required (see --help)\n");
        return 2;
    }
    MediaDriverIsoOptions o = {.drivers = drivers, .output = output, .allow_unsigned = allow_unsigned,
                               .volid = volid, .quiet = quiet};
    if (!parse_arch(arch, &o.archs)) {
        g_printerr("aero-media driver-iso: --require-arch must be both, x86 or amd64\n");
        return 2;
    }
    if (!media_driver_iso(&o, &e))
        return fail(e);
    return 0;
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
        "--unattend is given. BIOS and UEFI boot entries of the input are kept.");
    GError *e = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &e))
        return fail(e);
    if (!iso || !drivers || !output) {
        g_printerr("aero-media win7: --iso, --drivers and --output are required (see --help)\n");
        return 2;
    }
    MediaWin7Options o = {.iso = iso, .drivers = drivers, .output = output, .cert = cert,
                          .signing = MEDIA_SIGNING_TESTSIGNING, .index_spec = index,
                          .unattend = MEDIA_UNATTEND_DRIVERS, .unattend_given = unattend != NULL,
                          .product_key = key, .volid = volid, .allow_unsigned = allow_unsigned,
                          .quiet = quiet};
    if (signing && !strcmp(signing, "nointegritychecks"))
        o.signing = MEDIA_SIGNING_NOINTEGRITYCHECKS;
    else if (signing && !strcmp(signing, "none"))
        o.signing = MEDIA_SIGNING_NONE;
    else if (signing && strcmp(signing, "testsigning")) {
        g_printerr("aero-media win7: --signing must be testsigning, nointegritychecks or none\n");
        return 2;
    }
    if (unattend && !strcmp(unattend, "none"))
        o.unattend = MEDIA_UNATTEND_NONE;
    else if (unattend && !strcmp(unattend, "full"))
        o.unattend = MEDIA_UNATTEND_FULL;
    else if (unattend && strcmp(unattend, "drivers")) {
        g_printerr("aero-media win7: --unattend must be drivers, full or none\n");
        return 2;
    }
    if (!media_win7(&o, &e))
        return fail(e);
    return 0;
}

static int cmd_verify(int argc, char **argv)
{
    g_autofree char *manifest = NULL;
    gboolean quiet = FALSE;
    GOptionEntry entries[] = {
        {"manifest", 'm', 0, G_OPTION_ARG_FILENAME, &manifest, "Manifest of the run (default: OUT.iso.manifest.json)", "FILE"},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print failures only", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("OUT.iso - check a patched ISO");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx,
        "Re-opens the ISO with xorriso, wimlib and hivex and checks, image by image: BCD signing\n"
        "policy, certificate entries (Blob parsed back to the DER), boot-critical storage service\n"
        "and CriticalDeviceDatabase, the driver binary in System32\\drivers, staged drivers,\n"
        "El Torito entries, driver file hashes and autounattend.xml paths. Exit status 1 on any miss.");
    GError *e = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &e))
        return fail(e);
    if (argc != 2) {
        g_printerr("aero-media verify: give exactly one ISO (see --help)\n");
        return 2;
    }
    if (!media_verify(argv[1], manifest, quiet, &e))
        return fail(e);
    return 0;
}

static const struct {
    const char *name, *summary;
    int (*fn)(int, char **);
} commands[] = {
    {"driver-iso", "validate driver packages and write a driver ISO", cmd_driver_iso},
    {"win7", "patch a Windows 7 install ISO (drivers, certificate, BCD, unattend)", cmd_win7},
    {"verify", "check a patched ISO against its manifest", cmd_verify},
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
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        g_print("aero-media %s\n", MEDIA_VERSION);
        return 0;
    }
    for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (!strcmp(argv[1], commands[i].name)) {
            g_autofree char *prg = g_strdup_printf("aero-media %s", commands[i].name);
            g_set_prgname(prg);
            argv[1] = prg;
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    g_printerr("aero-media: unknown command '%s'\n", argv[1]);
    usage();
    return 2;
}
