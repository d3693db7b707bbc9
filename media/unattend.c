/* autounattend.xml writer (see unattend.h). Driver paths use %configsetroot% with
 * UseConfigurationSet, so they work whatever drive letter the DVD gets.
 */
#include "unattend.h"

char *media_unattend_driver_dir(MediaArch arch)
{
    return g_strdup_printf("AERO/DRIVERS/%s", media_arch_name(arch));
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
    g_string_append_printf(x, COMPONENT("Microsoft-Windows-Setup", a)
                           "      <UseConfigurationSet>true</UseConfigurationSet>\n", a);
    if (mode == MEDIA_UNATTEND_FULL) {
        g_string_append_printf(x,
            "      <DiskConfiguration>\n"
            "        <WillShowUI>OnError</WillShowUI>\n"
            "        <Disk wcm:action=\"add\">\n"
            "          <DiskID>0</DiskID>\n"
            "          <WillWipeDisk>true</WillWipeDisk>\n"
            "          <CreatePartitions>\n"
            "            <CreatePartition wcm:action=\"add\"><Order>1</Order><Type>Primary</Type><Extend>true</Extend></CreatePartition>\n"
            "          </CreatePartitions>\n"
            "          <ModifyPartitions>\n"
            "            <ModifyPartition wcm:action=\"add\"><Order>1</Order><PartitionID>1</PartitionID>"
            "<Format>NTFS</Format><Label>Windows</Label><Letter>C</Letter><Active>true</Active></ModifyPartition>\n"
            "          </ModifyPartitions>\n"
            "        </Disk>\n"
            "      </DiskConfiguration>\n"
            "      <ImageInstall>\n"
            "        <OSImage>\n"
            "          <InstallFrom><MetaData wcm:action=\"add\"><Key>/IMAGE/INDEX</Key><Value>%d</Value></MetaData></InstallFrom>\n"
            "          <InstallTo><DiskID>0</DiskID><PartitionID>1</PartitionID></InstallTo>\n"
            "        </OSImage>\n"
            "      </ImageInstall>\n"
            "      <UserData>\n"
            "        <AcceptEula>true</AcceptEula>\n"
            "        <FullName>Aero</FullName>\n", image_index);
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
