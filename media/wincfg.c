/* Windows facts shared by patching and checking (see wincfg.h). */
#include "wincfg.h"

#include <string.h>

const char *const win_blk_cdd_ids[WIN_BLK_CDD_COUNT] = {
    "pci#ven_1af4&dev_1042",
    "pci#ven_1af4&dev_1042&subsys_00021af4",
    "pci#ven_1af4&dev_1042&subsys_00021af4&rev_01",
};

gboolean win_is_control_set(const char *name)
{
    return name && g_ascii_strncasecmp(name, "ControlSet", 10) == 0 && strlen(name) == 13 &&
           g_ascii_isdigit(name[10]);
}

gboolean win_current_control_set(MediaHive *hv, guint32 *out)
{
    hive_node_h sel = media_hive_lookup(hv, WIN_SELECT_KEY);
    return sel && media_hive_get_dword(hv, sel, WIN_SELECT_CURRENT, out);
}
