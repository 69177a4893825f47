/*
 * absl — absl::flat_hash_map (libabsl-dev 20220623) behind the mapbench
 * vtable, through extern "C" ops.
 *
 * What the library is: a Swiss table.  One allocation holds capacity + 1 + 15
 * control bytes (EMPTY / DELETED / SENTINEL, or the 7-bit H2 of a full slot)
 * followed by the slots (std::pair<const K, V>, unboxed).  Capacity is 2^k - 1;
 * probing scans 16 control bytes at a time with SSE2 from H1 (the hash's high
 * bits salted with the table address), triangular steps between groups.
 * Max load 7/8.  Erase leaves a DELETED marker only if the probe group around
 * the slot was ever full, else the slot becomes EMPTY again.  An insert that
 * finds no room rehashes in place (dropping tombstones) when the table is at
 * most 25/32 full, else doubles.  Erase never shrinks (trait "no-shrink");
 * clear() frees the array when the capacity exceeds 127, else keeps it
 * (trait "clear-frees-large").
 *
 * Hash: absl::Hash<K> — absl's own hash, which is the point of this peer
 * (trait "absl-hash").  Its seed is the address of a global in libabsl, so it
 * changes with ASLR from process to process; cfg.seed is ignored (trait
 * "aslr-seeded").
 *
 * Blueprints: all six.  Keys: uint64_t, or std::array<unsigned char, 16/48>
 * (absl::Hash hashes those as bytes).  Values: uint64_t, or a 64-byte struct.
 * Each (K, V) is one template instantiation; a small per-map table of
 * function pointers picks it at create time.
 *
 * Memory: the map's allocator template parameter is mb_std_allocator
 * (mb_std_alloc.hpp), a std allocator over the map's mb_alloc, so every byte of the table goes through
 * the counting allocator (flag MB_F_OWN_ALLOC); the adapter struct, which
 * holds the flat_hash_map object itself, does too.
 *
 * Failure: mb_std_allocator throws std::bad_alloc when mb_alloc returns NULL; the
 * adapter catches it and returns MB_ENOMEM.  absl 20220623 does NOT leave the
 * map unchanged by itself: raw_hash_set::resize() stores the new capacity_
 * before initialize_slots() allocates, so after the throw capacity_ is the new
 * value while ctrl_/slots_ are still the old array (abseil issue #1581: "hash
 * maps and hash sets invoke undefined behavior on allocator exceptions").
 * Nothing else is touched before that allocation (growth_left, size_, ctrl_,
 * slots_ are set after it; sampling is off for non-std allocators).  So the
 * adapter remembers capacity() before the insert and, on bad_alloc, writes it
 * back into the private capacity_ member (reached through the
 * explicit-instantiation access rule, see "repair" below).  The failure sweep
 * proves the result is the unchanged map.  This is tied to this absl release:
 * the build fails on any other ABSL_LTS_RELEASE_VERSION until the repair is
 * re-verified.
 *
 * The capacity hint is passed to reserve().
 */
#include "mb_peer_adapter.hpp"

#include <functional>
#include <utility>

#include <absl/base/config.h>
#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>

#if !defined(ABSL_LTS_RELEASE_VERSION) || ABSL_LTS_RELEASE_VERSION != 20220623
#error "absl.cc repairs raw_hash_set::resize() of absl 20220623; re-verify it for this release"
#endif

namespace {

/* ---- repair: the private capacity_ of a raw_hash_set --------------------------- */

/* Access checking does not apply to the template arguments of an explicit
 * instantiation ([temp.spec.general]/6), so ab_rob<Tag, &Set::capacity_> may
 * name the private member, and its friend hands the pointer-to-member out. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-template-friend"
template <class Set>
struct ab_capacity_tag {
    using type = size_t Set::*;
    friend type ab_member(ab_capacity_tag);
};
#pragma GCC diagnostic pop

template <class Tag, typename Tag::type Member>
struct ab_rob {
    friend typename Tag::type ab_member(Tag) { return Member; }
};

/* ---- one instantiation per blueprint ---------------------------------------- */

struct ab_map;
using ab_vtable = mb_peer_vtable<ab_map>;

/* The part of every map the extern "C" ops read. */
struct ab_map {
    mb_std_state st;
    const ab_vtable *vt;
    size_t grow_events;  /* capacity increases seen by insert */
};

template <class K, class V>
struct ab_typed : ab_map {
    using value_type = std::pair<const K, V>;
    using map_type =
        absl::flat_hash_map<K, V, absl::Hash<K>, std::equal_to<K>, mb_std_allocator<value_type>>;
    using set_type = typename map_type::raw_hash_set;  /* the base holding capacity_ */

    map_type map;

    ab_typed() : map(mb_std_allocator<value_type>(&st)) {}

    static ab_typed *of(ab_map *m) { return static_cast<ab_typed *>(m); }
    static const ab_typed *of(const ab_map *m) { return static_cast<const ab_typed *>(m); }

    /* Puts back the capacity resize() stored before its allocation threw. */
    void restore_capacity(size_t cap)
    {
        static_cast<set_type &>(map).*ab_member(ab_capacity_tag<set_type>()) = cap;
    }

    static const ab_vtable vtable;

    /* Returns a new map, or NULL when an allocation fails. */
    static ab_map *create(const mb_alloc *a, size_t hint)
    {
        void *mem = mb_alloc_bytes(a, sizeof(ab_typed), alignof(ab_typed));
        if (!mem)
            return nullptr;
        ab_typed *m = new (mem) ab_typed();
        m->st.alloc = *a;
        m->st.table_bytes = 0;
        m->st.alloc_calls = 0;
        m->vt = &vtable;
        m->grow_events = 0;
        if (hint) {
            try {
                m->map.reserve(hint);
            } catch (const std::bad_alloc &) {
                m->restore_capacity(0);
                destroy(m);
                return nullptr;
            }
        }
        return m;
    }

    static void destroy(ab_map *mp)
    {
        ab_typed *m = of(mp);
        mb_alloc a = m->st.alloc;
        m->~ab_typed();
        mb_free_bytes(&a, m, sizeof(ab_typed), alignof(ab_typed));
    }

    static int insert(ab_map *mp, const void *key, const void *val)
    {
        ab_typed *m = of(mp);
        size_t cap = m->map.capacity();
        try {
            auto r = m->map.try_emplace(mb_load<K>(key), mb_load<V>(val));
            if (!r.second) {
                r.first->second = mb_load<V>(val);
                return MB_REPLACED;
            }
        } catch (const std::bad_alloc &) {
            m->restore_capacity(cap);  /* see "Failure" at the top */
            return MB_ENOMEM;
        }
        if (cap && m->map.capacity() > cap) /* the first array is not a grow */
            m->grow_events++;
        return MB_INSERTED;
    }

    static int lookup(ab_map *mp, const void *key, void *val_out)
    {
        return mb_pairs_lookup(of(mp)->map, mb_load<K>(key), val_out);
    }

    static int remove(ab_map *mp, const void *key)
    {
        return of(mp)->map.erase(mb_load<K>(key)) ? MB_FOUND : MB_NOTFOUND;
    }

    static void clear(ab_map *mp) { of(mp)->map.clear(); }

    static int iterate(ab_map *mp, mb_visit_fn fn, void *ud)
    {
        return mb_pairs_iterate(of(mp)->map, fn, ud);
    }

    static void stats(const ab_map *mp, mb_map_stats *out)
    {
        const ab_typed *m = of(mp);
        mb_stats_init(out);
        out->count = m->map.size();
        out->capacity = m->map.capacity();
        out->grow_events = m->grow_events;
        out->bytes = sizeof(ab_typed) + m->st.table_bytes;
    }

    static const char *check(const ab_map *mp)
    {
        const ab_typed *m = of(mp);
        size_t cap = m->map.capacity();

        if (cap != 0 && ((cap + 1) & cap) != 0)
            return "capacity is not 2^k - 1";
        if (m->map.size() > cap)
            return "size exceeds capacity";
        if (cap == 0 ? m->st.table_bytes != 0
                     : m->st.table_bytes != absl::container_internal::AllocSize(
                                                cap, sizeof(value_type), alignof(value_type)))
            return "bytes held do not match the capacity's backing array";
        return mb_pairs_walk(m->map);
    }
};

template <class K, class V>
const ab_vtable ab_typed<K, V>::vtable = {
    destroy, insert, lookup, remove, clear, iterate, stats, check,
};

#define AB_BLUEPRINT(K, V) \
    template struct ab_rob<ab_capacity_tag<ab_typed<K, V>::set_type>, \
                           &ab_typed<K, V>::set_type::capacity_>;
AB_BLUEPRINT(uint64_t, uint64_t)
AB_BLUEPRINT(uint64_t, mb_val64)
AB_BLUEPRINT(mb_str_key<16>, uint64_t)
AB_BLUEPRINT(mb_str_key<16>, mb_val64)
AB_BLUEPRINT(mb_str_key<48>, uint64_t)
AB_BLUEPRINT(mb_str_key<48>, mb_val64)
#undef AB_BLUEPRINT

}  // namespace

extern "C" const mb_map_ops mb_absl_ops = {
    "absl",
    "peer",
    "swiss,tombstones,absl-hash,aslr-seeded,no-shrink,clear-frees-large,"
    "oom-repair-capacity",
    MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_OWN_ALLOC,
    mb_peer_create<ab_typed>,
    mb_vt_destroy<ab_map>,
    mb_vt_insert<ab_map>,
    mb_vt_lookup<ab_map>,
    mb_vt_remove<ab_map>,
    mb_vt_clear<ab_map>,
    mb_vt_iterate<ab_map>,
    mb_vt_stats<ab_map>,
    mb_vt_check<ab_map>,
};
