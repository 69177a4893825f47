/* flagship_bare.h — flat15's bodies in inline loops (bench/flagship_bare.c). */
#ifndef MB_FLAGSHIP_BARE_H
#define MB_FLAGSHIP_BARE_H

#include <stddef.h>
#include <stdint.h>

#include "mb_map.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The ops of the bench's private copy of flat15 (create, destroy, stats). */
const mb_map_ops *f15bare_ops(void);
/* Each inserts / looks up / removes keys[0..n) (value of key i: i) and
 * returns how many were new / found / found; lookup also returns the sum of
 * the values found.  insert returns 0 on ENOMEM. */
size_t f15bare_insert(void *m, const uint64_t *keys, size_t n);
size_t f15bare_lookup(void *m, const uint64_t *keys, size_t n, uint64_t *sum);
size_t f15bare_remove(void *m, const uint64_t *keys, size_t n);

#ifdef __cplusplus
}
#endif
#endif
