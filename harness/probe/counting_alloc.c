/* counting_alloc.c — see counting_alloc.h. */
#include "counting_alloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int64_t cnt_add(int64_t *p, int64_t v)
{
    return __atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}

static void cnt_raise_peak(mb_counter *c, int64_t live)
{
    int64_t peak = __atomic_load_n(&c->peak_bytes, __ATOMIC_RELAXED);
    while (live > peak &&
           !__atomic_compare_exchange_n(&c->peak_bytes, &peak, live, 1,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

/* Returns size bytes of fresh mapping starting on a 2 MiB boundary (so THP
 * can back it from the first byte) with MADV_HUGEPAGE, or NULL.  The slack
 * around the aligned part is unmapped, so munmap(p, size) frees all of it. */
static void *cnt_mmap_huge(size_t size)
{
    size_t span = size + MB_HUGE_BYTES;
    unsigned char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    unsigned char *p = (unsigned char *)(((uintptr_t)raw + MB_HUGE_BYTES - 1) & ~(uintptr_t)(MB_HUGE_BYTES - 1));
    size_t mapped = (size + MB_PAGE_BYTES - 1) & ~(size_t)(MB_PAGE_BYTES - 1);
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    if (raw + span > p + mapped)
        munmap(p + mapped, (size_t)(raw + span - (p + mapped)));
    madvise(p, mapped, MADV_HUGEPAGE); /* advice: refused (THP "never") is not an error */
    return p;
}

/* Returns 1 when injection says this allocation must fail. */
static int cnt_injected_failure(mb_counter *c)
{
    int64_t left = __atomic_load_n(&c->fail_after, __ATOMIC_RELAXED);
    if (left == MB_COUNTER_NEVER_FAIL)
        return 0;
    return cnt_add(&c->fail_after, -1) < 0;
}

static void *cnt_alloc(void *ctx, size_t size, size_t align)
{
    mb_counter *c = ctx;
    void *p;

    if (size == 0)
        size = 1;
    if (cnt_injected_failure(c)) {
        cnt_add(&c->failed_calls, 1);
        return NULL;
    }
    if (c->hugepages && size >= MB_HUGE_BYTES) {
        p = cnt_mmap_huge(size);
    } else if (align >= MB_PAGE_BYTES) {
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            p = NULL;
    } else if (align <= _Alignof(max_align_t)) {
        p = malloc(size);
    } else {
        p = aligned_alloc(align, (size + align - 1) & ~(align - 1));
    }
    if (!p) {
        cnt_add(&c->failed_calls, 1);
        return NULL;
    }
    cnt_raise_peak(c, cnt_add(&c->live_bytes, (int64_t)size));
    cnt_add(&c->total_bytes, (int64_t)size);
    cnt_add(&c->alloc_calls, 1);
    return p;
}

static void cnt_free(void *ctx, void *p, size_t size, size_t align)
{
    mb_counter *c = ctx;

    if (!p)
        return;
    if (size == 0)
        size = 1;
    cnt_add(&c->live_bytes, -(int64_t)size);
    cnt_add(&c->free_calls, 1);
    if (align >= MB_PAGE_BYTES || (c->hugepages && size >= MB_HUGE_BYTES))
        munmap(p, size);
    else
        free(p);
}

void mb_counter_init(mb_counter *c)
{
    memset(c, 0, sizeof *c);
    c->fail_after = MB_COUNTER_NEVER_FAIL;
}

mb_alloc mb_counter_alloc(mb_counter *c)
{
    mb_alloc a = { cnt_alloc, cnt_free, c };
    return a;
}

void mb_counter_fail_after(mb_counter *c, int64_t k)
{
    __atomic_store_n(&c->fail_after, k, __ATOMIC_RELAXED);
}

void mb_counter_reset_peak(mb_counter *c)
{
    __atomic_store_n(&c->peak_bytes, __atomic_load_n(&c->live_bytes, __ATOMIC_RELAXED),
                     __ATOMIC_RELAXED);
}
