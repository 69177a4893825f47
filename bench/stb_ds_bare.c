/*
 * stb_ds_bare.c — stb_ds used the way its users write it (hmput / hmgeti /
 * hmdel on a struct { key; value; } array, malloc), for bench/adapter_tax.
 *
 * The adapter impls/peers/stb_ds.c compiles stb_ds's implementation with its
 * allocation hooks into mb_impls, so this file compiles a second, unhooked
 * copy under other names (the renames below) to keep the two apart.  The
 * loops are here, in the library's own translation unit, so the bare side
 * runs inline code as a user's program would.
 */
#define stbds_rand_seed bare_stbds_rand_seed
#define stbds_hash_bytes bare_stbds_hash_bytes
#define stbds_hash_string bare_stbds_hash_string
#define stbds_stralloc bare_stbds_stralloc
#define stbds_strreset bare_stbds_strreset
#define stbds_unit_tests bare_stbds_unit_tests
#define stbds_arrgrowf bare_stbds_arrgrowf
#define stbds_arrfreef bare_stbds_arrfreef
#define stbds_hmfree_func bare_stbds_hmfree_func
#define stbds_hmget_key bare_stbds_hmget_key
#define stbds_hmget_key_ts bare_stbds_hmget_key_ts
#define stbds_hmput_default bare_stbds_hmput_default
#define stbds_hmput_key bare_stbds_hmput_key
#define stbds_hmdel_key bare_stbds_hmdel_key
#define stbds_shmode_func bare_stbds_shmode_func
#define STB_DS_IMPLEMENTATION
#include <stb_ds.h>

#include "stb_ds_bare.h"

typedef struct bare_kv {
    uint64_t key;
    uint64_t value;
} bare_kv;

void *bare_stb_insert_all(void *map, const uint64_t *keys, size_t n)
{
    bare_kv *m = map;
    for (size_t i = 0; i < n; i++)
        hmput(m, keys[i], AT_VAL(keys[i]));
    return m;
}

uint64_t bare_stb_lookup_all(void *map, const uint64_t *keys, size_t n, size_t *found)
{
    bare_kv *m = map;
    uint64_t sum = 0;
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        ptrdiff_t j = hmgeti(m, keys[i]);
        if (j >= 0) {
            sum += m[j].value;
            hits++;
        }
    }
    *found = hits;
    return sum;
}

void *bare_stb_delete_all(void *map, const uint64_t *keys, size_t n, size_t *deleted)
{
    bare_kv *m = map;
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += (size_t)hmdel(m, keys[i]);
    *deleted = d;
    return m;
}

void bare_stb_free(void *map)
{
    bare_kv *m = map;
    hmfree(m);
}
