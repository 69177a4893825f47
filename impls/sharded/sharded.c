/*
 * sharded — 2^k shards of an inner map, one lock per shard;
 * locked  — the same inner map behind one global lock (the 1-shard case),
 *           the baseline a sharded map must beat.
 *
 * Both maps live in this one file because `locked` is literally `sharded`
 * with k = 0: they share every op and differ only in create().  A separate
 * locked.c would have to either copy ~400 lines or export the sh_ functions
 * through a private header, coupling two files more than one file does.
 *
 * Inner map: resolved by name at create time with
 * mb_registry_find(SH_INNER_NAME) (default "swiss"; the build may override
 * it, e.g. -DSH_INNER_NAME=\"oa_linear\").  create() returns NULL when the
 * inner map is not registered or does not support the config.  The inner's
 * name is in traits ("inner=..."), so results record what was sharded.
 * The flags are static, so they are declared as what swiss (and oa_linear)
 * support; an inner with fewer flags makes create() return NULL for a config
 * it cannot build rather than build a wrong map.
 *
 * Layout: one allocation, aligned to SH_LINE_BYTES:
 *
 *     [ sh_map header | past-event line | shard 0 | shard 1 | ... ]
 *
 * The header is written only by create(), so every core keeps it cached
 * read-only.  Each shard { lock, inner map, count } is padded to its own
 * 64-byte line, so two threads working in different shards never write to
 * the same line (no false sharing).  The inner maps allocate their tables
 * themselves, through the same mb_alloc.
 *
 * Shard rule: shard = hash >> (64 - k), the HIGH k bits of
 * mb_hash_key(key, seed).  The inner map hashes the key again itself (the
 * contract has no way to hand it a hash): one extra mb_hash_u64 per op, a few
 * ns, small next to the lock's atomic read-modify-write, and accepted to
 * keep the inner map unmodified.  Each shard's inner map gets its own seed
 * (sh_shard_seed), so its hash is independent of the bits that picked the
 * shard: inside shard s all keys share their top k outer-hash bits, and an
 * inner map that takes tags or positions from high bits would otherwise see
 * k of them constant.
 *
 * Default k = SH_DEFAULT_LOG2 = 4 (16 shards) when shards_log2 == 0.  With T
 * threads each spending a fraction d of its time inside a shard, an op finds
 * its shard held with probability about d * (T - 1) / 2^k: at most 1/16 with
 * 2 threads (this 2-core VM), at most 15/16 * d with 16 (the larger
 * machines), where d < 1 because hashing and the caller's own work happen
 * outside the lock.  More shards cost memory at small N: each shard holds a
 * line plus an inner map's minimum table (~250 bytes for oa_linear), so 16
 * shards add ~5 KB to an empty map; the thread-scaling runs may pass
 * shards_log2 ~ log2(T) + 2 explicitly.  k is capped at SH_MAX_LOG2.
 *
 * Lock: pthread_mutex_t per shard.  Build knob -DSH_SPINLOCK=1 swaps in a
 * test-and-test-and-set spinlock (pause while spinning, sched_yield after
 * MB_SPIN_BEFORE_YIELD tries (shard.h), since a preempted holder on an oversubscribed
 * 2-core box would otherwise burn whole time slices).  It is a knob, not a
 * registry entry: a row in the results is "sharded", the trait says which
 * lock it used.
 *
 * Lock order: single-key ops take one shard lock.  iterate, clear, stats
 * and check take every shard lock in index order, then release them; so no
 * thread ever waits for a lower-index lock while holding a higher one and
 * there is no deadlock.  iterate calls fn with every lock held: fn must not
 * call into the map.
 *
 * Capacity hint: each shard's inner map is created with hint q + 3*sqrt(q)
 * + 1, where q = ceil(hint / 2^k).  A shard's share of `hint` uniform keys is
 * Binomial(hint, 2^-k), mean q, standard deviation ~sqrt(q); +3 sigma means a
 * hinted insert phase grows no shard with probability ~98% over 16 shards,
 * while a flat +25% would double a power-of-two table for nothing whenever q
 * sits just below a threshold.  hint 0 stays 0.
 *
 * Shrink: the policy is passed to every inner map.  In addition, under
 * MB_SHRINK_LOW_WATER, a remove that empties a shard releases its inner map
 * entirely (inner = NULL); the next insert into that shard creates a fresh
 * one (hint 0).  Without this, 2^k inner minimum tables stay behind after
 * delete-all (~4 KB for 16 oa_linear shards: 7% of a 2000-entry map), which
 * the low-water policy exists to give back.  Releasing never allocates;
 * re-creating may fail, and then the insert returns MB_ENOMEM with the map
 * as it was.  A release counts as a shrink event, a re-creation as a grow
 * event; the released inner map's own events are folded into past_*.
 *
 * clear() clears every inner map with the inner's clear(), so capacity is
 * kept or freed exactly as the inner map does; it releases nothing.
 *
 * Errors: MB_ENOMEM from an inner op is returned unchanged (the inner map
 * leaves itself unchanged; the shard count is updated only on success).
 * There is no global count: a shared counter would be the one line every
 * thread writes.  stats() sums the shards.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "../mb_map.h"

#ifndef SH_INNER_NAME
#define SH_INNER_NAME "swiss"
#endif

#define SH_LINE_BYTES 64u     /* cache line: shards are padded to it */
#define SH_DEFAULT_LOG2 4u    /* 16 shards; see the top comment */
#define SH_MAX_LOG2 16u       /* 65536 shards = 4 MiB of shard lines */
#define SH_SEED_STEP 0x9e3779b97f4a7c15ULL /* golden ratio: spreads shard seeds */

/* ---- lock (shard.h) ------------------------------------------------------ */

#if defined(SH_SPINLOCK) && SH_SPINLOCK
#define MB_SHARD_LOCK_SPIN 1
#else
#define MB_SHARD_LOCK_SPIN 0
#endif
#include "shard.h"
#define SH_LOCK_TRAIT MB_SHARD_LOCK_NAME

/* ---- layout --------------------------------------------------------------- */

typedef struct sh_shard {
    _Alignas(SH_LINE_BYTES) mb_shard_lock lock; /* guards inner and count */
    void *inner;      /* the inner map; NULL only after a low-water release */
    size_t count;     /* live entries in inner (0 when inner is NULL) */
} sh_shard;

_Static_assert(sizeof(sh_shard) % SH_LINE_BYTES == 0, "a shard must fill whole lines");

/* Which stats fields the inner map leaves MB_NA (asked once at create), so
 * that a map whose shards are all released still reports NA, not 0. */
enum {
    SH_NA_TOMBSTONES = 1u << 0,
    SH_NA_OVERFLOW = 1u << 1,
    SH_NA_MAX_PROBE = 1u << 2,
    SH_NA_MEAN_PROBE = 1u << 3,
    SH_NA_GROW = 1u << 4,
    SH_NA_SHRINK = 1u << 5,
    SH_NA_REHASH = 1u << 6,
};

typedef struct sh_past {
    /* Events of released inner maps, plus one shrink per release and one grow
     * per re-creation.  Written under some shard's lock, so two shards may
     * add at once: __atomic adds.  On its own line: written rarely, never
     * next to the read-mostly header. */
    _Alignas(SH_LINE_BYTES) size_t grow_events;
    size_t shrink_events;
    size_t rehash_events;
} sh_past;

typedef struct sh_map {
    mb_alloc alloc;
    const mb_map_ops *inner_ops;
    mb_map_config inner_cfg;  /* config for a fresh shard: hint split; seed set per shard */
    size_t key_bytes;
    uint64_t seed;            /* outer seed: picks the shard */
    unsigned shards_log2;     /* k; 0 for `locked` */
    size_t nshards;           /* 2^k */
    size_t block_bytes;       /* this allocation: header + past + shards */
    unsigned na_fields;       /* SH_NA_* */
    sh_past past;
    sh_shard shards[];        /* nshards of them */
} sh_map;

static size_t sh_block_bytes(size_t nshards)
{
    return sizeof(sh_map) + nshards * sizeof(sh_shard);
}

/* Seed of shard s's inner map: differs per shard and from the outer seed,
 * so the inner hash does not repeat the bits that chose the shard. */
static uint64_t sh_shard_seed(const sh_map *m, size_t s)
{
    return m->seed ^ ((uint64_t)(s + 1) * SH_SEED_STEP);
}

static size_t sh_shard_index(const sh_map *m, const void *key)
{
    if (m->shards_log2 == 0)
        return 0; /* locked: no outer hash at all */
    return (size_t)(mb_hash_key(key, m->key_bytes, m->seed) >> (64 - m->shards_log2));
}

static void sh_lock_all(sh_map *m)
{
    for (size_t s = 0; s < m->nshards; s++)
        mb_shard_lock_acquire(&m->shards[s].lock);
}

static void sh_unlock_all(sh_map *m)
{
    for (size_t s = m->nshards; s-- > 0;)
        mb_shard_lock_release(&m->shards[s].lock);
}

/* ---- shard life: create, release, revive ---------------------------------- */

/* Returns a new inner map for shard s, or NULL on ENOMEM. */
static void *sh_inner_create(const sh_map *m, size_t s, size_t hint)
{
    mb_map_config cfg = m->inner_cfg;
    cfg.capacity_hint = hint;
    cfg.seed = sh_shard_seed(m, s);
    return m->inner_ops->create(&m->alloc, &cfg);
}

static void sh_past_add(size_t *p, size_t v)
{
    if (v != MB_NA)
        __atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}

/* Frees shard s's empty inner map, keeping its event counts.
 * PRECONDITION: the shard's lock is held, inner != NULL, count == 0. */
static void sh_release(sh_map *m, sh_shard *sh)
{
    mb_map_stats st;
    m->inner_ops->stats(sh->inner, &st);
    sh_past_add(&m->past.grow_events, st.grow_events);
    sh_past_add(&m->past.shrink_events, st.shrink_events);
    sh_past_add(&m->past.rehash_events, st.rehash_events);
    sh_past_add(&m->past.shrink_events, 1);
    m->inner_ops->destroy(sh->inner);
    sh->inner = NULL;
}

/* ---- ops ------------------------------------------------------------------ */

static void sh_destroy(void *mp)
{
    sh_map *m = mp;
    mb_alloc a = m->alloc;
    for (size_t s = 0; s < m->nshards; s++) {
        if (m->shards[s].inner)
            m->inner_ops->destroy(m->shards[s].inner);
        mb_shard_lock_fini(&m->shards[s].lock);
    }
    mb_free_bytes(&a, m, m->block_bytes, SH_LINE_BYTES);
}

/* Records which stats fields the inner map does not measure. */
static unsigned sh_probe_na_fields(const sh_map *m, const void *inner)
{
    mb_map_stats st;
    unsigned na = 0;
    m->inner_ops->stats(inner, &st);
    na |= st.tombstones == MB_NA ? SH_NA_TOMBSTONES : 0;
    na |= st.overflow == MB_NA ? SH_NA_OVERFLOW : 0;
    na |= st.max_probe == MB_NA ? SH_NA_MAX_PROBE : 0;
    na |= st.mean_probe < 0 ? SH_NA_MEAN_PROBE : 0;
    na |= st.grow_events == MB_NA ? SH_NA_GROW : 0;
    na |= st.shrink_events == MB_NA ? SH_NA_SHRINK : 0;
    na |= st.rehash_events == MB_NA ? SH_NA_REHASH : 0;
    return na;
}

/* Returns a map of 2^shards_log2 shards, or NULL when the inner map is not
 * registered, cannot build cfg, or an allocation fails (nothing leaked). */
static void *sh_create_with(const mb_alloc *a, const mb_map_config *cfg, unsigned shards_log2)
{
    const mb_map_ops *inner = mb_registry_find(SH_INNER_NAME);
    if (!inner || mb_config_unsupported(inner, cfg))
        return NULL;

    size_t nshards = (size_t)1 << shards_log2, bytes = sh_block_bytes(nshards);
    sh_map *m = mb_alloc_bytes(a, bytes, SH_LINE_BYTES);
    if (!m)
        return NULL;
    memset(m, 0, bytes);
    m->alloc = *a;
    m->inner_ops = inner;
    m->inner_cfg = *cfg;
    m->inner_cfg.shards_log2 = 0;
    m->key_bytes = cfg->key_bytes;
    m->seed = cfg->seed;
    m->shards_log2 = shards_log2;
    m->nshards = nshards;
    m->block_bytes = bytes;

    size_t hint = mb_shard_hint(cfg->capacity_hint, shards_log2);
    for (size_t s = 0; s < nshards; s++) {
        sh_shard *sh = &m->shards[s];
        if (mb_shard_lock_init(&sh->lock) == 0) {
            sh->inner = sh_inner_create(m, s, hint);
            if (sh->inner)
                continue;
            mb_shard_lock_fini(&sh->lock);
        }
        m->nshards = s; /* destroy exactly the shards built so far */
        sh_destroy(m);
        return NULL;
    }
    m->na_fields = sh_probe_na_fields(m, m->shards[0].inner);
    return m;
}

static void *sh_create(const mb_alloc *a, const mb_map_config *cfg)
{
    unsigned k = cfg->shards_log2 ? cfg->shards_log2 : SH_DEFAULT_LOG2;
    return sh_create_with(a, cfg, k > SH_MAX_LOG2 ? SH_MAX_LOG2 : k);
}

static void *sh_locked_create(const mb_alloc *a, const mb_map_config *cfg)
{
    return sh_create_with(a, cfg, 0); /* one shard: one global lock */
}

static int sh_insert(void *mp, const void *key, const void *val)
{
    sh_map *m = mp;
    sh_shard *sh = &m->shards[sh_shard_index(m, key)];
    bool revived = false;
    int rc;

    mb_shard_lock_acquire(&sh->lock);
    if (!sh->inner) {
        sh->inner = sh_inner_create(m, (size_t)(sh - m->shards), 0);
        if (!sh->inner) {
            mb_shard_lock_release(&sh->lock);
            return MB_ENOMEM;
        }
        revived = true;
    }
    rc = m->inner_ops->insert(sh->inner, key, val);
    if (rc == MB_INSERTED)
        sh->count++;
    if (revived) {
        if (rc == MB_ENOMEM) { /* put the shard back as it was: released */
            m->inner_ops->destroy(sh->inner);
            sh->inner = NULL;
        } else {
            sh_past_add(&m->past.grow_events, 1);
        }
    }
    mb_shard_lock_release(&sh->lock);
    return rc;
}

static int sh_lookup(void *mp, const void *key, void *val_out)
{
    sh_map *m = mp;
    sh_shard *sh = &m->shards[sh_shard_index(m, key)];
    int rc = MB_NOTFOUND;

    mb_shard_lock_acquire(&sh->lock);
    if (sh->inner)
        rc = m->inner_ops->lookup(sh->inner, key, val_out);
    mb_shard_lock_release(&sh->lock);
    return rc;
}

static int sh_remove(void *mp, const void *key)
{
    sh_map *m = mp;
    sh_shard *sh = &m->shards[sh_shard_index(m, key)];
    int rc = MB_NOTFOUND;

    mb_shard_lock_acquire(&sh->lock);
    if (sh->inner) {
        rc = m->inner_ops->remove(sh->inner, key);
        if (rc == MB_FOUND && --sh->count == 0 && m->inner_cfg.shrink == MB_SHRINK_LOW_WATER)
            sh_release(m, sh);
    }
    mb_shard_lock_release(&sh->lock);
    return rc;
}

static void sh_clear(void *mp)
{
    sh_map *m = mp;
    sh_lock_all(m);
    for (size_t s = 0; s < m->nshards; s++) {
        if (m->shards[s].inner)
            m->inner_ops->clear(m->shards[s].inner);
        m->shards[s].count = 0;
    }
    sh_unlock_all(m);
}

/* Visits every entry of every shard under all locks.
 * PRECONDITION: fn does not call into this map (its locks are held). */
static int sh_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    sh_map *m = mp;
    int r = 0;
    sh_lock_all(m);
    for (size_t s = 0; s < m->nshards && r == 0; s++)
        if (m->shards[s].inner)
            r = m->inner_ops->iterate(m->shards[s].inner, fn, ud);
    sh_unlock_all(m);
    return r;
}

/* ---- stats ---------------------------------------------------------------- */

/* a + b where either may be MB_NA (then NA). */
static size_t sh_sum(size_t a, size_t b)
{
    return a == MB_NA || b == MB_NA ? MB_NA : a + b;
}

static void sh_stats(const void *mp, mb_map_stats *out)
{
    sh_map *m = (sh_map *)mp; /* the locks are the only thing written */
    unsigned na = m->na_fields;
    double probe_total = 0.0;

    mb_stats_init(out);
    out->count = out->capacity = out->tombstones = out->overflow = out->max_probe = 0;
    out->bytes = m->block_bytes;
    sh_lock_all(m);
    out->grow_events = __atomic_load_n(&m->past.grow_events, __ATOMIC_RELAXED);
    out->shrink_events = __atomic_load_n(&m->past.shrink_events, __ATOMIC_RELAXED);
    out->rehash_events = __atomic_load_n(&m->past.rehash_events, __ATOMIC_RELAXED);
    for (size_t s = 0; s < m->nshards; s++) {
        mb_map_stats st;
        if (!m->shards[s].inner)
            continue;
        m->inner_ops->stats(m->shards[s].inner, &st);
        out->count += st.count;
        out->capacity = sh_sum(out->capacity, st.capacity);
        out->tombstones = sh_sum(out->tombstones, st.tombstones);
        out->overflow = sh_sum(out->overflow, st.overflow);
        out->grow_events = sh_sum(out->grow_events, st.grow_events);
        out->shrink_events = sh_sum(out->shrink_events, st.shrink_events);
        out->rehash_events = sh_sum(out->rehash_events, st.rehash_events);
        out->bytes = sh_sum(out->bytes, st.bytes);
        if (st.max_probe == MB_NA)
            na |= SH_NA_MAX_PROBE;
        else if (st.max_probe > out->max_probe)
            out->max_probe = st.max_probe;
        if (st.mean_probe < 0)
            na |= SH_NA_MEAN_PROBE;
        else
            probe_total += st.mean_probe * (double)st.count;
    }
    sh_unlock_all(m);
    out->mean_probe = out->count ? probe_total / (double)out->count : 0.0;
    if (na & SH_NA_TOMBSTONES)
        out->tombstones = MB_NA;
    if (na & SH_NA_OVERFLOW)
        out->overflow = MB_NA;
    if (na & SH_NA_MAX_PROBE)
        out->max_probe = MB_NA;
    if (na & SH_NA_MEAN_PROBE)
        out->mean_probe = -1.0;
    if (na & SH_NA_GROW)
        out->grow_events = MB_NA;
    if (na & SH_NA_SHRINK)
        out->shrink_events = MB_NA;
    if (na & SH_NA_REHASH)
        out->rehash_events = MB_NA;
}

/* ---- check ---------------------------------------------------------------- */

typedef struct sh_check_walk {
    const sh_map *m;
    size_t shard;      /* the shard being walked */
    size_t visited;    /* entries seen in it */
    size_t misplaced;  /* entries whose key hashes to another shard */
} sh_check_walk;

static int sh_check_visit(void *ud, const void *key, const void *val)
{
    sh_check_walk *w = ud;
    (void)val;
    w->visited++;
    if (sh_shard_index(w->m, key) != w->shard)
        w->misplaced++;
    return 0;
}

/* Returns NULL or the first violated invariant.  PRECONDITION: all locks held. */
static const char *sh_check_locked(const sh_map *m)
{
    if (m->nshards != (size_t)1 << m->shards_log2 || m->shards_log2 > SH_MAX_LOG2)
        return "shard count is not 2^shards_log2 <= 2^SH_MAX_LOG2";
    if (m->block_bytes != sh_block_bytes(m->nshards))
        return "block_bytes does not match the shard count";
    for (size_t s = 0; s < m->nshards; s++) {
        const sh_shard *sh = &m->shards[s];
        if (!sh->inner) {
            if (m->inner_cfg.shrink != MB_SHRINK_LOW_WATER)
                return "a shard was released without the low-water shrink policy";
            if (sh->count != 0)
                return "a released shard has a nonzero count";
            continue;
        }
        const char *why = m->inner_ops->check(sh->inner);
        if (why)
            return why; /* the inner map's own invariant, named by it */
        sh_check_walk w = { m, s, 0, 0 };
        m->inner_ops->iterate(sh->inner, sh_check_visit, &w);
        if (w.misplaced)
            return "a key lives in a shard its hash does not select";
        if (w.visited != sh->count)
            return "a shard's count does not match the entries its inner map holds";
        mb_map_stats st;
        m->inner_ops->stats(sh->inner, &st);
        if (st.count != sh->count)
            return "a shard's count does not match its inner map's count";
    }
    return NULL;
}

static const char *sh_check(const void *mp)
{
    sh_map *m = (sh_map *)mp; /* the locks are the only thing written */
    sh_lock_all(m);
    const char *why = sh_check_locked(m);
    sh_unlock_all(m);
    return why;
}

#define SH_FLAGS (MB_F_THREAD_SAFE | MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_SHRINK | MB_F_OWN_ALLOC)

const mb_map_ops mb_sharded_ops = {
    .name = "sharded",
    .family = "sharded",
    .traits = "thread-safe,lock-per-shard," SH_LOCK_TRAIT ",shards-grow-separately,"
              "empty-shard-released-on-low-water,clear-as-inner,inner=" SH_INNER_NAME,
    .flags = SH_FLAGS,
    .create = sh_create,
    .destroy = sh_destroy,
    .insert = sh_insert,
    .lookup = sh_lookup,
    .remove = sh_remove,
    .clear = sh_clear,
    .iterate = sh_iterate,
    .stats = sh_stats,
    .check = sh_check,
};

const mb_map_ops mb_locked_ops = {
    .name = "locked",
    .family = "sharded",
    .traits = "thread-safe,global-lock," SH_LOCK_TRAIT ","
              "empty-map-released-on-low-water,clear-as-inner,inner=" SH_INNER_NAME,
    .flags = SH_FLAGS,
    .create = sh_locked_create,
    .destroy = sh_destroy,
    .insert = sh_insert,
    .lookup = sh_lookup,
    .remove = sh_remove,
    .clear = sh_clear,
    .iterate = sh_iterate,
    .stats = sh_stats,
    .check = sh_check,
};
