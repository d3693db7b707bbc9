/* `aero-media domain`: check the inputs, decide what the domain needs (accelerator, firmware, the
 * NIC's header length from the drivers on the driver ISO), build the libvirt domain XML with
 * libxml2 and write, define and start it. Devices libvirt models stay native XML (disk, interface,
 * input) and <qemu:override> switches their QEMU driver to the aero one, so libvirt still manages
 * them (blockdev, labels, hot-unplug); nothing needs <qemu:commandline>.
 */
#include "domain.h"

#include "aero_snd.h" /* AERO_SND_RATE, AERO_SND_PLAYBACK_CHANNELS (CONTRACT §3.4) */
#include "inf.h"
#include "iso.h"
#include "util.h"
#include "virt.h"
#include "wim.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libxml/tree.h>
#include <string.h>
#include <unistd.h>

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"
#define DEFAULT_DISK_SIZE (64ull << 30)
#define DEFAULT_MEMORY_MIB 2048
#define DEFAULT_VCPUS 2
/* A slot of its own for the three input functions (CONTRACT §3.3: one multi-function device);
 * libvirt's own allocation on q35 starts at the root ports, far below. */
#define INPUT_SLOT "0x0a"
/* Debian's ovmf package: 4 MiB images, the layout Debian 12's QEMU and libvirt expect. */
#define OVMF_CODE "/usr/share/OVMF/OVMF_CODE_4M.fd"
#define OVMF_VARS "/usr/share/OVMF/OVMF_VARS_4M.fd"
/* Longest a probe of the emulator may take; a /dev/kvm that hangs guests must not hang us. */
#define PROBE_TIMEOUT_S 10
#define KVM_PROBE_TIMEOUT_S 5

/* User aliases (libvirt keeps "ua-" names as the QEMU id): how <qemu:override> finds each device,
 * and the QOM path /machine/peripheral/<alias> its `stats` are read from. */
#define ALIAS_DISK "ua-aero-disk"
#define ALIAS_NIC "ua-aero-nic"
#define ALIAS_KBD "ua-aero-kbd"
#define ALIAS_MOUSE "ua-aero-mouse"
#define ALIAS_TABLET "ua-aero-tablet"
#define ALIAS_SND "ua-aero-snd"

static const char *const aero_devices[] = {
    "aero-virtio-blk-pci", "aero-virtio-net-pci", "aero-virtio-keyboard-pci",
    "aero-virtio-mouse-pci", "aero-virtio-tablet-pci",
};

void media_domain_spec_clear(MediaDomainSpec *s)
{
    g_free(s->name);
    g_free(s->uuid);
    g_free(s->emulator);
    g_free(s->iso);
    g_free(s->drivers_iso);
    g_free(s->disk);
    g_free(s->net_source);
    g_free(s->audio_file);
    g_free(s->sound_protocol);
    memset(s, 0, sizeof(*s));
}

gboolean media_parse_size(const char *text, guint64 *bytes)
{
    char *end = NULL;
    if (!text || !g_ascii_isdigit(*text))
        return FALSE;
    errno = 0;
    guint64 n = g_ascii_strtoull(text, &end, 10);
    if (errno || end == text)
        return FALSE;
    guint shift = 0;
    switch (g_ascii_toupper(*end)) {
    case '\0': break;
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    default: return FALSE;
    }
    if (*end && end[1] && g_ascii_strcasecmp(end + 1, "iB") && g_ascii_strcasecmp(end + 1, "B"))
        return FALSE;
    if (n == 0 || n > (G_MAXUINT64 >> shift))
        return FALSE;
    *bytes = n << shift;
    return TRUE;
}

/* ---- the XML ------------------------------------------------------------------------------ */

static xmlNodePtr child(xmlNodePtr parent, const char *name, const char *text)
{
    return xmlNewTextChild(parent, NULL, BAD_CAST name, text ? BAD_CAST text : NULL);
}

static void prop(xmlNodePtr n, const char *name, const char *value)
{
    xmlNewProp(n, BAD_CAST name, BAD_CAST value);
}

static void pci_address(xmlNodePtr dev, const char *slot, int function, gboolean multifunction)
{
    xmlNodePtr a = child(dev, "address", NULL);
    char fn[8];
    g_snprintf(fn, sizeof(fn), "0x%x", function);
    prop(a, "type", "pci");
    prop(a, "domain", "0x0000");
    prop(a, "bus", "0x00");
    prop(a, "slot", slot);
    prop(a, "function", fn);
    if (multifunction)
        prop(a, "multifunction", "on");
}

static void alias(xmlNodePtr dev, const char *name)
{
    prop(child(dev, "alias", NULL), "name", name);
}

static void cdrom(xmlNodePtr devices, const char *file, const char *target, int boot_order)
{
    xmlNodePtr d = child(devices, "disk", NULL);
    prop(d, "type", "file");
    prop(d, "device", "cdrom");
    xmlNodePtr drv = child(d, "driver", NULL);
    prop(drv, "name", "qemu");
    prop(drv, "type", "raw");
    prop(child(d, "source", NULL), "file", file);
    xmlNodePtr t = child(d, "target", NULL);
    /* SATA (AHCI): Windows 7 Setup reads it with its own inbox driver */
    prop(t, "dev", target);
    prop(t, "bus", "sata");
    child(d, "readonly", NULL);
    if (boot_order) {
        char order[8];
        g_snprintf(order, sizeof(order), "%d", boot_order);
        prop(child(d, "boot", NULL), "order", order);
    }
}

static void input(xmlNodePtr devices, const char *type, const char *name, int function)
{
    xmlNodePtr in = child(devices, "input", NULL);
    prop(in, "type", type);
    prop(in, "bus", "virtio");
    alias(in, name);
    /* functions 0/1/2 of one slot on pcie.0; function 0 carries multifunction=on (CONTRACT §3.3) */
    pci_address(in, INPUT_SLOT, function, function == 0);
}

/* <qemu:device alias=...><qemu:frontend><qemu:property .../>... */
static xmlNodePtr override_device(xmlNodePtr over, xmlNsPtr ns, const char *name, const char *driver)
{
    xmlNodePtr dev = xmlNewChild(over, ns, BAD_CAST "device", NULL);
    prop(dev, "alias", name);
    xmlNodePtr fe = xmlNewChild(dev, ns, BAD_CAST "frontend", NULL);
    xmlNodePtr p = xmlNewChild(fe, ns, BAD_CAST "property", NULL);
    prop(p, "name", "driver");
    prop(p, "type", "string");
    prop(p, "value", driver);
    return fe;
}

static void override_property(xmlNodePtr fe, xmlNsPtr ns, const char *name, const char *type, const char *value)
{
    xmlNodePtr p = xmlNewChild(fe, ns, BAD_CAST "property", NULL);
    prop(p, "name", name);
    prop(p, "type", type);
    prop(p, "value", value);
}

char *media_domain_xml(const MediaDomainSpec *s)
{
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr dom = xmlNewNode(NULL, BAD_CAST "domain");
    xmlDocSetRootElement(doc, dom);
    xmlNsPtr qemu = xmlNewNs(dom, BAD_CAST QEMU_NS, BAD_CAST "qemu");
    prop(dom, "type", s->kvm ? "kvm" : "qemu");
    child(dom, "name", s->name);
    if (s->uuid)
        child(dom, "uuid", s->uuid);
    child(dom, "description", "Windows 7 on AERO-W7-VIRTIO devices (written by aero-media domain)");
    char num[32];
    g_snprintf(num, sizeof(num), "%u", s->memory_mib);
    prop(child(dom, "memory", num), "unit", "MiB");
    g_snprintf(num, sizeof(num), "%u", s->vcpus);
    child(dom, "vcpu", num);

    xmlNodePtr os = child(dom, "os", NULL);
    xmlNodePtr type = child(os, "type", "hvm");
    prop(type, "arch", "x86_64");
    prop(type, "machine", "q35");
    if (s->firmware == MEDIA_FIRMWARE_UEFI) {
        /* no secure boot: Windows 7 predates it, and the drivers are test-signed */
        xmlNodePtr loader = child(os, "loader", OVMF_CODE);
        prop(loader, "readonly", "yes");
        prop(loader, "type", "pflash");
        xmlNodePtr nvram = child(os, "nvram", NULL);
        prop(nvram, "template", OVMF_VARS);
    }
    xmlNodePtr features = child(dom, "features", NULL);
    child(features, "acpi", NULL);
    child(features, "apic", NULL);
    if (s->kvm)
        prop(child(dom, "cpu", NULL), "mode", "host-passthrough");
    /* Windows keeps the RTC in local time */
    xmlNodePtr clock = child(dom, "clock", NULL);
    prop(clock, "offset", "localtime");
    child(dom, "on_poweroff", "destroy");
    child(dom, "on_reboot", "restart");
    child(dom, "on_crash", "destroy");

    xmlNodePtr dev = child(dom, "devices", NULL);
    child(dev, "emulator", s->emulator);

    /* the disk: native virtio-blk for libvirt (blockdev, labels), aero-virtio-blk-pci for QEMU */
    xmlNodePtr disk = child(dev, "disk", NULL);
    prop(disk, "type", "file");
    prop(disk, "device", "disk");
    xmlNodePtr drv = child(disk, "driver", NULL);
    prop(drv, "name", "qemu");
    prop(drv, "type", s->disk_format);
    prop(drv, "cache", "writeback");
    prop(child(disk, "source", NULL), "file", s->disk);
    xmlNodePtr t = child(disk, "target", NULL);
    prop(t, "dev", "vda");
    prop(t, "bus", "virtio");
    child(disk, "serial", "AERO-DISK0");
    prop(child(disk, "boot", NULL), "order", "1");
    alias(disk, ALIAS_DISK);

    cdrom(dev, s->iso, "sda", 2);
    if (s->drivers_iso)
        cdrom(dev, s->drivers_iso, "sdb", 0);

    xmlNodePtr nic = child(dev, "interface", NULL);
    switch (s->net) {
    case MEDIA_NET_USER:
        prop(nic, "type", "user");
        break;
    case MEDIA_NET_BRIDGE:
        prop(nic, "type", "bridge");
        prop(child(nic, "source", NULL), "bridge", s->net_source);
        break;
    case MEDIA_NET_NETWORK:
        prop(nic, "type", "network");
        prop(child(nic, "source", NULL), "network", s->net_source);
        break;
    }
    prop(child(nic, "model", NULL), "type", "virtio");
    /* the NIC's option ROM (UEFI network boot, firmware/net_uefi.c) stays off: the VM boots from
     * its disk or the install CD, and the ROM would only add network boot options to OVMF's
     * list. The disk keeps its ROM: OVMF boots an installed UEFI system through it. */
    prop(child(nic, "rom", NULL), "enabled", "no");
    alias(nic, ALIAS_NIC);

    /* USB as ICH9 EHCI with its UHCI companions, which Windows 7 drives out of the box (libvirt's
     * q35 default, qemu-xhci, has no Windows 7 driver) */
    static const struct {
        const char *model;
        const char *startport;
    } usb[] = {{"ich9-ehci1", NULL}, {"ich9-uhci1", "0"}, {"ich9-uhci2", "2"}, {"ich9-uhci3", "4"}};
    for (guint i = 0; i < G_N_ELEMENTS(usb); i++) {
        xmlNodePtr c = child(dev, "controller", NULL);
        prop(c, "type", "usb");
        prop(c, "index", "0");
        prop(c, "model", usb[i].model);
        if (usb[i].startport)
            prop(child(c, "master", NULL), "startport", usb[i].startport);
    }

    input(dev, "keyboard", ALIAS_KBD, 0);
    input(dev, "mouse", ALIAS_MOUSE, 1);
    input(dev, "tablet", ALIAS_TABLET, 2);

    /* what Windows 7 drives out of the box: std VGA behind VNC on localhost only */
    xmlNodePtr gfx = child(dev, "graphics", NULL);
    prop(gfx, "type", "vnc");
    prop(gfx, "port", "-1");
    prop(gfx, "autoport", "yes");
    prop(gfx, "listen", "127.0.0.1");
    xmlNodePtr listen = child(gfx, "listen", NULL);
    prop(listen, "type", "address");
    prop(listen, "address", "127.0.0.1");
    xmlNodePtr video = child(dev, "video", NULL);
    xmlNodePtr model = child(video, "model", NULL);
    prop(model, "type", "vga");
    prop(model, "vram", "16384");
    prop(model, "heads", "1");
    prop(model, "primary", "yes");

    xmlNodePtr serial = child(dev, "serial", NULL);
    prop(serial, "type", "pty");
    prop(child(serial, "target", NULL), "port", "0");
    xmlNodePtr console = child(dev, "console", NULL);
    prop(console, "type", "pty");
    xmlNodePtr ct = child(console, "target", NULL);
    prop(ct, "type", "serial");
    prop(ct, "port", "0");
    if (s->sound) {
        /* libvirt 9.0 has no virtio sound model: a plain PCI sound card (es1370: no codec
         * children, an audiodev of its own) that <qemu:override> turns into the aero device */
        xmlNodePtr snd = child(dev, "sound", NULL);
        prop(snd, "model", "es1370");
        prop(child(snd, "audio", NULL), "id", "1");
        alias(snd, ALIAS_SND);
        static const char *const audio_types[] = {
            [MEDIA_AUDIO_NONE] = "none", [MEDIA_AUDIO_PULSEAUDIO] = "pulseaudio",
            [MEDIA_AUDIO_ALSA] = "alsa", [MEDIA_AUDIO_FILE] = "file"};
        xmlNodePtr audio = child(dev, "audio", NULL);
        prop(audio, "id", "1");
        prop(audio, "type", audio_types[s->audio]);
        if (s->audio == MEDIA_AUDIO_FILE)
            prop(audio, "path", s->audio_file);
        /* the device's own playback format (CONTRACT §3.4): no resampling on the way out */
        char rate[16], channels[16];
        g_snprintf(rate, sizeof(rate), "%u", AERO_SND_RATE);
        g_snprintf(channels, sizeof(channels), "%u", AERO_SND_PLAYBACK_CHANNELS);
        xmlNodePtr output = child(audio, "output", NULL);
        prop(output, "mixingEngine", "yes"); /* libvirt: settings need both flags */
        prop(output, "fixedSettings", "yes");
        xmlNodePtr settings = child(output, "settings", NULL);
        prop(settings, "frequency", rate);
        prop(settings, "channels", channels);
        prop(settings, "format", "s16"); /* S16_LE, the only format */
        xmlNodePtr input = child(audio, "input", NULL);
        prop(input, "mixingEngine", "yes");
        prop(input, "fixedSettings", "yes");
        prop(child(input, "settings", NULL), "frequency", rate);
    }
    /* no stock virtio device in this VM: Windows 7 has no driver for a balloon either */
    prop(child(dev, "memballoon", NULL), "model", "none");

    xmlNodePtr over = xmlNewChild(dom, qemu, BAD_CAST "override", NULL);
    override_device(over, qemu, ALIAS_DISK, "aero-virtio-blk-pci");
    xmlNodePtr fe = override_device(over, qemu, ALIAS_NIC, "aero-virtio-net-pci");
    g_snprintf(num, sizeof(num), "%u", s->net_header_len);
    /* CONTRACT §3.2 "Header length conflict": the value the guest's net driver expects */
    override_property(fe, qemu, "header-len", "unsigned", num);
    override_device(over, qemu, ALIAS_KBD, "aero-virtio-keyboard-pci");
    override_device(over, qemu, ALIAS_MOUSE, "aero-virtio-mouse-pci");
    override_device(over, qemu, ALIAS_TABLET, "aero-virtio-tablet-pci");
    if (s->sound) {
        fe = override_device(over, qemu, ALIAS_SND, "aero-virtio-snd-pci");
        /* CONTRACT §3.4: the wire encoding the guest's sound driver speaks */
        override_property(fe, qemu, "protocol", "string", s->sound_protocol);
    }

    xmlChar *mem = NULL;
    int len = 0;
    xmlDocDumpFormatMemoryEnc(doc, &mem, &len, "UTF-8", 1);
    xmlFreeDoc(doc);
    /* libvirt wants the XML without a declaration as often as with one: keep it plain */
    const char *text = (const char *)mem;
    if (g_str_has_prefix(text, "<?xml")) {
        const char *nl = strchr(text, '\n');
        text = nl ? nl + 1 : text;
    }
    char *out = g_strdup(text);
    xmlFree(mem);
    return out;
}

/* ---- checks of the inputs ------------------------------------------------------------------- */

char *media_domain_default_emulator(void)
{
    const char *env = g_getenv("AERO_QEMU");
    if (env && *env)
        return g_strdup(env);
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    if (!self)
        return NULL;
    g_autofree char *dir = g_path_get_dirname(self);
    /* the build tree (build/media/aero-media -> build/qemu/), then an installed copy beside us */
    const char *const candidates[] = {"../qemu/qemu-system-x86_64", "aero-qemu-system-x86_64"};
    for (guint i = 0; i < G_N_ELEMENTS(candidates); i++) {
        g_autofree char *p = g_build_filename(dir, candidates[i], NULL);
        g_autofree char *c = g_canonicalize_filename(p, NULL);
        if (g_file_test(c, G_FILE_TEST_IS_EXECUTABLE) && !g_file_test(c, G_FILE_TEST_IS_DIR))
            return g_steal_pointer(&c);
    }
    return NULL;
}

/* Cancels a subprocess wait when its time is up (g_subprocess_communicate iterates a main
 * context of its own, so the timer runs on a thread). */
typedef struct {
    GMutex lock;
    GCond cond;
    gboolean done;
    gint64 deadline;
    GCancellable *cancel;
} Watchdog;

static gpointer watchdog_thread(gpointer data)
{
    Watchdog *w = data;
    g_mutex_lock(&w->lock);
    while (!w->done) {
        if (!g_cond_wait_until(&w->cond, &w->lock, w->deadline)) {
            g_cancellable_cancel(w->cancel);
            break;
        }
    }
    g_mutex_unlock(&w->lock);
    return NULL;
}

/* Run argv with a time limit; stdout and stderr into *out. FALSE with *timed_out when it took too
 * long (the process is killed). */
static gboolean run_limited(const char *const *argv, guint seconds, char **out, int *status, gboolean *timed_out,
                            GError **error)
{
    *timed_out = FALSE;
    g_autoptr(GSubprocess) sp = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE |
                                                  G_SUBPROCESS_FLAGS_STDIN_PIPE, error);
    if (!sp)
        return FALSE;
    Watchdog w = {.deadline = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC,
                  .cancel = g_cancellable_new()};
    g_mutex_init(&w.lock);
    g_cond_init(&w.cond);
    GThread *t = g_thread_new("aero-media-watchdog", watchdog_thread, &w);
    g_autoptr(GBytes) buf = NULL;
    g_autoptr(GBytes) no_input = g_bytes_new_static("", 0);
    GError *e = NULL;
    gboolean ok = g_subprocess_communicate(sp, no_input, w.cancel, &buf, NULL, &e);
    g_mutex_lock(&w.lock);
    w.done = TRUE;
    g_cond_signal(&w.cond);
    g_mutex_unlock(&w.lock);
    g_thread_join(t);
    g_mutex_clear(&w.lock);
    g_cond_clear(&w.cond);
    g_object_unref(w.cancel);
    if (!ok) {
        if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            *timed_out = TRUE;
            g_subprocess_force_exit(sp);
            g_subprocess_wait(sp, NULL, NULL);
            g_error_free(e);
            return FALSE;
        }
        g_propagate_error(error, e);
        return FALSE;
    }
    gsize n = 0;
    const char *data = buf ? g_bytes_get_data(buf, &n) : NULL;
    *out = data && n ? g_strndup(data, n) : g_strdup(""); /* an empty GBytes has NULL data */
    *status = g_subprocess_get_if_exited(sp) ? g_subprocess_get_exit_status(sp) : -1;
    return TRUE;
}

/* The emulator must run and list every aero device (`-device help`). */
static gboolean probe_emulator(const char *emu, gboolean sound, GError **error)
{
    if (!g_file_test(emu, G_FILE_TEST_EXISTS)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no such emulator (build it with "
                    "scripts/build-qemu.sh or give --emulator)", emu);
        return FALSE;
    }
    if (!g_file_test(emu, G_FILE_TEST_IS_EXECUTABLE) || g_file_test(emu, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_ACCES, "%s: not an executable", emu);
        return FALSE;
    }
    const char *argv[] = {emu, "-nodefaults", "-machine", "none", "-device", "help", NULL};
    g_autofree char *out = NULL;
    int status = 0;
    gboolean timed_out;
    GError *e = NULL;
    if (!run_limited(argv, PROBE_TIMEOUT_S, &out, &status, &timed_out, &e)) {
        if (timed_out)
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: '-device help' did not answer within %d s",
                        emu, PROBE_TIMEOUT_S);
        else
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: cannot run: %s", emu, e->message);
        g_clear_error(&e);
        return FALSE;
    }
    if (status != 0) {
        g_strchomp(out);
        const char *last = strrchr(out, '\n');
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: '-device help' failed (exit %d): %s", emu, status,
                    last ? last + 1 : out);
        return FALSE;
    }
    for (guint i = 0; i < G_N_ELEMENTS(aero_devices) + (sound ? 1 : 0); i++) {
        const char *want = i < G_N_ELEMENTS(aero_devices) ? aero_devices[i] : "aero-virtio-snd-pci";
        g_autofree char *quoted = g_strdup_printf("\"%s\"", want);
        if (!strstr(out, quoted)) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                        "%s: not the patched QEMU: '-device help' does not list %s", emu, want);
            return FALSE;
        }
    }
    return TRUE;
}

/* The KVM probe's firmware: 64 KiB mapped below 4 GiB. The reset vector jumps to code that enters
 * 32-bit protected mode with a flat GDT and then asks the keyboard controller for a system reset,
 * so with -no-reboot QEMU exits 0 at once. A /dev/kvm that exists but cannot run guests (the
 * development VMs' runs SeaBIOS and then hangs where Linux leaves real mode) never gets there. */
#define PROBE_ROM_SIZE 65536
#define PROBE_CODE 0xff00 /* physical 0xffffff00 */
#define PROBE_GDT 0xff80
#define PROBE_GDTR 0xffa0
#define PROBE_RESET 0xfff0
static const guint8 probe_code[] = {
    0xfa,                                     /* cli */
    0x2e, 0x66, 0x0f, 0x01, 0x16, 0xa0, 0xff, /* lgdtl %cs:0xffa0 */
    0x0f, 0x20, 0xc0,                         /* mov %cr0, %eax */
    0x66, 0x83, 0xc8, 0x01,                   /* or $1, %eax (PE) */
    0x0f, 0x22, 0xc0,                         /* mov %eax, %cr0 */
    0x66, 0xea, 0x1a, 0xff, 0xff, 0xff, 0x08, 0x00, /* ljmpl $0x08, $0xffffff1a (next insn) */
    0x66, 0xb8, 0x10, 0x00,                   /* .code32: mov $0x10, %ax */
    0x8e, 0xd8,                               /* mov %ax, %ds */
    0xb0, 0xfe,                               /* mov $0xfe, %al */
    0xe6, 0x64,                               /* out %al, $0x64: pulse reset */
    0xf4, 0xeb, 0xfd,                         /* 1: hlt; jmp 1b */
};

static guint8 *probe_rom(void)
{
    guint8 *rom = g_malloc(PROBE_ROM_SIZE);
    memset(rom, 0xf4, PROBE_ROM_SIZE); /* hlt everywhere else */
    memcpy(rom + PROBE_CODE, probe_code, sizeof(probe_code));
    static const guint64 gdt[] = {0, 0x00cf9a000000ffffull /* code, flat 4 GiB */, 0x00cf92000000ffffull /* data */};
    for (guint i = 0; i < G_N_ELEMENTS(gdt); i++)
        for (guint b = 0; b < 8; b++)
            rom[PROBE_GDT + 8 * i + b] = (guint8)(gdt[i] >> (8 * b));
    const guint32 gdt_base = 0xffff0000u + PROBE_GDT;
    const guint8 gdtr[] = {sizeof(gdt) - 1, 0, gdt_base & 0xff, (gdt_base >> 8) & 0xff, (gdt_base >> 16) & 0xff,
                           gdt_base >> 24};
    memcpy(rom + PROBE_GDTR, gdtr, sizeof(gdtr));
    const guint8 jump[] = {0xe9, 0x0d, 0xff}; /* at F000:FFF0: jmp 0xff00 */
    memcpy(rom + PROBE_RESET, jump, sizeof(jump));
    return rom;
}

/* Whether KVM really runs a guest with this emulator: the probe firmware above under -accel kvm,
 * within a time limit. Anything else (no KVM compiled in, no permission, a hang) means TCG. */
static gboolean kvm_works(const char *emu, char **why)
{
    if (g_access("/dev/kvm", R_OK | W_OK) != 0) {
        *why = g_strdup("/dev/kvm is not usable");
        return FALSE;
    }
    g_autofree char *dir = g_dir_make_tmp("aero-kvm-probe-XXXXXX", NULL);
    if (!dir) {
        *why = g_strdup("cannot create a temporary folder for the KVM probe");
        return FALSE;
    }
    g_autofree char *fw = g_build_filename(dir, "probe.rom", NULL);
    guint8 *rom = probe_rom();
    gboolean written = g_file_set_contents(fw, (const char *)rom, PROBE_ROM_SIZE, NULL);
    g_free(rom);
    gboolean ok = FALSE;
    if (!written) {
        *why = g_strdup("cannot write the KVM probe firmware");
    } else {
        const char *argv[] = {emu, "-nodefaults", "-no-user-config", "-machine", "pc,accel=kvm", "-m", "16",
                              "-bios", fw, "-display", "none", "-no-reboot", "-monitor", "none",
                              "-serial", "none", NULL};
        g_autofree char *out = NULL;
        int status = -1;
        gboolean timed_out;
        if (!run_limited(argv, KVM_PROBE_TIMEOUT_S, &out, &status, &timed_out, NULL))
            *why = timed_out ? g_strdup_printf("/dev/kvm is there, but a KVM guest did not reach protected mode "
                                               "within %d s", KVM_PROBE_TIMEOUT_S)
                             : g_strdup("the emulator did not start");
        else if (status != 0)
            *why = g_strdup_printf("the emulator cannot use KVM: %s", g_strstrip(out));
        else
            ok = TRUE;
    }
    g_unlink(fw);
    g_rmdir(dir);
    return ok;
}

static gboolean check_iso(const char *path, const char *option, GError **error)
{
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no such file (%s)", path, option);
        return FALSE;
    }
    if (!g_file_test(path, G_FILE_TEST_IS_REGULAR) || !media_iso_probe(path)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: not an ISO 9660 image (%s)", path, option);
        return FALSE;
    }
    return TRUE;
}

typedef struct {
    MediaIso *iso;
    const char *stored;
    const char *label;
} WimInIso;

static gboolean copy_from_iso(void *user, guint64 offset, guint64 length, int fd, GError **error)
{
    WimInIso *s = user;
    return media_iso_copy_range(s->iso, s->stored, offset, length, fd, s->label, error);
}

/* Architecture (MediaArch bit) of the first boot.wim image, read through a sparse work copy. */
static gboolean boot_wim_arch(MediaIso *iso, const char *path, const char *stored, guint *arch, GError **error)
{
    g_autofree char *work = media_cleanup_tmp_dir("aero-media-domain-XXXXXX", error);
    if (!work) {
        g_prefix_error(error, "%s: cannot create a temporary folder: ", g_get_tmp_dir());
        return FALSE;
    }
    g_autofree char *label = g_strdup_printf("%s:%s", path, stored);
    g_autofree char *copy = g_build_filename(work, "boot.wim", NULL);
    WimInIso src = {iso, stored, copy};
    MediaWimSource ws = {(guint64)media_iso_file_size(iso, stored), copy_from_iso, &src};
    MediaWim *w = media_wim_open(&ws, copy, label, NULL, error);
    gboolean opened = w != NULL;
    if (w) {
        *arch = media_wim_image_count(w) > 0 ? media_wim_image_arch(w, 1) : 0;
        media_wim_close(w);
        if (!*arch)
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: cannot tell the architecture of the media", label);
    }
    media_rm_rf(work);
    media_cleanup_remove(work);
    return opened && *arch;
}

/* The install media's architecture from boot.wim (MediaArch bit), 0 when the ISO is not Windows
 * Setup media; and whether El Torito has a UEFI entry. */
static gboolean inspect_install_iso(const char *path, guint *arch, gboolean *uefi, GError **error)
{
    *arch = 0;
    *uefi = FALSE;
    MediaIso *iso = media_iso_open(path, error);
    if (!iso)
        return FALSE;
    GPtrArray *entries = media_iso_boot_entries(iso, error);
    gboolean ok = entries != NULL;
    for (guint i = 0; entries && i < entries->len; i++) {
        const MediaBootEntry *b = g_ptr_array_index(entries, i);
        if (!strcmp(b->platform, "UEFI"))
            *uefi = TRUE;
    }
    if (entries)
        g_ptr_array_unref(entries);
    const char *stored = ok ? media_iso_find(iso, "/sources/boot.wim") : NULL;
    if (stored)
        ok = boot_wim_arch(iso, path, stored, arch, error);
    media_iso_close(iso);
    return ok;
}

/* The driver ISO's /manifest.json, parsed. */
static JsonParser *load_driver_manifest(const char *path, GError **error)
{
    MediaIso *iso = media_iso_open(path, error);
    if (!iso)
        return NULL;
    JsonParser *parser = NULL;
    const char *stored = media_iso_find(iso, "/manifest.json");
    g_autofree char *work = stored ? media_cleanup_tmp_dir("aero-media-domain-XXXXXX", error) : NULL;
    if (!stored)
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: no manifest.json: not a driver ISO written by 'aero-media driver-iso'", path);
    else if (!work)
        g_prefix_error(error, "%s: cannot create a temporary folder: ", g_get_tmp_dir());
    if (work) {
        g_autofree char *copy = g_build_filename(work, "manifest.json", NULL);
        GError *e = NULL;
        if (media_iso_extract_file(iso, stored, copy, NULL, error)) {
            parser = json_parser_new();
            if (!json_parser_load_from_file(parser, copy, &e)) {
                g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s:/manifest.json: not JSON: %s", path, e->message);
                g_error_free(e);
                g_clear_object(&parser);
            }
        }
        media_rm_rf(work);
        media_cleanup_remove(work);
    }
    media_iso_close(iso);
    return parser;
}

/* The driver ISO's manifest (aero-media driver-iso) decides the NIC's header length: virtio-win's
 * NetKVM speaks the virtio 1.x 12-byte header, Aero's own net driver the contract's 10 bytes
 * (CONTRACT §3.2). arch (0: any) picks the packages of the install media's architecture. */
static gboolean header_len_from_drivers(const char *path, guint arch, guint *header_len, char **which,
                                        GError **error)
{
    g_autoptr(JsonParser) parser = load_driver_manifest(path, error);
    if (!parser)
        return FALSE;
    JsonNode *root = json_parser_get_root(parser);
    JsonObject *obj = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
    JsonNode *list = obj ? json_object_get_member(obj, "packages") : NULL;
    JsonArray *pkgs = list && JSON_NODE_HOLDS_ARRAY(list) ? json_node_get_array(list) : NULL;
    if (!pkgs) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s:/manifest.json: no \"packages\" list", path);
        return FALSE;
    }
    const char *service = NULL;
    for (guint i = 0; i < json_array_get_length(pkgs) && !service; i++) {
        JsonNode *n = json_array_get_element(pkgs, i);
        JsonObject *p = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
        if (!p || g_strcmp0(json_object_get_string_member_with_default(p, "device", ""), "net"))
            continue;
        const char *a = json_object_get_string_member_with_default(p, "arch", "");
        if (arch && g_strcmp0(a, media_arch_name((MediaArch)arch)))
            continue;
        service = json_object_get_string_member_with_default(p, "service", NULL);
    }
    if (!service) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: the manifest lists no net driver%s%s", path,
                    arch ? " for " : "", arch ? media_arch_name((MediaArch)arch) : "");
        return FALSE;
    }
    gboolean netkvm = !g_ascii_strcasecmp(service, "netkvm");
    *header_len = netkvm ? 12 : 10;
    *which = g_strdup_printf("%s (service %s)", netkvm ? "virtio-win NetKVM" : "Aero net driver", service);
    return TRUE;
}

static gboolean valid_name(const char *name)
{
    if (!name || !*name || strlen(name) > 64)
        return FALSE;
    for (const char *c = name; *c; c++)
        if (!g_ascii_isalnum(*c) && !strchr("-_.+", *c))
            return FALSE;
    return TRUE;
}

static char *absolute(const char *path)
{
    return g_canonicalize_filename(path, NULL);
}

/* qcow2 images start with "QFI\xfb"; anything else is used raw. */
static const char *disk_format_of(const char *path)
{
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && !memcmp(magic, "QFI\xfb", 4) ? "qcow2" : "raw";
}

gboolean media_domain_resolve(const MediaDomainOptions *o, MediaDomainSpec *s, GError **error)
{
    MediaProgress *p = o->progress;
    guint arch = 0; /* of the install media: MediaArch bit, 0 when it is not Windows */
    gboolean uefi_entry = FALSE;
    memset(s, 0, sizeof(*s));
    if (!valid_name(o->name)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--name '%s': use 1 to 64 letters, digits and - _ . +", o->name ? o->name : "");
        return FALSE;
    }
    s->name = g_strdup(o->name);
    s->memory_mib = o->memory_mib ? o->memory_mib : DEFAULT_MEMORY_MIB;
    s->vcpus = o->vcpus ? o->vcpus : DEFAULT_VCPUS;
    s->firmware = o->firmware;
    s->net = o->net;
    s->net_source = g_strdup(o->net_source);
    s->sound = o->sound;
    s->audio = o->audio;
    s->sound_protocol = g_strdup(o->sound_protocol ? o->sound_protocol : "aero");
    if (strcmp(s->sound_protocol, "aero") && strcmp(s->sound_protocol, "virtio")) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--sound-protocol '%s': use aero or virtio", s->sound_protocol);
        goto fail;
    }
    if (o->audio == MEDIA_AUDIO_FILE) {
        if (!o->audio_file || !*o->audio_file) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--audio file=PATH: the path is missing");
            goto fail;
        }
        s->audio_file = absolute(o->audio_file);
        g_autofree char *dir = g_path_get_dirname(s->audio_file);
        if (g_file_test(s->audio_file, G_FILE_TEST_IS_DIR) || !g_file_test(dir, G_FILE_TEST_IS_DIR)) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: not a file in an existing folder (--audio)",
                        o->audio_file);
            goto fail;
        }
    }

    if (!check_iso(o->iso, "--iso", error))
        goto fail;
    s->iso = absolute(o->iso);
    if (o->drivers_iso) {
        if (!check_iso(o->drivers_iso, "--drivers-iso", error))
            goto fail;
        s->drivers_iso = absolute(o->drivers_iso);
        if (!strcmp(s->iso, s->drivers_iso)) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s: given as both --iso and --drivers-iso",
                        o->iso);
            goto fail;
        }
    }
    s->disk = absolute(o->disk);
    if (g_file_test(s->disk, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_ISDIR, "%s: is a folder (--disk)", o->disk);
        goto fail;
    }
    if (!strcmp(s->disk, s->iso) || (s->drivers_iso && !strcmp(s->disk, s->drivers_iso))) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s: the disk cannot be one of the ISOs", o->disk);
        goto fail;
    }
    if (g_file_test(s->disk, G_FILE_TEST_EXISTS)) {
        s->disk_format = disk_format_of(s->disk);
        if (!s->disk_format) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_ACCES, "%s: cannot read the disk image: %s", o->disk,
                        g_strerror(errno));
            goto fail;
        }
    } else {
        s->disk_format = g_str_has_suffix(s->disk, ".img") || g_str_has_suffix(s->disk, ".raw") ? "raw" : "qcow2";
    }
    if (o->output && (media_same_file(o->output, o->iso) || (o->drivers_iso && media_same_file(o->output, o->drivers_iso)) ||
                      media_same_file(o->output, o->disk))) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s: the output would overwrite an input", o->output);
        goto fail;
    }
    if (o->output && g_file_test(o->output, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_ISDIR, "%s: is a folder (--output)", o->output);
        goto fail;
    }

    /* the media: architecture and boot entries decide what firmware can boot it */
    if (!inspect_install_iso(s->iso, &arch, &uefi_entry, error))
        goto fail;
    if (o->firmware == MEDIA_FIRMWARE_UEFI) {
        if (arch == MEDIA_ARCH_X86) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "%s: x86 media: Windows 7 x86 boots by BIOS only (use --firmware bios)", o->iso);
            goto fail;
        }
        if (!uefi_entry) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "%s: no UEFI El Torito boot entry: OVMF cannot boot it (use --firmware bios)", o->iso);
            goto fail;
        }
        if (!g_file_test(OVMF_CODE, G_FILE_TEST_IS_REGULAR) || !g_file_test(OVMF_VARS, G_FILE_TEST_IS_REGULAR)) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: missing: --firmware uefi needs Debian's ovmf package",
                        OVMF_CODE);
            goto fail;
        }
    }
    if (arch)
        media_progress_note(p, "install media: Windows, %s%s", media_arch_name((MediaArch)arch),
                            uefi_entry ? ", BIOS and UEFI boot entries" : ", BIOS boot entry");

    if (o->net_header_len) {
        s->net_header_len = o->net_header_len;
    } else {
        g_autofree char *which = NULL;
        if (!o->drivers_iso) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "without --drivers-iso, --net-header-len must say what the guest's net driver uses "
                        "(10: Aero, 12: virtio-win NetKVM, Linux)");
            goto fail;
        }
        if (!header_len_from_drivers(s->drivers_iso, arch, &s->net_header_len, &which, error))
            goto fail;
        media_progress_note(p, "net driver on %s: %s -> header-len %u", o->drivers_iso, which, s->net_header_len);
    }

    s->emulator = o->emulator ? absolute(o->emulator) : media_domain_default_emulator();
    if (!s->emulator) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                    "no patched QEMU found (build/qemu/qemu-system-x86_64 beside this aero-media, or "
                    "aero-qemu-system-x86_64 in its folder): run scripts/build-qemu.sh or give --emulator");
        goto fail;
    }
    if (!probe_emulator(s->emulator, s->sound, error))
        goto fail;
    switch (o->accel) {
    case MEDIA_ACCEL_KVM:
        s->kvm = TRUE;
        break;
    case MEDIA_ACCEL_TCG:
        s->kvm = FALSE;
        break;
    case MEDIA_ACCEL_AUTO: {
        g_autofree char *why = NULL;
        s->kvm = kvm_works(s->emulator, &why);
        media_progress_note(p, "accelerator: %s%s%s%s", s->kvm ? "KVM" : "TCG (software)", why ? " (" : "",
                            why ? why : "", why ? ")" : "");
        break;
    }
    }
    return TRUE;
fail:
    media_domain_spec_clear(s);
    return FALSE;
}

/* ---- the command ------------------------------------------------------------------------- */

/* The XML goes to a temporary file beside the output first: it only takes the output's name once
 * everything else (define, start) worked. */
static char *write_temp_output(const char *path, const char *xml, GError **error)
{
    g_autofree char *tmp = media_cleanup_temp_beside(path, error);
    GError *e = NULL;
    if (!tmp)
        return NULL;
    if (!g_file_set_contents_full(tmp, xml, -1, G_FILE_SET_CONTENTS_NONE, (int)media_output_mode(), &e) ||
        !media_fsync_path(tmp, &e)) {
        g_set_error(error, e->domain, e->code, "%s: cannot write: %s", path, e->message);
        g_error_free(e);
        g_unlink(tmp);
        media_cleanup_remove(tmp);
        return NULL;
    }
    return g_steal_pointer(&tmp);
}

gboolean media_domain(const MediaDomainOptions *o, GError **error)
{
    MediaProgress *p = o->progress;
    MediaDomainSpec s;
    gboolean define = o->define || o->start;
    if (!media_domain_resolve(o, &s, error))
        return FALSE;

    gboolean ok = FALSE, created_disk = FALSE, defined = FALSE;
    g_autofree char *xml = NULL, *tmp = NULL;
    MediaVirt *v = NULL;
    if (define) {
        v = media_virt_open(o->connect, error);
        if (!v)
            goto out;
        gboolean found = FALSE, active = FALSE;
        g_autofree char *uuid = NULL;
        if (!media_virt_lookup(v, s.name, &found, &uuid, &active, error))
            goto out;
        if (found && !o->replace) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "%s: domain '%s' is already defined (--replace redefines it)",
                        media_virt_uri(v), s.name);
            goto out;
        }
        if (found && active) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_BUSY,
                        "%s: domain '%s' is running; stop it first (virsh -c '%s' destroy %s)", media_virt_uri(v),
                        s.name, media_virt_uri(v), s.name);
            goto out;
        }
        s.uuid = g_steal_pointer(&uuid); /* a redefinition keeps the domain's identity */
        gboolean exists = g_file_test(s.disk, G_FILE_TEST_EXISTS);
        if (exists && !o->reuse_disk) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST, "%s: disk exists (--reuse-disk uses it as it is)", o->disk);
            goto out;
        }
        if (!exists && o->reuse_disk) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no such disk to reuse (--reuse-disk)", o->disk);
            goto out;
        }
        xml = media_domain_xml(&s);
        if (o->output && !(tmp = write_temp_output(o->output, xml, error)))
            goto out;
        if (!exists) {
            guint64 size = o->disk_size ? o->disk_size : DEFAULT_DISK_SIZE;
            g_autofree char *human = g_format_size_full(size, G_FORMAT_SIZE_IEC_UNITS);
            media_progress_note(p, "creating %s (%s, %s)", s.disk, s.disk_format, human);
            if (!media_virt_create_disk(v, s.disk, s.disk_format, size, error))
                goto out;
            created_disk = TRUE;
        }
        if (!media_virt_define(v, s.name, xml, error))
            goto out;
        defined = !found;
        media_progress_note(p, "defined domain '%s' on %s", s.name, media_virt_uri(v));
        if (o->start) {
            if (!media_virt_start(v, s.name, o->paused, error))
                goto out;
            media_progress_note(p, "started '%s'%s", s.name, o->paused ? " with its vCPUs paused (virsh resume)" : "");
            media_progress_note(p, "watch it: virsh -c '%s' vncdisplay %s   or   virt-viewer -c '%s' %s",
                                media_virt_uri(v), s.name, media_virt_uri(v), s.name);
        }
    } else {
        xml = media_domain_xml(&s);
        if (o->output && !(tmp = write_temp_output(o->output, xml, error)))
            goto out;
        if (!g_file_test(s.disk, G_FILE_TEST_EXISTS))
            media_progress_note(p, "note: %s does not exist yet (--define creates it; or qemu-img create -f %s %s 64G)",
                                s.disk, s.disk_format, s.disk);
    }
    if (tmp) {
        if (g_rename(tmp, o->output) != 0) {
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: cannot write: %s", o->output,
                        g_strerror(errno));
            goto out;
        }
        media_cleanup_remove(tmp);
        g_clear_pointer(&tmp, g_free);
        media_progress_note(p, "wrote %s", o->output);
    } else if (!define) {
        g_print("%s", xml);
    }
    ok = TRUE;
out:
    if (tmp) {
        g_unlink(tmp);
        media_cleanup_remove(tmp);
    }
    if (!ok && defined)
        media_virt_undefine(v, s.name);
    if (!ok && created_disk)
        g_unlink(s.disk);
    if (v)
        media_virt_close(v);
    media_domain_spec_clear(&s);
    return ok;
}
