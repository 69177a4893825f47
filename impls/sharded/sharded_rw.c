/*
 * sharded_rw — `sharded` with a reader-writer lock per shard: lookups take
 * the shard's pthread_rwlock_t for reading (any number at once), writes take
 * it for writing.  With `sharded` (mutex) and `sharded_seq` (lookups take no
 * lock) it makes "rwlock vs optimistic reads vs mutex" a measurement: the
 * same 16 shards, and the same inner map as `sharded` (swiss, resolved by
 * name at create time), so only the lock differs from `sharded`.
 *
 * What to expect, and why this map is still worth a row: a read lock is not
 * free.  glibc's rwlock keeps its reader count in the lock word, so every
 * rdlock and unlock is an atomic read-modify-write of the shard's line: two
 * threads reading one shard still bounce that line between their cores, as
 * a mutex would.  Readers only stop waiting for each other.  This is the C
 * counterpart of Go's map + sync.RWMutex (whose RLock is an atomic add on
 * readerCount).
 *
 * Layout: one allocation aligned to SR_LINE_BYTES, [ sr_map header |
 * shard 0 | shard 1 | ... ]; each shard { rwlock, inner map, count } padded
 * to whole lines so no two shards share one.  The header is written only by
 * create().  Inner maps allocate their own tables through the same mb_alloc.
 *
 * Shard rule, per-shard seeds and the capacity hint (q + 3 sqrt(q) + 1) are
 * `sharded`'s (see impls/sharded/sharded.c for why); shard = the high k bits
 * of mb_hash_key(key, seed), default k = SR_DEFAULT_LOG2 = 4.
 *
 * Shrink: the inner maps never shrink here (no MB_F_SHRINK; `sharded`'s
 * release of empty shards is not repeated: this map exists to compare
 * locks).  clear() clears each inner map (capacity as the inner keeps it).
 *
 * Lock order: iterate, stats and check take every shard's lock for reading,
 * clear for writing, in index order; single-key ops take one lock.
 * Errors: MB_ENOMEM from the inner map is returned unchanged.
 */
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <string.h>

#include "../mb_map.h"
#include "shard.h" /* the capacity hint */

#define SR_INNER_NAME "swiss"
#define SR_LINE_BYTES 64u
#define SR_DEFAULT_LOG2 4u
#define SR_MAX_LOG2 16u
#define SR_SEED_STEP 0x9e3779b97f4a7c15ULL

typedef struct sr_shard {
    alignas(SR_LINE_BYTES) pthread_rwlock_t lock; /* guards inner and count */
    void *inner;
    size_t count;
} sr_shard;

_Static_assert(sizeof(sr_shard) % SR_LINE_BYTES == 0, "a shard must fill whole lines");

typedef struct sr_map {
    alignas(SR_LINE_BYTES) mb_alloc alloc;
    const mb_map_ops *inner_ops;
    size_t key_bytes;
    uint64_t seed;
    unsigned shards_log2;
    size_t nshards;
    size_t block_bytes;
    sr_shard shards[];
} sr_map;

static size_t sr_block_bytes(size_t nshards)
{
    return sizeof(sr_map) + nshards * sizeof(sr_shard);
}

static size_t sr_shard_index(const sr_map *m, const void *key)
{
    return (size_t)(mb_hash_key(key, m->key_bytes, m->seed) >> (64 - m->shards_log2));
}

static void sr_rdlock_all(sr_map *m)
{
    for (size_t s = 0; s < m->nshards; s++)
        pthread_rwlock_rdlock(&m->shards[s].lock);
}

static void sr_wrlock_all(sr_map *m)
{
    for (size_t s = 0; s < m->nshards; s++)
        pthread_rwlock_wrlock(&m->shards[s].lock);
}

static void sr_unlock_all(sr_map *m)
{
    for (size_t s = m->nshards; s-- > 0;)
        pthread_rwlock_unlock(&m->shards[s].lock);
}

/* ---- create / destroy --------------------------------------------------------- */

static void sr_destroy(void *mp)
{
    sr_map *m = mp;
    mb_alloc a = m->alloc;
    for (size_t s = 0; s < m->nshards; s++) {
        m->inner_ops->destroy(m->shards[s].inner);
        pthread_rwlock_destroy(&m->shards[s].lock);
    }
    mb_free_bytes(&a, m, m->block_bytes, SR_LINE_BYTES);
}

static void *sr_create(const mb_alloc *a, const mb_map_config *cfg)
{
    const mb_map_ops *inner = mb_registry_find(SR_INNER_NAME);
    if (!inner || mb_config_unsupported(inner, cfg))
        return NULL;
    unsigned k = cfg->shards_log2 ? cfg->shards_log2 : SR_DEFAULT_LOG2;
    if (k > SR_MAX_LOG2)
        k = SR_MAX_LOG2;
    size_t nshards = (size_t)1 << k, bytes = sr_block_bytes(nshards);
    sr_map *m = mb_alloc_bytes(a, bytes, SR_LINE_BYTES);
    if (!m)
        return NULL;
    memset(m, 0, bytes);
    m->alloc = *a;
    m->inner_ops = inner;
    m->key_bytes = cfg->key_bytes;
    m->seed = cfg->seed;
    m->shards_log2 = k;
    m->block_bytes = bytes;
    mb_map_config icfg = *cfg;
    icfg.shards_log2 = 0;
    icfg.capacity_hint = mb_shard_hint(cfg->capacity_hint, k);
    for (size_t s = 0; s < nshards; s++) {
        sr_shard *sh = &m->shards[s];
        icfg.seed = cfg->seed ^ ((uint64_t)(s + 1) * SR_SEED_STEP);
        if (pthread_rwlock_init(&sh->lock, NULL) == 0) {
            if ((sh->inner = inner->create(a, &icfg))) {
                m->nshards = s + 1;
                continue;
            }
            pthread_rwlock_destroy(&sh->lock);
        }
        sr_destroy(m); /* the m->nshards shards built so far */
        return NULL;
    }
    return m;
}

/* ---- ops ------------------------------------------------------------------------ */

static int sr_insert(void *mp, const void *key, const void *val)
{
    sr_map *m = mp;
    sr_shard *sh = &m->shards[sr_shard_index(m, key)];
    pthread_rwlock_wrlock(&sh->lock);
    int rc = m->inner_ops->insert(sh->inner, key, val);
    if (rc == MB_INSERTED)
        sh->count++;
    pthread_rwlock_unlock(&sh->lock);
    return rc;
}

static int sr_lookup(void *mp, const void *key, void *val_out)
{
    sr_map *m = mp;
    sr_shard *sh = &m->shards[sr_shard_index(m, key)];
    pthread_rwlock_rdlock(&sh->lock);
    int rc = m->inner_ops->lookup(sh->inner, key, val_out); /* lookups write nothing */
    pthread_rwlock_unlock(&sh->lock);
    return rc;
}

static int sr_remove(void *mp, const void *key)
{
    sr_map *m = mp;
    sr_shard *sh = &m->shards[sr_shard_index(m, key)];
    pthread_rwlock_wrlock(&sh->lock);
    int rc = m->inner_ops->remove(sh->inner, key);
    if (rc == MB_FOUND)
        sh->count--;
    pthread_rwlock_unlock(&sh->lock);
    return rc;
}

static void sr_clear(void *mp)
{
    sr_map *m = mp;
    sr_wrlock_all(m);
    for (size_t s = 0; s < m->nshards; s++) {
        m->inner_ops->clear(m->shards[s].inner);
        m->shards[s].count = 0;
    }
    sr_unlock_all(m);
}

/* PRECONDITION: fn does not write this map (read locks are held). */
static int sr_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    sr_map *m = mp;
    int r = 0;
    sr_rdlock_all(m);
    for (size_t s = 0; s < m->nshards && r == 0; s++)
        r = m->inner_ops->iterate(m->shards[s].inner, fn, ud);
    sr_unlock_all(m);
    return r;
}

/* ---- stats ------------------------------------------------------------------------ */

static size_t sr_sum(size_t a, size_t b)
{
    return a == MB_NA || b == MB_NA ? MB_NA : a + b;
}

static void sr_stats(const void *mp, mb_map_stats *out)
{
    sr_map *m = (sr_map *)mp; /* the locks are the only thing written */
    double probe_total = 0;
    int probe_na = 0;
    mb_stats_init(out);
    out->count = out->capacity = out->tombstones = out->overflow = out->max_probe = 0;
    out->grow_events = out->shrink_events = out->rehash_events = 0;
    out->bytes = m->block_bytes;
    sr_rdlock_all(m);
    for (size_t s = 0; s < m->nshards; s++) {
        mb_map_stats st;
        m->inner_ops->stats(m->shards[s].inner, &st);
        out->count += st.count;
        out->capacity = sr_sum(out->capacity, st.capacity);
        out->tombstones = sr_sum(out->tombstones, st.tombstones);
        out->overflow = sr_sum(out->overflow, st.overflow);
        out->grow_events = sr_sum(out->grow_events, st.grow_events);
        out->shrink_events = sr_sum(out->shrink_events, st.shrink_events);
        out->rehash_events = sr_sum(out->rehash_events, st.rehash_events);
        out->bytes = sr_sum(out->bytes, st.bytes);
        if (st.max_probe == MB_NA)
            out->max_probe = MB_NA;
        else if (out->max_probe != MB_NA && st.max_probe > out->max_probe)
            out->max_probe = st.max_probe;
        if (st.mean_probe < 0)
            probe_na = 1;
        else
            probe_total += st.mean_probe * (double)st.count;
    }
    sr_unlock_all(m);
    out->mean_probe = probe_na ? -1.0 : out->count ? probe_total / (double)out->count : 0.0;
}

/* ---- check ------------------------------------------------------------------------ */

typedef struct sr_walk {
    const sr_map *m;
    size_t shard, visited, misplaced;
} sr_walk;

static int sr_check_visit(void *ud, const void *key, const void *val)
{
    sr_walk *w = ud;
    (void)val;
    w->visited++;
    w->misplaced += sr_shard_index(w->m, key) != w->shard;
    return 0;
}

static const char *sr_check_locked(const sr_map *m)
{
    if (m->nshards != (size_t)1 << m->shards_log2 || m->block_bytes != sr_block_bytes(m->nshards))
        return "the shard count does not match shards_log2 and the block size";
    for (size_t s = 0; s < m->nshards; s++) {
        const sr_shard *sh = &m->shards[s];
        const char *why = m->inner_ops->check(sh->inner);
        if (why)
            return why;
        sr_walk w = { m, s, 0, 0 };
        m->inner_ops->iterate(sh->inner, sr_check_visit, &w);
        if (w.misplaced)
            return "a key lives in a shard its hash does not select";
        if (w.visited != sh->count)
            return "a shard's count does not match the entries its inner map holds";
    }
    return NULL;
}

static const char *sr_check(const void *mp)
{
    sr_map *m = (sr_map *)mp;
    sr_rdlock_all(m);
    const char *why = sr_check_locked(m);
    sr_unlock_all(m);
    return why;
}

const mb_map_ops mb_sharded_rw_ops = {
    .name = "sharded_rw",
    .family = "sharded",
    .traits = "thread-safe,rwlock-per-shard,shared-reads-write-lock-word,no-shrink,"
              "clear-as-inner,inner=" SR_INNER_NAME,
    .flags = MB_F_THREAD_SAFE | MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_OWN_ALLOC,
    .create = sr_create,
    .destroy = sr_destroy,
    .insert = sr_insert,
    .lookup = sr_lookup,
    .remove = sr_remove,
    .clear = sr_clear,
    .iterate = sr_iterate,
    .stats = sr_stats,
    .check = sr_check,
};
