/*
 * boost_flat — boost::unordered_flat_map (libboost1.81-dev, Boost 1.81) behind
 * the mapbench vtable, through extern "C" ops.  The speed anchor.
 *
 * What the library is: open addressing over groups of 15 slots.  Each group
 * has a 16-byte metadata word: 15 reduced-hash bytes (one per slot, 0 = empty,
 * 1 = sentinel, else the hash's low byte mapped into [2, 255]) and one
 * overflow byte, whose bit (hash % 8) is set when an element with that hash
 * had to move past this group.  A lookup starts at group (hash >> shift),
 * matches the 15 bytes with one SSE2 compare, and stops at the first group
 * whose overflow bit for the hash is clear: misses end early without
 * tombstones.  Groups are probed quadratically.  Capacity = 15 * 2^k - 1
 * (the last slot of the last group is the sentinel); elements and metadata
 * share one allocation.  Max load 0.875 (100% for up to 29 slots).
 *
 * Delete: the slot's byte goes back to 0 (no tombstone), but overflow bits
 * stay set until the next rehash, so the library lowers its max load a little
 * on each erase of an element that may have overflowed ("anti-drift",
 * Boost 1.81's recover_slot); a rehash then comes earlier (trait
 * "anti-drift").  Never shrinks (trait "no-shrink"); clear() keeps the
 * arrays (trait "clear-keeps-capacity").
 *
 * Hash: boost::hash<K>, the library's default (identity for uint64_t, which
 * boost::unordered_flat_map then mixes with its mulx post-mixer because the
 * hash is not marked avalanching; hash_range for the byte-array keys):
 * unseeded, cfg.seed ignored (traits "boost-hash", "unseeded").
 *
 * Blueprints: all six.  Keys: uint64_t or std::array<unsigned char, 16/48>;
 * values uint64_t or a 64-byte struct; one template instantiation each,
 * picked at create time through a small per-map vtable.
 *
 * Memory: the allocator template parameter is mb_std_allocator over the
 * map's mb_alloc, so every byte of the table goes through the counting
 * allocator (MB_F_OWN_ALLOC); the adapter struct holding the map object too.
 *
 * Failure: mb_std_allocator throws std::bad_alloc on NULL; Boost documents
 * the strong guarantee for single-element insertion ("if an exception is
 * thrown by an operation other than a call to hasher the function has no
 * effect": unchecked_emplace_with_rehash builds the new arrays and inserts
 * into them before releasing the old ones), so the adapter only catches it
 * and returns MB_ENOMEM.  The allocation-failure sweep checks that claim.
 *
 * The capacity hint is passed to reserve().
 */
#include "mb_peer_adapter.hpp"

#include <functional>
#include <utility>

#include <boost/container_hash/hash.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/version.hpp>

#if BOOST_VERSION < 108100
#error "boost_flat needs Boost 1.81 or later (boost::unordered_flat_map)"
#endif

namespace {

struct bf_map;
using bf_vtable = mb_peer_vtable<bf_map>;

/* The part of every map the extern "C" ops read. */
struct bf_map {
    mb_std_state st;
    const bf_vtable *vt;
    size_t grow_events;  /* capacity increases seen by insert */
};

template <class K, class V>
struct bf_typed : bf_map {
    using value_type = std::pair<const K, V>;
    using map_type = boost::unordered_flat_map<K, V, boost::hash<K>, std::equal_to<K>,
                                               mb_std_allocator<value_type>>;
    static constexpr size_t group_slots = 15; /* boost's group15 */
    static constexpr size_t group_bytes = 16; /* its metadata word */

    map_type map;

    bf_typed() : map(mb_std_allocator<value_type>(&st)) {}

    static bf_typed *of(bf_map *m) { return static_cast<bf_typed *>(m); }
    static const bf_typed *of(const bf_map *m) { return static_cast<const bf_typed *>(m); }

    static const bf_vtable vtable;

    /* Returns a new map, or NULL when an allocation fails. */
    static bf_map *create(const mb_alloc *a, size_t hint)
    {
        void *mem = mb_alloc_bytes(a, sizeof(bf_typed), alignof(bf_typed));
        if (!mem)
            return nullptr;
        bf_typed *m = new (mem) bf_typed();
        m->st.alloc = *a;
        m->st.table_bytes = 0;
        m->st.alloc_calls = 0;
        m->vt = &vtable;
        m->grow_events = 0;
        if (hint) {
            try {
                m->map.reserve(hint);
            } catch (const std::bad_alloc &) {
                destroy(m);
                return nullptr;
            }
        }
        return m;
    }

    static void destroy(bf_map *mp)
    {
        bf_typed *m = of(mp);
        mb_alloc a = m->st.alloc;
        m->~bf_typed();
        mb_free_bytes(&a, m, sizeof(bf_typed), alignof(bf_typed));
    }

    static int insert(bf_map *mp, const void *key, const void *val)
    {
        bf_typed *m = of(mp);
        size_t cap = m->map.bucket_count();
        try {
            /* try_emplace: one probe; on a hit the value is overwritten below. */
            auto r = m->map.try_emplace(mb_load<K>(key), mb_load<V>(val));
            if (!r.second) {
                r.first->second = mb_load<V>(val);
                return MB_REPLACED;
            }
        } catch (const std::bad_alloc &) {
            return MB_ENOMEM; /* strong guarantee: see "Failure" at the top */
        }
        if (cap && m->map.bucket_count() > cap) /* the first array is not a grow */
            m->grow_events++;
        return MB_INSERTED;
    }

    static int lookup(bf_map *mp, const void *key, void *val_out)
    {
        return mb_pairs_lookup(of(mp)->map, mb_load<K>(key), val_out);
    }

    static int remove(bf_map *mp, const void *key)
    {
        return of(mp)->map.erase(mb_load<K>(key)) ? MB_FOUND : MB_NOTFOUND;
    }

    static void clear(bf_map *mp) { of(mp)->map.clear(); }

    static int iterate(bf_map *mp, mb_visit_fn fn, void *ud)
    {
        return mb_pairs_iterate(of(mp)->map, fn, ud);
    }

    static void stats(const bf_map *mp, mb_map_stats *out)
    {
        const bf_typed *m = of(mp);
        mb_stats_init(out);
        out->count = m->map.size();
        out->capacity = m->map.bucket_count();
        out->grow_events = m->grow_events;
        out->bytes = sizeof(bf_typed) + m->st.table_bytes;
    }

    /* Bytes of boost's one buffer for a capacity, as table_arrays::buffer_size
     * computes it: the elements (less the sentinel slot), the groups plus
     * padding to align them, rounded up to whole value_types. */
    static size_t buffer_bytes_for(size_t cap)
    {
        size_t groups = (cap + 1) / group_slots;
        size_t raw = sizeof(value_type) * (groups * group_slots - 1) +
                     group_bytes * (groups + 1) - 1;
        return (raw + sizeof(value_type) - 1) / sizeof(value_type) * sizeof(value_type);
    }

    static const char *check(const bf_map *mp)
    {
        const bf_typed *m = of(mp);
        size_t cap = m->map.bucket_count();

        if (cap != 0) {
            size_t groups = (cap + 1) / group_slots;
            if ((cap + 1) % group_slots != 0 || (groups & (groups - 1)) != 0)
                return "capacity is not 15 * 2^k - 1";
        }
        if (m->map.size() > cap)
            return "size exceeds capacity";
        if (m->st.table_bytes != (cap ? buffer_bytes_for(cap) : 0))
            return "bytes held do not match the capacity's buffer";
        return mb_pairs_walk(m->map);
    }
};

template <class K, class V>
const bf_vtable bf_typed<K, V>::vtable = {
    destroy, insert, lookup, remove, clear, iterate, stats, check,
};

/* ---- ops ------------------------------------------------------------------ */

bf_map *bf_of(void *m) { return static_cast<bf_map *>(m); }

/* The hot ops call the u64 -> u64 instantiation directly (inlined) when the
 * map is one, and go through the per-map vtable otherwise: one compare
 * instead of a second indirect call (bench/adapter_tax measures the tax). */
using bf_u64 = bf_typed<uint64_t, uint64_t>;
bool bf_is_u64(const bf_map *m) { return m->vt == &bf_u64::vtable; }

int bf_insert(void *m, const void *key, const void *val)
{
    if (bf_is_u64(bf_of(m)))
        return bf_u64::insert(bf_of(m), key, val);
    return bf_of(m)->vt->insert(bf_of(m), key, val);
}
int bf_lookup(void *m, const void *key, void *val_out)
{
    if (bf_is_u64(bf_of(m)))
        return bf_u64::lookup(bf_of(m), key, val_out);
    return bf_of(m)->vt->lookup(bf_of(m), key, val_out);
}
int bf_remove(void *m, const void *key)
{
    if (bf_is_u64(bf_of(m)))
        return bf_u64::remove(bf_of(m), key);
    return bf_of(m)->vt->remove(bf_of(m), key);
}

}  // namespace

extern "C" const mb_map_ops mb_boost_flat_ops = {
    "boost_flat",
    "peer",
    "swiss-like,group15,overflow-bits,no-tombstones,anti-drift,boost-hash,unseeded,"
    "no-shrink,clear-keeps-capacity",
    MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_OWN_ALLOC,
    mb_peer_create<bf_typed>,
    mb_vt_destroy<bf_map>,
    bf_insert,
    bf_lookup,
    bf_remove,
    mb_vt_clear<bf_map>,
    mb_vt_iterate<bf_map>,
    mb_vt_stats<bf_map>,
    mb_vt_check<bf_map>,
};
