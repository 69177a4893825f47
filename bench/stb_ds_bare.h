/* stb_ds_bare.h — the bare stb_ds loops of bench/adapter_tax (stb_ds_bare.c). */
#ifndef MB_STB_DS_BARE_H
#define MB_STB_DS_BARE_H

#include <stddef.h>
#include <stdint.h>

/* The value every bench key maps to (both sides, every peer). */
#define AT_VAL(k) ((k) ^ 0x5bd1e9955bd1e995ULL)

#ifdef __cplusplus
extern "C" {
#endif
/* Each returns the (moved) map; NULL is the empty map. */
void *bare_stb_insert_all(void *map, const uint64_t *keys, size_t n);
uint64_t bare_stb_lookup_all(void *map, const uint64_t *keys, size_t n, size_t *found);
void *bare_stb_delete_all(void *map, const uint64_t *keys, size_t n, size_t *deleted);
void bare_stb_free(void *map);
#ifdef __cplusplus
}
#endif

#endif
