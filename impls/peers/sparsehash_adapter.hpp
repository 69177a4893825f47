/*
 * sparsehash_adapter.hpp — what dense_hash.cc and sparse_hash.cc share: the
 * adapter around google::dense_hash_map / google::sparse_hash_map
 * (libsparsehash-dev 2.0.3).  Each .cc file includes this once, states its
 * map's design at its top and defines its mb_map_ops.
 *
 * Reserved keys.  Both libraries take keys out of the key space: dense_hash
 * needs an "empty" and a "deleted" key, sparse_hash a "deleted" key, and
 * those keys can then never be stored.  The contract says every key is
 * storable, so the adapter does what a user with the same need does: it
 * reserves the top keys (u64: UINT64_MAX, then UINT64_MAX - 1; byte keys:
 * all 0xff, then all 0xff but the last byte 0xfe) and keeps an entry for
 * such a key beside the table, in one of two side slots.  Every op pays one
 * compare for that (for u64 keys, k >= UINT64_MAX - 1).
 *
 * Hash: the library's default for uint64_t, std::hash<uint64_t> (libstdc++:
 * the identity), which is what a user gets; the tables mask it to a power of
 * two (trait "identity-hash").  Byte keys have no std::hash, so they use
 * mb_hash_key with seed 0 (trait "mb-hash-for-byte-keys").  cfg.seed is
 * ignored (trait "unseeded").
 *
 * Shrink: both libraries shrink on the first insert after erases have taken
 * the load under min_load_factor (default 0.4 * max load), whatever
 * cfg.shrink says (trait "shrinks-on-insert"; flag MB_F_SHRINK off: deleting
 * every entry gives nothing back until the next insert).  The defaults are
 * kept on purpose: with min_load_factor(0) the libraries' tombstone purge
 * (resize_delta) doubles the table on every purge, since its "would we be
 * under the shrink threshold after doubling" test always passes; a churn of
 * 3000 live keys then held 65536 buckets after 30000 ops and kept doubling.
 *
 * Memory: the allocator template parameter is mb_std_allocator over the
 * map's mb_alloc (MB_F_OWN_ALLOC).  NB: sparsetable grows a group in place
 * with realloc only under its own libc_allocator_with_realloc; with any other
 * allocator every insert into a group allocates n + 1 slots, copies, and
 * frees n (sparsetable set_aux(false_type)): the price of counting its bytes.
 *
 * The capacity hint is the constructor's expected_max_items_in_table.
 */
#ifndef MB_SPARSEHASH_ADAPTER_HPP
#define MB_SPARSEHASH_ADAPTER_HPP

#include "mb_peer_adapter.hpp"

#include <functional>
#include <type_traits>
#include <utility>

#include <sparsehash/dense_hash_map>
#include <sparsehash/sparse_hash_map>

namespace {

/* Hash for the byte-array keys (std::hash has none). */
struct sh_bytes_hash {
    template <size_t N>
    size_t operator()(const mb_str_key<N> &k) const
    {
        return (size_t)mb_hash_key(k.data(), N, 0);
    }
};

template <class K>
using sh_hash = typename std::conditional<std::is_same<K, uint64_t>::value, std::hash<uint64_t>,
                                          sh_bytes_hash>::type;

/* The two reserved keys: index 0 and 1. */
template <class K>
struct sh_reserved;

template <>
struct sh_reserved<uint64_t> {
    static uint64_t key(int i) { return UINT64_MAX - (uint64_t)i; }
    /* Returns 0 or 1 for a reserved key, -1 for an ordinary one. */
    static int index(uint64_t k) { return k >= UINT64_MAX - 1 ? (int)(UINT64_MAX - k) : -1; }
};

template <size_t N>
struct sh_reserved<mb_str_key<N>> {
    static mb_str_key<N> key(int i)
    {
        mb_str_key<N> k;
        k.fill(0xff);
        k[N - 1] = (unsigned char)(0xff - i);
        return k;
    }
    static int index(const mb_str_key<N> &k)
    {
        for (size_t i = 0; i + 1 < N; i++)
            if (k[i] != 0xff)
                return -1;
        return k[N - 1] == 0xff ? 0 : k[N - 1] == 0xfe ? 1 : -1;
    }
};

/* ---- private access: sparse_hash_map::rep, its num_deleted and settings ---- */

/* Access checking does not apply to the template arguments of an explicit
 * instantiation ([temp.spec.general]/6), so sh_rob<Tag, &C::member> may name
 * a private member, and its friend hands the pointer-to-member out.  (The
 * same device as absl.cc's repair; auto because the members' types are
 * private typedefs.) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-template-friend"
template <class C>
struct sh_rep_tag {
    friend auto sh_member(sh_rep_tag);
};
template <class C>
struct sh_deleted_tag {
    friend auto sh_member(sh_deleted_tag);
};
template <class C>
struct sh_settings_tag {
    friend auto sh_member(sh_settings_tag);
};
#pragma GCC diagnostic pop

template <class Tag, auto Member>
struct sh_rob {
    friend auto sh_member(Tag) { return Member; }
};

/* ---- the adapter --------------------------------------------------------------- */

struct sh_map;
using sh_vtable = mb_peer_vtable<sh_map>;

/* The part of every map the extern "C" ops read. */
struct sh_map {
    mb_std_state st;
    const sh_vtable *vt;
    size_t grow_events;        /* bucket-count increases */
    size_t shrink_events;      /* bucket-count decreases (the library's shrink-on-insert) */
    size_t unpredicted_grows;  /* sparse: resizes the library did itself (check() flags them) */
};

enum sh_kind { SH_DENSE, SH_SPARSE };

template <sh_kind Kind, class K, class V>
using sh_map_type = typename std::conditional<
    Kind == SH_DENSE,
    google::dense_hash_map<K, V, sh_hash<K>, std::equal_to<K>,
                           mb_std_allocator<std::pair<const K, V>>>,
    google::sparse_hash_map<K, V, sh_hash<K>, std::equal_to<K>,
                            mb_std_allocator<std::pair<const K, V>>>>::type;

/* Opens sh_map_type<KIND, K, V>::rep and its hashtable's num_deleted and
 * settings (a .cc file names each blueprint it builds once, at namespace
 * scope). */
#define SH_BLUEPRINT(KIND, K, V)                                                        \
    template struct sh_rob<sh_rep_tag<sh_map_type<KIND, K, V>>,                         \
                           &sh_map_type<KIND, K, V>::rep>;                              \
    template struct sh_rob<sh_deleted_tag<sh_map_type<KIND, K, V>::ht>,                 \
                           &sh_map_type<KIND, K, V>::ht::num_deleted>;           \
    template struct sh_rob<sh_settings_tag<sh_map_type<KIND, K, V>::ht>,                \
                           &sh_map_type<KIND, K, V>::ht::settings>;

template <sh_kind Kind, class K, class V>
struct sh_typed : sh_map {
    using value_type = std::pair<const K, V>;
    using alloc_type = mb_std_allocator<value_type>;
    using map_type = sh_map_type<Kind, K, V>;
    using size_type = typename map_type::size_type;

    map_type map;
    bool side_used[2];  /* an entry for sh_reserved<K>::key(i) is held beside the table */
    V side_val[2];

    /* The base (with the allocator state) is set before map, whose
     * constructor may allocate already. */
    sh_typed(const mb_alloc *a, size_t hint)
        : sh_map{{*a, 0, 0}, &vtable, 0, 0, 0},
          map(hint, sh_hash<K>(), std::equal_to<K>(), alloc_type(&st)),
          side_used{false, false}
    {
    }

    static sh_typed *of(sh_map *m) { return static_cast<sh_typed *>(m); }
    static const sh_typed *of(const sh_map *m) { return static_cast<const sh_typed *>(m); }

    static const sh_vtable vtable;

    /* Sets the reserved keys.  dense_hash's
     * set_empty_key allocates the first array: may throw std::bad_alloc. */
    static void configure(map_type &mp)
    {
        if constexpr (Kind == SH_DENSE) {
            mp.set_empty_key(sh_reserved<K>::key(0));
            mp.set_deleted_key(sh_reserved<K>::key(1));
        } else {
            mp.set_deleted_key(sh_reserved<K>::key(0));
        }
    }

    /* Returns a new map, or NULL when an allocation fails. */
    static sh_map *create(const mb_alloc *a, size_t hint)
    {
        void *mem = mb_alloc_bytes(a, sizeof(sh_typed), alignof(sh_typed));
        if (!mem)
            return nullptr;
        sh_typed *m;
        try {
            m = new (mem) sh_typed(a, hint);
        } catch (const std::bad_alloc &) {
            mb_free_bytes(a, mem, sizeof(sh_typed), alignof(sh_typed));
            return nullptr;
        }
        try {
            configure(m->map);
        } catch (const std::bad_alloc &) {
            destroy(m);
            return nullptr;
        }
        return m;
    }

    static void destroy(sh_map *mp)
    {
        sh_typed *m = of(mp);
        mb_alloc a = m->st.alloc;
        m->~sh_typed();
        mb_free_bytes(&a, m, sizeof(sh_typed), alignof(sh_typed));
    }

    /* ---- sparse: growth without the library's destructive move ------------------ */

    /* sparse_hashtable resizes (grow, tombstone purge, shrink) by moving
     * every entry into a new table with a destructive iterator that frees
     * the old groups as it goes (move_from); an allocation failing half way
     * loses entries.  So before an insert of a new key the adapter takes the
     * decisions resize_delta(1) would take (maybe_shrink, then grow; their
     * logic restated from sparsehashtable.h over the library's own settings
     * object) and, when one would resize, resizes first by copying (the copy
     * constructor with a bucket count: copy_from, which leaves the source
     * intact) and swapping.  The library's insert then never resizes; one
     * that did anyway (the hashtable's num_table_copies() moved) is counted in
     * unpredicted_grows and check() reports it.  The table is the same as
     * the library's own resize gives (same sizes, same order, same probe);
     * the peak during a resize is old + new table, not less. */
    auto &rep() { return map.*sh_member(sh_rep_tag<map_type>()); }
    const auto &rep() const { return map.*sh_member(sh_rep_tag<map_type>()); }

    size_type num_deleted() const
    {
        using rep_type = std::remove_cv_t<std::remove_reference_t<decltype(rep())>>;
        return rep().*sh_member(sh_deleted_tag<rep_type>());
    }

    /* Non-const: the settings' min_buckets() is not a const member. */
    auto &settings()
    {
        using rep_type = std::remove_cv_t<std::remove_reference_t<decltype(rep())>>;
        return rep().*sh_member(sh_settings_tag<rep_type>());
    }

    /* Returns the bucket count maybe_shrink() would move to, or 0 for none. */
    size_type sparse_shrink_target()
    {
        auto &set = settings();
        size_type buckets = map.bucket_count(), remain = map.size();
        if (!set.consider_shrink() || set.shrink_threshold() == 0 ||
            remain >= set.shrink_threshold() || buckets <= 32 /* HT_DEFAULT_STARTING_BUCKETS */)
            return 0;
        size_type sz = buckets / 2;
        while (sz > 32 && remain < static_cast<size_type>(sz * set.shrink_factor()))
            sz /= 2;
        return sz;
    }

    /* Returns the bucket count resize_delta(1)'s grow step would move to,
     * or 0 for none (after any shrink has been done). */
    size_type sparse_grow_target()
    {
        auto &set = settings();
        size_type buckets = map.bucket_count();
        size_type nonempty = map.size() + num_deleted();
        if (buckets >= 4 /* HT_MIN_BUCKETS */ && nonempty + 1 <= set.enlarge_threshold())
            return 0;
        size_type needed = set.min_buckets(nonempty + 1, 0);
        if (needed <= buckets)
            return 0;
        size_type resize_to = set.min_buckets(map.size() + 1, buckets);
        if (resize_to < needed &&
            map.size() + 1 >= static_cast<size_type>(set.shrink_size(resize_to * 2)))
            resize_to *= 2;
        return resize_to;
    }

    /* Copies the table into one of target buckets and swaps it in.  May
     * throw bad_alloc, leaving the map as it was. */
    void sparse_copy_resize(size_type target)
    {
        using rep_type = std::remove_reference_t<decltype(rep())>;
        rep_type resized(rep(), target);
        rep().swap(resized); /* resets the thresholds and consider_shrink */
    }

    /* Does what the next insert's resize_delta(1) would do, by copy. */
    void sparse_resize_if_due()
    {
        size_type buckets = map.bucket_count();
        if (size_type target = sparse_shrink_target()) {
            sparse_copy_resize(target);
            if (map.bucket_count() < buckets)
                shrink_events++;
        }
        buckets = map.bucket_count();
        if (size_type target = sparse_grow_target()) {
            sparse_copy_resize(target);
            if (map.bucket_count() > buckets)
                grow_events++;
        }
    }

    /* ---- ops ---------------------------------------------------------------- */

    static int insert(sh_map *mp, const void *key, const void *val)
    {
        sh_typed *m = of(mp);
        K k = mb_load<K>(key);
        int r = sh_reserved<K>::index(k);
        if (r >= 0) {
            bool was = m->side_used[r];
            m->side_used[r] = true;
            m->side_val[r] = mb_load<V>(val);
            return was ? MB_REPLACED : MB_INSERTED;
        }
        try {
            if constexpr (Kind == SH_SPARSE) {
                /* find first: an insert of a present key would still run
                 * resize_delta, and the growth must happen before it. */
                auto it = m->map.find(k);
                if (it != m->map.end()) {
                    it->second = mb_load<V>(val);
                    return MB_REPLACED;
                }
                m->sparse_resize_if_due();
                int copies = m->rep().num_table_copies();
                m->map.insert(value_type(k, mb_load<V>(val)));
                if (m->rep().num_table_copies() != copies)
                    m->unpredicted_grows++;
                return MB_INSERTED;
            } else {
                size_type buckets = m->map.bucket_count();
                auto ins = m->map.insert(value_type(k, mb_load<V>(val)));
                if (m->map.bucket_count() > buckets)
                    m->grow_events++;
                else if (m->map.bucket_count() < buckets)
                    m->shrink_events++;
                if (!ins.second) {
                    ins.first->second = mb_load<V>(val);
                    return MB_REPLACED;
                }
                return MB_INSERTED;
            }
        } catch (const std::bad_alloc &) {
            return MB_ENOMEM; /* dense: resize builds the new table before swapping */
        }
    }

    static int lookup(sh_map *mp, const void *key, void *val_out)
    {
        sh_typed *m = of(mp);
        K k = mb_load<K>(key);
        int r = sh_reserved<K>::index(k);
        if (r >= 0) {
            if (!m->side_used[r])
                return MB_NOTFOUND;
            if (val_out)
                std::memcpy(val_out, &m->side_val[r], sizeof(V));
            return MB_FOUND;
        }
        return mb_pairs_lookup(m->map, k, val_out);
    }

    static int remove(sh_map *mp, const void *key)
    {
        sh_typed *m = of(mp);
        K k = mb_load<K>(key);
        int r = sh_reserved<K>::index(k);
        if (r >= 0) {
            bool was = m->side_used[r];
            m->side_used[r] = false;
            return was ? MB_FOUND : MB_NOTFOUND;
        }
        return m->map.erase(k) ? MB_FOUND : MB_NOTFOUND; /* marks the slot deleted */
    }

    /* dense_hash's clear() frees the array, then allocates the minimum one:
     * a failure there would leave it without a table.  So the adapter builds
     * the same minimum table first (expected 1 item: min_buckets(1, 0) = 4
     * buckets, what clear() picks) and swaps it in; if that allocation fails
     * it empties the table in place (clear_no_resize).  sparse_hash's clear()
     * frees the groups and allocates nothing. */
    static void clear(sh_map *mp)
    {
        sh_typed *m = of(mp);
        m->side_used[0] = m->side_used[1] = false;
        if constexpr (Kind == SH_DENSE) {
            try {
                map_type fresh(1, sh_hash<K>(), std::equal_to<K>(), alloc_type(&m->st));
                configure(fresh);
                m->map.swap(fresh);
            } catch (const std::bad_alloc &) {
                m->map.clear_no_resize();
            }
        } else {
            m->map.clear();
        }
    }

    static int iterate(sh_map *mp, mb_visit_fn fn, void *ud)
    {
        sh_typed *m = of(mp);
        int r = mb_pairs_iterate(m->map, fn, ud);
        if (r)
            return r;
        for (int i = 0; i < 2; i++) {
            if (!m->side_used[i])
                continue;
            K k = sh_reserved<K>::key(i);
            r = fn(ud, &k, &m->side_val[i]);
            if (r)
                return r;
        }
        return r;
    }

    size_t count() const { return map.size() + side_used[0] + side_used[1]; }

    static void stats(const sh_map *mp, mb_map_stats *out)
    {
        const sh_typed *m = of(mp);
        mb_stats_init(out);
        out->count = m->count();
        out->capacity = m->map.bucket_count();
        if constexpr (Kind == SH_SPARSE)
            out->tombstones = m->num_deleted();
        out->grow_events = m->grow_events;
        out->shrink_events = m->shrink_events;
        out->bytes = sizeof(sh_typed) + m->st.table_bytes;
    }

    static const char *check(const sh_map *mp)
    {
        const sh_typed *m = of(mp);
        size_type buckets = m->map.bucket_count();

        if (buckets < 4 || (buckets & (buckets - 1)) != 0)
            return "bucket count is not a power of two >= 4";
        if (m->map.size() > buckets)
            return "size exceeds the bucket count";
        if constexpr (Kind == SH_DENSE) {
            if (m->st.table_bytes != buckets * sizeof(value_type))
                return "bytes held do not match the bucket array";
        } else {
            if (m->st.table_bytes < m->map.size() * sizeof(value_type))
                return "bytes held are fewer than the entries need";
            if (m->map.size() + m->num_deleted() > buckets)
                return "live + deleted exceed the bucket count";
            if (m->unpredicted_grows)
                return "the library resized by itself (the adapter's resize forecast is wrong)";
        }
        return mb_pairs_walk(m->map, [](const value_type &kv) -> const char * {
            return sh_reserved<K>::index(kv.first) >= 0 ? "a reserved key is stored in the table"
                                                        : nullptr;
        });
    }
};

template <sh_kind Kind, class K, class V>
const sh_vtable sh_typed<Kind, K, V>::vtable = {
    destroy, insert, lookup, remove, clear, iterate, stats, check,
};

/* The blueprints of one kind, as mb_peer_create takes them. */
template <sh_kind Kind>
struct sh_kind_of {
    template <class K, class V>
    using typed = sh_typed<Kind, K, V>;
};

template <sh_kind Kind>
void *sh_create(const mb_alloc *a, const mb_map_config *cfg)
{
    return mb_peer_create<sh_kind_of<Kind>::template typed>(a, cfg);
}

sh_map *sh_of(void *m) { return static_cast<sh_map *>(m); }

/* The hot ops call the u64 -> u64 instantiation directly (inlined) when the
 * map is one, and go through the per-map vtable otherwise: one compare
 * instead of a second indirect call (bench/adapter_tax measures the tax).
 * flatten inlines the library's find / insert / erase into them, as the
 * compiler does in a user's loop (without it GCC keeps dense_hashtable's
 * find_position out of line: measured +20 instructions per lookup).
 * Kind is the .cc file's map; the other kind's maps never reach its ops. */
template <sh_kind Kind>
using sh_u64 = sh_typed<Kind, uint64_t, uint64_t>;

template <sh_kind Kind>
__attribute__((flatten)) int sh_insert(void *m, const void *key, const void *val)
{
    if (sh_of(m)->vt == &sh_u64<Kind>::vtable)
        return sh_u64<Kind>::insert(sh_of(m), key, val);
    return sh_of(m)->vt->insert(sh_of(m), key, val);
}
template <sh_kind Kind>
__attribute__((flatten)) int sh_lookup(void *m, const void *key, void *val_out)
{
    if (sh_of(m)->vt == &sh_u64<Kind>::vtable)
        return sh_u64<Kind>::lookup(sh_of(m), key, val_out);
    return sh_of(m)->vt->lookup(sh_of(m), key, val_out);
}
template <sh_kind Kind>
__attribute__((flatten)) int sh_remove(void *m, const void *key)
{
    if (sh_of(m)->vt == &sh_u64<Kind>::vtable)
        return sh_u64<Kind>::remove(sh_of(m), key);
    return sh_of(m)->vt->remove(sh_of(m), key);
}

}  // namespace

#endif
