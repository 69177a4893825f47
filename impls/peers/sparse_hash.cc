/*
 * sparse_hash — google::sparse_hash_map (libsparsehash-dev 2.0.3) behind the
 * mapbench vtable.  The memory anchor: a few bits of overhead per slot.
 *
 * What the library is: the same open-addressing scheme as dense_hash
 * (2^k buckets, quadratic probe, tombstones = the "deleted key"), but the
 * bucket array is a sparsetable: groups of 48 buckets, each group a 48-bit
 * bitmap (which buckets are occupied) plus a packed array of exactly the
 * occupied entries, allocated to size.  An empty bucket costs one bit (plus
 * the group header, 8 + 8 + 2 bytes per 48 buckets); there is no empty key.
 * Lookup: bit test, popcount to the offset, compare.  Inserting into a group
 * reallocates that group's array one entry larger.  Max load 0.8
 * (HT_OCCUPANCY_PCT for sparse); growth doubles.  Erase marks the entry with
 * the deleted key (it keeps its storage until the next resize).
 *
 * Shared with dense_hash (sparsehash_adapter.hpp): reserved keys (here
 * UINT64_MAX is the deleted key; its entry lives beside the table), the hash
 * (std::hash: identity for u64), the library's shrink-on-insert kept,
 * counting allocator.  Note the allocator's cost: with any allocator but its own
 * libc_allocator_with_realloc, sparsetable grows a group by allocate n + 1 /
 * copy / free n instead of realloc (trait "alloc-copy-per-insert").
 *
 * Failure: a group that cannot grow throws std::bad_alloc before anything
 * changes (set_aux allocates first), but sparse_hashtable's own growth moves
 * the entries with a destructive iterator that frees the old groups as it
 * goes, so a failure half way would lose entries.  The adapter therefore
 * grows the table itself, by copy, just before the insert that would make
 * the library grow (sh_typed::sparse_grow_if_due, trait
 * "adapter-grows-by-copy": same resulting table, but the peak during growth
 * is old + new instead of the library's freeing-as-it-goes).  Lookups of
 * present keys go first on insert, as a user would write find-then-insert.
 */
#include "sparsehash_adapter.hpp"

namespace {
SH_BLUEPRINT(SH_SPARSE, uint64_t, uint64_t)
SH_BLUEPRINT(SH_SPARSE, uint64_t, mb_val64)
SH_BLUEPRINT(SH_SPARSE, mb_str_key<16>, uint64_t)
SH_BLUEPRINT(SH_SPARSE, mb_str_key<16>, mb_val64)
SH_BLUEPRINT(SH_SPARSE, mb_str_key<48>, uint64_t)
SH_BLUEPRINT(SH_SPARSE, mb_str_key<48>, mb_val64)
}  // namespace

extern "C" const mb_map_ops mb_sparse_hash_ops = {
    "sparse_hash",
    "peer",
    "open-addressing,quadratic-probe,sparsetable-groups-48,tombstones,max-load-0.8,"
    "reserved-keys-beside,identity-hash,mb-hash-for-byte-keys,unseeded,shrinks-on-insert,"
    "alloc-copy-per-insert,adapter-grows-by-copy,clear-keeps-buckets",
    MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_OWN_ALLOC,
    sh_create<SH_SPARSE>,
    mb_vt_destroy<sh_map>,
    sh_insert<SH_SPARSE>,
    sh_lookup<SH_SPARSE>,
    sh_remove<SH_SPARSE>,
    mb_vt_clear<sh_map>,
    mb_vt_iterate<sh_map>,
    mb_vt_stats<sh_map>,
    mb_vt_check<sh_map>,
};
