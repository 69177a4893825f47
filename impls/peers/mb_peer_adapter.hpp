/*
 * mb_peer_adapter.hpp — the glue the templated C++ peer adapters share
 * (absl.cc, boost_flat.cc, sparsehash_adapter.hpp): each builds one
 * template instantiation per blueprint (K, V) and picks it at create time
 * through a small per-map function table; what is the same in all of them
 * lives here, what tells the libraries apart (create, insert, stats, check's
 * invariants) stays in each adapter.
 *
 * - mb_str_key<N>: the byte-array keys of the 16- and 48-byte blueprints.
 * - mb_peer_vtable<Map>: the per-instantiation function table; Map is the
 *   adapter's untyped base (allocator state, vt, event counters).
 * - mb_peer_create<Typed>: the blueprint dispatch from cfg's key and value
 *   sizes to Typed<K, V>::create.
 * - mb_pairs_lookup / mb_pairs_iterate / mb_pairs_walk: lookup, iterate and
 *   the standard part of check() over a std-like map of std::pair<const K, V>.
 *   Templates, inlined into each instantiation: the code each op runs is what
 *   it was when every adapter spelled them out.
 * - mb_vt_*<Map>: the extern "C" ops that only forward to the per-map table.
 */
#ifndef MB_PEER_ADAPTER_HPP
#define MB_PEER_ADAPTER_HPP

#include "mb_std_alloc.hpp"

#include <array>

template <size_t N>
using mb_str_key = std::array<unsigned char, N>;

template <class Map>
struct mb_peer_vtable {
    void (*destroy)(Map *m);
    int (*insert)(Map *m, const void *key, const void *val);
    int (*lookup)(Map *m, const void *key, void *val_out);
    int (*remove)(Map *m, const void *key);
    void (*clear)(Map *m);
    int (*iterate)(Map *m, mb_visit_fn fn, void *ud);
    void (*stats)(const Map *m, mb_map_stats *out);
    const char *(*check)(const Map *m);
};

/* Returns Typed<K, V>::create(a, cfg->capacity_hint) for cfg's blueprint
 * (keys of 8, 16 or 48 bytes; values of 8 or 64), or NULL when it fails. */
template <template <class, class> class Typed>
void *mb_peer_create(const mb_alloc *a, const mb_map_config *cfg)
{
    size_t hint = cfg->capacity_hint;
    bool v8 = cfg->val_bytes == 8;
    if (cfg->key_bytes == 8)
        return v8 ? Typed<uint64_t, uint64_t>::create(a, hint)
                  : Typed<uint64_t, mb_val64>::create(a, hint);
    if (cfg->key_bytes == 16)
        return v8 ? Typed<mb_str_key<16>, uint64_t>::create(a, hint)
                  : Typed<mb_str_key<16>, mb_val64>::create(a, hint);
    return v8 ? Typed<mb_str_key<48>, uint64_t>::create(a, hint)
              : Typed<mb_str_key<48>, mb_val64>::create(a, hint);
}

/* MB_FOUND with the value copied to val_out (when not NULL), or MB_NOTFOUND. */
template <class M>
static inline int mb_pairs_lookup(M &map, const typename M::key_type &key, void *val_out)
{
    auto it = map.find(key);
    if (it == map.end())
        return MB_NOTFOUND;
    if (val_out)
        std::memcpy(val_out, &it->second, sizeof(it->second));
    return MB_FOUND;
}

/* Calls fn on every entry in the map's order; returns fn's first nonzero
 * return, or 0. */
template <class M>
static inline int mb_pairs_iterate(M &map, mb_visit_fn fn, void *ud)
{
    for (const auto &kv : map) {
        int r = fn(ud, &kv.first, &kv.second);
        if (r)
            return r;
    }
    return 0;
}

/* check()'s walk: iteration visits exactly size() entries and each is found
 * by find() at its own address; entry_ok(kv) may reject an entry with its
 * own message.  Returns NULL or what is wrong. */
template <class M, class EntryOk>
static inline const char *mb_pairs_walk(const M &map, EntryOk entry_ok)
{
    size_t visited = 0;
    for (const auto &kv : map) {
        if (++visited > map.size())
            return "iteration visits more entries than size()";
        if (const char *why = entry_ok(kv))
            return why;
        auto it = map.find(kv.first);
        if (it == map.end() || &*it != &kv)
            return "an iterated key is not found by lookup (or is stored twice)";
    }
    if (visited != map.size())
        return "size() does not match iteration";
    return nullptr;
}

template <class M>
static inline const char *mb_pairs_walk(const M &map)
{
    return mb_pairs_walk(map, [](const typename M::value_type &) -> const char * {
        return nullptr;
    });
}

/* The extern "C" ops that only forward to the map's own table. */
template <class Map>
void mb_vt_destroy(void *m)
{
    static_cast<Map *>(m)->vt->destroy(static_cast<Map *>(m));
}
template <class Map>
int mb_vt_insert(void *m, const void *key, const void *val)
{
    return static_cast<Map *>(m)->vt->insert(static_cast<Map *>(m), key, val);
}
template <class Map>
int mb_vt_lookup(void *m, const void *key, void *val_out)
{
    return static_cast<Map *>(m)->vt->lookup(static_cast<Map *>(m), key, val_out);
}
template <class Map>
int mb_vt_remove(void *m, const void *key)
{
    return static_cast<Map *>(m)->vt->remove(static_cast<Map *>(m), key);
}
template <class Map>
void mb_vt_clear(void *m)
{
    static_cast<Map *>(m)->vt->clear(static_cast<Map *>(m));
}
template <class Map>
int mb_vt_iterate(void *m, mb_visit_fn fn, void *ud)
{
    return static_cast<Map *>(m)->vt->iterate(static_cast<Map *>(m), fn, ud);
}
template <class Map>
void mb_vt_stats(const void *m, mb_map_stats *out)
{
    static_cast<const Map *>(m)->vt->stats(static_cast<const Map *>(m), out);
}
template <class Map>
const char *mb_vt_check(const void *m)
{
    return static_cast<const Map *>(m)->vt->check(static_cast<const Map *>(m));
}

#endif
