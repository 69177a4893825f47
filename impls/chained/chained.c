/*
 * chained — separate chaining, one allocation per entry.
 *
 * Layout: an array of bucket heads (one pointer each, a power of two of them)
 * and, per entry, a node { next, hash, key, value } allocated on its own.
 * The full hash is kept in the node so rehashing never rehashes keys and most
 * mismatches are rejected without touching the key.
 *
 * Chain rule: a key lives in bucket hash & (nbuckets - 1); new nodes are
 * pushed at the head of the chain.
 *
 * Deletion unlinks and frees the node at once: no tombstones.  The freed
 * node goes back to the allocator, which may or may not give it to the OS —
 * exactly the effect this map is in the suite to show.
 *
 * Growth: when count would exceed nbuckets (load factor 1.0, the usual
 * choice for chaining: mean chain length of a hit ~1.5), the bucket array
 * doubles and the nodes are relinked (no node is reallocated).  If that
 * allocation fails, the insert still succeeds at a higher load: only the
 * node allocation can make an insert fail.
 *
 * Shrink (MB_SHRINK_LOW_WATER only): when count falls below nbuckets / 8,
 * the bucket array is rebuilt at the smallest power of two >= 2 * count.
 *
 * clear() frees every node and keeps the bucket array.
 */
#include <stdlib.h>
#include <string.h>

#include "../mb_map.h"

#define CH_MIN_BUCKETS 8u

typedef struct ch_node {
    struct ch_node *next;
    uint64_t hash;
    unsigned char kv[];  /* key_bytes, then val_bytes */
} ch_node;

typedef struct ch_map {
    mb_alloc alloc;
    size_t key_bytes, val_bytes, node_bytes;
    uint64_t seed;
    mb_shrink_policy shrink;
    ch_node **heads;     /* nbuckets chain heads */
    size_t nbuckets;     /* power of two */
    size_t count;
    size_t grow_events, shrink_events;
} ch_map;

/* ---- layout ------------------------------------------------------------- */

static ch_node *ch_new_node(ch_map *m)
{
    return mb_alloc_bytes(&m->alloc, m->node_bytes, _Alignof(ch_node));
}

static void ch_free_node(ch_map *m, ch_node *n)
{
    mb_free_bytes(&m->alloc, n, m->node_bytes, _Alignof(ch_node));
}

static size_t ch_buckets_for(size_t n)
{
    size_t b = CH_MIN_BUCKETS;
    while (b < n)
        b *= 2;
    return b;
}

/* ---- chain walk ----------------------------------------------------------- */

/* Returns the link that points at key's node (or at NULL if absent). */
static ch_node **ch_find_link(const ch_map *m, const void *key, uint64_t h)
{
    ch_node **link = &m->heads[h & (m->nbuckets - 1)];
    for (ch_node *n = *link; n; link = &n->next, n = n->next)
        if (n->hash == h && mb_key_eq(n->kv, key, m->key_bytes))
            return link;
    return link;
}

/* ---- grow / shrink -------------------------------------------------------- */

/* Relinks every node into nb buckets.  Returns 0, or MB_ENOMEM (unchanged). */
static int ch_rehash(ch_map *m, size_t nb)
{
    ch_node **heads = mb_alloc_bytes(&m->alloc, nb * sizeof *heads, _Alignof(ch_node *));
    if (!heads)
        return MB_ENOMEM;
    memset(heads, 0, nb * sizeof *heads);
    for (size_t b = 0; b < m->nbuckets; b++) {
        ch_node *n = m->heads[b];
        while (n) {
            ch_node *next = n->next;
            ch_node **h = &heads[n->hash & (nb - 1)];
            n->next = *h;
            *h = n;
            n = next;
        }
    }
    mb_free_bytes(&m->alloc, m->heads, m->nbuckets * sizeof *m->heads, _Alignof(ch_node *));
    if (nb > m->nbuckets)
        m->grow_events++;
    else
        m->shrink_events++;
    m->heads = heads;
    m->nbuckets = nb;
    return 0;
}

/* ---- ops ------------------------------------------------------------------ */

static void *ch_create(const mb_alloc *a, const mb_map_config *cfg)
{
    ch_map *m = mb_alloc_bytes(a, sizeof *m, _Alignof(ch_map));
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->alloc = *a;
    m->key_bytes = cfg->key_bytes;
    m->val_bytes = cfg->val_bytes;
    m->node_bytes = sizeof(ch_node) + ((cfg->key_bytes + cfg->val_bytes + 7) & ~(size_t)7);
    m->seed = cfg->seed;
    m->shrink = cfg->shrink;
    m->nbuckets = ch_buckets_for(cfg->capacity_hint);
    m->heads = mb_alloc_bytes(a, m->nbuckets * sizeof *m->heads, _Alignof(ch_node *));
    if (!m->heads) {
        mb_free_bytes(a, m, sizeof *m, _Alignof(ch_map));
        return NULL;
    }
    memset(m->heads, 0, m->nbuckets * sizeof *m->heads);
    return m;
}

static void ch_free_chains(ch_map *m)
{
    for (size_t b = 0; b < m->nbuckets; b++) {
        ch_node *n = m->heads[b];
        while (n) {
            ch_node *next = n->next;
            ch_free_node(m, n);
            n = next;
        }
        m->heads[b] = NULL;
    }
    m->count = 0;
}

static void ch_destroy(void *mp)
{
    ch_map *m = mp;
    mb_alloc a = m->alloc;
    ch_free_chains(m);
    mb_free_bytes(&a, m->heads, m->nbuckets * sizeof *m->heads, _Alignof(ch_node *));
    mb_free_bytes(&a, m, sizeof *m, _Alignof(ch_map));
}

static int ch_insert(void *mp, const void *key, const void *val)
{
    ch_map *m = mp;
    uint64_t h = mb_hash_key(key, m->key_bytes, m->seed);
    ch_node **link = ch_find_link(m, key, h);
    if (*link) {
        memcpy((*link)->kv + m->key_bytes, val, m->val_bytes);
        return MB_REPLACED;
    }
    ch_node *n = ch_new_node(m);
    if (!n)
        return MB_ENOMEM;
    n->hash = h;
    memcpy(n->kv, key, m->key_bytes);
    memcpy(n->kv + m->key_bytes, val, m->val_bytes);
    if (m->count + 1 > m->nbuckets)
        (void)ch_rehash(m, m->nbuckets * 2); /* on ENOMEM: insert at higher load */
    ch_node **head = &m->heads[h & (m->nbuckets - 1)];
    n->next = *head;
    *head = n;
    m->count++;
    return MB_INSERTED;
}

static int ch_lookup(void *mp, const void *key, void *val_out)
{
    ch_map *m = mp;
    ch_node *n = *ch_find_link(m, key, mb_hash_key(key, m->key_bytes, m->seed));
    if (!n)
        return MB_NOTFOUND;
    if (val_out)
        memcpy(val_out, n->kv + m->key_bytes, m->val_bytes);
    return MB_FOUND;
}

static int ch_remove(void *mp, const void *key)
{
    ch_map *m = mp;
    ch_node **link = ch_find_link(m, key, mb_hash_key(key, m->key_bytes, m->seed));
    ch_node *n = *link;
    if (!n)
        return MB_NOTFOUND;
    *link = n->next;
    ch_free_node(m, n);
    m->count--;
    if (m->shrink == MB_SHRINK_LOW_WATER && m->nbuckets > CH_MIN_BUCKETS &&
        m->count < m->nbuckets / 8)
        (void)ch_rehash(m, ch_buckets_for(2 * m->count)); /* ENOMEM: stays larger */
    return MB_FOUND;
}

static void ch_clear(void *mp)
{
    ch_free_chains(mp);
}

static int ch_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    ch_map *m = mp;
    int r = 0;
    for (size_t b = 0; b < m->nbuckets && r == 0; b++)
        for (ch_node *n = m->heads[b]; n && r == 0; n = n->next)
            r = fn(ud, n->kv, n->kv + m->key_bytes);
    return r;
}

static void ch_stats(const void *mp, mb_map_stats *out)
{
    const ch_map *m = mp;
    size_t total = 0, used_heads = 0;
    mb_stats_init(out);
    out->count = m->count;
    out->capacity = m->nbuckets;
    out->max_probe = 0;
    for (size_t b = 0; b < m->nbuckets; b++) {
        size_t depth = 0;
        for (ch_node *n = m->heads[b]; n; n = n->next)
            total += ++depth;
        if (depth)
            used_heads++;
        if (depth > out->max_probe)
            out->max_probe = depth;
    }
    out->overflow = m->count - used_heads;
    out->mean_probe = m->count ? (double)total / (double)m->count : 0.0;
    out->grow_events = m->grow_events;
    out->shrink_events = m->shrink_events;
    out->rehash_events = 0;
    out->bytes = sizeof *m + m->nbuckets * sizeof *m->heads + m->count * m->node_bytes;
}

/* ---- check ---------------------------------------------------------------- */

static const char *ch_check(const void *mp)
{
    const ch_map *m = mp;
    size_t seen = 0;
    if (m->nbuckets < CH_MIN_BUCKETS || (m->nbuckets & (m->nbuckets - 1)))
        return "bucket count is not a power of two >= CH_MIN_BUCKETS";
    for (size_t b = 0; b < m->nbuckets; b++) {
        for (ch_node *n = m->heads[b]; n; n = n->next) {
            if (++seen > m->count)
                return "more nodes than count (or a cycle)";
            if (n->hash != mb_hash_key(n->kv, m->key_bytes, m->seed))
                return "a node's stored hash is not its key's hash";
            if ((n->hash & (m->nbuckets - 1)) != b)
                return "a node is in the wrong bucket";
            for (ch_node *o = n->next; o; o = o->next)
                if (o->hash == n->hash && mb_key_eq(o->kv, n->kv, m->key_bytes))
                    return "a key is stored twice";
        }
    }
    if (seen != m->count)
        return "count does not match the nodes";
    return NULL;
}

const mb_map_ops mb_chained_ops = {
    .name = "chained",
    .family = "chained",
    .traits = "node-per-entry,no-tombstones,clear-frees-nodes,clear-keeps-buckets",
    .flags = MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_SHRINK | MB_F_OWN_ALLOC,
    .create = ch_create,
    .destroy = ch_destroy,
    .insert = ch_insert,
    .lookup = ch_lookup,
    .remove = ch_remove,
    .clear = ch_clear,
    .iterate = ch_iterate,
    .stats = ch_stats,
    .check = ch_check,
};
