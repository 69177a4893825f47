/*
 * chained      — separate chaining, one allocation per entry;
 * chained_pool — the same chains, nodes carved from slabs.
 *
 * Both maps live in this one file because they are one chain core (bucket
 * heads, nodes, find, rehash, insert, remove, iterate, stats, the chain walk
 * of check) with two ways to supply nodes: chained asks the allocator for
 * each node and frees it on delete; chained_pool takes nodes from slabs and a
 * free list and gives them back to the list.  The core calls ch_take_node /
 * ch_give_node, which pick the supply by the map's `pool` flag (one
 * predictable branch); the two ops tables at the end differ in create,
 * destroy, stats and check.  This is how sharded.c holds sharded and locked.
 *
 * chained
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
 *
 * chained_pool — separate chaining with nodes carved from slabs.
 *
 * The same table as chained (bucket heads, nodes { next, hash, key, value },
 * load factor 1.0, push at the chain head), but nodes are not allocated one by
 * one: they come from slabs, large blocks of many nodes, and a deleted node is
 * kept on an intrusive free list for the next insert.  The map shows what a
 * node pool does to the "does memory come back" question: delete returns
 * nothing to the allocator.
 *
 * Layout:
 *   heads     nbuckets chain heads (a power of two >= CP_MIN_BUCKETS)
 *   slab      [ cp_slab header (16 bytes) | node | node | ... ]; slabs are a
 *             singly linked list, newest first.  Nodes are node_bytes each
 *             (16 + key_bytes + val_bytes rounded up to 8), so every node is
 *             8-aligned.
 *   bump      the newest slab is carved lazily: bump points at its first
 *             never-used node and bump_left counts them.  Nodes are only
 *             written (and their pages touched) when an insert needs them.
 *   free      a LIFO list of deleted nodes, linked through node->next.  A
 *             free node's next pointer is TAGGED (low bit set; nodes are
 *             8-aligned so a live next never has it): check() can tell a free
 *             node from a live one, and a node that is both is caught.
 *
 * Node supply for an insert: the free list first (most recently freed, so
 * likely still in cache), then the bump tail, then a new slab.  Only a new
 * slab allocates; if it fails, insert returns MB_ENOMEM and nothing changed.
 *
 * Slab size: the first slab holds CP_SLAB_MIN_NODES (64) nodes and each next
 * one doubles, up to slab_max_nodes = CP_SLAB_MAX_BYTES (256 KiB) worth of
 * nodes (8192 nodes of 32 bytes for u64 -> u64).  Why: doubling keeps a small
 * map small (a 10-entry map holds 64 nodes, 2 KiB) while making the number
 * of slab allocations logarithmic as it grows; the cap bounds what one slab
 * wastes (the uncarved tail of the newest slab is at most 256 KiB, under 1%
 * of a 1e6-entry map's 32 MB) and bounds a single allocation, so a large map
 * is a list of ~256 KiB blocks rather than ever-larger ones.
 *
 * Chain rule: a key lives in bucket hash & (nbuckets - 1); the full 64-bit
 * hash is kept in the node, so a rehash never rehashes keys.
 *
 * Deletion unlinks the node and pushes it on the free list: no tombstones,
 * no allocator call.  Slabs are NEVER returned on delete under
 * MB_SHRINK_NEVER; the pool holds them until destroy.
 *
 * Growth: when count would exceed nbuckets (load 1.0, mean hit chain ~1.5),
 * the bucket array doubles and nodes are relinked.  If that allocation fails
 * the insert still succeeds at a higher load.
 *
 * Shrink (MB_SHRINK_LOW_WATER only), checked after each remove:
 *   - buckets: when count < nbuckets / 8, the bucket array is rebuilt at the
 *     smallest power of two >= 2 * count (exactly as chained);
 *   - slabs: when count < slab_nodes / 8 (slab_nodes = nodes in all slabs),
 *     the live nodes are COMPACTED: copied into one fresh slab of
 *     max(CP_SLAB_MIN_NODES, next power of two >= 2 * count) nodes, relinked,
 *     and every old slab is freed.  This gives memory back even when every
 *     slab still holds a few live nodes (releasing only fully empty slabs
 *     would not: one survivor pins a slab).  The 1/8 trigger and the 2x
 *     target leave at least slab_nodes / 8 removes between compactions, so
 *     the copy is amortized O(1) per remove.  The floor of one minimum slab
 *     stops a map that swings between 0 and 1 entries from allocating and
 *     freeing a slab on every op.  The compacted slab may exceed the growth
 *     cap (it is sized to fit all live nodes in one allocation).
 *   Either step that cannot allocate leaves the map valid and larger.
 *   Both count as shrink_events.
 *
 * clear() pushes every live node on the free list and empties the chains:
 * it KEEPS all slabs and the bucket array (under both shrink policies), so
 * reinserting after clear allocates nothing.  destroy frees everything.
 *
 * stats: overflow = nodes beyond chain heads; bytes = header + bucket array
 * + every slab in full (live, free and uncarved nodes, slab headers).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../mb_map.h"

#define CH_MIN_BUCKETS 8u
#define CP_SLAB_MIN_NODES 64u              /* first slab; also the compaction floor */
#define CP_SLAB_MAX_BYTES (256u * 1024u)   /* growth cap for one slab's nodes */

typedef struct ch_node {
    struct ch_node *next;  /* live: next in chain; pool free node: TAGGED next on the free list */
    uint64_t hash;
    unsigned char kv[];    /* key_bytes, then val_bytes */
} ch_node;

/* The chain core: all of chained's map, the first member of chained_pool's. */
typedef struct ch_map {
    mb_alloc alloc;
    size_t key_bytes, val_bytes, node_bytes;
    uint64_t seed;
    mb_shrink_policy shrink;
    int pool;            /* 1: a cp_map (nodes from slabs), 0: nodes from the allocator */
    ch_node **heads;     /* nbuckets chain heads */
    size_t nbuckets;     /* power of two >= CH_MIN_BUCKETS */
    size_t count;        /* live nodes (in chains) */
    size_t grow_events, shrink_events;
} ch_map;

typedef struct cp_slab {
    struct cp_slab *next;  /* the next older slab */
    size_t nodes;          /* nodes in this slab; they follow the header */
} cp_slab;

typedef struct cp_map {
    ch_map ch;              /* the chains; ch.pool = 1 */
    cp_slab *slabs;         /* newest first */
    size_t slab_count;      /* slabs in the list */
    size_t slab_nodes;      /* nodes in all slabs = count + free_count + bump_left */
    size_t slab_bytes;      /* bytes of all slabs, headers included */
    size_t slab_max_nodes;  /* growth cap: max(CP_SLAB_MIN_NODES, CP_SLAB_MAX_BYTES / node) */
    size_t next_slab_nodes; /* size of the next slab to allocate */
    ch_node *free;          /* free list head (untagged pointer) */
    size_t free_count;      /* nodes on the free list */
    unsigned char *bump;    /* first never-used node of the newest slab */
    size_t bump_left;       /* never-used nodes left in the newest slab */
} cp_map;

/* ---- layout --------------------------------------------------------------- */

static size_t ch_buckets_for(size_t n)
{
    size_t b = CH_MIN_BUCKETS;
    while (b < n)
        b *= 2;
    return b;
}

static ch_node *cp_tag(const ch_node *n)
{
    return (ch_node *)((uintptr_t)n | (uintptr_t)1);
}

static ch_node *cp_untag(const ch_node *n)
{
    return (ch_node *)((uintptr_t)n & ~(uintptr_t)1);
}

/* Returns 1 when a next pointer carries the free-list tag. */
static int cp_is_tagged(const ch_node *n)
{
    return ((uintptr_t)n & 1u) != 0;
}

static unsigned char *cp_slab_first(const cp_slab *s)
{
    return (unsigned char *)(s + 1);
}

static size_t cp_slab_bytes_for(const cp_map *m, size_t nodes)
{
    return sizeof(cp_slab) + nodes * m->ch.node_bytes;
}

/* Returns a fresh slab of `nodes` nodes (not yet linked), or NULL. */
static cp_slab *cp_slab_new(cp_map *m, size_t nodes)
{
    cp_slab *s = mb_alloc_bytes(&m->ch.alloc, cp_slab_bytes_for(m, nodes), _Alignof(cp_slab));
    if (!s)
        return NULL;
    s->next = NULL;
    s->nodes = nodes;
    return s;
}

static void cp_free_slabs(cp_map *m, cp_slab *s)
{
    while (s) {
        cp_slab *next = s->next;
        mb_free_bytes(&m->ch.alloc, s, cp_slab_bytes_for(m, s->nodes), _Alignof(cp_slab));
        s = next;
    }
}

/* Makes s the newest slab with all its nodes uncarved.
 * PRECONDITION: bump_left == 0 (the previous newest slab is fully carved). */
static void cp_push_slab(cp_map *m, cp_slab *s)
{
    s->next = m->slabs;
    m->slabs = s;
    m->slab_count++;
    m->slab_nodes += s->nodes;
    m->slab_bytes += cp_slab_bytes_for(m, s->nodes);
    m->bump = cp_slab_first(s);
    m->bump_left = s->nodes;
    m->next_slab_nodes = s->nodes * 2 < m->slab_max_nodes ? s->nodes * 2 : m->slab_max_nodes;
}

/* ---- node supply ----------------------------------------------------------- */

/* Pool: returns a node for a new entry (contents undefined), or NULL when a
 * new slab was needed and could not be allocated; then the map is unchanged. */
static ch_node *cp_take_node(cp_map *m)
{
    ch_node *n = m->free;
    if (n) {
        m->free = cp_untag(n->next);
        m->free_count--;
        return n;
    }
    if (m->bump_left == 0) {
        cp_slab *s = cp_slab_new(m, m->next_slab_nodes);
        if (!s)
            return NULL;
        cp_push_slab(m, s);
    }
    n = (ch_node *)m->bump;
    m->bump += m->ch.node_bytes;
    m->bump_left--;
    return n;
}

/* Pool: puts n on the free list.  PRECONDITION: n is unlinked from every chain. */
static void cp_give_node(cp_map *m, ch_node *n)
{
    n->next = cp_tag(m->free);
    m->free = n;
    m->free_count++;
}

/* Returns a node for a new entry, or NULL (map unchanged). */
static ch_node *ch_take_node(ch_map *m)
{
    if (m->pool)
        return cp_take_node((cp_map *)m);
    return mb_alloc_bytes(&m->alloc, m->node_bytes, _Alignof(ch_node));
}

/* Frees n (chained) or keeps it for the next insert (pool).
 * PRECONDITION: n is unlinked from every chain. */
static void ch_give_node(ch_map *m, ch_node *n)
{
    if (m->pool)
        cp_give_node((cp_map *)m, n);
    else
        mb_free_bytes(&m->alloc, n, m->node_bytes, _Alignof(ch_node));
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

/* Pool: copies every live node into one fresh slab of `nodes` nodes (chain
 * order kept), frees all old slabs and empties the free list.
 * PRECONDITION: nodes >= count.  Returns 0, or MB_ENOMEM (unchanged). */
static int cp_compact(cp_map *m, size_t nodes)
{
    cp_slab *s = cp_slab_new(m, nodes);
    if (!s)
        return MB_ENOMEM;
    unsigned char *dst = cp_slab_first(s);
    for (size_t b = 0; b < m->ch.nbuckets; b++) {
        ch_node **link = &m->ch.heads[b];
        for (ch_node *n = *link; n; n = n->next) { /* old nodes stay valid until freed */
            ch_node *c = (ch_node *)dst;
            memcpy(c, n, m->ch.node_bytes);
            *link = c;
            link = &c->next;
            dst += m->ch.node_bytes;
        }
    }
    cp_free_slabs(m, m->slabs);
    m->slabs = NULL;
    m->slab_count = m->slab_nodes = m->slab_bytes = 0;
    m->free = NULL;
    m->free_count = 0;
    cp_push_slab(m, s);
    m->bump = dst;
    m->bump_left = nodes - m->ch.count;
    m->ch.shrink_events++;
    return 0;
}

/* Low-water shrink after a remove; on ENOMEM the map just stays larger. */
static void ch_maybe_shrink(ch_map *m)
{
    if (m->shrink != MB_SHRINK_LOW_WATER)
        return;
    if (m->nbuckets > CH_MIN_BUCKETS && m->count < m->nbuckets / 8)
        (void)ch_rehash(m, ch_buckets_for(2 * m->count)); /* ENOMEM: stays larger */
    if (!m->pool)
        return;
    cp_map *p = (cp_map *)m;
    if (m->count < p->slab_nodes / 8) {
        size_t target = CP_SLAB_MIN_NODES;
        while (target < 2 * m->count)
            target *= 2;
        if (target < p->slab_nodes)
            (void)cp_compact(p, target);
    }
}

/* ---- ops shared by both maps ------------------------------------------------ */

/* Allocates a map of map_bytes (chained: a ch_map, pool: a cp_map) with its
 * chain core set up from cfg; the rest of it zero.  Returns NULL on ENOMEM. */
static ch_map *ch_new(const mb_alloc *a, const mb_map_config *cfg, size_t map_bytes, int pool)
{
    ch_map *m = mb_alloc_bytes(a, map_bytes, _Alignof(cp_map));
    if (!m)
        return NULL;
    memset(m, 0, map_bytes);
    m->alloc = *a;
    m->key_bytes = cfg->key_bytes;
    m->val_bytes = cfg->val_bytes;
    m->node_bytes = sizeof(ch_node) + ((cfg->key_bytes + cfg->val_bytes + 7) & ~(size_t)7);
    m->seed = cfg->seed;
    m->shrink = cfg->shrink;
    m->pool = pool;
    m->nbuckets = ch_buckets_for(cfg->capacity_hint);
    m->heads = mb_alloc_bytes(a, m->nbuckets * sizeof *m->heads, _Alignof(ch_node *));
    if (!m->heads) {
        mb_free_bytes(a, m, map_bytes, _Alignof(cp_map));
        return NULL;
    }
    memset(m->heads, 0, m->nbuckets * sizeof *m->heads);
    return m;
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
    ch_node *n = ch_take_node(m);
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
    ch_give_node(m, n);
    m->count--;
    ch_maybe_shrink(m);
    return MB_FOUND;
}

/* Gives every live node back (chained: frees them; pool: to the free list,
 * slabs kept) and empties the chains; the bucket array stays. */
static void ch_clear(void *mp)
{
    ch_map *m = mp;
    for (size_t b = 0; b < m->nbuckets; b++) {
        ch_node *n = m->heads[b];
        while (n) {
            ch_node *next = n->next;
            ch_give_node(m, n);
            n = next;
        }
        m->heads[b] = NULL;
    }
    m->count = 0;
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

/* The chain statistics of both maps; bytes is the caller's. */
static void ch_chain_stats(const ch_map *m, mb_map_stats *out)
{
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
}

/* ---- check ---------------------------------------------------------------- */

/* Pool: returns NULL when n is a carved node of some slab (inside it, on a
 * node boundary, not in the newest slab's never-used tail), else why not. */
static const char *cp_check_node_addr(const cp_map *m, const ch_node *n)
{
    uintptr_t p = (uintptr_t)n;
    for (const cp_slab *s = m->slabs; s; s = s->next) {
        uintptr_t first = (uintptr_t)cp_slab_first(s);
        if (p < first || p >= first + s->nodes * m->ch.node_bytes)
            continue;
        if ((p - first) % m->ch.node_bytes)
            return "a node pointer is not on a node boundary";
        if (s == m->slabs && (p - first) / m->ch.node_bytes >= s->nodes - m->bump_left)
            return "a node in use lies in the never-used tail of the newest slab";
        return NULL;
    }
    return "a node pointer lies outside every slab";
}

/* The chains of both maps: counts, hashes, buckets, no key twice; for the
 * pool also every node carved and none on the free list. */
static const char *ch_check_chains(const ch_map *m)
{
    size_t seen = 0;
    if (m->nbuckets < CH_MIN_BUCKETS || (m->nbuckets & (m->nbuckets - 1)))
        return "bucket count is not a power of two >= CH_MIN_BUCKETS";
    for (size_t b = 0; b < m->nbuckets; b++) {
        for (const ch_node *n = m->heads[b]; n; n = n->next) {
            if (++seen > m->count)
                return "more nodes than count (or a cycle)";
            const char *why = m->pool ? cp_check_node_addr((const cp_map *)m, n) : NULL;
            if (why)
                return why;
            if (m->pool && cp_is_tagged(n->next))
                return "a live node is also on the free list";
            if (n->hash != mb_hash_key(n->kv, m->key_bytes, m->seed))
                return "a node's stored hash is not its key's hash";
            if ((n->hash & (m->nbuckets - 1)) != b)
                return "a node is in the wrong bucket";
            for (const ch_node *o = n->next; o; o = o->next)
                if (o->hash == n->hash && mb_key_eq(o->kv, n->kv, m->key_bytes))
                    return "a key is stored twice";
        }
    }
    if (seen != m->count)
        return "count does not match the nodes";
    return NULL;
}

/* ---- chained ----------------------------------------------------------------- */

static void *ch_create(const mb_alloc *a, const mb_map_config *cfg)
{
    return ch_new(a, cfg, sizeof(ch_map), 0);
}

static void ch_destroy(void *mp)
{
    ch_map *m = mp;
    mb_alloc a = m->alloc;
    ch_clear(m);
    mb_free_bytes(&a, m->heads, m->nbuckets * sizeof *m->heads, _Alignof(ch_node *));
    mb_free_bytes(&a, m, sizeof *m, _Alignof(cp_map));
}

static void ch_stats(const void *mp, mb_map_stats *out)
{
    const ch_map *m = mp;
    ch_chain_stats(m, out);
    out->bytes = sizeof *m + m->nbuckets * sizeof *m->heads + m->count * m->node_bytes;
}

static const char *ch_check(const void *mp)
{
    return ch_check_chains(mp);
}

/* ---- chained_pool ------------------------------------------------------------ */

static void *cp_create(const mb_alloc *a, const mb_map_config *cfg)
{
    cp_map *m = (cp_map *)ch_new(a, cfg, sizeof(cp_map), 1);
    if (!m)
        return NULL;
    m->slab_max_nodes = CP_SLAB_MAX_BYTES / m->ch.node_bytes;
    if (m->slab_max_nodes < CP_SLAB_MIN_NODES)
        m->slab_max_nodes = CP_SLAB_MIN_NODES;
    m->next_slab_nodes = CP_SLAB_MIN_NODES;
    return m;
}

static void cp_destroy(void *mp)
{
    cp_map *m = mp;
    mb_alloc a = m->ch.alloc;
    cp_free_slabs(m, m->slabs);
    mb_free_bytes(&a, m->ch.heads, m->ch.nbuckets * sizeof *m->ch.heads, _Alignof(ch_node *));
    mb_free_bytes(&a, m, sizeof *m, _Alignof(cp_map));
}

static void cp_stats(const void *mp, mb_map_stats *out)
{
    const cp_map *m = mp;
    ch_chain_stats(&m->ch, out);
    out->bytes = sizeof *m + m->ch.nbuckets * sizeof *m->ch.heads + m->slab_bytes;
}

static const char *cp_check_slabs(const cp_map *m)
{
    size_t nslabs = 0, nodes = 0, bytes = 0;
    for (const cp_slab *s = m->slabs; s; s = s->next) {
        if (++nslabs > m->slab_count)
            return "more slabs than slab_count (or a cycle)";
        if (s->nodes == 0)
            return "an empty slab";
        nodes += s->nodes;
        bytes += cp_slab_bytes_for(m, s->nodes);
    }
    if (nslabs != m->slab_count)
        return "slab_count does not match the slab list";
    if (nodes != m->slab_nodes || bytes != m->slab_bytes)
        return "slab_nodes / slab_bytes do not match the slab list";
    if (!m->slabs) {
        if (m->bump_left)
            return "never-used nodes without a slab";
    } else if (m->bump_left > m->slabs->nodes ||
               m->bump != cp_slab_first(m->slabs) +
                              (m->slabs->nodes - m->bump_left) * m->ch.node_bytes) {
        return "bump pointer is not inside the newest slab";
    }
    if (m->next_slab_nodes < CP_SLAB_MIN_NODES || m->next_slab_nodes > m->slab_max_nodes)
        return "next slab size is outside [CP_SLAB_MIN_NODES, slab_max_nodes]";
    return NULL;
}

static const char *cp_check_free_list(const cp_map *m)
{
    size_t seen = 0;
    for (const ch_node *n = m->free; n; n = cp_untag(n->next)) {
        if (++seen > m->free_count)
            return "more free nodes than free_count (or a cycle)";
        const char *why = cp_check_node_addr(m, n);
        if (why)
            return why;
        if (!cp_is_tagged(n->next))
            return "a free node's link is untagged (it is also live)";
    }
    if (seen != m->free_count)
        return "free_count does not match the free list";
    return NULL;
}

static const char *cp_check(const void *mp)
{
    const cp_map *m = mp;
    const char *why;
    if (m->ch.nbuckets < CH_MIN_BUCKETS || (m->ch.nbuckets & (m->ch.nbuckets - 1)))
        return "bucket count is not a power of two >= CH_MIN_BUCKETS";
    if ((why = cp_check_slabs(m)) || (why = ch_check_chains(&m->ch)) ||
        (why = cp_check_free_list(m)))
        return why;
    /* Chains and the free list are bounded walks of distinct, carved nodes,
     * and tags keep the two sets apart; so this sum proves no node is lost. */
    if (m->ch.count + m->free_count + m->bump_left != m->slab_nodes)
        return "live + free + never-used nodes != nodes in slabs (a node leaked)";
    return NULL;
}

/* ---- the two maps ----------------------------------------------------------- */

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

const mb_map_ops mb_chained_pool_ops = {
    .name = "chained_pool",
    .family = "chained",
    .traits = "slab-nodes,free-list,no-tombstones,delete-keeps-slabs,clear-keeps-slabs,"
              "clear-keeps-buckets,shrink-compacts-slabs",
    .flags = MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_SHRINK | MB_F_OWN_ALLOC,
    .create = cp_create,
    .destroy = cp_destroy,
    .insert = ch_insert,
    .lookup = ch_lookup,
    .remove = ch_remove,
    .clear = ch_clear,
    .iterate = ch_iterate,
    .stats = cp_stats,
    .check = cp_check,
};
