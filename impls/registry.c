/*
 * registry.c — every map the suite knows, in the order reports list them.
 * Adding a map = one file under impls/<family>/ + one line here.
 */
#include <string.h>

#include "mb_map.h"

extern const mb_map_ops mb_oa_linear_ops;
extern const mb_map_ops mb_oa_robinhood_ops;
extern const mb_map_ops mb_swiss_ops;
extern const mb_map_ops mb_flat15_ops;
extern const mb_map_ops mb_chained_ops;
extern const mb_map_ops mb_chained_pool_ops;
extern const mb_map_ops mb_sharded_ops;
extern const mb_map_ops mb_locked_ops;
extern const mb_map_ops mb_syncmap_ops;
extern const mb_map_ops mb_sharded_seq_ops;
extern const mb_map_ops mb_sharded_vbucket_ops;
extern const mb_map_ops mb_sharded_rw_ops;
extern const mb_map_ops mb_arena_ops;
extern const mb_map_ops mb_gomap_ops;
extern const mb_map_ops mb_gomap_swiss_ops;
/* peers: real libraries (impls/peers/), after every own map */
extern const mb_map_ops mb_uthash_ops;
extern const mb_map_ops mb_stb_ds_ops;
extern const mb_map_ops mb_glib_ops;
extern const mb_map_ops mb_absl_ops;
extern const mb_map_ops mb_boost_flat_ops;
extern const mb_map_ops mb_dense_hash_ops;
extern const mb_map_ops mb_sparse_hash_ops;
extern const mb_map_ops mb_judy_ops;
extern const mb_map_ops mb_cuckoo_ops;
extern const mb_map_ops mb_tbb_ops;
extern const mb_map_ops mb_ck_ops;
extern const mb_map_ops mb_null_map_ops; /* calibration (impls/calibration/): the harness floor */

#ifdef MB_PLANT /* the test suite's defective build (tests/plant/plant.c) */
extern const mb_map_ops mb_oa_linear_planted_ops;
#define MB_OA_LINEAR (&mb_oa_linear_planted_ops)
#else
#define MB_OA_LINEAR (&mb_oa_linear_ops)
#endif

const mb_map_ops *const mb_registry[] = {
    MB_OA_LINEAR,
    &mb_oa_robinhood_ops,
    &mb_swiss_ops,
    &mb_flat15_ops,
    &mb_chained_ops,
    &mb_chained_pool_ops,
    &mb_sharded_ops,
    &mb_locked_ops,
    &mb_syncmap_ops,
    &mb_sharded_seq_ops,
    &mb_sharded_vbucket_ops,
    &mb_sharded_rw_ops,
    &mb_arena_ops,
    &mb_gomap_ops,
    &mb_gomap_swiss_ops,
    &mb_uthash_ops,
    &mb_stb_ds_ops,
    &mb_glib_ops,
    &mb_absl_ops,
    &mb_boost_flat_ops,
    &mb_dense_hash_ops,
    &mb_sparse_hash_ops,
    &mb_judy_ops,
    &mb_cuckoo_ops,
    &mb_tbb_ops,
    &mb_ck_ops,
    &mb_null_map_ops,
    NULL,
};

const mb_map_ops *mb_registry_find(const char *name)
{
    for (const mb_map_ops *const *p = mb_registry; *p; p++)
        if (strcmp((*p)->name, name) == 0)
            return *p;
    return NULL;
}

const char *mb_config_unsupported(const mb_map_ops *ops, const mb_map_config *cfg)
{
    if (cfg->key_bytes != 8 && cfg->key_bytes != 16 && cfg->key_bytes != 48)
        return "key_bytes must be 8, 16 or 48";
    if (cfg->val_bytes != 8 && cfg->val_bytes != 64)
        return "val_bytes must be 8 or 64";
    if (cfg->key_bytes != 8 && !(ops->flags & MB_F_STR_KEYS))
        return "this map supports only 8-byte keys";
    if (cfg->val_bytes != 8 && !(ops->flags & MB_F_BIG_VALUES))
        return "this map supports only 8-byte values";
    if (cfg->shrink == MB_SHRINK_LOW_WATER && !(ops->flags & MB_F_SHRINK))
        return "this map never shrinks";
    return NULL;
}
