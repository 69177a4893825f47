/*
 * tbb — oneTBB's tbb::concurrent_hash_map (libtbb-dev 2021.8) behind the
 * mapbench vtable, through extern "C" ops.
 *
 * What the library is: a chained hash table whose bucket array grows by
 * segments (segment s holds 2^s buckets, so growing never moves a bucket:
 * it allocates the next segment and splits buckets lazily, "rehashing" one
 * bucket the first time it is visited).  Each bucket has a spin_rw_mutex;
 * every node (one per entry, allocated separately) carries its own
 * reader-writer lock, which the accessor holds while the caller looks at the
 * entry.  A lookup takes the bucket's lock for reading and the node's lock
 * for reading: two atomic RMWs on shared lines per lookup, so readers do
 * write lines (trait readers-take-rw-locks).  Erase frees the node;
 * buckets never shrink (no-shrink); clear() frees every node and every
 * segment but the embedded first ones (clear-frees).  Thread-safe for every
 * op (MB_F_THREAD_SAFE).
 *
 * Hash: mb_hash_u64(key, cfg.seed) through the HashCompare (trait
 * hash=mb_hash_u64); TBB's default tbb_hash_compare hashes an integer by a
 * multiply, unseeded.
 *
 * Blueprints: u64 -> u64 only (trait u64-only).
 *
 * Memory: mb_atomic_std_allocator (mb_std_alloc.hpp), a std allocator over
 * the map's mb_alloc, is the map's Allocator; TBB rebinds it for nodes and
 * bucket segments, so every byte goes through the counting allocator
 * (MB_F_OWN_ALLOC); the adapter struct holding the table object does too.
 * The count is atomic: any thread may allocate.
 *
 * Failure: mb_atomic_std_allocator throws std::bad_alloc when mb_alloc
 * returns NULL; the adapter catches it.  A failed node allocation leaves the
 * table as it was: MB_ENOMEM.  But TBB links the new node first and only
 * then enables the next bucket segment when the table passed its load, and that
 * allocation may throw with the node already in (found by the allocation-
 * failure sweep: the key was present after an MB_ENOMEM).  The table is
 * valid then (the old mask stays; the next insert retries the segment), so
 * on bad_alloc the adapter looks the key up: found means this call inserted
 * it (only a new node allocates), and it stores the value (the node was
 * built with a default one) and returns MB_INSERTED.
 *
 * The capacity hint is passed to the constructor (TBB's initial buckets).
 */
#include "mb_std_alloc.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>
#include <utility>

#include <oneapi/tbb/concurrent_hash_map.h>

namespace {

/* The table's allocator: every byte through the map's mb_alloc. */
using tb_alloc = mb_atomic_std_allocator<std::pair<const uint64_t, uint64_t>>;

struct tb_hash_compare {
    uint64_t seed;
    size_t hash(uint64_t k) const noexcept { return (size_t)mb_hash_u64(k, seed); }
    bool equal(uint64_t a, uint64_t b) const noexcept { return a == b; }
};

using tb_table = tbb::concurrent_hash_map<uint64_t, uint64_t, tb_hash_compare, tb_alloc>;

struct tb_map {
    mb_atomic_std_state st;
    size_t initial_buckets;
    size_t grow_events;      /* bucket_count increases seen by insert (atomic) */
    tb_table table;          /* constructed in place by tb_create, after st */
};

uint64_t tb_load(const void *p)
{
    uint64_t x;
    std::memcpy(&x, p, 8);
    return x;
}

}  // namespace

extern "C" {

static void *tb_create(const mb_alloc *a, const mb_map_config *cfg)
{
    if (cfg->key_bytes != 8 || cfg->val_bytes != 8)
        return nullptr;
    void *mem = mb_alloc_bytes(a, sizeof(tb_map), alignof(tb_map));
    if (!mem)
        return nullptr;
    tb_map *m = static_cast<tb_map *>(mem);
    new (&m->st) mb_atomic_std_state();
    m->st.alloc = *a;
    m->grow_events = 0;
    try {
        new (&m->table) tb_table(cfg->capacity_hint, tb_hash_compare{ cfg->seed },
                                 tb_alloc(&m->st));
    } catch (const std::bad_alloc &) {
        m->st.~mb_atomic_std_state();
        mb_free_bytes(a, mem, sizeof(tb_map), alignof(tb_map));
        return nullptr;
    }
    m->initial_buckets = m->table.bucket_count();
    return m;
}

static void tb_destroy(void *mp)
{
    tb_map *m = static_cast<tb_map *>(mp);
    mb_alloc a = m->st.alloc;
    m->table.~tb_table();
    m->st.~mb_atomic_std_state();
    mb_free_bytes(&a, m, sizeof(tb_map), alignof(tb_map));
}

static int tb_insert(void *mp, const void *key, const void *val)
{
    tb_map *m = static_cast<tb_map *>(mp);
    size_t buckets = m->table.bucket_count();
    bool inserted;
    try {
        tb_table::accessor acc;
        inserted = m->table.insert(acc, tb_load(key));
        acc->second = tb_load(val);
    } catch (const std::bad_alloc &) {
        /* the node went in and only the next segment failed: see "Failure" */
        tb_table::accessor acc;
        if (!m->table.find(acc, tb_load(key)))
            return MB_ENOMEM;
        acc->second = tb_load(val);
        return MB_INSERTED;
    }
    if (m->table.bucket_count() > buckets)
        __atomic_add_fetch(&m->grow_events, 1, __ATOMIC_RELAXED);
    return inserted ? MB_INSERTED : MB_REPLACED;
}

static int tb_lookup(void *mp, const void *key, void *val_out)
{
    tb_map *m = static_cast<tb_map *>(mp);
    tb_table::const_accessor acc;
    if (!m->table.find(acc, tb_load(key)))
        return MB_NOTFOUND;
    if (val_out)
        std::memcpy(val_out, &acc->second, 8);
    return MB_FOUND;
}

static int tb_remove(void *mp, const void *key)
{
    return static_cast<tb_map *>(mp)->table.erase(tb_load(key)) ? MB_FOUND : MB_NOTFOUND;
}

static void tb_clear(void *mp)
{
    static_cast<tb_map *>(mp)->table.clear();
}

/* PRECONDITION: no other thread uses the map (TBB's iterators are not
 * concurrency-safe), and fn does not call into it. */
static int tb_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    tb_map *m = static_cast<tb_map *>(mp);
    int r = 0;
    for (auto it = m->table.begin(); it != m->table.end() && r == 0; ++it)
        r = fn(ud, &it->first, &it->second);
    return r;
}

static void tb_stats(const void *mp, mb_map_stats *out)
{
    const tb_map *m = static_cast<const tb_map *>(mp);
    mb_stats_init(out);
    out->count = m->table.size();
    out->capacity = m->table.bucket_count();
    out->grow_events = __atomic_load_n(&m->grow_events, __ATOMIC_RELAXED);
    out->bytes = sizeof(tb_map) + m->st.table_bytes.load(std::memory_order_relaxed);
}

/* PRECONDITION: as iterate (TBB's iterators are not concurrency-safe).
 * A lookup splits the buckets it visits that are still pending a lazy
 * rehash, which would move nodes under the iterator; so check first
 * finishes every pending split (rehash(0): no allocation, same contents),
 * which is the one thing it changes. */
static const char *tb_check(const void *mp)
{
    tb_map *m = const_cast<tb_map *>(static_cast<const tb_map *>(mp));
    size_t seen = 0;
    m->table.rehash(0);
    for (auto it = m->table.begin(); it != m->table.end(); ++it) {
        seen++;
        if (m->table.count(it->first) != 1)
            return "an iterated key is not found exactly once";
    }
    if (seen != m->table.size())
        return "size() does not match the entries iterated";
    size_t b = m->table.bucket_count();
    if (b & (b - 1))
        return "bucket_count is not a power of two";
    return nullptr;
}

extern const mb_map_ops mb_tbb_ops;
const mb_map_ops mb_tbb_ops = {
    "tbb",
    "peer",
    "thread-safe,chained,segment-growth,lazy-bucket-split,readers-take-rw-locks,u64-only,"
    "hash=mb_hash_u64,no-shrink,clear-frees",
    MB_F_THREAD_SAFE | MB_F_OWN_ALLOC,
    tb_create,
    tb_destroy,
    tb_insert,
    tb_lookup,
    tb_remove,
    tb_clear,
    tb_iterate,
    tb_stats,
    tb_check,
};

}  // extern "C"
