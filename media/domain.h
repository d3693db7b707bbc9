/* `aero-media domain`: a libvirt domain for a Windows 7 install on AERO-W7-VIRTIO devices. The
 * inputs are checked first (ISOs, driver ISO manifest, emulator and its aero devices, /dev/kvm),
 * then the domain XML is built with libxml2, and written, defined and started (virt.h).
 */
#ifndef MEDIA_DOMAIN_H
#define MEDIA_DOMAIN_H

#include "progress.h"

#include <glib.h>

typedef enum { MEDIA_FIRMWARE_BIOS, MEDIA_FIRMWARE_UEFI } MediaFirmware;
typedef enum { MEDIA_ACCEL_AUTO, MEDIA_ACCEL_KVM, MEDIA_ACCEL_TCG } MediaAccel;
typedef enum { MEDIA_NET_USER, MEDIA_NET_BRIDGE, MEDIA_NET_NETWORK } MediaNetKind;
/* Where the VM's sound goes (libvirt <audio type=...>). */
typedef enum { MEDIA_AUDIO_NONE, MEDIA_AUDIO_PULSEAUDIO, MEDIA_AUDIO_ALSA, MEDIA_AUDIO_FILE } MediaAudioKind;

/* What the user asked for (the CLI's options). */
typedef struct {
    const char *name;
    const char *iso;         /* install ISO (CD-ROM, boot order 2) */
    const char *drivers_iso; /* aero-media driver-iso output (second CD-ROM); may be NULL when
                              * net_header_len is given */
    const char *disk;
    guint64 disk_size;       /* bytes, for a disk this run creates; 0: 64 GiB */
    guint memory_mib;        /* 0: 2048 */
    guint vcpus;             /* 0: 2 */
    MediaFirmware firmware;
    const char *emulator;    /* NULL: the patched QEMU this project built (media_domain_default_emulator) */
    MediaAccel accel;
    MediaNetKind net;
    const char *net_source;  /* bridge or network name */
    guint net_header_len;    /* 0: from the driver ISO's manifest */
    gboolean sound;          /* aero-virtio-snd-pci */
    MediaAudioKind audio;    /* its host backend */
    const char *audio_file;  /* MEDIA_AUDIO_FILE: the WAV file QEMU writes */
    const char *sound_protocol; /* NULL or "aero": the contract's wire encoding (Aero's driver);
                                 * "virtio": virtio 1.2's (Linux, upstream drivers) */
    const char *output;      /* domain XML to write; NULL: none (stdout when nothing else is asked) */
    const char *connect;     /* libvirt URI; NULL: qemu:///system */
    gboolean define, start, paused, replace, reuse_disk;
    MediaProgress *progress;
} MediaDomainOptions;

/* Everything the XML says, resolved and checked (absolute paths, decided values). */
typedef struct {
    char *name;
    char *uuid;         /* NULL: libvirt assigns one (set when replacing a definition) */
    char *emulator;
    gboolean kvm;       /* type='kvm' (else 'qemu', TCG) */
    char *iso, *drivers_iso, *disk;
    const char *disk_format; /* qcow2 or raw */
    guint memory_mib, vcpus;
    MediaFirmware firmware;
    MediaNetKind net;
    char *net_source;
    guint net_header_len;
    gboolean sound;
    MediaAudioKind audio;
    char *audio_file;
    char *sound_protocol; /* "aero" or "virtio" */
} MediaDomainSpec;

void media_domain_spec_clear(MediaDomainSpec *s);

/* The domain XML (libxml2, UTF-8, indented) for a resolved spec. */
char *media_domain_xml(const MediaDomainSpec *s);

/* The patched QEMU a build or install of this project provides, or NULL. */
char *media_domain_default_emulator(void);

/* Check every input and resolve the spec: nothing is created. One error line naming the file or
 * option at fault. */
gboolean media_domain_resolve(const MediaDomainOptions *o, MediaDomainSpec *s, GError **error);

/* The whole command: resolve, then write o->output (temporary file renamed at the end), define
 * and start through libvirt when asked, creating the disk. On failure nothing is left behind: no
 * output, no disk this run created, no definition this run made. */
gboolean media_domain(const MediaDomainOptions *o, GError **error);

/* Parse "64G", "512M", "1T", "1048576" (binary units). */
gboolean media_parse_size(const char *text, guint64 *bytes);

#endif
