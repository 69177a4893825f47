/*
 * uthash — the uthash library (uthash-dev 2.3.0) behind the mapbench vtable.
 *
 * What the library is: an intrusive chained hash.  Every entry is a node the
 * caller allocates, holding a 56-byte UT_hash_handle (table pointer, app-order
 * prev/next, bucket-chain prev/next, key pointer, key length, 32-bit hash).
 * The table is one UT_hash_table plus an array of buckets
 * { head, count, expand_mult } (16 bytes each), 32 buckets to start.
 *
 * Layout here: one node per entry, { UT_hash_handle hh; key; value } packed
 * after the handle, allocated through mb_alloc by this adapter.  The table
 * and bucket array come through uthash's own hooks uthash_malloc /
 * uthash_free, pointed at the same mb_alloc (uthash passes the size to free),
 * so every byte is counted.  No bloom filter (HASH_BLOOM left undefined).
 *
 * Chain rule (library): bucket = hashv & (num_buckets - 1); new nodes are
 * pushed at the head of the chain.  hashv is uthash's default HASH_JEN (Bob
 * Jenkins' lookup2 over the key bytes, 32 bits, unseeded): the library's own
 * hash, not mb_hash_key, so cfg.seed is ignored (trait "jenkins-hash").
 *
 * Growth (library): not a load factor.  When one chain reaches
 * HASH_BKT_CAPACITY_THRESH (10) * (expand_mult + 1) nodes, the bucket array
 * doubles; if two expansions in a row leave over half the items in
 * over-long chains, uthash stops expanding for good (noexpand).
 *
 * Shrink: never while entries remain; removing the last entry frees the
 * table and bucket array (uthash's HASH_DELETE does that), and the next insert
 * makes a fresh 32-bucket table.  The shrink policy and the capacity hint are
 * ignored (uthash has neither).
 *
 * Failure: compiled with HASH_NONFATAL_OOM = 1.  When the table, bucket array
 * or a bucket expansion cannot be allocated, uthash unlinks the new node and
 * calls uthash_nonfatal_oom(node); the adapter then frees the node and the
 * insert returns MB_ENOMEM with the map unchanged.  A failed expansion
 * leaves the old bucket array in place (the library rolls the add back).
 *
 * clear() frees every node, the table and the bucket array.
 */
#include <stdlib.h>
#include <string.h>

#include "../mb_map.h"

typedef struct ut_map ut_map;

/* The hooks below expand inside the functions that use the HASH_* macros;
 * each such function names its map ut_m and, for inserts, its failure flag
 * ut_oomed. */
static void *ut_table_alloc(ut_map *m, size_t bytes);
static void ut_table_free(ut_map *m, void *p, size_t bytes);
#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) ut_table_alloc(ut_m, (sz))
#define uthash_free(ptr, sz) ut_table_free(ut_m, (ptr), (sz))
#define uthash_nonfatal_oom(obj) (ut_oomed = 1)
#define uthash_expand_fyi(tbl) (ut_m->grow_events++)
#include <uthash.h>

#define UT_ALIGN _Alignof(max_align_t)

typedef struct ut_node {
    UT_hash_handle hh;
    unsigned char kv[];  /* key_bytes, then val_bytes */
} ut_node;

struct ut_map {
    mb_alloc alloc;
    size_t key_bytes, val_bytes;
    size_t node_bytes;      /* sizeof(ut_node) + key_bytes + val_bytes */
    ut_node *head;          /* uthash's handle on the table; NULL when empty */
    size_t table_bytes;     /* live bytes uthash took through uthash_malloc */
    size_t grow_events;     /* bucket-array doublings (uthash_expand_fyi) */
};

/* ---- allocation hooks ------------------------------------------------------ */

static void *ut_table_alloc(ut_map *m, size_t bytes)
{
    void *p = mb_alloc_bytes(&m->alloc, bytes, UT_ALIGN);
    if (p)
        m->table_bytes += bytes;
    return p;
}

static void ut_table_free(ut_map *m, void *p, size_t bytes)
{
    if (!p)
        return;
    m->table_bytes -= bytes;
    mb_free_bytes(&m->alloc, p, bytes, UT_ALIGN);
}

static ut_node *ut_node_new(ut_map *m)
{
    return mb_alloc_bytes(&m->alloc, m->node_bytes, UT_ALIGN);
}

static void ut_node_free(ut_map *m, ut_node *n)
{
    mb_free_bytes(&m->alloc, n, m->node_bytes, UT_ALIGN);
}

/* ---- hot paths, specialised -------------------------------------------------- */

/* The ops are written once as always-inline bodies taking key_bytes and
 * val_bytes as arguments; each op calls them with the constants 8, 8 when
 * the map is u64 -> u64 (one predictable branch) and with the map's sizes
 * otherwise.  With a constant key length HASH_JEN's loop and the memcmp in
 * HASH_KEYCMP fold to straight-line code, as in a uthash user's program
 * (HASH_FIND_INT-style sizeof(key)).  Measured with callgrind at n = 1e3
 * (counting allocator included): insert 605 -> 454 instructions per op
 * against the runtime-length find-then-add it replaces; the bare uthash
 * loop in bench/adapter_tax takes 411. */
#define UT_INLINE static inline __attribute__((always_inline))
#define UT_U64(m) ((m)->key_bytes == 8 && (m)->val_bytes == 8)

/* Returns the node holding key (whose uthash hash is hashv), or NULL. */
UT_INLINE ut_node *ut_find_by_hash(ut_map *ut_m, const void *key, size_t kb, unsigned hashv)
{
    ut_node *n;
    HASH_FIND_BYHASHVALUE(hh, ut_m->head, key, (unsigned)kb, hashv, n);
    return n;
}

UT_INLINE unsigned ut_hash(const void *key, size_t kb)
{
    unsigned hashv;
    HASH_VALUE(key, (unsigned)kb, hashv);
    return hashv;
}

/* Returns the node holding key, or NULL. */
static ut_node *ut_find(ut_map *ut_m, const void *key)
{
    return ut_find_by_hash(ut_m, key, ut_m->key_bytes, ut_hash(key, ut_m->key_bytes));
}

/* ---- ops ------------------------------------------------------------------ */

static void *ut_create(const mb_alloc *a, const mb_map_config *cfg)
{
    ut_map *m = mb_alloc_bytes(a, sizeof *m, _Alignof(ut_map));
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->alloc = *a;
    m->key_bytes = cfg->key_bytes;
    m->val_bytes = cfg->val_bytes;
    m->node_bytes = sizeof(ut_node) + cfg->key_bytes + cfg->val_bytes;
    return m; /* uthash makes its table on the first insert */
}

/* Frees every node, then the table (HASH_CLEAR reads only head->hh.tbl, so the
 * nodes are walked from a saved head after it). */
static void ut_free_all(ut_map *ut_m)
{
    ut_node *n = ut_m->head, *next;
    HASH_CLEAR(hh, ut_m->head);
    for (; n; n = next) {
        next = n->hh.next;
        ut_node_free(ut_m, n);
    }
}

static void ut_destroy(void *mp)
{
    ut_map *m = mp;
    mb_alloc a = m->alloc;
    ut_free_all(m);
    mb_free_bytes(&a, m, sizeof *m, _Alignof(ut_map));
}

/* Insert = find, then add, hashing the key once: HASH_VALUE, then
 * HASH_FIND_BYHASHVALUE and HASH_ADD_KEYPTR_BYHASHVALUE with that hash
 * (HASH_FIND + HASH_ADD would hash it twice; HASH_REPLACE would too, and
 * needs the node allocated before it knows the key is new). */
UT_INLINE int ut_insert_kv(ut_map *ut_m, const void *key, const void *val, size_t kb,
                           size_t vb)
{
    int ut_oomed = 0;
    unsigned hashv = ut_hash(key, kb);
    ut_node *n = ut_find_by_hash(ut_m, key, kb, hashv);

    if (n) {
        memcpy(n->kv + kb, val, vb);
        return MB_REPLACED;
    }
    n = ut_node_new(ut_m);
    if (!n)
        return MB_ENOMEM;
    memcpy(n->kv, key, kb);
    memcpy(n->kv + kb, val, vb);
    HASH_ADD_KEYPTR_BYHASHVALUE(hh, ut_m->head, n->kv, (unsigned)kb, hashv, n);
    if (ut_oomed) { /* uthash has unlinked n and left the table as it was */
        ut_node_free(ut_m, n);
        return MB_ENOMEM;
    }
    return MB_INSERTED;
}

static int ut_insert(void *mp, const void *key, const void *val)
{
    ut_map *m = mp;
    if (UT_U64(m))
        return ut_insert_kv(m, key, val, 8, 8);
    return ut_insert_kv(m, key, val, m->key_bytes, m->val_bytes);
}

UT_INLINE int ut_lookup_kv(ut_map *m, const void *key, void *val_out, size_t kb, size_t vb)
{
    ut_node *n = ut_find_by_hash(m, key, kb, ut_hash(key, kb));
    if (!n)
        return MB_NOTFOUND;
    if (val_out)
        memcpy(val_out, n->kv + kb, vb);
    return MB_FOUND;
}

static int ut_lookup(void *mp, const void *key, void *val_out)
{
    ut_map *m = mp;
    if (UT_U64(m))
        return ut_lookup_kv(m, key, val_out, 8, 8);
    return ut_lookup_kv(m, key, val_out, m->key_bytes, m->val_bytes);
}

UT_INLINE int ut_remove_k(ut_map *ut_m, const void *key, size_t kb)
{
    ut_node *n = ut_find_by_hash(ut_m, key, kb, ut_hash(key, kb));
    if (!n)
        return MB_NOTFOUND;
    HASH_DELETE(hh, ut_m->head, n); /* frees the table with the last node */
    ut_node_free(ut_m, n);
    return MB_FOUND;
}

static int ut_remove(void *mp, const void *key)
{
    ut_map *m = mp;
    if (m->key_bytes == 8)
        return ut_remove_k(m, key, 8);
    return ut_remove_k(m, key, m->key_bytes);
}

static void ut_clear(void *mp)
{
    ut_free_all(mp);
}

static int ut_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    ut_map *m = mp;
    int r = 0;
    for (ut_node *n = m->head; n && r == 0; n = n->hh.next)
        r = fn(ud, n->kv, n->kv + m->key_bytes);
    return r;
}

static void ut_stats(const void *mp, mb_map_stats *out)
{
    const ut_map *m = mp;
    size_t total = 0, used_heads = 0, count = m->head ? m->head->hh.tbl->num_items : 0;

    mb_stats_init(out);
    out->count = count;
    out->capacity = m->head ? m->head->hh.tbl->num_buckets : 0;
    out->max_probe = 0;
    for (size_t b = 0; b < out->capacity; b++) {
        size_t depth = 0;
        for (UT_hash_handle *h = m->head->hh.tbl->buckets[b].hh_head; h; h = h->hh_next)
            total += ++depth;
        used_heads += depth > 0;
        if (depth > out->max_probe)
            out->max_probe = depth;
    }
    out->overflow = count - used_heads;
    out->mean_probe = count ? (double)total / (double)count : 0.0;
    out->grow_events = m->grow_events;
    out->shrink_events = 0;
    out->rehash_events = 0;
    out->bytes = sizeof *m + m->table_bytes + count * m->node_bytes;
}

/* ---- check ---------------------------------------------------------------- */

static const char *ut_check(const void *mp)
{
    const ut_map *m = mp;
    if (!m->head)
        return m->table_bytes == 0 ? NULL : "an empty map still holds table bytes";

    const UT_hash_table *t = m->head->hh.tbl;
    size_t items = 0, chained = 0;
    const ut_node *prev = NULL;

    if (t->num_buckets == 0 || (t->num_buckets & (t->num_buckets - 1)) != 0 ||
        t->num_buckets != 1u << t->log2_num_buckets)
        return "num_buckets is not 2^log2_num_buckets";
    if (m->table_bytes != sizeof *t + t->num_buckets * sizeof(UT_hash_bucket))
        return "table bytes do not match the bucket count";
    for (const ut_node *n = m->head; n; prev = n, n = n->hh.next) {
        items++;
        if (n->hh.tbl != t)
            return "a node points at another table";
        if (n->hh.prev != prev)
            return "app-order prev link is broken";
        if (n->hh.key != n->kv || n->hh.keylen != m->key_bytes)
            return "a node's key pointer or length is wrong";
        if (ut_find((ut_map *)m, n->kv) != n)
            return "an iterated key is not found by lookup (or is stored twice)";
        if (items > t->num_items)
            return "app-order list is longer than num_items";
    }
    if (items != t->num_items)
        return "num_items does not match the app-order list";
    if (t->tail != &prev->hh)
        return "tail is not the last node";
    for (unsigned b = 0; b < t->num_buckets; b++) {
        unsigned depth = 0;
        const UT_hash_handle *hp = NULL;
        for (const UT_hash_handle *h = t->buckets[b].hh_head; h; hp = h, h = h->hh_next) {
            depth++;
            if (h->hh_prev != hp)
                return "bucket-chain prev link is broken";
            if ((h->hashv & (t->num_buckets - 1)) != b)
                return "a node sits in the wrong bucket";
            if (depth > items)
                return "a bucket chain is longer than the map";
        }
        if (depth != t->buckets[b].count)
            return "a bucket's count does not match its chain";
        chained += depth;
    }
    if (chained != items)
        return "bucket chains do not hold every node once";
    return NULL;
}

const mb_map_ops mb_uthash_ops = {
    .name = "uthash",
    .family = "peer",
    .traits = "chained,intrusive,node-per-entry,jenkins-hash,unseeded,no-shrink,"
              "empty-frees-table,ignores-hint,clear-frees-all",
    .flags = MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_OWN_ALLOC,
    .create = ut_create,
    .destroy = ut_destroy,
    .insert = ut_insert,
    .lookup = ut_lookup,
    .remove = ut_remove,
    .clear = ut_clear,
    .iterate = ut_iterate,
    .stats = ut_stats,
    .check = ut_check,
};
