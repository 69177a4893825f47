/*
 * syncmap — a C model of Go's sync.Map (Go 1.19, src/sync/map.go), names
 * kept from Go's source so it can be held against it: read, dirty, misses,
 * expunged, Load, Store, LoadAndDelete, missLocked, dirtyLocked, tryStore,
 * unexpungeLocked, storeLocked, tryExpungeLocked.
 *
 * What Go's design is.  Two maps from key to *entry:
 *   read   an immutable map published through one atomic pointer, read with
 *          no lock.  `amended` (packed into the pointer's low bit here) says
 *          the dirty map holds some key read does not;
 *   dirty  a mutable map under the mutex mu, a superset of read's live
 *          entries when it exists (dirty != NULL exactly when amended).
 * An entry is shared by both maps; its pointer p is the only thing written
 * after publication, always with atomics:
 *   p == a box      live: the box holds the value, immutable once stored;
 *   p == NULL       deleted; the entry is still in dirty (if dirty exists);
 *   p == expunged   deleted AND not in dirty: dirtyLocked() copied read into
 *                   a new dirty and left this entry out (tryExpungeLocked).
 * Load looks in read; only on a miss with amended set does it take mu, look
 * in dirty and count a miss (missLocked).  When misses reach len(dirty), the
 * dirty map is promoted: it becomes the new read (amended = false) and dirty
 * is dropped; the next Store of a new key copies read into a fresh dirty
 * (dirtyLocked, O(len(read))), expunging the deleted entries.  Store of a key
 * in read replaces the box with a CAS (tryStore), lock-free unless the entry
 * is expunged; a new key goes into dirty under mu.  LoadAndDelete CASes p to
 * NULL (lock-free for keys in read) or removes a dirty-only key from dirty.
 * So reads of a stable key set are lock-free and writes of new keys cost a
 * lock, an O(n) copy after each promotion, and a miss per lookup until the
 * next promotion: the costs Go documents ("optimized for ... keys written
 * once but read many times").
 *
 * Deviations from Go, all forced by C having no garbage collector:
 *   - Values live in boxes allocated per Store (as Go boxes each `any`); a
 *     replaced or deleted box, an entry dropped from both maps, and an old
 *     read table after a promotion may still be in a lock-free reader's
 *     hands, so they are RETIRED, not freed, and reclaimed by epochs (below).
 *   - The maps are open-addressing tables of (hash, entry*) with linear
 *     probing, max load 3/4, doubling; the read table is never written after
 *     publication; the dirty table is written only under mu and deletes by
 *     backward shift (no tombstones), so it can become read as it is.
 *   - Every op (not only Load) runs inside an epoch critical section, so an
 *     entry found in dirty under mu may be read after mu is released, as Go
 *     does in Load.
 *   - Go 1.19 has no Clear; clear() follows Go 1.23's Map.Clear (publish an
 *     empty read, drop dirty, zero misses), retiring what it drops.
 *   - The capacity hint is ignored (Go's sync.Map takes none): trait
 *     hint-ignored.
 *
 * Reclamation: epoch-based (Fraser's EBR).  The map owns a list of reader
 * records, one per thread that used it (a pthread key created per map finds
 * the calling thread's record; a thread's exit hands its record back for
 * reuse; records are freed at destroy).  An op announces the global epoch
 * in its record (a seq_cst store to the thread's own cache line, so readers
 * on different cores share no written line) and clears it on exit.  A
 * retired object is tagged with the epoch at retirement and freed once the
 * epoch has advanced twice since; the epoch advances when every active
 * record announces the current one.  Retired objects sit on the retiring
 * thread's record (no lock to retire), and are reclaimed in batches of
 * SM_RECLAIM_BATCH under mu.  Why epochs and not "free at destroy": Go's
 * design retires on every Store of an existing key, every delete and every
 * promotion, so deferring all frees to destroy would grow without bound
 * under churn; why not a reader counter: one shared counter would be the
 * line every Load writes, the very cost sync.Map exists to avoid.
 * What the announcement costs: nothing this host can show.  With the
 * seq_cst store (an xchg: it waits for the op's earlier loads) made a
 * relaxed store (an unsafe build, for the measurement only), read-only
 * lookups at N = 1e6 ran 1.02x at T=1 and 1.00x at T=2 (mb_threads
 * --reps 3, 9 paired rounds, the last 6 in alternating order, 2026-12-03,
 * an Intel VM with 260 MiB of L3).  A Load's cost is its three dependent
 * lines (read slot, entry, box), as in Go, whose sync.Map ran read-only at
 * 2.65 Mops/s at T=1 where this model ran 3.84 (medians of 12 runs of
 * mapbench run, each with both).  So an asymmetric fence (membarrier in
 * the reclaimer) would buy nothing here.
 *
 * When the calling thread's record cannot be allocated (injected failure):
 * Load and LoadAndDelete run entirely under mu (reclamation frees only under
 * mu, so that is safe), retiring onto the map's orphan list; Store returns
 * MB_ENOMEM with the map unchanged.
 *
 * Memory: stats.bytes is every byte the map holds through mb_alloc: tables,
 * entries, boxes, records, and retired objects not yet reclaimed.  Deleting
 * never shrinks the read table until the next promotion (and then only to
 * dirty's size); trait no-shrink.
 *
 * Stats: capacity = read slots + dirty slots; grow_events = dirty doublings;
 * rehash_events = promotions (dirty becoming read); tombstones = read-table
 * entries whose p is NULL or expunged (deleted keys that hold a read slot
 * until the next promotion drops the expunged ones).
 */
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../mb_map.h"

#define SM_LINE_BYTES 64u
#define SM_MIN_SLOTS 8u           /* smallest table */
#define SM_RECLAIM_BATCH 64u      /* retired objects a record holds before reclaiming */
#define SM_AMENDED ((uintptr_t)1) /* read's low bit: dirty holds keys read lacks */

/* ---- objects ------------------------------------------------------------------ */

enum sm_kind { SM_BOX = 1, SM_ENTRY = 2, SM_TABLE = 3 };

/* The head of every object a lock-free reader may hold: how to retire it. */
typedef struct sm_node {
    struct sm_node *next_retired; /* retire list link */
    uint64_t retired_epoch;       /* global epoch when it was retired */
    uint32_t bytes;               /* allocation size, for free (tables: see sm_table) */
    uint32_t kind;                /* sm_kind */
} sm_node;

typedef struct sm_box {           /* a value, immutable once published */
    sm_node node;
    unsigned char val[];
} sm_box;

typedef struct sm_entry {
    sm_node node;
    _Atomic(sm_box *) p;          /* a box, NULL (deleted) or expunged */
    unsigned char key[];          /* immutable */
} sm_entry;

typedef struct sm_slot {
    uint64_t hash;
    sm_entry *e;                  /* NULL: empty */
} sm_slot;

typedef struct sm_table {
    sm_node node;
    size_t table_bytes;           /* this allocation */
    size_t mask;                  /* slots - 1 */
    size_t count;                 /* occupied slots */
    sm_slot slots[];
} sm_table;

/* Go's `expunged`: a pointer no box can have.  Never dereferenced. */
static const char sm_expunged_marker;
#define SM_EXPUNGED ((sm_box *)(uintptr_t)&sm_expunged_marker)

static bool sm_is_box(const sm_box *p)
{
    return p != NULL && p != SM_EXPUNGED;
}

/* ---- map and records ---------------------------------------------------------- */

struct sm_map;

typedef struct sm_rec {
    alignas(SM_LINE_BYTES) _Atomic uint64_t state; /* 0 quiescent, else epoch << 1 | 1 */
    atomic_int in_use;            /* 1 while a live thread owns the record */
    struct sm_rec *next;          /* set before the record is published */
    sm_node *retired;             /* owner-only: retired, not yet freed */
    size_t retired_count;
} sm_rec;

_Static_assert(sizeof(sm_rec) % SM_LINE_BYTES == 0, "a record must fill whole lines");

typedef struct sm_map {
    /* read-mostly line: every Load reads it, only promotions/dirtyLocked write read */
    alignas(SM_LINE_BYTES) _Atomic uintptr_t read; /* sm_table * | SM_AMENDED */
    mb_alloc alloc;
    size_t key_bytes, val_bytes;
    uint64_t seed;
    pthread_key_t rec_key;        /* the calling thread's sm_rec */
    /* the epoch: read at every op's entry, advanced rarely */
    alignas(SM_LINE_BYTES) _Atomic uint64_t epoch;
    _Atomic(sm_rec *) recs;       /* every record, pushed at the head, never unlinked */
    /* under mu */
    alignas(SM_LINE_BYTES) pthread_mutex_t mu;
    sm_table *dirty;
    size_t misses;
    sm_node *orphans;             /* retired by threads that have no record */
    size_t grow_events, promotions;
    /* written by every allocating op */
    alignas(SM_LINE_BYTES) _Atomic size_t bytes;
} sm_map;

/* ---- allocation ------------------------------------------------------------- */

static void *sm_alloc(sm_map *m, size_t bytes)
{
    void *p = mb_alloc_bytes(&m->alloc, bytes, _Alignof(max_align_t));
    if (p)
        atomic_fetch_add_explicit(&m->bytes, bytes, memory_order_relaxed);
    return p;
}

static void sm_free(sm_map *m, void *p, size_t bytes)
{
    if (!p)
        return;
    atomic_fetch_sub_explicit(&m->bytes, bytes, memory_order_relaxed);
    mb_free_bytes(&m->alloc, p, bytes, _Alignof(max_align_t));
}

static sm_box *sm_box_new(sm_map *m, const void *val)
{
    size_t bytes = sizeof(sm_box) + m->val_bytes;
    sm_box *b = sm_alloc(m, bytes);
    if (!b)
        return NULL;
    b->node = (sm_node){ NULL, 0, (uint32_t)bytes, SM_BOX };
    memcpy(b->val, val, m->val_bytes);
    return b;
}

static sm_entry *sm_entry_new(sm_map *m, const void *key, sm_box *b)
{
    size_t bytes = sizeof(sm_entry) + m->key_bytes;
    sm_entry *e = sm_alloc(m, bytes);
    if (!e)
        return NULL;
    e->node = (sm_node){ NULL, 0, (uint32_t)bytes, SM_ENTRY };
    atomic_init(&e->p, b);
    memcpy(e->key, key, m->key_bytes);
    return e;
}

/* Frees an object nobody can reach any more; an entry takes its final box. */
static void sm_node_free(sm_map *m, sm_node *n)
{
    if (n->kind == SM_TABLE) {
        sm_table *t = (sm_table *)n;
        sm_free(m, t, t->table_bytes);
        return;
    }
    if (n->kind == SM_ENTRY) {
        sm_box *b = atomic_load_explicit(&((sm_entry *)n)->p, memory_order_relaxed);
        if (sm_is_box(b))
            sm_free(m, b, b->node.bytes);
    }
    sm_free(m, n, n->bytes);
}

/* ---- tables ----------------------------------------------------------------- */

static size_t sm_table_bytes(size_t slots)
{
    return sizeof(sm_table) + slots * sizeof(sm_slot);
}

/* Returns an empty table with room for `entries` at load <= 3/4, or NULL. */
static sm_table *sm_table_new(sm_map *m, size_t entries)
{
    size_t slots = SM_MIN_SLOTS;
    while (slots / 4 * 3 < entries)
        slots *= 2;
    size_t bytes = sm_table_bytes(slots);
    sm_table *t = sm_alloc(m, bytes);
    if (!t)
        return NULL;
    memset(t, 0, bytes);
    t->node = (sm_node){ NULL, 0, 0, SM_TABLE };
    t->table_bytes = bytes;
    t->mask = slots - 1;
    return t;
}

static uint64_t sm_hash(const sm_map *m, const void *key)
{
    return mb_hash_key(key, m->key_bytes, m->seed);
}

/* Returns the entry for key, or NULL.  t may be NULL (an empty map). */
static sm_entry *sm_table_find(const sm_map *m, const sm_table *t, uint64_t h, const void *key)
{
    if (!t)
        return NULL;
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const sm_slot *s = &t->slots[i];
        if (!s->e)
            return NULL;
        if (s->hash == h && mb_key_eq(s->e->key, key, m->key_bytes))
            return s->e;
    }
}

/* PRECONDITION: the key is absent and count + 1 fits at load <= 3/4. */
static void sm_table_put(sm_table *t, uint64_t h, sm_entry *e)
{
    size_t i = h & t->mask;
    while (t->slots[i].e)
        i = (i + 1) & t->mask;
    t->slots[i] = (sm_slot){ h, e };
    t->count++;
}

/* Removes key's slot by backward shift.  Returns the entry, or NULL. */
static sm_entry *sm_table_del(const sm_map *m, sm_table *t, uint64_t h, const void *key)
{
    size_t i = h & t->mask;
    for (;; i = (i + 1) & t->mask) {
        if (!t->slots[i].e)
            return NULL;
        if (t->slots[i].hash == h && mb_key_eq(t->slots[i].e->key, key, m->key_bytes))
            break;
    }
    sm_entry *e = t->slots[i].e;
    for (size_t j = (i + 1) & t->mask; t->slots[j].e; j = (j + 1) & t->mask) {
        size_t home = t->slots[j].hash & t->mask;
        /* slot j may move to the hole i when i lies cyclically in [home, j) */
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i] = (sm_slot){ 0, NULL };
    t->count--;
    return e;
}

static bool sm_table_has_room(const sm_table *t, size_t extra)
{
    return t->count + extra <= (t->mask + 1) / 4 * 3;
}

/* Makes room for one more entry in dirty.  PRECONDITION: mu held, dirty != NULL.
 * Returns 0, or -1 on ENOMEM (dirty unchanged). */
static int sm_dirty_reserve(sm_map *m)
{
    sm_table *old = m->dirty;
    if (sm_table_has_room(old, 1))
        return 0;
    sm_table *t = sm_table_new(m, (old->mask + 1) / 4 * 3 + 1);
    if (!t)
        return -1;
    for (size_t i = 0; i <= old->mask; i++)
        if (old->slots[i].e)
            sm_table_put(t, old->slots[i].hash, old->slots[i].e);
    m->dirty = t;
    m->grow_events++;
    sm_free(m, old, old->table_bytes); /* dirty is never read without mu */
    return 0;
}

/* ---- epochs ----------------------------------------------------------------- */

static void sm_rec_release(void *p) /* thread exit: hand the record back */
{
    sm_rec *r = p;
    atomic_store_explicit(&r->state, 0, memory_order_release);
    atomic_store_explicit(&r->in_use, 0, memory_order_release);
}

/* Returns the calling thread's record, or NULL when none can be had. */
static sm_rec *sm_rec_get(sm_map *m)
{
    sm_rec *r = pthread_getspecific(m->rec_key);
    if (r)
        return r;
    for (r = atomic_load_explicit(&m->recs, memory_order_acquire); r; r = r->next) {
        int free_rec = 0;
        if (atomic_load_explicit(&r->in_use, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong(&r->in_use, &free_rec, 1))
            break;
    }
    if (!r) {
        r = mb_alloc_bytes(&m->alloc, sizeof *r, SM_LINE_BYTES);
        if (!r)
            return NULL;
        atomic_fetch_add_explicit(&m->bytes, sizeof *r, memory_order_relaxed);
        memset(r, 0, sizeof *r);
        atomic_init(&r->in_use, 1);
        r->next = atomic_load_explicit(&m->recs, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(&m->recs, &r->next, r,
                                                      memory_order_release, memory_order_relaxed))
            ;
    }
    if (pthread_setspecific(m->rec_key, r) != 0) {
        atomic_store_explicit(&r->in_use, 0, memory_order_release);
        return NULL;
    }
    return r;
}

static void sm_enter(sm_map *m, sm_rec *r)
{
    uint64_t e = atomic_load(&m->epoch);
    atomic_store(&r->state, e << 1 | 1); /* seq_cst: visible before any load below */
}

static void sm_exit(sm_rec *r)
{
    atomic_store_explicit(&r->state, 0, memory_order_release);
}

/* Retires n onto r's list, or onto the orphans when r is NULL.
 * PRECONDITION: n is unreachable for new readers; r == NULL implies mu held. */
static void sm_retire(sm_map *m, sm_rec *r, sm_node *n)
{
    n->retired_epoch = atomic_load(&m->epoch);
    if (r) {
        n->next_retired = r->retired;
        r->retired = n;
        r->retired_count++;
    } else {
        n->next_retired = m->orphans;
        m->orphans = n;
    }
}

/* Advances the epoch if every active record announces the current one. */
static void sm_try_advance(sm_map *m)
{
    uint64_t e = atomic_load(&m->epoch);
    for (sm_rec *r = atomic_load_explicit(&m->recs, memory_order_acquire); r; r = r->next) {
        uint64_t s = atomic_load(&r->state);
        if ((s & 1) && (s >> 1) != e)
            return;
    }
    atomic_compare_exchange_strong(&m->epoch, &e, e + 1);
}

/* Frees the nodes of *list retired two epochs ago or earlier; returns how many. */
static size_t sm_free_old(sm_map *m, sm_node **list)
{
    uint64_t e = atomic_load(&m->epoch);
    size_t freed = 0;
    for (sm_node **pp = list; *pp;) {
        sm_node *n = *pp;
        if (n->retired_epoch + 2 <= e) {
            *pp = n->next_retired;
            sm_node_free(m, n);
            freed++;
        } else {
            pp = &n->next_retired;
        }
    }
    return freed;
}

/* Reclaims r's retired objects when it holds a batch.  PRECONDITION: r is
 * quiescent (after sm_exit) and mu is not held. */
static void sm_reclaim(sm_map *m, sm_rec *r)
{
    if (!r || r->retired_count < SM_RECLAIM_BATCH)
        return;
    pthread_mutex_lock(&m->mu);
    sm_try_advance(m);
    sm_try_advance(m);
    r->retired_count -= sm_free_old(m, &r->retired);
    sm_free_old(m, &m->orphans);
    pthread_mutex_unlock(&m->mu);
}

/* mu around the slow paths; a thread without a record holds mu for the whole op. */
static void sm_lock(sm_map *m, const sm_rec *r)
{
    if (r)
        pthread_mutex_lock(&m->mu);
}

static void sm_unlock(sm_map *m, const sm_rec *r)
{
    if (r)
        pthread_mutex_unlock(&m->mu);
}

/* ---- Go's entry methods ----------------------------------------------------------- */

static sm_table *sm_read_table(uintptr_t rd)
{
    return (sm_table *)(rd & ~SM_AMENDED);
}

static uintptr_t sm_load_read_only(sm_map *m)
{
    return atomic_load_explicit(&m->read, memory_order_acquire);
}

/* Go's tryStore: stores b unless the entry is expunged.  Returns 1 and sets
 * *old to the box replaced (or NULL) when it stored. */
static int sm_try_store(sm_entry *e, sm_box *b, sm_box **old)
{
    sm_box *p = atomic_load_explicit(&e->p, memory_order_acquire);
    for (;;) {
        if (p == SM_EXPUNGED)
            return 0;
        if (atomic_compare_exchange_weak_explicit(&e->p, &p, b, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            *old = p;
            return 1;
        }
    }
}

/* Go's unexpungeLocked: returns 1 when the entry was expunged (now NULL). */
static int sm_unexpunge_locked(sm_entry *e)
{
    sm_box *p = SM_EXPUNGED;
    return atomic_compare_exchange_strong(&e->p, &p, NULL);
}

/* Go's tryExpungeLocked: returns 1 when the entry is (now) expunged. */
static int sm_try_expunge_locked(sm_entry *e)
{
    sm_box *p = atomic_load_explicit(&e->p, memory_order_acquire);
    while (p == NULL) {
        if (atomic_compare_exchange_weak(&e->p, &p, SM_EXPUNGED))
            return 1;
    }
    return p == SM_EXPUNGED;
}

/* Go's entry.delete: returns the box it took out, or NULL if none was live. */
static sm_box *sm_entry_delete(sm_entry *e)
{
    sm_box *p = atomic_load_explicit(&e->p, memory_order_acquire);
    for (;;) {
        if (!sm_is_box(p))
            return NULL;
        if (atomic_compare_exchange_weak_explicit(&e->p, &p, NULL, memory_order_acq_rel,
                                                  memory_order_acquire))
            return p;
    }
}

/* ---- Go's map methods ---------------------------------------------------------------- */

/* Promotes dirty to read: the old read and its expunged entries are retired.
 * PRECONDITION: mu held, dirty != NULL. */
static void sm_promote_locked(sm_map *m, sm_rec *r)
{
    sm_table *old = sm_read_table(sm_load_read_only(m));
    atomic_store_explicit(&m->read, (uintptr_t)m->dirty, memory_order_release);
    m->dirty = NULL;
    m->misses = 0;
    m->promotions++;
    if (!old)
        return;
    for (size_t i = 0; i <= old->mask; i++) {
        sm_entry *e = old->slots[i].e;
        if (e && atomic_load_explicit(&e->p, memory_order_relaxed) == SM_EXPUNGED)
            sm_retire(m, r, &e->node); /* in no map now (expunged = not in dirty) */
    }
    sm_retire(m, r, &old->node);
}

/* Go's missLocked.  PRECONDITION: mu held, dirty != NULL. */
static void sm_miss_locked(sm_map *m, sm_rec *r)
{
    m->misses++;
    if (m->misses < m->dirty->count)
        return;
    sm_promote_locked(m, r);
}

/* Go's dirtyLocked: makes dirty a copy of read's non-deleted entries, with
 * room for one more.  PRECONDITION: mu held.  Returns 0, or -1 on ENOMEM
 * (nothing changed: the table is allocated before any entry is expunged). */
static int sm_dirty_locked(sm_map *m)
{
    if (m->dirty)
        return 0;
    const sm_table *rt = sm_read_table(sm_load_read_only(m));
    sm_table *t = sm_table_new(m, (rt ? rt->count : 0) + 1);
    if (!t)
        return -1;
    if (rt)
        for (size_t i = 0; i <= rt->mask; i++) {
            sm_entry *e = rt->slots[i].e;
            if (e && !sm_try_expunge_locked(e))
                sm_table_put(t, rt->slots[i].hash, e);
        }
    m->dirty = t;
    return 0;
}

/* Go's Load. */
static int sm_load(sm_map *m, sm_rec *r, const void *key, void *val_out)
{
    uint64_t h = sm_hash(m, key);
    uintptr_t rd = sm_load_read_only(m);
    sm_entry *e = sm_table_find(m, sm_read_table(rd), h, key);
    if (!e && (rd & SM_AMENDED)) {
        sm_lock(m, r);
        rd = sm_load_read_only(m);
        e = sm_table_find(m, sm_read_table(rd), h, key);
        if (!e && (rd & SM_AMENDED)) {
            e = sm_table_find(m, m->dirty, h, key);
            sm_miss_locked(m, r);
        }
        sm_unlock(m, r);
    }
    if (!e)
        return MB_NOTFOUND;
    sm_box *p = atomic_load_explicit(&e->p, memory_order_acquire); /* Go's e.load() */
    if (!sm_is_box(p))
        return MB_NOTFOUND;
    if (val_out)
        memcpy(val_out, p->val, m->val_bytes);
    return MB_FOUND;
}

/* Go's Store, which also says whether the key was live.  r != NULL.
 * Returns MB_INSERTED, MB_REPLACED or MB_ENOMEM (map unchanged). */
static int sm_store(sm_map *m, sm_rec *r, const void *key, const void *val)
{
    uint64_t h = sm_hash(m, key);
    sm_box *b = sm_box_new(m, val), *old = NULL;
    if (!b)
        return MB_ENOMEM;
    sm_entry *e = sm_table_find(m, sm_read_table(sm_load_read_only(m)), h, key);
    if (e && sm_try_store(e, b, &old))
        goto stored;

    pthread_mutex_lock(&m->mu);
    uintptr_t rd = sm_load_read_only(m);
    if ((e = sm_table_find(m, sm_read_table(rd), h, key))) {
        if (atomic_load_explicit(&e->p, memory_order_relaxed) == SM_EXPUNGED) {
            /* expunged implies dirty exists; its slot must exist before unexpunging */
            if (sm_dirty_reserve(m) != 0)
                goto enomem;
            if (sm_unexpunge_locked(e))
                sm_table_put(m->dirty, h, e);
        }
        old = atomic_exchange(&e->p, b); /* Go's storeLocked */
    } else if ((e = sm_table_find(m, m->dirty, h, key))) {
        old = atomic_exchange(&e->p, b);
    } else {
        sm_entry *ne = sm_entry_new(m, key, b);
        if (!ne)
            goto enomem;
        int rc = (rd & SM_AMENDED) ? sm_dirty_reserve(m) : sm_dirty_locked(m);
        if (rc != 0) {
            atomic_store_explicit(&ne->p, NULL, memory_order_relaxed);
            sm_free(m, ne, ne->node.bytes);
            goto enomem;
        }
        if (!(rd & SM_AMENDED))
            atomic_store_explicit(&m->read, rd | SM_AMENDED, memory_order_release);
        sm_table_put(m->dirty, h, ne);
        old = NULL;
    }
    pthread_mutex_unlock(&m->mu);
stored:
    if (sm_is_box(old)) {
        sm_retire(m, r, &old->node);
        return MB_REPLACED;
    }
    return MB_INSERTED;
enomem:
    pthread_mutex_unlock(&m->mu);
    sm_free(m, b, b->node.bytes);
    return MB_ENOMEM;
}

/* Go's LoadAndDelete, answering only whether the key was live. */
static int sm_load_and_delete(sm_map *m, sm_rec *r, const void *key)
{
    uint64_t h = sm_hash(m, key);
    uintptr_t rd = sm_load_read_only(m);
    sm_entry *e = sm_table_find(m, sm_read_table(rd), h, key);
    sm_box *old;
    if (!e && (rd & SM_AMENDED)) {
        sm_lock(m, r);
        rd = sm_load_read_only(m);
        e = sm_table_find(m, sm_read_table(rd), h, key);
        if (!e && (rd & SM_AMENDED)) {
            e = sm_table_del(m, m->dirty, h, key);
            sm_miss_locked(m, r);
            if (e) { /* it was in dirty only: now in no map */
                old = atomic_exchange(&e->p, NULL);
                sm_retire(m, r, &e->node);
                if (sm_is_box(old))
                    sm_retire(m, r, &old->node);
                sm_unlock(m, r);
                return sm_is_box(old) ? MB_FOUND : MB_NOTFOUND;
            }
        }
        sm_unlock(m, r);
    }
    if (!e || !(old = sm_entry_delete(e)))
        return MB_NOTFOUND;
    sm_retire(m, r, &old->node);
    return MB_FOUND;
}

/* ---- ops ------------------------------------------------------------------------ */

/* Runs the op's prologue: the record and the epoch, or mu without a record. */
static sm_rec *sm_begin(sm_map *m)
{
    sm_rec *r = sm_rec_get(m);
    if (r)
        sm_enter(m, r);
    else
        pthread_mutex_lock(&m->mu);
    return r;
}

static void sm_end(sm_map *m, sm_rec *r)
{
    if (r) {
        sm_exit(r);
        sm_reclaim(m, r);
    } else {
        pthread_mutex_unlock(&m->mu);
    }
}

static int sm_lookup_op(void *mp, const void *key, void *val_out)
{
    sm_map *m = mp;
    sm_rec *r = sm_begin(m);
    int rc = sm_load(m, r, key, val_out);
    sm_end(m, r);
    return rc;
}

static int sm_insert_op(void *mp, const void *key, const void *val)
{
    sm_map *m = mp;
    sm_rec *r = sm_rec_get(m);
    if (!r)
        return MB_ENOMEM; /* nowhere to retire a replaced box: nothing changed */
    sm_enter(m, r);
    int rc = sm_store(m, r, key, val);
    sm_end(m, r);
    return rc;
}

static int sm_remove_op(void *mp, const void *key)
{
    sm_map *m = mp;
    sm_rec *r = sm_begin(m);
    int rc = sm_load_and_delete(m, r, key);
    sm_end(m, r);
    return rc;
}

/* Retires every entry of the maps (each once) and the read table; frees
 * dirty.  PRECONDITION: mu held; read already unpublished by the caller. */
static void sm_drop_all_locked(sm_map *m, sm_rec *r, sm_table *rt)
{
    if (m->dirty) {
        for (size_t i = 0; i <= m->dirty->mask; i++)
            if (m->dirty->slots[i].e)
                sm_retire(m, r, &m->dirty->slots[i].e->node);
    }
    if (rt) {
        for (size_t i = 0; i <= rt->mask; i++) {
            sm_entry *e = rt->slots[i].e;
            /* with dirty, read's entries are in dirty unless expunged */
            if (e && (!m->dirty || atomic_load_explicit(&e->p, memory_order_relaxed) ==
                                       SM_EXPUNGED))
                sm_retire(m, r, &e->node);
        }
        sm_retire(m, r, &rt->node);
    }
    if (m->dirty)
        sm_free(m, m->dirty, m->dirty->table_bytes);
    m->dirty = NULL;
    m->misses = 0;
}

static void sm_clear_op(void *mp) /* Go 1.23's Map.Clear */
{
    sm_map *m = mp;
    sm_rec *r = sm_rec_get(m);
    if (r)
        sm_enter(m, r);
    pthread_mutex_lock(&m->mu);
    sm_table *rt = sm_read_table(sm_load_read_only(m));
    atomic_store_explicit(&m->read, 0, memory_order_release);
    sm_drop_all_locked(m, r, rt); /* r == NULL: onto the orphans, mu is held */
    pthread_mutex_unlock(&m->mu);
    if (r) {
        sm_exit(r);
        sm_reclaim(m, r);
    }
}

/* Go's Range: promotes dirty first, then walks read.
 * PRECONDITION: fn does not call into this map (mu is held). */
static int sm_iterate_op(void *mp, mb_visit_fn fn, void *ud)
{
    sm_map *m = mp;
    sm_rec *r = sm_rec_get(m);
    int ret = 0;
    if (r)
        sm_enter(m, r);
    pthread_mutex_lock(&m->mu);
    if (sm_load_read_only(m) & SM_AMENDED)
        sm_promote_locked(m, r);
    const sm_table *rt = sm_read_table(sm_load_read_only(m));
    for (size_t i = 0; rt && i <= rt->mask && ret == 0; i++) {
        sm_entry *e = rt->slots[i].e;
        sm_box *p = e ? atomic_load_explicit(&e->p, memory_order_acquire) : NULL;
        if (sm_is_box(p))
            ret = fn(ud, e->key, p->val);
    }
    pthread_mutex_unlock(&m->mu);
    if (r) {
        sm_exit(r);
        sm_reclaim(m, r);
    }
    return ret;
}

/* ---- create / destroy ------------------------------------------------------------- */

static void *sm_create(const mb_alloc *a, const mb_map_config *cfg)
{
    sm_map *m = mb_alloc_bytes(a, sizeof *m, SM_LINE_BYTES);
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->alloc = *a;
    m->key_bytes = cfg->key_bytes;
    m->val_bytes = cfg->val_bytes;
    m->seed = cfg->seed;
    atomic_init(&m->read, 0);
    atomic_init(&m->epoch, 0);
    atomic_init(&m->recs, NULL);
    atomic_init(&m->bytes, sizeof *m);
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        mb_free_bytes(a, m, sizeof *m, SM_LINE_BYTES);
        return NULL;
    }
    /* glibc's pthread_getspecific returns NULL for a key deleted and created
     * again, so a reused key never hands out a destroyed map's record. */
    if (pthread_key_create(&m->rec_key, sm_rec_release) != 0) {
        pthread_mutex_destroy(&m->mu);
        mb_free_bytes(a, m, sizeof *m, SM_LINE_BYTES);
        return NULL;
    }
    return m;
}

static void sm_free_list(sm_map *m, sm_node *n)
{
    while (n) {
        sm_node *next = n->next_retired;
        sm_node_free(m, n);
        n = next;
    }
}

static void sm_destroy(void *mp)
{
    sm_map *m = mp;
    mb_alloc a = m->alloc;
    pthread_key_delete(m->rec_key); /* first: no thread exit touches a record after this */
    sm_table *rt = sm_read_table(sm_load_read_only(m));
    sm_drop_all_locked(m, NULL, rt); /* onto the orphans */
    sm_free_list(m, m->orphans);
    for (sm_rec *r = atomic_load(&m->recs), *next; r; r = next) {
        next = r->next;
        sm_free_list(m, r->retired);
        mb_free_bytes(&a, r, sizeof *r, SM_LINE_BYTES);
    }
    pthread_mutex_destroy(&m->mu);
    mb_free_bytes(&a, m, sizeof *m, SM_LINE_BYTES);
}

/* ---- stats ------------------------------------------------------------------------ */

static size_t sm_live_in(const sm_table *t)
{
    size_t n = 0;
    for (size_t i = 0; t && i <= t->mask; i++)
        if (t->slots[i].e && sm_is_box(atomic_load_explicit(&t->slots[i].e->p,
                                                            memory_order_acquire)))
            n++;
    return n;
}

static void sm_stats(const void *mp, mb_map_stats *out)
{
    sm_map *m = (sm_map *)mp; /* mu is the only thing written */
    mb_stats_init(out);
    pthread_mutex_lock(&m->mu);
    const sm_table *rt = sm_read_table(sm_load_read_only(m));
    out->count = m->dirty ? sm_live_in(m->dirty) : sm_live_in(rt);
    out->tombstones = (rt ? rt->count : 0) - sm_live_in(rt); /* NULL or expunged in read */
    out->capacity = (rt ? rt->mask + 1 : 0) + (m->dirty ? m->dirty->mask + 1 : 0);
    out->grow_events = m->grow_events;
    out->shrink_events = 0;
    out->rehash_events = m->promotions;
    out->bytes = atomic_load_explicit(&m->bytes, memory_order_relaxed);
    pthread_mutex_unlock(&m->mu);
}

/* ---- check ------------------------------------------------------------------------ */

/* Returns NULL or the first violated invariant of one table. */
static const char *sm_check_table(const sm_map *m, const sm_table *t)
{
    size_t used = 0;
    if (!t)
        return NULL;
    if ((t->mask + 1) & t->mask || t->mask + 1 < SM_MIN_SLOTS)
        return "a table's slot count is not a power of two >= SM_MIN_SLOTS";
    if (t->table_bytes != sm_table_bytes(t->mask + 1))
        return "a table's byte size does not match its slots";
    for (size_t i = 0; i <= t->mask; i++) {
        const sm_slot *s = &t->slots[i];
        if (!s->e)
            continue;
        used++;
        if (s->hash != sm_hash(m, s->e->key))
            return "a slot's hash is not its key's hash";
        if (sm_table_find(m, t, s->hash, s->e->key) != s->e)
            return "an entry is not found by probing from its home (a gap or a duplicate)";
    }
    if (used != t->count)
        return "a table's count does not match its occupied slots";
    if (!sm_table_has_room(t, 0))
        return "a table is above load 3/4";
    return NULL;
}

static const char *sm_check_locked(const sm_map *m)
{
    uintptr_t rd = atomic_load_explicit(&m->read, memory_order_acquire);
    const sm_table *rt = sm_read_table(rd), *dt = m->dirty;
    const char *why;
    if (((rd & SM_AMENDED) != 0) != (dt != NULL))
        return "amended is set exactly when dirty exists (dirtyLocked / promotion)";
    if ((why = sm_check_table(m, rt)) || (why = sm_check_table(m, dt)))
        return why;
    if (!dt && m->misses != 0)
        return "misses counted without a dirty map";
    if (dt && m->misses != 0 && m->misses >= dt->count)
        return "misses reached len(dirty) without a promotion";
    for (size_t i = 0; rt && i <= rt->mask; i++) {
        const sm_entry *e = rt->slots[i].e;
        if (!e)
            continue;
        sm_box *p = atomic_load_explicit(&((sm_entry *)e)->p, memory_order_acquire);
        const sm_entry *in_dirty = sm_table_find(m, dt, rt->slots[i].hash, e->key);
        if (p == SM_EXPUNGED && (!dt || in_dirty))
            return "an expunged entry is in dirty, or there is no dirty map";
        if (p != SM_EXPUNGED && dt && in_dirty != e)
            return "a non-expunged read entry is missing from dirty";
    }
    for (size_t i = 0; dt && i <= dt->mask; i++)
        if (dt->slots[i].e &&
            atomic_load_explicit(&dt->slots[i].e->p, memory_order_acquire) == SM_EXPUNGED)
            return "dirty holds an expunged entry";
    return NULL;
}

static const char *sm_check(const void *mp)
{
    sm_map *m = (sm_map *)mp;
    pthread_mutex_lock(&m->mu); /* reclamation frees only under mu */
    const char *why = sm_check_locked(m);
    pthread_mutex_unlock(&m->mu);
    return why;
}

const mb_map_ops mb_syncmap_ops = {
    .name = "syncmap",
    .family = "sharded",
    .traits = "thread-safe,go-sync-map-model,lock-free-reads,read-dirty-promotion,"
              "box-per-store,epoch-reclaimed,no-shrink,hint-ignored,clear-frees",
    .flags = MB_F_THREAD_SAFE | MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_OWN_ALLOC,
    .create = sm_create,
    .destroy = sm_destroy,
    .insert = sm_insert_op,
    .lookup = sm_lookup_op,
    .remove = sm_remove_op,
    .clear = sm_clear_op,
    .iterate = sm_iterate_op,
    .stats = sm_stats,
    .check = sm_check,
};
