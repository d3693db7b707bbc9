/* The manifest schema's writers and readers (see manifest.h). */
#include "manifest.h"

#include "error.h"

void media_json_member_str(JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name(b, name);
    if (value)
        json_builder_add_string_value(b, value);
    else
        json_builder_add_null_value(b);
}

void media_json_member_strv(JsonBuilder *b, const char *name, GPtrArray *values)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_array(b);
    for (guint i = 0; values && i < values->len; i++)
        json_builder_add_string_value(b, g_ptr_array_index(values, i));
    json_builder_end_array(b);
}

void media_manifest_add_file(JsonBuilder *b, const char *path, const char *sha256, gint64 size)
{
    json_builder_begin_object(b);
    media_json_member_str(b, MF_PATH, path);
    media_json_member_str(b, MF_SHA256, sha256);
    if (size >= 0) {
        json_builder_set_member_name(b, MF_SIZE);
        json_builder_add_int_value(b, size);
    }
    json_builder_end_object(b);
}

void media_manifest_add_boot_entries(JsonBuilder *b, GPtrArray *entries)
{
    json_builder_set_member_name(b, MF_EL_TORITO);
    json_builder_begin_array(b);
    for (guint i = 0; entries && i < entries->len; i++) {
        const MediaBootEntry *e = g_ptr_array_index(entries, i);
        json_builder_begin_object(b);
        media_json_member_str(b, MF_PLATFORM, e->platform);
        media_json_member_str(b, MF_EMULATION, e->emulation);
        json_builder_set_member_name(b, MF_LOAD_SIZE);
        json_builder_add_int_value(b, e->load_size);
        media_json_member_str(b, MF_PATH, e->path);
        media_json_member_str(b, MF_SHA256, e->sha256);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

gboolean media_manifest_write(JsonBuilder *b, const char *path, GError **error)
{
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, TRUE);
    if (!json_generator_to_file(gen, path, error)) {
        media_error_adopt(error);
        return FALSE;
    }
    return TRUE;
}

const char *media_manifest_str(JsonObject *o, const char *k)
{
    return o && json_object_has_member(o, k) && !json_object_get_null_member(o, k) &&
                   JSON_NODE_HOLDS_VALUE(json_object_get_member(o, k))
               ? json_object_get_string_member(o, k)
               : NULL;
}

JsonObject *media_manifest_obj(JsonObject *o, const char *k)
{
    return o && json_object_has_member(o, k) && JSON_NODE_HOLDS_OBJECT(json_object_get_member(o, k))
               ? json_object_get_object_member(o, k)
               : NULL;
}

JsonArray *media_manifest_arr(JsonObject *o, const char *k)
{
    return o && json_object_has_member(o, k) && JSON_NODE_HOLDS_ARRAY(json_object_get_member(o, k))
               ? json_object_get_array_member(o, k)
               : NULL;
}

JsonObject *media_manifest_load(JsonParser *p, const char *path, GError **error)
{
    if (!json_parser_load_from_file(p, path, NULL) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s: not a readable manifest", path);
        return NULL;
    }
    return json_node_get_object(json_parser_get_root(p));
}

gboolean media_manifest_boot_entries_match(JsonArray *want, GPtrArray *got)
{
    gboolean same = json_array_get_length(want) == got->len;
    for (guint i = 0; same && i < got->len; i++) {
        JsonObject *w = json_array_get_object_element(want, i);
        const MediaBootEntry *g = g_ptr_array_index(got, i);
        same = !g_strcmp0(media_manifest_str(w, MF_PLATFORM), g->platform) &&
               !g_strcmp0(media_manifest_str(w, MF_EMULATION), g->emulation) &&
               json_object_get_int_member_with_default(w, MF_LOAD_SIZE, -1) == g->load_size &&
               !g_strcmp0(media_manifest_str(w, MF_PATH), g->path) &&
               media_manifest_str(w, MF_SHA256) &&
               !g_strcmp0(media_manifest_str(w, MF_SHA256), g->sha256);
    }
    return same;
}
