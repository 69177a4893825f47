/*
 * cuckoo — libcuckoo's cuckoohash_map (libcuckoo-dev 0.3.1, header only)
 * behind the mapbench vtable, through extern "C" ops.
 *
 * What the library is: concurrent cuckoo hashing (Li, Andersen, Kaminsky,
 * Freedman, "Algorithmic improvements for fast concurrent cuckoo hashing",
 * EuroSys 2014).  2^hashpower buckets of 4 slots; a key lives in one of two
 * buckets chosen by its hash and a partial key (an 8-bit tag of the hash).
 * A table of up to 65536 spinlocks striped over the buckets; every op,
 * lookups included, takes the one or two bucket locks it needs (so readers
 * write lock lines, like `sharded`, but on far more stripes).  An insert
 * that finds both buckets full searches a cuckoo path (BFS) and moves keys
 * along it; when none exists or the load passes the minimum load factor the
 * table doubles (taking every lock).  Erase never shrinks (no-shrink);
 * clear() keeps the buckets (clear-keeps-capacity).  Thread-safe for every
 * op (MB_F_THREAD_SAFE).
 *
 * Resizes run alone (an adapter deviation, trait resize-serialized-by-adapter):
 * libcuckoo 0.3.1 (Debian's) races a resize against concurrent inserts:
 * cuckoopath_search() reads buckets_ without a lock while
 * cuckoo_fast_double() swaps it (TSan reports it in the 4-thread test as
 * soon as the table starts small), and upstream fixed a segfault of that
 * family after 0.3.1 (efficient/libcuckoo 91b9c2d, Nov 2024, "Fix
 * segfault": threads resizing twice under a thread that is locking).  So
 * the adapter holds the table's maximum_hashpower at its current hashpower
 * and every op takes the adapter's resize_lock for reading; an insert that
 * needs to grow gets libcuckoo::maximum_hashpower_exceeded (thrown by
 * check_resize_validity before anything changes), then retakes the lock
 * for writing, lifts the limit, inserts (growing) with no other op running,
 * and sets the limit to the new hashpower.  The cost is one more atomic
 * read-modify-write per op on the rwlock's shared line, on top of the
 * bucket spinlocks libcuckoo takes anyway.
 *
 * Hash: mb_hash_u64(key, cfg.seed), the suite's hash (trait
 * hash=mb_hash_u64): libstdc++'s std::hash<uint64_t> is the identity, which
 * would give libcuckoo's partial keys (the hash's high byte) almost no
 * entropy for sequential keys.
 *
 * Blueprints: u64 -> u64 only (trait u64-only).
 *
 * Memory: mb_atomic_std_allocator (mb_std_alloc.hpp), a std allocator over
 * the map's mb_alloc, is the map's Allocator; libcuckoo rebinds it for its
 * buckets and for its lock arrays, so every byte goes through the counting
 * allocator (MB_F_OWN_ALLOC); the adapter struct holding the cuckoohash_map object
 * does too.  The byte count is atomic: libcuckoo may allocate from any
 * writer thread.
 *
 * Failure: mb_atomic_std_allocator throws std::bad_alloc when mb_alloc
 * returns NULL; the adapter catches it and returns MB_ENOMEM.  libcuckoo 0.3.1 does NOT
 * leave the table intact when the grow itself fails: cuckoo_fast_double()
 * does `old_buckets_.swap(buckets_); buckets_ = buckets_t(new_hp, ...)`, so
 * when that allocation throws, buckets_ is the (deallocated) previous
 * old_buckets_ and the live data sits in old_buckets_; the next op crashed
 * (found by the allocation-failure sweep once the table started small).
 * Nothing else was changed by then except a larger lock array, which is
 * harmless (more locks than buckets).  So on bad_alloc the adapter swaps
 * the two containers back when buckets_ is deallocated and old_buckets_ is
 * not (reached through the explicit-instantiation access rule, as absl.cc
 * does; see "repair" below), and the sweep proves the result is the
 * unchanged map.  Only an insert that grows can hit this, and it runs with
 * resize_lock held for writing (see "Resizes run alone"), so no other
 * thread sees the table between the throw and the repair.  Tied to libcuckoo 0.3.1: the
 * build fails on another version (MB_LIBCUCKOO_VERSION, from
 * concurrent.cmake) until the repair is re-verified.
 *
 * The capacity hint is passed to the constructor (libcuckoo's reserve); hint 0
 * asks for room for 1 entry, the smallest table, so an empty map starts small
 * as the other maps do (libcuckoo's own default reserves 65536 entries).
 */
#include "mb_std_alloc.hpp"

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>
#include <utility>

#include <libcuckoo/cuckoohash_map.hh>

namespace {

/* The table's allocator: every byte through the map's mb_alloc. */
using cu_alloc = mb_atomic_std_allocator<std::pair<const uint64_t, uint64_t>>;

struct cu_hash {
    uint64_t seed;
    size_t operator()(uint64_t k) const noexcept { return (size_t)mb_hash_u64(k, seed); }
};

using cu_table =
    libcuckoo::cuckoohash_map<uint64_t, uint64_t, cu_hash, std::equal_to<uint64_t>, cu_alloc>;

/* ---- repair: the private bucket containers of a cuckoohash_map --------------- */

#if !defined(MB_LIBCUCKOO_VERSION)
#error "concurrent.cmake passes MB_LIBCUCKOO_VERSION"
#endif
static_assert(sizeof(MB_LIBCUCKOO_VERSION) == sizeof("0.3.1") &&
                  MB_LIBCUCKOO_VERSION[0] == '0' && MB_LIBCUCKOO_VERSION[2] == '3' &&
                  MB_LIBCUCKOO_VERSION[4] == '1',
              "cuckoo.cc repairs cuckoo_fast_double() of libcuckoo 0.3.1; re-verify it");

/* cuckoohash_map's private buckets_t, spelled through the public template */
using cu_buckets = libcuckoo::bucket_container<uint64_t, uint64_t, cu_alloc, uint8_t,
                                               cu_table::slot_per_bucket()>;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-template-friend"
struct cu_buckets_tag {
    using type = cu_buckets cu_table::*;
    friend type cu_member(cu_buckets_tag);
};
struct cu_old_buckets_tag {
    using type = cu_buckets cu_table::*;
    friend type cu_member(cu_old_buckets_tag);
};
#pragma GCC diagnostic pop

template <class Tag, typename Tag::type Member>
struct cu_rob {
    friend typename Tag::type cu_member(Tag) { return Member; }
};
/* access checking does not apply to an explicit instantiation's arguments */
template struct cu_rob<cu_buckets_tag, &cu_table::buckets_>;
template struct cu_rob<cu_old_buckets_tag, &cu_table::old_buckets_>;

/* Puts the live buckets back after a failed cuckoo_fast_double (see the top).
 * PRECONDITION: no other thread uses the table. */
void cu_repair(cu_table &t)
{
    cu_buckets &cur = t.*cu_member(cu_buckets_tag());
    cu_buckets &old = t.*cu_member(cu_old_buckets_tag());
    if (cur.is_deallocated() && !old.is_deallocated())
        cur.swap(old);
}

struct cu_map {
    mb_atomic_std_state st;
    pthread_rwlock_t resize_lock; /* read: every op; write: an insert that grows */
    size_t initial_hashpower;
    cu_table table;  /* constructed in place by cu_create, after st */
};

uint64_t cu_load(const void *p)
{
    uint64_t x;
    std::memcpy(&x, p, 8);
    return x;
}

}  // namespace

extern "C" {

static void *cu_create(const mb_alloc *a, const mb_map_config *cfg)
{
    if (cfg->key_bytes != 8 || cfg->val_bytes != 8)
        return nullptr;
    void *mem = mb_alloc_bytes(a, sizeof(cu_map), alignof(cu_map));
    if (!mem)
        return nullptr;
    /* the state must hold the allocator before the table allocates */
    cu_map *m = static_cast<cu_map *>(mem);
    new (&m->st) mb_atomic_std_state();
    m->st.alloc = *a;
    try {
        new (&m->table) cu_table(cfg->capacity_hint ? cfg->capacity_hint : 1,
                                 cu_hash{ cfg->seed }, std::equal_to<uint64_t>(),
                                 cu_alloc(&m->st));
    } catch (const std::bad_alloc &) {
        m->st.~mb_atomic_std_state();
        mb_free_bytes(a, mem, sizeof(cu_map), alignof(cu_map));
        return nullptr;
    }
    if (pthread_rwlock_init(&m->resize_lock, nullptr) != 0) {
        m->table.~cu_table();
        m->st.~mb_atomic_std_state();
        mb_free_bytes(a, mem, sizeof(cu_map), alignof(cu_map));
        return nullptr;
    }
    m->initial_hashpower = m->table.hashpower();
    m->table.maximum_hashpower(m->initial_hashpower); /* grows only under the write lock */
    return m;
}

static void cu_destroy(void *mp)
{
    cu_map *m = static_cast<cu_map *>(mp);
    mb_alloc a = m->st.alloc;
    pthread_rwlock_destroy(&m->resize_lock);
    m->table.~cu_table();
    m->st.~mb_atomic_std_state();
    mb_free_bytes(&a, m, sizeof(cu_map), alignof(cu_map));
}

/* An insert that needs to grow: alone, with the hashpower limit lifted.
 * PRECONDITION: resize_lock held for writing. */
static int cu_insert_growing(cu_map *m, uint64_t k, uint64_t v)
{
    int rc;
    m->table.maximum_hashpower(libcuckoo::NO_MAXIMUM_HASHPOWER);
    try {
        rc = m->table.insert_or_assign(k, v) ? MB_INSERTED : MB_REPLACED;
    } catch (const std::bad_alloc &) {
        cu_repair(m->table); /* see "Failure" at the top */
        rc = MB_ENOMEM;
    } catch (const libcuckoo::load_factor_too_low &) {
        rc = MB_ENOMEM; /* cuckoo paths failed at a low load: a hash too weak to place k */
    }
    m->table.maximum_hashpower(m->table.hashpower());
    return rc;
}

static int cu_insert(void *mp, const void *key, const void *val)
{
    cu_map *m = static_cast<cu_map *>(mp);
    uint64_t k = cu_load(key), v = cu_load(val);
    int rc;
    pthread_rwlock_rdlock(&m->resize_lock);
    try {
        rc = m->table.insert_or_assign(k, v) ? MB_INSERTED : MB_REPLACED;
    } catch (const libcuckoo::maximum_hashpower_exceeded &) {
        rc = -2; /* it must grow: nothing changed; retry alone */
    } catch (const std::bad_alloc &) {
        rc = MB_ENOMEM; /* a cuckoo-path step, not a grow: nothing was swapped */
    } catch (const libcuckoo::load_factor_too_low &) {
        rc = MB_ENOMEM;
    }
    pthread_rwlock_unlock(&m->resize_lock);
    if (rc != -2)
        return rc;
    pthread_rwlock_wrlock(&m->resize_lock);
    rc = cu_insert_growing(m, k, v);
    pthread_rwlock_unlock(&m->resize_lock);
    return rc;
}

static int cu_lookup(void *mp, const void *key, void *val_out)
{
    cu_map *m = static_cast<cu_map *>(mp);
    uint64_t v;
    pthread_rwlock_rdlock(&m->resize_lock);
    bool found = m->table.find(cu_load(key), v);
    pthread_rwlock_unlock(&m->resize_lock);
    if (!found)
        return MB_NOTFOUND;
    if (val_out)
        std::memcpy(val_out, &v, 8);
    return MB_FOUND;
}

static int cu_remove(void *mp, const void *key)
{
    cu_map *m = static_cast<cu_map *>(mp);
    pthread_rwlock_rdlock(&m->resize_lock);
    bool found = m->table.erase(cu_load(key));
    pthread_rwlock_unlock(&m->resize_lock);
    return found ? MB_FOUND : MB_NOTFOUND;
}

static void cu_clear(void *mp)
{
    cu_map *m = static_cast<cu_map *>(mp);
    pthread_rwlock_rdlock(&m->resize_lock);
    m->table.clear();
    pthread_rwlock_unlock(&m->resize_lock);
}

/* PRECONDITION: fn does not call into this map (every lock is held). */
static int cu_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    cu_map *m = static_cast<cu_map *>(mp);
    int r = 0;
    pthread_rwlock_rdlock(&m->resize_lock);
    {
        auto lt = m->table.lock_table();
        for (auto it = lt.begin(); it != lt.end() && r == 0; ++it)
            r = fn(ud, &it->first, &it->second);
    }
    pthread_rwlock_unlock(&m->resize_lock);
    return r;
}

static void cu_stats(const void *mp, mb_map_stats *out)
{
    cu_map *m = const_cast<cu_map *>(static_cast<const cu_map *>(mp)); /* the lock is written */
    mb_stats_init(out);
    pthread_rwlock_rdlock(&m->resize_lock);
    out->count = m->table.size();
    out->capacity = m->table.capacity();
    out->grow_events = m->table.hashpower() - m->initial_hashpower; /* each grow doubles */
    out->bytes = sizeof(cu_map) + m->st.table_bytes.load(std::memory_order_relaxed);
    pthread_rwlock_unlock(&m->resize_lock);
}

static const char *cu_check(const void *mp)
{
    cu_map *m = const_cast<cu_map *>(static_cast<const cu_map *>(mp));
    size_t seen = 0;
    const char *why = nullptr;
    pthread_rwlock_rdlock(&m->resize_lock);
    if (m->table.maximum_hashpower() != m->table.hashpower())
        why = "the hashpower limit is not the current hashpower (resizes must run alone)";
    if (!why) {
        auto lt = m->table.lock_table();
        for (auto it = lt.begin(); it != lt.end() && !why; ++it) {
            seen++;
            if (lt.count(it->first) != 1)
                why = "an iterated key is not found exactly once";
        }
        if (!why && seen != lt.size())
            why = "size() does not match the entries iterated";
        if (!why && lt.bucket_count() != (size_t)1 << lt.hashpower())
            why = "bucket_count is not 2^hashpower";
    }
    pthread_rwlock_unlock(&m->resize_lock);
    return why;
}

extern const mb_map_ops mb_cuckoo_ops;
const mb_map_ops mb_cuckoo_ops = {
    "cuckoo",
    "peer",
    "thread-safe,lock-striped-buckets,readers-take-bucket-locks,cuckoo-paths,u64-only,"
    "resize-serialized-by-adapter,"
    "hash=mb_hash_u64,no-shrink,clear-keeps-capacity",
    MB_F_THREAD_SAFE | MB_F_OWN_ALLOC,
    cu_create,
    cu_destroy,
    cu_insert,
    cu_lookup,
    cu_remove,
    cu_clear,
    cu_iterate,
    cu_stats,
    cu_check,
};

}  // extern "C"
