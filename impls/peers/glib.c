/*
 * glib — GLib's GHashTable (libglib2.0-dev 2.74) behind the mapbench vtable.
 *
 * What the library is: open addressing over parallel arrays (a guint hash
 * per slot, a key pointer per slot, a value pointer per slot), probed
 * quadratically from (hash * 11) % prime, with tombstones.  It resizes when
 * occupied slots (live + tombstones) come near the size, and shrinks when
 * the size exceeds four times the live count, whatever cfg.shrink says
 * (trait "shrinks-always").  When every key equals its value GLib keeps one
 * array for both (its "set" mode), which this adapter uses.
 *
 * Layout here: GHashTable stores pointers only, so each entry is a node
 * { key, value } (key_bytes + val_bytes) allocated through mb_alloc by the
 * adapter; the table holds the node pointer as both key and value
 * (g_hash_table_add).  No destroy notifiers: the adapter frees nodes itself.
 *
 * Hash (library where it has one): 8-byte keys use GLib's own pair for 64-bit
 * integers, g_int64_hash / g_int64_equal (the hash is the xor of the two
 * 32-bit halves; GLib's * 11 % prime index step spreads it).  GLib has no
 * hash for fixed-length byte keys, so 16/48-byte keys use mb_hash_key with
 * seed 0 truncated to 32 bits.  GHashFunc takes no context, so cfg.seed is
 * ignored (trait "unseeded").
 *
 * Memory: only the map struct and the nodes go through mb_alloc.  GLib's
 * own arrays come from g_malloc, which cannot be redirected (g_mem_set_vtable
 * is a no-op since GLib 2.46): trait "table-bytes-uncounted"; bytes in stats
 * are struct + nodes, and the table's bytes show only in allocator stats.
 *
 * Failure: a node allocation that fails makes insert return MB_ENOMEM with
 * the map unchanged, but g_malloc aborts the process when GLib's own arrays
 * cannot grow: trait "oom-unsafe" (the failure sweep skips this map).
 *
 * The capacity hint is ignored (GHashTable has no reserve).  clear() frees
 * every node and empties the table, which GLib then shrinks to its minimum.
 */
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "../mb_map.h"

#define GL_NODE_ALIGN 8u /* g_int64_hash reads the key as an aligned gint64 */

typedef struct gl_map {
    mb_alloc alloc;
    size_t key_bytes, val_bytes, node_bytes;
    GHashTable *table;   /* node pointer -> the same node pointer */
} gl_map;

/* ---- key policy ---------------------------------------------------------- */

static guint gl_hash16(gconstpointer key)
{
    return (guint)mb_hash_key(key, 16, 0);
}

static gboolean gl_equal16(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, 16) == 0;
}

static guint gl_hash48(gconstpointer key)
{
    return (guint)mb_hash_key(key, 48, 0);
}

static gboolean gl_equal48(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, 48) == 0;
}

/* ---- nodes ------------------------------------------------------------------ */

static void gl_node_free(gl_map *m, void *node)
{
    mb_free_bytes(&m->alloc, node, m->node_bytes, GL_NODE_ALIGN);
}

/* Frees every node; the table still holds their (now dangling) pointers, so
 * the caller must empty or destroy it next without touching them. */
static void gl_free_nodes(gl_map *m)
{
    GHashTableIter it;
    gpointer node;
    g_hash_table_iter_init(&it, m->table);
    while (g_hash_table_iter_next(&it, &node, NULL))
        gl_node_free(m, node);
}

/* ---- ops ------------------------------------------------------------------ */

static void *gl_create(const mb_alloc *a, const mb_map_config *cfg)
{
    gl_map *m = mb_alloc_bytes(a, sizeof *m, _Alignof(gl_map));
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->alloc = *a;
    m->key_bytes = cfg->key_bytes;
    m->val_bytes = cfg->val_bytes;
    m->node_bytes = cfg->key_bytes + cfg->val_bytes;
    if (cfg->key_bytes == 8)
        m->table = g_hash_table_new(g_int64_hash, g_int64_equal);
    else if (cfg->key_bytes == 16)
        m->table = g_hash_table_new(gl_hash16, gl_equal16);
    else
        m->table = g_hash_table_new(gl_hash48, gl_equal48);
    return m;
}

static void gl_destroy(void *mp)
{
    gl_map *m = mp;
    mb_alloc a = m->alloc;
    gl_free_nodes(m);
    g_hash_table_destroy(m->table); /* no notifiers: the dangling pointers are not read */
    mb_free_bytes(&a, m, sizeof *m, _Alignof(gl_map));
}

static int gl_insert(void *mp, const void *key, const void *val)
{
    gl_map *m = mp;
    unsigned char *node = g_hash_table_lookup(m->table, key);

    if (node) {
        memcpy(node + m->key_bytes, val, m->val_bytes);
        return MB_REPLACED;
    }
    node = mb_alloc_bytes(&m->alloc, m->node_bytes, GL_NODE_ALIGN);
    if (!node)
        return MB_ENOMEM;
    memcpy(node, key, m->key_bytes);
    memcpy(node + m->key_bytes, val, m->val_bytes);
    g_hash_table_add(m->table, node); /* may g_malloc a bigger table: aborts on OOM */
    return MB_INSERTED;
}

static int gl_lookup(void *mp, const void *key, void *val_out)
{
    gl_map *m = mp;
    const unsigned char *node = g_hash_table_lookup(m->table, key);
    if (!node)
        return MB_NOTFOUND;
    if (val_out)
        memcpy(val_out, node + m->key_bytes, m->val_bytes);
    return MB_FOUND;
}

static int gl_remove(void *mp, const void *key)
{
    gl_map *m = mp;
    gpointer node;
    if (!g_hash_table_steal_extended(m->table, key, &node, NULL))
        return MB_NOTFOUND;
    gl_node_free(m, node);
    return MB_FOUND;
}

static void gl_clear(void *mp)
{
    gl_map *m = mp;
    gl_free_nodes(m);
    g_hash_table_steal_all(m->table);
}

static int gl_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    gl_map *m = mp;
    GHashTableIter it;
    gpointer node;
    int r = 0;
    g_hash_table_iter_init(&it, m->table);
    while (r == 0 && g_hash_table_iter_next(&it, &node, NULL))
        r = fn(ud, node, (const unsigned char *)node + m->key_bytes);
    return r;
}

static void gl_stats(const void *mp, mb_map_stats *out)
{
    const gl_map *m = mp;
    mb_stats_init(out);
    out->count = g_hash_table_size(m->table);
    out->bytes = sizeof *m + out->count * m->node_bytes; /* GLib's arrays: not counted */
}

/* ---- check ---------------------------------------------------------------- */

static const char *gl_check(const void *mp)
{
    const gl_map *m = mp;
    GHashTableIter it;
    gpointer node, same;
    size_t visited = 0, count = g_hash_table_size(m->table);

    g_hash_table_iter_init(&it, m->table);
    while (g_hash_table_iter_next(&it, &node, &same)) {
        if (++visited > count)
            return "iteration visits more entries than g_hash_table_size";
        if (node != same)
            return "a key pointer differs from its value pointer";
        if (g_hash_table_lookup(m->table, node) != node)
            return "an iterated key is not found by lookup (or is stored twice)";
    }
    if (visited != count)
        return "g_hash_table_size does not match iteration";
    return NULL;
}

const mb_map_ops mb_glib_ops = {
    .name = "glib",
    .family = "peer",
    .traits = "open-addressing,tombstones,node-per-entry,glib-int64-hash,unseeded,"
              "table-bytes-uncounted,oom-unsafe,shrinks-always,ignores-hint,clear-frees-nodes",
    .flags = MB_F_STR_KEYS | MB_F_BIG_VALUES,
    .create = gl_create,
    .destroy = gl_destroy,
    .insert = gl_insert,
    .lookup = gl_lookup,
    .remove = gl_remove,
    .clear = gl_clear,
    .iterate = gl_iterate,
    .stats = gl_stats,
    .check = gl_check,
};
