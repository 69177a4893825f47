/*
 * flagship_bare.c — flat15's u64 -> u64 bodies called inline, for the
 * benchmark's "flat15_inline" row: the same code as the registered map
 * (this file includes impls/open_addressing/flat15.c, its ops table renamed
 * so it does not clash with the registered one), minus the vtable.  The
 * difference between flat15 and flat15_inline is the interface's tax; the
 * difference between flat15_inline and boost_xmx is the design's.
 */
#define mb_flat15_ops mb_flat15_bare_ops
#include "../impls/open_addressing/flat15.c"
#undef mb_flat15_ops

#include "flagship_bare.h"

const mb_map_ops *f15bare_ops(void)
{
    return &mb_flat15_bare_ops;
}

size_t f15bare_insert(void *m, const uint64_t *keys, size_t n)
{
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = i;
        int rc = f15_insert_kv(m, &keys[i], &v, 8, 8);
        if (rc == MB_ENOMEM)
            return 0;
        cnt += rc == MB_INSERTED;
    }
    return cnt;
}

size_t f15bare_lookup(void *m, const uint64_t *keys, size_t n, uint64_t *sum)
{
    size_t cnt = 0;
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        if (f15_lookup_kv(m, &keys[i], &v, 8, 8) == MB_FOUND) {
            s += v;
            cnt++;
        }
    }
    *sum = s;
    return cnt;
}

size_t f15bare_remove(void *m, const uint64_t *keys, size_t n)
{
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++)
        cnt += f15_remove_kv(m, &keys[i], 8, 8) == MB_FOUND;
    return cnt;
}
