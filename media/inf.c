/* Windows INF reader (see inf.h). Hand-written because no Debian library parses INF files; it
 * only reads, and every query is case-insensitive like Windows' own setup API.
 */
#include "inf.h"

#include "error.h"

#include <string.h>

typedef struct {
    char *key;        /* NULL for value-only lines */
    GPtrArray *fields; /* char*, unquoted, strings substituted */
    char *value;      /* the whole right-hand side, substituted */
} InfLine;

typedef struct {
    char *name;
    GPtrArray *lines; /* InfLine* */
} InfSection;

struct MediaInf {
    char *path;
    GHashTable *sections; /* lower-case name -> InfSection* */
    GPtrArray *order;     /* InfSection* in file order */
};

const char *media_arch_name(MediaArch a) { return a == MEDIA_ARCH_AMD64 ? "amd64" : "x86"; }

static void line_free(gpointer p)
{
    InfLine *l = p;
    g_free(l->key);
    g_ptr_array_unref(l->fields);
    g_free(l->value);
    g_free(l);
}

static void section_free(gpointer p)
{
    InfSection *s = p;
    g_free(s->name);
    g_ptr_array_unref(s->lines);
    g_free(s);
}

void media_inf_free(MediaInf *inf)
{
    if (!inf)
        return;
    g_free(inf->path);
    g_hash_table_unref(inf->sections);
    g_ptr_array_unref(inf->order);
    g_free(inf);
}

/* Decode to UTF-8: UTF-16LE with BOM (common for INFs), UTF-8 (BOM optional), else CP1252. */
static char *decode(const char *path, const char *data, gsize len, GError **error)
{
    GError *e = NULL;
    char *out;
    if (len >= 2 && (guchar)data[0] == 0xff && (guchar)data[1] == 0xfe)
        out = g_convert(data + 2, (gssize)(len - 2), "UTF-8", "UTF-16LE", NULL, NULL, &e);
    else if (len >= 3 && (guchar)data[0] == 0xef && (guchar)data[1] == 0xbb && (guchar)data[2] == 0xbf)
        /* the mark says UTF-8: bytes that are not are refused, never passed on (every string the
         * reader returns goes into messages and the JSON manifest, and GLib's UTF-8 functions
         * read past the end of a string cut inside a character) */
        out = g_utf8_validate(data + 3, (gssize)(len - 3), NULL) ? g_strndup(data + 3, len - 3) : NULL;
    else if (g_utf8_validate(data, (gssize)len, NULL))
        out = g_strndup(data, len);
    else
        out = g_convert(data, (gssize)len, "UTF-8", "WINDOWS-1252", NULL, NULL, &e);
    if (!out) {
        g_set_error(error, MEDIA_ERROR, MEDIA_ERROR_INVALID, "%s: not a readable INF (%s)", path,
                    e ? e->message : "not UTF-8 after a UTF-8 byte order mark");
        g_clear_error(&e);
    }
    return out;
}

/* Remove a trailing ';' comment (outside quotes). */
static void strip_comment(char *s)
{
    gboolean q = FALSE;
    for (char *p = s; *p; p++) {
        if (*p == '"')
            q = !q;
        else if (*p == ';' && !q) {
            *p = '\0';
            return;
        }
    }
}

static char *unquote(const char *s)
{
    g_autofree char *t = g_strstrip(g_strdup(s));
    GString *o = g_string_new(NULL);
    gboolean q = FALSE;
    for (const char *p = t; *p; p++) {
        if (*p != '"') {
            g_string_append_c(o, *p);
        } else if (q && p[1] == '"') { /* "" inside a quoted string is one quote */
            g_string_append_c(o, '"');
            p++;
        } else {
            q = !q;
        }
    }
    return g_string_free(o, FALSE);
}

static GPtrArray *split_fields(const char *v)
{
    GPtrArray *f = g_ptr_array_new_with_free_func(g_free);
    gboolean q = FALSE;
    const char *start = v;
    for (const char *p = v;; p++) {
        if (*p == '"')
            q = !q;
        if ((*p == ',' && !q) || *p == '\0') {
            g_autofree char *piece = g_strndup(start, (gsize)(p - start));
            g_ptr_array_add(f, unquote(piece));
            if (*p == '\0')
                break;
            start = p + 1;
        }
    }
    return f;
}

static char *find_eq(char *s)
{
    gboolean q = FALSE;
    for (char *p = s; *p; p++) {
        if (*p == '"')
            q = !q;
        else if (*p == '=' && !q)
            return p;
    }
    return NULL;
}

static InfSection *get_section(MediaInf *inf, const char *name, gboolean create)
{
    g_autofree char *low = g_utf8_strdown(name, -1);
    InfSection *s = g_hash_table_lookup(inf->sections, low);
    if (s || !create)
        return s;
    s = g_new0(InfSection, 1);
    s->name = g_strdup(name);
    s->lines = g_ptr_array_new_with_free_func(line_free);
    g_hash_table_insert(inf->sections, g_steal_pointer(&low), s);
    g_ptr_array_add(inf->order, s);
    return s;
}

/* %key% from [Strings] (or the first localized [Strings.xxxx]); %% is a literal %. */
static char *substitute(GHashTable *strings, const char *s)
{
    if (!s || !strchr(s, '%'))
        return g_strdup(s);
    GString *o = g_string_new(NULL);
    for (const char *p = s; *p; p++) {
        const char *end;
        if (*p != '%' || !(end = strchr(p + 1, '%'))) {
            g_string_append_c(o, *p);
            continue;
        }
        if (end == p + 1) {
            g_string_append_c(o, '%');
        } else {
            g_autofree char *k = g_strndup(p + 1, (gsize)(end - p - 1));
            g_autofree char *kl = g_utf8_strdown(k, -1);
            const char *v = g_hash_table_lookup(strings, kl);
            if (v)
                g_string_append(o, v);
            else
                g_string_append_len(o, p, end - p + 1);
        }
        p = end;
    }
    return g_string_free(o, FALSE);
}

static void apply_strings(MediaInf *inf)
{
    GHashTable *strings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    InfSection *src = get_section(inf, "Strings", FALSE);
    for (guint i = 0; !src && i < inf->order->len; i++) {
        InfSection *s = g_ptr_array_index(inf->order, i);
        if (g_ascii_strncasecmp(s->name, "Strings.", 8) == 0)
            src = s;
    }
    for (guint i = 0; src && i < src->lines->len; i++) {
        InfLine *l = g_ptr_array_index(src->lines, i);
        if (l->key && l->fields->len)
            g_hash_table_insert(strings, g_utf8_strdown(l->key, -1),
                                g_strdup(g_ptr_array_index(l->fields, 0)));
    }
    for (guint i = 0; i < inf->order->len; i++) {
        InfSection *s = g_ptr_array_index(inf->order, i);
        if (s == src)
            continue;
        for (guint j = 0; j < s->lines->len; j++) {
            InfLine *l = g_ptr_array_index(s->lines, j);
            char *k = substitute(strings, l->key);
            g_free(l->key);
            l->key = k;
            char *v = substitute(strings, l->value);
            g_free(l->value);
            l->value = v;
            for (guint f = 0; f < l->fields->len; f++) {
                char *nv = substitute(strings, g_ptr_array_index(l->fields, f));
                g_free(l->fields->pdata[f]);
                l->fields->pdata[f] = nv;
            }
        }
    }
    g_hash_table_unref(strings);
}

MediaInf *media_inf_load(const char *path, GError **error)
{
    g_autofree char *raw = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &raw, &len, error)) {
        media_error_adopt(error);
        return NULL;
    }
    g_autofree char *text = decode(path, raw, len, error);
    if (!text)
        return NULL;

    MediaInf *inf = g_new0(MediaInf, 1);
    inf->path = g_strdup(path);
    inf->sections = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, section_free);
    inf->order = g_ptr_array_new();

    InfSection *cur = NULL;
    GString *logical = g_string_new(NULL);
    /* lines are cut in place, one pass over the text */
    for (char *ln = text, *next; ln; ln = next) {
        char *nl = strchr(ln, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        g_strchomp(ln); /* also drops \r */
        strip_comment(ln);
        g_strchomp(ln);
        gsize n = strlen(ln);
        if (n && ln[n - 1] == '\\') { /* continuation */
            ln[n - 1] = '\0';
            g_string_append(logical, ln);
            continue;
        }
        g_string_append(logical, ln);
        char *l = g_strstrip(logical->str);
        if (*l == '[') {
            char *close = strchr(l, ']');
            if (close) {
                *close = '\0';
                g_autofree char *name = g_strstrip(g_strdup(l + 1));
                cur = get_section(inf, name, TRUE);
            }
        } else if (*l && cur) {
            InfLine *il = g_new0(InfLine, 1);
            char *eq = find_eq(l);
            if (eq) {
                *eq = '\0';
                il->key = unquote(l);
                il->value = g_strstrip(g_strdup(eq + 1));
            } else {
                il->value = g_strdup(l);
            }
            il->fields = split_fields(il->value);
            g_ptr_array_add(cur->lines, il);
        }
        g_string_truncate(logical, 0);
    }
    g_string_free(logical, TRUE);
    apply_strings(inf);
    return inf;
}

static const InfLine *find_key(const MediaInf *inf, const char *section, const char *key)
{
    InfSection *s = get_section((MediaInf *)inf, section, FALSE);
    for (guint i = 0; s && i < s->lines->len; i++) {
        InfLine *l = g_ptr_array_index(s->lines, i);
        if (l->key && g_ascii_strcasecmp(l->key, key) == 0)
            return l;
    }
    return NULL;
}

const char *media_inf_version(const MediaInf *inf, const char *key)
{
    const InfLine *l = find_key(inf, "Version", key);
    return l ? l->value : NULL;
}

const char *media_inf_catalog(const MediaInf *inf, MediaArch arch)
{
    const char *keys[] = {arch == MEDIA_ARCH_AMD64 ? "CatalogFile.NTamd64" : "CatalogFile.NTx86",
                          "CatalogFile.NT", "CatalogFile"};
    for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
        const InfLine *l = find_key(inf, "Version", keys[i]);
        if (l && l->fields->len && *(char *)g_ptr_array_index(l->fields, 0))
            return g_ptr_array_index(l->fields, 0);
    }
    return NULL;
}

/* Architectures a target decoration covers: NTx86[.v] -> x86, NTamd64[.v] -> amd64, NT -> both. */
static guint decoration_archs(const char *d)
{
    if (g_ascii_strncasecmp(d, "NTamd64", 7) == 0)
        return MEDIA_ARCH_AMD64;
    if (g_ascii_strncasecmp(d, "NTx86", 5) == 0)
        return MEDIA_ARCH_X86;
    if (g_ascii_strncasecmp(d, "NTia64", 6) == 0 || g_ascii_strncasecmp(d, "NTarm", 5) == 0)
        return 0;
    if (g_ascii_strncasecmp(d, "NT", 2) == 0 && (d[2] == '\0' || d[2] == '.'))
        return MEDIA_ARCH_X86 | MEDIA_ARCH_AMD64;
    return 0;
}

/* Models sections that apply to arch (from [Manufacturer]). */
static GPtrArray *model_sections(const MediaInf *inf, MediaArch arch)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    InfSection *m = get_section((MediaInf *)inf, "Manufacturer", FALSE);
    for (guint i = 0; m && i < m->lines->len; i++) {
        InfLine *l = g_ptr_array_index(m->lines, i);
        if (!l->fields->len)
            continue;
        const char *base = g_ptr_array_index(l->fields, 0);
        if (l->fields->len == 1) {
            if (arch == MEDIA_ARCH_X86) /* undecorated models are x86-only on Windows 7 */
                g_ptr_array_add(out, g_strdup(base));
            continue;
        }
        for (guint f = 1; f < l->fields->len; f++) {
            const char *dec = g_ptr_array_index(l->fields, f);
            if (decoration_archs(dec) & arch)
                g_ptr_array_add(out, g_strdup_printf("%s.%s", base, dec));
        }
    }
    return out;
}

guint media_inf_archs(const MediaInf *inf)
{
    guint archs = 0;
    for (MediaArch a = MEDIA_ARCH_X86; a <= MEDIA_ARCH_AMD64; a <<= 1) {
        g_autoptr(GPtrArray) ms = model_sections(inf, a);
        for (guint i = 0; i < ms->len; i++) {
            InfSection *s = get_section((MediaInf *)inf, g_ptr_array_index(ms, i), FALSE);
            if (s && s->lines->len)
                archs |= a;
        }
    }
    return archs;
}

/* Lists keep file order without case-insensitive duplicates; `seen` (lower-case keys) makes each
 * addition O(1), so an INF with tens of thousands of IDs costs linear time, not quadratic. */
static GHashTable *seen_new(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

static void add_unique(GPtrArray *a, GHashTable *seen, const char *v)
{
    if (g_hash_table_add(seen, g_ascii_strdown(v, -1)))
        g_ptr_array_add(a, g_strdup(v));
}

/* Every line of the models sections that apply to arch, in file order (owned by inf). */
static GPtrArray *model_lines(const MediaInf *inf, MediaArch arch)
{
    GPtrArray *out = g_ptr_array_new();
    g_autoptr(GPtrArray) ms = model_sections(inf, arch);
    for (guint i = 0; i < ms->len; i++) {
        InfSection *s = get_section((MediaInf *)inf, g_ptr_array_index(ms, i), FALSE);
        for (guint j = 0; s && j < s->lines->len; j++)
            g_ptr_array_add(out, g_ptr_array_index(s->lines, j));
    }
    return out;
}

/* A model line is "description = install-section, hwid[, compatible-id...]". */
GPtrArray *media_inf_hardware_ids(const MediaInf *inf, MediaArch arch)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) seen = seen_new();
    g_autoptr(GPtrArray) lines = model_lines(inf, arch);
    for (guint i = 0; i < lines->len; i++) {
        InfLine *l = g_ptr_array_index(lines, i);
        for (guint f = 1; f < l->fields->len; f++) {
            g_autofree char *up = g_ascii_strup(g_ptr_array_index(l->fields, f), -1);
            if (*up)
                add_unique(out, seen, up);
        }
    }
    return out;
}

static GPtrArray *install_sections(const MediaInf *inf, MediaArch arch)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) seen = seen_new();
    g_autoptr(GPtrArray) lines = model_lines(inf, arch);
    for (guint i = 0; i < lines->len; i++) {
        InfLine *l = g_ptr_array_index(lines, i);
        if (l->fields->len)
            add_unique(out, seen, g_ptr_array_index(l->fields, 0));
    }
    return out;
}

/* Visit AddService lines of the .Services sections belonging to arch's install sections. */
static void each_add_service(const MediaInf *inf, MediaArch arch,
                             void (*fn)(const MediaInf *, InfLine *, gpointer), gpointer data)
{
    g_autoptr(GPtrArray) inst = install_sections(inf, arch);
    for (guint i = 0; i < inst->len; i++) {
        g_autofree char *base = g_utf8_strdown(g_ptr_array_index(inst, i), -1);
        gsize bl = strlen(base);
        for (guint j = 0; j < inf->order->len; j++) {
            InfSection *s = g_ptr_array_index(inf->order, j);
            g_autofree char *n = g_utf8_strdown(s->name, -1);
            gsize nl = strlen(n);
            if (nl < bl + 9 || strncmp(n, base, bl) != 0 || strcmp(n + nl - 9, ".services") != 0)
                continue;
            /* middle = "" or a decoration such as ".ntamd64" / ".nt" */
            g_autofree char *mid = g_strndup(n + bl, nl - bl - 9);
            if (*mid && (mid[0] != '.' || !(decoration_archs(mid + 1) & arch)))
                continue;
            for (guint k = 0; k < s->lines->len; k++) {
                InfLine *l = g_ptr_array_index(s->lines, k);
                if (l->key && g_ascii_strcasecmp(l->key, "AddService") == 0 && l->fields->len)
                    fn(inf, l, data);
            }
        }
    }
}

struct service_list {
    GPtrArray *out;
    GHashTable *seen;
};

static void collect_service(const MediaInf *inf, InfLine *l, gpointer data)
{
    struct service_list *sl = data;
    const char *name = g_ptr_array_index(l->fields, 0);
    if (*name)
        add_unique(sl->out, sl->seen, name);
}

GPtrArray *media_inf_services(const MediaInf *inf, MediaArch arch)
{
    g_autoptr(GHashTable) seen = seen_new();
    struct service_list sl = {g_ptr_array_new_with_free_func(g_free), seen};
    each_add_service(inf, arch, collect_service, &sl);
    return sl.out;
}

struct group_find {
    const char *group;
};

static void find_group(const MediaInf *inf, InfLine *l, gpointer data)
{
    struct group_find *g = data;
    if (g->group || l->fields->len < 3)
        return;
    const InfLine *lg = find_key(inf, g_ptr_array_index(l->fields, 2), "LoadOrderGroup");
    if (lg && lg->fields->len)
        g->group = g_ptr_array_index(lg->fields, 0);
}

const char *media_inf_service_group(const MediaInf *inf, MediaArch arch)
{
    struct group_find g = {NULL};
    each_add_service(inf, arch, find_group, &g);
    return g.group;
}

/* Path of disk `id` from SourceDisksNames[.arch] (4th field), '/'-separated, or "". */
static char *disk_path(const MediaInf *inf, MediaArch arch, const char *id)
{
    g_autofree char *sec = g_strdup_printf("SourceDisksNames.%s", media_arch_name(arch));
    const InfLine *l = find_key(inf, sec, id);
    if (!l)
        l = find_key(inf, "SourceDisksNames", id);
    if (!l || l->fields->len < 4)
        return g_strdup("");
    return g_strdup(g_ptr_array_index(l->fields, 3));
}

static char *join_rel(const char *a, const char *b)
{
    g_autofree char *j = g_strdup_printf("%s/%s", a ? a : "", b ? b : "");
    g_strdelimit(j, "\\", '/');
    GString *o = g_string_new(NULL);
    g_auto(GStrv) parts = g_strsplit(j, "/", -1);
    for (guint i = 0; parts[i]; i++) {
        if (!*parts[i] || strcmp(parts[i], ".") == 0)
            continue;
        if (o->len)
            g_string_append_c(o, '/');
        g_string_append(o, parts[i]);
    }
    return g_string_free(o, FALSE);
}

GPtrArray *media_inf_source_files(const MediaInf *inf, MediaArch arch)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) seen = seen_new();
    g_autofree char *dec = g_strdup_printf("SourceDisksFiles.%s", media_arch_name(arch));
    const char *secs[] = {"SourceDisksFiles", dec};
    for (guint i = 0; i < G_N_ELEMENTS(secs); i++) {
        InfSection *s = get_section((MediaInf *)inf, secs[i], FALSE);
        for (guint j = 0; s && j < s->lines->len; j++) {
            InfLine *l = g_ptr_array_index(s->lines, j);
            const char *file = l->key ? l->key : l->value;
            if (!file || !*file)
                continue;
            const char *id = l->fields->len ? g_ptr_array_index(l->fields, 0) : "";
            const char *sub = l->fields->len > 1 ? g_ptr_array_index(l->fields, 1) : "";
            g_autofree char *dp = disk_path(inf, arch, id);
            g_autofree char *dir = join_rel(dp, sub);
            g_autofree char *rel = join_rel(dir, file);
            add_unique(out, seen, rel);
        }
    }
    return out;
}
