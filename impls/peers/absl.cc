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
 * Memory: the map's allocator template parameter is ab_allocator, a std
 * allocator over the map's mb_alloc, so every byte of the table goes through
 * the counting allocator (flag MB_F_OWN_ALLOC); the adapter struct, which
 * holds the flat_hash_map object itself, does too.
 *
 * Failure: ab_allocator throws std::bad_alloc when mb_alloc returns NULL; the
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
extern "C" {
#include "../mb_map.h"
}

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <utility>

#include <absl/base/config.h>
#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>

#if !defined(ABSL_LTS_RELEASE_VERSION) || ABSL_LTS_RELEASE_VERSION != 20220623
#error "absl.cc repairs raw_hash_set::resize() of absl 20220623; re-verify it for this release"
#endif

namespace {

/* ---- allocator ------------------------------------------------------------- */

/* What every instantiation shares: the map's allocator and its byte count. */
struct ab_state {
    mb_alloc alloc;
    size_t table_bytes;  /* live bytes absl holds through ab_allocator */
};

/* A std allocator over mb_alloc.  allocate() throws std::bad_alloc on NULL. */
template <class T>
struct ab_allocator {
    using value_type = T;
    ab_state *st;

    explicit ab_allocator(ab_state *s) noexcept : st(s) {}
    template <class U>
    ab_allocator(const ab_allocator<U> &o) noexcept : st(o.st) {}

    T *allocate(size_t n)
    {
        size_t bytes = n * sizeof(T);
        void *p = mb_alloc_bytes(&st->alloc, bytes, alignof(T));
        if (!p)
            throw std::bad_alloc();
        st->table_bytes += bytes;
        return static_cast<T *>(p);
    }

    void deallocate(T *p, size_t n) noexcept
    {
        st->table_bytes -= n * sizeof(T);
        mb_free_bytes(&st->alloc, p, n * sizeof(T), alignof(T));
    }

    template <class U>
    bool operator==(const ab_allocator<U> &o) const noexcept { return st == o.st; }
    template <class U>
    bool operator!=(const ab_allocator<U> &o) const noexcept { return st != o.st; }
};

/* ---- key and value types ------------------------------------------------------ */

struct ab_val64 {
    unsigned char b[64];
};

template <size_t N>
using ab_str_key = std::array<unsigned char, N>;

template <class T>
T ab_load(const void *p)
{
    T x;
    std::memcpy(&x, p, sizeof x);
    return x;
}

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

struct ab_vtable {
    void (*destroy)(ab_map *m);
    int (*insert)(ab_map *m, const void *key, const void *val);
    int (*lookup)(ab_map *m, const void *key, void *val_out);
    int (*remove)(ab_map *m, const void *key);
    void (*clear)(ab_map *m);
    int (*iterate)(ab_map *m, mb_visit_fn fn, void *ud);
    void (*stats)(const ab_map *m, mb_map_stats *out);
    const char *(*check)(const ab_map *m);
};

/* The part of every map the extern "C" ops read. */
struct ab_map {
    ab_state st;
    const ab_vtable *vt;
    size_t grow_events;  /* capacity increases seen by insert */
};

template <class K, class V>
struct ab_typed : ab_map {
    using value_type = std::pair<const K, V>;
    using map_type =
        absl::flat_hash_map<K, V, absl::Hash<K>, std::equal_to<K>, ab_allocator<value_type>>;
    using set_type = typename map_type::raw_hash_set;  /* the base holding capacity_ */

    map_type map;

    ab_typed() : map(ab_allocator<value_type>(&st)) {}

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
            auto r = m->map.try_emplace(ab_load<K>(key), ab_load<V>(val));
            if (!r.second) {
                r.first->second = ab_load<V>(val);
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
        ab_typed *m = of(mp);
        auto it = m->map.find(ab_load<K>(key));
        if (it == m->map.end())
            return MB_NOTFOUND;
        if (val_out)
            std::memcpy(val_out, &it->second, sizeof(V));
        return MB_FOUND;
    }

    static int remove(ab_map *mp, const void *key)
    {
        return of(mp)->map.erase(ab_load<K>(key)) ? MB_FOUND : MB_NOTFOUND;
    }

    static void clear(ab_map *mp) { of(mp)->map.clear(); }

    static int iterate(ab_map *mp, mb_visit_fn fn, void *ud)
    {
        int r = 0;
        for (const auto &kv : of(mp)->map) {
            r = fn(ud, &kv.first, &kv.second);
            if (r)
                break;
        }
        return r;
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
        size_t cap = m->map.capacity(), visited = 0;

        if (cap != 0 && ((cap + 1) & cap) != 0)
            return "capacity is not 2^k - 1";
        if (m->map.size() > cap)
            return "size exceeds capacity";
        if (cap == 0 ? m->st.table_bytes != 0
                     : m->st.table_bytes != absl::container_internal::AllocSize(
                                                cap, sizeof(value_type), alignof(value_type)))
            return "bytes held do not match the capacity's backing array";
        for (const auto &kv : m->map) {
            if (++visited > m->map.size())
                return "iteration visits more entries than size()";
            auto it = m->map.find(kv.first);
            if (it == m->map.end() || &*it != &kv)
                return "an iterated key is not found by lookup (or is stored twice)";
        }
        if (visited != m->map.size())
            return "size() does not match iteration";
        return nullptr;
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
AB_BLUEPRINT(uint64_t, ab_val64)
AB_BLUEPRINT(ab_str_key<16>, uint64_t)
AB_BLUEPRINT(ab_str_key<16>, ab_val64)
AB_BLUEPRINT(ab_str_key<48>, uint64_t)
AB_BLUEPRINT(ab_str_key<48>, ab_val64)
#undef AB_BLUEPRINT

template <class K>
ab_map *ab_create_for_key(const mb_alloc *a, const mb_map_config *cfg)
{
    if (cfg->val_bytes == 8)
        return ab_typed<K, uint64_t>::create(a, cfg->capacity_hint);
    return ab_typed<K, ab_val64>::create(a, cfg->capacity_hint);
}

/* ---- ops ------------------------------------------------------------------ */

void *ab_create(const mb_alloc *a, const mb_map_config *cfg)
{
    if (cfg->key_bytes == 8)
        return ab_create_for_key<uint64_t>(a, cfg);
    if (cfg->key_bytes == 16)
        return ab_create_for_key<ab_str_key<16>>(a, cfg);
    return ab_create_for_key<ab_str_key<48>>(a, cfg);
}

void ab_destroy(void *m)
{
    static_cast<ab_map *>(m)->vt->destroy(static_cast<ab_map *>(m));
}

int ab_insert(void *m, const void *key, const void *val)
{
    return static_cast<ab_map *>(m)->vt->insert(static_cast<ab_map *>(m), key, val);
}

int ab_lookup(void *m, const void *key, void *val_out)
{
    return static_cast<ab_map *>(m)->vt->lookup(static_cast<ab_map *>(m), key, val_out);
}

int ab_remove(void *m, const void *key)
{
    return static_cast<ab_map *>(m)->vt->remove(static_cast<ab_map *>(m), key);
}

void ab_clear(void *m)
{
    static_cast<ab_map *>(m)->vt->clear(static_cast<ab_map *>(m));
}

int ab_iterate(void *m, mb_visit_fn fn, void *ud)
{
    return static_cast<ab_map *>(m)->vt->iterate(static_cast<ab_map *>(m), fn, ud);
}

void ab_stats(const void *m, mb_map_stats *out)
{
    static_cast<const ab_map *>(m)->vt->stats(static_cast<const ab_map *>(m), out);
}

const char *ab_check(const void *m)
{
    return static_cast<const ab_map *>(m)->vt->check(static_cast<const ab_map *>(m));
}

}  // namespace

extern "C" const mb_map_ops mb_absl_ops = {
    "absl",
    "peer",
    "swiss,tombstones,absl-hash,aslr-seeded,no-shrink,clear-frees-large,"
    "oom-repair-capacity",
    MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_OWN_ALLOC,
    ab_create,
    ab_destroy,
    ab_insert,
    ab_lookup,
    ab_remove,
    ab_clear,
    ab_iterate,
    ab_stats,
    ab_check,
};
