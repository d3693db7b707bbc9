/* autounattend.xml writer (see unattend.h). Driver paths use %configsetroot% with
 * UseConfigurationSet (the only drive-letter-free form Setup has for DriverPaths), so they work
 * whatever drive letter the DVD gets.
 */
#include "unattend.h"

#include "util.h"
#include "wincfg.h"

#include <errno.h>
#include <string.h>

static const char *const unattend_names[] = {
    [MEDIA_UNATTEND_NONE] = "none", [MEDIA_UNATTEND_DRIVERS] = "drivers", [MEDIA_UNATTEND_FULL] = "full"};

const char *media_unattend_name(MediaUnattend mode)
{
    return (guint)mode < G_N_ELEMENTS(unattend_names) ? unattend_names[mode] : "none";
}

gboolean media_unattend_parse(const char *name, MediaUnattend *out)
{
    for (guint i = 0; name && i < G_N_ELEMENTS(unattend_names); i++) {
        if (!strcmp(name, unattend_names[i])) {
            *out = (MediaUnattend)i;
            return TRUE;
        }
    }
    return FALSE;
}

char *media_unattend_driver_dir(MediaArch arch)
{
    return g_strdup_printf(WIN_MEDIA_DRIVERS "/%s", media_arch_name(arch));
}

/* CRLF text files for cmd.exe and diskpart. */
static const char disk_cmd[] =
    "@echo off\r\n"
    "rem aero-media --unattend full: wipe disk 0 and lay it out for the firmware WinPE booted\r\n"
    "rem from: UEFI (its loader is winload.efi) gets GPT, BIOS gets MBR.\r\n"
    "bcdedit /enum {current} | find /i \"winload.efi\" >nul\r\n"
    "if errorlevel 1 (\r\n"
    "  diskpart /s \"%~dp0MBR.TXT\"\r\n"
    ") else (\r\n"
    "  diskpart /s \"%~dp0GPT.TXT\"\r\n"
    ")\r\n";
static const char mbr_txt[] =
    "select disk 0\r\nclean\r\ncreate partition primary\r\nformat quick fs=ntfs label=\"Windows\"\r\n"
    "active\r\nexit\r\n";
static const char gpt_txt[] =
    "select disk 0\r\nclean\r\nconvert gpt\r\ncreate partition efi size=260\r\n"
    "format quick fs=fat32 label=\"System\"\r\ncreate partition msr size=128\r\n"
    "create partition primary\r\nformat quick fs=ntfs label=\"Windows\"\r\nexit\r\n";

const char *const media_unattend_setup_files[MEDIA_UNATTEND_SETUP_FILES] = {"DISK.CMD", "MBR.TXT", "GPT.TXT"};

gboolean media_unattend_write_setup(const char *root, GError **error)
{
    g_autofree char *dir = g_build_filename(root, MEDIA_UNATTEND_SETUP_DIR, NULL);
    const char *const texts[MEDIA_UNATTEND_SETUP_FILES] = {disk_cmd, mbr_txt, gpt_txt};
    if (!media_mkdir_below(root, dir, error))
        return FALSE;
    for (guint i = 0; i < MEDIA_UNATTEND_SETUP_FILES; i++) {
        g_autofree char *p = g_build_filename(dir, media_unattend_setup_files[i], NULL);
        if (!g_file_set_contents(p, texts[i], -1, error))
            return FALSE;
    }
    return TRUE;
}

#define COMPONENT(name, arch)                                                                    \
    "    <component name=\"" name "\" processorArchitecture=\"%s\" "                             \
    "publicKeyToken=\"31bf3856ad364e35\" language=\"neutral\" versionScope=\"nonSxS\">\n"

char *media_unattend_xml(MediaUnattend mode, MediaArch arch, int image_index, const char *product_key)
{
    const char *a = media_arch_name(arch);
    g_autofree char *dir = media_unattend_driver_dir(arch);
    g_strdelimit(dir, "/", '\\');
    g_autofree char *key = product_key ? g_markup_escape_text(product_key, -1) : NULL;
    g_autofree char *script = g_strdup(MEDIA_UNATTEND_DISK_SCRIPT);
    g_strdelimit(script, "/", '\\');
    GString *x = g_string_new("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                              "<!-- written by aero-media: AERO-W7-VIRTIO drivers -->\n"
                              "<unattend xmlns=\"urn:schemas-microsoft-com:unattend\" "
                              "xmlns:wcm=\"http://schemas.microsoft.com/WMIConfig/2002/State\">\n"
                              "  <settings pass=\"windowsPE\">\n");
    g_string_append_printf(x, COMPONENT("Microsoft-Windows-PnpCustomizationsWinPE", a)
                           "      <DriverPaths>\n"
                           "        <PathAndCredentials wcm:action=\"add\" wcm:keyValue=\"1\">\n"
                           "          <Path>%%configsetroot%%\\%s</Path>\n"
                           "        </PathAndCredentials>\n"
                           "      </DriverPaths>\n"
                           "    </component>\n", a, dir);
    /* children in the order Windows SIM writes them */
    g_string_append_printf(x, COMPONENT("Microsoft-Windows-Setup", a), a);
    if (mode == MEDIA_UNATTEND_FULL) {
        /* Firmware-neutral: the partition layout depends on how WinPE booted (UEFI needs GPT,
         * BIOS MBR), which is unknown when the media is built; a script on the media decides at
         * install time, and Setup takes the first partition big enough for Windows. */
        g_string_append_printf(x,
            "      <ImageInstall>\n"
            "        <OSImage>\n"
            "          <InstallFrom><MetaData wcm:action=\"add\"><Key>/IMAGE/INDEX</Key><Value>%d</Value></MetaData></InstallFrom>\n"
            "          <InstallToAvailablePartition>true</InstallToAvailablePartition>\n"
            "          <WillShowUI>OnError</WillShowUI>\n"
            "        </OSImage>\n"
            "      </ImageInstall>\n"
            "      <RunSynchronous>\n"
            "        <RunSynchronousCommand wcm:action=\"add\">\n"
            "          <Order>1</Order>\n"
            "          <Description>aero-media: lay out disk 0 for the firmware Setup booted from</Description>\n"
            "          <Path>cmd.exe /c \"for %%d in (C D E F G H I J K L M N O P Q R S T U V W X Y Z) do "
            "@if exist %%d:\\%s (call %%d:\\%s &amp; exit)\"</Path>\n"
            "        </RunSynchronousCommand>\n"
            "      </RunSynchronous>\n", image_index, script, script);
    }
    g_string_append(x, "      <UseConfigurationSet>true</UseConfigurationSet>\n");
    if (mode == MEDIA_UNATTEND_FULL) {
        g_string_append(x, "      <UserData>\n"
                           "        <AcceptEula>true</AcceptEula>\n"
                           "        <FullName>Aero</FullName>\n");
        if (key)
            g_string_append_printf(x, "        <ProductKey><Key>%s</Key><WillShowUI>OnError</WillShowUI></ProductKey>\n", key);
        g_string_append(x, "      </UserData>\n");
    }
    g_string_append(x, "    </component>\n");
    if (mode == MEDIA_UNATTEND_FULL)
        g_string_append_printf(x, COMPONENT("Microsoft-Windows-International-Core-WinPE", a)
                               "      <SetupUILanguage><UILanguage>en-US</UILanguage></SetupUILanguage>\n"
                               "      <InputLocale>en-US</InputLocale><SystemLocale>en-US</SystemLocale>\n"
                               "      <UILanguage>en-US</UILanguage><UserLocale>en-US</UserLocale>\n"
                               "    </component>\n", a);
    g_string_append(x, "  </settings>\n  <settings pass=\"offlineServicing\">\n");
    g_string_append_printf(x, COMPONENT("Microsoft-Windows-PnpCustomizationsNonWinPE", a)
                           "      <DriverPaths>\n"
                           "        <PathAndCredentials wcm:action=\"add\" wcm:keyValue=\"1\">\n"
                           "          <Path>%%configsetroot%%\\%s</Path>\n"
                           "        </PathAndCredentials>\n"
                           "      </DriverPaths>\n"
                           "    </component>\n  </settings>\n", a, dir);
    if (mode == MEDIA_UNATTEND_FULL)
        g_string_append_printf(x, "  <settings pass=\"oobeSystem\">\n"
                               COMPONENT("Microsoft-Windows-Shell-Setup", a)
                               "      <OOBE><HideEULAPage>true</HideEULAPage><NetworkLocation>Work</NetworkLocation>"
                               "<ProtectYourPC>3</ProtectYourPC><SkipUserOOBE>true</SkipUserOOBE></OOBE>\n"
                               "      <UserAccounts><LocalAccounts><LocalAccount wcm:action=\"add\">"
                               "<Name>aero</Name><Group>Administrators</Group>"
                               "<Password><Value>aero</Value><PlainText>true</PlainText></Password>"
                               "</LocalAccount></LocalAccounts></UserAccounts>\n"
                               "      <AutoLogon><Enabled>true</Enabled><Username>aero</Username>"
                               "<Password><Value>aero</Value><PlainText>true</PlainText></Password></AutoLogon>\n"
                               "    </component>\n  </settings>\n", a);
    g_string_append(x, "</unattend>\n");
    return g_string_free(x, FALSE);
}
