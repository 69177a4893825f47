/*
 * ck — Concurrency Kit's ck_ht (libck-dev 0.7.1) behind the mapbench vtable.
 *
 * What the library is: an open-addressing table for ONE writer and any
 * number of concurrent readers (SPMC: every mutating call is *_spmc).
 * Direct mode (CK_HT_MODE_DIRECT) stores the key and value words inline in
 * 32-byte entries (key, value, key_length, hash); probing scans a cache line
 * of entries, then jumps by a hash-derived stride; a per-map probe_maximum
 * bounds a reader's probe.  Removal writes a tombstone key; put reuses the
 * first tombstone it passed.  Readers take no lock and write nothing; they
 * load the map pointer, then each entry's key and value with ck_pr loads,
 * and re-probe when the map's `deletions` counter moved.  Growth builds a
 * doubled map, publishes it, and frees the old one with defer = true: the
 * caller's allocator must not reuse it while a reader may still hold it.
 *
 * Writers: ck_ht allows one writer.  This adapter serializes insert,
 * remove and clear with a mutex (ck_writer), so the map as a whole is
 * thread-safe (MB_F_THREAD_SAFE) with lock-free lookups and a single-writer
 * write path (traits spmc, writers-serialized-by-mutex).
 *
 * Reserved keys: direct mode reserves key 0 (CK_HT_KEY_EMPTY) and ~0
 * (CK_HT_KEY_TOMBSTONE).  The suite's keys are any u64, so those two live
 * in side slots of the adapter (present flag + value, atomics, written
 * under ck_writer): trait reserved-keys-in-side-slots.
 *
 * Hash: mb_hash_u64(key, cfg.seed) through ck_ht's hash callback (trait
 * hash=mb_hash_u64; ck's default is MurmurHash64A).
 *
 * Memory: ck_ht takes a struct ck_malloc { malloc(size), realloc, free(p,
 * size, defer) } whose callbacks get no context pointer.  So every block
 * carries a 32-byte prefix naming its map and size (ck_block), which free() reads;
 * malloc() finds the map in ck_allocating, a thread-local set by the adapter
 * only around the calls that may allocate (create, insert), which run under
 * ck_writer or before the map is shared.  It is the one piece of
 * thread-local state here, forced by ck_malloc's signature; with it every
 * byte goes through the map's mb_alloc (MB_F_OWN_ALLOC) and failures can be
 * injected.  A deferred free (an old map after a grow) goes onto the
 * adapter's list and is freed at destroy: the memory kept is bounded, since
 * maps only double (the kept ones together are smaller than the current),
 * and stats.bytes reports it (trait old-tables-kept-until-destroy).
 *
 * Failure: put_spmc returns false when the grow's allocation fails, before
 * anything changes; the adapter returns MB_ENOMEM.
 *
 * clear() removes every key (ck_ht_next + remove_spmc under ck_writer), so
 * it keeps capacity and allocates nothing (ck_ht_reset_spmc would retire a
 * whole map per clear onto the kept list); then ck_ht_gc resets the probe
 * bound of the now-empty map.  Traits clear-keeps-capacity, tombstones.
 * Shrink: never (no-shrink).
 *
 * Sanitizers: ck_ht's own code lives in Debian's libck.so, which is not
 * built with -fsanitize=thread, and its loads and stores are ck_pr inline
 * assembly; so a TSan run checks this adapter and ck's inline header
 * functions only, not ck_ht's internal publication protocol (the stress
 * test's value checks still test its answers).
 */
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <ck_ht.h>
#include <ck_malloc.h>

#include "../mb_map.h"

typedef struct ck_map ck_map;

/* The prefix of every block handed to ck_ht. */
typedef struct ck_block {
    ck_map *owner;
    struct ck_block *next_kept; /* deferred frees, kept until destroy */
    size_t bytes;               /* this allocation, prefix included */
    size_t pad_;                /* keeps the block 16-byte aligned */
} ck_block;

_Static_assert(sizeof(ck_block) % 16 == 0, "the prefix keeps malloc's 16-byte alignment");

typedef struct ck_side {        /* a reserved key's slot */
    atomic_int present;
    _Atomic uint64_t val;
} ck_side;

struct ck_map {
    ck_ht_t ht;
    struct ck_malloc cm;        /* the callbacks below */
    mb_alloc alloc;
    pthread_mutex_t ck_writer;  /* serializes every mutating call */
    ck_side side[2];            /* key 0, key ~0 */
    ck_block *kept;             /* deferred frees (under ck_writer) */
    size_t block_bytes;         /* live bytes of ck_ht's blocks, kept ones included */
    size_t kept_bytes;
    size_t grow_events;
};

/* The map whose ck_ht call is allocating on this thread (see the top). */
static _Thread_local ck_map *ck_allocating;

/* ---- ck_malloc ------------------------------------------------------------- */

static void *ck_cb_malloc(size_t size)
{
    ck_map *m = ck_allocating;
    if (!m)
        return NULL;
    ck_block *b = mb_alloc_bytes(&m->alloc, sizeof(ck_block) + size, 16);
    if (!b)
        return NULL;
    b->owner = m;
    b->next_kept = NULL;
    b->bytes = sizeof(ck_block) + size;
    m->block_bytes += b->bytes;
    return b + 1;
}

static void ck_cb_free(void *p, size_t size, bool defer)
{
    if (!p)
        return;
    ck_block *b = (ck_block *)p - 1;
    ck_map *m = b->owner;
    if (defer) { /* a reader may still hold it: keep it until destroy */
        b->next_kept = m->kept;
        m->kept = b;
        m->kept_bytes += b->bytes;
        m->grow_events++;
        return;
    }
    (void)size; /* b->bytes is the same size, prefix included */
    m->block_bytes -= b->bytes;
    mb_free_bytes(&m->alloc, b, b->bytes, 16);
}

static void *ck_cb_realloc(void *p, size_t old_size, size_t new_size, bool defer)
{
    void *q = ck_cb_malloc(new_size);
    if (!q)
        return NULL;
    memcpy(q, p, old_size < new_size ? old_size : new_size);
    ck_cb_free(p, old_size, defer);
    return q;
}

static void ck_cb_hash(ck_ht_hash_t *h, const void *key, size_t len, uint64_t seed)
{
    uint64_t k;
    (void)len;
    memcpy(&k, key, 8);
    h->value = mb_hash_u64(k, seed);
}

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t ck_load_u64(const void *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

/* Returns the side slot of a reserved key, or NULL for an ordinary key. */
static ck_side *ck_side_of(ck_map *m, uint64_t k)
{
    if (k == (uint64_t)CK_HT_KEY_EMPTY)
        return &m->side[0];
    if (k == (uint64_t)CK_HT_KEY_TOMBSTONE)
        return &m->side[1];
    return NULL;
}

/* ---- ops ---------------------------------------------------------------------- */

static void *ck_create(const mb_alloc *a, const mb_map_config *cfg)
{
    if (cfg->key_bytes != 8 || cfg->val_bytes != 8)
        return NULL;
    ck_map *m = mb_alloc_bytes(a, sizeof *m, alignof(ck_map));
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->alloc = *a;
    m->cm.malloc = ck_cb_malloc;
    m->cm.realloc = ck_cb_realloc;
    m->cm.free = ck_cb_free;
    for (int i = 0; i < 2; i++) {
        atomic_init(&m->side[i].present, 0);
        atomic_init(&m->side[i].val, 0);
    }
    if (pthread_mutex_init(&m->ck_writer, NULL) != 0) {
        mb_free_bytes(a, m, sizeof *m, alignof(ck_map));
        return NULL;
    }
    ck_allocating = m;
    bool ok = ck_ht_init(&m->ht, CK_HT_MODE_DIRECT, ck_cb_hash, &m->cm,
                         cfg->capacity_hint ? cfg->capacity_hint : 8, cfg->seed);
    ck_allocating = NULL;
    if (!ok) {
        pthread_mutex_destroy(&m->ck_writer);
        mb_free_bytes(a, m, sizeof *m, alignof(ck_map));
        return NULL;
    }
    return m;
}

static void ck_destroy(void *mp)
{
    ck_map *m = mp;
    mb_alloc a = m->alloc;
    ck_ht_destroy(&m->ht); /* frees the current map (not deferred) */
    while (m->kept) {
        ck_block *b = m->kept;
        m->kept = b->next_kept;
        mb_free_bytes(&a, b, b->bytes, 16);
    }
    pthread_mutex_destroy(&m->ck_writer);
    mb_free_bytes(&a, m, sizeof *m, alignof(ck_map));
}

static int ck_insert(void *mp, const void *key, const void *val)
{
    ck_map *m = mp;
    uint64_t k = ck_load_u64(key), v = ck_load_u64(val);
    ck_side *sd = ck_side_of(m, k);
    int rc;

    pthread_mutex_lock(&m->ck_writer);
    if (sd) {
        rc = atomic_load_explicit(&sd->present, memory_order_relaxed) ? MB_REPLACED : MB_INSERTED;
        atomic_store_explicit(&sd->val, v, memory_order_relaxed);
        atomic_store_explicit(&sd->present, 1, memory_order_release);
    } else {
        ck_ht_hash_t h;
        ck_ht_entry_t e;
        ck_ht_hash_direct(&h, &m->ht, (uintptr_t)k);
        ck_ht_entry_key_set_direct(&e, (uintptr_t)k);
        bool exists = ck_ht_get_spmc(&m->ht, h, &e);
        ck_ht_entry_set_direct(&e, h, (uintptr_t)k, (uintptr_t)v);
        ck_allocating = m;
        bool ok = exists ? ck_ht_set_spmc(&m->ht, h, &e) : ck_ht_put_spmc(&m->ht, h, &e);
        ck_allocating = NULL;
        rc = !ok ? MB_ENOMEM : exists ? MB_REPLACED : MB_INSERTED;
    }
    pthread_mutex_unlock(&m->ck_writer);
    return rc;
}

static int ck_lookup(void *mp, const void *key, void *val_out)
{
    ck_map *m = mp;
    uint64_t k = ck_load_u64(key), v;
    ck_side *sd = ck_side_of(m, k);
    if (sd) {
        if (!atomic_load_explicit(&sd->present, memory_order_acquire))
            return MB_NOTFOUND;
        v = atomic_load_explicit(&sd->val, memory_order_relaxed);
    } else {
        ck_ht_hash_t h;
        ck_ht_entry_t e;
        ck_ht_hash_direct(&h, &m->ht, (uintptr_t)k);
        ck_ht_entry_key_set_direct(&e, (uintptr_t)k);
        if (!ck_ht_get_spmc(&m->ht, h, &e))
            return MB_NOTFOUND;
        v = (uint64_t)ck_ht_entry_value_direct(&e);
    }
    if (val_out)
        memcpy(val_out, &v, 8);
    return MB_FOUND;
}

static int ck_remove(void *mp, const void *key)
{
    ck_map *m = mp;
    uint64_t k = ck_load_u64(key);
    ck_side *sd = ck_side_of(m, k);
    int rc;

    pthread_mutex_lock(&m->ck_writer);
    if (sd) {
        rc = atomic_exchange(&sd->present, 0) ? MB_FOUND : MB_NOTFOUND;
    } else {
        ck_ht_hash_t h;
        ck_ht_entry_t e;
        ck_ht_hash_direct(&h, &m->ht, (uintptr_t)k);
        ck_ht_entry_key_set_direct(&e, (uintptr_t)k);
        rc = ck_ht_remove_spmc(&m->ht, h, &e) ? MB_FOUND : MB_NOTFOUND;
    }
    pthread_mutex_unlock(&m->ck_writer);
    return rc;
}

static void ck_clear(void *mp)
{
    ck_map *m = mp;
    pthread_mutex_lock(&m->ck_writer);
    ck_ht_iterator_t it = CK_HT_ITERATOR_INITIALIZER;
    ck_ht_entry_t *cur;
    while (ck_ht_next(&m->ht, &it, &cur)) {
        ck_ht_hash_t h;
        ck_ht_entry_t e;
        uintptr_t k = ck_ht_entry_key_direct(cur);
        ck_ht_hash_direct(&h, &m->ht, k);
        ck_ht_entry_key_set_direct(&e, k);
        ck_ht_remove_spmc(&m->ht, h, &e);
    }
    ck_ht_gc(&m->ht, 0, 0); /* empty: resets the probe bound, allocates nothing */
    atomic_store(&m->side[0].present, 0);
    atomic_store(&m->side[1].present, 0);
    pthread_mutex_unlock(&m->ck_writer);
}

/* PRECONDITION: fn does not call into this map (the writer lock is held). */
static int ck_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    ck_map *m = mp;
    int r = 0;
    pthread_mutex_lock(&m->ck_writer);
    for (int i = 0; i < 2 && r == 0; i++) {
        if (atomic_load(&m->side[i].present)) {
            uint64_t k = i ? (uint64_t)CK_HT_KEY_TOMBSTONE : (uint64_t)CK_HT_KEY_EMPTY;
            uint64_t v = atomic_load(&m->side[i].val);
            r = fn(ud, &k, &v);
        }
    }
    ck_ht_iterator_t it = CK_HT_ITERATOR_INITIALIZER;
    ck_ht_entry_t *cur;
    while (r == 0 && ck_ht_next(&m->ht, &it, &cur)) {
        uint64_t k = ck_ht_entry_key_direct(cur), v = ck_ht_entry_value_direct(cur);
        r = fn(ud, &k, &v);
    }
    pthread_mutex_unlock(&m->ck_writer);
    return r;
}

static void ck_stats(const void *mp, mb_map_stats *out)
{
    ck_map *m = (ck_map *)mp; /* the writer lock is the only thing written */
    struct ck_ht_stat st;
    mb_stats_init(out);
    pthread_mutex_lock(&m->ck_writer);
    ck_ht_stat(&m->ht, &st);
    out->count = (size_t)st.n_entries + (size_t)atomic_load(&m->side[0].present) +
                 (size_t)atomic_load(&m->side[1].present);
    out->max_probe = (size_t)st.probe_maximum;
    out->grow_events = m->grow_events;
    out->shrink_events = 0;
    out->bytes = sizeof *m + m->block_bytes;
    pthread_mutex_unlock(&m->ck_writer);
}

static const char *ck_check(const void *mp)
{
    ck_map *m = (ck_map *)mp;
    const char *why = NULL;
    size_t seen = 0, kept = 0;
    struct ck_ht_stat st;
    pthread_mutex_lock(&m->ck_writer);
    ck_ht_iterator_t it = CK_HT_ITERATOR_INITIALIZER;
    ck_ht_entry_t *cur;
    while (!why && ck_ht_next(&m->ht, &it, &cur)) {
        uintptr_t k = ck_ht_entry_key_direct(cur);
        ck_ht_hash_t h;
        ck_ht_entry_t e;
        seen++;
        ck_ht_hash_direct(&h, &m->ht, k);
        ck_ht_entry_key_set_direct(&e, k);
        if (!ck_ht_get_spmc(&m->ht, h, &e) ||
            ck_ht_entry_value_direct(&e) != ck_ht_entry_value_direct(cur))
            why = "an iterated entry is not found by lookup with its value";
    }
    ck_ht_stat(&m->ht, &st);
    if (!why && seen != st.n_entries)
        why = "ck_ht's n_entries does not match the entries iterated";
    for (const ck_block *b = m->kept; b; b = b->next_kept)
        kept += b->bytes;
    if (!why && kept != m->kept_bytes)
        why = "kept_bytes does not match the kept blocks";
    pthread_mutex_unlock(&m->ck_writer);
    return why;
}

const mb_map_ops mb_ck_ops = {
    .name = "ck",
    .family = "peer",
    .traits = "thread-safe,spmc,writers-serialized-by-mutex,lock-free-reads,tombstones,u64-only,"
              "hash=mb_hash_u64,reserved-keys-in-side-slots,old-tables-kept-until-destroy,"
              "no-shrink,clear-keeps-capacity",
    .flags = MB_F_THREAD_SAFE | MB_F_OWN_ALLOC,
    .create = ck_create,
    .destroy = ck_destroy,
    .insert = ck_insert,
    .lookup = ck_lookup,
    .remove = ck_remove,
    .clear = ck_clear,
    .iterate = ck_iterate,
    .stats = ck_stats,
    .check = ck_check,
};
