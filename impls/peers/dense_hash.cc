/*
 * dense_hash — google::dense_hash_map (libsparsehash-dev 2.0.3) behind the
 * mapbench vtable.  A memory anchor at the fast end: one flat array.
 *
 * What the library is: open addressing over one array of
 * std::pair<const K, V>, num_buckets = 2^k (minimum 4).  Empty slots hold the
 * "empty key", erased ones the "deleted key" (tombstones, trait
 * "tombstones"); probing is quadratic (triangular: + 1, + 2, + 3, ...) from
 * hash & (num_buckets - 1).  Max load 0.5 (HT_OCCUPANCY_PCT): the table
 * doubles when live + deleted would pass half the buckets; a resize copies
 * the live entries into a new array (tombstones dropped) and swaps it in.
 * So bytes/entry after N inserts is sizeof(pair) / load with the load
 * between 0.25 and 0.5 (32..64 bytes for u64 -> u64): the price of its speed.
 *
 * Shared with sparse_hash (sparsehash_adapter.hpp): reserved keys (here
 * UINT64_MAX is the empty key, UINT64_MAX - 1 the deleted key; entries for
 * them live beside the table), the hash (std::hash: identity for u64), the
 * library's shrink-on-insert kept, counting allocator.
 *
 * Failure: mb_std_allocator throws std::bad_alloc; dense_hashtable grows by
 * building the new table (copy constructor) and then swapping, so a failed
 * insert leaves the map as it was; erase allocates nothing.  clear() is
 * made failure-safe by the adapter (see sh_typed::clear).  A failed create
 * (set_empty_key allocates the first 32-bucket array) frees everything.
 *
 * clear(): like the library's, the table goes back to 4 buckets
 * (trait "clear-shrinks").
 */
#include "sparsehash_adapter.hpp"

namespace {
SH_BLUEPRINT(SH_DENSE, uint64_t, uint64_t)
SH_BLUEPRINT(SH_DENSE, uint64_t, mb_val64)
SH_BLUEPRINT(SH_DENSE, mb_str_key<16>, uint64_t)
SH_BLUEPRINT(SH_DENSE, mb_str_key<16>, mb_val64)
SH_BLUEPRINT(SH_DENSE, mb_str_key<48>, uint64_t)
SH_BLUEPRINT(SH_DENSE, mb_str_key<48>, mb_val64)
}  // namespace

extern "C" const mb_map_ops mb_dense_hash_ops = {
    "dense_hash",
    "peer",
    "open-addressing,quadratic-probe,tombstones,max-load-0.5,reserved-keys-beside,"
    "identity-hash,mb-hash-for-byte-keys,unseeded,shrinks-on-insert,clear-shrinks",
    MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_OWN_ALLOC,
    sh_create<SH_DENSE>,
    mb_vt_destroy<sh_map>,
    sh_insert<SH_DENSE>,
    sh_lookup<SH_DENSE>,
    sh_remove<SH_DENSE>,
    mb_vt_clear<sh_map>,
    mb_vt_iterate<sh_map>,
    mb_vt_stats<sh_map>,
    mb_vt_check<sh_map>,
};
